"""One briefing per wave: the released figures behind Where to look, meeting mode, slides and report.

Everything here comes from the same public functions the pages call (scorecard, drilldown,
absence, team_absence, evaluation), with the same arguments, so a number in a slide or a board
paper is the number on the page for the same wave. Nothing here compares n with the threshold.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from dashboard import catalogue, periods, store
from dashboard.framework import interventions
from dashboard.metrics import absence, drilldown, findings, indicators, scorecard, team_absence
from dashboard.present import formatting
from dashboard.stats import evaluation
from dashboard.store import derived


@dataclass(frozen=True, eq=False)
class Briefing:
    """The released figures for one wave and the findings drawn from them."""

    dataset: str
    is_demo: bool
    wave_id: int
    wave_label: str
    fielded_on: date
    threshold: int
    produced: date
    table: pd.DataFrame  # scorecard.indicator_table
    domains: pd.DataFrame  # scorecard.domain_table
    heat: pd.DataFrame  # drilldown.heatmap by team against the organisation
    funnels: dict  # indicator id -> drilldown.funnel by team
    evaluations: tuple  # evaluation.Evaluation, one per evaluated intervention
    register: pd.DataFrame  # interventions.list_interventions as of the wave
    absence_period: tuple[date, date]
    absence_monthly: pd.DataFrame  # absence.monthly_rates, organisation, released months
    absence_reasons: pd.DataFrame  # absence.reasons, organisation, over absence_period
    absence_summary: dict  # absence.period_summary over absence_period, released (None where withheld)
    groups: dict = field(default_factory=dict)  # findings by kind
    ranked: tuple = ()  # findings.where_to_look

    @property
    def respondents(self) -> int | None:
        return respondents(self.table)

    @property
    def footer(self) -> str:
        """Dataset, wave and period, date produced, n and the threshold note: one line."""
        return footer_line(self.dataset, self.is_demo, period_text(self.wave_label, self.absence_period),
                           respondents_text(self.table), self.threshold, self.produced)


def respondents(table: pd.DataFrame) -> int | None:
    """The largest n of a scorecard table's survey proportions: the wave's respondents shown."""
    survey = table[(table.kind == "proportion") & table.n.notna()]
    return int(survey.n.max()) if not survey.empty else None


def respondents_text(table: pd.DataFrame) -> str:
    n = respondents(table)
    return f"{n if n is not None else '–'} respondents"


def period_text(wave_label: str, absence_period: tuple[date, date]) -> str:
    """The footer's period: the survey wave and the absence months beside it."""
    start, end = absence_period
    return f"survey wave {wave_label} · absence {start:%d %b %Y}–{end:%d %b %Y}"


def footer_line(dataset: str, is_demo: bool, period: str, n: str, threshold: int, produced: date) -> str:
    """The footer every exported slide and chart carries."""
    demo = ""
    if is_demo:
        demo = " (fictional)" if "demo" in dataset.lower() else " (demo, fictional)"
    return (f"{dataset}{demo} · {period} · produced {produced:%d %b %Y} · n = {n} · "
            f"{formatting.not_shown_rule(threshold)}")


def wave_for_year(con: duckdb.DuckDBPyConnection, year: int) -> int:
    """The last survey wave fielded in a calendar year."""
    waves = indicators.waves(con)
    fielded = pd.to_datetime(waves.fielded_on)
    match = waves[fielded.dt.year == year]
    if match.empty:
        years = sorted(set(fielded.dt.year))
        raise ValueError(f"no survey wave fielded in {year}; waves exist for {years}")
    return int(match.wave_id.iloc[-1])


def latest_wave(con: duckdb.DuckDBPyConnection) -> int | None:
    waves = indicators.waves(con)
    return None if waves.empty else int(waves.wave_id.iloc[-1])


@derived.reads
def gather(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    absence_period: tuple[date, date] | None = None,
    produced: date | None = None,
    stored: bool = True,
) -> Briefing:
    """Collect the released figures for a wave (absence: the 12 months to its fieldwork unless
    a period is given) and rank the findings.

    With the default period, the figures and the findings drawn from them (all but the
    evaluations' findings) are read from the store when the data, register, catalogue, settings
    and code they came from are unchanged (see _inputs), and stored after they are worked out:
    Where to look, meeting mode and the slides ask for the same briefing in every session.
    stored=False works them out even so (what the first view after an import does; the bench)."""
    cat = catalogue.get()
    info = store.dataset_info(con)
    waves = indicators.wave_dates(con)
    row = waves[waves.wave_id == wave_id]
    if row.empty:
        raise ValueError(f"unknown wave {wave_id}")
    fielded_on = pd.Timestamp(row.fielded_on.iloc[0]).date()
    parts = None
    if absence_period is None:
        inputs = _inputs(con)
        parts = _stored(con, wave_id, threshold, inputs) if stored else None
    if parts is None:
        parts = _figures(con, cat, wave_id, threshold, absence_period)
        if absence_period is None:
            derived.keep_on_read(con, "briefing_store",
                                 lambda: _write(con, wave_id, threshold, inputs, parts))
    # the register as of the wave and its evaluations (their own store and memo)
    register = interventions.list_interventions(con, as_of=fielded_on)
    evaluable = set(cat.indicators)
    evaluations = tuple(
        evaluation.evaluate(con, int(iv.intervention_id), threshold)
        for iv in register.itertuples(index=False)
        if iv.status == "evaluated" and set(iv.indicators) & evaluable
    )
    table = parts["table"]
    org_rate = table.loc[table.indicator_id == "absence_rate", "value"]
    rate = float(org_rate.iloc[0]) if not org_rate.empty and pd.notna(org_rate.iloc[0]) else None
    found = {**parts["groups"], "change": findings.change_findings(evaluations, rate)}
    groups = {kind: found[kind] for kind in ("outlier", "change", "domain", "absence")}
    return Briefing(
        dataset=info["name"], is_demo=bool(info["is_demo"]), wave_id=int(wave_id),
        wave_label=str(row.label.iloc[0]), fielded_on=fielded_on, threshold=int(threshold),
        produced=produced or date.today(), table=table, domains=parts["domains"],
        heat=parts["heat"], funnels=parts["funnels"], evaluations=evaluations, register=register,
        absence_period=parts["absence_period"], absence_monthly=parts["absence_monthly"],
        absence_reasons=parts["absence_reasons"], absence_summary=parts["absence_summary"],
        groups=groups, ranked=tuple(findings.where_to_look(groups)),
    )


