"""Evaluating one intervention: picks periods and comparison units, fetches data, calls stats."""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue, periods, privacy, stats
from dashboard.catalogue import Indicator
from dashboard.framework import interventions
from dashboard.metrics import absence, indicators
from dashboard.present import formatting
from dashboard.store import derived

SEED = 20261123  # fixed, so the same data always gives the same bootstrap interval
N_BOOT = 2000
CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
DEFAULT_MONTHS = 12
TARGET, COMPARISON = "Target teams", "Comparison teams"
BEFORE, AFTER = "Before", "After"
RATIO_OF_RATIOS = "ratio of rate ratios (target / comparison)"
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class IndicatorResult:
    """One indicator's evaluation: the headline effect, its verdict and the detail behind it.

    estimate / ci_low / ci_high are in display units (percentage points for proportions, scale
    points for 1-5 means, a ratio for absence rates); `null` is the no-change value in them.
    """

    indicator_id: str
    label: str
    kind: str
    favourable: str
    design: str  # "difference-in-differences" | "before/after" | "none"
    level: int | None
    verdict: str
    summary: str
    design_text: str
    estimate: float
    ci_low: float
    ci_high: float
    null: float
    unit: str
    p_value: float
    p_adjusted: float | None
    method: str
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    hedges_g: float | None = None
    g_ci: tuple[float, float] | None = None
    cells: pd.DataFrame | None = None  # group, period, wave, value (display units), n
    change: object | None = None  # stats.ProportionChange / MeanChange / RateRatio (target)
    did: stats.DiDResult | None = None
    trend: stats.TrendCheck | None = None
    its: stats.ITSResult | None = None
    comparison_change: stats.RateRatio | None = None
    absence_did: stats.RateRatioDiD | None = None  # ratio of rate ratios, when it is the effect
    comparison_series: pd.DataFrame | None = None  # month, rate: comparison teams, for context
    excluded_units: tuple[str, ...] = ()
    absence_units: tuple[int, int] | None = None  # target and comparison teams pooled for absence


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything the evaluation view shows for one intervention."""

    intervention: dict
    results: tuple[IndicatorResult, ...]
    pre_wave: str | None
    post_wave: str | None
    absence_window: dict | None
    n_target_units: int
    n_comparison_units: int
    comparison_label: str
    correction: str | None  # method label when several indicators were tested
    warnings: tuple[str, ...] = ()
    overlaps: pd.DataFrame = field(default_factory=pd.DataFrame)


# ---------------------------------------------------------------------------------------------
# Periods and units
# ---------------------------------------------------------------------------------------------
def waves_around(con: duckdb.DuckDBPyConnection, start_date: date) -> pd.DataFrame:
    """Survey waves with the side of the start date they fall on (fielded on/after = after)."""
    frame = con.execute(
        """
        SELECT wave_id, label, fielded_on,
               CASE WHEN fielded_on < CAST(? AS DATE) THEN 'before' ELSE 'after' END AS side
        FROM waves
        ORDER BY fielded_on
        """,
        [start_date],
    ).df()
    frame["fielded_on"] = pd.to_datetime(frame["fielded_on"]).dt.date
    return frame


def default_waves(waves: pd.DataFrame) -> tuple[int | None, int | None]:
    """The last wave before the start and the first after it (the closest pair around it)."""
    before = waves[waves.side == "before"]
    after = waves[waves.side == "after"]
    pre = int(before.wave_id.iloc[-1]) if len(before) else None
    post = int(after.wave_id.iloc[0]) if len(after) else None
    return pre, post


def comparison_units(
    con: duckdb.DuckDBPyConnection, target_ids: Sequence[int], chosen: Sequence[int] | None = None
) -> list[int]:
    """All units that are not targets (the default), or the chosen ones minus any targets."""
    if chosen is not None:
        return sorted({int(u) for u in chosen} - {int(u) for u in target_ids})
    rows = con.execute(
        "SELECT unit_id FROM units WHERE NOT list_contains(CAST(? AS INTEGER[]), unit_id) ORDER BY unit_id",
        [[int(u) for u in target_ids]],
    ).fetchall()
    return [r[0] for r in rows]




# ---------------------------------------------------------------------------------------------
# Survey data
# ---------------------------------------------------------------------------------------------
def _unit_names(con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int]) -> dict[int, str]:
    rows = con.execute(
        "SELECT unit_id, team FROM units WHERE list_contains(CAST(? AS INTEGER[]), unit_id)",
        [[int(u) for u in unit_ids]],
    ).fetchall()
    return dict(rows)


def reportable_panel(
    values: pd.DataFrame, wave_ids: Sequence[int], threshold: int, released: set[int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep units with at least `threshold` responses in every one of `wave_ids` and, when
    `released` is given, only units the drill-down's release plan shows (see released_units).

    values: wave_id, unit_id, value (respondent rows). Returns (kept rows, dropped units with
    their smallest n and why), so the evaluation uses reportable groups only and one fixed set
    of units before and after.
    """
    counts = (
        values.groupby(["unit_id", "wave_id"]).size().unstack("wave_id")
        .reindex(columns=list(wave_ids)).fillna(0)
    )
    smallest = counts.min(axis=1)
    withheld = ~smallest.index.isin(list(released)) if released is not None else False
    drop = ~privacy.releasable(smallest.to_numpy(), threshold) | withheld
    dropped = smallest[drop]
    reasons = pd.DataFrame(
        {
            "unit_id": dropped.index.astype(int),
            "min_n": dropped.to_numpy().astype(int),
            "reason": np.select(
                [dropped.to_numpy() == 0, ~privacy.releasable(dropped.to_numpy(), threshold)],
                ["no responses in one of the waves", f"{formatting.fewer_than(threshold)} in a wave"],
                formatting.cover_reason("team"),
            ),
        }
    )
    kept = values[values.unit_id.isin(smallest.index[~drop])]
    return kept, reasons


