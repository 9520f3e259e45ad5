"""Named queries: the one traced entry point through which figure families reach the store.

Every call records its name, the rows it returned and its milliseconds, so a developer can list
what a page ran (`?trace=1` in the app, or `with query.trace() as ran:` in a script or test).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pandas as pd


@dataclass(frozen=True)
class Record:
    name: str
    rows: int
    ms: float


# The latest calls in this process (any thread), and per-thread collectors opened by trace().
RECENT: deque[Record] = deque(maxlen=500)
_local = threading.local()


def _collectors() -> list[list[Record]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def note(name: str, rows: int, started: float) -> None:
    """Record a call that is not itself a query (a cached function a page asked for)."""
    _record(f"{name} (function)", rows, started)


def _record(name: str, rows: int, started: float) -> None:
    rec = Record(name, rows, (time.perf_counter() - started) * 1000)
    RECENT.append(rec)
    for sink in _collectors():
        sink.append(rec)


def run(con: duckdb.DuckDBPyConnection, name: str, sql: str, params: Sequence | None = None) -> pd.DataFrame:
    """Run one named query (bound parameters only) and return its rows as a frame."""
    started = time.perf_counter()
    frame = con.execute(sql, list(params) if params is not None else []).df()
    _record(name, len(frame), started)
    return frame


def run_one(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, params: Sequence | None = None
) -> tuple | None:
    """run() for a query of one row, returned as a tuple (None when there is none)."""
    started = time.perf_counter()
    row = con.execute(sql, list(params) if params is not None else []).fetchone()
    _record(name, 0 if row is None else 1, started)
    return row


def run_rows(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, params: Sequence | None = None
) -> list[tuple]:
    """run() returning plain Python rows (no frame: for code that loops over them)."""
    started = time.perf_counter()
    rows = con.execute(sql, list(params) if params is not None else []).fetchall()
    _record(name, len(rows), started)
    return rows


@contextmanager
def trace() -> Iterator[list[Record]]:
    """Collect every named query this thread runs inside the block."""
    sink: list[Record] = []
    stack = _collectors()
    stack.append(sink)
    try:
        yield sink
    finally:
        stack.remove(sink)


def summary(records: Sequence[Record]) -> pd.DataFrame:
    """[name, calls, rows, ms] per query name, slowest first."""
    if not records:
        return pd.DataFrame(columns=["name", "calls", "rows", "ms"])
    frame = pd.DataFrame([r.__dict__ for r in records])
    out = frame.groupby("name").agg(calls=("name", "size"), rows=("rows", "sum"), ms=("ms", "sum"))
    return out.sort_values("ms", ascending=False).reset_index()
