"""Derived tables: spells per assignment (hand-worked), unit x month, survey cells, and refresh
inside the import transaction and on undo."""
from __future__ import annotations

import json
from datetime import date

import pytest

from dashboard import periods, store
from dashboard.ingest import load, pipeline
from dashboard.metrics import absence, indicators
from dashboard.store import derived
from tests import tiny_org
from tests.ingest.conftest import UPLOADS

UNITS = [(1, "Ward A", "Medicine", "North"), (2, "Ward B", "Medicine", "North")]
JAN, FEB = date(2024, 1, 1), date(2024, 2, 1)


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "d.duckdb")
    c.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", UNITS)
    c.executemany("INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)",
                  [(u, m, 12, 10.0) for u in (1, 2) for m in (JAN, FEB)])
    yield c
    c.close()


def _episodes(con, rows):
    """rows: (episode_id, employee, unit, start, end, fte, reason)."""
    con.executemany(
        "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date, fte,"
        " reason_code) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _lost(con, start, end, by=("team",)):
    frame = absence.team_period(con, start, end, by)
    return dict(zip(frame.team, frame.fte_days_lost, strict=True)) if by else frame.fte_days_lost.iloc[0]


def test_fte_and_team_change_part_way_splits_the_spell(con):
    # 1.0 FTE in Ward A from 1 Jan; from 16 Jan a new record: 0.5 FTE in Ward B, off until 29 Feb.
    _episodes(con, [(1, "e1", 1, JAN, date(2024, 1, 31), 1.0, "S10"),
                    (2, "e1", 2, date(2024, 1, 16), date(2024, 2, 29), 0.5, "S12")])
    # by hand: Ward A 1-15 Jan at 1.0 = 15; Ward B 16-31 Jan at 0.5 = 8, Feb 29 x 0.5 = 14.5
    assert _lost(con, JAN, date(2024, 1, 31)) == {"Ward A": 15.0, "Ward B": 8.0}
    assert _lost(con, FEB, date(2024, 2, 29)) == {"Ward A": 0.0, "Ward B": 14.5}
    assert _lost(con, JAN, date(2024, 2, 29), ()) == 37.5
    # one spell of 60 days: long-term, counted once, where it started
    q = absence.episode_quality(con)
    assert (q["spells"], q["duplicates_merged"]) == (1, 1)
    pat = absence.patterns(con, JAN, date(2024, 2, 29), threshold=1, by=("team",))
    assert pat.set_index("team").loc["Ward A", "spells_long"] == 1
    assert pat.set_index("team").loc["Ward B", ["spells_short", "spells_long"]].sum() == 0
    # the reason follows the assignment: S10 days in Ward A, S12 days in Ward B
    reasons = absence.reasons(con, JAN, date(2024, 2, 29), threshold=1, by=("team",))
    assert set(zip(reasons.team, reasons.reason_code, reasons.fte_days_lost, strict=True)) == {
        ("Ward A", "S10", 15.0), ("Ward B", "S12", 22.5)}


def test_two_concurrent_half_time_assignments_add_up(con):
    _episodes(con, [(1, "e2", 1, JAN, date(2024, 1, 31), 0.5, "S10"),
                    (2, "e2", 2, JAN, date(2024, 1, 31), 0.5, "S10")])
    assert _lost(con, JAN, date(2024, 1, 31), ()) == 31.0     # not 15.5
    assert _lost(con, JAN, date(2024, 1, 31)) == {"Ward A": 15.5, "Ward B": 15.5}
    assert absence.episode_quality(con)["spells"] == 1
    # Bradford counts the person's days once: one spell of 31 days
    summary, _ = absence.bradford(con, date(2024, 1, 31), threshold=1)
    assert summary["median"].iloc[0] == 31.0


def test_identical_records_count_once_and_a_later_record_takes_over(con):
    _episodes(con, [(1, "e3", 1, JAN, date(2024, 1, 10), 1.0, "S10"),
                    (2, "e3", 1, JAN, date(2024, 1, 10), 1.0, "S10"),
                    (3, "e3", 1, date(2024, 1, 6), date(2024, 1, 8), 0.6, "S10")])
    # 1-5 Jan at 1.0 (5); 6-8 Jan the later record at 0.6 (1.8); 9-10 Jan back to 1.0 (2)
    assert _lost(con, JAN, date(2024, 1, 31), ()) == pytest.approx(8.8)
    spells = con.execute("SELECT count(DISTINCT spell_id), count(*) FROM absence_spells").fetchone()
    assert spells == (1, 3)


@pytest.mark.parametrize(("days", "long"), [(27, 0), (28, 1), (29, 1)])
def test_long_term_is_28_calendar_days_or_more(con, days, long):
    end = date(2024, 1, days)
    _episodes(con, [(1, "e4", 1, JAN, end, 1.0, "S10")])
    pat = absence.patterns(con, JAN, date(2024, 1, 31), threshold=1, long_term_days=28).iloc[0]
    assert (pat.spells_long, pat.spells_short) == (long, 1 - long)


def test_unit_month_table_matches_the_period_query(con):
    _episodes(con, [(1, "e1", 1, date(2024, 1, 20), date(2024, 2, 10), 1.0, "S10"),
                    (2, "e5", 2, date(2024, 2, 3), None, 0.8, "S13")])
    derived.ensure(con)
    rows = con.execute("SELECT unit_id, month, lost, available FROM absence_unit_month"
                       " WHERE day_count = 'calendar' ORDER BY unit_id, month").fetchall()
    # Ward A: 12 days in Jan, 10 in Feb; Ward B: open from 3 Feb to the end of the data (29 Feb)
    assert rows == [(1, JAN, 12.0, 310.0), (1, FEB, 10.0, 290.0), (2, JAN, 0.0, 310.0),
                    (2, FEB, pytest.approx(27 * 0.8), 290.0)]
    # whole months read the derived table; a partial period splits the derived spells
    assert _lost(con, JAN, date(2024, 2, 29)) == {"Ward A": 22.0, "Ward B": pytest.approx(21.6)}
    assert _lost(con, date(2024, 1, 25), date(2024, 2, 5), ()) == pytest.approx(7 + 5 + 3 * 0.8)


def test_a_figure_checks_only_the_families_it_reads(con):
    derived.ensure(con)
    # episodes written outside an import: the absence tables are stale, the survey's are not
    _episodes(con, [(1, "e1", 1, JAN, date(2024, 1, 10), 1.0, "S10")])
    stale = derived._meta(con, "derived_absence")
    derived.ensure(con, "survey")
    assert derived._meta(con, "derived_absence") == stale

    @derived.reads(only="survey")
    def survey_figure(c):
        # an absence figure called inside a survey-only figure still checks the absence tables
        return _lost(c, JAN, date(2024, 1, 31))

    assert survey_figure(con) == {"Ward A": 10.0, "Ward B": 0.0}
    assert derived._meta(con, "derived_absence") != stale
    with pytest.raises(ValueError, match="unknown family"):
        derived.reads(only="answers")


@pytest.mark.parametrize("store_kind", ["demo", "small"])
def test_signatures_read_as_text_equal_the_ones_stored_as_python_values(store_kind, request):
    """The check reads each signature value as text (one UNION ALL branch each); stores keep the
    text Python wrote from one row of values. Both must agree, or every store made before would
    be seen as stale (and refused when opened read-only)."""
    c = request.getfixturevalue("demo_con" if store_kind == "demo" else "con")
    for family, (key, expressions) in derived.FAMILIES.items():
        as_python = json.dumps([str(v) for v in c.execute("SELECT " + ", ".join(expressions)).fetchone()])
        assert derived._signature(c, expressions) == as_python, family
        if store_kind == "demo":
            assert derived._meta(c, key) == as_python
    if store_kind == "demo":
        assert derived._stale(c, list(derived.FAMILIES)) == []


def test_a_refresh_checks_the_derived_tables_once_and_stores_the_release_it_would_decide(tmp_path,
                                                                                       signature_checks):
    from dashboard.metrics import team_absence
    from dashboard.privacy import release
    from tests import teams_org

    con = teams_org.build(tmp_path / "t.duckdb")  # survey and staff in post, no absence yet
    checks = signature_checks
    checks.clear()   # building the organisation checked too
    teams_org.add_absence(con)   # its episodes, in a transaction that bumps the version
    # the import's refresh checks both families once; storing the release after it checks nothing
    assert checks == [["absence", "survey"]]
    # outside the refresh a figure still checks (and finds what the import stored current)
    released, weights = release.absence_plan(con, 10)
    assert checks == [["absence", "survey"], ["absence"]]
    assert len(weights) > 0
    # what the import stored is what the rule decides now, from nothing stored
    stored = con.execute("SELECT * FROM release_absence ORDER BY ALL").fetchall()
    assert stored
    con.execute("DELETE FROM release_absence")
    release._MEMO.clear()
    team_absence._MEMO.clear()
    again, _ = release.absence_plan(con, 10, store=True)
    assert again == released
    assert con.execute("SELECT * FROM release_absence ORDER BY ALL").fetchall() == stored
    con.close()


def test_survey_cells_hold_n_sum_and_sum_of_squares(tmp_path):
    con = tiny_org.build(tmp_path / "t.duckdb", with_aggregate=True)
    cells = con.execute("SELECT wave_id, unit_id, staff_group, respondent, n, sum_v, sum_v2 FROM survey_cells"
                        " WHERE indicator_id = 'stress' ORDER BY ALL").fetchall()
    # wave 1: Ward A Nursing answers 1, 1 (n 2); Medical 0 (n 1); Ward B Nursing 0, 0; Clinic C
    # pre-aggregated 50% of 20 (no spread); wave 2: Ward A Nursing 1; Clinic C Admin 1
    assert cells == [
        (1, 1, "Medical", True, 1, 0.0, 0.0), (1, 1, "Nursing", True, 2, 2.0, 2.0),
        (1, 2, "Nursing", True, 2, 0.0, 0.0), (1, 3, None, False, 20, 10.0, None),
        (2, 1, "Nursing", True, 1, 1.0, 1.0), (2, 3, "Admin", True, 1, 1.0, 1.0)]
    # every survey figure rolls up from them: the same as from respondent scores
    org = indicators.survey_results(con, indicator_ids=["stress"], wave_ids=[1])
    assert org.n.iloc[0] == 25 and org.value.iloc[0] == pytest.approx(12 / 25)
    con.close()


def test_derived_tables_follow_import_rollback_and_undo(tmp_path, monkeypatch):
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "key"))
    con = store.connect(tmp_path / "i.duckdb")
    _raw, prepared = pipeline.prepare(con, UPLOADS / "absence_utf16.txt", "absence")
    import_id = pipeline.commit(con, prepared, user="t")
    pieces = con.execute("SELECT count(*) FROM absence_spells").fetchone()[0]
    months = con.execute("SELECT count(*) FROM absence_unit_month").fetchone()[0]
    assert pieces > 0 and months > 0
    # refreshed inside the import's transaction: nothing left to do afterwards
    assert derived.refresh(con) == []
    load.undo(con, import_id)
    assert con.execute("SELECT count(*) FROM absence_spells").fetchone()[0] == 0
    assert derived.refresh(con) == []
    con.close()