# Figures every indicator of an evaluation (and every evaluation of a briefing) asks for again,
# per (store file, survey signature, what, arguments): an import changes the signature.
_SHARED: dict[tuple, object] = {}
_SHARED_SIZE = 32


def _shared(con: duckdb.DuckDBPyConnection, what: str, args: tuple, compute: Callable[[], T]) -> T:
    base = derived.memo_key(con, "derived_survey")
    if base is None:
        return compute()
    key = (*base, what, *args)
    if key not in _SHARED:
        derived.remember(_SHARED, key, compute(), _SHARED_SIZE)
    return _SHARED[key]  # type: ignore[return-value]


def _released_by_indicator(
    con: duckdb.DuckDBPyConnection, wave_ids: Sequence[int], threshold: int, indicator_ids: Sequence[str]
) -> dict[str, frozenset[int]]:
    """released_units of several indicators at once: one release and one query for the waves."""
    waves = sorted({int(w) for w in wave_ids})
    inds = sorted(set(indicator_ids))

    def compute() -> dict[str, frozenset[int]]:
        figures = privacy.survey_figures(con, ("team",), threshold, wave_ids=waves, indicator_ids=inds)
        shown = figures[~figures.suppressed].groupby(["indicator_id", "team"]).wave_id.nunique()
        shown = shown[shown == len(waves)].reset_index()
        ids = dict(con.execute("SELECT team, unit_id FROM units").fetchall())
        return {str(ind): frozenset(int(ids[t]) for t in part.team if t in ids)
                for ind, part in shown.groupby("indicator_id")}

    return _shared(con, "released", (int(threshold), tuple(waves), tuple(inds)), compute)


def released_units(
    con: duckdb.DuckDBPyConnection, indicator_id: str, wave_ids: Sequence[int], threshold: int,
    together: Sequence[str] = (),
) -> set[int]:
    """Units whose figure for this indicator the release plan shows in every one of the waves.

    Pooled target and comparison groups built only from released teams are unions of groups
    the Teams page already shows, so they open no new differencing route (docs/privacy.md).
    `together`: other indicators the caller will ask about for the same waves (decided in the
    same query).
    """
    inds = [indicator_id, *together]
    return set(_released_by_indicator(con, wave_ids, threshold, inds).get(indicator_id, ()))


def _waves_per_item(
    con: duckdb.DuckDBPyConnection, wave_ids: Sequence[int], items: Sequence[str]
) -> dict[str, int]:
    """For each of these items, in how many of these waves someone answered it (one scan)."""
    waves = sorted({int(w) for w in wave_ids})
    wanted = sorted(set(items))

    def compute() -> dict[str, int]:
        return dict(con.execute(
            """
            SELECT a.item_id, count(DISTINCT r.wave_id) AS waves
            FROM answers AS a
            JOIN responses AS r USING (response_id)
            WHERE list_contains(CAST(? AS VARCHAR[]), a.item_id)
              AND list_contains(CAST(? AS INTEGER[]), r.wave_id)
            GROUP BY a.item_id
            """,
            [wanted, waves],
        ).fetchall())

    return _shared(con, "items", (tuple(waves), tuple(wanted)), compute)


def changed_items(
    con: duckdb.DuckDBPyConnection, indicator_id: str, wave_ids: Sequence[int], together: Sequence[str] = ()
) -> list[str]:
    """Items feeding the indicator that were answered in some of these waves but not all.
    `together`: other indicators the caller will ask about (their items checked in the same scan)."""
    cat = catalogue.get()
    items = list(cat.indicators[indicator_id].items)
    if not items or len(wave_ids) < 2:
        return []
    scanned = sorted({i for ind in (indicator_id, *together) for i in cat.indicators[ind].items})
    seen = _waves_per_item(con, wave_ids, scanned)
    answered_somewhere = [i for i in items if seen.get(i, 0) > 0]
    return sorted(i for i in answered_somewhere if seen[i] < len(set(wave_ids)))


def _aggregate_only_units(
    con: duckdb.DuckDBPyConnection, indicator_id: str, wave_ids: Sequence[int], unit_ids: Sequence[int]
) -> int:
    """Units whose results for these waves came only as pre-aggregated figures (not resamplable)."""
    return con.execute(
        """
        SELECT count(DISTINCT unit_id) FROM survey_aggregates
        WHERE indicator_id = ?
          AND list_contains(CAST(? AS INTEGER[]), wave_id)
          AND list_contains(CAST(? AS INTEGER[]), unit_id)
        """,
        [indicator_id, [int(w) for w in wave_ids], [int(u) for u in unit_ids]],
    ).fetchone()[0]


# ---------------------------------------------------------------------------------------------
# Display units
# ---------------------------------------------------------------------------------------------
def display_unit(kind: str, design: str = "before/after") -> str:
    if kind == "rate" and design == "difference-in-differences":
        return RATIO_OF_RATIOS
    return {"proportion": "percentage points", "mean": "points on the 1-5 scale",
            "rate": "rate ratio (after / before)"}.get(kind, "")


def _scale(kind: str) -> float:
    # proportions are estimated as fractions and shown in percentage points
    return 100.0 if kind == "proportion" else 1.0


