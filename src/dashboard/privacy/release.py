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
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from dashboard import privacy
from dashboard.store import derived, groups, query

# Plans per (store, derived signature, threshold); an import changes the signature.
_MEMO: dict[tuple, _State] = {}
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
    base = derived.memo_key(con, "derived_absence")
    return None if base is None else (*base, int(threshold))


def unit_groups(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every unit with the label of its directorate, team and site (privacy.label)."""
    units = con.execute("SELECT unit_id, directorate, team, site FROM units ORDER BY unit_id").df()
    return privacy.normalise_keys(units, groups.ABSENCE_CUTS[1:])


@dataclass
class _State:
    """One absence release in memory: the released groups per month, the staff counted per
    unit-month as a matrix, and what release() has worked out so far (classes, verdicts)."""

    released: dict[date, set[frozenset[int]]]
    weights: pd.DataFrame
    month_row: dict[date, int]
    unit_col: dict[int, int]
    staff: np.ndarray                        # months x units
    classes: dict[date, dict[int, int]] = field(default_factory=dict)
    seen: dict[tuple[frozenset[int], date], bool] = field(default_factory=dict)
    # a group's staff counted in every month (one column sum, reused by each figure of the group)
    totals: dict[frozenset[int], np.ndarray] = field(default_factory=dict)

    by_month: dict[date, dict[int, float]] = field(default_factory=dict)

    def staff_in(self, month: date) -> dict[int, float]:
        if month not in self.by_month:
            row = self.staff[self.month_row[month]]
            self.by_month[month] = {u: float(row[c]) for u, c in self.unit_col.items() if row[c] > 0}
        return self.by_month[month]


def _state(con: duckdb.DuckDBPyConnection, threshold: int, store: bool = False) -> _State:
    derived.ensure(con, "absence")
    key = _key(con, threshold)
    if key is not None and key in _MEMO and not store:
        return _MEMO[key]
    weights = query.run(con, "absence.release_weights", _WEIGHTS_SQL)
    weights["month"] = pd.to_datetime(weights["month"]).dt.date
    released = _stored(con, threshold)
    if not released:
        released = _decide(con, weights, threshold)
        _keep(con, threshold, released)
    matrix = weights.pivot_table(index="month", columns="unit_id", values="n", aggfunc="sum", fill_value=0)
    state = _State(released, weights,
                   {m: i for i, m in enumerate(matrix.index)},
                   {int(u): j for j, u in enumerate(matrix.columns)},
                   matrix.to_numpy(dtype=np.float64))
    if key is not None:
        _remember(key, state)
    return state


# The stored release as (month, group) pairs and each distinct group's units once: a unit set
# recurs every month (75,600 stored groups are 2,100 sets at national scale), and rows of lists
# took 0.3 s to fetch and as long again to turn into 75,600 sets.
_STORED_SQL = """
WITH r AS (
    SELECT month, members, dense_rank() OVER (ORDER BY members) AS gid
    FROM release_absence WHERE threshold = ?
)
SELECT FALSE AS unit_row, month, gid, NULL AS unit_id FROM r
UNION ALL
SELECT TRUE, NULL, gid, unnest(members) FROM (SELECT DISTINCT gid, members FROM r)
ORDER BY unit_row, gid
"""


def _stored(con: duckdb.DuckDBPyConnection, threshold: int) -> dict[date, set[frozenset[int]]]:
    """The stored release at this threshold ({} when none is stored)."""
    flat = query.run(con, "absence.release_stored", _STORED_SQL, [int(threshold)])
    if flat.empty:
        return {}
    unit_row = flat["unit_row"].to_numpy(dtype=bool)
    units = flat[unit_row]
    gid = units["gid"].to_numpy()
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], len(gid)]
    ids = units["unit_id"].to_numpy(dtype=np.int64).tolist()  # Python ints
    sets = {int(gid[a]): frozenset(ids[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}
    pairs = flat[~unit_row]
    released: dict[date, set[frozenset[int]]] = {}
    months = pd.to_datetime(pairs["month"]).dt.date.tolist()
    for month, g in zip(months, pairs["gid"].to_numpy().tolist(), strict=True):
        # a group stored with no units (not one _keep writes) reads as the empty set, as before
        released.setdefault(month, set()).add(sets.get(g, frozenset()))
    return released


def _decide(con: duckdb.DuckDBPyConnection, weights: pd.DataFrame, threshold: int) -> dict:
    """Run the class rule month by month over the units' staff counted (see the module doc)."""
    units = unit_groups(con)
    index = {int(u): i for i, u in enumerate(units.unit_id)}
    codes, members_ = [], []
    for cut in groups.ABSENCE_CUTS:
        if cut == "organisation":
            code = np.zeros(len(units), dtype=np.int64)
        else:
            code = units.groupby(cut, sort=True, dropna=False).ngroup().to_numpy().astype(np.int64)
        codes.append(code)
        ids = units.unit_id.to_numpy()
        members_.append([frozenset(int(u) for u in ids[code == g]) for g in range(int(code.max()) + 1)]
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
        released[month] = {members_[i][g] for i, flags in enumerate(plan) for g in np.flatnonzero(flags)}
    return released


def absence_plan(
    con: duckdb.DuckDBPyConnection, threshold: int, store: bool = False
) -> tuple[dict, pd.DataFrame]:
    """The absence release for the store: ({month: set of released unit sets}, weights frame).

    weights: [unit_id, month, n], the staff counted per unit-month. Decided once per dataset
    version and threshold and kept in release_absence (filled at import for the configured
    threshold, `store=True`); remembered in this process too.
    """
    state = _state(con, threshold, store)
    return state.released, state.weights


def _remember(key: tuple, state: _State) -> None:
    derived.remember(_MEMO, key, state, _MEMO_SIZE)


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




def _classes(released: set[frozenset[int]]) -> dict[int, int]:
    """Unit -> class: units that every released group holds both or neither of share a class."""
    sig: dict[int, list[int]] = {}
    for i, g in enumerate(released):
        for u in g:
            sig.setdefault(u, []).append(i)
    ids: dict[tuple[int, ...], int] = {}
    return {u: ids.setdefault(tuple(v), len(ids)) for u, v in sig.items()}


def _in_span(group: frozenset[int], released: set[frozenset[int]], staff: dict[int, float],
             threshold: int, classes: dict[int, int]) -> bool:
    """Whether a set of units' figure in one month is a combination of released figures there.

    staff: unit -> staff counted that month (units with none may be left out)."""
    if group in released:
        return True
    counted = {u for u in group if staff.get(u, 0.0) > 0}
    # A 0/1 combination of released groups is constant on every class, so it is a union of
    # classes, each holding none or at least `threshold` staff: anything else is out at once.
    if not privacy.releasable(sum(staff[u] for u in counted), threshold):
        return False
    members_: dict[int, set[int]] = {}
    for u, c in classes.items():
        if staff.get(u, 0.0) > 0:
            members_.setdefault(c, set()).add(u)
    touched = {classes.get(u, -1) for u in counted}
    if -1 in touched or any(not members_[c] <= counted for c in touched):
        return False
    # most often a pool of teams each released on its own (an intervention's target teams)
    if all(frozenset((u,)) in released for u in counted):
        return True
    units = sorted({u for g in released for u in g} | counted)
    col = {u: i for i, u in enumerate(units)}
    weighted = [u for u in units if staff.get(u, 0.0) > 0]
    a = np.zeros((len(released), len(units)))
    for i, g in enumerate(released):
        a[i, [col[u] for u in g]] = 1.0
    v = np.zeros(len(units))
    v[[col[u] for u in counted]] = 1.0
    # units with nobody counted add nothing to any figure: compare on the others only
    keep = [col[u] for u in weighted]
    a, v = a[:, keep], v[keep]
    return bool(np.linalg.matrix_rank(np.vstack([a, v])) == np.linalg.matrix_rank(a))


def release_counts(
    frame: pd.DataFrame,
    by: Sequence[str],
    threshold: int,
    n_col: str,
    keys: Sequence[str] = (),
    value_cols: Sequence[str] = (),
) -> pd.DataFrame:
    """Release groups that have no staff in post by a count of their people (staff groups'
    absent employees, a Bradford group's absent employees, a scatter's teams): blank a group
    below the threshold and, where a parent total would give it away, a sibling too
    (privacy.suppress, complementary suppression)."""
    return privacy.suppress(frame, by, threshold, n_col=n_col, keys=keys, value_cols=value_cols)


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
    state = _state(con, threshold)
    out = []
    for units, months in figures:
        group = units if isinstance(units, frozenset) else frozenset(int(u) for u in units)
        totals = state.totals.get(group)
        if totals is None:
            cols = [state.unit_col[u] for u in group if u in state.unit_col]
            # a set without a unit counted anywhere has nobody in post in any month: never shown
            totals = (state.staff[:, cols].sum(axis=1) if cols else np.zeros(len(state.month_row)))
            state.totals[group] = totals
        ok, any_staff = True, False
        for m in months:
            r = state.month_row.get(m)
            if r is None or totals[r] == 0:
                continue   # nobody counted this month: its days enter no figure
            any_staff = True
            here = state.released.get(m, set())
            if group in here:
                continue
            verdict = state.seen.get((group, m))
            if verdict is None:   # rolling windows ask about the same months again
                if m not in state.classes:
                    state.classes[m] = _classes(here)
                verdict = _in_span(group, here, state.staff_in(m), threshold, state.classes[m])
                state.seen[(group, m)] = verdict
            if not verdict:
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
    found: dict[tuple[str, ...], set[int]] = {}
    columns = [keyed[b].astype(object).tolist() for b in by]
    for uid, *key in zip(keyed.unit_id.tolist(), *columns, strict=True):
        found.setdefault(tuple(str(k) for k in key), set()).add(int(uid))
    lookup = {k: frozenset(v) for k, v in found.items()}
    rows = privacy.normalise_keys(frame[list(by)], by)
    return [lookup.get(tuple(str(v) for v in r), frozenset())
            for r in zip(*[rows[b].astype(object).tolist() for b in by], strict=True)]