def test_release_is_stored_at_import_and_redecided_when_the_structure_changes(tmp_path):
    from dashboard import privacy
    from dashboard.privacy import release
    from tests import teams_org

    con = teams_org.build(tmp_path / "r.duckdb")
    teams_org.add_absence(con)
    stored = privacy._stored(con, 10, 2)
    fresh = privacy.release_plan(privacy.cells(con, [2]), 10)
    key = ["indicator_id", "cut", "directorate", "team", "site", "staff_group"]
    pd_equal = stored.sort_values(key).reset_index(drop=True)[["n", "released"]]
    assert pd_equal.equals(fresh.sort_values(key).reset_index(drop=True)[["n", "released"]])
    assert con.execute("SELECT count(*) FROM release_absence WHERE threshold = 10").fetchone()[0] > 0
    ward_c = frozenset({teams_org.TEAM_ID["Ward C"]})
    months = periods.months_of(date(2025, 1, 1), date(2025, 1, 31))
    assert not release.release(con, 10, [(ward_c, months)])[0]
    # a structure change moves Ward B to Corporate: the release is decided again
    with store.transaction(con):
        con.execute("UPDATE units SET directorate = 'Corporate' WHERE team = 'Ward B'")
        store.bump_version(con)
    assert privacy._stored(con, 10, 2) is not None
    medicine = con.execute("SELECT list(unit_id ORDER BY unit_id) FROM units WHERE directorate = 'Medicine'"
                           ).fetchone()[0]
    # Medicine is now Ward A (25) and Ward C (6): Ward A alone would give Ward C away
    ward_a = frozenset({teams_org.TEAM_ID["Ward A"]})
    assert release.release(con, 10, [(frozenset(medicine), months)])[0]
    assert not release.release(con, 10, [(ward_a, months)])[0]
    con.close()


