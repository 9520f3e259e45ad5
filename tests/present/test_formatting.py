"""How figures read: percentages, means, changes without a misleading '-0.0'."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard.present import formatting


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("proportion", 0.4287, "42.9%"), ("rate", 0.049, "4.9%"), ("mean", 3.456, "3.46"),
     ("proportion", None, "–"), ("mean", float("nan"), "–")],
)
def test_value(kind, value, text):
    assert formatting.value(kind, value) == text


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("proportion", 0.003, "+0.3 pts"), ("proportion", -0.0004, "no change"),
     ("rate", -0.012, "-1.2 pts"), ("mean", 0.351, "+0.35"), ("mean", -0.001, "no change"),
     ("proportion", None, None)],
)
def test_change(kind, value, text):
    assert formatting.change(kind, value) == text


def test_score():
    assert formatting.score(5.84) == "5.8 / 10"
    assert formatting.score(None) == "–"


# --- withheld groups: the wording and its one home ---------------------------------------------

def test_withheld_wording():
    assert formatting.fewer_than(10) == "fewer than 10 responses"
    assert formatting.fewer_than(7, formatting.STAFF) == "fewer than 7 staff in post"
    assert formatting.withheld_reason(10, group="team") == (
        "fewer than 10 responses, or withheld so that a smaller team cannot be worked out")
    assert formatting.withheld_base(10, formatting.STAFF) == "fewer than 10 staff in post or withheld"
    assert formatting.not_shown_rule(10) == "groups with fewer than 10 responses are not shown"
    assert formatting.withheld_short(10) == "<10"
    assert formatting.withheld_short(10, formatting.STAFF) == "<10 staff"
    assert formatting.sentence(formatting.fewer_than(5)) == "Fewer than 5 responses"


SRC = Path(__file__).resolve().parents[2] / "src" / "dashboard"
HOME = "present/formatting.py"
# Modules allowed to word it themselves for now; each must still hold the wording (checked
# below), so the list only ever empties. Empty since stats/evaluation.py moved over.
PENDING: set[str] = set()
_LEAD = re.compile(r"(fewer than|below|<)\s*$", re.IGNORECASE)
_TEMPLATE = re.compile(r"(fewer than|below|<)\s*\{[\w.]*threshold\}", re.IGNORECASE)
_REASON = re.compile(r"withheld (so that|to protect) a smaller", re.IGNORECASE)


def _names_threshold(node: ast.AST) -> bool:
    return any(re.search(r"threshold$", n.id if isinstance(n, ast.Name) else n.attr, re.IGNORECASE)
               for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute)))


def withheld_wording(source: str) -> list[int]:
    """Lines that spell out the withheld-group wording themselves: 'fewer than', 'below' or '<'
    right before a threshold in an f-string (or a '{threshold}' template), or the 'withheld so
    that a smaller ...' reason."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for before, after in zip(parts, parts[1:], strict=False):
                if (isinstance(before, ast.Constant) and isinstance(after, ast.FormattedValue)
                        and _LEAD.search(before.value) and _names_threshold(after.value)):
                    lines.add(node.lineno)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and (_TEMPLATE.search(node.value) or _REASON.search(node.value))):
            lines.add(node.lineno)
    return sorted(lines)


def _scan() -> dict[str, list[int]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        hits = withheld_wording(path.read_text(encoding="utf-8"))
        if hits and rel != HOME:
            out[rel] = hits
    return out


def test_withheld_wording_has_one_home():
    found = {f: lines for f, lines in _scan().items() if f not in PENDING}
    assert not found, f"word withheld groups through present.formatting (fewer_than, ...): {found}"


def test_pending_files_still_need_it():
    stale = sorted(f for f in PENDING if f not in _scan())
    assert not stale, f"remove from PENDING (no wording left): {stale}"


def test_the_scan_finds_the_shapes_it_is_meant_to_find():
    source = '''
def f(threshold, brief, settings, n, MIN_N):
    a = f"fewer than {threshold} responses"
    b = (f"groups below "
         f"{brief.threshold} staff")
    c = f"<{settings().anonymity_threshold} staff"
    d = "Fewer than {threshold} responses"
    e = "or withheld to protect a smaller group"
    ok1 = f"fewer than {MIN_N} responses: read with caution"
    ok2 = f"{n} responses of {threshold}"
    ok3 = f"fewer than {n} months"
'''
    assert withheld_wording(source) == [3, 4, 6, 7, 8]


def test_whole_numbers_round_to_the_unit_and_withheld_ones_read_as_a_dash():
    assert formatting.whole(12345.4) == "12,345"
    assert formatting.whole(1_234_567.0) == "1,234,567"
    assert formatting.whole(0.0) == "0" and formatting.whole(7) == "7"
    assert formatting.whole(None) == "–" and formatting.whole(float("nan")) == "–"
