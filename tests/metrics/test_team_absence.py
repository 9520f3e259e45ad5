"""Each wave's fieldwork-period absence is stored with the release: the stored frames (and the
standard scopes' summaries) are the computed ones, exactly, at the configured threshold and any
other, on writable and read-only stores, and on a store made before the table existed."""
from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest
from pandas.testing import assert_frame_equal

from dashboard import periods, privacy, store
from dashboard.config import settings
from dashboard.metrics import team_absence
from tests import teams_org, tiny_org


def _assert_same(got, expected) -> None:
    assert len(got) == len(expected) == 2
    for period, frames, wanted in zip(team_absence.PERIODS, got, expected, strict=True):
        assert set(frames) == set(wanted) == set(team_absence.CUTS), period
        for cut in team_absence.CUTS:
            assert_frame_equal(frames[cut], wanted[cut], check_exact=True, obj=f"{period} {cut}")


def _waves(con) -> list[tuple[int, object]]:
    frame = periods.waves(con)
    return list(zip(frame.wave_id.astype(int), frame.fielded_on, strict=True))


def test_stored_frames_are_the_computed_ones_for_every_wave_on_the_demo(demo_con):
    threshold = settings().anonymity_threshold
    waves = _waves(demo_con)
    assert len(waves) == 3
    for wave_id, fielded in waves:
        stored = team_absence._stored(demo_con, threshold, wave_id, fielded)
        assert stored is not None, "stored at import for the configured threshold"
        computed = team_absence.compute_wave_release(demo_con, wave_id, threshold)
        _assert_same(stored, computed)
        _assert_same(team_absence.wave_release(demo_con, wave_id, threshold), computed)
        # the frames are worth storing: the wave's teams are there, some shown, some withheld
        teams = stored[0]["team"]
        assert len(teams) > 10 and teams.suppressed.any() and not teams.suppressed.all()
        assert teams[teams.suppressed][["rate", "fte_days_lost", "headcount"]].isna().all().all()


def test_an_import_works_out_each_fieldwork_period_once_for_all_waves(tmp_path):
    """Two waves a year apart share a period (the first's 12 months to fieldwork are the second's
    12 months before): an import runs the period's queries once for it, and each wave's stored
    frames and summaries are still the ones worked out for that wave alone."""
    from dashboard.store import query

    con = teams_org.build(tmp_path / "t.duckdb")
    try:
        (w1, f1), (w2, f2) = _waves(con)
        assert periods.fieldwork_periods(f1)[0] == periods.fieldwork_periods(f2)[1]
        with query.trace() as ran:
            teams_org.add_absence(con)
        names = [r.name for r in ran]
        assert names.count("absence.period") == 3 and names.count("absence.period_summaries") == 3
        threshold = settings().anonymity_threshold
        for wave_id, fielded in ((w1, f1), (w2, f2)):
            _assert_same(team_absence._stored(con, threshold, wave_id, fielded),
                         team_absence.compute_wave_release(con, wave_id, threshold))
            keys = list(team_absence.standard_scopes(con))
            assert team_absence._stored_scopes(con, threshold, wave_id, fielded, keys) == \
                team_absence.compute_scope_release(con, wave_id, threshold)
    finally:
        con.close()


