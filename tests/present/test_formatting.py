"""How figures read: percentages, means, changes without a misleading '-0.0'."""
from __future__ import annotations

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
