"""Intervention chart specs: data in the spec, encodings, text labels beside every colour."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.present.charts import interventions as ch
from dashboard.present.charts.common import PALETTE


def _datasets(spec: dict) -> list[list[dict]]:
    return list(spec["datasets"].values())


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


@pytest.fixture
def cells():
    return pd.DataFrame(
        {
            "group": ["Target teams", "Target teams", "Comparison teams", "Comparison teams"],
            "period": ["Before", "After", "Before", "After"],
            "wave": ["2024", "2025", "2024", "2025"],
            "value": [43.35, 34.04, 42.44, 44.25],
            "n": [418, 387, 2282, 2246],
        }
    )


def test_before_after_slope_chart(cells):
    spec = ch.before_after(cells, "proportion", "Work-related stress").to_dict()
    assert spec["title"] == {"text": ["Work-related stress"]}
    marks = [layer["mark"]["type"] for layer in _layers(spec)]
    assert marks == ["line", "point", "text", "text", "text"]
    line = _layers(spec)[0]["encoding"]
    assert line["x"]["field"] == "x_label" and line["y"]["field"] == "value"
    # groups differ by colour, dash and shape, from the Okabe-Ito palette
    assert line["color"]["scale"]["range"] == [PALETTE[0], PALETTE[1]]
    assert line["strokeDash"]["scale"]["range"] == [[1, 0], [6, 4]]
    assert _layers(spec)[1]["encoding"]["shape"]["scale"]["range"] == ["circle", "square"]
    # before comes first on the axis, whatever order the rows arrive in
    assert line["x"]["sort"] == ["Before (2024)", "After (2025)"]
    rows = max(_datasets(spec), key=len)
    texts = {(r["group"], r["period"]): r["value_text"] for r in rows}
    assert texts[("Target teams", "After")] == "34.0%"
    assert texts[("Comparison teams", "Before")] == "42.4%"
    assert {r["n_text"] for r in rows} >= {"n = 418", "n = 2246"}
    # the higher value of each period is labelled above its point, the lower below
    above = {(r["group"], r["period"]): r["above"] for r in rows}
    assert above == {("Target teams", "Before"): True, ("Comparison teams", "Before"): False,
                     ("Target teams", "After"): False, ("Comparison teams", "After"): True}
    assert [_layers(spec)[k]["mark"]["dy"] for k in (2, 3)] == [-14, 18]
    # the group name is written at the end of each line; no legend is needed
    name_layer = _layers(spec)[4]
    assert name_layer["encoding"]["text"]["field"] == "group"
    assert line["color"]["legend"] is None


def test_long_titles_wrap():
    cells = pd.DataFrame({"group": ["Target teams"] * 2, "period": ["Before", "After"],
                          "wave": ["2023", "2024"], "value": [64.7, 73.0], "n": [355, 397]})
    title = "Manager takes a positive interest in my health and wellbeing: before and after"
    spec = ch.before_after(cells, "proportion", title).to_dict()
    lines = spec["title"]["text"]
    assert len(lines) == 2 and all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == title


def test_before_after_mean_has_no_percent_sign(cells):
    means = cells.assign(value=[3.45, 3.80, 3.41, 3.42])
    spec = ch.before_after(means, "mean", "HSE Manager support").to_dict()
    rows = max(_datasets(spec), key=len)
    assert sorted(r["value_text"] for r in rows) == ["3.41", "3.42", "3.45", "3.80"]
    assert _layers(spec)[0]["encoding"]["y"]["title"].startswith("Mean score")


def test_interrupted_series_draws_projection_after_start_only():
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    series = pd.DataFrame(
        {
            "month": months,
            "period": ["pre", "pre", "pre", "post", "post", "post"],
            "observed": [0.05, 0.052, 0.049, 0.035, 0.036, 0.034],
            "fitted": [0.050, 0.0505, 0.051, 0.035, 0.0352, 0.0354],
            "counterfactual": [0.050, 0.0505, 0.051, 0.0515, 0.052, 0.0525],
        }
    )
    spec = ch.interrupted_series(series, date(2024, 4, 1), "Rota redesign").to_dict()
    layers = _layers(spec)
    assert [layer["mark"]["type"] for layer in layers] == ["line", "point", "line", "rule", "text"]
    rows = [r for d in _datasets(spec) for r in d if "series" in r]
    projected = [r for r in rows if r["series"] == "Projected pre-trend (no change)"]
    assert len(projected) == 3  # post months only
    assert projected[0]["rate"] == pytest.approx(5.15)  # shown as a percentage
    observed = [r for r in rows if r["series"] == "Observed"]
    assert [round(r["rate"], 1) for r in observed] == [5.0, 5.2, 4.9, 3.5, 3.6, 3.4]
    # the projection differs from the fitted line by dash, not colour alone
    fitted_layer = layers[2]["encoding"]
    assert fitted_layer["strokeDash"]["scale"]["domain"][2] == "Projected pre-trend (no change)"
    assert fitted_layer["strokeDash"]["scale"]["range"][2] == [6, 4]
    start = [r for d in _datasets(spec) for r in d if "label" in r]
    assert start[0]["label"] == "Start 01 Apr 2024"


def test_interrupted_series_transition_month_has_no_fitted_value():
    months = pd.date_range("2024-01-01", periods=3, freq="MS")
    series = pd.DataFrame(
        {
            "month": months,
            "period": ["pre", "transition", "post"],
            "observed": [0.05, 0.04, 0.03],
            "fitted": [0.05, float("nan"), 0.03],
            "counterfactual": [0.05, 0.05, 0.05],
        }
    )
    spec = ch.interrupted_series(series, date(2024, 2, 10), "x").to_dict()
    fitted = [r for d in _datasets(spec) for r in d if r.get("series") == "Fitted"]
    assert len(fitted) == 2


def test_forest_has_one_panel_per_unit_with_verdict_words():
    frame = pd.DataFrame(
        {
            "indicator": ["Stress", "Manager support", "Manager interest", "Absence rate"],
            "unit": ["percentage points", "points on the 1-5 scale", "percentage points",
                     "rate ratio (after / before)"],
            "estimate": [-11.1, 0.34, 8.4, 0.66],
            "ci_low": [-18.9, 0.23, 1.5, 0.58],
            "ci_high": [-3.7, 0.45, 15.9, 0.75],
            "null": [0.0, 0.0, 0.0, 1.0],
            "verdict": ["likely improved", "likely improved", "no clear change", "likely improved"],
            "level": [3, 3, 3, 2],
            "design": ["difference-in-differences"] * 3 + ["before/after"],
            "text": ["-11.1 pp", "+0.34", "+8.4 pp", "0.66x"],
        }
    )
    spec = ch.forest(frame).to_dict()
    panels = spec["vconcat"]
    assert [" ".join(p["title"]["text"]) for p in panels] == [
        "Effect in percentage points (dashed line: no change)",
        "Effect in points on the 1-5 scale (dashed line: no change)",
        "Effect in rate ratio (after / before) (dashed line: no change)",
    ]
    rows = {r["indicator"]: r for d in _datasets(spec) for r in d if "label" in r}
    assert rows["Stress"]["label"] == "Likely improved · level 3"
    assert rows["Absence rate"]["label"] == "Likely improved · level 2"
    assert rows["Manager interest"]["label"] == "No clear change · level 3"
    # the no-change line sits at 1 for the ratio panel and 0 elsewhere
    nulls = [layer for p in panels for layer in p["layer"] if layer["mark"].get("strokeDash")]
    assert len(nulls) == 3
    pp_panel = panels[0]
    point = next(layer for layer in pp_panel["layer"] if layer["mark"]["type"] == "point")
    assert point["encoding"]["shape"]["scale"]["range"] == ch.VERDICT_SHAPES
    domain = point["encoding"]["x"]["scale"]["domain"]
    assert domain[0] < -18.9 and domain[1] > 15.9
    ratio_panel = panels[2]
    ratio_point = next(layer for layer in ratio_panel["layer"] if layer["mark"]["type"] == "point")
    lo, hi = ratio_point["encoding"]["x"]["scale"]["domain"]
    assert lo < 0.58 and hi > 1.0  # the no-change line is in view


def test_interrupted_series_with_comparison_context():
    months = pd.date_range("2024-01-01", periods=4, freq="MS")
    series = pd.DataFrame({"month": months, "period": ["pre", "pre", "post", "post"],
                           "observed": [0.05, 0.05, 0.03, 0.03], "fitted": [0.05, 0.05, 0.03, 0.03],
                           "counterfactual": [0.05, 0.05, 0.05, 0.05]})
    comparison = pd.DataFrame({"month": months, "rate": [0.048, 0.049, 0.047, 0.048]})
    spec = ch.interrupted_series(series, date(2024, 3, 1), "x", comparison).to_dict()
    rows = [r for d in _datasets(spec) for r in d if r.get("series") == ch.COMPARISON_SERIES]
    assert [round(r["rate"], 1) for r in rows] == [4.8, 4.9, 4.7, 4.8]
    line = _layers(spec)[2]["encoding"]
    # the context line is grey, dotted and thin: told apart by dash and width, not colour alone
    k = line["color"]["scale"]["domain"].index(ch.COMPARISON_SERIES)
    assert line["strokeDash"]["scale"]["range"][k] == [2, 2]
    assert line["strokeWidth"]["scale"]["range"][k] == 1.5


def test_forest_ratio_of_rate_ratios_panel():
    # absence judged against comparison teams (evaluation since issue 6): its own panel, level 3,
    # with the no-change line at 1
    frame = pd.DataFrame(
        {
            "indicator": ["Stress", "Absence rate"],
            "unit": ["percentage points", "ratio of rate ratios (target / comparison)"],
            "estimate": [-11.1, 0.64],
            "ci_low": [-18.9, 0.59],
            "ci_high": [-3.7, 0.71],
            "null": [0.0, 1.0],
            "verdict": ["likely improved", "likely improved"],
            "level": [3, 3],
            "design": ["difference-in-differences"] * 2,
            "text": ["-11.1 pp", "0.64x the comparison teams' change in rate"],
        }
    )
    spec = ch.forest(frame).to_dict()
    panels = spec["vconcat"]
    assert " ".join(panels[1]["title"]["text"]) == (
        "Effect in ratio of rate ratios (target / comparison) (dashed line: no change)"
    )
    rows = {r["indicator"]: r for d in _datasets(spec) for r in d if "label" in r}
    assert rows["Absence rate"]["label"] == "Likely improved · level 3"
    rule = next(layer for layer in panels[1]["layer"] if layer["mark"].get("strokeDash"))
    assert [r["null"] for r in spec["datasets"][rule["data"]["name"]]] == [1.0]
    point = next(layer for layer in panels[1]["layer"] if layer["mark"]["type"] == "point")
    lo, hi = point["encoding"]["x"]["scale"]["domain"]
    assert lo < 0.59 and hi > 1.0  # the no-change line is in view