def effect_text(result: IndicatorResult) -> str:
    """The effect and its interval in words, e.g. '-11.8 percentage points (95% CI -17.0 to -6.5)'."""
    if not _finite(result.estimate):
        return "no estimate"
    if result.kind == "rate":
        body = f"{result.estimate:.2f}x"
        ci = f"{result.ci_low:.2f} to {result.ci_high:.2f}" if _finite(result.ci_low) else "no interval"
        if result.design == "difference-in-differences":
            return f"{body} the comparison teams' change in rate (95% CI {ci})"
        return f"{body} the rate before (95% CI {ci})"
    digits = 1 if result.kind == "proportion" else 2
    body = f"{result.estimate:+.{digits}f} {result.unit}"
    ci = (f"{result.ci_low:+.{digits}f} to {result.ci_high:+.{digits}f}"
          if _finite(result.ci_low) else "no interval")
    return f"{body} (95% CI {ci})"


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# ---------------------------------------------------------------------------------------------
# One indicator
# ---------------------------------------------------------------------------------------------
def _survey_indicator(
    con: duckdb.DuckDBPyConnection,
    ind: Indicator,
    pre_wave: dict | None,
    post_wave: dict | None,
    earlier_waves: list[dict],
    target_ids: list[int],
    comparison_ids: list[int],
    threshold: int,
    n_boot: int,
    seed: int,
    together: Sequence[str] = (),
) -> dict:
    """Survey evaluation pieces for one indicator (before the multiple-comparison step);
    `together`: the evaluation's other survey indicators (released and checked in one query)."""
    if pre_wave is None or post_wave is None:
        missing = "before" if pre_wave is None else "after"
        return {"design": "none", "notes": (f"No survey wave {missing} the start date.",)}
    scale = _scale(ind.kind)
    wave_ids = [pre_wave["wave_id"], post_wave["wave_id"]]
    names = _unit_names(con, target_ids + comparison_ids)
    raw = indicators.respondent_values(con, ind.id, wave_ids, target_ids + comparison_ids)
    released = released_units(con, ind.id, wave_ids, threshold, together)
    kept, dropped = reportable_panel(raw, wave_ids, threshold, released)
    targets = set(target_ids)
    notes: list[str] = []
    warnings: list[str] = []
    dropped_t = dropped[dropped.unit_id.isin(targets)]
    dropped_c = dropped[~dropped.unit_id.isin(targets)]
    excluded = tuple(sorted(names.get(int(u), str(u)) for u in dropped_t.unit_id))
    if len(dropped_t):
        small = dropped_t[dropped_t.min_n > 0]
        if len(small):
            warnings.append(
                f"{len(small)} target team(s) are not reportable in {pre_wave['label']} or "
                f"{post_wave['label']} ({formatting.withheld_reason(threshold, group='team')}) and "
                "are left out, so the evaluation uses "
                "reportable groups only: "
                + ", ".join(sorted(names.get(int(u), str(u)) for u in small.unit_id)) + "."
            )
        absent = dropped_t[dropped_t.min_n == 0]
        if len(absent):
            notes.append(
                f"{len(absent)} target team(s) with no responses in one of the two waves are left out."
            )
    if len(dropped_c):
        notes.append(
            f"{len(dropped_c)} comparison team(s) not reportable ({formatting.fewer_than(threshold)}, "
            "withheld, or absent) in one of the waves are left out."
        )
    changed = changed_items(con, ind.id, wave_ids, together)
    if changed:
        warnings.append(
            f"The survey items behind this indicator changed between {pre_wave['label']} and "
            f"{post_wave['label']} ({', '.join(changed)} asked in only one): part of any change "
            "may come from the questionnaire."
        )
    aggregated = _aggregate_only_units(con, ind.id, wave_ids, target_ids + comparison_ids)
    if aggregated:
        notes.append(
            f"{aggregated} team(s) have only pre-aggregated results for these waves; those cannot "
            "be resampled and are not used."
        )

    small_teams = _small_teams(kept, names, {pre_wave["wave_id"]: pre_wave["label"],
                                             post_wave["wave_id"]: post_wave["label"]})
    if small_teams:
        warnings.append(small_teams)
    is_target = kept.unit_id.isin(targets)
    period = np.where(kept.wave_id == pre_wave["wave_id"], "pre", "post")
    tgt = kept[is_target]
    pre_vals = tgt.value[period[is_target.to_numpy()] == "pre"].to_numpy()
    post_vals = tgt.value[period[is_target.to_numpy()] == "post"].to_numpy()
    change = (stats.proportion_change if ind.kind == "proportion" else stats.mean_change)(
        pre_vals, post_vals
    )
    labels = {"pre": pre_wave["label"], "post": post_wave["label"]}
    out: dict = {"change": change, "warnings": warnings, "notes": notes, "excluded": excluded}
    if ind.kind == "mean":
        out["hedges_g"] = change.hedges_g
        out["g_ci"] = (change.g_ci_low, change.g_ci_high)

    has_comparison = bool((~is_target).any())
    if has_comparison:
        frame = pd.DataFrame(
            {
                "group": np.where(is_target, "T", "C"),
                "period": period,
                "unit": kept.unit_id.to_numpy(),
                "value": kept.value.to_numpy(dtype=float),
            }
        )
        did = stats.difference_in_differences(frame, n_boot=n_boot, seed=seed)
        out.update(design="difference-in-differences", effect=did, did=did)
        cells = did.cells.assign(
            group=did.cells.group.map({"T": TARGET, "C": COMPARISON}),
            wave=did.cells.period.map(labels),
            period=did.cells.period.map({"pre": BEFORE, "post": AFTER}),
            value=did.cells["mean"] * scale,
        )[["group", "period", "wave", "value", "n"]]
        out["cells"] = cells
        out["notes"] = [*notes, *did.notes]
        if earlier_waves:
            out["trend"] = _trend_check(
                con, ind, earlier_waves + [pre_wave], target_ids, comparison_ids, threshold, n_boot, seed,
                together,
            )
    else:
        notes.append("No comparison teams with reportable results: before/after for the target teams only.")
        out.update(design="before/after", effect=change)
        out["cells"] = pd.DataFrame(
            {
                "group": [TARGET, TARGET],
                "period": [BEFORE, AFTER],
                "wave": [labels["pre"], labels["post"]],
                "value": [change.pre.estimate * scale, change.post.estimate * scale],
                "n": [change.pre.n, change.post.n],
            }
        )
    out["notes"] = list(out["notes"]) + list(change.notes)
    return out