def _figures(con: duckdb.DuckDBPyConnection, cat: catalogue.Catalogue, wave_id: int, threshold: int,
             absence_period: tuple[date, date] | None) -> dict:
    """The briefing's released figures and the findings drawn from them alone (not the
    register's)."""
    table = scorecard.indicator_table(con, wave_id, threshold)
    domains = scorecard.domain_table(table)
    heat = drilldown.heatmap(con, ("team",), wave_id, threshold, "organisation")
    funnels = drilldown.funnels(con, ("team",), wave_id, drilldown.survey_indicator_ids(cat), threshold)
    period = absence_period or periods.wave_periods(con, wave_id)[0]
    monthly = absence.monthly_rates(con, period[0], period[1], threshold)
    reasons = absence.reasons(con, period[0], period[1], threshold)
    # released like every other figure (a small organisation's totals are withheld); the default
    # period's is the organisation's summary stored with the release at import
    summary = (team_absence.scope_release(con, wave_id, threshold, {"organisation": None})["organisation"][0]
               if absence_period is None else
               absence.period_summary(con, period[0], period[1], threshold=threshold))
    return {
        "table": table, "domains": domains, "heat": heat, "funnels": funnels,
        "absence_period": (period[0], period[1]),
        "absence_monthly": monthly[~monthly.suppressed].reset_index(drop=True),
        "absence_reasons": reasons, "absence_summary": summary,
        "groups": {
            "outlier": findings.funnel_findings(funnels, cat, wave_id),
            "domain": findings.domain_findings(domains, wave_id),
            "absence": findings.absence_findings(heat, wave_id),
        },
    }


# What a stored briefing's figures were made from: what an evaluation's are (the derived
# tables' signatures: any survey or absence data, staff in post, the unit structure, the TOML
# catalogue; the register, whose evaluable interventions are a Data insights figure; the waves),
# and the published figures (a small table, hashed here).
_PUBLISHED_SQL = """
SELECT coalesce(sum(hash(wave_id, indicator_id, value)) % 1000000007, 0) || '/' || count(*)
FROM published_figures
"""


# The code the figures come from: the evaluations' (statistics, metrics, release, store,
# framework, catalogue, periods, settings) and the wording of findings (present/).
_CODE = evaluation.code_print_with("present")


def _inputs(con: duckdb.DuckDBPyConnection) -> str:
    from dashboard.config import settings

    cat = catalogue.get()
    # custom indicators live in the store and join the catalogue in this process
    custom = hashlib.sha256(repr(sorted(repr(i) for i in cat.indicators.values() if i.custom)).encode())
    now = settings()
    return json.dumps([_CODE, cat.fingerprint, custom.hexdigest()[:16], now.day_count, now.long_term_days,
                       *evaluation.data_prints(con), str(con.execute(_PUBLISHED_SQL).fetchone()[0])])


# A stored briefing's own class, besides the frames and arrays of derived.FIGURE_CLASSES.
_PICKLED = {("dashboard.metrics.findings", "Finding")}


def _stored(con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int, inputs: str) -> dict | None:
    """The figures stored for the wave, threshold and inputs, or None."""
    if not derived.has_table(con, "briefing_store"):
        return None
    row = con.execute("SELECT payload FROM briefing_store WHERE threshold = ? AND wave_id = ? AND inputs = ?",
                      [int(threshold), int(wave_id), inputs]).fetchone()
    if row is None:
        return None
    try:
        found = derived.unpickle(row[0], _PICKLED, "a briefing")
    except Exception:  # written by other library versions: worked out again
        return None
    return found if isinstance(found, dict) else None


def _write(con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int, inputs: str, parts: dict) -> None:
    con.execute("DELETE FROM briefing_store WHERE threshold = ? AND wave_id = ?",
                [int(threshold), int(wave_id)])
    con.execute("INSERT INTO briefing_store VALUES (?, ?, ?, ?)",
                [int(threshold), int(wave_id), inputs, pickle.dumps(parts, protocol=5)])


def flagged_teams(brief: Briefing) -> tuple[str, ...]:
    """The teams Where to look flags as beyond the funnel limit, in its order: the slide pack's
    team slides when nobody picked teams."""
    return tuple(dict.fromkeys(f.subject for f in brief.ranked if f.kind == "outlier"))


def team_profiles(
    con: duckdb.DuckDBPyConnection, brief: Briefing, teams: tuple[str, ...], lens: str | None = None
) -> tuple[dict, ...]:
    """drilldown.team_profile of each named team for the briefing's wave, in the order given
    (names not in the store are dropped; a withheld team's profile says so and holds no figure)."""
    from dashboard.metrics import lenses

    tree = drilldown.unit_tree(con)
    ids = dict(zip(tree.team, tree.unit_id.astype(int), strict=True))
    return tuple(drilldown.team_profile(con, ids[name], brief.wave_id, brief.threshold,
                                        lens or lenses.DEFAULT)
                 for name in dict.fromkeys(teams) if name in ids)
