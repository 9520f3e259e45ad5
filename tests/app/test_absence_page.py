"""AppTest of the absence page on the demo organisation."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboard import periods, store
from dashboard.metrics import absence
from dashboard.ui import absence_page
from tests.tabs import open_tab

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "absence.py")



def _texts(at) -> str:
    parts = [c.value for c in at.caption] + [m.value for m in at.markdown] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def test_absence_page_renders_every_section(demo_env_read_only):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Absence"
    assert [t.label for t in at.tabs] == list(absence_page.TABS)
    heads, text, labels = [], "", {}
    for tab in absence_page.TABS:
        open_tab(at, tab)
        assert not at.exception, (tab, at.exception)
        heads += [h.value for h in at.header]
        text += _texts(at)
        labels |= {m.label: m.value for m in at.metric}
    assert heads == ["Sickness absence rate", "By directorate", "Reasons", "Patterns",
                     "Bradford Factor (group level)", "Survey × absence by team"]
    # the day-count convention is on screen, and the Bradford caveat with it
    assert absence.DAY_COUNTS["calendar"] in text
    assert absence.BRADFORD_CAVEAT in text
    assert labels["Rolling 12 months"].endswith("%")
    assert labels["Teams"].isdigit() and int(labels["Teams"]) >= 10
    assert labels["Pearson r"] != "–"
    assert labels["r weighted by respondents"] != "–"
    assert any("ecological fallacy" in c.value for c in at.caption)


def test_only_the_open_tab_is_drawn(demo_env_read_only):
    """Each tab draws its own section and nothing of the others (a tab switch reruns the page)."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    charts = {}
    for tab in absence_page.TABS:
        open_tab(at, tab)
        assert not at.exception, (tab, at.exception)
        charts[tab] = len(at.get("vega_lite_chart"))
        heads = [h.value for h in at.header]
        assert len(heads) == (2 if tab == "Rates" else 1), (tab, heads)
        # the period, day count, comparison and scope hold for every tab
        assert {w.key for w in at.selectbox} >= {"by", "scope"} and at.radio(key="days")
    # rate and comparison; reasons and shares; short/long and seasonality; bands; the scatter
    assert charts == {"Rates": 2, "Reasons": 2, "Patterns": 2, "Bradford Factor": 1,
                      "Survey × absence": 1}


def test_survey_choices_stay_in_the_link_while_their_tab_is_closed(demo_env_read_only):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tab"] = "Survey × absence"
    at.run()
    r = next(m.value for m in at.metric if m.label == "Pearson r")
    at.radio(key="measure").set_value(list(absence.MEASURES)[1]).run()
    assert not at.exception, at.exception
    changed = next(m.value for m in at.metric if m.label == "Pearson r")
    assert at.query_params["measure"] == absence.MEASURES[list(absence.MEASURES)[1]]
    open_tab(at, "Rates")
    assert at.query_params["measure"] == absence.MEASURES[list(absence.MEASURES)[1]]  # a copied link
    open_tab(at, "Survey × absence")
    assert at.radio(key="measure").value == list(absence.MEASURES)[1]
    assert next(m.value for m in at.metric if m.label == "Pearson r") == changed
    assert not [w for w in at.warning if "Session State" in w.value]
    assert changed != r  # the other measure's correlation, not the first one's


def test_absence_page_working_days_and_team_scope(demo_env_read_only):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    whole = next(m.value for m in at.metric if m.label == "Whole period")
    at.radio(key="days").set_value("working").run()
    assert not at.exception, at.exception
    assert absence.DAY_COUNTS["working"] in _texts(at)
    # the tile shows the working-day rate, computed here straight from the store
    con = store.connect(demo_env_read_only)  # same configuration as the page's own connection
    first, last = absence.data_range(con)
    start = (pd.Timestamp(last) - pd.DateOffset(months=23)).date()
    calendar = absence.period_summary(con, start, periods.month_end(last))["rate"]
    working = absence.period_summary(con, start, periods.month_end(last), day_count="working")["rate"]
    con.close()
    assert whole == f"{calendar * 100:.2f}%"
    assert next(m.value for m in at.metric if m.label == "Whole period") == f"{working * 100:.2f}%"
    at.selectbox(key="scope").set_value("team").run()
    assert not at.exception, at.exception
    team = at.selectbox(key="in").value
    con = store.connect(demo_env_read_only)
    end = periods.month_end(last)
    options = absence.scope_options(con, start, end, 10, "team")
    units = [int(u) for u in options.loc[options.team == team, "unit_ids"].iloc[0]]
    team_rate = absence.period_summary(con, start, end, units, day_count="working")["rate"]
    con.close()
    # only teams shown under the anonymity rule are offered, and the tiles follow the choice
    assert team in set(options.team) and len(options) < 64
    assert next(m.value for m in at.metric if m.label == "Whole period") == f"{team_rate * 100:.2f}%"
    at.selectbox(key="by").set_value("site").run()
    assert not at.exception, at.exception


def test_bradford_can_be_hidden(demo_env_read_only, monkeypatch):
    from dashboard import config

    real = config.settings

    def hidden():
        return config.Settings(**{**real().__dict__, "show_bradford": False})

    monkeypatch.setattr("dashboard.ui.absence_page.settings", hidden)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == [t for t in absence_page.TABS if t != "Bradford Factor"]
    for tab in [t.label for t in at.tabs]:
        open_tab(at, tab)
        assert not at.exception, (tab, at.exception)
        assert "Bradford Factor (group level)" not in [h.value for h in at.header]
        assert absence.BRADFORD_CAVEAT not in _texts(at)


def test_changing_the_scope_kind_gives_no_fall_back_note(demo_env_read_only):
    """A directorate chosen, then the scope kind changed to Site: the old name is not a site, but
    nobody sent a link naming it, so no "cannot be shown" note; the first site is shown."""
    # AppTest does not write bound widgets to the URL: the browser's URL is set as it would be
    # (reproduced in Chromium: "Site “Medicine” cannot be shown on its own for this period")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["scope"] = "Directorate"
    at.query_params["in"] = "Medicine"
    at.run()
    assert at.selectbox(key="in").value == "Medicine"
    at.selectbox(key="scope").set_value("site").run()
    assert not at.exception, at.exception
    assert not [i.value for i in at.info if "cannot be shown" in i.value]
    assert at.selectbox(key="in").value == at.selectbox(key="in").options[0]
    # a link that names a site the period cannot show still says so
    at.query_params["in"] = "Nowhere"
    at.run()
    assert [i.value for i in at.info if "“Nowhere” cannot be shown on its own" in i.value]