def _small_teams(kept: pd.DataFrame, names: dict[int, str], labels: dict[int, str]) -> str | None:
    """A warning naming each team used with fewer than stats.MIN_N responses in a wave.

    Pooled groups can pass 30 while every team in them is small; a team's own change then
    rests on few answers, which is why the verdict names them (issue 11).
    """
    counts = kept.groupby(["unit_id", "wave_id"]).size()
    small = counts[counts < stats.MIN_N]
    if small.empty:
        return None
    parts = [f"{names.get(int(u), str(u))} {n} in {labels.get(int(w), w)}"
             for (u, w), n in small.sort_index().items()]
    teams = small.index.get_level_values(0).nunique()
    total = kept.unit_id.nunique()
    return (
        f"{teams} of {total} teams used have fewer than {stats.MIN_N} responses in a wave "
        f"({'; '.join(parts)}): each of their figures rests on few answers."
    )


def _trend_check(
    con: duckdb.DuckDBPyConnection,
    ind: Indicator,
    pre_waves: list[dict],
    target_ids: list[int],
    comparison_ids: list[int],
    threshold: int,
    n_boot: int,
    seed: int,
    together: Sequence[str] = (),
) -> stats.TrendCheck:
    """Placebo DiD over the last two waves before the start, on units reportable in both."""
    wave_ids = [w["wave_id"] for w in pre_waves[-2:]]
    raw = indicators.respondent_values(con, ind.id, wave_ids, target_ids + comparison_ids)
    kept, _ = reportable_panel(raw, wave_ids, threshold,
                               released_units(con, ind.id, wave_ids, threshold, together))
    fielded = {w["wave_id"]: w["fielded_on"] for w in pre_waves}
    frame = pd.DataFrame(
        {
            "group": np.where(kept.unit_id.isin(set(target_ids)), "T", "C"),
            "wave": kept.wave_id.map(fielded).to_numpy(),
            "unit": kept.unit_id.to_numpy(),
            "value": kept.value.to_numpy(dtype=float),
        }
    )
    return stats.parallel_trends(frame, n_boot=n_boot, seed=seed)


def absence_monthly(
    con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int], first: date, last: date, threshold: int
) -> pd.DataFrame:
    """Monthly FTE days lost / available over a set of units (blank where below the threshold).

    Columns: month, days_lost, days_available, rate, headcount.
    """
    if not unit_ids:
        return pd.DataFrame(columns=["month", "days_lost", "days_available", "rate", "headcount"])
    frame = absence.monthly_rates(con, first, last, threshold, by=(), unit_ids=list(unit_ids),
                                  windows=False)
    frame = frame[(frame.month >= pd.Timestamp(first)) & (frame.month <= pd.Timestamp(last))]
    return pd.DataFrame(
        {
            "month": pd.to_datetime(frame.month).to_numpy(),
            "days_lost": frame.fte_days_lost.astype("float64").to_numpy(),
            "days_available": frame.fte_days_available.astype("float64").to_numpy(),
            "rate": frame.rate.astype("float64").to_numpy(),
            "headcount": frame.headcount.astype("float64").to_numpy(),
        }
    ).dropna(subset=["days_lost", "days_available"])


def absence_by_unit(
    con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int], first: date, last: date
) -> pd.DataFrame:
    """Monthly FTE days lost / available per unit: unit, month, days_lost, days_available.

    Only for the statistics (how much teams' own changes scatter sets the interval); no
    figure from it is shown, and callers pass only units the Absence page may show.
    """
    if not unit_ids:
        return pd.DataFrame(columns=["unit", "month", "days_lost", "days_available"])
    # unreleased figures of units already released: never shown, so no release is decided here
    frame = absence._monthly_raw(con, first, last, ("team",), list(unit_ids), "calendar")
    frame = frame[(frame.month >= pd.Timestamp(first)) & (frame.month <= pd.Timestamp(last))]
    return pd.DataFrame(
        {
            "unit": frame.team.to_numpy(),
            "month": pd.to_datetime(frame.month).to_numpy(),
            "days_lost": frame.fte_days_lost.astype("float64").to_numpy(),
            "days_available": frame.fte_days_available.astype("float64").to_numpy(),
        }
    ).dropna(subset=["days_lost", "days_available"])