def test_another_threshold_is_stored_on_first_use_where_the_store_may_be_written(demo_db, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path)
    try:
        threshold = settings().anonymity_threshold + 5
        wave_id, fielded = _waves(con)[-1]
        assert team_absence._stored(con, threshold, wave_id, fielded) is None
        first = team_absence.wave_release(con, wave_id, threshold)
        stored = team_absence._stored(con, threshold, wave_id, fielded)
        assert stored is not None
        computed = team_absence.compute_wave_release(con, wave_id, threshold)
        _assert_same(stored, computed)
        _assert_same(first, computed)
        # a higher threshold withholds more teams than the configured one
        usual = team_absence.wave_release(con, wave_id, settings().anonymity_threshold)[0]["team"]
        assert stored[0]["team"].suppressed.sum() > usual.suppressed.sum()
        # inside a page's read snapshot nothing is written, and the snapshot stays usable
        other = threshold + 1
        with store.snapshot(con):
            _assert_same(team_absence.wave_release(con, wave_id, other),
                         team_absence.compute_wave_release(con, wave_id, other))
            assert con.execute("SELECT count(*) FROM units").fetchone()[0] > 0
        assert team_absence._stored(con, other, wave_id, fielded) is None
        # a caller changing its frames does not change what the next caller gets
        first[0]["team"]["rate"] = 0.0
        _assert_same(team_absence.wave_release(con, wave_id, threshold), computed)
    finally:
        con.close()


def _delete_rows(con) -> None:
    con.execute("DELETE FROM release_absence_wave")


def _as_before_the_table(con) -> None:
    # as older code left it: no table, and migrations not recorded
    con.execute("DROP TABLE release_absence_wave")
    con.execute("DELETE FROM meta WHERE key = 'migrations'")


@pytest.mark.parametrize(
    ("lose", "stored_on_open"),
    [(_delete_rows, False), (_as_before_the_table, True)],
    ids=["stored rows deleted", "store made before the table"],
)
def test_a_store_without_stored_frames_gives_the_same_frames_and_stores_them(tmp_path, lose, stored_on_open):
    path = tmp_path / "t.duckdb"
    con = teams_org.build(path)
    teams_org.add_absence(con)
    threshold = settings().anonymity_threshold
    expected = {w: team_absence.compute_wave_release(con, w, threshold) for w, _ in _waves(con)}
    lose(con)
    con.close()
    team_absence._MEMO.clear()
    ro = store.connect(path, read_only=True)
    try:
        for wave_id, fielded in _waves(ro):
            _assert_same(team_absence.wave_release(ro, wave_id, threshold), expected[wave_id])
            assert team_absence._stored(ro, threshold, wave_id, fielded) is None
            # Ward C (6 in post) and its cover Ward B are withheld; Ward A is shown
            teams = team_absence.wave_release(ro, wave_id, threshold)[0]["team"].set_index("team")
            assert teams.suppressed["Ward C"] and teams.suppressed["Ward B"]
            assert not teams.suppressed["Ward A"]
    finally:
        ro.close()
    team_absence._MEMO.clear()
    con = store.connect(path)   # a store made before the table: migration 4 runs and stores every wave
    try:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        assert store.get_meta(con, "migrations") == ",".join(str(v) for v in sorted(store.MIGRATIONS))
        for wave_id, fielded in _waves(con):
            assert (team_absence._stored(con, threshold, wave_id, fielded) is not None) == stored_on_open
            # otherwise stored on first use, where the store may be written
            _assert_same(team_absence.wave_release(con, wave_id, threshold), expected[wave_id])
            _assert_same(team_absence._stored(con, threshold, wave_id, fielded), expected[wave_id])
    finally:
        con.close()


def test_is_shown_reads_one_group_of_the_frames(demo_con):
    wave_id = _waves(demo_con)[-1][0]
    now, _before = team_absence.wave_release(demo_con, wave_id, settings().anonymity_threshold)
    teams = now["team"]
    shown, withheld = teams[~teams.suppressed].team.iloc[0], teams[teams.suppressed].team.iloc[0]
    assert team_absence.is_shown(now, "team", shown) and not team_absence.is_shown(now, "team", withheld)
    with pytest.raises(ValueError, match="staff_group"):
        team_absence.is_shown(now, "staff_group", "Nursing")


# --- the standard scopes' absence per wave (release_absence_scope) ------------------------------