def test_an_import_re_decides_only_the_waves_whose_cells_changed(tmp_path):
    from dashboard import privacy
    from tests import teams_org

    con = teams_org.build(tmp_path / "w.duckdb")
    key = ["indicator_id", "cut", "directorate", "team", "site", "staff_group"]

    def plan(wave: int):
        return privacy._stored(con, 10, wave).sort_values(key).reset_index(drop=True)

    wave1, wave2 = plan(1), plan(2)
    # mark wave 1's stored plan, then change wave 2 only: wave 1's plan is kept as stored
    con.execute("UPDATE release_survey SET n = n + 1000 WHERE wave_id = 1 AND threshold = 10")
    with store.transaction(con):
        con.execute("DELETE FROM answers WHERE response_id = (SELECT max(response_id) FROM responses"
                    " WHERE wave_id = 2)")
        store.refresh_scores(con)
        store.bump_version(con)
    assert (plan(1).n == wave1.n + 1000).all()
    fresh = privacy.release_plan(privacy.cells(con, [2]), 10).sort_values(key).reset_index(drop=True)
    assert plan(2)[["n", "released"]].equals(fresh[["n", "released"]])
    assert not plan(2)[["n"]].equals(wave2[["n"]])
    # a structure change re-decides every wave
    with store.transaction(con):
        con.execute("UPDATE units SET site = 'South' WHERE team = 'HR'")
        store.bump_version(con)
    fresh1 = privacy.release_plan(privacy.cells(con, [1]), 10).sort_values(key).reset_index(drop=True)
    assert (plan(1).n < 1000).all() and plan(1)[["n", "released"]].equals(fresh1[["n", "released"]])
    con.close()


