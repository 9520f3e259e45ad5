"""Intervention register: create/edit/delete in one transaction, derived status, overlaps."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard import store
from dashboard.framework import interventions as iv
from tests import tiny_org

# tiny_org: units 1 Ward A, 2 Ward B, 3 Clinic C; waves fielded 2024-10-15, 2025-10-15,
# 2026-10-15; Ward A answered in 2024 and 2025, Ward B only in 2024, Clinic C only in 2025.


@pytest.fixture
def con(tmp_path):
    con = tiny_org.build(tmp_path / "s.duckdb")
    # Clinic C: staff in post May-Aug 2024 and one absence episode, for the absence status.
    con.executemany(
        "INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (3, ?, 10, 9.0)",
        [[date(2024, m, 1)] for m in (5, 6, 7, 8)],
    )
    con.execute(
        "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date)"
        " VALUES (1, 'e1', 3, DATE '2024-06-03', DATE '2024-06-05')"
    )
    return con


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _create(con, **overrides) -> int:
    args = dict(
        name="Stress workshops", domain="personal_health", unit_ids=[2, 1],
        start_date=date(2025, 1, 1), indicators=["stress"],
    )
    register = {k: overrides.pop(k) for k in iv.REGISTER_FIELDS if k in overrides}
    if "resources" in register:
        register["resources"] = tuple(register["resources"])
    args.update(overrides)
    return iv.create_intervention(con, iv.Intervention(**args, fields=iv.RegisterFields(**register)))


def test_create_lists_with_sorted_targets_and_bumps_version(con):
    before = store.dataset_version(con)
    new_id = _create(con, end_date=date(2025, 6, 30), notes="  pilot  ")
    assert store.dataset_version(con) == before + 1
    got = iv.get_intervention(con, new_id, as_of=date(2025, 12, 1))
    assert got["name"] == "Stress workshops"
    assert got["domain_name"] == "Improving personal health and wellbeing"
    assert got["unit_ids"] == [1, 2]
    assert got["teams"] == ["Ward A", "Ward B"]
    assert got["start_date"] == date(2025, 1, 1)
    assert got["end_date"] == date(2025, 6, 30)
    assert got["indicators"] == ["stress"]
    assert got["notes"] == "pilot"
    assert _count(con, "intervention_units") == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "  "}, "name"),
        ({"domain": "happiness"}, "unknown domain"),
        ({"end_date": date(2024, 12, 31)}, "before the start"),
        ({"indicators": []}, "at least one indicator"),
        ({"indicators": ["stress", "joy"]}, "joy"),
        ({"indicators": ["response_rate"]}, "data-quality"),
        ({"unit_ids": []}, "target team"),
        ({"unit_ids": [1, 99]}, "99"),
    ],
)
def test_invalid_intervention_is_refused_and_nothing_written(con, overrides, message):
    before = store.dataset_version(con)
    with pytest.raises(iv.InterventionError, match=message):
        _create(con, **overrides)
    assert _count(con, "interventions") == 0
    assert _count(con, "intervention_units") == 0
    assert store.dataset_version(con) == before


def test_status_from_dates_and_data(con):
    survey_both_sides = _create(con, unit_ids=[1])  # Ward A: wave 2024 before, 2025 after
    survey_no_post = _create(con, name="B only", unit_ids=[2])  # Ward B answered only in 2024
    absence_both = _create(con, name="Rota", unit_ids=[3], indicators=["absence_rate"],
                           start_date=date(2024, 7, 1))
    # starts mid-August: no whole month after the start in the data
    absence_no_post = _create(con, name="Rota late", unit_ids=[3], indicators=["absence_rate"],
                              start_date=date(2024, 8, 15))
    # survey indicator on a unit with no wave before the start
    survey_no_pre = _create(con, name="C survey", unit_ids=[3], start_date=date(2024, 1, 1))
    reg = iv.list_interventions(con, as_of=date(2025, 12, 1)).set_index("intervention_id")
    assert reg.loc[survey_both_sides, "status"] == "evaluated"
    assert reg.loc[survey_no_post, "status"] == "running"
    assert reg.loc[absence_both, "status"] == "evaluated"
    assert reg.loc[absence_no_post, "status"] == "running"
    assert reg.loc[survey_no_pre, "status"] == "running"
    # before its start date every intervention is planned, whatever the data
    early = iv.list_interventions(con, as_of=date(2023, 1, 1))
    assert set(early.status) == {"planned"}
    # the start day itself counts as started
    assert iv.get_intervention(con, absence_both, as_of=date(2024, 7, 1))["status"] == "evaluated"
    assert iv.get_intervention(con, absence_both, as_of=date(2024, 6, 30))["status"] == "planned"


def test_update_replaces_fields_and_targets(con):
    new_id = _create(con)
    version = store.dataset_version(con)
    iv.update_intervention(con, new_id, iv.Intervention(
        name="Renamed", domain="managers_leaders", unit_ids=[3],
        start_date=date(2024, 3, 1), indicators=["hse_manager_support", "manager_interest"],
        end_date=None, notes=None,
    ))
    got = iv.get_intervention(con, new_id)
    assert (got["name"], got["domain"], got["unit_ids"]) == ("Renamed", "managers_leaders", [3])
    assert got["indicators"] == ["hse_manager_support", "manager_interest"]
    assert got["end_date"] is None and got["notes"] is None
    assert _count(con, "intervention_units") == 1
    assert store.dataset_version(con) == version + 1


def test_update_or_delete_unknown_id_changes_nothing(con):
    new_id = _create(con)
    version = store.dataset_version(con)
    with pytest.raises(iv.InterventionError, match="no intervention"):
        iv.update_intervention(con, new_id + 1, iv.Intervention(
            name="X", domain="personal_health", unit_ids=[3], start_date=date(2024, 3, 1),
            indicators=["stress"]))
    with pytest.raises(iv.InterventionError, match="no intervention"):
        iv.delete_intervention(con, new_id + 1)
    with pytest.raises(iv.InterventionError, match="no intervention"):
        iv.get_intervention(con, new_id + 1)
    assert _count(con, "intervention_units") == 2
    assert store.dataset_version(con) == version


def test_delete_removes_intervention_and_targets(con):
    keep = _create(con, name="Keep")
    drop = _create(con, name="Drop", unit_ids=[3])
    iv.delete_intervention(con, drop)
    reg = iv.list_interventions(con)
    assert reg.intervention_id.tolist() == [keep]
    left = con.execute("SELECT list(unit_id ORDER BY unit_id) FROM intervention_units").fetchone()[0]
    assert left == [1, 2]


def test_failure_inside_the_transaction_leaves_no_half_written_rows(con, monkeypatch):
    existing = _create(con, name="Existing")

    def boom(_con):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(store, "bump_version", boom)
    with pytest.raises(RuntimeError):
        _create(con, name="New")
    with pytest.raises(RuntimeError):
        iv.update_intervention(con, existing, iv.Intervention(
            name="Changed", domain="personal_health", unit_ids=[3], start_date=date(2024, 1, 1),
            indicators=["stress"]))
    with pytest.raises(RuntimeError):
        iv.delete_intervention(con, existing)
    reg = iv.list_interventions(con)
    assert reg.name.tolist() == ["Existing"]
    assert list(reg.unit_ids.iloc[0]) == [1, 2]


def test_overlaps_need_a_shared_unit_and_a_shared_period(con):
    a = _create(con, name="A", unit_ids=[1, 2], start_date=date(2024, 1, 1), end_date=date(2024, 6, 30))
    b = _create(con, name="B", unit_ids=[2, 3], start_date=date(2024, 6, 1))
    c = _create(con, name="C", unit_ids=[1], start_date=date(2025, 1, 1))
    reg = iv.list_interventions(con).set_index("intervention_id")
    assert list(reg.loc[a, "overlaps_with"]) == ["B"]  # June 2024 on Ward B
    assert list(reg.loc[b, "overlaps_with"]) == ["A"]
    assert list(reg.loc[c, "overlaps_with"]) == []  # Ward A again, but after A ended

    # window after A ended: only C is active on Ward A
    later = iv.overlapping(con, [1], start=date(2024, 12, 1))
    assert later.name.tolist() == ["C"]
    window = iv.overlapping(con, [1, 2], start=date(2024, 1, 1), end=date(2024, 12, 31))
    assert window.name.tolist() == ["A", "B"]
    assert window.shared_units.tolist() == [2, 1]
    assert [list(t) for t in window.shared_teams] == [["Ward A", "Ward B"], ["Ward B"]]
    # an intervention never overlaps itself
    others = iv.overlapping(con, [1, 2], date(2024, 1, 1), date(2024, 12, 31), exclude_id=a)
    assert others.name.tolist() == ["B"]


# ---- register fields (prevention level, resources, driver, stage, cost) ------------------------

def test_register_fields_round_trip_through_create_and_edit(con):
    new_id = _create(con, prevention_level="primary", resources=["organisational", "relational"],
                     driver="managers", stage="plan", cost=1250.5)
    got = iv.get_intervention(con, new_id)
    assert (got["prevention_level"], got["resources"], got["driver"], got["stage"], got["cost"]) == (
        "primary", ["relational", "organisational"], "managers", "plan", 1250.5
    )
    iv.update_intervention(con, new_id, iv.Intervention(
        "Stress workshops", "personal_health", [1], date(2025, 1, 1), ["stress"],
        fields=iv.RegisterFields("secondary", ("individual",), None, "evaluate", None)))
    got = iv.get_intervention(con, new_id)
    assert (got["prevention_level"], got["resources"], got["driver"], got["stage"], got["cost"]) == (
        "secondary", ["individual"], None, "evaluate", None
    )
    # not given at all: not recorded
    plain = iv.get_intervention(con, _create(con, name="Plain"))
    assert (plain["prevention_level"], plain["resources"], plain["cost"]) == (None, [], None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prevention_level", "quaternary", "unknown prevention level 'quaternary'; choose one of Primary"),
        ("resources", ["individual", "spiritual"], "unknown resource"),
        ("driver", "the cat", "unknown who drives it"),
        ("stage", "celebrate", "unknown stage"),
        ("cost", -1.0, "must be zero or more"),
        ("cost", "lots", "not a number"),
    ],
)
def test_bad_register_fields_are_refused(con, field, value, message):
    with pytest.raises(iv.InterventionError, match=message):
        _create(con, **{field: value})
    assert _count(con, "interventions") == 0


def test_labels_and_keys_both_parse():
    assert iv.parse_option("prevention_level", "Primary") == "primary"
    assert iv.parse_option("prevention_level", "  TERTIARY ") == "tertiary"
    assert iv.parse_option("driver", "Staff themselves (participatory)") == "staff"
    assert iv.parse_option("driver", "hr wellbeing") == "hr_wellbeing"
    assert iv.parse_option("resources", "Tangible or organisational") == "organisational"
    assert iv.parse_option("stage", "deliver") is None
    assert iv.short_label("stage", "implement") == "Implement"


def test_register_filters(con):
    a = _create(con, name="A", prevention_level="primary", resources=["organisational"], stage="plan")
    b = _create(con, name="B", prevention_level="secondary", resources=["individual", "relational"],
                driver="external", stage="implement")
    c = _create(con, name="C")
    reg = iv.list_interventions(con)

    def ids(**kw):
        return sorted(iv.filter_register(reg, **kw).intervention_id.astype(int))

    assert ids() == sorted([a, b, c])
    assert ids(prevention_level=["primary"]) == [a]
    assert ids(prevention_level=["primary", "secondary"]) == sorted([a, b])
    assert ids(resources=["relational"]) == [b]
    assert ids(resources=["organisational", "individual"]) == sorted([a, b])
    assert ids(driver=["external"], stage=["implement"]) == [b]
    assert ids(driver=["external"], stage=["plan"]) == []


def test_register_fields_in_one_line_for_reports(con):
    new_id = _create(con, prevention_level="primary", resources=["organisational", "relational"],
                     driver="managers", stage="implement", cost=12500)
    assert iv.describe_fields(iv.get_intervention(con, new_id)) == (
        "Primary prevention · resources: Relational, Tangible or organisational · driven by: Line "
        "managers · stage: Implement · cost £12,500"
    )
    plain = iv.list_interventions(con).set_index("intervention_id")
    assert iv.describe_fields(iv.get_intervention(con, _create(con, name="Plain"))) == ""
    assert iv.describe_fields(plain.loc[new_id]).startswith("Primary prevention")


def test_register_fields_record_reads_rows_of_every_shape(con):
    new_id = _create(con, prevention_level="tertiary", resources=["relational"], driver="staff",
                     stage="analyse", cost=0.0)
    want = iv.RegisterFields("tertiary", ("relational",), "staff", "analyse", 0.0)
    row = iv.list_interventions(con).iloc[0]
    assert iv.RegisterFields.from_row(iv.get_intervention(con, new_id)) == want   # a dict
    assert iv.RegisterFields.from_row(row) == want                                   # a register row
    assert iv.RegisterFields.from_row(next(iv.list_interventions(con).itertuples())) == want
    assert iv.RegisterFields.from_row({"cost": float("nan"), "resources": None}) == iv.RegisterFields()
    # validated() puts resources in the TOML order and refuses a bare string for the list
    picked = iv.RegisterFields(resources=("organisational", "individual")).validated()
    assert picked.resources == ("individual", "organisational")
    with pytest.raises(iv.InterventionError, match="list of choices"):
        iv.RegisterFields(resources="individual").validated()
    assert want.values() == ["tertiary", ["relational"], "staff", "analyse", 0.0]
    assert iv.RegisterFields().values() == [None, None, None, None, None]


def test_register_read_once_inside_a_figure_call_is_the_same_register(demo_con):
    # inside one figure call the register is listed once per date and each entry read from it:
    # the same frame and the same entries as asked for one by one outside a call
    import pandas as pd

    from dashboard.store import derived, query

    days = (date(2024, 6, 1), date(2025, 12, 31))
    outside = {d: iv.list_interventions(demo_con, as_of=d) for d in days}
    ids = [int(i) for i in outside[days[1]].intervention_id]
    assert len(ids) >= 4
    entries = {i: iv.get_intervention(demo_con, i, as_of=days[1]) for i in ids}

    @derived.reads
    def call(con):
        with query.trace() as ran:
            listed = {d: iv.list_interventions(con, as_of=d) for d in days}
            read = {i: iv.get_intervention(con, i, as_of=days[1]) for i in ids}
            listed_again = iv.list_interventions(con, as_of=days[1])
        return listed, read, listed_again, [r.name for r in ran]

    listed, read, listed_again, names = call(demo_con)
    assert names.count("interventions.register") == len(days)   # once per date
    for d in days:
        pd.testing.assert_frame_equal(listed[d], outside[d])
    pd.testing.assert_frame_equal(listed_again, outside[days[1]])
    assert read == entries
    with pytest.raises(iv.InterventionError):
        derived.reads(lambda con: iv.get_intervention(con, 10_000))(demo_con)


def test_a_wave_whose_responses_answered_nothing_scored_does_not_count_as_data(con):
    # Ward B answered only in 2024; in 2025 two of its people returned the form with every scored
    # question blank (kept for the response rate, with no figure). The wave gives no figure for
    # the intervention, so it is not evaluated: the register reads the survey cells, not the rows.
    b_only = _create(con, name="B only", unit_ids=[2])
    wave_2025, next_id = con.execute(
        "SELECT (SELECT wave_id FROM waves WHERE fielded_on = DATE '2025-10-15'),"
        " (SELECT max(response_id) + 1 FROM responses)").fetchone()
    with store.transaction(con):
        con.executemany("INSERT INTO responses (response_id, wave_id, unit_id, respondent_key)"
                        " VALUES (?, ?, 2, ?)", [[next_id, wave_2025, "blank1"],
                                                 [next_id + 1, wave_2025, "blank2"]])
        store.bump_version(con)
    reg = iv.list_interventions(con, as_of=date(2025, 12, 1)).set_index("intervention_id")
    assert reg.loc[b_only, "status"] == "running"
