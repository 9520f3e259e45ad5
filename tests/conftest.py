"""Shared fixtures: the seeded demo organisation, built once per test session (per xdist worker)."""
from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dashboard import catalogue, demo, store

# Whether the running test is one of the store's own (creation and migration), which must create
# every store from nothing.
_CREATE_FROM_NOTHING = {"on": False}


@pytest.fixture(scope="session", autouse=True)
def _new_stores_copy_a_migrated_template(tmp_path_factory) -> Iterator[None]:
    """A store opened for writing at a path that holds nothing yet starts as a copy of one empty
    store created (migrated, catalogue loaded) once per session, then opens as usual.

    Creating a store runs every migration and loads the catalogue: about a second each on a busy
    machine, and hundreds of tests start from an empty store. The copy is the same file the
    creation makes (the migrations are deterministic); tests/store/ still create theirs."""
    real = store.connect
    template = tmp_path_factory.mktemp("template") / "empty.duckdb"
    real(template).close()

    def connect(path: Path | str | None = None, read_only: bool = False):
        target = None if path is None or str(path).startswith(":") else Path(path)
        if (target is not None and not read_only and not _CREATE_FROM_NOTHING["on"]
                and not target.exists() and not target.with_name(target.name + ".wal").exists()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
        return real(path, read_only=read_only)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "connect", connect)
        yield


@pytest.fixture(autouse=True)
def _store_tests_create_from_nothing(request) -> Iterator[None]:
    _CREATE_FROM_NOTHING["on"] = "store" in request.node.path.parent.parts[-1:]
    yield
    _CREATE_FROM_NOTHING["on"] = False


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """Path to a store holding the demo organisation (default seed). Treat it as read-only:
    copy the file first if a test needs to write."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    # Built once per run: xdist workers' base temp dirs share a parent, where the first worker to
    # get the lock builds it; each worker then takes its own copy (a store is opened read-only
    # here and read-write elsewhere, which DuckDB refuses across processes on one file).
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    built = shared / "demo-built.duckdb"
    with open(shared / "demo-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            partial = shared / f"demo-building-{os.getpid()}.duckdb"
            con = store.connect(partial)
            try:
                demo.load_demo(con, seed=demo.DEFAULT_SEED)
            finally:
                con.close()
            partial.rename(built)
    shutil.copyfile(built, path)
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
