"""Page-test fixtures: a private copy of the demo store per test, wired in through the env."""
from __future__ import annotations

import shutil

import pytest

from dashboard import store


@pytest.fixture
def demo_env(demo_db, tmp_path, monkeypatch):
    """WELLBEING_DB points at a fresh copy of the demo store (pages may write to it)."""
    db = tmp_path / "store.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)
    return db


@pytest.fixture(scope="session")
def _demo_shared_db(demo_db, tmp_path_factory):
    db = tmp_path_factory.mktemp("demo_shared") / "store.duckdb"
    shutil.copy(demo_db, db)
    return db


# Grow as pages are only viewed: the audit trail, release plans decided on a read path, meta.
_GROW_ON_VIEW = {"audit_log", "release_survey", "release_absence", "meta"}


def _fingerprint(db) -> dict:
    con = store.connect(db)  # the configuration of the page's own connection (same process)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                  if t not in _GROW_ON_VIEW]
        # table names come from the catalogue, never from input
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        return {"dataset_version": store.dataset_version(con), **counts}
    finally:
        con.close()


@pytest.fixture
def demo_env_read_only(_demo_shared_db, tmp_path, monkeypatch):
    """WELLBEING_DB points at this worker's one shared copy of the demo store, for page tests that
    only view (no import, save or delete): the query cache then carries over from test to test as
    it does between page views on a server, instead of every test computing the demo cold. A test
    that changes the store fails here: it must use demo_env."""
    monkeypatch.setenv("WELLBEING_DB", str(_demo_shared_db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)
    before = _fingerprint(_demo_shared_db)
    yield _demo_shared_db
    after = _fingerprint(_demo_shared_db)
    assert after == before, ("a test on the shared read-only demo store changed it; use demo_env: "
                             f"{ {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v} }")
