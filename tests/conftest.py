"""Shared fixtures: the seeded demo organisation, built once per test session (per xdist worker)."""
from __future__ import annotations

import fcntl
import json
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
def _installed_components_scanned_once() -> Iterator[None]:
    """Each new AppTest looks for installed Streamlit components by reading the metadata of every
    installed package (0.15-0.25 s; hundreds of AppTests a run). What is installed does not change
    during a run: the scan is done once and its result reused."""
    from streamlit.components.v2 import manifest_scanner

    found = manifest_scanner.scan_component_manifests()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", lambda *a, **k: list(found))
        yield


@pytest.fixture(scope="session", autouse=True)
def _new_stores_copy_a_migrated_template(tmp_path_factory) -> Iterator[None]:
    """A store opened for writing at a path that holds nothing yet starts as a copy of one empty
    store created (migrated, catalogue loaded) once per session, then opens as usual.

    Creating a store runs every migration and loads the catalogue: about a second each on a busy
    machine, and hundreds of tests start from an empty store. The copy is the same file the
    creation makes (the migrations are deterministic); tests/store/ still create theirs. Every
    store the tests open runs DuckDB on one thread (below)."""
    real = store.connect
    template = tmp_path_factory.mktemp("template") / "empty.duckdb"
    real(template).close()

    def connect(path: Path | str | None = None, read_only: bool = False):
        target = None if path is None or str(path).startswith(":") else Path(path)
        if (target is not None and not read_only and not _CREATE_FROM_NOTHING["on"]
                and not target.exists() and not target.with_name(target.name + ".wal").exists()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
        con = real(path, read_only=read_only)
        # One DuckDB thread per store: the suite runs two workers on two cores, and on its small
        # stores a second thread per query costs hand-offs, not time saved (tests/stats, metrics
        # and store: 107 -> 97 s, twice). Tests of results under several threads set their own
        # (tests/test_determinism_at_scale.py).
        con.execute("SET threads = 1")
        return con

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "connect", connect)
        yield


@pytest.fixture(scope="session", autouse=True)
def _fixture_organisations_copy_a_built_store(tmp_path_factory, _new_stores_copy_a_migrated_template
                                              ) -> Iterator[None]:
    """tests.teams_org.build and tests.tiny_org.build (about 30 callers) copy a store built once
    per session, at its start (before any test patches what a build reads), and open it as the
    build would; tests/store/ still build theirs, and a path that exists is built into."""
    from tests import teams_org, tiny_org

    folder = tmp_path_factory.mktemp("fixture_orgs")
    with pytest.MonkeyPatch.context() as mp:
        for module, variants in ((teams_org, [{}]), (tiny_org, [{}, {"with_aggregate": True}])):
            real = module.build
            templates = {}
            for kwargs in variants:
                template = folder / f"{module.__name__.rsplit('.', 1)[-1]}{len(templates)}.duckdb"
                real(template, **kwargs).close()
                templates[tuple(sorted(kwargs.items()))] = template

            def build(path, _real=real, _templates=templates, **kwargs):
                target = Path(path)
                template = _templates.get(tuple(sorted(kwargs.items())))
                if _CREATE_FROM_NOTHING["on"] or template is None or target.exists():
                    return _real(path, **kwargs)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(template, target)
                return store.connect(target)

            mp.setattr(module, "build", build)
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


@pytest.fixture
def signature_checks(monkeypatch) -> list[list[str]]:
    """Every check of the derived tables' signatures while the test runs (the families each one
    asked about; a call that had nothing left to check is not one)."""
    from dashboard.store import derived

    checks: list[list[str]] = []
    real = derived._stale

    def counted(con, families):
        families = list(families)
        if families:
            checks.append(families)
        return real(con, families)

    monkeypatch.setattr(derived, "_stale", counted)
    return checks


@pytest.fixture(autouse=True)
def _no_custom_indicators_left_behind() -> Iterator[None]:
    """Custom indicators join the catalogue process-wide (store.load_custom): none outlives its test."""
    yield
    catalogue.set_custom(())