def _absence_indicator(
    con: duckdb.DuckDBPyConnection,
    ind: Indicator,
    start_date: date,
    window: dict,
    target_ids: list[int],
    comparison_ids: list[int],
    threshold: int,
) -> dict:
    if ind.kind != "rate":
        return {"design": "none", "notes": (
            f"{ind.label} is a share of days lost; only the absence rate is evaluated before/after.",
        )}
    first, last = window["pre_start"], window["post_end"]
    # Only teams the Absence page itself may show over the window (each checked within its
    # directorate), so a pooled rate minus a shown team never reveals a small team's absence.
    shown = absence.scope_options(con, first, last, threshold, "team")
    allowed = {int(u) for ids in shown.unit_ids for u in ids}
    left_out = sorted(set(target_ids) - allowed)
    target_ids = [u for u in target_ids if u in allowed]
    comparison_ids = [u for u in comparison_ids if u in allowed]
    target = absence_monthly(con, target_ids, first, last, threshold)
    comparison = absence_monthly(con, comparison_ids, first, last, threshold)
    notes: list[str] = []
    warnings: list[str] = []
    if left_out:
        names = _unit_names(con, left_out)
        warnings.append(
            f"{len(left_out)} target team(s) too small to show on their own are left out of the "
            "absence evaluation: " + ", ".join(sorted(names.get(u, str(u)) for u in left_out)) + "."
        )
    pre_months = int((target.month <= pd.Timestamp(window["pre_end"])).sum())
    post_months = int((target.month >= pd.Timestamp(window["post_start"])).sum())
    if pre_months < window["months"] or post_months < window["months"]:
        notes.append(
            f"Absence data cover {pre_months} of {window['months']} months before and "
            f"{post_months} of {window['months']} months after the start."
        )
    if target.empty:
        return {"design": "none", "notes": ("No absence data for the target teams in the window.",)}
    # one query for both arms (each team's months are its own: the split is exact)
    both = absence_by_unit(con, target_ids + comparison_ids, first, last)
    in_target = both.unit.isin(set(_unit_names(con, target_ids).values()))
    target_u, comparison_u = both[in_target], both[~in_target]
    ratio = stats.rate_ratio(target_u, start_date)
    its = stats.interrupted_time_series(target, start_date)
    comp = stats.rate_ratio(comparison_u, start_date) if not comparison.empty else None
    did = (stats.rate_ratio_did(target_u, comparison_u, start_date)
           if not comparison.empty else None)
    # With comparison teams the effect is the ratio of rate ratios (Magenta Book level 3): the
    # comparison teams' own change over the same months is netted out. Without them, or when
    # their change cannot be estimated, the target's before/after ratio stands alone (level 2).
    use_did = did is not None and _finite(did.estimate)
    if comparison.empty:
        notes.append("No comparison teams with absence data the Absence page may show: "
                     "before/after for the target teams only.")
    elif not use_did:
        notes.append("The comparison teams' change cannot be estimated, so this is before/after "
                     "for the target teams only. " + did.notes[-1])
    if (not use_did and comp is not None and _finite(comp.ci_low)
            and (comp.ci_low > 1 or comp.ci_high < 1)):
        warnings.append(
            f"Absence also changed in the comparison teams over the same months "
            f"({comp.estimate:.2f}x): part of the target teams' change may not be due to the intervention."
        )
    for note in [*(did.notes if use_did else ()), *ratio.notes, *its.notes]:
        if note not in notes:  # the transition-month note comes from each model
            notes.append(note)
    cells = pd.DataFrame(
        {
            "group": [TARGET, TARGET] + ([COMPARISON, COMPARISON] if comp is not None else []),
            "period": [BEFORE, AFTER] * (2 if comp is not None else 1),
            "wave": [f"{window['months']} months"] * (4 if comp is not None else 2),
            "value": [ratio.pre_rate * 100, ratio.post_rate * 100]
            + ([comp.pre_rate * 100, comp.post_rate * 100] if comp is not None else []),
            "n": [np.nan] * (4 if comp is not None else 2),
        }
    )
    return {
        "design": "difference-in-differences" if use_did else "before/after",
        "effect": did if use_did else ratio,
        "change": ratio,
        "its": its,
        "comparison_change": comp,
        "absence_did": did if use_did else None,
        "absence_units": (len(target_ids), len(comparison_ids)),
        "comparison_series": comparison[["month", "rate"]] if not comparison.empty else None,
        "cells": cells,
        "notes": notes,
        "warnings": warnings,
    }


