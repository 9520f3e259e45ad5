"""Anonymity: suppression by hand, the release plan by hand, and an adversary who differences
every figure the Teams page can show (tests/teams_org.py, threshold 10)."""
from __future__ import annotations

import itertools
import shutil

import numpy as np
import pandas as pd
import pytest

from dashboard import privacy, store
from dashboard.config import settings
from dashboard.metrics import drilldown, indicators
from dashboard.store import groups
from tests import teams_org

T = 10


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = teams_org.build(tmp_path_factory.mktemp("teams") / "s.duckdb")
    yield con
    con.close()


# ---- suppress(): one table, primary + complementary ------------------------------------------

def _table(sizes, parent="D"):
    return pd.DataFrame(
        {"directorate": parent, "team": [f"t{i}" for i in range(len(sizes))], "n": sizes,
         "value": np.arange(len(sizes), dtype=float) / 10}
    )


def _hidden(out):
    return set(out.loc[out.suppressed, "team"])


def test_suppress_lone_small_team_takes_the_smallest_sibling_with_it():
    out = privacy.suppress(_table([20, 14, 4]), ("directorate", "team"), T, keys=())
    # 4 alone could be recovered as parent - 20 - 14; hiding 14 too leaves 18 >= 10 unknown
    assert _hidden(out) == {"t1", "t2"}
    assert out.loc[out.suppressed, ["n", "value"]].isna().all().all()
    assert out.loc[~out.suppressed, "n"].tolist() == [20]


def test_suppress_two_small_teams_below_threshold_together_need_a_third():
    out = privacy.suppress(_table([30, 3, 4, 15, 12]), ("directorate", "team"), T, keys=())
    # 3 + 4 = 7 < 10 could be recovered together; the smallest shown sibling (12) joins: 19
    assert _hidden(out) == {"t1", "t2", "t4"}


def test_suppress_small_teams_that_together_reach_the_threshold_need_nothing_more():
    out = privacy.suppress(_table([30, 6, 5, 15]), ("directorate", "team"), T, keys=())
    assert _hidden(out) == {"t1", "t2"}


def test_suppress_all_small_hides_everything_and_stops():
    out = privacy.suppress(_table([3, 4]), ("directorate", "team"), T, keys=())
    assert _hidden(out) == {"t0", "t1"}


def test_suppress_parents_are_independent_and_keys_separate_waves():
    frame = pd.concat([_table([20, 4], "D1"), _table([20, 30], "D2")], ignore_index=True)
    frame = pd.concat([frame.assign(wave_id=1), frame.assign(wave_id=2, n=[20, 12, 20, 30])])
    out = privacy.suppress(frame, ("directorate", "team"), T, keys=("wave_id",))
    hidden = set(zip(out.loc[out.suppressed, "wave_id"], out.loc[out.suppressed, "directorate"],
                     out.loc[out.suppressed, "team"], strict=True))
    assert hidden == {(1, "D1", "t0"), (1, "D1", "t1")}


def test_suppress_single_level_has_no_sibling_rule_for_the_organisation():
    out = privacy.suppress(pd.DataFrame({"n": [9], "value": [0.5]}), (), T, keys=())
    assert out.suppressed.tolist() == [True]
    out = privacy.suppress(pd.DataFrame({"n": [10], "value": [0.5]}), (), T, keys=())
    assert out.suppressed.tolist() == [False]


def test_suppress_empty_frame():
    out = privacy.suppress(pd.DataFrame({"team": [], "n": []}), ("team",), T)
    assert out.empty and "suppressed" in out


# ---- the release plan across cuts, by hand ------------------------------------------------------

def _released(plan, cut, **key):
    rows = plan[(plan.cut == cut)]
    for col, val in key.items():
        rows = rows[rows[col] == val]
    assert len(rows) == 1, (cut, key)
    return bool(rows.released.iloc[0])


