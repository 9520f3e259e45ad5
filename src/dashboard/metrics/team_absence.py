"""Absence figures by group, released by one staff-in-post rule for the Teams and Absence pages."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import pandas as pd

from dashboard import periods as periods_
from dashboard import privacy
from dashboard.metrics import absence

# The absence indicators the drill-down shows (catalogue id -> column of absence.period_rates).
MEASURE_OF: dict[str, str] = {"absence_rate": "rate", "s10_share": "s10_share"}
# Cuts with a staff-in-post denominator; staff groups have none.
CUTS = ("organisation", "directorate", "team", "site")
# Figures blanked on a withheld group.
_VALUES = ("fte_days_lost", "fte_days_available", "rate", "s10_share", "msk_share", "s99_share", "headcount")


# The 12 months to a wave's fieldwork and the 12 months before, as on the scorecard (periods.py).


def _keys(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    return privacy.normalise_keys(frame, [b for b in by if b in frame.columns])


def released_rates(
    con: duckdb.DuckDBPyConnection, start: date, end: date, threshold: int
) -> dict[str, pd.DataFrame]:
    """Absence over [start, end] for every cut the drill-down shows, as the one release allows.

    Returns cut -> [*keys, fte_days_lost, fte_days_available, rate, s10_share, headcount,
    suppressed]: organisation, directorates, teams (within their directorate) and sites, each
    from absence.period_rates, whose figures release.release decides month by month (sites
    included: the month plan holds them to the same class rule as every other cut). Withheld
    groups have NaN figures. An empty frame means there is no absence data for the period.
    """
    return {
        "organisation": absence.period_rates(con, start, end, threshold, ()),
        "directorate": _keys(absence.period_rates(con, start, end, threshold, ("directorate",)),
                             ("directorate",)),
        "team": _keys(absence.period_rates(con, start, end, threshold, ("directorate", "team")),
                      ("directorate", "team")),
        "site": _keys(absence.period_rates(con, start, end, threshold, ("site",)), ("site",)),
    }


def wave_release(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """released_rates for a wave's 12 months and for the 12 months before (each released on its
    own: the two periods hold different days, so one cannot be subtracted from the other)."""
    (start, end), (p_start, p_end) = periods_.wave_periods(con, wave_id)
    return (released_rates(con, start, end, threshold),
            released_rates(con, p_start, p_end, threshold))


def is_shown(frames: dict[str, pd.DataFrame], cut: str, key: str | None = None) -> bool:
    """Whether one group's absence is released in frames (from released_rates).

    cut: organisation, directorate, team or site; key: the group's name (None for organisation).
    """
    if cut not in CUTS:
        raise ValueError(f"no absence figures by {cut!r}; choose from {CUTS}")
    frame = frames[cut]
    rows = frame if cut == "organisation" else frame[frame[cut] == key]
    return bool(len(rows) == 1 and not rows.suppressed.iloc[0])


def released_groups(
    con: duckdb.DuckDBPyConnection, start: date, end: date, threshold: int, cut: str
) -> set[str]:
    """Names of the directorates, teams or sites whose absence over [start, end] is released."""
    frame = released_rates(con, start, end, threshold)[cut]
    return set(frame.loc[~frame.suppressed.astype(bool), cut].dropna())


def _in_scope(con: duckdb.DuckDBPyConnection, cut: str, unit_ids: Sequence[int] | None) -> set[str] | None:
    if unit_ids is None:
        return None
    column = {"directorate": "directorate", "team": "team", "site": "site"}[cut]
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM units WHERE list_contains(CAST(? AS INTEGER[]), unit_id)",
        [[int(u) for u in unit_ids]],
    ).fetchall()
    return {r[0] for r in rows if r[0] is not None}


def _mask(frame: pd.DataFrame, cut: str, shown: set[str], scope: set[str] | None) -> pd.DataFrame:
    out = frame.copy()
    out["suppressed"] = out.suppressed.astype(bool) | ~out[cut].isin(shown)
    privacy.blank(out, _VALUES)
    return out if scope is None else out[out[cut].isin(scope)].reset_index(drop=True)


def compare_rates(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    cut: str,
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> pd.DataFrame:
    """Absence by directorate, team or site for the Absence page's comparison.

    Every figure is one the organisation-wide release (released_rates) shows; a scope only picks
    which of them to list (groups touching the scope). Computing groups inside a scope instead
    would publish cross-cuts (directorate x site) that differencing could open up.
    """
    by = ("directorate", "team") if cut == "team" else (cut,)
    frame = _keys(absence.period_rates(con, start, end, threshold, by, None, day_count), by)
    return _mask(frame, cut, released_groups(con, start, end, threshold, cut), _in_scope(con, cut, unit_ids))


def scope_options(
    con: duckdb.DuckDBPyConnection, start: date, end: date, threshold: int, cut: str
) -> pd.DataFrame:
    """absence.scope_options limited to groups the release shows (sites pass the cross-cut check)."""
    options = absence.scope_options(con, start, end, threshold, cut)
    return options[options[cut].isin(released_groups(con, start, end, threshold, cut))].reset_index(drop=True)


def bradford(
    con: duckdb.DuckDBPyConnection,
    end: date,
    threshold: int,
    cut: str,
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """absence.bradford by one cut over the whole organisation, keeping released groups in scope."""
    summary, bands = absence.bradford(con, end, threshold, (cut,), None, day_count)
    shown = released_groups(con, *periods_.twelve_months_to(end), threshold, cut)
    scope = _in_scope(con, cut, unit_ids)

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["suppressed"] = out.suppressed.astype(bool) | ~out[cut].isin(shown)
        privacy.blank(out, ("employees", "headcount", "median", "p75", "p90", "share"))
        return out if scope is None else out[out[cut].isin(scope)].reset_index(drop=True)

    return keep(summary), keep(bands)