# ---------------------------------------------------------------------------------------------
# The whole evaluation
# ---------------------------------------------------------------------------------------------
@derived.reads
def evaluate(
    con: duckdb.DuckDBPyConnection,
    intervention_id: int,
    threshold: int,
    indicator_ids: Sequence[str] | None = None,
    pre_wave_id: int | None = None,
    post_wave_id: int | None = None,
    comparison_unit_ids: Sequence[int] | None = None,
    months: int = DEFAULT_MONTHS,
    correction: str = "holm",
    exclude_other_programmes: bool = False,
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> Evaluation:
    """Evaluate an intervention on its indicators (or the chosen ones).

    Survey indicators: target-team change between the pre and post waves (default: the closest
    waves either side of the start), and difference-in-differences against comparison teams
    (default: every non-target team) with a bootstrap interval; a placebo parallel-trends check
    when an earlier wave exists. Absence rate over `months` months either side: the ratio of
    rate ratios against comparison teams (level 3), or the target's post/pre rate ratio when no
    comparison teams can be used (level 2), with the target's own ratio and an interrupted time
    series alongside. With several indicators, p-values are adjusted (Holm or
    Benjamini-Hochberg) before the verdicts. Only units the release plan shows in
    every wave used enter the survey figures. With exclude_other_programmes, comparison teams
    that had another intervention aimed at the same indicators in the period are left out.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}")
    cat = catalogue.get()
    iv = interventions.get_intervention(con, intervention_id)
    chosen = list(indicator_ids) if indicator_ids else list(iv["indicators"])
    unknown = [i for i in chosen if i not in cat.indicators]
    if unknown:
        raise ValueError(f"unknown indicator(s) {unknown}")
    start = iv["start_date"]
    waves = waves_around(con, start)
    default_pre, default_post = default_waves(waves)
    pre_id = default_pre if pre_wave_id is None else int(pre_wave_id)
    post_id = default_post if post_wave_id is None else int(post_wave_id)
    # the settings as resolved, so Where to look and the page's default view share one result
    comparison = None if comparison_unit_ids is None else tuple(sorted({int(u) for u in comparison_unit_ids}))
    settings = (tuple(chosen), pre_id, post_id, comparison, int(months), correction,
                bool(exclude_other_programmes), int(n_boot), int(seed))
    default = settings == _default_settings(iv, pre_id=default_pre, post_id=default_post)
    base = derived.memo_key(con, "derived_survey")
    record = _record(iv)
    inputs, stored_inputs = _inputs(con)
    key = None if base is None else (base[0], inputs, record, int(threshold), settings)
    found = _EVALUATIONS.get(key) if key is not None else None
    if found is None and default:
        found = _stored(con, int(iv["intervention_id"]), threshold, stored_inputs, record)
        if found is not None:
            # what other register entries say about this one is read now (cheap): a change to
            # another entry leaves this evaluation's figures as they were
            now = _setting(con, iv, chosen, waves, pre_id, post_id, None, months, False)
            found = dataclasses.replace(found, warnings=tuple(now["general"]), overlaps=now["overlaps"])
    if found is None:
        found = _evaluate(con, iv, threshold, chosen, waves, pre_id, post_id, comparison_unit_ids,
                          months, correction, exclude_other_programmes, n_boot, seed)
        if default:
            _keep(con, found, threshold, stored_inputs, record)
    if key is not None:
        derived.remember(_EVALUATIONS, key, found, _EVALUATIONS_SIZE)
    # callers own their copy (frames are mutable); the status is today's (it moves with the date)
    return dataclasses.replace(copy.deepcopy(found), intervention=iv)


# Evaluations per dataset (see _inputs): the Overview's Where to look, meeting mode, the slide
# pack and the Interventions page ask for the same ones.
_EVALUATIONS: dict[tuple, Evaluation] = {}
_EVALUATIONS_SIZE = 16

# What an evaluation reads: the derived tables (their signatures change with any survey or
# absence data, the unit structure or the catalogue), the register and the waves (small tables,
# hashed here so rows written outside the register functions are seen too).
_INPUTS_SQL = """
SELECT (SELECT value FROM meta WHERE key = 'derived_survey'),
       (SELECT value FROM meta WHERE key = 'derived_absence'),
       (SELECT coalesce(sum(hash(intervention_id, name, domain, start_date, end_date, indicators))
               % 1000000007, 0) || '/' || count(*) FROM interventions),
       (SELECT coalesce(sum(hash(intervention_id, unit_id)) % 1000000007, 0) || '/' || count(*)
        FROM intervention_units),
       (SELECT coalesce(sum(hash(wave_id, label, fielded_on)) % 1000000007, 0) || '/' || count(*)
        FROM waves)
"""


# Where an evaluation's figures come from: the statistics, and the absence, survey, release and
# store code under them (an upgrade that changes how absence is released must not leave an
# evaluation stored by the old code in place). Pages, exports, imports and sign-in are left out.
_CODE_DIRS = ("stats", "metrics", "privacy", "store", "framework")
_CODE_FILES = ("periods.py", "catalogue.py", "config.py")


def _code_print(package: Path | None = None, dirs: Sequence[str] = _CODE_DIRS) -> str:
    """The source evaluations are computed by: a stored evaluation made by other code is made again."""
    import hashlib

    package = package or Path(stats.__file__).resolve().parents[1]
    files = sorted(
        [f for d in dirs for f in (package / d).glob("*.py")]
        + [package / name for name in _CODE_FILES])
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


_CODE = _code_print()


def code_print_with(*dirs: str) -> str:
    """The evaluations' code print over more folders of the package too (the stored briefing's
    adds present/, the wording of its findings)."""
    return _code_print(dirs=(*_CODE_DIRS, *dirs))


def data_prints(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Prints of the data an evaluation reads (see _INPUTS_SQL): the derived tables' signatures,
    the register's two tables and the waves; the stored briefing is keyed by them too."""
    return [str(v) for v in con.execute(_INPUTS_SQL).fetchone()]


