"""dashboard/devserver.py: the one server start the browser tests and the browser benchmark share."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from dashboard import devserver, store

ROOT = Path(__file__).resolve().parents[1]


def test_free_port_can_be_bound_on_loopback():
    port = devserver.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_server_on_a_store_is_healthy_serves_that_store_and_stops(tmp_path):
    db = tmp_path / "store.duckdb"
    store.connect(db).close()
    proc, url = devserver.start(ROOT, db, tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:") and url.rsplit(":", 1)[1].isdigit()
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as resp:
            assert resp.status == 200
        env = dict(item.split("=", 1) for item in
                   Path(f"/proc/{proc.pid}/environ").read_text().split("\0") if "=" in item)
        assert env["WELLBEING_DB"] == str(db)
        assert env["WELLBEING_SECRET"] == str(tmp_path / "secret.key")
        assert env["PYTHONPATH"] == str(ROOT / "src")
    finally:
        devserver.stop(proc)
    assert proc.returncode is not None


def test_a_server_that_exits_is_reported_with_its_log(tmp_path):
    with pytest.raises(RuntimeError, match=r"exited with .*server\.log"):
        devserver.start(ROOT, tmp_path / "store.duckdb", tmp_path, ["--server.port", "not-a-port"])
    assert "not-a-port" in (tmp_path / "server.log").read_text()


def test_a_server_not_healthy_in_time_is_stopped(tmp_path, monkeypatch):
    stopped = []
    stop = devserver.stop
    monkeypatch.setattr(devserver, "stop", lambda proc: (stopped.append(proc), stop(proc)))
    with pytest.raises(TimeoutError, match=r"did not become healthy.*server\.log"):
        devserver.start(ROOT, tmp_path / "store.duckdb", tmp_path, timeout=0)
    assert len(stopped) == 1 and stopped[0].returncode is not None
