"""Drivers: which working conditions go with stress, presenteeism and work-life balance here.

A respondent-level linear regression of the outcome on the conditions, each condition standardised
(mean 0, sd 1 in the group analysed), so a coefficient reads "one standard deviation better on this
condition goes with this many points more or less of the outcome, the other conditions held
equal". Intervals: percentile bootstrap over respondents, seeded. An association, not a cause.
"""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue, privacy
from dashboard.config import DATA_DIR
from dashboard.present import formatting

CAVEAT = (
    "These are associations in this organisation's own survey answers, not causes: people who "
    "report better conditions also report less stress, but the survey cannot say which comes "
    "first, and things not measured (workload outside work, health, personality) can drive both."
)


@dataclass(frozen=True)
class Settings:
    outcomes: tuple[str, ...]
    conditions: tuple[str, ...]
    min_respondents: int
    n_boot: int
    seed: int


@lru_cache(maxsize=2)
def settings(data_dir: Path = DATA_DIR) -> Settings:
    """data/drivers.toml, checked against the catalogue (survey indicators only)."""
    with open(data_dir / "drivers.toml", "rb") as fh:
        raw = tomllib.load(fh)["drivers"]
    cat = catalogue.get(data_dir)
    for ind in (*raw["outcomes"], *raw["conditions"]):
        if ind not in cat.indicators or cat.indicators[ind].source != "survey":
            raise catalogue.CatalogueError(f"drivers.toml: {ind!r} is not a survey indicator")
    if set(raw["outcomes"]) & set(raw["conditions"]):
        raise catalogue.CatalogueError("drivers.toml: an indicator cannot be outcome and condition")
    return Settings(tuple(raw["outcomes"]), tuple(raw["conditions"]), int(raw["min_respondents"]),
                    int(raw["n_boot"]), int(raw["seed"]))


# ---- pure statistics ------------------------------------------------------------------------

def standardise(x: np.ndarray) -> np.ndarray:
    """Columns to mean 0, sd 1 (sample sd, ddof=1). A constant column cannot be standardised."""
    sd = x.std(axis=0, ddof=1)
    if np.any(sd == 0):
        raise ValueError("a condition has the same value for every respondent")
    return (x - x.mean(axis=0)) / sd


def fit(frame: pd.DataFrame, outcome: str, conditions: Sequence[str]) -> pd.DataFrame:
    """OLS of the outcome (its own units: 0/1 or a share) on standardised conditions.

    Returns [condition, coef, se] (coef: change in the outcome per 1 sd of the condition, the
    others held equal; se: HC1 heteroskedasticity-robust) with attrs n and r2.
    """
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    conditions = list(conditions)
    x = standardise(frame[conditions].to_numpy(dtype=np.float64))
    y = frame[outcome].to_numpy(dtype=np.float64)
    model = OLS(y, add_constant(x, has_constant="add")).fit(cov_type="HC1")
    out = pd.DataFrame({"condition": conditions, "coef": model.params[1:], "se": model.bse[1:]})
    out.attrs.update(n=int(model.nobs), r2=float(model.rsquared))
    return out


def bootstrap(
    frame: pd.DataFrame, outcome: str, conditions: Sequence[str], n_boot: int, seed: int
) -> np.ndarray:
    """Coefficients of `fit` over n_boot resamples of respondents (standardised afresh in each,
    so every resample estimates the same quantity): array n_boot x conditions. Resamples in which
    a condition is constant are dropped."""
    x_raw = frame[list(conditions)].to_numpy(dtype=np.float64)
    y = frame[outcome].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        xb = x_raw[idx]
        sd = xb.std(axis=0, ddof=1)
        if np.any(sd == 0):
            continue
        design = np.column_stack([np.ones(n), (xb - xb.mean(axis=0)) / sd])
        # normal equations: standardised columns are well conditioned, and this is ~100x faster
        # than lstsq's SVD on a shared machine (tests check it against statsmodels)
        coef = np.linalg.solve(design.T @ design, design.T @ y[idx])
        draws.append(coef[1:])
    return np.asarray(draws).reshape(-1, len(conditions))


def summarise(
    frame: pd.DataFrame, outcome: str, conditions: Sequence[str], n_boot: int, seed: int
) -> pd.DataFrame:
    """fit + percentile 95% bootstrap interval, strongest association first: [condition, coef,
    se, ci_low, ci_high, clear] (clear: the interval leaves out 0). attrs: n, r2, n_boot, seed."""
    est = fit(frame, outcome, conditions)
    draws = bootstrap(frame, outcome, conditions, n_boot, seed)
    est["ci_low"] = np.percentile(draws, 2.5, axis=0)
    est["ci_high"] = np.percentile(draws, 97.5, axis=0)
    est["clear"] = (est.ci_low > 0) | (est.ci_high < 0)
    attrs = dict(est.attrs, n_boot=len(draws), seed=seed)
    est = est.reindex(est.coef.abs().sort_values(ascending=False).index).reset_index(drop=True)
    est.attrs.update(attrs)
    return est


# ---- from the store -------------------------------------------------------------------------

