"""Anonymity: the threshold, complementary suppression and the survey release plan for every cut."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from dashboard.metrics import indicators
from dashboard.store import derived, groups, query

# A missing directorate, site or staff group is a group of its own, shown under this name. An
# uploaded value that reads the same is a different group, so it is shown as UPLOADED_AS (issue
# 10: merging the two let the plan release a 4-respondent group under the other one's name).
NOT_RECORDED = "Not recorded"
UPLOADED_AS = "{value} (as uploaded)"

# The survey cuts the product offers, in priority order: when two figures cannot both be shown
# without letting a small group be derived, the one from the earlier cut is kept. The team
# drill-down comes first because it is the product's main journey.
RELEASE_ORDER: tuple[tuple[str, ...], ...] = (
    (),
    ("directorate",),
    ("team",),
    ("site",),
    ("staff_group",),
    ("directorate", "staff_group"),
    ("site", "staff_group"),
)
KEY_COLUMNS = tuple(groups.CUTS)  # directorate, team, site, staff_group


def releasable(n, threshold: int):
    """The anonymity rule for one base: at least `threshold` respondents (or staff).

    The only comparison of a count with the threshold outside the release itself: every other
    module asks here (a scalar gives a bool; an array or Series gives one per element, missing
    counts never releasable). Whether a group may be shown also depends on its siblings: for
    that, read the release plan (`plan`, `survey_figures`) or `release.release` for absence.
    """
    if isinstance(n, pd.Series):
        return n.astype("float64").fillna(-1.0) >= threshold
    if isinstance(n, np.ndarray):
        return np.nan_to_num(n.astype(np.float64), nan=-1.0) >= threshold
    return n is not None and not pd.isna(n) and n >= threshold


def cut_name(by: Sequence[str]) -> str:
    """Stable name of a cut: 'organisation', 'team', 'directorate+staff_group'."""
    return "+".join(by) if by else "organisation"


def blank(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Set the figures in `columns` to NaN on every row marked `suppressed`; returns the frame.

    The one place figures are removed, so a withheld group's numbers never ride along in a
    frame (or a cache) even if a caller forgets to filter on `suppressed`.
    """
    hide = frame["suppressed"].to_numpy(dtype=bool)
    for col in columns:
        if col in frame.columns:
            frame[col] = np.where(hide, np.nan, frame[col].to_numpy(dtype=np.float64, na_value=np.nan))
    return frame


def suppress(
    frame: pd.DataFrame,
    by: Sequence[str],
    threshold: int,
    n_col: str = "n",
    keys: Sequence[str] = ("wave_id", "indicator_id"),
    value_cols: Sequence[str] = ("value", "sd"),
) -> pd.DataFrame:
    """Blank every figure of a group below the threshold, and of siblings where needed.

    For one table whose rows partition a parent (the last name in `by` within the others, per
    `keys`). Primary: n < threshold. Complementary: the suppressed siblings of a parent can be
    recovered together as parent minus the rest, so while they total fewer than `threshold`
    (and more than none) the smallest shown sibling is suppressed too. Returns a copy with a
    boolean `suppressed` column; n and value columns are NaN where suppressed.

    Survey figures across several cuts at once need `survey_figures`, which also protects
    against differencing between cuts (a team against its site, a staff group against a team).
    """
    out = frame.copy()
    if out.empty:
        out["suppressed"] = pd.Series(dtype=bool)
        return out
    n = out[n_col].astype("float64").fillna(0.0)
    out["suppressed"] = n < threshold
    by = list(by)
    if by:
        parent = [k for k in keys if k in out.columns] + by[:-1]
        if parent:
            parent_id = out.groupby(parent, dropna=False, sort=False).ngroup().to_numpy()
        else:
            parent_id = np.zeros(len(out), dtype=np.int64)
        n_arr = n.to_numpy()
        sup = out["suppressed"].to_numpy().copy()
        # Each pass suppresses at most one more sibling per parent; at most len(out) passes.
        while True:
            hidden = np.bincount(parent_id, weights=np.where(sup, n_arr, 0.0))
            short = (hidden > 0) & (hidden < threshold)
            candidates = np.flatnonzero(short[parent_id] & ~sup)
            if candidates.size == 0:
                break
            # the smallest shown sibling in each short parent (stable: first in frame order)
            order = candidates[np.lexsort((candidates, n_arr[candidates], parent_id[candidates]))]
            first = order[np.r_[True, parent_id[order][1:] != parent_id[order][:-1]]]
            sup[first] = True
        out["suppressed"] = sup
    return blank(out, [n_col, *value_cols])