def test_plan_for_the_fixture_wave_2025_matches_hand_working(con):
    plan = privacy.plan(con, T, [2], ["stress"])
    teams = plan[plan.cut == "team"].set_index("team")
    # Surgery 48 -> Theatres 25 (rest 23), Day Unit 12 (rest 11), Clinic 11 (rest 0);
    # Medicine 38 -> Ward A 20 (rest 18); Ward B 14 would leave Ward C's 4 alone: withheld.
    assert set(teams.index[teams.released]) == {"Theatres", "Day Unit", "Clinic", "Ward A"}
    assert teams.loc["Ward B", "n"] == 14 and not teams.loc["Ward B", "released"]
    assert set(plan.loc[(plan.cut == "directorate") & plan.released, "directorate"]) == {
        "Medicine", "Surgery", "Corporate"}
    # sites contain whole hidden blocks ({Ward B, Ward C} and {HR, Finance} are both North)
    assert _released(plan, "site", site="North") and _released(plan, "site", site="South")
    # staff groups would split a shown team into a part below 10 (Ward A has 8 medical staff)
    assert not plan.loc[plan.cut == "staff_group", "released"].any()
    assert _released(plan, "directorate+staff_group", directorate="Surgery", staff_group="Nursing")
    assert not _released(plan, "directorate+staff_group", directorate="Surgery", staff_group="Medical")
    assert _released(plan, "directorate+staff_group", directorate="Corporate", staff_group="Admin")
    assert _released(plan, "organisation")
    assert plan.loc[plan.cut == "organisation", "n"].item() == 99


def _cells(rows):
    """rows: (unit_id, directorate, team, site, staff_group, n) for wave 1, indicator x."""
    frame = pd.DataFrame(rows, columns=["unit_id", "directorate", "team", "site", "staff_group", "n"])
    return frame.assign(wave_id=1, indicator_id="x")


def test_plan_withholds_a_site_that_would_split_a_hidden_block():
    # Ward C (4) sits at South with the Surgery teams, Ward B (14) at North: North minus its shown
    # teams minus Corporate would give Ward B, and then Medicine minus Ward A gives Ward C.
    cells = _cells([
        (1, "Medicine", "Ward A", "North", "N", 20),
        (2, "Medicine", "Ward B", "North", "N", 14),
        (3, "Medicine", "Ward C", "South", "N", 4),
        (4, "Surgery", "Theatres", "South", "N", 25),
    ])
    plan = privacy.release_plan(cells, T)
    assert not _released(plan, "team", team="Ward B")
    assert not _released(plan, "site", site="North")
    assert not _released(plan, "site", site="South")


def test_plan_prefers_to_hide_a_small_teams_site_neighbour_when_that_shows_more():
    cells = _cells([
        (1, "Medicine", "Ward A", "North", "N", 20),
        (2, "Medicine", "Ward B", "South", "N", 14),
        (3, "Medicine", "Ward C", "North", "N", 4),
        (4, "Medicine", "Ward D", "North", "N", 30),
        (5, "Surgery", "Theatres", "South", "N", 25),
    ])
    plan = privacy.release_plan(cells, T)
    # Hiding Ward B (14, South) with Ward C (4, North) would split the hidden 18 across both sites
    # and withhold both site figures. Hiding Ward A (20, North) instead keeps the hidden 24 inside
    # North: the same number of teams is shown, and both sites can be shown too.
    teams = plan[plan.cut == "team"].set_index("team").released.to_dict()
    assert teams == {"Theatres": True, "Ward A": False, "Ward B": True, "Ward C": False, "Ward D": True}
    assert _released(plan, "site", site="North") and _released(plan, "site", site="South")


def test_plan_keeps_pre_aggregated_rows_out_of_staff_group_cuts():
    cells = _cells([
        (1, "D", "A", "S", "Nursing", 12),
        (1, "D", "A", "S", None, 30),   # an uploaded team aggregate has no staff group
        (2, "D", "B", "S", "Nursing", 15),
    ])
    plan = privacy.release_plan(cells, T)
    assert plan.loc[plan.cut == "team"].set_index("team").n.to_dict() == {"A": 42, "B": 15}
    sg = plan[plan.cut == "staff_group"]
    assert sg.staff_group.tolist() == ["Nursing"] and sg.n.tolist() == [27]


def test_plan_gives_each_wave_and_indicator_its_own_answer():
    a = _cells([(1, "D", "A", "S", "N", 12), (2, "D", "B", "S", "N", 15)])
    b = a.assign(indicator_id="y", n=[12, 5])
    plan = privacy.release_plan(pd.concat([a, b]), T)
    x_teams = plan[(plan.indicator_id == "x") & (plan.cut == "team")].released.tolist()
    y_teams = plan[(plan.indicator_id == "y") & (plan.cut == "team")].released.tolist()
    assert x_teams == [True, True]
    assert y_teams == [False, False]   # B is below 10, so A (= D - B) is withheld too


def test_apply_plan_refuses_a_cut_that_is_not_offered(con):
    results = indicators.survey_results(con, by=("team", "staff_group"), wave_ids=[2])
    with pytest.raises(ValueError, match="not offered"):
        privacy.apply_plan(results, privacy.plan(con, T, [2]), ("team", "staff_group"))


