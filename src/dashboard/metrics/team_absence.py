"""Absence figures by group, released by one staff-in-post rule for the Teams and Absence pages."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd

from dashboard import periods as periods_
from dashboard import privacy
from dashboard.metrics import absence
from dashboard.store import derived, groups, query

T = TypeVar("T")

# The absence indicators the drill-down shows (catalogue id -> column of absence.period_rates).
MEASURE_OF: dict[str, str] = {"absence_rate": "rate", "s10_share": "s10_share"}
# Cuts with a staff-in-post denominator (groups.py owns them; the name stays for callers).
CUTS = groups.ABSENCE_CUTS
# Figures blanked on a withheld group.
_VALUES = ("fte_days_lost", "fte_days_available", "rate", "s10_share", "msk_share", "s99_share", "headcount")


# The 12 months to a wave's fieldwork and the 12 months before, as on the scorecard (periods.py).
PERIODS = ("wave", "previous")
# Each cut's key columns in the frames released_rates returns.
KEYS: dict[str, tuple[str, ...]] = {
    "organisation": (), "directorate": ("directorate",), "team": ("directorate", "team"), "site": ("site",),
}


def _keys(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    # sorted by key: the same frame however the aggregation happened to order its groups
    return privacy.normalise_keys(frame, [b for b in by if b in frame.columns]
                                  ).sort_values(list(by)).reset_index(drop=True)


def released_rates(
    con: duckdb.DuckDBPyConnection, start: date, end: date, threshold: int
) -> dict[str, pd.DataFrame]:
    """Absence over [start, end] for every cut the drill-down shows, as the one release allows.

    Returns cut -> [*keys, fte_days_lost, fte_days_available, rate, s10_share, headcount,
    suppressed]: organisation, directorates, teams (within their directorate) and sites, each
    from absence.period_rates_of (one query for the four cuts), whose figures release.release
    decides month by month (sites included: the month plan holds them to the same class rule as
    every other cut). Withheld groups have NaN figures. An empty frame means there is no absence
    data for the period.
    """
    frames = absence.period_rates_of(con, start, end, threshold, list(KEYS.values()))
    return {cut: _keys(frame, keys) if keys else frame
            for (cut, keys), frame in zip(KEYS.items(), frames, strict=True)}


@derived.reads
def compute_wave_release(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """released_rates for a wave's 12 months and for the 12 months before (each released on its
    own: the two periods hold different days, so one cannot be subtracted from the other),
    computed from the derived tables. Pages read wave_release (the same frames, stored)."""
    (start, end), (p_start, p_end) = periods_.wave_periods(con, wave_id)
    return (released_rates(con, start, end, threshold),
            released_rates(con, p_start, p_end, threshold))


# Frames per (store, absence signature, threshold, wave, fieldwork date) when they cannot be kept
# in the store (read-only, or read inside another transaction); an import changes the signature.
_MEMO: dict[tuple, tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]] = {}
_MEMO_SIZE = 32
_VALUE_COLUMNS = ["fte_days_lost", "fte_days_available", "rate", "s10_share", "msk_share", "s99_share",
                  "headcount"]
_STORED_COLUMNS = ["period", "cut", "pos", "directorate", "team", "site", *_VALUE_COLUMNS, "suppressed"]


def _memo_key(con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, fielded: date) -> tuple | None:
    base = derived.memo_key(con, "derived_absence")
    return None if base is None else (*base, int(threshold), int(wave_id), fielded)


def _stored(
    con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, fielded: date
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]] | None:
    """The stored frames of a wave, or None when they are not (all) there."""
    if not derived.has_table(con, "release_absence_wave"):
        return None
    rows = query.run(
        con, "team_absence.wave_stored",
        f"SELECT {', '.join(_STORED_COLUMNS)} FROM release_absence_wave"
        " WHERE threshold = ? AND wave_id = ? AND fielded_on = ? ORDER BY period, cut, pos",
        [int(threshold), int(wave_id), fielded])
    # every period has exactly one organisation row (a figure over no data is one withheld row);
    # anything else is a partial or doubled write: decide again
    org = rows[rows.cut == "organisation"]
    if sorted(org.period) != sorted(PERIODS) or rows.duplicated(["period", "cut", "pos"]).any():
        return None
    out = []
    for period in PERIODS:
        frames = {}
        for cut, keys in KEYS.items():
            part = rows[(rows.period == period) & (rows.cut == cut)]
            frame = part[[*keys, *_VALUE_COLUMNS, "suppressed"]].reset_index(drop=True)
            frame = frame.astype({**{k: "string" for k in keys}, **{v: "float64" for v in _VALUE_COLUMNS},
                                  "suppressed": bool})
            frames[cut] = frame
        out.append(frames)
    return out[0], out[1]


def _rows(threshold: int, wave_id: int, fielded: date, release: tuple[dict, dict]) -> pd.DataFrame:
    parts = []
    for period, frames in zip(PERIODS, release, strict=True):
        for cut in KEYS:
            frame = frames[cut].copy()
            for col in ("directorate", "team", "site"):
                if col not in frame.columns:
                    frame[col] = pd.NA
            frame = frame.assign(period=period, cut=cut, pos=range(len(frame)))
            keys = {c: "string" for c in ("directorate", "team", "site")}
            parts.append(frame[_STORED_COLUMNS].astype(keys))
    rows = pd.concat(parts, ignore_index=True)
    return rows.assign(threshold=int(threshold), wave_id=int(wave_id), fielded_on=fielded)


def _replace(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: pd.DataFrame,
    wave_ids: Sequence[int], threshold: int,
) -> None:
    """Replace the waves' rows for the threshold in a stored table (derived.WAVE_TABLES) by rows,
    which hold threshold, wave_id, fielded_on and columns."""
    con.execute(f"DELETE FROM {table} WHERE threshold = ?"   # table: one of ours, never an upload's
                " AND list_contains(CAST(? AS INTEGER[]), wave_id)",
                [int(threshold), [int(w) for w in wave_ids]])
    con.register("_wave_rows", rows)
    try:
        con.execute(f"INSERT INTO {table} SELECT threshold, wave_id, CAST(fielded_on AS DATE),"
                    f" {', '.join(columns)} FROM _wave_rows")
    finally:
        con.unregister("_wave_rows")


def _insert(
    con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, wave_ids: Sequence[int], threshold: int
) -> None:
    _replace(con, "release_absence_wave", _STORED_COLUMNS, rows, wave_ids, threshold)


def _keep(con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, fielded: date,
          release: tuple[dict, dict]) -> None:
    """Store frames decided on a read path (derived.keep_on_read)."""
    derived.keep_on_read(con, "release_absence_wave", lambda: _insert(
        con, _rows(threshold, wave_id, fielded, release), [wave_id], threshold))


def _copy(release: tuple[dict, dict]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    return tuple({cut: frame.copy() for cut, frame in frames.items()} for frames in release)  # type: ignore[return-value]


@derived.reads
def wave_release(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """released_rates for a wave's 12 months to fieldwork and for the 12 months before, as
    (wave frames, previous frames), each cut -> frame (see released_rates).

    Read from release_absence_wave (stored at import for the configured threshold; for another
    threshold decided on first use and stored when the connection may write, otherwise
    remembered in this process). The frames are those compute_wave_release gives.
    """
    fielded = periods_.fielded_on(con, wave_id)
    key = _memo_key(con, threshold, wave_id, fielded)
    found = _MEMO.get(key) if key is not None else None
    if found is None:
        found = _stored(con, threshold, wave_id, fielded)
        if found is None:
            found = compute_wave_release(con, wave_id, threshold)
            _keep(con, threshold, wave_id, fielded, found)
        if key is not None:
            derived.remember(_MEMO, key, found, _MEMO_SIZE)
    return _copy(found)


def _todo(con: duckdb.DuckDBPyConnection, table: str, threshold: int) -> list[tuple[int, date]]:
    """The waves (id, fieldwork date) with nothing in table for the threshold at their date."""
    waves = periods_.waves(con)
    done = set() if waves.empty else {int(w) for (w,) in con.execute(
        f"SELECT DISTINCT r.wave_id FROM {table} AS r JOIN waves AS w"  # table: derived.WAVE_TABLES
        " ON w.wave_id = r.wave_id AND w.fielded_on = r.fielded_on WHERE r.threshold = ?",
        [int(threshold)]).fetchall()}
    return [(int(w), f) for w, f in zip(waves.wave_id, waves.fielded_on, strict=True) if int(w) not in done]


@derived.reads
def store_waves(con: duckdb.DuckDBPyConnection, threshold: int) -> None:
    """Decide and store the fieldwork-period absence (the cuts' frames and the standard scopes'
    summaries) of every wave that has none stored for the threshold (derived.store_release,
    inside the import's transaction: errors propagate)."""
    todo = _todo(con, "release_absence_wave", threshold)
    if todo:
        frames = _each_period_once(todo, lambda start, end: released_rates(con, start, end, threshold))
        rows = pd.concat([_rows(threshold, w, f, frames[w]) for w, f in todo], ignore_index=True)
        _insert(con, rows, [w for w, _ in todo], threshold)
    if not derived.has_table(con, "release_absence_scope"):
        return   # a store being migrated: migration 5 fills it
    todo = _todo(con, "release_absence_scope", threshold)
    if todo:
        scopes = standard_scopes(con)
        summaries = _each_period_once(
            todo, lambda start, end: absence.period_summaries(con, start, end, scopes, threshold=threshold))
        rows = pd.concat([_scope_rows(threshold, w, f, dict(zip(PERIODS, summaries[w], strict=True)))
                          for w, f in todo], ignore_index=True)
        _insert_scopes(con, rows, [w for w, _ in todo], threshold)


def _each_period_once(
    todo: Sequence[tuple[int, date]], work: Callable[[date, date], T]
) -> dict[int, tuple[T, T]]:
    """work over each wave's two fieldwork periods (wave id -> (12 months to fieldwork, 12 before)),
    each distinct period worked out once. Waves fielded on the same date each year share a period
    (one wave's 12 months before are the previous wave's 12 months to fieldwork), and what a
    period gives does not depend on the wave asking; its query is most of an import's time on a
    small store."""
    when = {w: periods_.fieldwork_periods(f) for w, f in todo}
    done = {period: work(*period) for period in dict.fromkeys(p for both in when.values() for p in both)}
    return {w: (done[now], done[before]) for w, (now, before) in when.items()}


# --- the standard scopes' absence per wave ------------------------------------------------------
# The scorecard, the team profile and Compare show a scope's absence over a wave's two fieldwork
# periods as absence.period_summary gives it. For the organisation, each directorate (its units,
# a blank directorate apart from any named one) and each unit it is stored with the release
# (release_absence_scope); any other set of units is computed when asked.

ORGANISATION = "organisation"
_SUMMARY_COLUMNS = ["fte_days_lost", "fte_days_available", "rate", "s10_share", "msk_share", "s99_share",
                    "unmatched_days_lost", "episodes", "suppressed"]


def scope_key(unit_ids: Sequence[int] | None) -> str:
    """The stored name of a scope: 'organisation' for None, else its sorted unit ids."""
    if unit_ids is None:
        return ORGANISATION
    return ",".join(str(u) for u in sorted({int(u) for u in unit_ids}))


def standard_scopes(con: duckdb.DuckDBPyConnection) -> dict[str, list[int] | None]:
    """scope_key -> unit ids of the organisation, each directorate (by its stored value, blank
    included) and each unit."""
    units = con.execute("SELECT unit_id, directorate FROM units ORDER BY unit_id").fetchall()
    by_directorate: dict[str | None, list[int]] = {}
    for unit_id, directorate in units:
        by_directorate.setdefault(directorate, []).append(int(unit_id))
    scopes: dict[str, list[int] | None] = {ORGANISATION: None}
    for ids in [*by_directorate.values(), *([u] for u, _ in units)]:
        scopes[scope_key(ids)] = [int(u) for u in ids]
    return scopes


def _period_summaries(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int, scopes: dict[str, list[int] | None],
    fielded: date | None = None,
) -> dict[str, dict[str, dict]]:
    """absence.period_summaries of scopes over the wave's two fieldwork periods: period -> scope -> dict."""
    when = periods_.wave_periods(con, wave_id) if fielded is None else periods_.fieldwork_periods(fielded)
    return {period: absence.period_summaries(con, start, end, scopes, threshold=threshold)
            for period, (start, end) in zip(PERIODS, when, strict=True)}


@derived.reads
def compute_scope_release(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int
) -> dict[str, dict[str, dict]]:
    """absence.period_summary (released at threshold) of every standard scope over the wave's two
    fieldwork periods, computed: period -> scope_key -> dict. Pages read scope_release."""
    return _period_summaries(con, wave_id, threshold, standard_scopes(con))


def _scope_rows(
    threshold: int, wave_id: int, fielded: date, release: dict[str, dict[str, dict]]
) -> pd.DataFrame:
    rows = [(period, key, *(summary[c] for c in _SUMMARY_COLUMNS))
            for period in PERIODS for key, summary in release[period].items()]
    frame = pd.DataFrame(rows, columns=["period", "scope", *_SUMMARY_COLUMNS]).astype(
        {**{c: "float64" for c in _SUMMARY_COLUMNS[:7]}, "episodes": "Int64", "suppressed": bool})
    return frame.assign(threshold=int(threshold), wave_id=int(wave_id), fielded_on=fielded)


def _insert_scopes(
    con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, wave_ids: Sequence[int], threshold: int
) -> None:
    _replace(con, "release_absence_scope", ["period", "scope", *_SUMMARY_COLUMNS], rows, wave_ids, threshold)


def _summary(values: Sequence) -> dict:
    """A stored row (in _SUMMARY_COLUMNS order) as period_summary's dict."""
    out = {}
    for col, value in zip(_SUMMARY_COLUMNS, values, strict=True):
        missing = value is None or (isinstance(value, float) and np.isnan(value))
        out[col] = (bool(value) if col == "suppressed" else None if missing
                    else int(value) if col == "episodes" else float(value))
    return out


def _stored_scopes(
    con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, fielded: date, keys: Sequence[str]
) -> dict[str, dict[str, dict]] | None:
    """The stored summaries of those of keys that are standard scopes (period -> key -> dict), or
    None when the wave has none stored for the threshold."""
    if not derived.has_table(con, "release_absence_scope"):
        return None
    rows = query.run_rows(
        con, "team_absence.scopes_stored",
        f"SELECT period, scope, {', '.join(_SUMMARY_COLUMNS)} FROM release_absence_scope"
        " WHERE threshold = ? AND wave_id = ? AND fielded_on = ?"
        " AND (scope = ? OR list_contains(CAST(? AS VARCHAR[]), scope))",
        [int(threshold), int(wave_id), fielded, ORGANISATION, list(keys)])
    out: dict[str, dict[str, dict]] = {period: {} for period in PERIODS}
    for period, key, *values in rows:
        if key in out[period]:
            return None   # a doubled write: decide again
        out[period][key] = _summary(values)
    # every wave stores the organisation for both periods: without it nothing is stored
    return out if all(ORGANISATION in out[p] for p in PERIODS) else None


def _keep_scopes(con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, fielded: date,
                 release: dict[str, dict[str, dict]]) -> None:
    """Store summaries decided on a read path, as _keep does the frames."""
    derived.keep_on_read(con, "release_absence_scope", lambda: _insert_scopes(
        con, _scope_rows(threshold, wave_id, fielded, release), [wave_id], threshold))


@derived.reads
def scope_release(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    scopes: Mapping[str, Sequence[int] | None],
) -> dict[str, tuple[dict, dict]]:
    """absence.period_summary (released at threshold) of each scope (name -> unit ids, None: the
    organisation) over the 12 months to the wave's fieldwork and the 12 months before:
    name -> (wave summary, previous summary).

    Standard scopes (standard_scopes) are read from release_absence_scope (stored at import for
    the configured threshold; for another threshold decided for all of them on first use and
    stored when the connection may write, otherwise remembered in this process); any other set
    of units is computed, all of them in one statement per period. Either way the dicts are those
    absence.period_summary gives.
    """
    fielded = periods_.fielded_on(con, wave_id)
    keys = {name: scope_key(units) for name, units in scopes.items()}
    memo = _memo_key(con, threshold, wave_id, fielded)
    memo = None if memo is None else ("scopes", *memo)
    found = _MEMO.get(memo) if memo is not None else None
    if found is None:
        found = _stored_scopes(con, threshold, wave_id, fielded, sorted(set(keys.values())))
        if found is None:
            found = compute_scope_release(con, wave_id, threshold)
            _keep_scopes(con, threshold, wave_id, fielded, found)
            if memo is not None:
                derived.remember(_MEMO, memo, found, _MEMO_SIZE)
    other = {name: scopes[name] for name, key in keys.items() if key not in found[PERIODS[0]]}
    computed = _period_summaries(con, wave_id, threshold, dict(other), fielded) if other else {}
    out = {}
    for name, key in keys.items():
        now, before = ((computed[p][name] if name in other else found[p][key]) for p in PERIODS)
        out[name] = (dict(now), dict(before))
    return out


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