# Respondent counts per finest cell (team x staff group) for each wave and indicator. Rows from
# pre-aggregated uploads have no staff group (NULL here): they count towards unit figures only,
# as in indicators.survey_results.
_CELLS_SQL = """
SELECT c.wave_id, c.indicator_id, c.unit_id, u.directorate, u.team, u.site,
       CASE WHEN c.respondent THEN coalesce(c.staff_group, '') END AS staff_group,
       CAST(sum(c.n) AS BIGINT) AS n
FROM survey_cells AS c
JOIN units AS u USING (unit_id)
WHERE (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), c.indicator_id))
  AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), c.wave_id))
GROUP BY ALL
ORDER BY c.wave_id, c.indicator_id, c.unit_id, staff_group NULLS LAST
"""


def cells(
    con: duckdb.DuckDBPyConnection,
    wave_ids: Sequence[int] | None = None,
    indicator_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Finest cells: [wave_id, indicator_id, unit_id, directorate, team, site, staff_group, n]."""
    inds = list(indicator_ids) if indicator_ids is not None else None
    wvs = list(wave_ids) if wave_ids is not None else None
    derived.ensure(con, "survey")
    frame = query.run(con, "survey.cells", _CELLS_SQL, [inds, inds, wvs, wvs])
    # '' marks a respondent without a staff group (a group of its own); NULL a pre-aggregated row
    frame = normalise_keys(frame, ("directorate", "site"))
    raw = frame["staff_group"].astype("string")
    blank_ = (raw == "").fillna(False).to_numpy(dtype=bool)
    labelled = label(raw.mask(blank_)).to_numpy(dtype=object)
    frame["staff_group"] = np.where(raw.isna().to_numpy(), None, labelled)
    return frame


def _plan_one(
    n: np.ndarray,
    codes: list[np.ndarray],
    threshold: int,
    last: list[np.ndarray | None] | None = None,
) -> list[np.ndarray]:
    """Which groups of each cut to release, for one wave and indicator.

    The rule (proved in docs/privacy.md): a figure is released only if, after adding it, every
    class of respondents that the released figures tell apart (same membership in every released
    group) still holds 0 or at least `threshold` respondents. Every released figure is then a
    union of such classes, so any sum or difference of released figures is too: no group below
    the threshold can be derived, however the figures are combined.

    Work per candidate group is proportional to its own cells (class weights are kept up to date
    as classes split), not to all cells: at national scale (2,000 teams) one wave's plan fell from
    ~50 s to ~3 s (bench/README.md). tests/test_privacy.py checks it against the plain version.
    """
    cls = np.zeros(len(n), dtype=np.int64)
    weight = np.array([float(n.sum())])  # respondents in each class of the partition so far
    out = []
    for i, code in enumerate(codes):
        valid = code >= 0
        groups_n = np.bincount(code[valid], weights=n[valid]) if valid.any() else np.zeros(0)
        released = np.zeros(len(groups_n), dtype=bool)
        # Largest first: when siblings compete, the bigger (more robust) group is the one shown.
        # Groups flagged `last` are tried after all others, so they are the ones left hidden.
        late = last[i] if last is not None and last[i] is not None else np.zeros(len(groups_n), bool)
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(groups_n) + 1))
        for g in np.lexsort((-groups_n, late)):
            if groups_n[g] < threshold:
                continue
            idx = order[bounds[g]:bounds[g + 1]]
            first = cls[idx[0]]
            inside1 = float(groups_n[g])
            if inside1 > 0 and (cls[idx] == first).all():
                # the group lies inside one class (every group of the first cuts, most teams):
                # the same test and split as below, without np.unique's cost (the plan at
                # national scale makes a quarter of a million of these checks)
                rest1 = float(weight[first]) - inside1
                if rest1 == 0 or rest1 >= threshold:
                    released[g] = True
                    if rest1 > 0:
                        cls[idx] = len(weight)
                        weight[first] = rest1
                        weight = np.append(weight, inside1)
                continue
            touched, inv = np.unique(cls[idx], return_inverse=True)
            inside = np.bincount(inv, weights=n[idx])
            hit = inside > 0
            rest = weight[touched] - inside
            if np.all(inside[hit] >= threshold) and np.all(((rest == 0) | (rest >= threshold))[hit]):
                released[g] = True
                # a class partly inside the group splits in two; one wholly inside stays as it is
                split = hit & (rest > 0)
                relabel = touched.copy()
                relabel[split] = np.arange(len(weight), len(weight) + int(split.sum()))
                cls[idx] = relabel[inv]
                weight[touched[split]] -= inside[split]
                weight = np.concatenate([weight, inside[split]])
        out.append(released)
    return out


def _best_plan(
    n: np.ndarray,
    codes: list[np.ndarray],
    places: np.ndarray,
    order: Sequence[tuple[str, ...]],
    threshold: int,
) -> list[np.ndarray]:
    """The plain plan, or one that hides a small team's site neighbours first, whichever shows more.

    Any order gives a safe plan; the order only decides which sibling is withheld to protect a
    small team. Withholding one at the small team's own site keeps the hidden part of the
    directorate inside one site, so that the site's figure can still be shown. places: each
    cell's (directorate, site) as a code (-1 where either is missing).
    """
    plain = _plan_one(n, codes, threshold)
    if ("team",) not in order:
        return plain
    t = list(order).index(("team",))
    team = codes[t]
    # per team: its size and its first cell's place; then per place, its teams and small teams
    size = np.bincount(team, weights=n)
    present = np.bincount(team) > 0
    # a team's first cell (two units may share a team name): np.unique gives first occurrences
    found, first = np.unique(team, return_index=True)
    place = np.full(len(size), -1, dtype=np.int64)
    place[found] = places[first]
    small = present & (size < threshold)
    known = present & (place >= 0)
    teams_here = np.bincount(place[known], minlength=1)
    small_here = np.bincount(place[known], weights=small[known], minlength=1)
    near_small = np.zeros(len(size), dtype=bool)
    at = place[known]
    near_small[known] = ((small_here[at] - small[known]) > 0) & (teams_here[at] > 1)
    if not near_small.any():
        return plain
    last: list[np.ndarray | None] = [None] * len(codes)
    last[t] = near_small
    aware = _plan_one(n, codes, threshold, last)
    return aware if sum(a.sum() for a in aware) > sum(p.sum() for p in plain) else plain


def _codes(frame: pd.DataFrame, by: Sequence[str], member: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group in a cut (-1 outside it), numbered in sorted key order, and each group's
    key columns (one row per group)."""
    code = np.full(len(frame), -1, dtype=np.int64)
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=[0])
    code[member] = frame[member].groupby(list(by), sort=True, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(frame))[member]).groupby(code[member]).first()
    return code, frame.loc[first.to_numpy(), list(by)].reset_index(drop=True)


