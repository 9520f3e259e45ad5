"""Fixtures for ingest tests: an empty store in tmp with its own secret key, and the fixture corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dashboard import store

UPLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"
TABLES = [
    "imports",
    "mapping_profiles",
    "sites",
    "units",
    "staff_in_post",
    "waves",
    "responses",
    "answers",
    "respondent_scores",
    "survey_aggregates",
    "absence_episodes",
    "absence_monthly",
    "interventions",
    "intervention_units",
    "meta",
]


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """WELLBEING_DB / WELLBEING_SECRET pointing into tmp; returns the store path."""
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "keys" / "secret"))
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    return db


@pytest.fixture
def con(env) -> Iterator[duckdb.DuckDBPyConnection]:
    c = store.connect(env)
    yield c
    c.close()


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Every row of every table, to prove a refused or failed import changed nothing at all."""
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
