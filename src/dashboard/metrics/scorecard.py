"""The seven-domain scorecard: indicator values, 0-10 favourable scores and RAG vs benchmark."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue, privacy, stats
from dashboard.catalogue import Catalogue, Indicator
from dashboard.framework import interventions
from dashboard.metrics import indicators, response_rates, team_absence
from dashboard.present import formatting
from dashboard.store import derived, query

STATUS_LABELS = {
    "better": "Better than benchmark",
    "similar": "Similar to benchmark",
    "worse": "Worse than benchmark",
    "none": "No benchmark",
}
# HSE Analysis Tool bands against the benchmark percentiles p20 / p50 / p80.
HSE_BANDS = (
    "below 20th percentile",
    "20th-50th percentile",
    "50th-80th percentile",
    "80th percentile and above",
)
PUBLISHED_NOTE = "n not given: no intervals, not used for team comparisons"
# Absence rate is a census figure, not a sample: "similar" means within this relative margin.
RATE_MARGIN = 0.10


def score_0_10(ind: Indicator, value: float | None) -> float | None:
    """Map a raw value onto the common 0-10 favourable scale (10 is best)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if ind.kind in ("proportion", "share"):
        return 10 * value if ind.higher_is_better else 10 * (1 - value)
    if ind.kind == "mean":
        # 1-5 scales, already recoded so that 5 is favourable: 1 -> 0, 5 -> 10 (as NHS themes).
        return (value - 1) * 2.5
    if ind.kind == "rate":
        zero_at = ind.score_zero_at or 0.10
        return max(0.0, 10 * (1 - value / zero_at))
    raise ValueError(f"no 0-10 score for kind {ind.kind!r}")


def rag(ind: Indicator, value: float | None, n: float | None) -> tuple[str | None, str]:
    """Status against the benchmark and a short band text explaining it."""
    bench = ind.benchmark
    if bench is None or value is None or (isinstance(value, float) and math.isnan(value)):
        return None, ""
    if bench.percentiles:
        p20, p50, p80 = bench.percentiles
        band = sum(value >= p for p in (p20, p50, p80))
        status = {0: "worse", 1: "similar", 2: "similar", 3: "better"}[band]
        return status, HSE_BANDS[band]
    if ind.kind == "proportion" and n:
        lo, hi = (float(b) for b in stats.wilson_bounds(value * n, n))
        if hi < bench.value:
            status = "better" if not ind.higher_is_better else "worse"
        elif lo > bench.value:
            status = "worse" if not ind.higher_is_better else "better"
        else:
            status = "similar"
        return status, f"95% CI {lo:.1%} to {hi:.1%} vs {bench.value:.1%}"
    if ind.kind == "rate":
        rel = value / bench.value - 1
        if abs(rel) <= RATE_MARGIN:
            return "similar", f"within {RATE_MARGIN:.0%} of {bench.value:.1%}"
        good = rel < 0
        return ("better" if good else "worse"), f"{rel:+.0%} relative to {bench.value:.1%}"
    # census shares (data insights): meeting the reference value is enough
    ok = value >= bench.value if ind.higher_is_better else value <= bench.value
    return ("better" if ok else "worse"), f"reference {bench.value:.0%}"


def _wave_row(con: duckdb.DuckDBPyConnection, wave_id: int) -> tuple[date, list[int]]:
    waves = indicators.wave_dates(con)
    fielded = waves.loc[waves.wave_id == wave_id, "fielded_on"]
    if fielded.empty:
        raise ValueError(f"unknown wave {wave_id}")
    fielded_on = pd.Timestamp(fielded.iloc[0]).date()
    earlier = waves.loc[waves.fielded_on < fielded.iloc[0]]
    return fielded_on, list(earlier.wave_id)