def release_plan(
    cell_frame: pd.DataFrame,
    threshold: int,
    order: Sequence[Sequence[str]] = RELEASE_ORDER,
) -> pd.DataFrame:
    """Decide, per wave and indicator, which group of every cut may be shown.

    cell_frame: as from `cells`. Returns one row per (wave, indicator, cut, group):
    [wave_id, indicator_id, cut, directorate, team, site, staff_group, n, released]; key columns
    not in the cut are NA. Groups are considered cut by cut in `order`, largest first.
    """
    order = [groups.validate(by) for by in order]
    columns = ["wave_id", "indicator_id", "cut", *KEY_COLUMNS, "n", "released"]
    if cell_frame.empty:
        return pd.DataFrame(columns=columns)
    frame = cell_frame.reset_index(drop=True)
    n_all = frame["n"].to_numpy(dtype=np.float64)
    has_group = frame["staff_group"].notna().to_numpy()
    # Groups are numbered once over all waves and indicators: a wave and indicator's own
    # numbering (what its plan is decided on) is the same numbering restricted to its cells and
    # made dense, because both sort the same keys. (Numbering each part with pandas took most of
    # the plan's time: 1.7 s a wave on the demo.)
    cut_codes, cut_keys = [], []
    for by in order:
        member = has_group if "staff_group" in by else np.ones(len(frame), dtype=bool)
        code, keys = _codes(frame, by, member)
        cut_codes.append(code)
        cut_keys.append(keys)
    places = (frame.groupby(["directorate", "site"], sort=True, dropna=True).ngroup()
              .fillna(-1).to_numpy(dtype=np.int64))
    # a cell's identity (unit and staff group): indicators answered by exactly the same people in
    # each cell share one plan
    cell_id = frame.groupby(["unit_id", "staff_group"], sort=False, dropna=False).ngroup().to_numpy()
    part_of = frame.groupby(["wave_id", "indicator_id"], sort=True).ngroup().to_numpy()
    rows = np.argsort(part_of, kind="stable")
    bounds = np.searchsorted(part_of[rows], np.arange(part_of.max() + 2))
    wave_col = frame["wave_id"].to_numpy()
    indicator_col = frame["indicator_id"].to_numpy()
    memo: dict[bytes, list[np.ndarray]] = {}
    # per cut: the blocks' group numbers (into cut_keys), sizes, decisions, and each block's part
    picked: list[list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in order]
    for part in range(len(bounds) - 1):
        idx = rows[bounds[part]:bounds[part + 1]]
        n = n_all[idx]
        codes, groups_of = [], []
        for code in cut_codes:
            sub = code[idx]
            valid = sub >= 0
            uniq, dense = np.unique(sub[valid], return_inverse=True)
            local = np.full(len(idx), -1, dtype=np.int64)
            local[valid] = dense
            codes.append(local)
            groups_of.append(uniq)
        key = cell_id[idx].tobytes() + n.tobytes()
        if key not in memo:
            memo[key] = _best_plan(n, codes, places[idx], order, threshold)
        for c, (code, uniq, released) in enumerate(zip(codes, groups_of, memo[key], strict=True)):
            valid = code >= 0
            sizes = np.bincount(code[valid], weights=n[valid], minlength=len(released))
            picked[c].append((part, uniq, sizes, released))
    frames = []
    for c, by in enumerate(order):
        blocks = picked[c]
        uniq = np.concatenate([b[1] for b in blocks])
        block_of = np.concatenate([np.full(len(b[1]), b[0]) for b in blocks])
        out = cut_keys[c].iloc[uniq].reset_index(drop=True) if by else pd.DataFrame(index=range(len(uniq)))
        first_row = rows[bounds[block_of]]
        out["n"] = np.concatenate([b[2] for b in blocks]).astype(np.int64)
        out["released"] = np.concatenate([b[3] for b in blocks])
        out["cut"] = cut_name(by)
        out["wave_id"] = wave_col[first_row].astype(np.int64)
        out["indicator_id"] = indicator_col[first_row]
        # the plan's rows go part by part, each part's cuts in order
        out["_part"], out["_cut"] = block_of, c
        frames.append(out)
    plan = pd.concat(frames, ignore_index=True)
    plan = plan.sort_values(["_part", "_cut"], kind="stable").reset_index(drop=True)
    for col in KEY_COLUMNS:
        if col not in plan.columns:
            plan[col] = pd.NA
    return plan[columns]


