"""Store: schema creation and version, all-or-nothing transactions, catalogue re-sync."""
from __future__ import annotations

import pytest

from dashboard import store
from tests import tiny_org


def test_new_store_is_migrated_and_empty(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    assert store.schema_version(con) == store.SCHEMA_VERSION
    assert store.is_empty(con)
    info = store.dataset_info(con)
    assert info["is_demo"] is False
    # reopening does not migrate twice
    con.close()
    con = store.connect(tmp_path / "s.duckdb")
    assert store.schema_version(con) == store.SCHEMA_VERSION


def test_transaction_rolls_back_everything(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    before = store.dataset_version(con)
    with pytest.raises(RuntimeError), store.transaction(con):
        con.execute("INSERT INTO units (team) VALUES ('Ward 1')")
        store.bump_version(con)
        raise RuntimeError("injected failure")
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == 0
    assert store.dataset_version(con) == before


def test_catalogue_fingerprint_change_rederives_scores(tmp_path):
    con = tiny_org.build(tmp_path / "s.duckdb")
    n_scores = con.execute("SELECT count(*) FROM respondent_scores").fetchone()[0]
    assert n_scores > 0
    assert store.sync_catalogue(con) is False  # unchanged catalogue: nothing to do
    store.set_meta(con, "catalogue_fingerprint", "stale")
    version = store.dataset_version(con)
    assert store.sync_catalogue(con) is True
    assert con.execute("SELECT count(*) FROM respondent_scores").fetchone()[0] == n_scores
    assert store.dataset_version(con) == version + 1


def test_newer_schema_is_refused(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    store.set_meta(con, "schema_version", str(store.SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer"):
        store.migrate(con)


def test_remove_demo_empties_everything_but_configuration(demo_db, tmp_path):
    import shutil

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    con = store.connect(db)
    con.execute(
        "INSERT INTO mapping_profiles (name, kind, header_signature, mapping_json)"
        " VALUES ('p', 'absence', 'x', '{}')"
    )
    version = store.dataset_version(con)
    store.remove_demo(con)
    assert store.is_empty(con)
    assert con.execute("SELECT count(*) FROM respondent_scores").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM mapping_profiles").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM cat_items").fetchone()[0] > 0
    info = store.dataset_info(con)
    assert info["is_demo"] is False and info["name"] == "No data loaded"
    assert store.dataset_version(con) == version + 1


def test_dataset_name_is_trimmed_and_required(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    store.set_dataset_name(con, "  Riverside   Community Trust ")
    assert store.dataset_info(con)["name"] == "Riverside Community Trust"
    with pytest.raises(ValueError):
        store.set_dataset_name(con, "   ")


def test_a_version_1_store_migrates_to_the_framework_tables_keeping_its_register(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute(store.MIGRATIONS[1])
    store.set_meta(raw, "schema_version", "1")
    raw.execute("INSERT INTO interventions (name, domain, start_date, indicators) "
                "VALUES ('Old', 'environment', DATE '2024-01-01', ['hse_demands'])")
    raw.close()
    con = store.connect(path)
    assert store.schema_version(con) == store.SCHEMA_VERSION >= 8
    row = con.execute("SELECT name, prevention_level, resources, driver, stage, cost FROM interventions"
                      ).fetchone()
    assert row == ("Old", None, None, None, None, None)
    for table in ("diagnostic_assessments", "plan_actions", "plan_progress"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    # the organisation's own records go with its data, but do not count as data
    con.execute("INSERT INTO diagnostic_assessments (element_id, rating, assessed_on, assessed_by) "
                "VALUES ('physical', 2, DATE '2025-01-01', 'Me')")
    con.execute("DELETE FROM interventions")
    assert store.is_empty(con)
    store.remove_demo(con)
    assert con.execute("SELECT count(*) FROM diagnostic_assessments").fetchone()[0] == 0
