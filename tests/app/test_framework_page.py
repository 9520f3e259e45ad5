"""AppTest of the Framework page on a copy of the demo: diagnostic, improvement plan, drivers."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.framework import improvement, interventions
from dashboard.metrics import drivers
from tests import expanders

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "framework.py")


def _run() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


COLUMNS = {"fw_actions": "Owner", "fw_drv_table": "Condition"}


def _frame(at: AppTest, key: str):
    """The table the page draws under `key` (found by a column only it has), or None."""
    return next((d.value for d in at.dataframe if COLUMNS[key] in d.value.columns), None)


def _beside(at: AppTest):
    expanders.open_all(at, "sixteen elements")
    return next(d.value for d in at.dataframe if "Self-rating" in d.value.columns)


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def test_record_an_assessment_and_see_it_beside_the_data(demo_env):
    at = _run()
    assert at.title[0].value == "Framework"
    table = _beside(at)
    assert len(table) == 16 and set(table["Self-rating"]) == {"Not yet assessed"}
    at.selectbox(key="fw_element").select("mental_emotional").run()
    assert any("What good looks like: Staff can reach timely psychological support" in c.value
               for c in at.caption)
    at.radio(key="fw_rating").set_value(3)
    at.text_input(key="fw_by").input("Wellbeing steering group")
    at.text_area(key="fw_evidence").input("EAP in place; stress risk assessments")
    at.date_input(key="fw_date").set_value(date(2025, 11, 20))
    _click(at, "Save assessment")
    # the message quotes user-typed names, so it is Markdown-escaped: read it as shown
    assert any("Recorded Mental and emotional wellbeing: 3 Established" in re.sub(r"\\(.)", r"\1", s.value)
               for s in at.success)
    row = _beside(at).set_index("Element").loc["Mental and emotional wellbeing"]
    assert row["Self-rating"] == "Established (3)"
    assert row["Assessed"] == "20 Nov 2025 by Wellbeing steering group"
    assert row["Evidence"] == "EAP in place; stress risk assessments"
    # personal health scores ~5.5 / 10 in the demo's latest wave: rated established, flagged
    assert row["Flag"].startswith("⚠ Rated well, but staff report otherwise")
    assert 5 < row["Domain score"] < 6
    assert "Stress 42.9%" in row["Figures in the domain"]
    assert any("Mental and emotional wellbeing" in w.value for w in at.warning)
    card = [m.value for m in at.markdown if m.value.startswith("Mental and emotional wellbeing:")]
    assert card[0].startswith("Mental and emotional wellbeing: **Established** (20 Nov 2025, "
                              "Wellbeing steering group)")
    assert "⚠ Rated well, but staff report otherwise: the domain scores 5." in card[0]
    assert any(m.value.startswith("**Improving personal health and wellbeing** · data: 5.")
               for m in at.markdown)
    # a second, later assessment keeps the first as history
    at.radio(key="fw_rating").set_value(2)
    at.text_input(key="fw_by").input("Board")
    at.date_input(key="fw_date").set_value(date(2025, 12, 1))
    _click(at, "Save assessment")
    card = [m.value for m in at.markdown if m.value.startswith("Mental and emotional wellbeing:")]
    assert card[0].startswith("Mental and emotional wellbeing: **Developing** (01 Dec 2025, Board) "
                              "· before: Established")
    assert "⚠" not in card[0]


def test_an_assessment_without_who_is_refused_and_nothing_saved(demo_env):
    at = _run()
    at.radio(key="fw_rating").set_value(2)
    _click(at, "Save assessment")
    assert any("say who assessed" in e.value for e in at.error)
    con = store.connect(demo_env)
    try:
        assert con.execute("SELECT count(*) FROM diagnostic_assessments").fetchone()[0] == 0
    finally:
        con.close()


def _section(at: AppTest, name: str) -> AppTest:
    at.get("button_group")[0].set_value(name).run()
    assert not at.exception, at.exception
    return at


def test_plan_an_action_note_progress_and_register_it(demo_env):
    at = _section(_run(), "plan")
    at.text_input(key="fw_act_0_title").input("Rest rooms on every ward")
    at.radio(key="fw_act_0_kind").set_value("indicator").run()
    at.selectbox(key="fw_act_0_indicator").select("hse_demands")
    at.text_input(key="fw_act_0_owner").input("Director of Estates")
    at.date_input(key="fw_act_0_due").set_value(date(2026, 3, 31))
    _click(at, "Save action")
    plan = _frame(at, "fw_actions")
    assert plan["Action"].tolist() == ["Rest rooms on every ward"]
    assert plan["Addresses"].tolist() == ["Indicator: HSE Demands (includes the work environment)"]
    con = store.connect(demo_env)
    try:
        action_id = int(improvement.list_actions(con).action_id.iloc[0])
    finally:
        con.close()
    at.selectbox(key="fw_action_pick").select(action_id).run()
    at.text_area(key=f"fw_note_text_{action_id}").input("Two wards done")
    _click(at, "Add note")
    assert _frame(at, "fw_actions")["Latest note"].tolist() == ["Two wards done"]
    con = store.connect(demo_env)
    try:
        ward = int(con.execute("SELECT unit_id FROM units WHERE team = 'Ward 5 Elderly Care'").fetchone()[0])
    finally:
        con.close()
    at.multiselect(key=f"fw_iv_units_{action_id}").select(ward)
    at.selectbox(key=f"fw_iv_level_{action_id}").select("primary")
    at.multiselect(key=f"fw_iv_res_{action_id}").select("organisational")
    _click(at, "Add to the register")
    con = store.connect(demo_env)
    try:
        reg = interventions.list_interventions(con).set_index("name")
    finally:
        con.close()
    entry = reg.loc["Rest rooms on every ward"]
    assert entry.domain == "environment" and list(entry.indicators) == ["hse_demands"]
    assert entry.prevention_level == "primary" and list(entry.resources) == ["organisational"]
    assert entry.stage == "implement"
    assert _frame(at, "fw_actions")["In the register"].tolist() == ["Rest rooms on every ward"]


def test_drivers_for_the_organisation_and_a_large_team(demo_env):
    at = _section(_run(), "drivers")
    at.selectbox(key="fw_drv_outcome").select("work_life_balance").run()
    assert not at.exception
    table = _frame(at, "fw_drv_table")
    assert len(table) == 8 and set(table.Reading) <= {"clear association", "no clear association"}
    assert any("at least 50 of their respondents" in c.value for c in at.caption)
    assert any("not causes" in i.value for i in at.info)
    con = store.connect(demo_env)
    try:
        teams = drivers.eligible_teams(con, 3, 10, "work_life_balance")
    finally:
        con.close()
    assert len(at.selectbox(key="fw_drv_scope").options) == 1 + len(teams)
    at.selectbox(key="fw_drv_scope").select(int(teams.unit_id.iloc[0])).run()
    assert not at.exception, at.exception
    assert _frame(at, "fw_drv_table") is not None
