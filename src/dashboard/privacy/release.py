"""What may be shown: the absence release, decided per month once per dataset version, and release().

Absence figures are sums over (team, day) of FTE days lost and available. The plan is decided at
month grain, whatever period a user picks: for each month, the survey plan's class rule
(privacy._plan_one, proved in docs/privacy.md) runs over the teams' staff in post, for the
organisation, every directorate, every team and every site, largest first. A figure over any set
of days is shown only when its set of teams is a group released in every month those days touch
(months in which the set has nobody in post add nothing to any figure and are skipped).

Why no small group can be derived, over any periods, rolling windows or "same month last year":
every shown figure is a sum over months of that month's released group totals, so any
combination of shown figures splits, month by month, into combinations of one month's released
totals; within one month the class rule makes every derivable set of teams a union of classes of
at least the threshold (or none). Team-months without staff in post have no days available and
their days lost enter no figure at all (never even a caption).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from dashboard import periods, privacy
from dashboard.store import derived, query

# The cuts with staff in post, in priority order (as the survey plan: organisation, directorate,
# team, site). Staff groups have no staff in post and so no absence release.
ABSENCE_CUTS: tuple[str, ...] = ("organisation", "directorate", "team", "site")

# Plans per (store, derived signature, threshold); an import changes the signature.
_MEMO: dict[tuple, tuple[dict, pd.DataFrame]] = {}
_MEMO_SIZE = 16

# Staff counted for the release per unit-month: staff in post (or, for monthly aggregates without
# it, whole FTE), at least 1 wherever there are days available; none where nobody is in post and
# no days are available (absence.py leaves such a unit-month's days lost out of every figure).
_WEIGHTS_SQL = """
SELECT unit_id, month,
       CASE WHEN headcount > 0 THEN headcount
            WHEN available > 0 THEN greatest(coalesce(floor(fte), 0), 1)
            ELSE 0 END AS n
FROM absence_unit_month
WHERE day_count = 'calendar'
"""


def _key(con: duckdb.DuckDBPyConnection, threshold: int) -> tuple | None:
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not row or not row[0]:
        return None
    sig = con.execute("SELECT value FROM meta WHERE key = 'derived_absence'").fetchone()
    return str(row[0]), sig[0] if sig else "", int(threshold)


def unit_groups(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every unit with the label of its directorate, team and site (privacy.label)."""
    units = con.execute("SELECT unit_id, directorate, team, site FROM units ORDER BY unit_id").df()
    return privacy.normalise_keys(units, ("directorate", "team", "site"))


def absence_plan(
    con: duckdb.DuckDBPyConnection, threshold: int, store: bool = False
) -> tuple[dict, pd.DataFrame]:
    """The absence release for the store: ({month: set of released unit sets}, weights frame).

    weights: [unit_id, month, n], the staff counted per unit-month. Decided once per dataset
    version and threshold and kept in release_absence (filled at import for the configured
    threshold, `store=True`); remembered in this process too.
    """
    derived.ensure(con)
    key = _key(con, threshold)
    if key is not None and key in _MEMO and not store:
        return _MEMO[key]
    weights = query.run(con, "absence.release_weights", _WEIGHTS_SQL)
    stored = query.run(con, "absence.release_stored",
                       "SELECT month, members FROM release_absence WHERE threshold = ?", [int(threshold)])
    if not stored.empty:
        released: dict[date, set[frozenset[int]]] = {}
        for month, group in zip(stored.month, stored.members, strict=True):
            released.setdefault(pd.Timestamp(month).date(), set()).add(frozenset(int(u) for u in group))
        weights["month"] = pd.to_datetime(weights["month"]).dt.date
        out = (released, weights)
        if key is not None:
            _remember(key, out)
        return out
    units = unit_groups(con)
    index = {int(u): i for i, u in enumerate(units.unit_id)}
    codes, members = [], []
    for cut in ABSENCE_CUTS:
        if cut == "organisation":
            code = np.zeros(len(units), dtype=np.int64)
        else:
            code = units.groupby(cut, sort=True, dropna=False).ngroup().to_numpy().astype(np.int64)
        codes.append(code)
        ids = units.unit_id.to_numpy()
        members.append([frozenset(int(u) for u in ids[code == g]) for g in range(int(code.max()) + 1)]
                       if len(code) else [])
    released: dict[date, set[frozenset[int]]] = {}
    for month, part in weights.groupby("month", sort=True):
        n = np.zeros(len(units), dtype=np.float64)
        for uid, w in zip(part.unit_id, part.n, strict=True):
            if int(uid) in index:
                n[index[int(uid)]] = float(w)
        if n.sum() == 0:
            continue
        plan = privacy._plan_one(n, codes, threshold)
        released[pd.Timestamp(month).date()] = {
            members[i][g] for i, flags in enumerate(plan) for g in np.flatnonzero(flags)
        }
    weights["month"] = pd.to_datetime(weights["month"]).dt.date
    out = (released, weights)
    _keep(con, threshold, released)
    if key is not None:
        _remember(key, out)
    return out


def _remember(key: tuple, out: tuple[dict, pd.DataFrame]) -> None:
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = out


