"""Stores the derived tables cannot be worked out from as they are: numbers no import accepts
(kept from before uploads refused them), and rows written outside an import while the app runs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import load, pipeline
from dashboard.metrics import absence
from dashboard.store import derived
from tests import signin
from tests.ingest.conftest import UPLOADS

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _import(con, name: str, kind: str) -> int:
    _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind)
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    return pipeline.commit(con, prepared, user="test")


@pytest.fixture(scope="module")
def legacy_store(tmp_path_factory) -> tuple[Path, int, int]:
    """A store with staff in post (import 1) and absence episodes (import 2) whose numbers were
    then made ones no upload is accepted with now, as an earlier version let in (built once)."""
    work = tmp_path_factory.mktemp("legacy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WELLBEING_SECRET", str(work / "secret.key"))
        db = work / "store.duckdb"
        con = store.connect(db)
        staff = _import(con, "staff_in_post_title_rows.csv", "staff_in_post")
        episodes = _import(con, "absence_esr_organisation.csv", "absence")
    for value, end in (("inf", "min"), ("nan", "max")):
        con.execute(f"UPDATE staff_in_post SET fte = '{value}'::DOUBLE "
                    f"WHERE rowid = (SELECT {end}(rowid) FROM staff_in_post)")
    first, second = (r[0] for r in con.execute(
        "SELECT episode_id FROM absence_episodes ORDER BY episode_id LIMIT 2").fetchall())
    con.execute("UPDATE absence_episodes SET days_lost = -1e300 WHERE episode_id = ?", [first])
    # exactly the largest number an upload accepts, and a missing one: neither is refused
    con.execute("UPDATE absence_episodes SET days_lost = 1e12 WHERE episode_id = ?", [second])
    con.close()
    return work, staff, episodes


@pytest.fixture
def legacy(legacy_store, tmp_path, monkeypatch):
    """A copy of that store for one test (with its pseudonymisation key), opened."""
    work, staff, episodes = legacy_store
    shutil.copy(work / "store.duckdb", tmp_path / "store.duckdb")
    shutil.copy(work / "secret.key", tmp_path / "secret.key")
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    con = store.connect(tmp_path / "store.duckdb")
    yield tmp_path / "store.duckdb", con, staff, episodes
    con.close()


def test_numbers_no_import_accepts_are_refused_naming_the_imports_to_undo(legacy):
    db, con, staff, episodes = legacy
    assert derived.bad_numbers(con) == [("staff in post (FTE)", staff, 2),
                                        ("absence episodes (days lost)", episodes, 1)]
    assert derived.bad_numbers(con, ["survey"]) == []
    with pytest.raises(derived.BadNumbers, match=rf"undo imports #{staff}, #{episodes} on the Data page"):
        derived.ensure(con, "absence")
    # another import is refused whole, and nothing of it is kept
    held = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("imports", "absence_episodes")]
    _raw, prepared = pipeline.prepare(con, UPLOADS / "absence_utf16.txt", "absence")
    with pytest.raises(derived.BadNumbers):
        pipeline.commit(con, prepared, user="test")
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("imports", "absence_episodes")] == held
    # undoing one import leaves the other named; undoing both lets every figure be worked out
    load.undo(con, staff)
    with pytest.raises(derived.BadNumbers, match=rf"them: 1 in absence episodes \(days lost\) "
                                                 rf"\(import #{episodes}\)\. .*: undo import #{episodes} on"):
        derived.ensure(con, "absence")
    load.undo(con, episodes)
    derived.ensure(con)
    assert derived.bad_numbers(con) == []
    assert absence.data_range(con) is None


def test_derived_tables_an_earlier_version_made_from_them_are_redone_and_refused(legacy):
    """Tables derived by an earlier version from such numbers match their sources' signature,
    so without migration 12 they would be read (and fail on a decimal cast, or show figures
    made of them) instead of refused with what to undo."""
    db, con, staff, episodes = legacy
    store.set_meta(con, "derived_absence", derived._signature(con, derived._ABSENCE_SIGNATURE))
    assert derived._stale(con, ["absence"]) == []  # as the earlier version left it
    store.set_meta(con, "migrations", ",".join(str(v) for v in sorted(store.MIGRATIONS) if v != 12))
    store.set_meta(con, "schema_version", "11")
    con.close()
    con = store.connect(db)  # migrates to 12
    try:
        assert "12" in store.get_meta(con, "migrations").split(",")
        assert derived._stale(con, ["absence"]) == ["absence"]
        with pytest.raises(derived.BadNumbers, match=rf"#{staff}, #{episodes}"):
            derived.ensure(con, "absence")
    finally:
        con.close()


def test_every_page_says_what_to_undo_and_the_data_page_still_opens(legacy, monkeypatch):
    db, con, staff, episodes = legacy
    con.close()
    monkeypatch.setenv("WELLBEING_DB", str(db))
    signin.add_user(db, "dana", "admin")
    at = signin.sign_in(AppTest.from_file(APP, default_timeout=180).run(), "dana")
    said = {}
    for page in ("overview", "teams", "absence", "interventions", "framework", "meeting"):
        if page != "overview":
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        said[page] = " ".join(e.value.replace("\\", "") for e in at.error)
    # a page that works out absence figures says what to undo (the store holds no survey, so the
    # survey pages have nothing to work out); no page fails or shows another error
    assert f"undo imports #{staff}, #{episodes} on the Data page" in said["absence"]
    assert all(not text or f"#{staff}, #{episodes} on the Data page" in text for text in said.values()), said
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert not at.error  # the import log and its undo are there to use


def test_rows_written_outside_an_import_are_taken_in_by_the_served_app(demo_db, tmp_path, monkeypatch):
    """A script changes staff in post while the app is not running: the first figure the app
    works out brings the derived tables up to date (committed once, for every session), where
    the attempt inside the figure's read snapshot aborted that snapshot. Here the first such
    refresh conflicts with another session's, as two sessions finding them out of date at once
    would (DuckDB: "Conflict on tuple deletion"), and the figure is read again after it."""
    import duckdb

    from dashboard.ui import cache

    db = tmp_path / "store.duckdb"
    shutil.copy(demo_db, db)
    con = store.connect(db)
    con.execute("DELETE FROM staff_in_post WHERE rowid = (SELECT min(rowid) FROM staff_in_post)")
    assert derived._stale(con, ["absence"]) == ["absence"]
    con.close()
    real, refreshes = derived.ensure, []

    def conflicting_once(con, *families):
        if con not in derived.SNAPSHOTS:  # the cache's own refresh, not a figure's check
            refreshes.append(1)
            if len(refreshes) == 1:
                raise duckdb.TransactionException("TransactionContext Error: Conflict on tuple deletion!")
        return real(con, *families)

    monkeypatch.setattr(cache.derived, "ensure", conflicting_once)
    monkeypatch.setattr(cache.time, "sleep", lambda s: None)
    monkeypatch.setenv("WELLBEING_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=180).run()  # the Overview: survey and absence
    assert not at.exception, at.exception
    assert at.get("vega_lite_chart") and len(refreshes) >= 2
    con = store.connect(db)  # as the app's own connection is configured (same process)
    try:
        assert derived._stale(con, ["absence", "survey"]) == []
    finally:
        con.close()


def test_the_sidebar_offers_no_pack_or_report_from_such_a_store_and_says_why(demo_db, tmp_path, monkeypatch):
    """Both files are built from the derived tables when clicked: from a store holding numbers no
    import accepts the click failed in Streamlit's words ("Failed to generate file for
    download"). The sidebar now says what the page says, on every page, and offers neither."""
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    stores = {}
    for name in ("clean", "legacy"):
        stores[name] = tmp_path / name / "store.duckdb"
        stores[name].parent.mkdir()
        shutil.copy(demo_db, stores[name])
    con = store.connect(stores["legacy"])
    con.execute("UPDATE staff_in_post SET fte = 'inf'::DOUBLE "
                "WHERE rowid = (SELECT min(rowid) FROM staff_in_post)")
    (staff,) = con.execute("SELECT DISTINCT import_id FROM staff_in_post").fetchone()
    con.close()

    def sidebar(name: str, page: str = "overview") -> tuple[list[str], str]:
        monkeypatch.setenv("WELLBEING_DB", str(stores[name]))
        at = AppTest.from_file(APP, default_timeout=180).run()
        if page != "overview":
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        return ([b.label for b in at.sidebar.get("download_button")],
                " ".join(w.value.replace("\\", "") for w in at.sidebar.warning))

    assert sidebar("clean") == (["Slide pack (PowerPoint)", "Board report (Word)"], "")
    for page in ("overview", "data"):  # the Data page works out no figure: the sidebar still says
        offered, said = sidebar("legacy", page)
        assert offered == [], page
        assert said.startswith("No slide pack or board report: The store holds numbers no import accepts")
        assert f"1 in staff in post (FTE){'' if staff is None else f' (import #{staff})'}" in said