# Plans per (store file, dataset version, threshold, wave, indicators): one page view asks for the
# same wave's plan several times, and every import or undo bumps the version.
_PLAN_MEMO: dict[tuple, pd.DataFrame] = {}
_PLAN_MEMO_SIZE = 64


def _store_key(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    # the survey cells' signature changes with every change of survey data (derived.refresh)
    return derived.memo_key(con, "derived_survey")


_STORED_COLUMNS = ["wave_id", "indicator_id", "cut", *KEY_COLUMNS, "n", "released"]


def _stored(
    con: duckdb.DuckDBPyConnection, threshold: int, wave_id: int, indicator_ids: list[str] | None = None
) -> pd.DataFrame | None:
    """A wave's stored plan (the rows of these indicators only, when given); None when there are
    no such rows."""
    # read as arrays and built with the column types a stored plan has always been read with
    # (object keys with NA; every reader casts the keys it compares): a frame of arrow strings
    # turned into that took twice as long as the read (a wave's plan is 56,000 rows at national
    # scale, read on the first view after an import)
    found = con.execute(
        f"SELECT {', '.join(_STORED_COLUMNS)} FROM release_survey WHERE threshold = ? AND wave_id = ?"
        " AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), indicator_id))",
        [int(threshold), int(wave_id), indicator_ids, indicator_ids],
    ).fetchnumpy()
    if len(found["wave_id"]) == 0:
        return None
    values = {col: np.ma.getdata(found[col]) for col in _STORED_COLUMNS}
    for col in KEY_COLUMNS:
        values[col] = pd.Series(np.ma.filled(found[col].astype(object), pd.NA), dtype=object)
    for col in ("indicator_id", "cut"):
        values[col] = pd.Series(values[col], dtype="str")
    values["n"] = values["n"].astype(np.int64)
    values["released"] = values["released"].astype(bool)
    return pd.DataFrame(values)


def _store(con: duckdb.DuckDBPyConnection, threshold: int, part: pd.DataFrame) -> None:
    """Keep a wave's plan in release_survey (best effort on a read path: another session may be
    writing; the plan is simply decided again next time)."""
    if part.empty or con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only":
        return
    rows = part.assign(threshold=int(threshold))[["threshold", *_STORED_COLUMNS]]
    rows = rows.astype({c: "string" for c in KEY_COLUMNS}).astype({"indicator_id": "string", "cut": "string"})
    with contextlib.suppress(duckdb.Error):
        con.register("_plan_rows", rows)
        try:
            con.execute("INSERT INTO release_survey SELECT * FROM _plan_rows")
        finally:
            con.unregister("_plan_rows")


def plan(
    con: duckdb.DuckDBPyConnection,
    threshold: int,
    wave_ids: Sequence[int] | None = None,
    indicator_ids: Sequence[str] | None = None,
    store: bool = False,
) -> pd.DataFrame:
    """The release plan for the store (see `release_plan`), wave by wave.

    Decided once per dataset version and threshold, for a whole wave, and stored (release_survey,
    filled at import for the configured threshold: `store=True`); remembered in this process too.
    """
    derived.ensure(con, "survey")
    store_key = _store_key(con)
    inds = set(indicator_ids) if indicator_ids is not None else None
    if wave_ids is None:
        wave_ids = _all_waves(con)
    parts = []
    for wave_id in dict.fromkeys(int(w) for w in wave_ids):
        key = None if store_key is None else (*store_key, int(threshold), wave_id)
        # at import (store=True) the plan is decided from the data, never taken from memory
        part = _PLAN_MEMO.get(key) if key is not None and not store else None
        if part is None and inds is not None and not store:
            # a few indicators (a funnel's one) read just their rows of the stored plan: a
            # wave's whole plan is 11,000 rows at a tenth of national scale (13 ms into pandas)
            some = None if key is None else (*key, tuple(sorted(inds)))
            part = _PLAN_MEMO.get(some) if some is not None else None
            if part is None:
                part = _stored(con, threshold, wave_id, sorted(inds))
                if part is not None and some is not None:
                    derived.remember(_PLAN_MEMO, some, part, _PLAN_MEMO_SIZE)
            if part is not None:
                parts.append(part)
                continue
        if part is None:
            part = _stored(con, threshold, wave_id)
            if part is None:
                part = release_plan(cells(con, [wave_id]), threshold)
                _store(con, threshold, part)
            if key is not None:
                derived.remember(_PLAN_MEMO, key, part, _PLAN_MEMO_SIZE)
        parts.append(part if inds is None else part[part.indicator_id.isin(inds)])
    if not parts:
        return release_plan(cells(con, [], indicator_ids), threshold)
    # a wave without cells has an empty, untyped plan: concatenated, it made every column object
    return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)


