"""AppTest of the Data page: upload -> mapping -> preview -> commit, questions, refusals, undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import pipeline
from dashboard.ingest.validate import render_text
from dashboard.ui import data_page

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
    return db


def _count(db, sql):
    con = store.connect(db)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def _page():
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def _upload(at, name, kind, mime="text/csv"):
    at.selectbox(key="data_kind").select(kind).run()
    at.file_uploader[0].set_value((name, (UPLOADS / name).read_bytes(), mime)).run()
    assert not at.exception, at.exception
    return at


def _report_text(at) -> str:
    return next(c.value for c in at.code if c.value.startswith("Import of"))


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
    at.text_input(key="data_user").input("Dana").run()
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM absence_episodes") == 6
    assert _count(env, "SELECT user_name FROM imports") == "Dana"
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
    assert any("could be day/month/year" in w.value for w in at.warning)
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
    assert any("Required column(s) not mapped: Employee ID, Team" in e.value for e in at.error)
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
    assert any("mapping profile 'Odd export' applied" in c.value for c in at.caption)


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
    assert [t.label for t in at.tabs] == ["Upload", "Import log", "What the store holds"]
    # name the organisation for the banner
    at.text_input[0].input("Riverside Community Trust")
    at.button[0].click().run()
    assert _count(demo_env, "SELECT count(*) FROM meta WHERE value = 'Riverside Community Trust'") == 1
