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


NUMERIC = UPLOADS / "survey_numeric_codes.csv"
WLB = "Q6c. I achieve a good balance between my work life and my home life"


def _count(env, sql):
    con = store.connect(env)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_cli_numeric_codes_question_then_recode_and_custom_flags(env, capsys, tmp_path):
    code, out = _run(["--kind", "survey", str(NUMERIC)], capsys)
    assert code == 1 and f"QUESTION: Column '{WLB}' is mapped to q6c" in out
    assert f"--recode '{WLB}:VALUE=LABEL'" in out and "REFUSED: the store was not changed" in out
    recodes = tmp_path / "recodes.csv"
    recodes.write_text(
        "column,value,label\n" + "".join(
            f'"{WLB}",{v},{lab}\n'
            for v, lab in [("1", "Strongly disagree"), ("2", "Disagree"), ("3", "Agree")]
        ),
        encoding="utf-8",
    )
    args = [
        "--kind", "survey", str(NUMERIC), "--recode-file", str(recodes),
        "--recode", f"{WLB}:4=Strongly agree",
        "--custom", "Fatigue (0-10)=High fatigue;personal_health;low;>=7",
    ]
    code, out = _run(args, capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert "  mapping used (column -> field):" in lines
    assert "    'Ward' -> team" in lines
    assert "    'Fatigue (0-10)' -> custom indicator 'High fatigue'" in lines
    assert f"    '{WLB}' -> q6c" in lines
    assert (
        f"  recode '{WLB}': 1 = Strongly disagree, 2 = Disagree, 3 = Agree, 4 = Strongly agree" in lines
    )
    assert (
        "  custom indicator from 'Fatigue (0-10)': 7 or more (counts): 9, below the rule: 16, (no answer): 1"
        in lines
    )
    assert "IMPORTED as import #1" in out
    assert _count(env, "SELECT count(*) FROM custom_answers") == 25


def test_cli_wave_dates_and_the_pairing_of_rates_with_bases(env, capsys):
    path = str(UPLOADS / "survey_aggregate_waves_bases.csv")
    code, out = _run(["--kind", "survey_aggregate", path], capsys)
    assert code == 1 and "--wave-date '2021=YYYY-MM-DD'" in out
    dates = [f"--wave-date={y}={y}-10-01" for y in (2021, 2022, 2023, 2024)]
    code, out = _run(["--kind", "survey_aggregate", path, *dates], capsys)
    assert code == 0, out
    assert "    'stress_rate' (Stress) with base 'stress_base' (its own)" in out.splitlines()
    assert "  wave '2023': fielded on 2023-10-01 (date given)" in out.splitlines()
    assert _count(env, "SELECT count(DISTINCT fielded_on) FROM waves") == 4
    # The same rows again from another file: nothing new, refused, no log entry.
    code, out = _run(["--kind", "survey_aggregate", path, "--map", "team=Team", "--user", "again"], capsys)
    assert code == 1 and "This exact file was already imported" in out


def test_cli_zero_rows_ready_is_refused_without_a_log_entry(env, capsys, tmp_path):
    f = tmp_path / "noteams.csv"
    f.write_text("Employee Number,Team,Start Date\nE1,,2024-01-02\nE2,-,2024-01-03\n", encoding="utf-8")
    code, out = _run(["--kind", "absence", str(f)], capsys)
    assert code == 1, out
    assert "ERROR: Nothing to import: 0 rows are ready." in out and "IMPORTED" not in out
    assert _count(env, "SELECT count(*) FROM imports") == 0


@pytest.mark.parametrize(
    ("flag", "text"),
    [
        (["--map", "team"], "--map 'team': expected FIELD=COLUMN"),
        (["--recode", "WLB=Agree"], "--recode 'WLB=Agree': expected COLUMN:VALUE=LABEL"),
        (["--custom", "F=High;personal_health;low"], "expected COLUMN=NAME;DOMAIN;low|high;>=N"),
        (["--map", "team=Nowhere"], "There is no column 'Nowhere' in this file"),
        (["--recode", "Fatigue (0-10):7=Agree"], "that column is not mapped to a question; map it first"),
    ],
)
def test_cli_bad_flags_are_refused_with_the_expected_form(env, capsys, flag, text):
    code, out = _run(["--kind", "survey", str(NUMERIC), *flag], capsys)
    assert code == 1 and text in out
