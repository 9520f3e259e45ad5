"""The stored absence release reads back exactly the release decided from the staff counts."""
from __future__ import annotations

import shutil

from dashboard import store
from dashboard.privacy import release


def _rows(con, threshold: int) -> int:
    return con.execute("SELECT count(*) FROM release_absence WHERE threshold = ?", [threshold]).fetchone()[0]


def test_stored_release_reads_back_what_the_class_rule_decides(demo_db, tmp_path):
    # the first method: the release stored at import, read back from a copy of the demo store
    stored_path, fresh_path = tmp_path / "stored.duckdb", tmp_path / "fresh.duckdb"
    shutil.copyfile(demo_db, stored_path)
    shutil.copyfile(demo_db, fresh_path)
    con = store.connect(stored_path, read_only=True)
    try:
        rows = _rows(con, 10)                      # filled at import for the configured threshold
        stored, _ = release.absence_plan(con, 10)
    finally:
        con.close()
    # the second: the same store with nothing stored, so the class rule decides afresh
    con = store.connect(fresh_path)
    try:
        con.execute("DELETE FROM release_absence")
        decided, _ = release.absence_plan(con, 10)
        assert _rows(con, 10) == rows              # and what it decided is stored again
    finally:
        con.close()
    assert rows > 0 and stored and stored == decided
    # the read keeps every stored row: as many groups as rows, no two months' sets merged
    assert sum(len(groups) for groups in stored.values()) == rows
    assert all(isinstance(u, int) for groups in stored.values() for g in groups for u in g)


def test_a_threshold_with_nothing_stored_is_decided_and_a_read_only_store_stays_unchanged(demo_con):
    assert _rows(demo_con, 999) == 0
    decided, weights = release.absence_plan(demo_con, 999)
    # decided afresh, by the rule: every group released in a month has 999 staff counted there
    staff = {(m, int(u)): float(n) for u, m, n in zip(weights.unit_id, weights.month, weights.n, strict=True)}
    assert decided
    for month, groups in decided.items():
        for group in groups:
            assert sum(staff.get((month, u), 0.0) for u in group) >= 999
    assert not any(len(group) == 1 for groups in decided.values() for group in groups)
    assert _rows(demo_con, 999) == 0                # a read-only store: nothing written
