"""Answer columns read against their scale: questions for number codes, recodes, custom indicators."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from dashboard import catalogue
from dashboard.ingest import load, pipeline, readings
from dashboard.metrics import drilldown, indicators, scorecard
from tests.ingest.conftest import UPLOADS, snapshot

FILE = UPLOADS / "survey_numeric_codes.csv"
WLB = "Q6c. I achieve a good balance between my work life and my home life"
FATIGUE = "Fatigue (0-10)"
BURNOUT = "Burnout score (0-1)"
WLB_RECODE = {"1": "Strongly disagree", "2": "Disagree", "3": "Agree", "4": "Strongly agree"}
CUSTOM = {
    FATIGUE: {
        "name": "High fatigue",
        "domain": "personal_health",
        "favourable": "low",
        "op": ">=",
        "value": "7",
    },
    BURNOUT: {
        "name": "Burnout score",
        "domain": "Improving personal health and wellbeing",
        "favourable": "low",
        "op": ">=",
        "value": "0.5",
    },
}


def _rows() -> list[dict]:
    with open(FILE, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _share(values: list[bool]) -> float:
    return sum(values) / len(values)


def _by_hand(rows: list[dict]) -> dict[str, tuple[float, int]]:
    """Each indicator's value and n for a set of respondents, from the file's cells alone."""
    wlb = [int(r[WLB]) >= 3 for r in rows if r[WLB]]  # 3 = Agree, 4 = Strongly agree on a 4-point scale
    fatigue = [float(r[FATIGUE]) >= 7 for r in rows if r[FATIGUE] != "N/A"]
    burnout = [float(r[BURNOUT]) >= 0.5 for r in rows]
    stress = [r["Q11c"] == "Yes" for r in rows]
    return {
        "work_life_balance": (_share(wlb), len(wlb)),
        "custom_high_fatigue": (_share(fatigue), len(fatigue)),
        "custom_burnout_score": (_share(burnout), len(burnout)),
        "stress": (_share(stress), len(stress)),
    }


# --- the reading of one column ------------------------------------------------------------------


def test_numbers_one_to_four_on_a_five_point_scale_are_asked_with_a_proposal():
    item = catalogue.get().items["q6c"]
    values = pd.Series(["1", "4", "3", "3", "2", "", "NA", "4"], dtype="string")
    reading, mapped, _unknown = readings.read_item_column("WLB", values, item, None)
    assert reading.status == "question" and mapped is None
    assert reading.values[["value", "count"]].values.tolist() == [["1", 1], ["2", 1], ["3", 2], ["4", 2]]
    # A 4-point agree scale has no neutral: the proposal drops the middle label.
    assert reading.proposed == WLB_RECODE
    assert "numbers 1 to 4" in reading.why


def test_confirmed_recode_reads_values_and_shows_the_distribution():
    item = catalogue.get().items["q6c"]
    values = pd.Series(["1", "4", "3", "3", "2", "", "NA", "4"], dtype="string")
    reading, mapped, unknown = readings.read_item_column("WLB", values, item, WLB_RECODE)
    assert reading.status == "recoded" and not unknown.any()
    assert mapped.tolist() == [1, 5, 4, 4, 2, pd.NA, pd.NA, 5]
    dist = reading.distribution.set_index("answer")["count"].to_dict()
    assert dist == {
        "Strongly disagree": 1,
        "Disagree": 1,
        "Neither agree nor disagree": 0,
        "Agree": 2,
        "Strongly agree": 2,
        "(no answer)": 2,
    }
    # A recode that leaves a value out is still a question.
    partial, mapped, _ = readings.read_item_column("WLB", values, item, {"1": "Disagree"})
    assert partial.status == "question" and mapped is None and "2, 3, 4" in partial.why


@pytest.mark.parametrize(
    ("scale_item", "cells", "status"),
    [
        ("q6c", ["Agree", "SA", "neutral", "Disagree"], "labels"),
        ("q6c", ["1", "2", "3", "4", "5", "3"], "codes"),  # the scale's own codes, both ends seen
        ("q6c", ["4", "5", "Agree"], "codes"),  # numbers alongside the item's labels
        ("q11c", ["0", "1", "1"], "codes"),
        ("q11c", ["1", "2", "2"], "question"),  # 1 = yes, 2 = no is another coding
        ("q12b", ["0", "0.25", "1"], "question"),  # a 0-1 score is not a frequency
        ("q12b", ["0", "7", "10"], "question"),
        ("q12b", ["Very satisfied", "Satisfied", "Dissatisfied"], "question"),
    ],
)
def test_which_columns_are_read_without_a_question(scale_item, cells, status):
    item = catalogue.get().items[scale_item]
    reading, mapped, _ = readings.read_item_column("c", pd.Series(cells, dtype="string"), item, None)
    assert reading.status == status
    assert (mapped is None) == (status == "question")


def test_decimal_scores_suggest_a_custom_indicator():
    item = catalogue.get().items["q12b"]
    reading, _, _ = readings.read_item_column(BURNOUT, pd.Series(["0", "0.25", "1"]), item, None)
    assert reading.why == "decimal scores, not answers to this question"
    assert not any(reading.proposed.values())
    # Burnout is low-favourable in personal health; 0.7 of the observed 0-1 range is the start.
    assert reading.suggest_custom == {
        "name": "Burnout score",
        "domain": "personal_health",
        "favourable": "low",
        "op": ">=",
        "value": 0.7,
    }


def test_custom_definitions_are_checked():
    domains = {
        "personal health": "personal_health",
        "improving personal health and wellbeing": "personal_health",
    }
    ok, why = readings.check_custom(CUSTOM[FATIGUE], domains)
    assert why is None and ok == {
        "name": "High fatigue",
        "domain": "personal_health",
        "favourable": "low",
        "op": ">=",
        "value": 7.0,
    }
    for bad, text in [
        ({"name": ""}, "needs a name"),
        ({"domain": "Happiness"}, "not one of the seven domains"),
        ({"favourable": "up"}, "'low' or 'high'"),
        ({"op": ">"}, "'>='"),
        ({"value": "seven"}, "needs a number"),
    ]:
        assert text in readings.check_custom({**CUSTOM[FATIGUE], **bad}, domains)[1]


# --- the numeric-coded fixture end to end ---------------------------------------------------------


def test_numeric_file_is_refused_with_the_question_and_nothing_written(con):
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, FILE, "survey")
    report = prepared.report
    assert not report.ok and not report.errors
    asked = [r for r in report.readings if r.status == "question"]
    assert [(r.column, r.target) for r in asked] == [(WLB, "q6c")]
    counts = pd.Series([r[WLB] for r in _rows() if r[WLB]]).value_counts()
    assert dict(zip(asked[0].values["value"], asked[0].values["count"], strict=True)) == counts.to_dict()
    assert asked[0].proposed == WLB_RECODE
    assert report.questions == [
        f"Column '{WLB}' is mapped to q6c (I achieve a good work-home balance) but holds numbers 1 to 4, "
        "not this question's answers (1 = Strongly disagree, 2 = Disagree, 3 = Neither agree nor disagree, "
        "4 = Agree, 5 = Strongly agree). Confirm how each value reads (proposed: 1=Strongly disagree, "
        "2=Disagree, 3=Agree, 4=Strongly agree): on the page, or with "
        f"--recode '{WLB}:VALUE=LABEL' for every value, or read it as a custom indicator with "
        f"--custom '{WLB}=I achieve a good balance between my work;fulfilment;high;>=3'."
    ]
    # The 0-10 and 0-1 columns fit no question: left unmapped, never guessed onto one.
    assert set(report.ignored_columns) == {FATIGUE, BURNOUT}
    with pytest.raises(ValueError):
        pipeline.commit(con, prepared, user="t")
    assert snapshot(con) == before


def test_burnout_score_mapped_onto_a_frequency_item_is_asked_not_read_as_never(con):
    _raw, prepared = pipeline.prepare(
        con, FILE, "survey", answers={"fields": {"q12b": BURNOUT}, "recodes": {WLB: WLB_RECODE}}
    )
    asked = {r.column: r for r in prepared.report.readings if r.status == "question"}
    assert list(asked) == [BURNOUT]
    assert (
        "--custom 'Burnout score (0-1)=Burnout score;personal_health;low;>=0.7'"
        in prepared.report.questions[0]
    )


def _import(con):
    _raw, prepared = pipeline.prepare(
        con, FILE, "survey", answers={"recodes": {WLB: WLB_RECODE}, "custom": CUSTOM}
    )
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="t")
    return prepared


def test_numeric_file_imports_after_answers_and_every_overview_figure_is_right(con):
    prepared = _import(con)
    rows = _rows()
    expected = _by_hand(rows)
    # The preview showed the distribution each reading gives.
    fatigue = next(r for r in prepared.report.readings if r.column == FATIGUE)
    counted, below, missing = fatigue.distribution["count"].tolist()
    assert (counted, below, missing) == (
        round(expected["custom_high_fatigue"][0] * expected["custom_high_fatigue"][1]),
        expected["custom_high_fatigue"][1] - counted,
        1,
    )
    # The custom indicators are catalogue indicators now, marked custom wherever they are named.
    cat = catalogue.get()
    assert cat.indicators["custom_high_fatigue"].custom
    assert cat.indicators["custom_high_fatigue"].short == "High fatigue (custom)"
    assert cat.indicators["custom_burnout_score"].label == "Burnout score (custom: 0.5 or more)"
    assert "custom_high_fatigue" in drilldown.survey_indicator_ids(cat)

    waves = indicators.waves(con)
    dates = sorted(pd.to_datetime([r["Date Submitted"] for r in rows], dayfirst=True))
    assert waves.label.tolist() == ["Pulse 2024"]
    assert pd.Timestamp(waves.fielded_on.iloc[0]) == dates[len(dates) // 2]  # middle completion date
    table = scorecard.indicator_table(con, int(waves.wave_id.iloc[0]), 10).set_index("indicator_id")
    shown = table[table.value.notna()]
    assert set(shown.index) == {*expected, "teams_reportable"}
    for ind_id, (value, n) in expected.items():
        assert shown.at[ind_id, "value"] == pytest.approx(value), ind_id
        assert shown.at[ind_id, "n"] == n, ind_id
        fav_high = ind_id == "work_life_balance"
        assert shown.at[ind_id, "score"] == pytest.approx(10 * value if fav_high else 10 * (1 - value))
    assert shown.at["custom_high_fatigue", "custom"] and not shown.at["stress", "custom"]
    assert shown.at["teams_reportable", "value"] == 1.0  # both wards (14 and 12) are shown
    domains = scorecard.domain_table(table.reset_index()).set_index("domain_id")
    personal = [10 * (1 - expected[i][0]) for i in ("stress", "custom_high_fatigue", "custom_burnout_score")]
    assert domains.at["personal_health", "score"] == pytest.approx(sum(personal) / 3)
    assert domains.at["fulfilment", "score"] == pytest.approx(10 * expected["work_life_balance"][0])
    assert "High fatigue (custom)" in domains.at["personal_health", "feeding"]


def test_numeric_file_team_figures_on_the_teams_page(con):
    _import(con)
    rows = _rows()
    wave_id = int(indicators.waves(con).wave_id.iloc[0])
    heat = drilldown.heatmap(con, ("team",), wave_id, 10)
    heat = heat[heat.source == "survey"]
    shown = heat[~heat.suppressed & heat.value.notna()]
    for team in ("Ward A", "Ward B"):
        expected = _by_hand([r for r in rows if r["Ward"] == team])
        got = shown[shown.team == team].set_index("indicator_id")
        assert set(got.index) == set(expected), team
        for ind_id, (value, n) in expected.items():
            assert got.at[ind_id, "value"] == pytest.approx(value), (team, ind_id)
            assert got.at[ind_id, "n"] == n
    assert set(heat[heat.indicator_id == "custom_high_fatigue"].indicator) == {"High fatigue (custom)"}


def test_custom_name_taken_by_another_rule_is_refused_and_undo_removes_the_indicator(con, tmp_path):
    first = _import(con)
    other = tmp_path / "more.csv"
    other.write_text(
        "Response ID,Date Submitted,Survey,Ward,Fatigue (0-10)\nT1,01/10/2025,Pulse 2025,Ward A,8\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(
        con, other, "survey", answers={"custom": {FATIGUE: {**CUSTOM[FATIGUE], "value": "8"}}}
    )
    assert any("already exists with another rule" in e for e in prepared.report.errors)
    load.undo(con, first.report.import_id)
    assert con.execute("SELECT count(*) FROM custom_indicators").fetchone()[0] == 0
    assert "custom_high_fatigue" not in catalogue.get().indicators


def test_a_custom_indicator_can_be_evaluated_before_and_after_an_intervention(con, tmp_path):
    import datetime as dt

    from dashboard.framework import interventions
    from dashboard.stats import evaluation

    _import(con)
    # A second wave of the same pulse: Ward A's fatigue falls, Ward B's does not.
    later = tmp_path / "pulse2025.csv"
    rows = _rows()
    lines = ["Response ID,Date Submitted,Survey,Ward,Fatigue (0-10)"]
    for i, r in enumerate(rows):
        value = (
            r[FATIGUE] if r["Ward"] == "Ward B" or r[FATIGUE] == "N/A" else str(max(0, int(r[FATIGUE]) - 5))
        )
        lines.append(f"T{i},{r['Date Submitted'].replace('2024', '2025')},Pulse 2025,{r['Ward']},{value}")
    later.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _raw, prepared = pipeline.prepare(con, later, "survey", answers={"custom": {FATIGUE: CUSTOM[FATIGUE]}})
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="t")
    unit = con.execute("SELECT unit_id FROM units WHERE team = 'Ward A'").fetchone()[0]
    iid = interventions.create_intervention(con, interventions.Intervention(
        "Rota redesign", "personal_health", [unit], dt.date(2025, 1, 6), ["custom_high_fatigue"]
    ))
    result = evaluation.evaluate(con, iid, 10, n_boot=200).results[0]
    assert result.indicator_id == "custom_high_fatigue" and result.label == "High fatigue (custom: 7 or more)"

    def share(path, ward):
        with open(path, newline="", encoding="utf-8") as fh:
            got = [
                float(r[FATIGUE]) >= 7
                for r in csv.DictReader(fh)
                if r["Ward"] == ward and r[FATIGUE] != "N/A"
            ]
        return _share(got)

    # (after - before) in the target ward minus the same in the comparison ward, from the two files.
    did = (share(later, "Ward A") - share(FILE, "Ward A")) - (share(later, "Ward B") - share(FILE, "Ward B"))
    assert result.design == "difference-in-differences"
    assert result.estimate == pytest.approx(100 * did)
