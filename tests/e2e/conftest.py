"""Browser-test fixtures: the real Streamlit server on a copy of a store, driven by Chromium."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from dashboard import devserver
from tests import signin

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.e2e


# Servers started by the running test's own body (not by a module or session fixture): stopped
# when the test ends, so finished servers do not pile up (a whole run starts a couple of dozen).
_TEST_SERVERS: list[subprocess.Popen] = []

# Whether a test body is running (servers it starts are its own) or fixtures are being set up.
_CALL_PHASE = {"on": False}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _CALL_PHASE["on"] = True
    try:
        return (yield)
    finally:
        _CALL_PHASE["on"] = False


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            # a test server keeps nothing worth a graceful exit, and a busy one can take over 10 s
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
    procs.clear()


@pytest.fixture(autouse=True)
def _stop_servers_of_the_test():
    first = len(_TEST_SERVERS)
    yield
    for proc in _TEST_SERVERS[first:]:
        proc.terminate()  # reaped when the session ends (server_factory), without waiting here
    del _TEST_SERVERS[first:]


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    """server_factory(db_path) -> base URL of a fresh `streamlit run app.py` on a copy of db_path.

    Each call starts a new server (so a deep link really is the first request it sees) on its
    own copy of the store, because DuckDB allows only one writing process per file. A server
    started inside a test stops when that test ends; one started by a module- or session-scoped
    fixture lives to the end of the session. Tests that only read the store should prefer
    `shared_server`, which starts one server per store and accounts for the whole session.
    """
    procs: list[subprocess.Popen] = []

    def start(db_path: Path | None = None, users: Sequence[tuple] = (), args: Sequence[str] = (),
              _keep: bool = False) -> str:
        """users: (name, role[, directorates[, teams]]) accounts created in the copy, password
        tests.signin.PASSWORD; sign in with sign_in(page, base, name). args: more options for
        `streamlit run` (e.g. --secrets.files)."""
        work = tmp_path_factory.mktemp("server")
        db = work / "store.duckdb"
        if db_path is not None:
            shutil.copy(db_path, db)
        for user in users:
            signin.add_user(db, *user)
        proc, url = devserver.start(ROOT, db, work, args)
        procs.append(proc)
        if not _keep and _CALL_PHASE["on"]:
            _TEST_SERVERS.append(proc)
        return url

    yield start
    _stop(procs)


@pytest.fixture(scope="session")
def shared_server(server_factory):
    """shared_server(db_path, users=()) -> base URL of one server per store and accounts, shared
    by every test of this worker that asks for the same pair.

    For tests that do not change the store (reading, downloading, signing in, changing views):
    a server start and a cold first run are paid once, not per test. A test that writes (imports,
    saves, deletes) or needs a deep link to be a server's first request uses server_factory.
    """
    started: dict[tuple, str] = {}

    def get(db_path: Path | None = None, users: Sequence[tuple] = ()) -> str:
        key = (None if db_path is None else str(Path(db_path).resolve()),
               tuple(tuple(u) for u in users))
        if key not in started:
            started[key] = server_factory(db_path, users, _keep=True)
        return started[key]

    return get


# The browser tests `make test` runs: one of each kind of thing only a real browser and server
# show (a deep link routed on a fresh server to a page whose charts draw, axe and keyboard on that
# page, a file uploaded, committed and undone, the sign-in redirect). Every other browser test is
# marked slow here and runs in `make slow`, which CI runs after `make test`: one page visit costs
# Chromium 3-5 CPU s (bench/README.md), and the browser tests took half of a 7-8 minute suite on
# 2 cores. Entries: a test's id, or module::function for all its cases.
BROWSER_SUITE = {
    "tests/e2e/test_navigation.py::test_deep_link_on_fresh_server[overview]",
    "tests/e2e/test_accessibility.py::test_axe_finds_no_serious_or_critical_violation[]",
    "tests/e2e/test_accessibility.py::test_a_charts_table_opens_from_the_keyboard_and_passes_axe",
    "tests/e2e/test_upload.py::test_upload_commit_undo_in_browser",
    "tests/e2e/test_sso.py::test_sign_in_button_starts_the_redirect_to_the_provider",
    "tests/e2e/test_sso.py::test_without_the_sso_packages_the_sign_in_page_says_why",
}


def in_browser_suite(nodeid: str, function: str) -> bool:
    """Whether a browser test (its id, and its module::function) runs in `make test`."""
    return nodeid in BROWSER_SUITE or f"{nodeid.split('::')[0]}::{function}" in BROWSER_SUITE


@pytest.hookimpl(tryfirst=True)  # before pytest deselects by marker
def pytest_collection_modifyitems(items) -> None:
    """Browser tests outside BROWSER_SUITE are marked slow. Tests on the shared demo server run
    on one xdist worker (--dist loadgroup): one server computes each page cold once, where a
    server per worker computed each twice. An entry of BROWSER_SUITE that names no test of a
    module collected (a test renamed) is an error, not a browser test silently left to `make slow`."""
    matched: set[str] = set()
    for item in items:
        function = getattr(item, "originalname", item.name)
        if "/e2e/" in item.nodeid:
            if in_browser_suite(item.nodeid, function):
                matched |= {item.nodeid, f"{item.nodeid.split('::')[0]}::{function}"}
            else:
                item.add_marker(pytest.mark.slow)
        if "demo_server" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("demo_server"))
    collected = {item.nodeid.split("::")[0] for item in items}
    lost = sorted(e for e in BROWSER_SUITE - matched if e.split("::")[0] in collected)
    if lost:
        raise pytest.UsageError(f"BROWSER_SUITE names tests that do not exist: {', '.join(lost)}")


@pytest.fixture(scope="session")
def demo_server(shared_server, demo_db) -> str:
    """Base URL of the worker's shared server on the demo store (no accounts: the demo is open)."""
    return shared_server(demo_db)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def new_page(browser):
    """new_page(width=1400, height=1000) -> a new tab, in a browser context shared by the worker's
    tests of that window size; close it when done (the `page` fixture does).

    A tab is a new Streamlit session: nothing of another test's session reaches it (the app keeps
    no cookie; Streamlit's few local-storage keys are cleared when a tab closes). Sharing the context
    keeps its cache: Streamlit's scripts are fetched and compiled once per server, not once per test,
    which made a first visit cost 5-8 CPU s against 3-5 (read from /proc/stat per visit)."""
    contexts: dict[tuple[int, int], object] = {}

    def open_tab(width: int = 1400, height: int = 1000):
        if (width, height) not in contexts:
            contexts[width, height] = browser.new_context(viewport={"width": width, "height": height})
        pg = contexts[width, height].new_page()
        pg.set_default_timeout(90_000)
        return pg

    yield open_tab
    for context in contexts.values():
        context.close()


