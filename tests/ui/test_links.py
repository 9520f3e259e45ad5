"""ui/links.py: a link's value a widget does not offer falls back with a note, per widget kind."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from dashboard.ui import links

    links.selectbox(st, "Wave", ["2024", "2025"], key="wave", what="survey wave")
    links.multiselect(st, "Teams", ["A", "B", "C"], key="teams", what="teams")
    links.select_slider(st, "Month", ["Jan", "Feb"], key="month", what="month")
    links.toggle(st, "Compare", key="cmp")


def _notes(**params) -> list[str]:
    at = AppTest.from_function(_script, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return [i.value for i in at.info]


def test_values_the_widgets_offer_give_no_note():
    assert _notes(wave="2024", teams=["A", "C"], month="Feb", cmp="true") == []


@pytest.mark.parametrize(("params", "expected"), [
    ({"wave": "2019"}, "The survey wave in the link is not available here; showing the default."),
    ({"teams": ["Z", "A"]}, "Some teams in the link are not available here and were left out."),
    ({"month": "Mar"}, "The month in the link is not available here; showing the default."),
    ({"cmp": "maybe"}, "The setting “Compare” in the link is not available here; showing the default."),
])
def test_a_value_not_offered_falls_back_with_a_note(params, expected):
    assert _notes(**params) == [expected]
