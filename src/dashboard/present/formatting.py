"""How figures read on screen: percentages, 1-5 means, 0-10 scores, changes, withheld groups."""
from __future__ import annotations

import math


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def value(kind: str, v: float | None) -> str:
    if _missing(v):
        return "–"
    if kind in ("proportion", "rate", "share"):
        return f"{v:.1%}"
    return f"{v:.2f}"


def change(kind: str, v: float | None) -> str | None:
    """Change since the previous wave in the indicator's own unit (points for percentages)."""
    if _missing(v):
        return None
    # round first so a tiny fall never reads as "-0.0"
    if kind in ("proportion", "rate", "share"):
        pts = round(v * 100, 1) + 0.0
        return f"{pts:+.1f} pts" if pts else "no change"
    diff = round(v, 2) + 0.0
    return f"{diff:+.2f}" if diff else "no change"


def whole(v: float | None) -> str:
    """A count or a number of days to the unit ('12,345'), or '–' for a withheld or missing one."""
    return "–" if _missing(v) else f"{v:,.0f}"


def score(v: float | None) -> str:
    return "–" if _missing(v) else f"{v:.1f} / 10"


# How a group the release withholds reads, on every page, chart, export, slide and report: the
# wording lives here only (tests/present/test_formatting.py scans src/ for it). A group is counted
# in responses (survey figures), staff in post (absence) or respondents/people (analyses of people).
RESPONSES = "responses"
STAFF = "staff in post"
RESPONSES_OR_STAFF = "responses or staff in post"
WITHHELD = "withheld"  # a withheld figure's cell


def fewer_than(threshold: int, unit: str = RESPONSES) -> str:
    """'fewer than 10 responses': the base a withheld group falls below."""
    return f"fewer than {threshold} {unit}"


def withheld_reason(threshold: int, unit: str = RESPONSES, group: str = "group") -> str:
    """'fewer than 10 responses, or withheld so that a smaller group cannot be worked out': why a
    group is not shown (its own base, or cover for a smaller sibling)."""
    return f"{fewer_than(threshold, unit)}, or {cover_reason(group)}"


def cover_reason(group: str = "group") -> str:
    """'withheld so that a smaller group cannot be worked out': a group withheld as cover only."""
    return f"withheld so that a smaller {group} cannot be worked out"


def withheld_base(threshold: int, unit: str = RESPONSES) -> str:
    """'fewer than 10 responses or withheld': a withheld figure's base, where a cell is short."""
    return f"{fewer_than(threshold, unit)} or {WITHHELD}"


def not_shown_rule(threshold: int, unit: str = RESPONSES) -> str:
    """'groups with fewer than 10 responses are not shown': the rule as footers and banners say it."""
    return f"groups with {fewer_than(threshold, unit)} are not shown"


def withheld_short(threshold: int, unit: str = RESPONSES) -> str:
    """A withheld heatmap cell: '<10' for responses, '<10 staff' for staff in post."""
    return f"<{threshold}" if unit == RESPONSES else f"<{threshold} staff"


def sentence(text: str) -> str:
    """The text with its first letter upper-case ('Fewer than 10 responses ...')."""
    return text[:1].upper() + text[1:]