def test_wave_absence_is_stored_at_import_and_rebuilt_after_absence_survey_and_undo(tmp_path, monkeypatch):
    from pandas.testing import assert_frame_equal

    from dashboard.metrics import team_absence

    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "key"))
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    con = store.connect(tmp_path / "w.duckdb")

    def imported(name: str, text: str, kind: str, **kw) -> int:
        (tmp_path / name).write_text(text, encoding="utf-8")
        _raw, prepared = pipeline.prepare(con, tmp_path / name, kind, **kw)
        assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
        return pipeline.commit(con, prepared, user="t")

    def stored() -> dict[int, tuple]:
        waves = periods.waves(con)
        return {int(w): team_absence._stored(con, 10, int(w), f)
                for w, f in zip(waves.wave_id, waves.fielded_on, strict=True)}

    def check(only: int | None = None) -> dict[int, tuple]:
        found = stored()
        for wave_id, frames in found.items():
            assert frames is not None, wave_id
            if only is not None and wave_id != only:
                continue
            for got, wanted in zip(frames, team_absence.compute_wave_release(con, wave_id, 10), strict=True):
                for cut in team_absence.CUTS:
                    assert_frame_equal(got[cut], wanted[cut], check_exact=True)
        return found

    teams = ("Ward 7", "Theatres", "Clinic")
    months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    imported("sip.csv", "Team,Month,Headcount,FTE\n" + "".join(
        f"{t},{m},{h},{h - 2}\n" for t, h in zip(teams, (20, 30, 6), strict=True) for m in months),
        "staff_in_post")
    imported("pulse.csv", "Ward,Q11c\n" + "Ward 7,Yes\nTheatres,No\n" * 6, "survey",
             wave="Pulse 2024", fielded_on="2024-06-15")
    absence = imported("absence.csv", "Employee,Team,Start,End,Reason\n"
                       "E1,Ward 7,2023-09-01,2023-09-20,S10\nE2,Theatres,2024-02-10,2024-03-05,S12\n"
                       "E3,Clinic,2024-01-03,2024-01-09,S10\n", "absence")
    first = stored()
    org = first[1][0]["organisation"]
    assert not org.suppressed.iloc[0]
    # 20 + 25 (10 Feb - 5 Mar 2024, a leap year) + 7 days, each 1 FTE, in the 12 months to 15 June 2024
    assert org.fte_days_lost.iloc[0] == pytest.approx(20 + 25 + 7)
    assert first[1][0]["team"].set_index("team").suppressed["Clinic"]   # 6 in post

    # an absence import rebuilds every wave's frames (a marked row is gone)
    con.execute("UPDATE release_absence_wave SET headcount = -1 WHERE NOT suppressed")
    more = imported("absence2.csv", "Employee,Team,Start,End,Reason\nE4,Ward 7,2024-04-01,2024-04-10,S11\n",
                    "absence")
    assert con.execute("SELECT count(*) FROM release_absence_wave WHERE headcount = -1").fetchone()[0] == 0
    second = check()
    assert second[1][0]["organisation"].fte_days_lost.iloc[0] == pytest.approx(
        org.fte_days_lost.iloc[0] + 10)

    # a new survey wave adds its frames and keeps the other wave's (absence unchanged)
    con.execute("UPDATE release_absence_wave SET headcount = -1 WHERE NOT suppressed AND wave_id = 1")
    survey = imported("pulse2.csv", "Ward,Q11c\n" + "Ward 7,No\nTheatres,Yes\n" * 6, "survey",
                      wave="Pulse 2025", fielded_on="2025-01-15")
    assert len(check(only=2)) == 2
    kept = con.execute("SELECT count(*) FROM release_absence_wave WHERE wave_id = 1 AND headcount = -1")
    assert kept.fetchone()[0] > 0
    con.execute("UPDATE release_absence_wave SET headcount = -1 WHERE NOT suppressed AND wave_id = 2")
    load.undo(con, more)            # undoing the absence import rebuilds: marked rows fixed again
    assert con.execute("SELECT count(*) FROM release_absence_wave WHERE headcount < 0").fetchone()[0] == 0
    assert stored()[1][0]["organisation"].fte_days_lost.iloc[0] == org.fte_days_lost.iloc[0]
    load.undo(con, survey)          # the wave goes, and its rows with it
    assert set(stored()) == {1}
    assert con.execute("SELECT DISTINCT wave_id FROM release_absence_wave").fetchall() == [(1,)]
    load.undo(con, absence)
    check()
    assert derived.refresh(con) == []
    con.close()


