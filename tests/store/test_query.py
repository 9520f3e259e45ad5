"""Named queries: one traced entry point records name, rows and milliseconds."""
from __future__ import annotations

from datetime import date

from dashboard.metrics import absence, drilldown
from dashboard.store import query
from tests import teams_org


def test_run_records_name_rows_and_time(tmp_path):
    con = teams_org.build(tmp_path / "q.duckdb")
    with query.trace() as ran:
        frame = query.run(con, "test.units", "SELECT * FROM units WHERE unit_id <= ?", [3])
        row = query.run_one(con, "test.one", "SELECT count(*) FROM units")
    assert len(frame) == 3 and row == (8,)
    assert [(r.name, r.rows) for r in ran] == [("test.units", 3), ("test.one", 1)]
    assert all(r.ms >= 0 for r in ran)
    assert query.RECENT[-1].name == "test.one"
    con.close()


def test_a_page_worth_of_figures_lists_its_named_queries(tmp_path):
    con = teams_org.build(tmp_path / "p.duckdb")
    teams_org.add_absence(con)
    with query.trace() as ran:
        drilldown.heatmap(con, ("team",), 2, 10)
        absence.monthly_rates(con, date(2025, 1, 1), date(2025, 3, 31), 10)
    names = set(query.summary(ran).name)
    assert {"survey.stored_figures", "team_absence.wave_stored", "absence.monthly"} <= names
    # the release and each wave's absence were decided and stored by the import: the page reads them
    assert "survey.cells" not in names and "absence.period" not in names
    table = query.summary(ran)
    assert list(table.columns) == ["name", "calls", "rows", "ms"]
    assert table.calls.sum() == len(ran)
    con.close()
