"""A 100,000-row export with one bad row: DuckDB parses it, the bad row is named, the rest imported."""

from __future__ import annotations

import pytest

from dashboard.ingest import pipeline
from tests.fixtures.uploads.make_fixtures import write_large_absence


@pytest.mark.slow
def test_one_bad_row_in_100000(con, tmp_path):
    path = tmp_path / "esr_extract.csv"
    write_large_absence(path, rows=100_000, bad_row=54_321)
    _raw, prepared = pipeline.prepare(con, path, "absence")
    report = prepared.report
    assert report.ok and report.rows_read == 100_000 and report.rows_ready == 99_999
    # Data row 54,321 is file row 54,322 (the header is row 1).
    assert report.problems[["row", "value"]].values.tolist() == [[54_322, "31/02/2024"]]
    assert report.problems["reason"].iloc[0] == "not a date that can be read; row skipped"
    steps = []
    pipeline.commit(con, prepared, user="t", progress=lambda f, m: steps.append(f))
    assert steps[-1] == 1.0 and steps == sorted(steps)
    got = con.execute(
        "SELECT count(*), count(DISTINCT employee_key), count(DISTINCT unit_id) FROM absence_episodes"
    )
    assert got.fetchall() == [(99_999, 99_999, 4)]
    # Reasons S10..S19 cycle with i % 10; the bad row (i = 54321, S11) is the one missing.
    s11 = con.execute("SELECT count(*) FROM absence_episodes WHERE reason_code = 'S11'").fetchall()[0][0]
    assert s11 == 10_000 - 1