def _one_by_one(con, wave_id: int, threshold: int, scopes: dict) -> dict:
    """absence.period_summary of each scope on its own, over the wave's two fieldwork periods."""
    from dashboard.metrics import absence

    (now_s, now_e), (before_s, before_e) = periods.wave_periods(con, wave_id)
    return {name: (absence.period_summary(con, now_s, now_e, units, threshold=threshold),
                   absence.period_summary(con, before_s, before_e, units, threshold=threshold))
            for name, units in scopes.items()}


def _assert_stored(con, threshold: int) -> None:
    """For every wave, the stored summaries of every standard scope are the computed ones."""
    scopes = list(team_absence.standard_scopes(con))
    for wave_id, fielded in _waves(con):
        stored = team_absence._stored_scopes(con, threshold, wave_id, fielded, scopes)
        assert stored == team_absence.compute_scope_release(con, wave_id, threshold), wave_id
        assert set(stored["wave"]) == set(scopes)


def _assert_scopes_stored_and_computed(con, threshold: int, extra: dict | None = None,
                                       latest_only: bool = False) -> None:
    """For every wave (or the latest): the stored summaries are the computed ones, and every
    scope's figures from scope_release are period_summary's for that scope alone, bit for bit."""
    scopes = team_absence.standard_scopes(con)
    asked = {**scopes, **(extra or {})}
    from dashboard.store import derived

    # stored at import for the configured threshold (a store without absence stores none); for
    # another threshold, on first use
    at_import = threshold == settings().anonymity_threshold and not derived._no_absence(con)
    for wave_id, fielded in _waves(con)[-1:] if latest_only else _waves(con):
        before = team_absence._stored_scopes(con, threshold, wave_id, fielded, list(scopes))
        assert (before is not None) == at_import, wave_id
        got = team_absence.scope_release(con, wave_id, threshold, asked)
        assert got == _one_by_one(con, wave_id, threshold, asked)
        stored = team_absence._stored_scopes(con, threshold, wave_id, fielded, list(scopes))
        assert stored == team_absence.compute_scope_release(con, wave_id, threshold)
        assert set(stored["wave"]) == set(scopes)


def test_stored_scope_summaries_are_the_computed_ones_on_the_demo(demo_con):
    threshold = settings().anonymity_threshold
    scopes = team_absence.standard_scopes(demo_con)
    units = [ids for ids in scopes.values() if ids is not None and len(ids) == 1]
    directorates = [ids for ids in scopes.values() if ids is not None and len(ids) > 1]
    assert len(units) > 40 and len(directorates) > 4
    for wave_id, fielded in _waves(demo_con):
        stored = team_absence._stored_scopes(demo_con, threshold, wave_id, fielded, list(scopes))
        assert stored is not None, "stored at import for the configured threshold"
        assert stored == team_absence.compute_scope_release(demo_con, wave_id, threshold)
        # some units shown, some withheld; a withheld scope has no figure at all
        now = stored["wave"]
        assert any(now[team_absence.scope_key(u)]["suppressed"] for u in units)
        assert not all(now[team_absence.scope_key(u)]["suppressed"] for u in units)
        assert all(v is None for s in now.values() if s["suppressed"]
                   for k, v in s.items() if k != "suppressed")
    # one by one for the latest wave: the organisation, two directorates, a few units, other sets
    wave_id = _waves(demo_con)[-1][0]
    asked = {"organisation": None, "d1": directorates[0], "d2": directorates[-1],
             **{f"u{k}": u for k, u in enumerate(units[::9])},
             "pair": [units[0][0], units[1][0]], "across": [units[0][0], *directorates[-1]]}
    got = team_absence.scope_release(demo_con, wave_id, threshold, asked)
    assert got == _one_by_one(demo_con, wave_id, threshold, asked)
    assert got["organisation"][0]["episodes"] > 0 and not got["organisation"][0]["suppressed"]


