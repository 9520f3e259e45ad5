"""AppTest of the interventions page on a copy of the demo organisation."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.framework import interventions
from tests.tabs import open_tab

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "interventions.py")



def _run(tab: str | None = None) -> AppTest:
    """The page, opened on a tab by its link (`tab=`) when one is named: only the open tab is drawn."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    if tab:
        at.query_params["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def _id_of(db, name: str) -> int:
    # same process and configuration as the page's connection, so DuckDB shares the instance
    con = store.connect(db)
    try:
        reg = interventions.list_interventions(con)
    finally:
        con.close()
    return int(reg.loc[reg.name == name, "intervention_id"].iloc[0])


def _register(at: AppTest):
    return next(d.value for d in at.dataframe if "Intervention" in d.value.columns)


def _select(at: AppTest, key: str, value: int) -> None:
    at.selectbox(key=key).select(value)
    at.run()
    assert not at.exception, at.exception


SURVEY_TEAMS = "comparison, each reportable in both waves."
ABSENCE_TEAMS = "comparison (only teams the Absence page may show over these months)."


@pytest.mark.parametrize(
    ("name", "verdicts", "level", "teams_used"),
    [
        ("Stress management programme", ["Likely improved"], 3, SURVEY_TEAMS),
        ("Manager development programme", ["Likely improved", "Likely improved"], 3, SURVEY_TEAMS),
        # absence is now judged against comparison teams (ratio of rate ratios), so level 3
        ("Rota redesign", ["Likely improved"], 3, ABSENCE_TEAMS),
        ("Wellbeing app pilot", ["No clear change", "No clear change"], 3, SURVEY_TEAMS),
    ],
)
def test_each_demo_intervention_shows_its_planted_verdict(demo_env, name, verdicts, level, teams_used):
    at = _run()
    assert at.title[0].value == "Interventions"
    _select(at, "iv", _id_of(demo_env, name))
    shown = [m.value.strip("*").split(" ", 1)[1] for m in at.markdown
             if m.value.startswith("**") and m.value.strip("*")[:1] in "▲▼●○"]
    assert shown == verdicts
    text = _text(at)
    assert f"Magenta Book level {level}" in text
    assert "95% CI" in text
    assert "not that the intervention caused it" in text
    assert teams_used in text
    # every demo evaluation has comparison teams, so the heading asks "did it work?"
    assert "Did it work? Compared with teams without it" in [h.value for h in at.header]
    if teams_used == ABSENCE_TEAMS:
        assert "the comparison teams' change in rate (95% CI" in text
        assert "The effect is the first divided by the second." in text


def test_register_lists_demo_interventions_with_status(demo_env):
    at = _run("Register")
    table = _register(at)
    assert set(table["Intervention"]) == {
        "Stress management programme", "Manager development programme", "Rota redesign",
        "Wellbeing app pilot",
    }
    assert table["Status"].str.startswith("Evaluated").all()


def test_add_then_delete_an_intervention_through_the_form(demo_env):
    at = _run("Register")
    at.text_input(key="iv_name_0").input("Quiet rooms")
    at.selectbox(key="iv_domain_0").select("environment")
    con = store.connect(demo_env)
    try:
        team = int(interventions.unit_choices(con).unit_id.iloc[0])
    finally:
        con.close()
    at.multiselect(key="iv_units_0").select(team)
    at.date_input(key="iv_start_0").set_value(date(2030, 1, 1))
    at.multiselect(key="iv_indicators_0").select("hse_demands")
    next(b for b in at.button if b.label == "Save intervention").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Added “Quiet rooms”."]
    table = _register(at).set_index("Intervention")
    assert table.loc["Quiet rooms", "Status"].startswith("Planned")

    new_id = _id_of(demo_env, "Quiet rooms")
    _select(at, "iv_edit_pick", new_id)
    key = f"iv_delete_sure_{new_id}"
    at.checkbox(key=key).check().run()
    at.button(key=key.replace("_sure", "")).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Deleted “Quiet rooms”."]
    assert "Quiet rooms" not in set(_register(at)["Intervention"])


def test_invalid_form_is_refused_with_a_reason(demo_env):
    at = _run("Register")
    at.text_input(key="iv_name_0").input("No teams")
    at.multiselect(key="iv_indicators_0").select("stress")
    next(b for b in at.button if b.label == "Save intervention").click().run()
    assert not at.exception, at.exception
    assert any("target team" in e.value for e in at.error)
    assert "No teams" not in set(_register(at)["Intervention"])


def test_settings_change_the_evaluation(demo_env):
    at = _run()
    _select(at, "iv", _id_of(demo_env, "Wellbeing app pilot"))
    iid = _id_of(demo_env, "Wellbeing app pilot")
    assert any("You can leave them out" in w.value for w in at.warning)
    at.checkbox(key=f"iv_cmp_clean_{iid}").check()
    at.radio(key=f"iv_correction_{iid}").set_value("bh").run()
    assert not at.exception, at.exception
    assert any("are left out of the comparison" in w.value for w in at.warning)
    assert any("Benjamini-Hochberg" in c.value for c in at.caption)
    shown = [m.value for m in at.markdown if m.value.startswith("**● ")]
    assert shown == ["**● No clear change**", "**● No clear change**"]


def test_waves_in_the_wrong_order_give_a_message_not_a_crash(demo_env):
    at = _run()
    iid = _id_of(demo_env, "Stress management programme")
    before = at.selectbox(key=f"iv_pre_{iid}")
    at.selectbox(key=f"iv_post_{iid}").set_value(before.value).run()
    assert not at.exception, at.exception
    assert any("Cannot evaluate" in e.value and "before" in e.value for e in at.error)


def test_running_intervention_says_not_enough_data(demo_env):
    con = store.connect(demo_env)
    try:
        team = int(interventions.unit_choices(con).unit_id.iloc[0])
        iid = interventions.create_intervention(con, interventions.Intervention(
            "Too recent", "personal_health", [team], date(2025, 11, 1), ["stress"]))
    finally:
        con.close()
    at = _run()
    _select(at, "iv", iid)
    assert [m.value for m in at.markdown if m.value.startswith("**○ ")] == ["**○ Not enough data**"]
    assert any("No survey wave after the start date" in c.value for c in at.caption)


def test_heading_follows_the_design_level():
    from types import SimpleNamespace

    from dashboard.ui import interventions_page as page

    def evaluation(*levels):
        return SimpleNamespace(results=[SimpleNamespace(level=lv) for lv in levels])

    assert page._heading(evaluation(2, None)).startswith("What changed after the start?")
    assert page._heading(evaluation(3, 3)).startswith("Did it work? Compared")
    assert "partly before/after" in page._heading(evaluation(2, 3))
    assert page._heading(None) == "Evaluate an intervention"


def test_only_the_open_tab_is_drawn(demo_env_read_only):
    evaluate = _run()
    assert evaluate.get("vega_lite_chart")  # the evaluation's charts
    assert not [w for w in evaluate.text_input if w.key and w.key.startswith("iv_name")]
    assert not [d for d in evaluate.dataframe if "Intervention" in d.value.columns]
    register = _run("Register")
    assert [w for w in register.text_input if w.key == "iv_name_0"]  # the register's form
    assert _register(register) is not None
    assert not register.get("vega_lite_chart")


def test_register_filters_are_still_set_after_a_visit_to_the_evaluation(demo_env_read_only):
    at = _run("Register")
    at.multiselect(key="iv_filter_stage").select("analyse").run()
    assert any(i.value == "No intervention matches these filters." for i in at.info)
    for tab in ("Evaluate", "Register"):  # as a click on each tab would
        open_tab(at, tab)
        assert not at.exception, at.exception
    assert at.multiselect(key="iv_filter_stage").value == ["analyse"]
    assert any(i.value == "No intervention matches these filters." for i in at.info)