def _merged(results: pd.DataFrame, plan: pd.DataFrame, by) -> pd.DataFrame:
    """apply_plan by a second method: a left merge on the plan's keys (what it used to be)."""
    out = privacy.normalise_keys(results, by)
    allowed = plan[plan.cut == privacy.cut_name(by)][["wave_id", "indicator_id", *by, "released"]].copy()
    for col in by:
        allowed[col] = allowed[col].astype("string")
    out = out.merge(allowed, on=["wave_id", "indicator_id", *by], how="left")
    out["suppressed"] = ~out.pop("released").fillna(False).astype(bool)
    for col in ("value", "n", "sd"):
        out[col] = out[col].astype("float64").where(~out.suppressed)
    return out


@pytest.mark.parametrize("keys_as_objects", [True, False], ids=["keys as objects", "each side numbered"])
@pytest.mark.parametrize("store_kind", ["demo", "collision"])
def test_apply_plan_marks_and_blanks_what_a_merge_on_the_plans_keys_does(
        store_kind, keys_as_objects, demo_con, tmp_path, monkeypatch):
    """Every offered cut, every wave: the same rows withheld and the same figures shown as a left
    merge on (wave, indicator, keys), on the demo and on an organisation with a blank directorate
    beside a literal "Not recorded", a response without a staff group and pre-aggregated rows.
    A key the plan both releases and withholds, or does not hold, is withheld."""
    from tests.metrics.test_indicators import _collision_store

    # small frames number their keys in one pass, large ones side by side: both ways here
    monkeypatch.setattr(privacy, "_KEYS_AS_OBJECTS_UP_TO", 10**9 if keys_as_objects else 0)
    con = demo_con if store_kind == "demo" else _collision_store(tmp_path / "c.duckdb")
    plan = privacy.plan(con, T if store_kind == "demo" else 3)   # the small one: some teams shown
    for by in privacy.RELEASE_ORDER:
        results = indicators.survey_results(con, by=by)
        got = privacy.apply_plan(results, plan, by)
        pd.testing.assert_frame_equal(got, _merged(results, plan, by), check_exact=True, obj=str(by))
        assert len(got) == len(results)
    team = privacy.apply_plan(indicators.survey_results(con, by=("team",)), plan, ("team",))
    assert team.suppressed.any() and not team.suppressed.all()
    if store_kind == "collision":
        assert set(privacy.apply_plan(indicators.survey_results(con, by=("directorate",)), plan,
                                      ("directorate",)).directorate) >= {
            privacy.NOT_RECORDED, privacy.UPLOADED_AS.format(value=privacy.NOT_RECORDED)}
    # a shown team's key also withheld in a second row, and another shown team's row dropped
    teams = plan[(plan.cut == "team") & plan.released]
    twice, gone = teams.iloc[0], teams.iloc[1]
    odd = pd.concat([plan.drop(index=gone.name), twice.to_frame().T.assign(released=False)],
                    ignore_index=True).astype(plan.dtypes.to_dict())
    got = privacy.apply_plan(indicators.survey_results(con, by=("team",)), odd, ("team",))
    for row in (twice, gone):
        mine = got[(got.wave_id == row.wave_id) & (got.indicator_id == row.indicator_id)
                   & (got.team == row.team)]
        assert len(mine) == 1 and mine.suppressed.all() and mine[["value", "n", "sd"]].isna().all(axis=None)
    assert got.suppressed.sum() == privacy.apply_plan(
        indicators.survey_results(con, by=("team",)), plan, ("team",)).suppressed.sum() + 2
    if store_kind == "collision":
        con.close()