def _all_waves(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [int(w) for (w,) in con.execute("SELECT wave_id FROM waves ORDER BY wave_id").fetchall()]


# The stored plan's rows of a few named groups: one (cut, key) pair per group, the key being the
# group's label in its one key column (NULL for the organisation).
_ROWS_SQL = """
WITH wanted AS (
    SELECT unnest(CAST(? AS VARCHAR[])) AS cut, unnest(CAST(? AS VARCHAR[])) AS key
)
SELECT {columns}
FROM release_survey AS r JOIN wanted AS w ON r.cut = w.cut
WHERE r.threshold = ? AND list_contains(CAST(? AS INTEGER[]), r.wave_id)
  AND (w.key IS NULL OR w.key = CASE r.cut WHEN 'team' THEN r.team WHEN 'directorate' THEN r.directorate
                                           WHEN 'site' THEN r.site WHEN 'staff_group' THEN r.staff_group END)
ORDER BY r.wave_id, r.cut, r.indicator_id
"""
_ONE_KEY_CUTS = ("organisation", "team", "directorate", "site", "staff_group")


def plan_rows(
    con: duckdb.DuckDBPyConnection,
    threshold: int,
    wave_ids: Sequence[int] | None,
    wanted: Sequence[tuple[str, str | None]],
) -> pd.DataFrame:
    """The release plan's rows (`plan`'s columns) for a few groups only: wanted holds (cut, label)
    pairs such as ("team", "Ward A"), ("directorate", "Medicine") or ("organisation", None);
    wave_ids None: every wave.

    Exactly the rows `plan` holds for those groups, read from the stored plan (one query over
    it, not every wave's whole plan into pandas: a team profile needs three groups of 56,000);
    a wave whose plan is not stored is decided by `plan` and filtered.
    """
    for cut, _ in wanted:
        if cut not in _ONE_KEY_CUTS:
            raise ValueError(f"plan_rows takes one-key cuts {_ONE_KEY_CUTS}, not {cut!r}")
    wanted = list(dict.fromkeys((c, None if c == "organisation" else k) for c, k in wanted))
    derived.ensure(con, "survey")
    waves = list(dict.fromkeys(int(w) for w in (_all_waves(con) if wave_ids is None else wave_ids)))
    stored = {w for (w,) in con.execute(
        "SELECT DISTINCT wave_id FROM release_survey WHERE threshold = ? AND list_contains(?, wave_id)",
        [int(threshold), waves]).fetchall()}
    parts = []
    if stored:
        # column names from this module's own list, never user text
        frame = query.run(con, "survey.plan_rows", _ROWS_SQL.format(
            columns=", ".join(f"r.{c}" for c in _STORED_COLUMNS)),
            [[c for c, _ in wanted], [k for _, k in wanted], int(threshold), sorted(stored)])
        for col in KEY_COLUMNS:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), pd.NA)
        parts.append(frame.astype({"n": np.int64, "released": bool}))
    missing = [w for w in waves if w not in stored]
    if missing:
        decided = plan(con, threshold, missing)
        keep = np.zeros(len(decided), dtype=bool)
        for cut, key in wanted:
            mine = (decided.cut == cut).to_numpy()
            if key is not None:
                mine = mine & (decided[cut] == key).fillna(False).to_numpy(dtype=bool)
            keep |= mine
        parts.append(decided[keep])
    if not parts:
        return pd.DataFrame(columns=_STORED_COLUMNS)
    return pd.concat(parts, ignore_index=True)[_STORED_COLUMNS]


# The groups of one cut (key columns filled in below) that the stored plan shows in any
# indicator of a wave, and one row with stored FALSE for each wave asked for whose plan is not
# stored at this threshold.
_SHOWN_SQL = """
SELECT wave_id, TRUE AS stored, {keys}
FROM release_survey
WHERE threshold = ? AND cut = ? AND released
  AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), wave_id))
GROUP BY ALL
UNION ALL
SELECT wave_id, FALSE, {nulls}
FROM waves
WHERE (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), wave_id))
  AND wave_id NOT IN (SELECT wave_id FROM release_survey WHERE threshold = ?)
"""