def _inputs(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The code and data an evaluation was made from: (with the register, without it). A stored
    one (default settings) is keyed without: other entries change only its warnings, read when it is."""
    values = data_prints(con)
    return json.dumps([_CODE, *values]), json.dumps([_CODE, *values[:2], *values[4:]])


def _record(iv: dict) -> str:
    """The intervention's own record as evaluated; its status (which moves with today's date)
    and the names of overlapping entries (other records) are set when read."""
    return repr(sorted((k, v) for k, v in iv.items() if k not in ("status", "overlaps_with")))


def _default_settings(iv: dict, pre_id: int | None, post_id: int | None) -> tuple:
    """The settings evaluate() resolves when given none (Where to look's evaluations)."""
    return (tuple(iv["indicators"]), pre_id, post_id, None, DEFAULT_MONTHS, "holm", False, N_BOOT, SEED)


# A stored evaluation's own classes, besides the frames and arrays of derived.FIGURE_CLASSES.
_PICKLED = {
    *(("dashboard.stats", n) for n in ("DiDResult", "Estimate", "ITSResult", "Interval",
                                         "MeanChange", "ProportionChange", "RateRatio",
                                         "RateRatioDiD", "Resampling", "TrendCheck")),
    ("dashboard.stats.evaluation", "Evaluation"), ("dashboard.stats.evaluation", "IndicatorResult"),
}


def _stored(con: duckdb.DuckDBPyConnection, intervention_id: int, threshold: int, inputs: str,
            record: str) -> Evaluation | None:
    """The evaluation stored for these inputs with the default settings, or None."""
    if not derived.has_table(con, "evaluation_store"):
        return None
    row = con.execute(
        "SELECT payload FROM evaluation_store WHERE threshold = ? AND intervention_id = ?"
        " AND inputs = ? AND record = ?",
        [int(threshold), int(intervention_id), inputs, record]).fetchone()
    if row is None:
        return None
    try:
        found = derived.unpickle(row[0], _PICKLED, "an evaluation")
    except Exception:  # written by other library versions: evaluated again
        return None
    return found if isinstance(found, Evaluation) else None


def _write(con: duckdb.DuckDBPyConnection, found: Evaluation, threshold: int, inputs: str,
           record: str) -> None:
    iid = int(found.intervention["intervention_id"])
    con.execute("DELETE FROM evaluation_store WHERE threshold = ? AND intervention_id = ?",
                [int(threshold), iid])
    con.execute("INSERT INTO evaluation_store VALUES (?, ?, ?, ?, ?)",
                [int(threshold), iid, inputs, record, pickle.dumps(found, protocol=5)])


def _keep(con: duckdb.DuckDBPyConnection, found: Evaluation, threshold: int, inputs: str,
          record: str) -> None:
    """Store an evaluation made on a read path (derived.keep_on_read: elsewhere it is remembered
    in this process only, and evaluated again next time another session was writing)."""
    derived.keep_on_read(con, "evaluation_store",
                         lambda: _write(con, found, threshold, inputs, record))


def store_all(con: duckdb.DuckDBPyConnection, threshold: int) -> None:
    """Evaluate every registered intervention with the default settings and store the results,
    so the first view after an import reads them (derived.store_release, inside the import's
    transaction). A later register change makes them stale; they are evaluated again when read."""
    if not derived.has_table(con, "evaluation_store"):
        return   # the store is being migrated
    con.execute("DELETE FROM evaluation_store")
    ids = [int(i) for (i,) in con.execute("SELECT intervention_id FROM interventions ORDER BY 1").fetchall()]
    if not ids:
        return
    inputs = _inputs(con)[1]
    cat = catalogue.get()
    for iid in ids:
        iv = interventions.get_intervention(con, iid)
        if not iv["indicators"] or any(i not in cat.indicators for i in iv["indicators"]):
            continue   # evaluate() refuses these
        waves = waves_around(con, iv["start_date"])
        pre_id, post_id = default_waves(waves)
        try:
            found = _evaluate(con, iv, threshold, list(iv["indicators"]), waves, pre_id, post_id, None,
                              DEFAULT_MONTHS, "holm", False, N_BOOT, SEED)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            # a register entry the statistics refuse must not refuse the import that carries it:
            # nothing is stored, and reading it evaluates again and shows the refusal as before
            continue
        _write(con, found, threshold, inputs, _record(iv))


def is_stored(con: duckdb.DuckDBPyConnection, intervention_id: int, threshold: int) -> bool:
    """Whether the store holds the intervention's current default evaluation for the threshold."""
    iv = interventions.get_intervention(con, intervention_id)
    return _stored(con, int(intervention_id), threshold, _inputs(con)[1],
                   _record(iv)) is not None


def _setting(
    con: duckdb.DuckDBPyConnection,
    iv: dict,
    chosen: list[str],
    waves: pd.DataFrame,
    pre_id: int | None,
    post_id: int | None,
    comparison_unit_ids: Sequence[int] | None,
    months: int,
    exclude_other_programmes: bool,
) -> dict:
    """Waves, window, units and the warnings about them (other programmes in the register):
    everything of an evaluation that is cheap, and all that other register entries can change."""
    cat = catalogue.get()
    target_ids = list(iv["unit_ids"])
    comp_ids = comparison_units(con, target_ids, comparison_unit_ids)
    start = iv["start_date"]
    by_id = {int(w.wave_id): w._asdict() for w in waves.itertuples(index=False)}
    pre_wave = by_id.get(pre_id) if pre_id is not None else None
    post_wave = by_id.get(post_id) if post_id is not None else None
    if pre_wave and post_wave and pre_wave["fielded_on"] >= post_wave["fielded_on"]:
        raise ValueError("the 'before' wave must be fielded before the 'after' wave")
    general: list[str] = []
    if pre_wave and pre_wave["side"] != "before":
        general.append(f"The chosen 'before' wave {pre_wave['label']} was fielded after the start date.")
    if post_wave and post_wave["side"] != "after":
        general.append(f"The chosen 'after' wave {post_wave['label']} was fielded before the start date.")
    earlier = [
        by_id[int(w)] for w in waves.wave_id
        if pre_wave is not None and by_id[int(w)]["fielded_on"] < pre_wave["fielded_on"]
    ]
    window = periods.absence_window(start, months)

    # The period in which another programme on the same teams would confound this one.
    overlap_end = post_wave["fielded_on"] if post_wave else window["post_end"]
    overlap_start = pre_wave["fielded_on"] if pre_wave else window["pre_start"]
    if any(cat.indicators[i].source == "absence" for i in chosen):
        overlap_start = min(overlap_start, window["pre_start"])
        overlap_end = max(overlap_end, periods.add_months(window["post_end"], 1))
    overlaps = interventions.overlapping(con, target_ids, overlap_start, overlap_end,
                                         exclude_id=iv["intervention_id"])
    for row in overlaps.itertuples(index=False):
        general.append(
            f"Overlapping intervention on the same teams: '{row.name}' (from {row.start_date:%d %b %Y}) "
            f"also covers {row.shared_units} target team(s) in this period, so the two cannot be told apart."
        )
    in_comparison = interventions.overlapping(con, comp_ids, overlap_start, overlap_end,
                                              exclude_id=iv["intervention_id"])
    # only programmes aimed at the same indicators can bias this comparison directly
    aimed = in_comparison[[bool(set(i) & set(chosen)) for i in in_comparison.indicators]]
    for row in aimed.itertuples(index=False):
        shared = ", ".join(cat.indicators[i].short for i in row.indicators if i in chosen)
        if exclude_other_programmes:
            general.append(
                f"{row.shared_units} comparison team(s) that had '{row.name}' (aimed at {shared}) "
                "in this period are left out of the comparison."
            )
        else:
            general.append(
                f"{row.shared_units} comparison team(s) had '{row.name}', aimed at {shared}, in "
                "this period: if it worked, the comparison teams changed too and this "
                "intervention's effect is understated. You can leave them out in the settings."
            )
    if exclude_other_programmes and len(aimed):
        dropped = {int(u) for ids in aimed.shared_unit_ids for u in ids}
        comp_ids = [u for u in comp_ids if u not in dropped]

    return {"target_ids": target_ids, "comp_ids": comp_ids, "pre_wave": pre_wave,
            "post_wave": post_wave, "earlier": earlier, "window": window, "general": general,
            "overlaps": overlaps}


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    iv: dict,
    threshold: int,
    chosen: list[str],
    waves: pd.DataFrame,
    pre_id: int | None,
    post_id: int | None,
    comparison_unit_ids: Sequence[int] | None,
    months: int,
    correction: str,
    exclude_other_programmes: bool,
    n_boot: int,
    seed: int,
) -> Evaluation:
    cat = catalogue.get()
    setting = _setting(con, iv, chosen, waves, pre_id, post_id, comparison_unit_ids, months,
                       exclude_other_programmes)
    target_ids, comp_ids = setting["target_ids"], setting["comp_ids"]
    pre_wave, post_wave, earlier = setting["pre_wave"], setting["post_wave"], setting["earlier"]
    window, general, overlaps = setting["window"], setting["general"], setting["overlaps"]
    start = iv["start_date"]

    survey = [i for i in chosen if cat.indicators[i].source == "survey"]
    pieces: list[tuple[Indicator, dict]] = []
    for ind_id in chosen:
        ind = cat.indicators[ind_id]
        if ind.source == "survey":
            piece = _survey_indicator(con, ind, pre_wave, post_wave, earlier, target_ids, comp_ids,
                                      threshold, n_boot, seed, survey)
        elif ind.source == "absence":
            piece = _absence_indicator(con, ind, start, window, target_ids, comp_ids, threshold)
        else:
            piece = {"design": "none", "notes": (f"{ind.label} is a data-quality figure, not evaluated.",)}
        pieces.append((ind, piece))

    # One primary test per indicator; several together get the correction.
    p_values = [_p_of(piece.get("effect")) for _, piece in pieces]
    tested = [p for p in p_values if _finite(p)]
    adjustment = stats.adjust_pvalues(p_values, method=correction) if len(tested) > 1 else None
    results = tuple(
        _result(ind, piece, p_values[k], adjustment.p_adjusted[k] if adjustment else None,
                adjustment.label if adjustment else None, threshold)
        for k, (ind, piece) in enumerate(pieces)
    )

    return Evaluation(
        intervention=iv,
        results=results,
        pre_wave=pre_wave["label"] if pre_wave else None,
        post_wave=post_wave["label"] if post_wave else None,
        absence_window=window,
        n_target_units=len(target_ids),
        n_comparison_units=len(comp_ids),
        comparison_label="all other teams" if comparison_unit_ids is None else "chosen teams",
        correction=adjustment.label if adjustment else None,
        warnings=tuple(general),
        overlaps=overlaps,
    )


