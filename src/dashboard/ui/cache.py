"""The one place that caches: query results keyed by (store, dataset version, arguments)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from dashboard import store
from dashboard.auth import access
from dashboard.auth.access import Principal
from dashboard.config import settings
from dashboard.store import derived
from dashboard.store import query as named_queries

T = TypeVar("T")

_REGISTRY: dict[str, Callable[..., Any]] = {}
PRINCIPAL_KEY = "auth_principal"
_PIN_KEY = "cache_dataset_version"


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(db_path: str) -> duckdb.DuckDBPyConnection:
    # One process-wide connection per store; each script run works on its own cursor.
    return store.connect(db_path)


def db_path() -> str:
    return str(settings().db_path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor for this script run; never shared across threads."""
    return _connection(db_path()).cursor()


class VersionChanged(RuntimeError):
    """The dataset changed (an import or undo committed) since this script run began."""


# Reads of a figure while the derived tables are brought up to date (see _cached_call).
_STALE_ATTEMPTS = 4


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_call(
    path: str, version: int, scope: str, name: str, args: tuple, kwargs: tuple, _principal: Principal
) -> Any:
    # scope is in the key, and the check runs inside: a cached result only ever serves the scope
    # (and role) it was authorised and cut for. The snapshot makes the result belong to exactly
    # the version in the key, never half the old data and half the new.
    cur = _connection(path).cursor()
    try:
        for attempt in range(_STALE_ATTEMPTS):
            try:
                with store.snapshot(cur) as seen:
                    if seen != version:
                        raise VersionChanged(f"dataset version {seen}, expected {version}")
                    fn = _REGISTRY[name]
                    rule = access.authorise(cur, _principal, fn, args, dict(kwargs))
                    return access.filter_result(cur, _principal, rule, fn(cur, *args, **dict(kwargs)))
            except derived.Stale:
                # rows written outside an import (a script): bring the derived tables up to date
                # once, committed for every session, then read again
                if attempt == _STALE_ATTEMPTS - 1:
                    raise
                try:
                    derived.ensure(cur)
                except duckdb.TransactionException:
                    time.sleep(0.2)  # another session's refresh holds them: read after it
    finally:
        cur.close()


def principal() -> Principal | None:
    """The signed-in principal of this session (set by ui/auth's gate), or None."""
    return st.session_state.get(PRINCIPAL_KEY)


def pin_version() -> int:
    """Called once at the start of every script run: every figure of this run comes from this
    dataset version, so a page never mixes data from before and after a concurrent import."""
    cur = cursor()
    try:
        version = store.dataset_version(cur)
    finally:
        cur.close()
    st.session_state[_PIN_KEY] = version
    return version


def query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(con, *args, **kwargs) for the signed-in principal, cached until the next import or
    undo bumps the version. Raises access.Denied outside the principal's role or scope.

    If an import committed since the run began, the whole page reruns on the new version.
    Only aggregated, small results should pass through here: never frames of raw rows.
    """
    name = access.figure_name(fn)
    _REGISTRY[name] = fn
    who = principal()
    if who is None:
        raise access.Denied("sign in first")
    version = st.session_state.get(_PIN_KEY)
    if version is None:
        version = pin_version()
    started = time.perf_counter()
    try:
        result = _cached_call(db_path(), version, who.scope_key(), name, args,
                              tuple(sorted(kwargs.items())), who)
    except VersionChanged:
        st.session_state.pop(_PIN_KEY, None)
        st.rerun()
        raise  # st.rerun() does not return
    # the page's trace lists the functions it asked for, cached or not (named queries run inside)
    named_queries.note(name, len(result) if isinstance(result, pd.DataFrame) else 1, started)
    return result


def detached() -> Callable[..., Any]:
    """For work done after this script run (a download built when clicked): a function calling
    fn(con, *args, **kwargs) through the same cache and access check as query(), as this run's
    principal, so a figure the page already showed is not computed again. If an import committed
    meanwhile, the calls move to the new version together."""
    who = principal()
    if who is None:
        raise access.Denied("sign in first")
    pinned = {"version": st.session_state.get(_PIN_KEY) or pin_version()}
    path = db_path()

    def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        name = access.figure_name(fn)
        _REGISTRY[name] = fn
        key = tuple(sorted(kwargs.items()))
        try:
            return _cached_call(path, pinned["version"], who.scope_key(), name, args, key, who)
        except VersionChanged:
            cur = _connection(path).cursor()
            try:
                pinned["version"] = store.dataset_version(cur)
            finally:
                cur.close()
            return _cached_call(path, pinned["version"], who.scope_key(), name, args, key, who)

    return call


def fresh(fn: Callable[..., T], *args: Any, who: Principal | None = None, **kwargs: Any) -> T:
    """Records (the improvement plan, self-assessments) read uncached on their own cursor, after
    the same access check as a figure: writing a record changes no dataset version, so a cached
    copy would go stale."""
    who = who or principal()
    cur = cursor()
    try:
        rule = access.authorise(cur, who, fn, args, kwargs)
        return access.filter_result(cur, who, rule, fn(cur, *args, **kwargs))
    finally:
        cur.close()


def clear() -> None:
    _cached_call.clear()
