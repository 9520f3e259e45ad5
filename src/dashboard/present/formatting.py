"""How figures read on screen: percentages, 1-5 means, 0-10 scores, changes."""
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


def score(v: float | None) -> str:
    return "–" if _missing(v) else f"{v:.1f} / 10"