def _absence_units(con) -> set[int]:
    return {u for (u,) in con.execute("SELECT unit_id FROM absence_units").fetchall()}


def _reopened_before(con, version: int):
    """Close con's store as one that never ran migration `version`, and open it for writing
    again (which runs it)."""
    store.set_meta(con, "migrations", ",".join(str(v) for v in sorted(store.MIGRATIONS) if v != version))
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                       ).fetchone()[0]
    con.close()
    return store.connect(path)


def test_absence_units_follow_the_records_and_a_migrated_store_fills_them(con, tmp_path):
    # an episode whose end is before its start makes no spell, and an episode covered by a
    # later-starting one in another unit makes no piece: its unit still has absence records
    _episodes(con, [(1, "e1", 1, date(2024, 1, 10), date(2024, 1, 5), 1.0, "S10"),
                    (2, "e2", 1, date(2024, 1, 10), date(2024, 1, 12), 1.0, "S10"),
                    (3, "e2", 2, date(2024, 1, 11), date(2024, 1, 11), 1.0, "S12")])
    derived.ensure(con, "absence")
    assert _absence_units(con) == {1, 2}
    con.execute("DELETE FROM absence_episodes WHERE unit_id = 2")
    con.execute("INSERT INTO absence_monthly (unit_id, month, reason_code, fte_days_lost, fte_days_available)"
                " VALUES (2, DATE '2024-02-01', 'S10', 3.0, 200.0)")
    derived.ensure(con, "absence")
    assert _absence_units(con) == {1, 2}
    con.execute("DELETE FROM absence_monthly")
    derived.ensure(con, "absence")
    assert _absence_units(con) == {1}
    # a store made before migration 9: opening it for writing builds the table from the records
    con.execute("DROP TABLE absence_units")
    again = _reopened_before(con, 9)
    try:
        assert _absence_units(again) == {1}
        assert store.schema_version(again) == store.SCHEMA_VERSION >= 9
    finally:
        again.close()


