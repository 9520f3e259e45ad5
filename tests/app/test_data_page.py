"""AppTest of the Data page: upload -> mapping -> preview -> commit, questions, refusals, undo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import pipeline
from dashboard.ingest.validate import render_text
from dashboard.ui import data_page
from tests import signin

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "pages" / "data.py"
UPLOADS = ROOT / "tests" / "fixtures" / "uploads"


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.setattr(data_page, "UPLOAD_DIR", tmp_path / "uploads")  # keep test uploads in tmp
    store.connect(db).close()
    signin.add_user(db, "dana", "admin")
    return db


def _count(db, sql):
    con = store.connect(db)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def _page():
    at = signin.sign_in(AppTest.from_file(str(PAGE), default_timeout=60).run(), "dana")
    assert not at.exception, at.exception
    return at


def _upload(at, name, kind, mime="text/csv"):
    at.selectbox(key="data_kind").select(kind).run()
    at.file_uploader[0].set_value((name, (UPLOADS / name).read_bytes(), mime)).run()
    assert not at.exception, at.exception
    return at


def _report_text(at) -> str:
    return next(c.value for c in at.code if c.value.startswith("Import of"))


def _shown(markdown: str) -> str:
    """What a person reads: report messages are Markdown-escaped (they quote the file's text)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_upload_preview_commit_and_undo(env):
    at = _upload(_page(), "absence_semicolon_bom_crlf.csv", "absence")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "8", "Rows ready to import": "6", "Problems listed": "2"}
    # The page shows exactly the report the command line prints.
    con = store.connect(env)
    _raw, prepared = pipeline.prepare(con, UPLOADS / "absence_semicolon_bom_crlf.csv", "absence")
    con.close()
    assert _report_text(at) == render_text(prepared.report)
    assert _count(env, "SELECT count(*) FROM absence_episodes") == 0  # nothing written by the preview
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM absence_episodes") == 6
    # the import log names the signed-in user; there is no name to type
    assert _count(env, "SELECT user_name FROM imports") == "dana"
    assert not [t for t in at.text_input if t.key == "data_user"]
    assert any("Imported as import #1" in s.value for s in at.success)
    # Undo from the import log.
    at.checkbox(key="data_undo_sure").check().run()
    _button(at, "Undo import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM absence_episodes") == 0
    assert _count(env, "SELECT status FROM imports") == "undone"


def test_ambiguous_dates_are_asked_on_the_page(env):
    at = _upload(_page(), "absence_ambiguous_dates.csv", "absence")
    assert _button(at, "Import").disabled
    assert any("could be day/month/year" in _shown(w.value) for w in at.warning)
    at.radio[0].set_value("day/month/year (UK)").run()
    assert not at.warning and not _button(at, "Import").disabled
    _button(at, "Import").click().run()
    assert _count(env, "SELECT CAST(min(start_date) AS VARCHAR) FROM absence_episodes") == "2024-04-03"


