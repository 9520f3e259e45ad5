"""Shared fixtures: the seeded demo organisation, built once per test session (per xdist worker)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dashboard import catalogue, demo, store


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """Path to a store holding the demo organisation (default seed). Treat it as read-only:
    copy the file first if a test needs to write."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    con = store.connect(path)
    try:
        demo.load_demo(con, seed=demo.DEFAULT_SEED)
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def demo_con(demo_db) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the demo store, shared by the whole session."""
    con = store.connect(demo_db, read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo_brief(demo_con):
    """The briefing for the demo's latest wave (Where to look, meeting screens, slides)."""
    from dashboard.metrics import briefing

    return briefing.gather(demo_con, briefing.latest_wave(demo_con), 10)


@pytest.fixture(autouse=True)
def _no_custom_indicators_left_behind() -> Iterator[None]:
    """Custom indicators join the catalogue process-wide (store.load_custom): none outlives its test."""
    yield
    catalogue.set_custom(())
