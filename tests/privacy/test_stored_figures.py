"""The survey figures stored with the release read back as the frames worked out from the cells
and the plan, stay current through every change of data, and never hold a withheld figure."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dashboard import privacy, store
from dashboard.config import settings
from dashboard.metrics import drilldown
from dashboard.store import derived, query

T = 10
CUTS = list(privacy.RELEASE_ORDER)


def _both(con, threshold, wave_ids=None, indicator_ids=None, cuts=CUTS):
    stored = privacy._stored_figures(con, [tuple(c) for c in cuts], threshold, wave_ids, indicator_ids)
    worked = privacy._worked_out(con, [tuple(c) for c in cuts], threshold, wave_ids, indicator_ids)
    return stored, worked


def _assert_same(con, threshold, wave_ids=None, indicator_ids=None, cuts=CUTS):
    stored, worked = _both(con, threshold, wave_ids, indicator_ids, cuts)
    assert stored is not None, "nothing stored"
    for by, a, b in zip(cuts, stored, worked, strict=True):
        pd.testing.assert_frame_equal(a, b, obj=f"{by} waves={wave_ids} indicators={indicator_ids}")


def _waves(con):
    return [int(w) for (w,) in con.execute("SELECT wave_id FROM waves ORDER BY wave_id").fetchall()]


def test_demo_figures_read_back_as_worked_out_for_every_cut_wave_and_indicator_subset(demo_con):
    threshold = settings().anonymity_threshold
    waves = _waves(demo_con)
    inds = [i for (i,) in demo_con.execute(
        "SELECT DISTINCT indicator_id FROM survey_cells ORDER BY 1").fetchall()]
    for wave_ids in (None, [waves[-1]], waves[:2], [waves[-1], waves[0]]):
        for indicator_ids in (None, ["stress"], inds[:3], ["stress", "no_such_indicator"]):
            _assert_same(demo_con, threshold, wave_ids, indicator_ids)
    # one cut asked twice, and cuts in another order, read as worked out too
    _assert_same(demo_con, threshold, [waves[-1]], None, [("team",), (), ("team",)])
    _assert_same(demo_con, threshold, None, ["stress"], [("site", "staff_group"), ("directorate",)])


def test_the_pages_read_the_stored_figures_not_the_cells(demo_con):
    wave = _waves(demo_con)[-1]
    threshold = settings().anonymity_threshold
    with query.trace() as ran:
        drilldown.funnel(demo_con, ("team",), wave, "stress", threshold)
        drilldown.heatmap(demo_con, ("directorate",), wave, threshold)
    names = {r.name for r in ran}
    assert "survey.stored_figures" in names
    assert not names & {"survey.results", "survey.results_of", "survey.cells"}, names


def test_another_threshold_is_worked_out_from_the_cells(demo_con):
    other = settings().anonymity_threshold + 3
    wave = _waves(demo_con)[-1]
    assert privacy._stored_figures(demo_con, [("team",)], other, [wave], None) is None
    with query.trace() as ran:
        figs = privacy.survey_figures(demo_con, ("team",), other, [wave])
    assert "survey.stored_figures" in {r.name for r in ran}
    assert "survey.results" in {r.name for r in ran}
    shown = figs[~figs.suppressed]
    assert len(shown) and (shown.n >= other).all()


def test_withheld_figures_are_never_stored(demo_con):
    kept = demo_con.execute(
        "SELECT count(*) FILTER (WHERE suppressed), count(*) FILTER (WHERE suppressed AND"
        " (value IS NOT NULL OR n IS NOT NULL OR sd IS NOT NULL)),"
        " count(*) FILTER (WHERE NOT suppressed AND n < ?) FROM release_survey_figures",
        [settings().anonymity_threshold]).fetchone()
    assert kept[0] > 0 and kept[1:] == (0, 0)


@pytest.fixture
def awkward(tmp_path):
    """Blank and literal "Not recorded" directorates, a blank site, respondents with no staff
    group, a pre-aggregated team (no staff group, no spread), a team in one wave only, and two
    waves fielded in the opposite order of their ids."""
    con = store.connect(tmp_path / "a.duckdb")
    units = [(1, "Ward P", "Medicine", "North"), (2, "Ward Q", None, "North"),
             (3, "Ward R", privacy.NOT_RECORDED, None), (4, "Ward S", "Medicine", "South"),
             (5, "Ward T", "Surgery", "South"), (6, "Ward U", "Surgery", None)]
    # wave -> unit -> [(staff group, respondents)]
    people = {
        1: {1: [("Nursing", 14), (None, 3)], 2: [("Nursing", 4)], 3: [("Admin", 12), ("Nursing", 9)],
            4: [("Medical", 11)], 5: [("Nursing", 6), ("Medical", 6)]},
        2: {1: [("Nursing", 15)], 2: [("Nursing", 5), (None, 2)], 3: [("Admin", 11)],
            4: [("Medical", 3)], 6: [("Admin", 16)]},
    }
    rows, answers, rid = [], [], 0
    for wave, teams in people.items():
        for uid, mix in teams.items():
            for group, count in mix:
                for k in range(count):
                    rid += 1
                    rows.append((rid, wave, uid, group))
                    answers.append((rid, "q11c", (k + uid + wave) % 3 == 0))
                    answers.append((rid, "hse07", 1 + (k * 7 + uid) % 5))
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", units)
        con.execute("INSERT INTO waves (wave_id, label, fielded_on) VALUES"
                    " (1, 'Later', DATE '2025-10-15'), (2, 'Earlier', DATE '2024-10-15')")
        con.executemany("INSERT INTO responses (response_id, wave_id, unit_id, staff_group)"
                        " VALUES (?, ?, ?, ?)", rows)
        con.executemany("INSERT INTO answers VALUES (?, ?, ?)", [(r, q, int(v)) for r, q, v in answers])
        con.execute("INSERT INTO survey_aggregates VALUES (5, 2, 'stress', 0.25, 24, NULL)")
        store.refresh_scores(con)
        store.bump_version(con)
    yield con
    con.close()


def test_an_awkward_organisation_reads_back_as_worked_out(awkward):
    waves = _waves(awkward)
    for wave_ids in (None, [1], [2], [2, 1]):
        for indicator_ids in (None, ["stress"]):
            _assert_same(awkward, T, wave_ids, indicator_ids)
    directorates = privacy.survey_figures(awkward, ("directorate",), T, waves, ["stress"])
    assert directorates.directorate.is_unique is False   # two waves
    labels = set(directorates.directorate)
    assert {privacy.NOT_RECORDED, privacy.UPLOADED_AS.format(value=privacy.NOT_RECORDED)} <= labels
    # the 4- and 7-respondent blank directorate is never shown
    blank = directorates[directorates.directorate == privacy.NOT_RECORDED]
    assert blank.suppressed.all() and blank.n.isna().all()


def _stored_rows(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM release_survey_figures ORDER BY ALL").df()


def test_figures_follow_every_change_of_data(awkward):
    before = _stored_rows(awkward)
    assert len(before)
    plan_1 = privacy._stored(awkward, T, 1)
    # wave 1's answers change but none of its counts (its stored plan is kept), and wave 2
    # loses one respondent: wave 1's figures must move all the same
    with store.transaction(awkward):
        awkward.execute("UPDATE answers SET value = 1 - value WHERE item_id = 'q11c' AND response_id IN"
                        " (SELECT response_id FROM responses WHERE wave_id = 1)")
        gone = awkward.execute("SELECT max(response_id) FROM responses WHERE wave_id = 2").fetchone()[0]
        awkward.execute("DELETE FROM answers WHERE response_id = ?", [gone])
        awkward.execute("DELETE FROM responses WHERE response_id = ?", [gone])
        store.refresh_scores(awkward)
        store.bump_version(awkward)
    pd.testing.assert_frame_equal(privacy._stored(awkward, T, 1), plan_1)
    after = _stored_rows(awkward)
    moved = (after.wave_id == 1) & (after.indicator_id == "stress") & ~after.suppressed
    was = (before.wave_id == 1) & (before.indicator_id == "stress") & ~before.suppressed
    assert moved.sum() == was.sum() > 0
    assert np.allclose(after.loc[moved, "value"].to_numpy(), 1 - before.loc[was, "value"].to_numpy())
    _assert_same(awkward, T)
    # rows written outside an import: the next read brings the derived tables up to date
    awkward.execute("DELETE FROM answers WHERE response_id IN (SELECT response_id FROM responses"
                    " WHERE unit_id = 1 AND wave_id = 2 LIMIT 6)")
    awkward.execute("DELETE FROM responses WHERE response_id NOT IN (SELECT response_id FROM answers)")
    with store.transaction(awkward):
        store.refresh_scores(awkward)
    figs = privacy.survey_figures(awkward, ("team",), T, [2], ["stress"])
    ward_p = figs[figs.team == "Ward P"]
    assert ward_p.suppressed.all()            # 9 respondents left
    _assert_same(awkward, T)
    # a structure change (a team moves site) re-decides and re-stores every wave
    def site_n(site):
        rows = _stored_rows(awkward)
        return rows.loc[(rows.cut == "site") & (rows.site == site), "n"].sum()

    blank_before = site_n(privacy.NOT_RECORDED)
    with store.transaction(awkward):
        awkward.execute("UPDATE units SET site = 'South' WHERE unit_id = 3")
        store.bump_version(awkward)
    _assert_same(awkward, T)
    assert 0 < site_n(privacy.NOT_RECORDED) < blank_before


def test_a_store_made_before_the_table_reads_worked_out_figures_until_migrated(demo_db, tmp_path):
    path = tmp_path / "old.duckdb"
    shutil.copyfile(demo_db, path)
    con = store.connect(path)
    threshold = settings().anonymity_threshold
    wave = _waves(con)[-1]
    expected = privacy._worked_out(con, [("team",)], threshold, [wave], ["stress"])[0]
    con.execute("DROP TABLE release_survey_figures")
    store.set_meta(con, "migrations", ",".join(str(v) for v in sorted(store.MIGRATIONS) if v != 13))
    store.set_meta(con, "schema_version", "12")
    con.close()
    con = store.connect(path, read_only=True)       # as an older app left it: no table
    try:
        assert not derived.has_figures(con)
        pd.testing.assert_frame_equal(
            privacy.survey_figures(con, ("team",), threshold, [wave], ["stress"]), expected)
    finally:
        con.close()
    con = store.connect(path)                         # migration 13 fills it
    try:
        assert con.execute("SELECT count(*) FROM release_survey_figures").fetchone()[0] > 0
        _assert_same(con, threshold, [wave])
    finally:
        con.close()


def test_an_empty_store_stores_nothing_and_reads_empty_frames(tmp_path):
    con = store.connect(tmp_path / "e.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM release_survey_figures").fetchone()[0] == 0
        figs = privacy.survey_figures(con, ("team",), T)
        assert figs.empty and list(figs.columns) == [
            "team", "wave_id", "wave_label", "fielded_on", "indicator_id", "value", "n", "sd", "suppressed"]
        assert privacy.survey_figures_of(con, [], T) == []
        with pytest.raises(ValueError, match="not offered"):
            privacy.survey_figures_of(con, [("team", "site")], T)
    finally:
        con.close()


def test_group_order_is_the_cuts_own_when_waves_are_fielded_out_of_id_order(awkward):
    figs = privacy.survey_figures(awkward, ("team",), T, None, ["stress"])
    # each team's rows together, teams in name order, waves by fieldwork date within a team
    assert list(dict.fromkeys(figs.team)) == sorted(set(figs.team))
    ward_p = figs[figs.team == "Ward P"]
    assert list(ward_p.wave_label) == ["Earlier", "Later"]
    assert np.all(np.diff(ward_p.fielded_on.to_numpy()) > np.timedelta64(0))


def test_migrating_a_store_written_outside_an_import_stores_each_figure_once(tmp_path):
    from tests import teams_org

    path = tmp_path / "stale.duckdb"
    con = teams_org.build(path)
    con.execute("DROP TABLE release_survey_figures")
    store.set_meta(con, "migrations", ",".join(str(v) for v in sorted(store.MIGRATIONS) if v != 13))
    store.set_meta(con, "schema_version", "12")
    # a respondent removed by a script: the derived tables no longer match their sources
    gone = con.execute("SELECT max(response_id) FROM responses WHERE wave_id = 2").fetchone()[0]
    con.execute("DELETE FROM answers WHERE response_id = ?", [gone])
    con.execute("DELETE FROM respondent_scores WHERE response_id = ?", [gone])
    con.execute("DELETE FROM responses WHERE response_id = ?", [gone])
    con.close()
    con = store.connect(path)   # migration 13 brings the cells up to date, then stores
    try:
        assert derived._stale(con, ["survey"]) == []
        key = "threshold, cut, directorate, team, site, staff_group, wave_id, indicator_id"
        rows, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM release_survey_figures").fetchone()
        assert rows == distinct > 0
        _assert_same(con, T)
    finally:
        con.close()