def test_refused_file_changes_nothing(env):
    at = _upload(_page(), "garbage.csv", "absence")
    assert any("not a readable table" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Import"]
    assert _count(env, "SELECT count(*) FROM imports") == 0


def test_user_edits_the_mapping_and_saves_a_profile(env, tmp_path):
    at = _page()
    at.selectbox(key="data_kind").select("absence").run()
    data = b"Person,Where,Off from,Back on\n1,Ward 7,2024-01-02,2024-01-03\n2,Ward 8,2024-01-05,\n"
    at.file_uploader[0].set_value(("odd.csv", data, "text/csv")).run()
    assert any("Required column(s) not mapped: Employee ID, Team" in _shown(e.value) for e in at.error)
    next(s for s in at.selectbox if s.label == "Employee ID *").select("Person").run()
    next(s for s in at.selectbox if s.label == "Team *").select("Where").run()
    assert not at.error
    at.text_input(key="data_profile_name").input("Odd export").run()
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM absence_episodes") == 2
    assert _count(env, "SELECT profile FROM imports") == "Odd export"
    # The next file with the same headers gets the saved mapping without any edit.
    at.selectbox(key="data_kind").select("absence").run()
    at.file_uploader[0].set_value(("odd2.csv", data.replace(b"2024-01", b"2024-02"), "text/csv")).run()
    assert not at.error and not _button(at, "Import").disabled
    assert any("mapping profile 'Odd export' applied" in _shown(c.value) for c in at.caption)


def test_workbook_sheet_choice(env):
    at = _upload(_page(), "survey_nhs.xlsx", "survey", mime="application/vnd.ms-excel")
    sheet = next(s for s in at.selectbox if s.label == "Sheet")
    assert sheet.options == ["Read me", "Responses"] and sheet.value == "Responses"
    assert {m.label: m.value for m in at.metric}["Rows ready to import"] == "8"
    sheet.select("Read me").run()
    assert any("no rows of data" in e.value for e in at.error)


def test_unknown_answer_labels_can_be_given_a_value(env):
    at = _upload(_page(), "survey_hse.csv", "survey")
    assert {m.label: m.value for m in at.metric}["Problems listed"] == "1"
    box = next(t for t in at.text_area if t.label.startswith("Unknown answers"))
    box.input("Sometmes = 3").run()
    assert {m.label: m.value for m in at.metric}["Problems listed"] == "0"
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM answers") == 416


def test_demo_store_must_be_removed_before_an_import(demo_env):
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception
    assert any("demo organisation" in i.value for i in at.info)
    # no upload until the demo is gone; the log and the holdings are always there
    assert [t.label for t in at.tabs] == ["Import log", "What the store holds"]
    assert any("To start with your own data" in m.value for m in at.markdown)
    held = next(d.value for d in at.dataframe if "What" in d.value.columns).set_index("What")
    assert held.loc["Survey responses", "Count"] == _count(demo_env, "SELECT count(*) FROM responses")
    assert held.loc["Teams", "Count"] == _count(demo_env, "SELECT count(*) FROM units")
    remove = at.button(key="data_remove_demo")
    assert remove.disabled
    at.checkbox(key="data_remove_demo_ok").check().run()
    at.button(key="data_remove_demo").click().run()
    assert not at.exception
    assert _count(demo_env, "SELECT count(*) FROM responses") == 0
    # no longer the demo, and nobody can sign in yet: the admin is told how to create the first user
    assert any("python -m dashboard user add" in c.value for c in at.code)
    assert not at.tabs
    signin.add_user(demo_env, "dana", "admin")
    at = signin.sign_in(AppTest.from_file(str(PAGE), default_timeout=60).run(), "dana")
    assert [t.label for t in at.tabs] == ["Upload", "Import log", "What the store holds"]
    # name the organisation for the banner
    at.text_input[0].input("Riverside Community Trust")
    at.button[0].click().run()
    assert _count(demo_env, "SELECT count(*) FROM meta WHERE value = 'Riverside Community Trust'") == 1


WLB = "Q6c. I achieve a good balance between my work life and my home life"


def _checkbox(at, label):
    return next(c for c in at.checkbox if c.label == label)


def test_numeric_codes_are_asked_then_recoded_and_a_custom_indicator_defined(env):
    at = _upload(_page(), "survey_numeric_codes.csv", "survey")
    assert _button(at, "Import").disabled
    assert any("Import is disabled: 1 question(s)" in i.value for i in at.info)
    assert any(f"**{WLB}** → q6c" in m.value for m in at.markdown)
    # The proposal is pre-filled value by value; nothing counts until the user confirms it.
    reads = {s.label: s.value for s in at.selectbox if s.label.endswith("reads as")}
    assert reads == {
        "'1' reads as": "Strongly disagree", "'2' reads as": "Disagree", "'3' reads as": "Agree",
        "'4' reads as": "Strongly agree",
    }
    _checkbox(at, f"Confirm this reading of '{WLB}'").check().run()
    assert not at.warning and not _button(at, "Import").disabled
    # The 0-10 fatigue score becomes a custom indicator with its rule.
    next(m for m in at.multiselect if m.label.startswith("Read other columns")).select("Fatigue (0-10)").run()
    assert next(t for t in at.text_input if t.label == "Indicator name").value == "Fatigue"
    assert next(n for n in at.number_input if n.label == "Value").value == 7.0
    next(t for t in at.text_input if t.label == "Indicator name").input("High fatigue").run()
    _checkbox(at, "Use this custom indicator for 'Fatigue (0-10)' (7 or more counts)").check().run()
    assert not at.exception, at.exception
    text = _report_text(at)
    assert f"  recode '{WLB}': 1 = Strongly disagree, 2 = Disagree, 3 = Agree, 4 = Strongly agree" in text
    assert "  custom indicator from 'Fatigue (0-10)': 7 or more (counts): 9, below the rule: 16" in text
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM custom_indicators WHERE label = 'High fatigue'") == 1
    # (3 or 4) of the 25 answers: the share the Overview then shows, computed from the file.
    assert _count(env, "SELECT count(*) FROM answers WHERE item_id = 'q6c' AND value >= 4") == 13
    con = store.connect(env)
    try:
        name = store.dataset_info(con)["name"]
        assert "Unnamed organisation (latest import #1: survey_numeric_codes.csv" in name
    finally:
        con.close()


def test_changing_a_picker_never_clears_another_mapping(env):
    at = _upload(_page(), "survey_aggregate_waves_bases.csv", "survey_aggregate")

    def pairing():
        return _report_text(at).split("rates and their bases:")[1].split("QUESTION")[0]

    assert "'stress_rate' (Stress) with base 'stress_base'" in pairing()
    assert "'work_life_balance_rate'" in pairing()
    next(s for s in at.selectbox if s.label == "Base (number of responses) *").select("Respondents").run()
    next(s for s in at.selectbox if s.label == "Base of 'stress_rate'").select("Respondents").run()
    assert "'stress_rate' (Stress) with base 'Respondents'" in pairing()
    assert "'work_life_balance_rate' (Work-life balance) with base 'work_life_balance_base'" in pairing()
    # One date per wave, in four boxes; then the file imports.
    boxes = [d for d in at.date_input if d.label.startswith("Wave '")]
    assert [d.label for d in boxes] == ["Wave '2021'", "Wave '2022'", "Wave '2023'", "Wave '2024'"]
    import datetime as dt

    for d, year in zip(boxes, (2021, 2022, 2023, 2024), strict=True):
        d.set_value(dt.date(year, 10, 1)).run()
    assert not _button(at, "Import").disabled
    _button(at, "Import").click().run()
    assert _count(env, "SELECT count(DISTINCT fielded_on) FROM waves") == 4
    wlb_n = _count(env, "SELECT sum(n) FROM survey_aggregates WHERE indicator_id = 'work_life_balance'")
    assert wlb_n == sum(40 + 10 * t + 3 * y - 4 - t for t in range(3) for y in range(4))


def test_no_base_is_explained_and_imported_as_published_figures(env):
    at = _upload(_page(), "survey_aggregate_no_base.csv", "survey_aggregate")
    assert any("no n is" in i.value for i in at.info)
    box = _checkbox(
        at,
        "Import as published organisation-level figures "
        "(n not given: no intervals, not used for team comparisons)",
    )
    box.check().run()
    import datetime as dt

    for d, year in zip([d for d in at.date_input if d.label.startswith("Wave '")], (2023, 2024), strict=True):
        d.set_value(dt.date(year, 10, 15)).run()
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM published_figures") == 6


def test_zero_rows_ready_disables_import_with_the_reason(env):
    at = _page()
    at.selectbox(key="data_kind").select("absence").run()
    data = b"Employee Number,Team,Start Date\nE1,,2024-01-02\nE2,-,2024-01-03\n"
    at.file_uploader[0].set_value(("noteams.csv", data, "text/csv")).run()
    assert any("Nothing to import: 0 rows are ready" in _shown(e.value) for e in at.error)
    assert _button(at, "Import").disabled
    assert any("Import is disabled: 1 error(s) above" in _shown(i.value) for i in at.info)


def test_wide_year_layout_is_confirmed_on_the_page(env):
    import datetime as dt

    at = _upload(_page(), "survey_wide_years.csv", "survey_aggregate")
    _checkbox(at, "One row per measure, one column per year (2021, 2022, 2023, 2024): "
              "read each year column as a survey wave").check().run()
    _checkbox(
        at,
        "Import as published organisation-level figures "
        "(n not given: no intervals, not used for team comparisons)",
    ).check().run()
    boxes = [d for d in at.date_input if d.label.startswith("Wave '")]
    assert [d.label for d in boxes] == ["Wave '2021'", "Wave '2022'", "Wave '2023'", "Wave '2024'"]
    for d, year in zip(boxes, (2021, 2022, 2023, 2024), strict=True):
        d.set_value(dt.date(year, 9, 30)).run()
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM published_figures") == 11  # 3 themes x 4 years, one blank
