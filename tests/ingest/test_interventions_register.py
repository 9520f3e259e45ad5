"""The interventions import kind carries the register fields: keys or labels in, keys stored,
unknown values skipped with the row, the column and the values allowed."""
from __future__ import annotations

from dashboard.framework import interventions
from dashboard.ingest import pipeline
from tests.ingest.conftest import UPLOADS


def _import(con, name, kind):
    _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind)
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="test")
    return prepared.report


def test_register_fields_import_and_read_back(con):
    _import(con, "structure.ods", "structure")
    report = _import(con, "interventions_register.csv", "interventions")
    register = interventions.list_interventions(con).set_index("name")
    # rows 4 (quaternary) and 5 (spiritual, negative cost) are skipped; the rest are stored as keys
    assert sorted(register.index) == ["Resilience course", "Rota redesign", "Walking group"]
    rota = interventions.get_intervention(con, int(register.at["Rota redesign", "intervention_id"]))
    assert (rota["prevention_level"], rota["resources"], rota["driver"], rota["stage"], rota["cost"]) == (
        "primary", ["relational", "organisational"], "managers", "implement", 12500.0
    )
    course = interventions.get_intervention(con, int(register.at["Resilience course", "intervention_id"]))
    assert (course["prevention_level"], course["resources"], course["driver"], course["stage"],
            course["cost"]) == ("secondary", ["individual"], "external", "evaluate", 800.0)
    walk = interventions.get_intervention(con, int(register.at["Walking group", "intervention_id"]))
    assert (walk["prevention_level"], walk["resources"], walk["driver"], walk["stage"], walk["cost"]) == (
        None, [], None, None, None
    )
    problems = report.problems
    skipped = problems[problems.reason.str.contains("row skipped")]
    found = {(int(r), c, str(v)) for r, c, v in zip(skipped.row, skipped.column, skipped.value,
                                                      strict=True)}
    assert (4, "Prevention level", "quaternary") in found
    assert (5, "Resources targeted", "spiritual") in found
    reason = skipped.loc[skipped.column == "Prevention level", "reason"].iloc[0]
    assert "Primary, Secondary, Tertiary" in reason


def test_register_fields_round_trip_through_edit(con):
    _import(con, "structure.ods", "structure")
    _import(con, "interventions_register.csv", "interventions")
    row = interventions.list_interventions(con).set_index("name").loc["Walking group"]
    iv = interventions.get_intervention(con, int(row.intervention_id))
    interventions.update_intervention(con, iv["intervention_id"], interventions.Intervention(
        iv["name"], iv["domain"], iv["unit_ids"], iv["start_date"], iv["indicators"],
        fields=interventions.RegisterFields("tertiary", ("relational",), "staff", "analyse", 0.0),
    ))
    again = interventions.get_intervention(con, iv["intervention_id"])
    assert (again["prevention_level"], again["resources"], again["driver"], again["stage"],
            again["cost"]) == ("tertiary", ["relational"], "staff", "analyse", 0.0)