@pytest.mark.parametrize("keys_as_objects", [True, False], ids=["keys as objects", "each side numbered"])
def test_key_codes_are_equal_exactly_where_keys_are_even_past_the_range_of_an_integer(keys_as_objects,
                                                                                     monkeypatch):
    """Four keys of 70,000 distinct values each: the product of their widths (2.4e19) is past
    int64. Two keys whose codes would differ by exactly 2**64 wrap around to one code unless the
    codes are renumbered on the way; the right-hand one here is built to be that key. Codes are
    equal exactly where keys are, and a missing key equals a missing key."""
    monkeypatch.setattr(privacy, "_KEYS_AS_OBJECTS_UP_TO", 10**9 if keys_as_objects else 0)
    size, keys = 70_000, ["a", "b", "c", "d"]
    width = size + 1   # each key's values 0..size-1 number 1..size in order of appearance; 0: missing
    left = pd.DataFrame({k: np.arange(size) for k in keys})
    # the key whose code, read in base `width`, is (0, 0, 0, 0)'s plus 2**64
    target = width**3 + width**2 + width + 1 + 2**64
    digits = [(target // width**p) % width for p in (3, 2, 1, 0)]
    assert all(1 <= d < width for d in digits) and target < width**4
    rng = np.random.default_rng(7)
    right = pd.DataFrame({k: rng.permutation(size) for k in keys})
    right.iloc[0] = [d - 1 for d in digits]
    right.iloc[1:4001] = left.iloc[1:4001].to_numpy()   # keys on both sides
    code_l, code_r = privacy._key_codes(left, right, keys)
    assert code_l[0] != code_r[0]

    def as_tuples(frame):
        return list(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))

    tl, tr = as_tuples(left), as_tuples(right)
    assert len(set(code_l)) == len(set(tl)) and len(set(code_r)) == len(set(tr))
    shared_keys = set(tl) & set(tr)
    assert len(shared_keys) >= 4000 and len(set(code_l) & set(code_r)) == len(shared_keys)
    first = dict(zip(tl, code_l, strict=True))
    assert all(first[t] == c for t, c in zip(tr, code_r, strict=True) if t in first)
    # a missing key equals a missing key, and nothing else
    a = pd.DataFrame({"k": pd.array(["x", None, "y"], dtype="string")})
    b = pd.DataFrame({"k": pd.array([None, "y", "z"], dtype="object")})
    ca, cb = privacy._key_codes(a, b, ["k"])
    assert ca[1] == cb[0] and ca[2] == cb[1] and len({*ca, cb[2]}) == 4


def _plan_shown(plan: pd.DataFrame, by) -> set[tuple]:
    rows = plan[(plan.cut == privacy.cut_name(by)) & plan.released]
    return set(rows[["wave_id", *by]].itertuples(index=False, name=None))


def _shown(frame: pd.DataFrame) -> set[tuple]:
    assert not frame.duplicated().any()
    return set(frame.itertuples(index=False, name=None))


@pytest.mark.parametrize("stored", [True, False], ids=["stored plan", "plan decided on the call"])
def test_shown_groups_are_the_plans_released_groups_of_every_offered_cut(demo_con, stored):
    # the configured threshold's plan is stored at import; another one is decided on the call
    threshold = settings().anonymity_threshold if stored else settings().anonymity_threshold + 3
    n_stored = demo_con.execute("SELECT count(*) FROM release_survey WHERE threshold = ?", [threshold])
    assert (n_stored.fetchone()[0] > 0) == stored
    plan = privacy.plan(demo_con, threshold)
    last = int(plan.wave_id.max())
    for by in privacy.RELEASE_ORDER:
        got = privacy.shown_groups(demo_con, by, threshold)
        assert list(got.columns) == ["wave_id", *by]
        assert _shown(got) == _plan_shown(plan, by), by
        assert _shown(privacy.shown_groups(demo_con, by, threshold, [last])) == {
            k for k in _plan_shown(plan, by) if k[0] == last}, by
    teams = _shown(privacy.shown_groups(demo_con, ("team",), threshold, [last]))
    assert 10 < len(teams) < demo_con.execute("SELECT count(*) FROM units").fetchone()[0]
    with pytest.raises(ValueError, match="not offered"):
        privacy.shown_groups(demo_con, ("team", "site"), threshold)


def test_shown_groups_decide_a_wave_whose_stored_plan_is_gone(demo_db, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path)
    try:
        threshold = settings().anonymity_threshold
        plan = privacy.plan(con, threshold)
        con.execute("DELETE FROM release_survey WHERE wave_id = 1")
        privacy._PLAN_MEMO.clear()
        for by in (("team",), ("directorate", "staff_group")):
            assert _shown(privacy.shown_groups(con, by, threshold)) == _plan_shown(plan, by)
        # deciding it stored it again, where the store may be written
        assert con.execute("SELECT count(*) FROM release_survey WHERE wave_id = 1").fetchone()[0] > 0
    finally:
        con.close()


def test_a_stored_plan_reads_back_as_the_frame_the_rule_decides(demo_db, tmp_path):
    # the plan stored at import, read back, is the frame release_plan decides: the same rows,
    # order, values and NA keys (read from a copy with nothing stored). Not the same column
    # types: the stored one's keys are objects and its wave ids 32-bit, as they always were read
    threshold = settings().anonymity_threshold
    stored_path, fresh_path = tmp_path / "stored.duckdb", tmp_path / "fresh.duckdb"
    shutil.copy(demo_db, stored_path)
    shutil.copy(demo_db, fresh_path)
    privacy._PLAN_MEMO.clear()
    con = store.connect(stored_path, read_only=True)
    try:
        waves = [int(w) for (w,) in con.execute("SELECT wave_id FROM waves ORDER BY wave_id").fetchall()]
        read = {w: privacy.plan(con, threshold, [w]) for w in waves}
    finally:
        con.close()
    con = store.connect(fresh_path)
    try:
        con.execute("DELETE FROM release_survey")
        decided = {w: privacy.plan(con, threshold, [w]) for w in waves}
    finally:
        con.close()
    for w in waves:
        assert read[w].team.isna().any() and read[w].staff_group.isna().any()
        plain = [f.astype(object).where(f.notna(), None) for f in (read[w], decided[w])]
        pd.testing.assert_frame_equal(*plain)


# ---- the adversary ------------------------------------------------------------------------------

CUT_COLUMNS = ("directorate", "team", "site", "staff_group")


def _truth() -> pd.DataFrame:
    """Respondent-level truth, straight from the fixture's own tables (not from the store)."""
    people = pd.DataFrame(teams_org.respondents())
    long = pd.concat(
        [
            people.assign(indicator_id="stress", v=people.stress.astype(float)),
            people.assign(indicator_id="hse_peer_support", v=people.peer.astype(float)),
        ]
    )
    return long[["wave_id", "indicator_id", *CUT_COLUMNS, "v"]]


def _collect_shown(con) -> pd.DataFrame:
    """Every survey group figure the Teams page can put on screen, over every choice it offers:
    wave, view, directorate, reference, indicator, team profile, trend and every pair to compare.
    Rows: wave_id, indicator_id, the group's keys, n and value as shown."""
    shown = []
    tree = drilldown.unit_tree(con)
    waves = [int(w) for w in indicators.waves(con).wave_id]
    ind_ids = ["stress", "hse_peer_support"]
    prev = {2: 1, 1: None}

    def add(frame, wave_id, keys, value="value", n="n", **fixed):
        """Record each row's figure; wave_id None takes the row's own wave."""
        for row in frame.to_dict("records"):
            if pd.isna(row[value]):
                continue
            shown.append({
                "wave_id": row["wave_id"] if wave_id is None else wave_id,
                "indicator_id": row["indicator_id"],
                "n": row[n] if n else np.nan,
                "value": row[value],
                **{c: row[c] for c in keys},
                **fixed,
            })

    for wave in waves:
        for view, by in drilldown.VIEWS.items():
            dirs = [None, *sorted(tree.directorate.unique())] if view == "team" else [None]
            for d in dirs:
                for ref in drilldown.REFERENCES:
                    heat = drilldown.heatmap(con, by, wave, T, ref, d)
                    add(heat, wave, by)
                    if ref == "previous" and prev[wave] is not None:
                        add(heat, prev[wave], by, value="reference_value", n=None)
                    elif ref == "organisation":
                        add(heat, wave, (), value="reference_value", n=None)
                over = drilldown.groups_overview(con, by, wave, T, d)
                for row in over[over.reportable.astype(bool)].to_dict("records"):
                    # the largest released n is shown beside the name: it is one indicator's n
                    shown.append({"wave_id": wave, "indicator_id": "*", "n": row["n"], "value": np.nan,
                                  **{c: row[c] for c in by}})
                for ind in ind_ids:
                    points, centre = drilldown.funnel(con, by, wave, ind, T, d)
                    add(points.assign(indicator_id=ind), wave, by)
                    if centre["value"] is not None:
                        shown.append({"wave_id": wave, "indicator_id": ind, "n": centre["n"],
                                      "value": centre["value"]})
        for uid, team, directorate in zip(tree.unit_id, tree.team, tree.directorate, strict=True):
            prof = drilldown.team_profile(con, int(uid), wave, T)
            if not prof["reportable"]:
                continue
            ind = prof["indicators"]
            ind = ind[ind.indicator_id.isin(ind_ids)]
            add(ind, wave, (), team=team)
            add(ind, wave, (), value="directorate_value", n="directorate_n", directorate=directorate)
            add(ind, wave, (), value="organisation_value", n="organisation_n")
            if prev[wave] is not None:
                add(ind, prev[wave], (), value="previous", n=None, team=team)
            add(drilldown.team_trend(con, int(uid), T), None, (), team=team)
        reportable = drilldown.reportable_teams(con, wave, T)
        ids = dict(zip(tree.team, tree.unit_id, strict=True))
        for a, b in itertools.combinations(reportable, 2):
            # compare shows 0-10 domain scores, each a function of one team's released figures
            _, left_out = drilldown.compare(con, [ids[a], ids[b]], wave, T)
            assert not left_out
    return pd.DataFrame(shown)


def _members(truth: pd.DataFrame, row) -> pd.Series:
    mask = (truth.wave_id == row["wave_id"])
    if row["indicator_id"] != "*":
        mask &= truth.indicator_id == row["indicator_id"]
    for c in CUT_COLUMNS:
        if c in row and isinstance(row[c], str):
            mask &= truth[c] == row[c]
    return mask


def _small_subsets(sizes: dict, threshold: int):
    """Every non-empty set of cells with fewer than `threshold` respondents in total."""
    small = sorted((c for c, n in sizes.items() if n < threshold), key=str)

    def grow(start, chosen, total):
        for i in range(start, len(small)):
            n = sizes[small[i]]
            if total + n < threshold:
                yield [*chosen, small[i]]
                yield from grow(i + 1, [*chosen, small[i]], total + n)

    yield from grow(0, [], 0)


def _derivable_small_groups(shown: pd.DataFrame, truth: pd.DataFrame, threshold: int) -> list:
    """Sets of cells (team x staff group) below the threshold whose total some combination of the
    shown figures gives exactly: their indicator vector lies in the span of the shown groups'."""
    leaks = []
    for (wave, ind), people in truth.groupby(["wave_id", "indicator_id"]):
        cells = people.groupby(["team", "staff_group"]).size()
        index = {c: i for i, c in enumerate(cells.index)}
        rows = []
        mine = shown[(shown.wave_id == wave) & shown.indicator_id.isin([ind, "*"])]
        for _, row in mine.iterrows():
            members = people[_members(people, row)]
            vec = np.zeros(len(index))
            for key in members.groupby(["team", "staff_group"]).size().index:
                vec[index[key]] = 1
            rows.append(vec)
        if not rows:
            continue
        matrix = np.unique(np.array(rows), axis=0)
        rank = np.linalg.matrix_rank(matrix)
        for subset in _small_subsets(cells.to_dict(), threshold):
            target = np.zeros(len(index))
            target[[index[c] for c in subset]] = 1
            if np.linalg.matrix_rank(np.vstack([matrix, target])) == rank:
                leaks.append((wave, ind, subset))
    return leaks


@pytest.fixture(scope="module")
def shown(con):
    return _collect_shown(con)


@pytest.mark.xdist_group("privacy_shown")  # one worker collects what is shown
def test_every_shown_figure_is_right_and_at_or_above_the_threshold(shown):
    truth = _truth()
    assert len(shown) > 100
    for _, row in shown.iterrows():
        members = truth[_members(truth, row)]
        if row["indicator_id"] == "*":
            assert len(members) >= T
            continue
        assert len(members) >= T, row.to_dict()
        if pd.notna(row["n"]):
            assert row["n"] == len(members), row.to_dict()
        assert row["value"] == pytest.approx(members.v.mean()), row.to_dict()


@pytest.mark.xdist_group("privacy_shown")  # one worker collects what is shown
def test_no_small_group_can_be_derived_from_everything_the_page_shows(shown):
    assert _derivable_small_groups(shown, _truth(), T) == []


def test_the_adversary_catches_per_table_suppression(con):
    """The audit can fail: suppressing each table on its own (primary plus sibling rule) leaks."""
    truth = _truth()
    naive = []
    for wave in (1, 2):
        for by in privacy.RELEASE_ORDER:
            res = indicators.survey_results(con, by=by, wave_ids=[wave],
                                            indicator_ids=["stress", "hse_peer_support"])
            res = privacy.normalise_keys(res, by)
            out = privacy.suppress(res, by, T)
            for row in out[~out.suppressed].itertuples():
                naive.append({"wave_id": wave, "indicator_id": row.indicator_id, "n": row.n,
                              "value": row.value, **{c: getattr(row, c) for c in by}})
    leaks = _derivable_small_groups(pd.DataFrame(naive), truth, T)
    # e.g. Clinic's 5 admin staff = (North x Admin) - Corporate
    assert any(("Clinic", "Admin") in subset for _, _, subset in leaks)


def test_every_cut_the_page_offers_is_in_the_release_order():
    offered = {privacy.cut_name(by) for by in drilldown.VIEWS.values()} | {"organisation"}
    assert offered <= {privacy.cut_name(by) for by in privacy.RELEASE_ORDER}
    for by in privacy.RELEASE_ORDER:
        groups.validate(by)


def _null_space_leaks(cells: pd.DataFrame, rows: list[dict]) -> list[tuple[int, ...]]:
    """Cells, and pairs of cells, below the threshold whose total the shown groups determine: a
    set is derivable exactly when its indicator vector is orthogonal to their null space."""
    matrix = np.array([
        np.all([(cells[c] == v).to_numpy() for c, v in r.items()] or [np.ones(len(cells), bool)], axis=0)
        for r in rows
    ], dtype=float)
    _, sing, vt = np.linalg.svd(np.unique(matrix, axis=0))
    null = vt[int((sing > 1e-9).sum()):].T          # one row per cell
    n = cells.n.to_numpy()
    small = np.flatnonzero(n < T)
    leaks = [(i,) for i in small if np.linalg.norm(null[i]) <= 1e-8]
    leaks += [(i, j) for i, j in itertools.combinations(small, 2)
              if n[i] + n[j] < T and np.linalg.norm(null[i] + null[j]) <= 1e-8]
    return leaks


def test_demo_no_small_cell_or_pair_of_cells_can_be_derived(demo_con):
    """The demo organisation (latest wave, stress): every figure of every view and directorate."""
    wave = int(indicators.waves(demo_con).wave_id.iloc[-1])
    cells = demo_con.execute(
        """
        SELECT u.team, coalesce(r.staff_group, 'Not recorded') AS staff_group,
               coalesce(u.directorate, 'Not recorded') AS directorate,
               coalesce(u.site, 'Not recorded') AS site, count(*) AS n
        FROM respondent_scores AS s JOIN responses AS r USING (response_id) JOIN units AS u USING (unit_id)
        WHERE s.indicator_id = 'stress' AND r.wave_id = ?
        GROUP BY ALL ORDER BY ALL
        """,
        [wave],
    ).df()
    tree = drilldown.unit_tree(demo_con)
    rows: list[dict] = [{}]   # the organisation
    for view, by in drilldown.VIEWS.items():
        for d in [None, *sorted(tree.directorate.unique())] if view == "team" else [None]:
            heat = drilldown.heatmap(demo_con, by, wave, T, "organisation", d, ["stress"])
            shown = heat[~heat.suppressed]
            assert (shown.n >= T).all()
            rows += [{c: r[c] for c in by} for r in shown.to_dict("records")]
    assert _null_space_leaks(cells, rows) == []
    # the same audit on per-table suppression finds cells it gives away
    naive: list[dict] = []
    for by in privacy.RELEASE_ORDER:
        res = privacy.normalise_keys(
            indicators.survey_results(demo_con, by=by, wave_ids=[wave], indicator_ids=["stress"]), by
        )
        out = privacy.suppress(res, by, T)
        naive += [{c: r[c] for c in by} for r in out[~out.suppressed].to_dict("records")]
    assert _null_space_leaks(cells, naive)


def _reference_plan(n, codes, threshold, last=None):
    """The rule written plainly (every class recomputed over all cells for every candidate)."""
    cls = np.zeros(len(n), dtype=np.int64)
    k = 1
    out = []
    for i, code in enumerate(codes):
        groups_n = np.bincount(code[code >= 0], weights=n[code >= 0]) if (code >= 0).any() else np.zeros(0)
        released = np.zeros(len(groups_n), dtype=bool)
        late = last[i] if last is not None and last[i] is not None else np.zeros(len(groups_n), bool)
        for g in np.lexsort((-groups_n, late)):
            if groups_n[g] < threshold:
                continue
            mask = code == g
            total = np.bincount(cls, weights=n, minlength=k)
            inside = np.bincount(cls[mask], weights=n[mask], minlength=k)
            touched = inside > 0
            rest = total[touched] - inside[touched]
            if np.all(inside[touched] >= threshold) and np.all((rest == 0) | (rest >= threshold)):
                released[g] = True
                cls = np.unique(cls * 2 + mask, return_inverse=True)[1].astype(np.int64)
                k = int(cls.max()) + 1
        out.append(released)
    return out


def test_incremental_plan_matches_the_plain_rule_on_random_cells():
    rng = np.random.default_rng(3)
    for _ in range(60):
        k = int(rng.integers(4, 40))
        n = rng.integers(0, 25, size=k).astype(float)
        codes = [np.zeros(k, dtype=np.int64), rng.integers(0, 4, size=k), np.arange(k),
                 np.where(rng.random(k) < 0.2, -1, rng.integers(0, 3, size=k))]
        last = [None, None, rng.random(k) < 0.3, None]
        for threshold in (3, 10):
            for lst in (None, last):
                fast = privacy._plan_one(n, codes, threshold, lst)
                plain = _reference_plan(n, codes, threshold, lst)
                assert all(np.array_equal(a, b) for a, b in zip(fast, plain, strict=True))


def test_incremental_plan_matches_the_plain_rule_on_the_demo(demo_con, monkeypatch):
    fast = privacy.release_plan(privacy.cells(demo_con), 10)
    monkeypatch.setattr(privacy, "_plan_one", _reference_plan)
    plain = privacy.release_plan(privacy.cells(demo_con), 10)
    assert fast.equals(plain)
    assert 0 < fast.released.sum() < len(fast)


def test_a_plan_over_many_waves_and_indicators_is_each_part_decided_alone():
    # release_plan numbers groups once over every wave and indicator and restricts that numbering
    # to each part; deciding each part on its own frame (its own numbering) must give the same rows,
    # also with rows out of order, missing directorates and sites, and parts with different cells
    rng = np.random.default_rng(11)
    for trial in range(12):
        units = int(rng.integers(3, 16))
        dirs = rng.choice(["A", "B", None], units)
        sites = rng.choice(["North", "South", "East", None], units)
        # team names shared by several units (a name clash across directorates) among them
        rows = [dict(wave_id=w, indicator_id=i, unit_id=u, directorate=dirs[u], team=f"T{u % 6}",
                     site=sites[u], staff_group=g, n=int(rng.integers(1, 16)))
                for w in (1, 2) for i in ("x", "y", "z") for u in range(units)
                for g in ("Nursing", "Medical", "", None) if rng.random() < 0.6]
        frame = pd.DataFrame(rows).sample(frac=1, random_state=trial).reset_index(drop=True)
        frame["staff_group"] = frame["staff_group"].astype(object)
        whole = privacy.release_plan(frame, T)
        alone = pd.concat([privacy.release_plan(part, T)
                           for _, part in frame.groupby(["wave_id", "indicator_id"], sort=True)],
                          ignore_index=True)
        pd.testing.assert_frame_equal(whole, alone, check_exact=True)
        assert 0 < whole.released.sum() < len(whole)
    # two indicators with the same counts in the same order but in other cells: plans are shared
    # only between parts with the same cells, not the same counts
    x = _cells([(1, "D", "A", "S", "N", 12), (2, "D", "B", "S", "N", 4), (3, "E", "C", "S", "N", 30)])
    y = _cells([(1, "D", "A", "S", "N", 12), (3, "E", "C", "S", "N", 4), (2, "D", "B", "S", "N", 30)])
    y = y.assign(indicator_id="y")
    whole = privacy.release_plan(pd.concat([x, y], ignore_index=True), T)
    alone = pd.concat([privacy.release_plan(x, T), privacy.release_plan(y, T)], ignore_index=True)
    pd.testing.assert_frame_equal(whole, alone, check_exact=True)


def test_a_plan_for_a_few_indicators_reads_their_stored_rows_as_the_whole_plan_holds_them(demo_db, tmp_path):
    """plan() for a few indicators reads only their rows of the stored plan: the rows of the
    whole wave's plan, in its order, whether remembered, stored, or (a threshold never stored)
    decided now; an indicator with no rows gives none."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path)
    try:
        waves = [int(w) for (w,) in con.execute("SELECT wave_id FROM waves ORDER BY wave_id").fetchall()]
        for threshold in (10, 7):     # 10 is stored at import; 7 is decided on the first read
            for ids in (["stress"], ["hse_control", "stress"], ["no_such_indicator"]):
                privacy._PLAN_MEMO.clear()
                some = privacy.plan(con, threshold, waves, ids)
                again = privacy.plan(con, threshold, waves, ids)       # from memory
                privacy._PLAN_MEMO.clear()
                whole = privacy.plan(con, threshold, waves)
                expected = whole[whole.indicator_id.isin(ids)].reset_index(drop=True)
                assert (len(expected) > 0) == (ids[0] != "no_such_indicator")
                # types aside: a plan decided now and one read back differ in their wave ids'
                # width and NA keys (see the test above), and the first read at 7 decides
                for got in (some, again):
                    pd.testing.assert_frame_equal(_plain(got), _plain(expected), check_exact=True)
    finally:
        privacy._PLAN_MEMO.clear()
        con.close()


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)