# The teams the stored plan shows in any indicator of each wave (shown_teams) and the waves whose
# plan is stored at all (stored_waves), as common table expressions for a named query that shows
# a team's figure only with its survey figures (response rates): one join there instead of
# shown_groups' query and a match in pandas (8 of a response-rate table's 26 ms at a tenth of
# national scale). Binds the threshold twice, first. A wave missing from stored_waves has no
# rows in shown_teams: ask shown_groups for it.
SHOWN_TEAMS_CTES = """
shown_teams AS (
    SELECT DISTINCT wave_id, team FROM release_survey WHERE threshold = ? AND cut = 'team' AND released
),
stored_waves AS (
    SELECT DISTINCT wave_id FROM release_survey WHERE threshold = ?
)"""


def shown_groups(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    threshold: int,
    wave_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """[wave_id, *by]: the groups of one offered cut that the release plan shows in any
    indicator of each wave, each once (in no particular order).

    The plan's own rows, read in one query from the stored plan instead of every wave's whole
    plan (`plan`); a wave whose plan is not stored is decided by `plan`.
    """
    by = groups.validate(by)
    name = cut_name(by)
    if name not in {cut_name(o) for o in RELEASE_ORDER}:
        raise ValueError(f"the cut {name!r} is not offered; choose from {RELEASE_ORDER}")
    derived.ensure(con, "survey")
    waves = None if wave_ids is None else [int(w) for w in wave_ids]
    # key columns are whitelisted cut names (groups.validate), never user text
    sql = _SHOWN_SQL.format(keys=", ".join(by) or "NULL AS none_",
                            nulls=", ".join(f"NULL AS {b}" for b in by) or "NULL")
    rows = query.run(con, "survey.shown_groups", sql,
                     [int(threshold), name, waves, waves, waves, waves, int(threshold)])
    stored = rows.stored.astype(bool)
    shown = rows.loc[stored, ["wave_id", *by]]
    missing = [int(w) for w in rows.loc[~stored, "wave_id"]]
    if missing:
        decided = plan(con, threshold, missing)
        decided = decided.loc[(decided.cut == name) & decided.released, ["wave_id", *by]]
        # a group shown in several indicators is one row (the query's GROUP BY did that above)
        shown = pd.concat([shown, decided.drop_duplicates()], ignore_index=True)
    return shown.astype({"wave_id": np.int64, **{b: object for b in by}}).reset_index(drop=True)


_MARK = UPLOADED_AS.format(value="")


def _reads_as_not_recorded(value: str) -> bool:
    """NOT_RECORDED in any case and spacing, with or without UPLOADED_AS marks after it."""
    while value.endswith(_MARK):
        value = value[: -len(_MARK)]
    return value.strip().casefold() == NOT_RECORDED.casefold()


def label(values: pd.Series) -> pd.Series:
    """Display name of each group: missing -> NOT_RECORDED; an uploaded value that reads as
    NOT_RECORDED -> UPLOADED_AS, so the two stay two groups everywhere (keys and labels).

    One to one: an uploaded value that is already such a label ("Not recorded (as uploaded)")
    is marked again, or it would share a name, and so a release decision, with the value it
    reads as (a 6-respondent "Not recorded" directorate shown under the name of a 20-respondent
    one)."""
    out = values.astype("string")
    # a handful of distinct names per column: decide each once, not once per row
    distinct = out.dropna().unique()
    clash = [v for v in distinct if _reads_as_not_recorded(v)]
    if clash:
        out = out.replace({v: UPLOADED_AS.format(value=v) for v in clash})
    return out.fillna(NOT_RECORDED)


def normalise_keys(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Directorate, site and staff group as their group labels (see `label`)."""
    out = frame.copy()
    for col in by:
        if col != "team":
            out[col] = label(out[col])
        else:
            out[col] = out[col].astype("string")
    return out


def apply_plan(results: pd.DataFrame, release: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Blank value, n and sd of every group the plan does not release (adds `suppressed`)."""
    by = groups.validate(by)
    name = cut_name(by)
    if name not in {cut_name(o) for o in RELEASE_ORDER}:
        raise ValueError(f"the cut {name!r} is not offered; choose from {RELEASE_ORDER}")
    out = normalise_keys(results, by).reset_index(drop=True)
    # the plan's keys are labels already (cells() labels them): labelling twice would rename
    rows = release[release.cut.to_numpy() == name]
    mine, planned = _key_codes(out, rows, ["wave_id", "indicator_id", *by])
    released = rows.released.to_numpy(dtype=bool)
    # shown only where the plan releases the key and nowhere withholds it; a key the plan does
    # not hold stays withheld
    out["suppressed"] = ~(np.isin(mine, planned[released]) & ~np.isin(mine, planned[~released]))
    return blank(out, ("value", "n", "sd"))


# Up to this many rows in both frames, keys are numbered as Python objects in one pass; above
# it, each side is numbered on its own and only the distinct values matched (a national team
# heatmap's 36,000 keys: 17 ms a frame as objects, 6 ms on their own; a funnel's few hundred:
# 1.7 ms as objects, 3.2 ms on their own).
_KEYS_AS_OBJECTS_UP_TO = 20_000


def _key_codes(left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row of each frame, equal where the rows' keys are equal (a missing key
    equals a missing key, as a merge matches them). A merge of the two frames cost 4-6 ms for a
    funnel's few hundred rows, most of it fixed."""
    code_l = np.zeros(len(left), dtype=np.int64)
    code_r = np.zeros(len(right), dtype=np.int64)
    together = len(left) + len(right) <= _KEYS_AS_OBJECTS_UP_TO
    span = 1   # every code so far is below this
    for key in keys:
        if together:
            found, distinct = pd.factorize(np.concatenate(
                [left[key].to_numpy(dtype=object), right[key].to_numpy(dtype=object)]))
            width = len(distinct) + 1   # 0: missing
            found_l, found_r = found[:len(left)] + 1, found[len(left):] + 1
        else:
            mine, distinct_l = pd.factorize(left[key])
            theirs, distinct_r = pd.factorize(right[key])
            # the right's distinct values by their place among the left's; new ones after those
            at = pd.Index(np.asarray(distinct_l, dtype=object)).get_indexer(
                pd.Index(np.asarray(distinct_r, dtype=object)))
            new = at < 0
            at[new] = len(distinct_l) + np.arange(int(new.sum()))
            width = len(distinct_l) + int(new.sum()) + 1
            found_l = mine + 1
            found_r = np.where(theirs < 0, 0, np.append(at, 0)[theirs] + 1)
        if span * width >= 2**62:
            # renumber the codes so far densely before they could overflow: two keys that
            # wrapped around to one code would release one group's figures under another's
            both, distinct = pd.factorize(np.concatenate([code_l, code_r]))
            code_l, code_r, span = both[:len(code_l)], both[len(code_l):], len(distinct)
        code_l = code_l * width + found_l
        code_r = code_r * width + found_r
        span *= width
    return code_l, code_r


def survey_figures(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    threshold: int,
    wave_ids: Sequence[int] | None = None,
    indicator_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Survey figures of one offered cut with everything the release plan withholds blanked.

    The only way survey group figures should reach a screen: [*by, wave_id, wave_label,
    fielded_on, indicator_id, value, n, sd, suppressed].
    """
    return survey_figures_of(con, [by], threshold, wave_ids, indicator_ids)[0]


def survey_figures_of(
    con: duckdb.DuckDBPyConnection,
    cuts: Sequence[Sequence[str]],
    threshold: int,
    wave_ids: Sequence[int] | None = None,
    indicator_ids: Sequence[str] | None = None,
) -> list[pd.DataFrame]:
    """survey_figures for several offered cuts: the frames those calls give (same columns, rows,
    order and types).

    Read from the figures stored with the release (store_figures: the configured threshold, at
    import) when there are any for this threshold; worked out from the cells and the plan
    otherwise. Both are apply_plan's frames.
    """
    cuts = [groups.validate(by) for by in cuts]
    offered = {cut_name(o) for o in RELEASE_ORDER}
    for by in cuts:
        if cut_name(by) not in offered:
            raise ValueError(f"the cut {cut_name(by)!r} is not offered; choose from {RELEASE_ORDER}")
    if not cuts:
        return []
    derived.ensure(con, "survey")
    return _stored_figures(con, cuts, threshold, wave_ids, indicator_ids) or _worked_out(
        con, cuts, threshold, wave_ids, indicator_ids)


def _worked_out(
    con: duckdb.DuckDBPyConnection,
    cuts: list[tuple[str, ...]],
    threshold: int,
    wave_ids: Sequence[int] | None,
    indicator_ids: Sequence[str] | None,
) -> list[pd.DataFrame]:
    release = plan(con, threshold, wave_ids, indicator_ids)
    return [apply_plan(results, release, by) for results, by in zip(
        indicators.survey_results_of(con, cuts, indicator_ids, wave_ids), cuts, strict=True)]


_FIGURE_COLUMNS = ["wave_id", "wave_label", "fielded_on", "indicator_id", "value", "n", "sd", "suppressed"]

# The stored figures of some cuts, waves and indicators, in each cut's order (survey_results:
# group, fieldwork date, indicator). {keys}: the key columns the cuts need (KEY_COLUMNS names):
# each string column read costs as much as the scan at a tenth of national scale.
_STORED_FIGURES_SQL = """
SELECT f.cut, {keys} f.wave_id, w.label AS wave_label, w.fielded_on, f.indicator_id,
       f.value, f.n, f.sd, f.suppressed
FROM release_survey_figures AS f JOIN waves AS w USING (wave_id)
WHERE f.threshold = ? AND list_contains(CAST(? AS VARCHAR[]), f.cut)
  AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), f.wave_id))
  AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), f.indicator_id))