def _keep(con: duckdb.DuckDBPyConnection, threshold: int, released: dict) -> None:
    """Store a computed plan (best effort on a read path; decided again next time if it fails)."""
    if not released or con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only":
        return
    rows = pd.DataFrame(
        [(int(threshold), month, sorted(group)) for month, groups_ in released.items() for group in groups_],
        columns=["threshold", "month", "members"])
    with contextlib.suppress(duckdb.Error):
        con.register("_release_rows", rows)
        try:
            con.execute("INSERT INTO release_absence SELECT threshold, CAST(month AS DATE),"
                        " CAST(members AS INTEGER[]) FROM _release_rows")
        finally:
            con.unregister("_release_rows")


months_of = periods.months_of  # the months a figure's days touch: what it is released on


def _classes(released: set[frozenset[int]]) -> dict[int, int]:
    """Unit -> class: units that every released group holds both or neither of share a class."""
    sig: dict[int, list[int]] = {}
    for i, g in enumerate(sorted(released, key=sorted)):
        for u in g:
            sig.setdefault(u, []).append(i)
    ids: dict[tuple[int, ...], int] = {}
    return {u: ids.setdefault(tuple(v), len(ids)) for u, v in sig.items()}


def _in_span(group: frozenset[int], released: set[frozenset[int]], staff: dict, month: date,
             threshold: int, classes: dict[int, int]) -> bool:
    """Whether a set of units' figure in one month is a combination of released figures there."""
    if group in released:
        return True
    counted = {u for u in group if staff.get((u, month), 0.0) > 0}
    # A 0/1 combination of released groups is constant on every class, so it is a union of
    # classes, each holding none or at least `threshold` staff: anything else is out at once.
    if sum(staff[(u, month)] for u in counted) < threshold:
        return False
    members: dict[int, set[int]] = {}
    for u, c in classes.items():
        if staff.get((u, month), 0.0) > 0:
            members.setdefault(c, set()).add(u)
    touched = {classes.get(u, -1) for u in counted}
    if -1 in touched or any(not members[c] <= counted for c in touched):
        return False
    # most often a pool of teams each released on its own (an intervention's target teams)
    if all(frozenset((u,)) in released for u in counted):
        return True
    units = sorted({u for g in released for u in g} | counted)
    col = {u: i for i, u in enumerate(units)}
    weighted = [u for u in units if staff.get((u, month), 0.0) > 0]
    a = np.zeros((len(released), len(units)))
    for i, g in enumerate(released):
        a[i, [col[u] for u in g]] = 1.0
    v = np.zeros(len(units))
    v[[col[u] for u in counted]] = 1.0
    # units with nobody counted add nothing to any figure: compare on the others only
    keep = [col[u] for u in weighted]
    a, v = a[:, keep], v[keep]
    return bool(np.linalg.matrix_rank(np.vstack([a, v])) == np.linalg.matrix_rank(a))


def release(
    con: duckdb.DuckDBPyConnection,
    threshold: int,
    figures: Iterable[tuple[Iterable[int], Sequence[date]]],
) -> np.ndarray:
    """For each absence figure (its set of units, the months its days touch): may it be shown?

    The one decision for every absence figure on every page, chart, table and download: True only
    when, in every one of those months in which the set has staff counted (and in at least one),
    the set's total is a combination of the totals the plan releases that month: a released group,
    a pool of released teams, or any other set in the span of the released groups.
    """
    released, weights = absence_plan(con, threshold)
    staff = {(int(u), m): float(w) for u, m, w in zip(weights.unit_id, weights.month, weights.n, strict=True)}
    classes: dict[date, dict[int, int]] = {}
    seen: dict[tuple[frozenset[int], date], bool] = {}
    out = []
    for units, months in figures:
        group = frozenset(int(u) for u in units)
        ok, any_staff = True, False
        for m in months:
            if sum(staff.get((u, m), 0.0) for u in group) == 0:
                continue
            any_staff = True
            if (group, m) not in seen:   # rolling windows ask about the same months again
                here = released.get(m, set())
                if m not in classes:
                    classes[m] = _classes(here)
                seen[(group, m)] = _in_span(group, here, staff, m, threshold, classes[m])
            if not seen[(group, m)]:
                ok = False
                break
        out.append(ok and any_staff)
    return np.asarray(out, dtype=bool)


def members(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, by: Sequence[str],
            unit_ids: Sequence[int] | None = None) -> list[frozenset[int]]:
    """The units behind each row of a frame grouped by `by` (raw values, as SQL returned them),
    within the scope unit_ids if given."""
    units = con.execute("SELECT unit_id, directorate, team, site FROM units").df()
    scope = None if unit_ids is None else {int(u) for u in unit_ids}
    if scope is not None:
        units = units[units.unit_id.isin(scope)]
    if not by:
        return [frozenset(int(u) for u in units.unit_id)] * len(frame)
    keyed = privacy.normalise_keys(units, by)
    lookup = {}
    for key, part in keyed.groupby(list(by), dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        lookup[tuple(str(k) for k in key)] = frozenset(int(u) for u in part.unit_id)
    rows = privacy.normalise_keys(frame[list(by)], by)
    return [lookup.get(tuple(str(v) for v in r), frozenset()) for r in rows.itertuples(index=False)]