def _awkward(path):
    """Two teams under a blank directorate and one under a directorate literally named 'Not
    recorded', a team with absence but nobody in post, one in post without absence, one that
    crosses the threshold part-way; overlapping records, an open episode, a spell across two teams."""
    con = store.connect(path)
    units = [(1, "P", "Medicine", "North"), (2, "Q", None, "North"), (3, "R", None, "South"),
             (4, "S", privacy.NOT_RECORDED, "South"), (5, "Ghost", "Medicine", "North"),
             (6, "Quiet", "Medicine", "South"), (7, "Grow", privacy.NOT_RECORDED, "North")]
    months = [periods.add_months(date(2023, 1, 1), k) for k in range(36)]
    size = {1: 30, 2: 6, 3: 14, 4: 25, 6: 12}
    sip = [(u, m, n, n * 0.8) for u, n in size.items() for m in months]
    sip += [(7, m, 4 if m < date(2024, 6, 1) else 16, None) for m in months]   # headcount only
    episodes, eid = [], 0
    for k, m in enumerate(months):
        for u in (1, 2, 3, 4, 5, 7):
            eid += 1
            start = m.replace(day=1 + (u * 5 + k) % 20)
            episodes.append((eid, f"e{u}-{k % 4}", u, start, start + timedelta(days=3 + (u + k) % 40),
                             ("S10", "S12", "S25", "S99")[(u + k) % 4]))
    eid += 1
    episodes.append((eid, "e1-0", 1, date(2024, 3, 2), date(2024, 3, 30), "S10"))      # overlaps
    episodes.append((eid + 1, "mover", 2, date(2024, 9, 20), date(2024, 10, 5), "S11"))
    episodes.append((eid + 2, "mover", 3, date(2024, 10, 1), date(2024, 10, 30), "S11"))  # same spell
    episodes.append((eid + 3, "open", 4, date(2025, 8, 1), None, "S12"))
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", units)
        con.executemany("INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)", sip)
        con.executemany("INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date,"
                        " end_date, reason_code) VALUES (?, ?, ?, ?, ?, ?)", episodes)
        con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)",
                        [(1, "2024", date(2024, 10, 15)), (2, "2025", date(2025, 10, 20))])
        store.bump_version(con)
    return con


@pytest.mark.parametrize("threshold", [None, 12])
def test_stored_scope_summaries_on_an_awkward_organisation(tmp_path, threshold):
    threshold = threshold or settings().anonymity_threshold
    con = _awkward(tmp_path / "a.duckdb")
    try:
        scopes = team_absence.standard_scopes(con)
        # the blank directorate and the literal 'Not recorded' are two scopes
        assert scopes["2,3"] == [2, 3] and scopes["4,7"] == [4, 7]
        # both under one label (the tree's), a team without staff in post, units not in the store
        odd = {"label": [2, 3, 4, 7], "ghost": [5], "none": [99], "mixed": [1, 99]}
        _assert_scopes_stored_and_computed(con, threshold, odd,
                                           latest_only=threshold != settings().anonymity_threshold)
        got = team_absence.scope_release(con, 2, threshold, odd)
        assert got["none"][0]["suppressed"] and got["ghost"][0]["suppressed"]
        assert got["ghost"][0]["fte_days_lost"] is None
    finally:
        con.close()


def test_stored_scope_summaries_on_the_teams_and_tiny_organisations(tmp_path):
    threshold = settings().anonymity_threshold
    # named here: the session's template copies wrap both builds in one module (tests/conftest.py)
    for name, build in (("teams", teams_org.build), ("tiny", tiny_org.build)):
        con = build(tmp_path / f"{name}.duckdb")
        try:
            if name == "teams":
                teams_org.add_absence(con)
            _assert_scopes_stored_and_computed(con, threshold, {"two": [1, 2]})
        finally:
            con.close()


