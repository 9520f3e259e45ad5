"""Derived tables: spells per assignment (hand-worked), unit x month, survey cells, and refresh
inside the import transaction and on undo."""
from __future__ import annotations

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
