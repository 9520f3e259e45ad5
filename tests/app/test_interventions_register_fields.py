"""AppTest: the register's prevention level, resources, driver, stage and cost through the form,
shown in the register and usable as filters."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.framework import interventions
from tests.tabs import open_tab

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "interventions.py")


def _register(at: AppTest):
    return next(d.value for d in at.dataframe if "Intervention" in d.value.columns)


def test_register_fields_round_trip_through_the_form_and_filter(demo_env):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tab"] = "Register"  # only the open tab is drawn
    at.run()
    assert not at.exception, at.exception
    # the demo's register predates the fields: not recorded, shown as –
    assert set(_register(at)["Prevention"]) == {"–"}
    con = store.connect(demo_env)
    try:
        team = int(interventions.unit_choices(con).unit_id.iloc[0])
    finally:
        con.close()
    at.text_input(key="iv_name_0").input("Rota redesign 2")
    at.multiselect(key="iv_units_0").select(team)
    at.date_input(key="iv_start_0").set_value(date(2030, 1, 1))
    at.multiselect(key="iv_indicators_0").select("absence_rate")
    at.selectbox(key="iv_prevention_level_0").select("primary")
    at.selectbox(key="iv_driver_0").select("staff")
    at.selectbox(key="iv_stage_0").select("plan")
    at.multiselect(key="iv_resources_0").select("organisational").select("relational")
    at.number_input(key="iv_cost_0").set_value(12500.0)
    next(b for b in at.button if b.label == "Save intervention").click().run()
    assert not at.exception, at.exception
    row = _register(at).set_index("Intervention").loc["Rota redesign 2"]
    assert (row["Prevention"], row["Resources"], row["Driven by"], row["Stage"], row["Cost (£)"]) == (
        "Primary", "Relational, Tangible or organisational", "Staff themselves (participatory)", "Plan",
        12500.0,
    )
    # editing starts from the stored values and saves changes
    con = store.connect(demo_env)
    try:
        new_id = int(interventions.list_interventions(con).set_index("name").at["Rota redesign 2",
                                                                              "intervention_id"])
    finally:
        con.close()
    at.selectbox(key="iv_edit_pick").select(new_id).run()
    assert at.selectbox(key=f"iv_prevention_level_{new_id}").value == "primary"
    assert at.multiselect(key=f"iv_resources_{new_id}").value == ["relational", "organisational"]
    at.selectbox(key=f"iv_stage_{new_id}").select("implement")
    next(b for b in at.button if b.label == "Save intervention").click().run()
    assert not at.exception, at.exception
    con = store.connect(demo_env)
    try:
        got = interventions.get_intervention(con, new_id)
    finally:
        con.close()
    assert (got["prevention_level"], got["stage"], got["cost"]) == ("primary", "implement", 12500.0)
    # the evaluation tab names the fields of the chosen intervention (opened as a click would)
    open_tab(at, "Evaluate")
    at.selectbox(key="iv").select(new_id).run()
    assert any(c.value.startswith("Primary prevention · resources: Relational, Tangible or organisational")
               for c in at.caption)
    # filters (back on the register): primary prevention keeps only the new one
    open_tab(at, "Register")
    at.multiselect(key="iv_filter_prevention_level").select("primary").run()
    assert _register(at)["Intervention"].tolist() == ["Rota redesign 2"]
    at.multiselect(key="iv_filter_prevention_level").unselect("primary").run()
    at.multiselect(key="iv_filter_stage").select("analyse").run()
    assert any(i.value == "No intervention matches these filters." for i in at.info)