# The data-quality counts of several scopes (NULL units: the organisation) in one statement.
_QUALITY_SQL = """
WITH scopes AS (
    SELECT unnest(CAST(? AS VARCHAR[])) AS scope, unnest(CAST(? AS INTEGER[][])) AS units
),
member AS (
    SELECT s.scope, u.unit_id, u.team
    FROM scopes AS s JOIN units AS u ON s.units IS NULL OR list_contains(s.units, u.unit_id)
),
respondents AS (
    SELECT unit_id, count(*) AS n FROM responses WHERE wave_id = ? GROUP BY unit_id
),
headcount AS (
    SELECT unit_id, headcount FROM staff_in_post WHERE month = ?
),
episodes AS (
    SELECT unit_id, count(*) FILTER (WHERE reason_code <> 'S99') AS recorded, count(*) AS episodes
    FROM absence_episodes WHERE start_date > ? AND start_date <= ? GROUP BY unit_id
)
SELECT m.scope, sum(r.n) AS respondents, sum(h.headcount) AS headcount,
       coalesce(sum(e.recorded), 0) AS recorded, coalesce(sum(e.episodes), 0) AS episodes,
       list(DISTINCT m.team) FILTER (WHERE h.unit_id IS NOT NULL OR r.unit_id IS NOT NULL) AS teams
FROM member AS m
LEFT JOIN respondents AS r USING (unit_id)
LEFT JOIN headcount AS h USING (unit_id)
LEFT JOIN episodes AS e USING (unit_id)
GROUP BY m.scope
"""


def _data_quality(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    fielded_on: date,
    scopes: dict[str, Sequence[int] | None],
    threshold: int,
) -> dict[str, dict[str, tuple[float | None, int]]]:
    """The organisation's own data maturity (Data insights domain) for each scope, each figure
    as (share, denominator)."""
    month = fielded_on.replace(day=1)
    year_ago = fielded_on - timedelta(days=365)
    names = list(scopes)
    units = [None if u is None else [int(x) for x in u] for u in scopes.values()]
    counts = query.run(con, "scorecard.data_quality", _QUALITY_SQL,
                       [names, units, wave_id, month, year_ago, fielded_on]).set_index("scope")

    # Reportable means what the Teams page shows: released by the anonymity rule for at least
    # one indicator, which is stricter than "n >= threshold" (siblings protecting small teams).
    shown = set(privacy.shown_groups(con, ("team",), threshold, [wave_id]).team)

    # "Evaluable" as the register says it: data on both sides of the start for an indicator.
    register = interventions.list_interventions(con, as_of=fielded_on)

    def share(num, den):
        return (float(num) / float(den) if den else None), int(den or 0)

    out = {}
    for name, scope_units in scopes.items():
        row = counts.loc[name] if name in counts.index else None
        resp, head, recorded, episodes, teams = (
            (None, None, 0, 0, None) if row is None else
            (row.respondents, row.headcount, row.recorded, row.episodes, row.teams))
        resp = None if resp is None or pd.isna(resp) else resp
        head = None if head is None or pd.isna(head) else head
        # a NULL list (no team with staff or responses in scope) comes back as NA or NaN
        teams = set(teams) if isinstance(teams, (list, tuple, np.ndarray)) else set()
        mine = register
        if scope_units is not None:
            # astype(bool): an empty register maps to an empty object Series, which pandas would
            # read as a list of column names and return a frame without columns
            wanted = set(scope_units)
            mine = register[register.unit_ids.map(lambda ids, w=wanted: bool(set(ids) & w)).astype(bool)]
        out[name] = {
            "response_rate": share(resp or 0, head),
            "reason_recorded": share(recorded, episodes),
            "teams_reportable": share(len(shown & teams), len(teams)),
            "interventions_evaluable": share((mine.status == "evaluated").sum(), len(mine)),
        }
    return out


