"""Page-test fixtures: a private copy of the demo store per test, wired in through the env."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def demo_env(demo_db, tmp_path, monkeypatch):
    """WELLBEING_DB points at a fresh copy of the demo store (pages may write to it)."""
    db = tmp_path / "store.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)
    return db
