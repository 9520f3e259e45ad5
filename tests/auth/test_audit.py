"""The audit trail: append-only, known actions only, short plain text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard import store
from dashboard.auth import audit

SRC = Path(__file__).resolve().parents[1] / "src"


def test_record_and_read_newest_first(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    audit.record(con, "dana", "admin", "sign-in", "password", "whole organisation")
    audit.record(con, "dana", "admin", "export", "x\ny" * 300)
    trail = audit.read(con)
    assert list(trail.action) == ["export", "sign-in"]
    assert len(trail.detail[0]) == audit.MAX_TEXT and "\n" not in trail.detail[0]
    assert list(trail.columns) == ["at", "who", "role", "action", "detail", "scope"]
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(con, "dana", "admin", "oops")


def test_nothing_in_the_code_updates_or_deletes_the_trail():
    pattern = re.compile(r"(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+audit_log", re.IGNORECASE)
    offenders = [p for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
    # clear_data (demo removal) empties organisation tables, never the trail
    assert "audit_log" not in store.DATA_TABLES
