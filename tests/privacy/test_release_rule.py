"""Nothing outside the privacy layer compares a count with the anonymity threshold (issue 10).

Every module asks `privacy.releasable(n, threshold)` or reads the release (`privacy.plan`,
`privacy.survey_figures`, `release.release`), so the rule has one home. This scans the source
for ordering comparisons (<, <=, >, >=) in which one side names a threshold and the other does
not, the shape of `n >= threshold`, `threshold <= n < MIN_N` or `sizes >= settings().threshold`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import privacy

SRC = Path(__file__).resolve().parents[2] / "src" / "dashboard"
# The privacy layer itself: the release plans and the rule.
ALLOWED = {"privacy/__init__.py", "privacy/release.py"}
# Files still to be moved onto the rule (none left). Each entry must still hold a comparison
# (checked below), so the list only ever empties.
PENDING: set[str] = set()
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_THRESHOLD = re.compile(r"threshold$", re.IGNORECASE)


def _names_threshold(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = (sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute)
                else None)
        if name and _THRESHOLD.search(name):
            return True
    return False


def threshold_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comparison of something with a threshold in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, _ORDERING) for op in node.ops):
            sides = [_names_threshold(o) for o in (node.left, *node.comparators)]
            # a threshold checked against its own bounds (config) is not a count compared with it
            if any(sides) and not all(sides):
                found.append((node.lineno, ast.unparse(node)))
    return found


def _scan() -> dict[str, list[tuple[int, str]]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        hits = threshold_comparisons(path.read_text(encoding="utf-8"))
        if hits:
            out[rel] = hits
    return out


def test_no_module_outside_the_privacy_layer_compares_n_with_the_threshold():
    found = {f: hits for f, hits in _scan().items() if f not in ALLOWED | PENDING}
    assert not found, (
        "compare counts with the threshold through privacy.releasable or the release: "
        + "; ".join(f"{f}:{line} {text}" for f, hits in found.items() for line, text in hits)
    )


def test_pending_files_still_need_it():
    # once a pending file is clean, it must leave PENDING so that it stays clean
    hits = _scan()
    stale = sorted(f for f in PENDING if (SRC / f).exists() and f not in hits)
    assert not stale, f"remove from PENDING (no comparison left): {stale}"


def test_the_scan_finds_the_shapes_it_is_meant_to_find():
    source = """
def f(n, threshold, settings, frame, sizes, anonymity_threshold, MIN_N):
    a = n >= threshold
    b = threshold <= n < MIN_N
    c = frame[frame.n < threshold]
    d = sizes >= settings().anonymity_threshold
    e = [k for k, v in n.items() if v < anonymity_threshold]
    ok1 = MIN_THRESHOLD <= threshold <= MAX_THRESHOLD
    ok2 = n == threshold
    ok3 = "n >= threshold"  # n >= threshold
    ok4 = x > _thresholds(y)
"""
    lines = sorted(line for line, _ in threshold_comparisons(source))
    assert lines == [3, 4, 5, 6, 7]


def test_releasable_is_the_rule_for_scalars_arrays_and_series():
    assert privacy.releasable(10, 10) and not privacy.releasable(9, 10)
    assert not privacy.releasable(None, 10) and not privacy.releasable(float("nan"), 10)
    assert privacy.releasable(np.array([9, 10, np.nan]), 10).tolist() == [False, True, False]
    series = pd.Series([12, None, 3], dtype="Int64")
    assert privacy.releasable(series, 10).tolist() == [True, False, False]