def _p_of(effect) -> float:
    return float(effect.p_value) if effect is not None and _finite(float(effect.p_value)) else math.nan


def _result(
    ind: Indicator, piece: dict, p_value: float, p_adjusted: float | None, correction: str | None,
    threshold: int,
) -> IndicatorResult:
    effect = piece.get("effect")
    kind = ind.kind
    if effect is None:
        return IndicatorResult(
            indicator_id=ind.id, label=ind.label, kind=kind, favourable=ind.favourable, design="none",
            level=None, verdict=stats.NOT_ENOUGH, summary="There is no data to compare before and after.",
            design_text="", estimate=math.nan, ci_low=math.nan, ci_high=math.nan,
            null=1.0 if kind == "rate" else 0.0, unit=display_unit(kind), p_value=math.nan,
            p_adjusted=None, method="", warnings=(), notes=tuple(piece.get("notes", ())),
        )
    v = stats.verdict(effect, ind.favourable, p_adjusted=p_adjusted, correction=correction,
                      anonymity_threshold=threshold)
    scale = _scale(kind)
    return IndicatorResult(
        indicator_id=ind.id,
        label=ind.label,
        kind=kind,
        favourable=ind.favourable,
        design=piece["design"],
        level=v.design_level,
        verdict=v.label,
        summary=v.summary,
        design_text=v.design,
        estimate=effect.estimate * scale,
        ci_low=effect.ci_low * scale,
        ci_high=effect.ci_high * scale,
        null=effect.null * scale if kind != "rate" else effect.null,
        unit=display_unit(kind, piece["design"]),
        p_value=p_value,
        p_adjusted=p_adjusted,
        method=effect.method,
        warnings=tuple(piece.get("warnings", ())) + tuple(v.warnings),
        notes=tuple(piece.get("notes", ())),
        hedges_g=piece.get("hedges_g"),
        g_ci=piece.get("g_ci"),
        cells=piece.get("cells"),
        change=piece.get("change"),
        did=piece.get("did"),
        trend=piece.get("trend"),
        its=piece.get("its"),
        comparison_change=piece.get("comparison_change"),
        absence_did=piece.get("absence_did"),
        comparison_series=piece.get("comparison_series"),
        excluded_units=tuple(piece.get("excluded", ())),
        absence_units=piece.get("absence_units"),
    )


def forest_frame(evaluation: Evaluation) -> pd.DataFrame:
    """One row per indicator with an estimate: short name, unit, estimate, interval, verdict, level."""
    cat = catalogue.get()
    rows = [
        {
            "indicator": cat.indicators[r.indicator_id].short,
            "unit": r.unit,
            "estimate": r.estimate,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "null": r.null,
            "verdict": r.verdict,
            "level": r.level,
            "design": r.design,
            "text": effect_text(r),
        }
        for r in evaluation.results
        if _finite(r.estimate) and _finite(r.ci_low) and _finite(r.ci_high)
    ]
    return pd.DataFrame(
        rows,
        columns=["indicator", "unit", "estimate", "ci_low", "ci_high", "null", "verdict", "level",
                 "design", "text"],
    )
