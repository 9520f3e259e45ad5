"""Mapping proposals, answer-label maps, reason codes, team normalisation and saved profiles."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import catalogue
from dashboard.ingest import mapping, pipeline
from dashboard.ingest.mapping import (
    Mapping,
    header_signature,
    item_for_header,
    map_answers,
    propose,
    reason_code,
    scale_lookup,
)
from dashboard.ingest.read import read_file
from dashboard.ingest.transform import to_number
from tests.ingest.conftest import UPLOADS


@pytest.mark.parametrize(
    ("header", "item"),
    [
        ("Q1", "hse01"),
        ("q35", "hse35"),
        ("Q07", "hse07"),
        ("q11c", "q11c"),
        ("Q11C", "q11c"),
        ("Q14b. In the last 12 months how many times...", "q14b"),
        ("HSE 12", "hse12"),
        ("During the last 12 months have you felt unwell as a result of work-related stress?", "q11c"),
        ("Q36", None),
        ("Q11z", None),
        ("Quality", None),
    ],
)
def test_item_for_header(header, item):
    assert item_for_header(header) == item


def test_proposals_for_the_corpus():
    absence = propose("absence", read_file(UPLOADS / "absence_semicolon_bom_crlf.csv").frame)
    assert absence.fields == {
        "employee_id": "Employee Number",
        "team": "Dept",
        "start_date": "Absence Start Date",
        "end_date": "Absence End Date",
        "fte": "FTE",
        "reason": "Absence Reason",
        "days_lost": "Days Lost",
    }
    hse = propose("survey", read_file(UPLOADS / "survey_hse.csv").frame)
    assert len(hse.items) == 35 and hse.items["Q35"] == "hse35"
    assert hse.fields == {
        "team": "Department",
        "wave": "Survey",
        "fielded_on": "Completed",
        "respondent_id": "Respondent ID",
    }
    monthly = propose("absence_monthly", read_file(UPLOADS / "absence_monthly_esr.csv").frame)
    assert monthly.fields == {
        "team": "Org L6",
        "month": "Month",
        "fte_days_lost": "FTE Days Lost",
        "fte_days_available": "FTE Days Available",
        "reason": "Absence Reason",
    }


def test_content_finds_dates_and_reason_codes_when_headers_do_not():
    frame = pd.DataFrame(
        {
            "Who": ["1", "2"],
            "Ward": ["A", "B"],
            "col3": ["2024-01-02", "2024-02-03"],
            "col4": ["S10", "S13 Cold"],
        },
        dtype="string",
    )
    got = propose("absence", frame)
    assert got.fields["start_date"] == "col3" and got.fields["reason"] == "col4"


def test_answer_labels_abbreviations_numbers_and_unknowns():
    cat = catalogue.get()
    agree = cat.scales["agree5"]
    values, unknown = map_answers(
        pd.Series(
            ["SA", "a", "N", "neutral", "D", "sd", "4", "4.0", "Strongly Agree ", "NA", "-", None, "Agreed"]
        ),
        agree,
    )
    assert values.tolist()[:9] == [5, 4, 3, 3, 2, 1, 4, 4, 5]
    assert values.isna().tolist()[9:] == [True] * 4
    assert unknown.tolist() == [False] * 12 + [True]
    harassment = cat.scales["harassment_frequency"]
    values, unknown = map_answers(
        pd.Series(["1-2", "1 - 2", "1–2", "More than 10", ">10", "6-10", "12"]), harassment
    )
    assert values.tolist()[:6] == [2, 2, 2, 5, 5, 4] and unknown.tolist() == [False] * 6 + [True]
    yes_no = cat.scales["yes_no"]
    values, unknown = map_answers(pd.Series(["Yes", "y", "NO", "n", "1", "0", "2"]), yes_no)
    assert values.tolist()[:6] == [1, 1, 0, 0, 1, 0] and unknown.tolist() == [False] * 6 + [True]
    # "S" could be Seldom or Sometimes on the HSE frequency scale: never guessed.
    assert "s" not in scale_lookup(cat.scales["hse_frequency"])
    values, unknown = map_answers(pd.Series(["Sometmes"]), cat.scales["hse_frequency"], extra={"Sometmes": 3})
    assert values.tolist() == [3] and not unknown.any()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("S10 Anxiety/stress/depression/other psychiatric illnesses", "S10"),
        ("s12", "S12"),
        ("Anxiety/stress/depression/other psychiatric illnesses", "S10"),
        ("Back problems", "S11"),
        ("back pain", "S11"),
        ("Cold, cough, flu - influenza", "S13"),
        ("Migraine", "S16"),
        ("Covid-19", "S27"),
        ("broken wrist fracture", "S28"),
        ("went to a wedding", "S99"),
        (None, "S99"),
        ("S77 made up", "S99"),
    ],
)
def test_reason_codes(text, code):
    assert reason_code(text) == code


def test_numbers_with_decimal_commas_thousands_and_percent():
    got, bad = to_number(pd.Series(["0,8", "1", "", "N/A", "abc"]))
    assert got.tolist()[:2] == [0.8, 1.0] and got.isna().tolist()[2:] == [True] * 3
    assert bad.tolist() == [False, False, False, False, True]
    got, _ = to_number(pd.Series(["1,234", "2,500.5", "44.1%", " 7 "]))
    assert got.tolist() == [1234.0, 2500.5, 44.1, 7.0]
    got, _ = to_number(pd.Series(["1.234,5", "7,25"]))
    assert got.tolist() == [1234.5, 7.25]


def test_infinite_and_absurd_numbers_are_bad_not_stored():
    got, bad = to_number(pd.Series(["inf", "-Infinity", "1e400", "2e12", "999999999999", "12"]))
    assert list(bad) == [True, True, True, True, False, False]
    assert got.isna().tolist() == [True, True, True, True, False, False]


def test_header_signature_ignores_order_case_and_spacing():
    assert header_signature(["Team", "Start  date"]) == header_signature(["start date", "TEAM"])
    assert header_signature(["Team"]) != header_signature(["Team", "FTE"])


def test_profile_saved_and_applied_to_next_file_with_same_headers(con, tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("Person,Where,Off from,Back on\n1,Ward 7,2024-01-02,2024-01-03\n", encoding="utf-8")
    raw = read_file(f)
    chosen, notes = pipeline.resolve_mapping(con, "absence", raw)
    assert "employee_id" not in chosen.fields and not notes  # 'Person' is nobody's synonym
    confirmed = Mapping(
        kind="absence",
        fields={"employee_id": "Person", "team": "Where", "start_date": "Off from", "end_date": "Back on"},
    )
    mapping.save_profile(con, "Ward returns", raw.columns, confirmed)
    g = tmp_path / "odd2.csv"
    g.write_text("back on,person,where,off from\n2024-02-03,2,Ward 7,2024-02-01\n", encoding="utf-8")
    _raw, prepared = pipeline.prepare(con, g, "absence")
    assert "mapping profile 'Ward returns' applied" in " ".join(prepared.report.notes)
    # Saved column names are matched case-insensitively when the next export changes case.
    assert prepared.report.ok, prepared.report.errors
    pipeline.commit(con, prepared, user="t")
    assert con.execute("SELECT profile, rows FROM imports").fetchall() == [("Ward returns", 1)]
    assert mapping.load_profile(con, "Ward returns").fields == confirmed.fields
    assert mapping.list_profiles(con)["name"].tolist() == ["Ward returns"]


# --- guesses need evidence ---------------------------------------------------------------------


def test_a_header_alone_is_not_evidence():
    frame = pd.DataFrame(
        {
            "Employee Number": ["E1", "E2", "E3", "E4"],
            "Length of service": ["3.5", "12", "0.5", "7"],  # 'service' is a team synonym
            "Distance from start (km)": ["4.2", "11", "7.5", "2"],  # 'start' is a date synonym
            "Absence Start Date": ["2024-01-02", "2024-01-05", "2024-02-01", "2024-03-04"],
            "Days lost": ["2", "x", "y", "z"],  # mostly not numbers
        },
        dtype="string",
    )
    got = propose("absence", frame)
    assert "team" not in got.fields  # a continuous number is never a team
    assert got.fields["start_date"] == "Absence Start Date"  # not the distance column
    assert "days_lost" not in got.fields
    # Dates must parse for at least 95 % of values.
    mostly = frame.assign(**{"Absence Start Date": ["2024-01-02", "soon", "later", "2024-03-04"]})
    assert "start_date" not in propose("absence", mostly).fields
    # A team named by an exact header may be numeric codes (cost centres).
    codes = pd.DataFrame({"Team": ["101", "102", "101"], "Start": ["2024-01-02"] * 3, "ID": ["1", "2", "3"]})
    assert propose("absence", codes.astype("string")).fields["team"] == "Team"


def test_answer_columns_are_proposed_only_when_values_fit_the_scale():
    frame = pd.DataFrame(
        {
            "Ward": ["A"] * 6,
            "Q11c": ["Yes", "No", "Yes", "No", "Yes", "No"],
            "Q12a": ["0", "3", "7", "10", "9", "8"],  # a 0-10 score under a frequency question's id
            "Q6b": ["1", "2", "3", "4", "2", "1"],  # 1-4 fits the range: proposed, then asked
        },
        dtype="string",
    )
    got = propose("survey", frame)
    assert got.items == {"Q11c": "q11c", "Q6b": "q6b"}


def test_mapping_answers_override_the_proposal_and_name_the_flag(con, tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("Person,Where,Off from\n1,Ward 7,2024-01-02\n", encoding="utf-8")
    raw = read_file(f)
    chosen, _ = pipeline.resolve_mapping(con, "absence", raw)
    chosen = pipeline.apply_answers(raw, chosen, {"fields": {"employee_id": "person", "team": "Where"}})
    assert chosen.fields == {"employee_id": "Person", "team": "Where", "start_date": "Off from"}
    with pytest.raises(Exception, match="no column 'Nowhere'"):
        pipeline.apply_answers(raw, chosen, {"fields": {"team": "Nowhere"}})
    with pytest.raises(Exception, match="'colour' is not a field of absence files"):
        pipeline.apply_answers(raw, chosen, {"fields": {"colour": "Where"}})
    _raw, prepared = pipeline.prepare(con, f, "absence")
    assert prepared.report.errors == [
        "Required column(s) not mapped: Employee ID, Team. Choose which column holds each one "
        "(on the page, or with --map employee_id=COLUMN --map team=COLUMN)."
    ]


def test_saved_profile_keeps_recodes_custom_and_wave_dates():
    m = Mapping(
        kind="survey",
        recodes={"WLB": {"1": "Disagree"}},
        custom={
            "Fatigue": {"name": "F", "domain": "personal_health", "favourable": "low", "op": ">=", "value": 7}
        },
        wave_dates={"2024": "2024-10-01"},
        bases={"a_rate": "a_base"},
        published=True,
        unpivot=["2021"],
    )
    again = Mapping.from_json(m.to_json())
    assert again == m
    moved = again.aligned(["wlb", "FATIGUE", "A_rate", "a base", "2021"])
    assert moved.recodes == {"wlb": {"1": "Disagree"}} and list(moved.custom) == ["FATIGUE"]
    assert moved.bases == {"A_rate": "a base"}
    # Profiles saved before these fields existed still load.
    assert Mapping.from_json('{"kind": "absence", "fields": {"team": "T"}}').recodes == {}


def test_rate_and_base_columns_pair_by_name():
    cols = ["Team", "stress_rate", "stress_base", "Presenteeism %", "Presenteeism n", "HSE Demands",
            "HSE Demands base", "Respondents"]
    assert mapping.pair_bases(cols, ["stress_rate", "Presenteeism %", "HSE Demands"]) == {
        "stress_rate": "stress_base",
        "Presenteeism %": "Presenteeism n",
        "HSE Demands": "HSE Demands base",
    }
    assert mapping.year_columns(["Theme", "2021", "2022/23", "Year", "20210"]) == ["2021", "2022/23"]
