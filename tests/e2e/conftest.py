"""Browser-test fixtures: the real Streamlit server on a copy of a store, driven by Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy at {url}")


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    """server_factory(db_path) -> base URL of a fresh `streamlit run app.py` on a copy of db_path.

    Each call starts a new server (so a deep link really is the first request it sees) on its
    own copy of the store, because DuckDB allows only one writing process per file.
    """
    procs: list[subprocess.Popen] = []

    def start(db_path: Path | None = None, users: Sequence[tuple] = (), args: Sequence[str] = ()) -> str:
        """users: (name, role[, directorates[, teams]]) accounts created in the copy, password
        tests.signin.PASSWORD; sign in with sign_in(page, base, name). args: more options for
        `streamlit run` (e.g. --secrets.files)."""
        work = tmp_path_factory.mktemp("server")
        db = work / "store.duckdb"
        if db_path is not None:
            shutil.copy(db_path, db)
        for user in users:
            signin.add_user(db, *user)
        port = _free_port()
        env = {
            **os.environ,
            "WELLBEING_DB": str(db),
            "WELLBEING_SECRET": str(work / "secret.key"),
            "PYTHONPATH": str(ROOT / "src"),
        }
        log = open(work / "server.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", *args,
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        return url

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(45_000)
    yield pg
    context.close()


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
    pg.wait_for_selector("[data-testid='stApp']", state="attached")
    # While a script runs, the status widget reads "Running..." or offers "Stop".
    pg.wait_for_function(
        "() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
        " return !w || !/Running|Stop/.test(w.innerText); }",
        timeout=60_000,
    )
