"""Each wave's fieldwork-period absence is stored with the release: the stored frames are the
computed ones, exactly, at the configured threshold and any other, on writable and read-only
stores, and on a store made before the table existed."""
from __future__ import annotations

import shutil

import pytest
from pandas.testing import assert_frame_equal

from dashboard import periods, store
from dashboard.config import settings
from dashboard.metrics import team_absence
from tests import teams_org


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