def test_scope_summaries_on_a_read_only_store_and_one_made_before_the_table(tmp_path):
    path = tmp_path / "a.duckdb"
    con = _awkward(path)
    threshold = settings().anonymity_threshold
    scopes = {**team_absence.standard_scopes(con), "odd": [1, 4]}
    expected = {w: team_absence.scope_release(con, w, threshold, scopes) for w, _ in _waves(con)}
    # as the code before migration 5 left a store: no table, migrations 1-4 and 7-8 recorded
    con.execute("DROP TABLE release_absence_scope")
    con.execute("UPDATE meta SET value = '1,2,3,4,7,8' WHERE key = 'migrations'")
    con.close()
    ro = store.connect(path, read_only=True)
    try:
        for wave_id, fielded in _waves(ro):
            assert team_absence._stored_scopes(ro, threshold, wave_id, fielded, ["organisation"]) is None
            assert team_absence.scope_release(ro, wave_id, threshold, scopes) == expected[wave_id]
            assert team_absence.scope_release(ro, wave_id, threshold + 3, {"o": None})["o"] == _one_by_one(
                ro, wave_id, threshold + 3, {"o": None})["o"]
    finally:
        ro.close()
    con = store.connect(path)   # migration 5 creates and fills the table
    try:
        assert store.get_meta(con, "migrations") == ",".join(str(v) for v in sorted(store.MIGRATIONS))
        for wave_id, fielded in _waves(con):
            assert team_absence._stored_scopes(con, threshold, wave_id, fielded, ["organisation"]) is not None
            assert team_absence.scope_release(con, wave_id, threshold, scopes) == expected[wave_id]
    finally:
        con.close()


def test_scope_summaries_are_rebuilt_after_absence_import_new_wave_and_undo(tmp_path, monkeypatch):
    from dashboard.ingest import load, pipeline
    from dashboard.store import derived

    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "key"))
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    con = store.connect(tmp_path / "w.duckdb")

    def imported(name: str, text: str, kind: str, **kw) -> int:
        (tmp_path / name).write_text(text, encoding="utf-8")
        _raw, prepared = pipeline.prepare(con, tmp_path / name, kind, **kw)
        assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
        return pipeline.commit(con, prepared, user="t")

    def org_lost(wave_id: int) -> float:
        fielded = periods.fielded_on(con, wave_id)
        stored = team_absence._stored_scopes(con, 10, wave_id, fielded, [])
        return stored["wave"]["organisation"]["fte_days_lost"]

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
    _assert_stored(con, 10)
    first = org_lost(1)
    assert first == pytest.approx(20 + 25 + 7)
    con.execute("UPDATE release_absence_scope SET episodes = -1")
    more = imported("absence2.csv", "Employee,Team,Start,End,Reason\nE4,Ward 7,2024-04-01,2024-04-10,S11\n",
                    "absence")
    assert con.execute("SELECT count(*) FROM release_absence_scope WHERE episodes = -1").fetchone()[0] == 0
    _assert_stored(con, 10)
    assert org_lost(1) == pytest.approx(first + 10)
    # a new wave adds its summaries and keeps the other wave's
    con.execute("UPDATE release_absence_scope SET episodes = -1 WHERE wave_id = 1")
    survey = imported("pulse2.csv", "Ward,Q11c\n" + "Ward 7,No\nTheatres,Yes\n" * 6, "survey",
                      wave="Pulse 2025", fielded_on="2025-01-15")
    assert con.execute("SELECT count(*) FROM release_absence_scope WHERE wave_id = 2").fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM release_absence_scope WHERE wave_id = 1 AND episodes = -1"
                       ).fetchone()[0] > 0
    load.undo(con, more)   # undoing the absence import rebuilds every wave
    assert con.execute("SELECT count(*) FROM release_absence_scope WHERE episodes = -1").fetchone()[0] == 0
    assert org_lost(1) == first
    _assert_scopes_stored_and_computed(con, 10)   # both waves
    load.undo(con, survey)   # the wave goes, and its rows with it
    assert con.execute("SELECT DISTINCT wave_id FROM release_absence_scope").fetchall() == [(1,)]
    load.undo(con, absence)
    _assert_stored(con, 10)
    assert derived.refresh(con) == []
    con.close()
