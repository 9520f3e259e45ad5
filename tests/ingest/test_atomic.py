"""Atomic import: an injected failure or a killed process leaves the store as it was; undo; the import log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dashboard import store
from dashboard.ingest import load, pipeline
from tests.ingest.conftest import UPLOADS, snapshot

ROOT = Path(__file__).resolve().parents[2]


def _prepared(con, name, kind, **kw):
    _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind, **kw)
    assert prepared.report.ok
    return prepared


@pytest.mark.parametrize("victim", ["_episodes", "bump_version"])
def test_injected_failure_rolls_everything_back(con, monkeypatch, victim):
    pipeline.commit(con, _prepared(con, "absence_utf16.txt", "absence"), user="t")
    before = snapshot(con)
    prepared = _prepared(con, "absence_semicolon_bom_crlf.csv", "absence")
    real = load._episodes

    def insert_then_fail(c, *args):
        if victim == "_episodes":
            real(c, *args)  # rows really inserted, then the failure
        raise RuntimeError("disk full")

    target = load if victim == "_episodes" else load.store
    monkeypatch.setattr(target, victim, insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.commit(con, prepared, user="t")
    assert snapshot(con) == before  # no units, no episodes, no log line, same dataset version


def test_survey_failure_after_scores_rolls_back(con, monkeypatch):
    before = snapshot(con)
    prepared = _prepared(con, "survey_hse.csv", "survey")
    monkeypatch.setattr(load.store, "bump_version", lambda c: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        pipeline.commit(con, prepared, user="t")
    assert snapshot(con) == before


_KILLED_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dashboard import store
    from dashboard.ingest import load, pipeline

    db, fixture, flag = sys.argv[1:4]
    con = store.connect(db)
    _raw, prepared = pipeline.prepare(con, fixture, "absence")
    real = load._episodes

    def insert_then_hang(c, *args):
        real(c, *args)
        Path(flag).write_text("inside")  # rows are written inside the open transaction
        time.sleep(120)

    load._episodes = insert_then_hang
    pipeline.commit(con, prepared, user="killed")
    """
)


def test_killed_process_mid_import_leaves_previous_state(env, tmp_path):
    con = store.connect(env)
    pipeline.commit(con, _prepared(con, "absence_utf16.txt", "absence"), user="t")
    con.execute("CHECKPOINT")
    before = snapshot(con)
    con.close()
    flag = tmp_path / "inside.flag"
    script = tmp_path / "child.py"
    script.write_text(_KILLED_CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(env), str(UPLOADS / "absence_semicolon_bom_crlf.csv"), str(flag)],
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            if proc.poll() is not None:
                pytest.fail(f"child exited early: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "child never reached the transaction"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    con = store.connect(env)
    try:
        assert snapshot(con) == before
    finally:
        con.close()


def test_undo_removes_rows_units_and_waves_and_is_logged(con):
    pipeline.commit(con, _prepared(con, "absence_utf16.txt", "absence"), user="alice")
    after_first = snapshot(con)
    second = _prepared(con, "survey_hse.csv", "survey")
    import_id = pipeline.commit(con, second, user="bob")
    assert con.execute("SELECT count(*) FROM respondent_scores").fetchall()[0][0] > 0
    version = store.dataset_version(con)
    removed = load.undo(con, import_id)
    assert removed["responses"] == 12 and removed["units"] == 1  # Theatres was new; Ward 7 is still used
    assert store.dataset_version(con) == version + 1
    now = snapshot(con)
    for table in ("units", "waves", "responses", "answers", "respondent_scores", "absence_episodes"):
        assert now[table] == after_first[table], table
    log = load.import_log(con)
    assert log[["import_id", "user_name", "status", "rows"]].values.tolist() == [
        [2, "bob", "undone", 12],
        [1, "alice", "active", 3],
    ]
    with pytest.raises(ValueError, match="already undone"):
        load.undo(con, import_id)
    # An undone file may be imported again.
    assert pipeline.prepare(con, UPLOADS / "survey_hse.csv", "survey")[1].report.ok


def test_import_log_has_sha_and_file_name_only(con):
    prepared = _prepared(con, "absence_semicolon_bom_crlf.csv", "absence")
    pipeline.commit(con, prepared, user="carol")
    import hashlib

    sha = hashlib.sha256((UPLOADS / "absence_semicolon_bom_crlf.csv").read_bytes()).hexdigest()
    row = con.execute("SELECT kind, file_name, sha256, rows, user_name, profile FROM imports").fetchall()
    assert row == [("absence", "absence_semicolon_bom_crlf.csv", sha, 6, "carol", None)]


def test_rows_already_in_store_are_skipped_not_doubled(con, tmp_path):
    pipeline.commit(con, _prepared(con, "absence_utf16.txt", "absence"), user="t")
    # Same episodes re-exported in a different file (different bytes, so not "the same file").
    copy = tmp_path / "again.txt"
    copy.write_bytes((UPLOADS / "absence_utf16.txt").read_bytes() + "\r\n".encode("utf-16-le"))
    prepared = pipeline.prepare(con, copy, "absence")[1]
    # Every row is already stored: "nothing new" is not an import, so no log entry either.
    assert prepared.report.nothing_new and prepared.report.rows_ready == 0
    assert "Nothing new: all 3 rows of this file are already in the store" in prepared.report.errors[0]
    with pytest.raises(ValueError):
        pipeline.commit(con, prepared, user="t")
    assert con.execute("SELECT count(*) FROM absence_episodes").fetchall()[0][0] == 3
    assert con.execute("SELECT count(*) FROM imports").fetchall()[0][0] == 1
    # One new episode among the old ones: the old ones are skipped, the new one imported.
    more = tmp_path / "more.csv"
    more.write_text(
        "Assignment Number\tTeam\tStart\tEnd\tReason Code\tLine manager\n"
        + "\n".join(_utf16_rows())
        + "\nA-9\tWard 7\t2024-03-04\t2024-03-05\tS13\tZoë Ng\n",
        encoding="utf-8",
    )
    prepared = pipeline.prepare(con, more, "absence")[1]
    assert "3 rows are already in the store" in " ".join(prepared.report.notes), prepared.report.errors
    pipeline.commit(con, prepared, user="t")
    assert con.execute("SELECT count(*) FROM absence_episodes").fetchall()[0][0] == 4


def _utf16_rows() -> list[str]:
    text = (UPLOADS / "absence_utf16.txt").read_bytes().decode("utf-16")
    return [line for line in text.splitlines()[1:] if line.strip()]
