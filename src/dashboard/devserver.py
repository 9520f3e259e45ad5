"""A local `streamlit run app.py` on a copy of a store, for browser tests and the browser benchmark."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(root: Path, db: Path, work: Path, args: Sequence[str] = (),
          timeout: float = 90, script: Path | None = None,
          extra_env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start root/app.py (or script) headless on the store db, its key and log (server.log) in
    work, with root/src first on the server's import path; returns (process, base URL) once
    healthy.

    args: more `streamlit run` options; extra_env: more environment variables. A server that exits or
    is not healthy within timeout seconds is stopped and raises, naming its log.
    """
    port = free_port()
    env = {**os.environ, "WELLBEING_DB": str(db), "WELLBEING_SECRET": str(work / "secret.key"),
           "PYTHONPATH": str(root / "src"), **(extra_env or {})}
    with open(work / "server.log", "a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script or root / "app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *args],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {work / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise TimeoutError(f"streamlit did not become healthy at {url}; see {work / 'server.log'}")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server (kill it if it has not ended within timeout seconds) and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
