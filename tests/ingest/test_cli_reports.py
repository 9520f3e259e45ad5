"""`python -m dashboard import` on each fixture: the mapping it used, the header row, the exact outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import __main__ as cli_main
from dashboard import store
from tests.ingest.conftest import UPLOADS

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(capsys, *args):
    code = cli_main.main(["import", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "kind", "extra", "code", "expected"),
    [
        (
            "staff_in_post_title_rows.csv", "staff_in_post", [], 0,
            [
                "  read as: CSV, UTF-8, comma-separated, column names on row 3 (detected)",
                "  mapping used (column -> field):",
                "    'Organisation' -> team",
                "    'Month' -> month",
                "    'Headcount' -> headcount",
                "    'FTE' -> fte",
            ],
        ),
        (
            "absence_esr_organisation.csv", "absence", [], 0,
            [
                "    'Assignment Number' -> employee_id",
                "    'Organisation' -> team",
                "    'Absence Start Date' -> start_date",
                "    'Absence End Date' -> end_date",
                "    'FTE Days Lost' -> days_lost",
                "    'FTE' -> fte",
                "    'Absence Reason' -> reason",
                "    'Staff Group' -> staff_group",
                "    'Org L4' -> directorate",
                "  cannot show yet: absence rates need staff in post (FTE) for the same teams and months: "
                "import it next (Data page, 'Staff in post'), or import monthly totals that include FTE days "
                "available",
            ],
        ),
        (
            "absence_hours.csv", "absence_monthly", [], 1,
            [
                "    'Cost Centre' -> team",
                "    'Period' -> month",
                "    'FTE Hours Lost' -> fte_days_lost",
                "    'FTE Hours Available' -> fte_days_available",
                "QUESTION: Durations are in hours, not days, in column(s) 'FTE Hours Lost', 'FTE Hours "
                "Available'. How many hours make one FTE day (for example 7.5)? Answer on the page, or with "
                "--hours-per-day.",
                "REFUSED: the store was not changed",
            ],
        ),
        (
            "absence_hours.csv", "absence_monthly", ["--hours-per-day", "7.5"], 0,
            [
                "  note: 'FTE Hours Lost' is in hours: divided by 7.5 hours per FTE day.",
                "  note: 'FTE Hours Available' is in hours: divided by 7.5 hours per FTE day.",
                "    'FTE Hours Lost' -> fte_days_lost",
            ],
        ),
        (
            "absence_no_dates.csv", "absence", [], 1,
            [
                "    'Employee Number' -> employee_id",
                "    'Team' -> team",
                "    'Absence Reason' -> reason",
                "    'Days Lost' -> days_lost",
                "ERROR: This file has no dates: absence episodes need the date each absence started (a "
                "column such as 'Absence Start Date'), and none of its columns holds dates. If it gives days "
                "lost per team and month, import it as 'Monthly absence totals' instead.",
            ],
        ),
        (
            "corner_cell.xlsx", "absence", [], 1,
            [
                "  mapping used: none (the file was not read)",
                "ERROR: Sheet 'Data' of 'corner_cell.xlsx' spans 16,384 columns (A1:XFD1048576); the limit "
                "is 2,000 columns. Delete stray cells far to the right, or save the data as CSV.",
            ],
        ),
        (
            "zip_bomb.xlsx", "staff_in_post", [], 1,
            [
                "  mapping used: none (the file was not read)",
                "ERROR: 'zip_bomb.xlsx' is packed 1,017 times smaller than its contents (part "
                "'xl/worksheets/sheet1.xml' unpacks from 40 KB to 40 MB); the limit is 100 times. A real "
                "export is never packed this tightly, so the file was not opened.",
            ],
        ),
    ],
)
def test_cli_prints_the_mapping_and_outcome(env, capsys, name, kind, extra, code, expected):
    got, out = _run(capsys, "--kind", kind, str(UPLOADS / name), "--dry-run", *extra)
    lines = out.splitlines()
    assert got == code, out
    missing = [line for line in expected if line not in lines]
    assert not missing, out


def test_cli_header_row_override_is_stated_and_used(env, capsys):
    code, out = _run(
        capsys, "--kind", "staff_in_post", str(UPLOADS / "staff_in_post_title_rows.csv"), "--header-row", "1"
    )
    assert code == 1
    assert "column names on row 1 (as chosen; detected: row 3)" in out
    assert "  rows read: 5; rows ready to import: 0" in out  # rows 2-7 under row 1, the blank one dropped
    assert (
        "ERROR: Required column(s) not mapped: Month. Choose which column holds each one "
        "(on the page, or with --map month=COLUMN)." in out
    )
    code, out = _run(
        capsys, "--kind", "staff_in_post", str(UPLOADS / "staff_in_post_title_rows.csv"), "--header-row", "3"
    )
    assert code == 0 and "column names on row 3 (detected)" in out and "IMPORTED as import #1" in out
    con = store.connect(env)
    assert con.execute("SELECT sum(headcount), sum(fte) FROM staff_in_post").fetchall() == [(64, 54.0)]
    con.close()


def test_the_real_command_line_refuses_a_hostile_file(env):
    # A separate process, as cron would run it: the same report, exit 1, nothing written.
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "import", "--kind", "absence", str(UPLOADS / "corner_cell.xlsx")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=120, check=False,
    )
    assert proc.returncode == 1
    assert "spans 16,384 columns (A1:XFD1048576)" in proc.stdout
    assert proc.stdout.rstrip().endswith("REFUSED: the store was not changed")
