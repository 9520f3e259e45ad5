"""8 sessions (20 in `make slow`) read the app's figures while an import commits: no errors, and
every session sees the old or the new dataset whole, never a mix (each read runs in one store.snapshot)."""
from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta

import pytest

from dashboard import store
from dashboard.ingest import pipeline
from dashboard.metrics import absence, drilldown, indicators
from tests import teams_org

MAX_VIEWS = 2_000
# A person reads a page before opening the next: up to this many seconds between one session's
# views. Run back to back, the test took 38 CPU s (27 with the pause); reads still interleave
# with the whole import (asserted below), which takes 13 s among the 20 sessions against 1 alone.
THINK_S = 1.0
TEAMS = [t for _, t, _, _ in teams_org.UNITS]
START, END = date(2024, 1, 1), date(2025, 12, 31)


def _absence_file(path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    lines = ["Employee Number,Team,Absence Start Date,Absence End Date,Absence Reason"]
    for i in range(rows):
        first = START + timedelta(days=rng.randrange(600))
        last = first + timedelta(days=rng.randrange(20))
        lines.append(f"E{i % 3000:05d},{rng.choice(TEAMS)},{first:%Y-%m-%d},{last:%Y-%m-%d},"
                     f"{rng.choice(['S10', 'S12', 'S13', 'S25'])}")
    path.write_text("\n".join(lines) + "\n")


def _view(con) -> tuple:
    """What one page run shows: several of the app's own figure functions, in one snapshot."""
    with store.snapshot(con) as version:
        kids = drilldown.groups_overview(con, ("team",), 2, 10, "Medicine")
        waves = indicators.waves(con)
        summary = absence.period_summary(con, START, END)
        quality = absence.episode_quality(con)
    return version, (tuple(sorted(quality.items())),
        tuple(kids.n.fillna(-1).astype(int)), len(waves), round(summary["fte_days_lost"], 6),
    )


@pytest.mark.parametrize("sessions", [8, pytest.param(20, marks=pytest.mark.slow)])
def test_sessions_browse_while_an_import_runs(tmp_path, monkeypatch, sessions):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    con = teams_org.build(db)  # survey only: the import brings the first absence episodes
    upload = tmp_path / "absence.csv"
    _absence_file(upload, 3_000)
    _raw, prepared = pipeline.prepare(con, upload, "absence")
    assert prepared.report.ok, prepared.report.errors
    before = _view(con.cursor())

    done = threading.Event()
    started = threading.Barrier(sessions + 1)
    seen: list[list[tuple]] = [[] for _ in range(sessions)]
    errors: list[BaseException] = []

    def session(i: int) -> None:
        cur = con.cursor()  # like a script run: one cursor of the process-wide connection
        think = random.Random(i)
        try:
            started.wait()
            after_done = 0
            # keep browsing until two views after the import ended (bounded, should it hang)
            while after_done < 2 and len(seen[i]) < MAX_VIEWS:
                after_done += done.is_set()
                seen[i].append(_view(cur))
                time.sleep(think.uniform(0, THINK_S))
        except BaseException as exc:  # noqa: BLE001 - every error is a failure of the test
            errors.append(exc)
        finally:
            cur.close()

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    started.wait()
    try:
        pipeline.commit(con.cursor(), prepared, user="concurrency test")
    finally:
        done.set()
    for t in threads:
        t.join(timeout=300)
    after = _view(con.cursor())

    assert errors == []
    assert after[0] == before[0] + 1 and after[1] != before[1]
    expected = {before[0]: before[1], after[0]: after[1]}
    views = [v for s in seen for v in s]
    assert len(views) >= sessions * 2
    for version, figures in views:
        assert figures == expected[version]  # the whole view belongs to one version
    # reads ran while the import was under way (every session started before it), not only after
    assert sum(v[0] == before[0] for v in views) >= sessions // 2
    # every session saw the new data once the import had committed
    assert all(s[-1][0] == after[0] for s in seen)
    con.close()