# Seconds each test took (setup, call and teardown) in earlier runs, kept in pytest's cache; for
# a first run, tests/durations.json holds each module's seconds in a whole run on 2 busy cores.
_SECONDS_KEY = "wellbeing/test_seconds"
_SECONDS: dict[str, float] = {}


def _name_groups(config, items) -> None:
    """Give a test marked xdist_group the id "...@group" that --dist loadgroup schedules by.

    pytest-xdist 3.8 writes it to item._nodeid, which pytest 9 no longer reads (ids live in
    item._id), so every grouped test ran wherever it was sent: the marks did nothing."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                 for m in item.iter_markers("xdist_group")}
        if not names or _plain(item.nodeid) != item.nodeid:
            continue
        grouped = f"{item.nodeid}@{'_'.join(sorted(names))}"
        if hasattr(item, "_id"):
            from _pytest.nodeid import coerce_node_id

            item._id = coerce_node_id(grouped)
        else:
            item._nodeid = grouped


@pytest.hookimpl(trylast=True)  # after tests/e2e/conftest.py marks its demo-server tests
def pytest_collection_modifyitems(config, items) -> None:
    """Longest modules first, so the xdist workers (which take tests in this order) finish
    together rather than one running a long test alone at the end. A test not timed yet takes
    its share of the module's recorded seconds (or 20 s for a browser test, 0.5 s otherwise);
    tests keep their order within a module, so its fixtures are still set up once per worker."""
    cache = getattr(config, "cache", None)  # none under -p no:cacheprovider
    seconds = cache.get(_SECONDS_KEY, {}) if cache is not None else {}
    recorded = json.loads((Path(__file__).parent / "durations.json").read_text())
    modules: dict[str, list[str]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item.nodeid)
    total = {}
    for module, ids in modules.items():
        guess = recorded.get(module, (20.0 if "/e2e/" in module else 0.5) * len(ids)) / len(ids)
        total[module] = sum(seconds.get(_plain(i), guess) for i in ids)
    items.sort(key=lambda item: -total[item.nodeid.split("::")[0]])
    _name_groups(config, items)


def _plain(nodeid: str) -> str:
    """The test's id without the "@group" xdist adds under --dist loadgroup."""
    return nodeid.rsplit("@", 1)[0] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


def pytest_runtest_logreport(report) -> None:
    nodeid = _plain(report.nodeid)
    _SECONDS[nodeid] = _SECONDS.get(nodeid, 0.0) + report.duration


def pytest_sessionfinish(session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None or not _SECONDS:
        return  # xdist workers report to the controller, which records
    seconds = config.cache.get(_SECONDS_KEY, {})
    seconds.update({k: round(v, 2) for k, v in _SECONDS.items()})
    config.cache.set(_SECONDS_KEY, seconds)


@pytest.fixture(scope="session", autouse=True)
def _apptest_waits_for_its_run_instead_of_polling() -> Iterator[None]:
    """AppTest waits for a script run by waking every millisecond to scan the run's events; each
    wake takes the GIL from the script thread it waits for. Waiting on the run's own SHUTDOWN
    event gives the same result (and the same timeout error) without the wakes."""
    import threading

    from streamlit.testing.v1 import local_script_runner as runner_module

    real = runner_module.require_widgets_deltas
    shutdown = runner_module.ScriptRunnerEvent.SHUTDOWN

    def require_widgets_deltas(runner, timeout: float = 3) -> None:
        done = threading.Event()

        def seen(_sender, event=None, **_kwargs) -> None:
            if event == shutdown:
                done.set()

        runner.on_event.connect(seen, weak=False)
        try:
            if runner.script_stopped() or done.wait(timeout):
                return
        finally:
            runner.on_event.disconnect(seen)
        real(runner, 0)   # times out at once: stops the runner and raises AppTest's own error

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner_module, "require_widgets_deltas", require_widgets_deltas)
        yield
