"""Framework charts: Altair specs checked directly (AppTest cannot render charts)."""
from __future__ import annotations

import pandas as pd

from dashboard.present.charts import framework as charts


def test_diagnostic_puts_rating_and_domain_score_on_the_same_rows():
    beside = pd.DataFrame({
        "element": ["Mental and emotional wellbeing", "Physical wellbeing"],
        "domain": ["Personal health", "Personal health"],
        "rating": pd.array([4, pd.NA], dtype="Int64"),
        "rating_label": ["Embedded", "Not yet assessed"],
        "assessed_by": ["Board", None],
        "flag": ["gap", ""], "flag_text": ["Rated well, but staff report otherwise", ""],
        "domain_score": [5.5, 5.5], "domain_status_label": ["Similar to benchmark"] * 2,
        "measured": ["Stress 42.9%", "Stress 42.9%"],
    })
    spec = charts.diagnostic(beside, [(1, "Not started"), (2, "Developing"), (3, "Established"),
                                      (4, "Embedded")]).to_dict()
    left, right = spec["hconcat"]
    rows = left["encoding"]["y"]["sort"]
    assert rows == ["⚠ Mental and emotional wellbeing", "Physical wellbeing"]
    assert right["encoding"]["y"]["sort"] == rows
    assert left["encoding"]["x"]["axis"]["values"] == [1, 2, 3, 4]
    assert "Established" in left["encoding"]["x"]["axis"]["labelExpr"]
    assert right["encoding"]["x"]["scale"]["domain"] == [0, 10]
    # the unrated element has no rating mark, but keeps its row for the measured score
    datasets = spec["datasets"]
    left_rows = datasets[left["data"]["name"]]
    assert [r["element"] for r in left_rows] == ["Mental and emotional wellbeing"]
    assert len(datasets[right["data"]["name"]]) == 2


def test_drivers_chart_in_points_with_intervals_strongest_first():
    table = pd.DataFrame({
        "condition": ["hse_demands", "hse_role"], "label": ["HSE Demands", "HSE Role"],
        "short": ["HSE Demands", "HSE Role"], "coef": [-0.05, 0.01],
        "ci_low": [-0.07, -0.01], "ci_high": [-0.03, 0.03], "clear": [True, False],
    })
    spec = charts.drivers(table, "stress").to_dict()
    zero, rules, points = spec["layer"]
    data = spec["datasets"][rules["data"]["name"]]
    assert [round(r["est"], 6) for r in data] == [-5.0, 1.0]
    assert [round(r["lo"], 6) for r in data] == [-7.0, -1.0]
    assert [r["reading"] for r in data] == ["Interval leaves out 0", "Interval includes 0"]
    assert rules["encoding"]["y"]["sort"] == ["HSE Demands", "HSE Role"]
    assert "per 1 sd better" in rules["encoding"]["x"]["title"]
