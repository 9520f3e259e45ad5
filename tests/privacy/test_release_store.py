"""The stored absence release reads back exactly the release decided from the staff counts."""
from __future__ import annotations

import pandas as pd

from dashboard.privacy import release
from dashboard.store import query


def test_stored_release_reads_back_what_the_class_rule_decides(demo_con):
    stored = release._stored(demo_con, 10)  # filled at import for the configured threshold
    weights = query.run(demo_con, "test.weights", release._WEIGHTS_SQL)
    weights["month"] = pd.to_datetime(weights["month"]).dt.date
    decided = release._decide(demo_con, weights, 10)  # the second method: decided afresh
    assert stored and stored == decided
    # the read keeps every stored row: as many groups as rows, no two months' sets merged
    rows = demo_con.execute("SELECT count(*) FROM release_absence WHERE threshold = 10").fetchone()[0]
    assert sum(len(groups) for groups in stored.values()) == rows
    assert all(isinstance(u, int) for groups in stored.values() for g in groups for u in g)


def test_nothing_stored_at_another_threshold_reads_empty(demo_con):
    assert release._stored(demo_con, 999) == {}