ORDER BY f.cut, f.gpos, w.fielded_on, f.indicator_id, f.wave_id
"""


def _stored_figures(
    con: duckdb.DuckDBPyConnection,
    cuts: list[tuple[str, ...]],
    threshold: int,
    wave_ids: Sequence[int] | None,
    indicator_ids: Sequence[str] | None,
) -> list[pd.DataFrame] | None:
    """The stored figures of the cuts; None when there are none to read (not stored for this
    threshold, or nothing asked for exists: the caller works them out).

    Stored figures are current by construction: refresh_survey empties the table whenever the
    survey cells are rebuilt, and store_figures fills it in the same transaction."""
    if not derived.has_figures(con):
        return None
    names = list(dict.fromkeys(cut_name(by) for by in cuts))
    waves = None if wave_ids is None else [int(w) for w in wave_ids]
    inds = None if indicator_ids is None else [str(i) for i in indicator_ids]
    keys = [k for k in KEY_COLUMNS if any(k in by for by in cuts)]
    rows = query.run(con, "survey.stored_figures",
                     _STORED_FIGURES_SQL.format(keys="".join(f"f.{k}, " for k in keys)),
                     [int(threshold), names, waves, waves, inds, inds])
    if rows.empty:
        return None
    cut = rows.cut.to_numpy(dtype=object)
    frames = []
    for by in cuts:
        part = rows.loc[cut == cut_name(by), [*by, *_FIGURE_COLUMNS]].reset_index(drop=True)
        # apply_plan's types: keys as labels (string), figures as floats, NaN where withheld
        for col in by:
            part[col] = part[col].astype("string")
        part["suppressed"] = part.suppressed.astype(bool)
        frames.append(part)
    return frames


def store_figures(con: duckdb.DuckDBPyConnection, threshold: int) -> None:
    """Work out every offered cut's released figures in every wave and keep them for the
    threshold (release_survey_figures); inside the transaction that decided the plan.

    Figures kept for this threshold are current (every rebuild of the survey cells empties the
    table), so an import of absence alone keeps them; any other threshold's are replaced."""
    if not derived.has_table(con, "release_survey_figures"):
        return   # the store is being migrated: migration 13 fills it
    kept = con.execute("SELECT count(*) FILTER (WHERE threshold = ?), count(*) FROM release_survey_figures",
                       [int(threshold)]).fetchone()
    if kept[0]:
        return
    if not con.execute("SELECT count(*) FROM survey_cells").fetchone()[0]:
        con.execute("DELETE FROM release_survey_figures")
        return   # nothing to keep: a read works out the empty frames
    cuts = list(RELEASE_ORDER)
    columns: dict[str, list[np.ndarray]] = {c: [] for c in (
        "_cut", "_gpos", *KEY_COLUMNS, "wave_id", "indicator_id", "value", "n", "sd", "suppressed")}
    for by, frame in zip(cuts, _worked_out(con, cuts, threshold, None, None), strict=True):
        size = len(frame)
        # rows come in the cut's order with each group's rows together: a group's place counts
        # the changes of key from row to row
        change = np.zeros(size, dtype=bool)
        for k in by:
            code = pd.factorize(frame[k], use_na_sentinel=False)[0]
            change[1:] |= code[1:] != code[:-1]
        columns["_gpos"].append(np.cumsum(change, dtype=np.int64))
        columns["_cut"].append(np.full(size, cut_name(by), dtype=object))
        for k in KEY_COLUMNS:
            columns[k].append(frame[k].to_numpy(dtype=object, na_value=None) if k in by
                              else np.full(size, None, dtype=object))
        columns["wave_id"].append(frame.wave_id.to_numpy(dtype=np.int64))
        columns["indicator_id"].append(frame.indicator_id.to_numpy(dtype=object))
        for c in ("value", "n", "sd"):
            columns[c].append(frame[c].to_numpy(dtype=np.float64, na_value=np.nan))
        columns["suppressed"].append(frame.suppressed.to_numpy(dtype=bool))
    # one frame and one insert for every cut: registering a frame costs DuckDB milliseconds
    # whatever its size
    rows = pd.DataFrame({c: np.concatenate(parts) for c, parts in columns.items()})
    # emptied only now: working the figures out may have brought stale derived tables up to
    # date, which stores them on its own (a migration on a store written outside an import)
    con.execute("DELETE FROM release_survey_figures")
    con.register("_figure_rows", rows)
    try:
        con.execute("INSERT INTO release_survey_figures SELECT ?, _cut, _gpos, directorate, team, site,"
                    " staff_group, wave_id, indicator_id, value, n, sd, suppressed FROM _figure_rows",
                    [int(threshold)])
    finally:
        con.unregister("_figure_rows")