@derived.reads
def indicator_table(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    unit_ids: Sequence[int] | None = None,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Every catalogue indicator for one wave and scope, with previous-wave change and RAG.

    Survey figures below the anonymity threshold are blanked here, before anything is shown.
    """
    return indicator_tables(con, wave_id, threshold, {"scope": unit_ids}, cat)["scope"]


@derived.reads
def indicator_tables(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    scopes: dict[str, Sequence[int] | None],
    cat: Catalogue | None = None,
) -> dict[str, pd.DataFrame]:
    """indicator_table for several scopes (name -> unit ids, None: the organisation) at once:
    one survey query and one data-quality query for all of them."""
    cat = cat or catalogue.get()
    fielded_on, earlier = _wave_row(con, wave_id)
    prev_wave = earlier[-1] if earlier else None
    wave_ids = [wave_id] + ([prev_wave] if prev_wave is not None else [])
    survey = indicators.scope_results(con, scopes, wave_ids)
    # Published organisation-level figures (n not given) stand in only at organisation level.
    published = (
        indicators.published_results(con, wave_ids=wave_ids)
        if any(u is None for u in scopes.values()) else pd.DataFrame()
    )
    quality = _data_quality(con, wave_id, fielded_on, scopes, threshold)
    # Absence over the 12 months up to the wave's fieldwork, and the 12 months before that
    # (absence.period_summary, stored per wave for the organisation, directorates and units).
    # Released like every absence figure (release.release), so a scoped card cannot show a small
    # team's absence.
    absent = team_absence.scope_release(con, wave_id, threshold, scopes)
    out = {}
    for name, unit_ids in scopes.items():
        mine = survey[survey.scope == name]
        current_abs, prior_abs = absent[name]
        out[name] = _table(cat, wave_id, prev_wave, threshold, mine,
                           published if unit_ids is None else pd.DataFrame(),
                           current_abs, prior_abs, quality[name])
    return out


def _table(
    cat: Catalogue,
    wave_id: int,
    prev_wave: int | None,
    threshold: int,
    survey: pd.DataFrame,
    published: pd.DataFrame,
    current_abs: dict,
    prior_abs: dict,
    quality: dict[str, tuple[float | None, int]],
) -> pd.DataFrame:
    """One scope's indicator table from its figures (see indicator_table)."""
    # plain dicts: a lookup per indicator in an indexed frame costs more than the whole table
    now = _by_indicator(survey[survey.wave_id == wave_id])
    before = _by_indicator(survey[survey.wave_id == prev_wave])
    pub_now = pub_before = None
    if len(published):
        pub_now = published[published.wave_id == wave_id].set_index("indicator_id")
        pub_before = published[published.wave_id == prev_wave].set_index("indicator_id")

    rows = []
    for ind in cat.indicators.values():
        value = previous = None
        n = 0
        note = ""
        change_p = None
        if ind.source == "survey":
            if ind.id in now:
                n = now[ind.id][0]
                if privacy.releasable(n, threshold):
                    value = now[ind.id][1]
                else:
                    note = formatting.fewer_than(threshold)
            if ind.id in before and privacy.releasable(before[ind.id][0], threshold):
                previous = before[ind.id][1]
                if value is not None:
                    change_p = change_p_value(
                        ind.kind, value, n, now[ind.id][2], previous, before[ind.id][0], before[ind.id][2])
            if ind.id not in now and pub_now is not None and ind.id in pub_now.index:
                value = float(pub_now.at[ind.id, "value"])
                note = PUBLISHED_NOTE
                if previous is None and ind.id in pub_before.index:
                    previous = float(pub_before.at[ind.id, "value"])
        elif ind.source == "absence":
            # period_summary names its figures after the indicators (rate for the absence rate)
            key = "rate" if ind.kind == "rate" else ind.id
            value, previous = current_abs[key], prior_abs[key]
            n = int(current_abs["episodes"] or 0)
            note = ("12 months to the wave, calendar days" if not current_abs["suppressed"]
                    else formatting.withheld_reason(threshold, formatting.STAFF))
            if value is not None and previous:
                # days lost come in spells, so no sampling test: the heatmap's relative margin
                change_p = 0.0 if abs(value / previous - 1) > RATE_MARGIN else 1.0
        else:
            value, n = quality.get(ind.id, (None, 0))
        if note == PUBLISHED_NOTE and not (ind.benchmark and ind.benchmark.percentiles):
            # No n: no interval, so a proportion is not rated against its benchmark.
            status, band = None, ""
        else:
            status, band = rag(ind, value, n)
        if ind.id == "response_rate" and value is not None:
            band = response_rates.band(value)  # HSE guidance: adequate, desirable, good, very good
        rows.append(
            {
                "domain_id": ind.domain,
                "domain": cat.domain(ind.domain).name,
                "indicator_id": ind.id,
                "indicator": ind.label,
                "short": ind.short,
                "kind": ind.kind,
                "favourable": ind.favourable,
                "value": value,
                "n": n if value is not None and note != PUBLISHED_NOTE else None,
                "score": score_0_10(ind, value),
                "previous": previous,
                "change": (value - previous) if value is not None and previous is not None else None,
                # colour a change only when chance is an unlikely explanation (two-sided 5%)
                "change_p": change_p,
                "change_clear": bool(change_p is not None and change_p < 0.05),
                "benchmark": ind.benchmark.value if ind.benchmark else None,
                "benchmark_score": score_0_10(ind, ind.benchmark.value) if ind.benchmark else None,
                "benchmark_source": (
                    f"{ind.benchmark.source} ({ind.benchmark.year})" if ind.benchmark else ""
                ),
                # a string, not None: pandas would turn None into NaN
                "status": status or "none",
                "band": band,
                "scored": ind.scored,
                "headline": ind.headline,
                "note": note,
                "custom": ind.custom,
            }
        )
    return pd.DataFrame(rows)


def _by_indicator(frame: pd.DataFrame) -> dict[str, tuple[int, float, float | None]]:
    """indicator id -> (n, value, sd or None) of one wave's rows (one row per indicator)."""
    sds = frame["sd"].tolist() if "sd" in frame.columns else [None] * len(frame)
    return {i: (int(n), float(v), None if sd is None or pd.isna(sd) else float(sd))
            for i, n, v, sd in zip(frame.indicator_id.tolist(), frame.n.tolist(), frame.value.tolist(),
                                   sds, strict=True)}


def change_p_value(kind: str, now: float, n_now: int, sd_now: float | None, before: float,
                   n_before: int, sd_before: float | None) -> float | None:
    """Two-sided p-value of a wave-to-wave change of one group's figure.

    Proportions: the pooled two-proportion z test (value x n "yes" answers; fractional for
    multi-item indicators). Means: a z test with each wave's respondent sd. None when there is
    nothing to test with (no sd, or n of 0).
    """
    from scipy.stats import norm

    if n_now <= 0 or n_before <= 0:
        return None
    if kind == "proportion":
        pooled = (now * n_now + before * n_before) / (n_now + n_before)
        var = pooled * (1 - pooled) * (1 / n_now + 1 / n_before)
    elif kind == "mean" and sd_now is not None and sd_before is not None:
        var = sd_now**2 / n_now + sd_before**2 / n_before
    else:
        return None
    diff = now - before
    if var <= 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * norm.sf(abs(diff) / math.sqrt(var)))