def test_the_register_status_is_the_same_from_the_stored_units_and_the_records(demo_db, tmp_path):
    import shutil

    from dashboard.framework import interventions

    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    con = store.connect(path)
    try:
        stored = interventions.list_interventions(con, as_of=date(2025, 12, 31))
        assert set(stored.status) >= {"evaluated"}
        assert _absence_units(con) == {u for (u,) in con.execute(derived.UNITS_SQL).fetchall()}
        con.execute("DROP TABLE absence_units")    # as a store not yet migrated reads it
        from_records = interventions.list_interventions(con, as_of=date(2025, 12, 31))
        assert stored.astype(str).equals(from_records.astype(str))
    finally:
        con.close()


def test_episode_quality_is_kept_by_the_refresh_and_a_migrated_store_fills_it(con):
    _episodes(con, [(1, "e1", 1, date(2024, 1, 10), date(2024, 1, 5), 1.0, "S10"),     # invalid
                    (2, "e2", 1, date(2024, 1, 10), date(2024, 1, 12), 1.0, "S10"),
                    (3, "e2", 2, date(2024, 1, 11), date(2024, 1, 11), 1.0, "S12"),    # merged
                    (4, "e3", 2, date(2024, 1, 20), None, 0.6, "S11")])                  # open
    derived.ensure(con, "absence")
    # records, spells, duplicates merged, invalid dropped, open: by hand
    assert json.loads(store.get_meta(con, derived.QUALITY_KEY)) == [4, 2, 1, 1, 1]
    # a store made before migration 11: opening it for writing works the counts out
    con.execute("DELETE FROM meta WHERE key = ?", [derived.QUALITY_KEY])
    again = _reopened_before(con, 11)
    try:
        assert json.loads(store.get_meta(again, derived.QUALITY_KEY)) == [4, 2, 1, 1, 1]
        assert store.schema_version(again) == store.SCHEMA_VERSION >= 11
    finally:
        again.close()
