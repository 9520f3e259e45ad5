"""AppTest per role: sign-in, what each role can open, a manager's links refused, admin-only actions
refused on the server, and the audit trail after a scripted session."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.auth import audit
from dashboard.ui import data_page
from tests import expanders, signin, teams_org

ROOT = Path(__file__).resolve().parents[2]
UPLOADS = ROOT / "tests" / "fixtures" / "uploads"
USERS = [("dana", "admin"), ("ana", "analyst"), ("mo", "manager", "Medicine"), ("vi", "viewer")]


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    path = tmp_path_factory.mktemp("roles") / "store.duckdb"
    teams_org.build(path).close()
    for user in USERS:
        signin.add_user(path, *user)
    return path


@pytest.fixture
def env(org, tmp_path, monkeypatch):
    monkeypatch.setenv("WELLBEING_DB", str(org))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)
    return org


def _page(name: str, who: str | None, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return signin.sign_in(at, who) if who else at


def _refused(at) -> bool:
    return any(e.value.startswith("Refused") for e in at.error)


def _trail(db) -> list[tuple]:
    con = store.connect(db)
    try:
        return list(audit.read(con).itertuples(index=False))
    finally:
        con.close()


def test_real_data_needs_sign_in_and_a_wrong_password_is_refused(env):
    at = expanders.open_all(_page("teams", None))  # a table behind an expander would count too
    assert [t.value for t in at.title] == ["Wellbeing Compass"]
    assert not at.dataframe and not at.get("vega_lite_chart") and not at.metric
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    signin.sign_in(at, "ana", "not the password")
    assert any("Wrong user name or password" in e.value for e in at.error)
    assert not at.dataframe
    signin.sign_in(at, "ghost", "whatever it is")
    last = _trail(env)[:2]
    assert [(r.who, r.action) for r in last] == [("unknown account", "sign-in failed"),
                                                ("ana", "sign-in failed")]


def test_a_store_without_users_says_how_to_create_the_first(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    teams_org.build(db).close()
    monkeypatch.setenv("WELLBEING_DB", str(db))
    at = _page("overview", None)
    assert any("python -m dashboard user add" in c.value for c in at.code)
    assert not at.text_input and not at.dataframe


def test_viewer_opens_the_overview_only(env):
    at = _page("overview", "vi")
    assert not at.exception and [t.value for t in at.title] == ["Overview"]
    for page in ("teams", "absence", "interventions", "data", "admin"):
        at = expanders.open_all(_page(page, "vi"))
        assert _refused(at), page
        assert not at.dataframe


def test_analyst_sees_every_figure_page_but_no_admin_action(env):
    for page in ("overview", "teams", "interventions"):
        at = _page(page, "ana")
        assert not at.exception and not _refused(at), page
    at = _page("interventions", "ana", tab="Register")
    assert any("Only an administrator" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key and b.key.startswith("iv_delete")]
    for page in ("data", "admin"):
        assert _refused(_page(page, "ana")), page


def test_manager_sees_only_their_directorate(env):
    at = _page("teams", "mo")
    assert not at.exception, at.exception
    assert at.query_params["dir"] == "Medicine"
    assert at.pills(key="teams_pick_team").options == ["Ward A (n=20)"]
    assert not [s for s in at.selectbox if s.key == "teams_jump"]


@pytest.mark.parametrize("params", [{"dir": "Surgery"}, {"team": "Theatres"},
                                    {"team": "Theatres", "dir": "Medicine"}])
def test_manager_url_tampering_is_refused_and_audited(env, params):
    at = _page("teams", "mo", **params)
    assert not at.exception, at.exception
    assert any("outside your scope" in e.value for e in at.error)
    shown = " ".join(str(x.value) for x in [*at.subheader, *at.caption, *at.markdown])
    expanders.open_all(at)  # and what the page's tables hold, once opened
    assert at.dataframe
    shown += " ".join(d.value.to_csv() for d in at.dataframe)
    assert "Theatres" not in shown and "Surgery" not in shown
    assert at.query_params["dir"] == "Medicine"
    last = _trail(env)
    assert any(r.who == "mo" and r.action == "refused" for r in last[:4])


def test_manager_other_views_are_refused_not_shown(env):
    at = _page("teams", "mo", view="site")
    assert not at.exception
    assert at.query_params.get("view") in (None, "team")  # the cross-cutting views are not theirs
    at = _page("absence", "mo")
    assert not at.exception


def _import_as_dana(db, tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.setattr(data_page, "UPLOAD_DIR", tmp_path / "uploads")
    store.connect(db).close()
    signin.add_user(db, "dana", "admin")
    at = _page("data", "dana")
    at.selectbox(key="data_kind").select("absence").run()
    raw = (UPLOADS / "absence_semicolon_bom_crlf.csv").read_bytes()
    at.file_uploader[0].set_value(("absence_semicolon_bom_crlf.csv", raw, "text/csv")).run()
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception, at.exception
    return at


def test_admin_actions_are_checked_on_every_run_not_only_hidden(tmp_path, monkeypatch):
    """An open admin session whose role is taken away cannot press Undo any more."""
    db = tmp_path / "store.duckdb"
    at = _import_as_dana(db, tmp_path, monkeypatch)
    at.checkbox(key="data_undo_sure").check().run()
    con = store.connect(db)
    con.execute("UPDATE users SET role = 'analyst' WHERE username = 'dana'")
    con.close()
    next(b for b in at.button if b.label == "Undo import").click().run()
    assert _refused(at)
    con = store.connect(db)
    try:
        assert con.execute("SELECT status FROM imports").fetchone()[0] == "active"
        assert con.execute("SELECT count(*) FROM absence_episodes").fetchone()[0] == 6
    finally:
        con.close()


def test_scripted_session_leaves_the_right_audit_trail(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    at = _import_as_dana(db, tmp_path, monkeypatch)
    signin.add_user(db, "ana", "analyst")
    raw = (UPLOADS / "absence_semicolon_bom_crlf.csv").read_bytes()
    at.checkbox(key="data_undo_sure").check().run()
    next(b for b in at.button if b.label == "Undo import").click().run()
    at.text_input[0].input("Riverside <b>Trust</b>")
    next(b for b in at.button if b.label == "Save name").click().run()
    _page("admin", "ana")  # refused
    _page("teams", "ana", dir="Medicine")

    trail = _trail(db)[::-1]  # oldest first
    got = [(r.who, r.action) for r in trail]
    assert got == [
        ("dana", "sign-in"), ("dana", "view"), ("dana", "import"), ("dana", "undo"),
        ("dana", "settings"), ("ana", "sign-in"), ("ana", "refused"), ("ana", "sign-in"),
        ("ana", "view"),
    ], got
    imp = next(r for r in trail if r.action == "import")
    assert re.fullmatch(r"import #1: absence, 6 rows, file sha256 [0-9a-f]{12}", imp.detail)
    view = trail[-1]
    assert view.detail == "teams" and "dir=Medicine" in view.scope
    # no raw identifier (employee numbers) and no file content in the trail
    text = " ".join(str(v) for r in trail for v in r)
    for employee in re.findall(r"E\d{3}", raw.decode("utf-8-sig")):
        assert employee not in text
    assert "S10" not in text and "Anxiety" not in text