def domain_table(table: pd.DataFrame, cat: Catalogue | None = None) -> pd.DataFrame:
    """Domain score = mean 0-10 score of its scored indicators with a figure; RAG on the subset
    of those indicators that have a benchmark (own mean vs benchmark mean, margin from TOML)."""
    cat = cat or catalogue.get()
    rows = []
    for dom in cat.domains:
        part = table[(table.domain_id == dom.id) & table.scored & table.score.notna()]
        benched = part[part.benchmark_score.notna()]
        score = float(part.score.mean()) if not part.empty else None
        status, gap, bench_score = "none", None, None
        if not benched.empty:
            gap = float(benched.score.mean() - benched.benchmark_score.mean())
            # Where the domain score would sit if its benchmarked indicators were at benchmark:
            # comparable with the score itself, so bar and tick differ by exactly the gap.
            bench_score = score - gap
            status = (
                "better" if gap > cat.domain_margin else "worse" if gap < -cat.domain_margin else "similar"
            )
        rows.append(
            {
                "domain_id": dom.id,
                "domain": dom.name,
                "score": score,
                "indicators": len(part),
                "feeding": ", ".join(part.short),
                "benchmark_score": bench_score,
                "benchmark_gap": gap,
                "status": status,
                "status_label": STATUS_LABELS[status],
            }
        )
    return pd.DataFrame(rows)


@derived.reads
def trend(
    con: duckdb.DuckDBPyConnection,
    indicator_ids: Sequence[str],
    threshold: int,
    unit_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Headline survey indicators across all waves (suppressed waves dropped)."""
    frame = indicators.survey_results(con, indicator_ids=list(indicator_ids), unit_ids=unit_ids)
    cat = catalogue.get()
    frame = frame[privacy.releasable(frame.n, threshold)].copy()
    if unit_ids is None:
        # Published organisation figures (n not given) fill waves without a figure of their own.
        pub = indicators.published_results(con, indicator_ids=list(indicator_ids))
        have = set(zip(frame.wave_id, frame.indicator_id, strict=True))
        pub = pub[[(w, i) not in have for w, i in zip(pub.wave_id, pub.indicator_id, strict=True)]]
        if len(pub):
            frame = pd.concat([frame, pub.assign(n=np.nan)], ignore_index=True).sort_values(
                ["fielded_on", "indicator_id"]
            )
    frame["indicator"] = frame.indicator_id.map(lambda i: cat.indicators[i].short)
    return frame[["wave_label", "fielded_on", "indicator_id", "indicator", "value", "n"]]
