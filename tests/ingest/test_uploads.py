"""Uploaded bytes: a private 0700 folder per upload, deleted with it; stale folders swept."""

from __future__ import annotations

import os
import stat
import time

from dashboard.ingest import uploads


def test_each_upload_gets_its_own_private_folder(tmp_path):
    a = uploads.save(b"Team\nWard 7\n", "Export.CSV", tmp_path)
    b = uploads.save(b"Team\nWard 7\n", "Export.CSV", tmp_path)
    assert a.parent != b.parent and a.name == "upload.csv" and a.read_bytes() == b"Team\nWard 7\n"
    assert stat.S_IMODE(a.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(a.stat().st_mode) == 0o600
    assert a.parent.name.startswith(uploads.PREFIX)


def test_discard_removes_the_folder_and_is_idempotent(tmp_path):
    path = uploads.save(b"x", "f.xlsx", tmp_path)
    uploads.discard(path)
    assert not path.parent.exists()
    uploads.discard(path)  # a second call (e.g. cancel after a refusal) is harmless
    uploads.discard(None)
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_only_stale_upload_folders(tmp_path):
    old = uploads.save(b"x", "old.csv", tmp_path)
    new = uploads.save(b"y", "new.csv", tmp_path)
    other = tmp_path / "someone_elses"
    other.mkdir()
    past = time.time() - 2 * 24 * 3600
    os.utime(old.parent, (past, past))
    os.utime(other, (past, past))
    assert uploads.sweep(tmp_path) == 1
    assert not old.parent.exists() and new.exists() and other.exists()
