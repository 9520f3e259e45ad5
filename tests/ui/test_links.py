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


# ---- kept widgets: in a tab drawn only when open, their choice stays in the URL --------------

def _tabbed():
    import streamlit as st

    from dashboard.ui import links

    first, second = links.tabs(["Choices", "Elsewhere"])
    with first:
        if first.open:
            links.selectbox(st, "Wave", ["2024", "2025"], key="wave", what="survey wave", keep=True)
            links.toggle(st, "Compare", key="cmp", keep=True)
    with second:
        if second.open:
            st.write("elsewhere")


def _tabbed_app(**params) -> AppTest:
    at = AppTest.from_function(_tabbed, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _switch(at: AppTest, label: str) -> AppTest:
    if "tab" in at.query_params:
        del at.query_params["tab"]
    at.session_state["tab"] = label
    return at.run()


def test_a_kept_widget_takes_its_value_from_the_link_and_writes_it_back():
    at = _tabbed_app(wave="2025", cmp="true")
    assert not at.exception, at.exception
    assert at.selectbox(key="wave").value == "2025" and at.toggle(key="cmp").value is True
    at.selectbox(key="wave").set_value("2024").run()      # the default: it leaves the link
    at.toggle(key="cmp").set_value(False).run()
    assert "wave" not in at.query_params and "cmp" not in at.query_params
    at.selectbox(key="wave").set_value("2025").run()
    assert at.query_params["wave"] == "2025"


def test_a_kept_widget_in_a_closed_tab_leaves_its_choice_in_the_link():
    at = _tabbed_app(wave="2025", cmp="true", tab="Elsewhere")
    assert not at.exception, at.exception
    assert not at.selectbox and not at.toggle                 # not drawn
    assert (at.query_params["wave"], at.query_params["cmp"]) == ("2025", "true")
    _switch(at, "Choices")
    assert at.selectbox(key="wave").value == "2025" and at.toggle(key="cmp").value is True
    _switch(at, "Elsewhere")
    assert (at.query_params["wave"], at.query_params["cmp"]) == ("2025", "true")


def test_a_kept_widget_says_when_the_link_value_is_not_offered():
    at = _tabbed_app(wave="2019", cmp="maybe")
    assert [i.value for i in at.info] == [
        "The survey wave in the link is not available here; showing the default.",
        "The setting “Compare” in the link is not available here; showing the default."]
    assert at.selectbox(key="wave").value == "2024" and at.toggle(key="cmp").value is False
    assert "wave" not in at.query_params and "cmp" not in at.query_params
