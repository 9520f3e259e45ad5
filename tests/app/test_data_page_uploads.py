"""AppTest of the Data page's upload handling: private folder deleted however the import ends,
hostile files refused on the page, header row override, hours question, what the data can show."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import pipeline, uploads
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
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    monkeypatch.setattr(data_page, "UPLOAD_DIR", tmp_path / "uploads")
    store.connect(db).close()
    signin.add_user(db, "dana", "admin")
    return tmp_path


def _held(env) -> list[Path]:
    """The upload folders on disk right now."""
    return sorted((env / "uploads").glob(f"{uploads.PREFIX}*"))


def _upload(name, kind, data=None):
    at = signin.sign_in(AppTest.from_file(str(PAGE), default_timeout=60).run(), "dana")
    at.selectbox(key="data_kind").select(kind).run()
    at.file_uploader[0].set_value((name, data or (UPLOADS / name).read_bytes(), "application/octet-stream"))
    return at.run()


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _count(env, sql):
    con = store.connect(env / "store.duckdb")
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_upload_held_privately_then_deleted_on_success(env):
    at = _upload("staff_in_post_title_rows.csv", "staff_in_post")
    assert not at.exception, at.exception
    (folder,) = _held(env)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == ["upload.csv"]
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert _count(env, "SELECT count(*) FROM staff_in_post") == 4
    assert _held(env) == []


def test_upload_deleted_on_cancel(env):
    at = _upload("staff_in_post_title_rows.csv", "staff_in_post")
    assert len(_held(env)) == 1
    _button(at, "Cancel").click().run()
    assert _held(env) == [] and _count(env, "SELECT count(*) FROM imports") == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("garbage.csv", "not a readable table"),
        ("corner_cell.xlsx", "spans 16,384 columns (A1:XFD1048576); the limit is 2,000 columns"),
        ("zip_bomb.xlsx", "packed 1,017 times smaller than its contents"),
    ],
)
def test_refused_upload_deleted_at_once_and_reason_shown(env, name, reason):
    at = _upload(name, "absence")
    assert not at.exception, at.exception
    assert any(reason in e.value for e in at.error)
    assert any("already been deleted" in c.value for c in at.caption)
    assert _held(env) == []
    at.run()  # a rerun with the same file still shows the refusal, without writing the bytes again
    assert any(reason in e.value for e in at.error) and _held(env) == []
    _button(at, "Upload another file").click().run()
    assert not at.error and _count(env, "SELECT count(*) FROM imports") == 0


def test_upload_deleted_when_the_import_fails_unexpectedly(env, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(pipeline, "validate", broken)
    at = _upload("staff_in_post_title_rows.csv", "staff_in_post")
    assert at.exception  # shown as an error (details redacted by showErrorDetails = "type")
    assert _held(env) == []


def test_upload_deleted_when_the_file_is_removed_from_the_uploader(env):
    at = _upload("staff_in_post_title_rows.csv", "staff_in_post")
    assert len(_held(env)) == 1
    at.file_uploader[0].set_value(None).run()
    assert _held(env) == []


def test_header_row_detected_and_overridden_on_the_page(env):
    at = _upload("staff_in_post_title_rows.csv", "staff_in_post")
    pick = next(s for s in at.selectbox if s.label == "Row holding the column names")
    assert pick.value == 3
    assert pick.format_func(2) == "Row 2: (blank)"
    assert pick.format_func(3) == "Row 3: Organisation | Month | Headcount | FTE"
    assert any("column names on row 3 (detected)" in c.value for c in at.caption)
    pick.select(4).run()
    pick = next(s for s in at.selectbox if s.label == "Row holding the column names")
    assert any("column names on row 4 (as chosen; detected: row 3)" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric}["Rows read"] == "3"
    pick.select(3).run()
    assert {m.label: m.value for m in at.metric}["Rows ready to import"] == "4"


def test_hours_per_fte_day_is_asked_then_used(env):
    at = _upload("absence_hours.csv", "absence_monthly")
    assert any("Durations are in hours, not days" in w.value for w in at.warning)
    assert _button(at, "Import").disabled
    hours = next(n for n in at.number_input if n.label.startswith("Hours in one FTE day"))
    hours.set_value(7.5).run()
    assert not _button(at, "Import").disabled
    _button(at, "Import").click().run()
    assert not at.exception, at.exception
    # Ward 7, January: 90 hours lost / 7.5 = 12 FTE days; 4,650 hours available / 7.5 = 620.
    got = _count(
        env,
        "SELECT list(fte_days_lost || '/' || fte_days_available ORDER BY fte_days_lost) FROM absence_monthly",
    )
    assert got == ["3.0/310.0", "8.0/580.0", "10.0/290.0", "12.0/620.0"]


def test_what_the_data_can_and_cannot_show_before_import(env):
    at = _upload("absence_esr_organisation.csv", "absence")
    text = "\n".join(m.value for m in at.markdown)
    assert "**What this data can show**" in text and "days lost, spells, reasons" in text
    assert any(
        i.value.startswith(
            "Cannot show yet: absence rates need staff in post (FTE) for the same teams and months"
        )
        for i in at.info
    )
