"""The one place that caches: query results keyed by (store, dataset version, arguments)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from dashboard import query as named_queries
from dashboard import store
from dashboard.config import settings

T = TypeVar("T")

_REGISTRY: dict[str, Callable[..., Any]] = {}


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(db_path: str) -> duckdb.DuckDBPyConnection:
    # One process-wide connection per store; each script run works on its own cursor.
    return store.connect(db_path)


def db_path() -> str:
    return str(settings().db_path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor for this script run; never shared across threads."""
    return _connection(db_path()).cursor()


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_call(path: str, version: int, name: str, args: tuple, kwargs: tuple) -> Any:
    cur = _connection(path).cursor()
    try:
        return _REGISTRY[name](cur, *args, **dict(kwargs))
    finally:
        cur.close()


def query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(con, *args, **kwargs), cached until the next import or undo bumps the version.

    Only aggregated, small results should pass through here: never frames of raw rows.
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    _REGISTRY[name] = fn
    cur = cursor()
    try:
        version = store.dataset_version(cur)
    finally:
        cur.close()
    started = time.perf_counter()
    result = _cached_call(db_path(), version, name, args, tuple(sorted(kwargs.items())))
    # the page's trace lists the functions it asked for, cached or not (named queries run inside)
    named_queries.note(name, len(result) if isinstance(result, pd.DataFrame) else 1, started)
    return result


def clear() -> None:
    _cached_call.clear()