def close_tab(pg) -> None:
    """Close a tab from new_page, clearing what the page kept in its origin's storage first."""
    with contextlib.suppress(Exception):  # a crashed or navigating page has nothing to clear
        pg.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
    pg.context.clear_cookies()
    pg.close()


@pytest.fixture
def page(new_page):
    pg = new_page()
    yield pg
    close_tab(pg)


def sign_in(pg, base: str | None, name: str, password: str = signin.PASSWORD, path: str = "") -> None:
    """Open base/path (or stay on the current page when base is None) and sign in through the
    form, as a person would. A local sign-in lasts for the browser tab's session."""
    if base is not None:
        pg.goto(f"{base}/{path}")
    wait_for_app(pg)
    pg.get_by_label("User name").fill(name)
    pg.get_by_label("Password", exact=True).fill(password)
    pg.get_by_role("button", name="Sign in").click()
    pg.get_by_text(f"Signed in as {name}").wait_for()
    wait_for_app(pg)


def wait_for_app(pg) -> None:
    """Wait until Streamlit has finished the script run (no running indicator)."""
    # The app root carries the script state: "initial" until a page's first run has started, so
    # a page just opened is waited for until that run has ended (the status widget below shows
    # "Running" only after half a second of a run, and nothing before the first one).
    pg.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                         state="attached", timeout=60_000)
    # While a script runs, the status widget reads "Running..." or offers "Stop". Checked every
    # 100 ms, not on every animation frame (Playwright's default): innerText lays the page out,
    # and 60 layouts a second take CPU from the server the test is waiting for.
    pg.wait_for_function(
        "() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
        " return !w || !/Running|Stop/.test(w.innerText); }",
        timeout=60_000, polling=100,
    )


_QUIET = """
(quiet) => {
  const app = document.querySelector("[data-testid='stApp']");
  const w = document.querySelector("[data-testid='stStatusWidget']");
  const busy = !app || app.getAttribute("data-test-script-state") !== "notRunning"
    || (w && /Running|Stop/.test(w.innerText))
    || document.querySelector("[data-stale='true'], [data-testid='stSkeleton']") !== null;
  if (busy) { window.wcQuietSince = null; return false; }
  if (window.wcQuietSince == null) window.wcQuietSince = performance.now();
  return performance.now() - window.wcQuietSince >= quiet;
}
"""


def settle(pg, quiet_ms: int = 1_000) -> None:
    """Wait until the app has been idle and fully drawn for quiet_ms: no script run, no element
    left stale (dimmed) by one, and no element still waiting for its code (Streamlit loads each
    element kind's script on first use and shows a skeleton until then). Anything that reads what
    is drawn waits so: axe's contrast above all (the shell's styles were such an element once,
    and a caption's link read 3:1 until they came: seen in CI). A first run can also ask for a
    second (URL sync) that starts late on a busy machine."""
    wait_for_app(pg)
    pg.evaluate("() => { window.wcQuietSince = null; }")
    pg.wait_for_function(_QUIET, arg=quiet_ms, timeout=60_000, polling=100)


def download(pg, target, timeout_ms: int = 120_000, tries: int = 2):
    """Click target and return the download it starts, once the page is idle. A click that
    lands while Streamlit replaces the button (the rerun that follows a first run on a busy
    machine) starts nothing: it is clicked again, up to `tries` times in all."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        pg.wait_for_timeout(500)   # a rerun asked for by the run that just ended starts here
        wait_for_app(pg)
        try:
            with pg.expect_download(timeout=timeout_ms) as started:
                target.click()
            return started.value
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise

