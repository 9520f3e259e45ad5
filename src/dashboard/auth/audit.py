"""The audit trail: an append-only record of who did what, when and in which scope."""
from __future__ import annotations

import duckdb
import pandas as pd

# Every action the trail knows; record() refuses others so a typo cannot hide an event.
ACTIONS = {
    "sign-in": "signed in",
    "sign-in failed": "sign-in refused (wrong password, unknown or locked account)",
    "sign-out": "signed out",
    "view": "opened a page (with its scope)",
    "refused": "asked for a page, figure or action outside their role or scope",
    "export": "downloaded a file",
    "import": "imported a file",
    "undo": "undid an import",
    "plan": "recorded a self-assessment or changed the improvement plan",
    "intervention": "added, changed or deleted an intervention",
    "remove demo": "removed the demo organisation",
    "settings": "changed a setting (e.g. the organisation name)",
    "user": "added, removed or changed a user",
    "backup": "backed up or restored the store",
}
MAX_TEXT = 200


def _clean(text: object) -> str:
    return " ".join(str(text or "").split())[:MAX_TEXT]


def record(
    con: duckdb.DuckDBPyConnection, who: str, role: str | None, action: str, detail: str = "",
    scope: str = "",
) -> None:
    """Append one event. Callers pass names of pages, scopes and counts: never an employee or
    respondent identifier, a file's contents or a health figure."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    con.execute(
        "INSERT INTO audit_log (who, role, action, detail, scope) VALUES (?, ?, ?, ?, ?)",
        [_clean(who) or "unknown", role, action, _clean(detail), _clean(scope)],
    )


def read(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> pd.DataFrame:
    """The trail, newest first: [at, who, role, action, detail, scope]."""
    sql = ("SELECT logged_at AS at, who, role, action, detail, scope FROM audit_log "
           "ORDER BY audit_id DESC")
    params: list = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return con.execute(sql, params).df()