def respondent_frame(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    indicator_ids: Sequence[str],
    unit_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per respondent of the wave answering every indicator (complete cases):
    [response_id, unit_id, *indicator_ids]. Never displayed: the analysis input only."""
    ids = list(indicator_ids)
    units = list(unit_ids) if unit_ids is not None else None
    long = con.execute(
        """
        SELECT r.response_id, r.unit_id, s.indicator_id, s.value
        FROM respondent_scores AS s
        JOIN responses AS r USING (response_id)
        WHERE r.wave_id = ? AND list_contains(CAST(? AS VARCHAR[]), s.indicator_id)
          AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), r.unit_id))
        """,
        [int(wave_id), ids, units, units],
    ).df()
    if long.empty:
        return pd.DataFrame(columns=["response_id", "unit_id", *ids])
    wide = long.pivot_table(index=["response_id", "unit_id"], columns="indicator_id",
                            values="value", aggfunc="first")
    wide = wide.reindex(columns=ids).dropna().reset_index()
    wide.columns.name = None
    return wide


def _released(release: pd.DataFrame, cut: str, team: str | None, ids: Sequence[str]) -> bool:
    rows = release[(release.cut == cut) & release.indicator_id.isin(list(ids))]
    if team is not None:
        rows = rows[rows.team == team]
    # every indicator in the model must be released for the group, or it is not analysed
    return set(rows.loc[rows.released.astype(bool), "indicator_id"]) >= set(ids)


def eligible_teams(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int, outcome: str
) -> pd.DataFrame:
    """Teams large enough for their own analysis: released by the release plan for the outcome and
    every condition, and with at least min_respondents complete answers. [unit_id, team, n]."""
    cfg = settings()
    ids = [outcome, *cfg.conditions]
    release = privacy.plan(con, threshold, [wave_id], ids)
    frame = respondent_frame(con, wave_id, ids)
    counts = frame.groupby("unit_id").size().rename("n").reset_index()
    units = con.execute("SELECT unit_id, team FROM units").df()
    counts = counts.merge(units, on="unit_id")
    keep = [
        n >= cfg.min_respondents and _released(release, "team", team, ids)
        for team, n in zip(counts.team, counts.n, strict=True)
    ]
    return counts[keep][["unit_id", "team", "n"]].sort_values("team").reset_index(drop=True)


def analyse(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    outcome: str,
    unit_id: int | None = None,
) -> dict:
    """Drivers of one outcome for the organisation (unit_id None) or one team, one wave.

    Returns {outcome, scope, n, r2, n_boot, seed, table, withheld}: table as `summarise` with
    labels; withheld is a plain reason (and table None) when the group is not released by the
    release plan for every indicator used, or has fewer than min_respondents complete answers.
    """
    cfg = settings()
    if outcome not in cfg.outcomes:
        raise ValueError(f"{outcome!r} is not a drivers outcome ({', '.join(cfg.outcomes)})")
    cat = catalogue.get()
    ids = [outcome, *cfg.conditions]
    team = None
    if unit_id is not None:
        row = con.execute("SELECT team FROM units WHERE unit_id = ?", [int(unit_id)]).fetchone()
        if row is None:
            raise ValueError(f"unknown unit {unit_id}")
        team = row[0]
    result = {"outcome": outcome, "scope": team or "Organisation", "n": None, "r2": None,
              "n_boot": cfg.n_boot, "seed": cfg.seed, "table": None, "withheld": None}
    release = privacy.plan(con, threshold, [wave_id], ids)
    if not _released(release, "team" if team else "organisation", team, ids):
        result["withheld"] = (
            f"{team or 'The organisation'} is not shown for every indicator used in this wave "
            f"({formatting.withheld_reason(threshold)})."
        )
        return result
    frame = respondent_frame(con, wave_id, ids, None if unit_id is None else [int(unit_id)])
    if len(frame) < cfg.min_respondents:
        result["withheld"] = (
            f"Fewer than {cfg.min_respondents} respondents answered every question used: too few "
            "for a regression to say anything."
        )
        return result
    try:
        table = summarise(frame, outcome, cfg.conditions, cfg.n_boot, cfg.seed)
    except ValueError as err:
        result["withheld"] = f"No analysis: {err}."
        return result
    table.insert(1, "label", table.condition.map(lambda i: cat.indicators[i].label))
    table.insert(2, "short", table.condition.map(lambda i: cat.indicators[i].short))
    result.update(n=table.attrs["n"], r2=table.attrs["r2"], n_boot=table.attrs["n_boot"],
                  table=pd.DataFrame(table))
    return result


def sentence(outcome: str, row: pd.Series) -> str:
    """One plain sentence for a condition's association with the outcome."""
    cat = catalogue.get()
    out = cat.indicators[outcome]
    points = row.coef * 100
    direction = "more" if points > 0 else "less"
    if out.id == "work_life_balance":
        what = "agreement with the work-life balance questions"
    else:
        what = out.short.lower()
    certainty = "" if row.clear else " (the interval includes no association)"
    return (
        f"Staff one standard deviation better on {row.short} report {abs(points):.1f} points "
        f"{direction} {what}, other conditions equal{certainty}."
    )
