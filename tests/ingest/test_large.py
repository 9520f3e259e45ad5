"""A large export with one bad row: DuckDB parses it, the bad row is named, the rest imported.

The suite runs a 25,000-row export; the 100,000-row one is marked slow (`make slow`)."""

from __future__ import annotations

import pytest

from dashboard.ingest import pipeline
from tests.fixtures.uploads.make_fixtures import write_large_absence


@pytest.mark.parametrize("rows, bad_row", [
    (25_000, 22_221),
    pytest.param(100_000, 54_321, marks=pytest.mark.slow),
])
def test_one_bad_row_in_a_large_export(con, tmp_path, rows, bad_row):
    path = tmp_path / "esr_extract.csv"
    write_large_absence(path, rows=rows, bad_row=bad_row)
    _raw, prepared = pipeline.prepare(con, path, "absence")
    report = prepared.report
    assert report.ok and report.rows_read == rows and report.rows_ready == rows - 1
    # Data row n is file row n + 1 (the header is row 1).
    assert report.problems[["row", "value"]].values.tolist() == [[bad_row + 1, "31/02/2024"]]
    assert report.problems["reason"].iloc[0] == "not a date that can be read; row skipped"
    steps = []
    pipeline.commit(con, prepared, user="t", progress=lambda f, m: steps.append(f))
    assert steps[-1] == 1.0 and steps == sorted(steps)
    got = con.execute(
        "SELECT count(*), count(DISTINCT employee_key), count(DISTINCT unit_id) FROM absence_episodes"
    )
    assert got.fetchall() == [(rows - 1, rows - 1, 4)]
    # Reasons S10..S19 cycle with i % 10; the bad row (i % 10 == 1, S11) is the one missing.
    assert bad_row % 10 == 1 and rows % 10 == 0
    s11 = con.execute("SELECT count(*) FROM absence_episodes WHERE reason_code = 'S11'").fetchall()[0][0]
    assert s11 == rows // 10 - 1
