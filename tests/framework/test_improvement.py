"""The improvement plan: actions on gaps, progress notes, and an action becoming an intervention."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard import store
from dashboard.framework import improvement, interventions
from dashboard.framework.improvement import PlanError
from tests import tiny_org


@pytest.fixture
def con(tmp_path):
    c = tiny_org.build(tmp_path / "s.duckdb")
    yield c
    c.close()


def test_actions_on_each_kind_of_gap_with_overdue_and_notes(con):
    a = improvement.create_action(con, "Review rotas", "indicator", "Jo Bloggs", date(2025, 3, 1),
                                  gap_id="stress")
    b = improvement.create_action(con, "Manager training", "domain", "HR", date(2025, 9, 1),
                                  gap_id="managers_leaders", status="in progress")
    c = improvement.create_action(con, "Team listening event", "team", "Matron", date(2025, 1, 1),
                                  unit_id=2, status="done")
    version = store.dataset_version(con)
    improvement.add_progress(con, a, "Draft rota shared", date(2025, 2, 1))
    assert store.dataset_version(con) == version  # records change no figure
    improvement.add_progress(con, a, "Staff consulted", date(2025, 2, 20))
    plan = improvement.list_actions(con, today=date(2025, 4, 1)).set_index("action_id")
    assert list(plan.index) == [c, a, b]   # soonest due first
    assert plan.at[a, "gap"] == "Indicator: Work-related stress"
    assert plan.at[b, "gap"] == "Domain: Managers and leaders"
    assert plan.at[c, "gap"] == "Team: Ward B"
    # overdue: still open and past due; a done action is never overdue
    assert plan.overdue.to_dict() == {c: False, a: True, b: False}
    assert plan.at[a, "notes"] == 2 and plan.at[a, "last_note"] == "Staff consulted"
    assert improvement.progress(con, a).note.tolist() == ["Staff consulted", "Draft rota shared"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "  "}, "say what the action is"),
        ({"gap_kind": "person"}, "not 'person'"),
        ({"gap_id": "happiness"}, "unknown indicator"),
        ({"gap_kind": "team", "gap_id": None, "unit_id": 99}, "unknown team"),
        ({"gap_kind": "team", "gap_id": None}, "choose the team"),
        ({"owner": ""}, "owner"),
        ({"due_date": None}, "due date"),
        ({"status": "paused"}, "unknown status"),
    ],
)
def test_bad_actions_are_refused(con, kwargs, message):
    args = {"title": "Do it", "gap_kind": "indicator", "owner": "Me", "due_date": date(2025, 1, 1),
            "gap_id": "stress"} | kwargs
    with pytest.raises(PlanError, match=message):
        improvement.create_action(con, **args)
    assert con.execute("SELECT count(*) FROM plan_actions").fetchone()[0] == 0


def test_update_and_delete(con):
    a = improvement.create_action(con, "X", "indicator", "Me", date(2025, 1, 1), gap_id="stress")
    improvement.add_progress(con, a, "note", date(2025, 1, 1))
    improvement.update_action(con, a, "Y", "team", "You", date(2025, 2, 1), "done", unit_id=1)
    row = improvement.list_actions(con).iloc[0]
    assert (row.title, row.gap, row.owner, row.status) == ("Y", "Team: Ward A", "You", "done")
    assert row.gap_id is None or row.gap_id != row.gap_id  # a team gap carries no catalogue id
    improvement.delete_action(con, a)
    assert con.execute("SELECT count(*) FROM plan_progress").fetchone()[0] == 0
    with pytest.raises(PlanError):
        improvement.delete_action(con, a)
    with pytest.raises(PlanError):
        improvement.add_progress(con, a, "late", date(2025, 3, 1))


def test_action_becomes_an_intervention_in_the_register(con):
    a = improvement.create_action(con, "Rest rooms", "indicator", "Estates", date(2025, 6, 1),
                                  gap_id="hse_demands")
    base = improvement.intervention_defaults(con, a)
    assert base["domain"] == "environment" and base["indicators"] == ["hse_demands"]
    version = store.dataset_version(con)
    new_id = improvement.to_intervention(
        con, a, date(2025, 1, 1), [1, 3], base["indicators"],
        fields=interventions.RegisterFields("primary", ("organisational",), "staff", "implement", 5000),
    )
    assert store.dataset_version(con) == version + 1
    got = interventions.get_intervention(con, new_id)
    assert (got["name"], got["domain"], got["unit_ids"], got["indicators"]) == (
        "Rest rooms", "environment", [3, 1], ["hse_demands"]   # ordered by team name
    )
    assert (got["prevention_level"], got["resources"], got["driver"], got["stage"], got["cost"]) == (
        "primary", ["organisational"], "staff", "implement", 5000.0
    )
    row = improvement.list_actions(con).iloc[0]
    assert int(row.intervention_id) == new_id and row.intervention == "Rest rooms"
    with pytest.raises(PlanError, match="already in the register"):
        improvement.to_intervention(con, a, date(2025, 1, 1), [1], ["hse_demands"])
    # deleting the register entry unlinks the action quietly
    interventions.delete_intervention(con, new_id)
    assert improvement.list_actions(con).intervention.isna().all()


def test_a_refused_intervention_leaves_the_action_unlinked(con):
    a = improvement.create_action(con, "Talk", "team", "Me", date(2025, 6, 1), unit_id=2)
    assert improvement.intervention_defaults(con, a)["unit_ids"] == [2]
    with pytest.raises(PlanError, match="choose the domain"):
        improvement.to_intervention(con, a, date(2025, 1, 1), [2], ["stress"])
    with pytest.raises(PlanError, match="at least one indicator"):
        improvement.to_intervention(con, a, date(2025, 1, 1), [2], [], domain="relationships")
    assert con.execute("SELECT count(*) FROM interventions").fetchone()[0] == 0
    assert improvement.list_actions(con).intervention_id.isna().all()


def test_summary_counts_for_a_report(con):
    assert improvement.summary(improvement.list_actions(con)) == {
        "total": 0, "by_status": {"not started": 0, "in progress": 0, "done": 0, "dropped": 0},
        "overdue": 0, "in_register": 0,
    }
    a = improvement.create_action(con, "A", "indicator", "Me", date(2025, 1, 1), gap_id="stress")
    improvement.create_action(con, "B", "indicator", "Me", date(2025, 1, 1), gap_id="stress", status="done")
    improvement.create_action(con, "C", "indicator", "Me", date(2027, 1, 1), gap_id="stress",
                              status="in progress")
    improvement.to_intervention(con, a, date(2025, 1, 1), [1], ["stress"], domain="personal_health")
    got = improvement.summary(improvement.list_actions(con, today=date(2026, 1, 1)))
    assert got == {"total": 3, "by_status": {"not started": 1, "in progress": 1, "done": 1, "dropped": 0},
                   "overdue": 1, "in_register": 1}
