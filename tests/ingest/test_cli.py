"""The CLI runs the page's code path: same report on stdout, exit 0 / 1 / 2, --dry-run writes nothing."""

from __future__ import annotations

import pytest

from dashboard import __main__ as cli_main
from dashboard import store
from dashboard.ingest import pipeline
from dashboard.ingest.validate import render_text
from tests.ingest.conftest import UPLOADS, snapshot


def _run(args, capsys):
    code = cli_main.main(["import", *args])
    return code, capsys.readouterr().out


def test_cli_imports_and_prints_the_same_report_as_the_pipeline(env, capsys):
    con = store.connect(env)
    _raw, prepared = pipeline.prepare(con, UPLOADS / "absence_semicolon_bom_crlf.csv", "absence")
    con.close()
    expected = render_text(prepared.report)
    code, out = _run(
        ["--kind", "absence", str(UPLOADS / "absence_semicolon_bom_crlf.csv"), "--user", "cron"], capsys
    )
    assert code == 0
    assert out.startswith(expected.replace("READY: nothing has been written yet", "IMPORTED as import #1"))
    con = store.connect(env)
    assert con.execute("SELECT count(*) FROM absence_episodes").fetchall()[0][0] == 6
    assert con.execute("SELECT user_name FROM imports").fetchall() == [("cron",)]
    con.close()


def test_cli_dry_run_writes_nothing(env, capsys):
    store.connect(env).close()
    con = store.connect(env)
    before = snapshot(con)
    con.close()
    code, out = _run(["--kind", "absence", str(UPLOADS / "absence_utf16.txt"), "--dry-run"], capsys)
    assert code == 0 and "READY: nothing has been written yet" in out
    con = store.connect(env)
    assert snapshot(con) == before
    con.close()


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--kind", "absence", str(UPLOADS / "garbage.csv")], "ERROR: This file is not a readable table"),
        (["--kind", "absence", str(UPLOADS / "empty.csv")], "is empty (0 bytes)"),
        (["--kind", "absence", str(UPLOADS / "absence_ambiguous_dates.csv")], "QUESTION: Dates in column"),
        (["--kind", "nonsense", str(UPLOADS / "absence_utf16.txt")], "ERROR: unknown kind 'nonsense'"),
    ],
)
def test_cli_refusals_exit_non_zero(env, capsys, args, text):
    code, out = _run(args, capsys)
    assert code == 1 and text in out


def test_cli_day_first_answer_and_sheet(env, capsys):
    code, out = _run(
        ["--kind", "absence", str(UPLOADS / "absence_ambiguous_dates.csv"), "--day-first", "yes"], capsys
    )
    assert code == 0 and "IMPORTED as import #1" in out
    code, out = _run(["--kind", "survey", str(UPLOADS / "survey_nhs.xlsx"), "--sheet", "Responses"], capsys)
    assert code == 0 and "sheet 'Responses'" in out


def test_cli_failure_exit_2_and_rolled_back(env, capsys, monkeypatch):
    from dashboard.ingest import load

    monkeypatch.setattr(load, "_episodes", lambda *a: (_ for _ in ()).throw(RuntimeError("injected")))
    code = cli_main.main(["import", "--kind", "absence", str(UPLOADS / "absence_utf16.txt")])
    captured = capsys.readouterr()
    assert code == 2 and "rolled back" in captured.err
    con = store.connect(env)
    assert con.execute("SELECT count(*) FROM imports").fetchall()[0][0] == 0
    con.close()
