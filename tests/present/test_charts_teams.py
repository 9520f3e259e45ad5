"""Team drill-down chart specs: what is encoded, in which colours and shapes, with which data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.metrics import drilldown
from dashboard.present.charts import teams as charts
from dashboard.present.charts.common import PALETTE, STATUS_COLOURS

T = 10


def _heat() -> pd.DataFrame:
    rows = [
        ("Ward A", "stress", "Stress", "proportion", 0.5, 20, 0.47, "similar", False),
        ("Ward A", "hse_peer_support", "HSE Peer support", "mean", 3.5, 20, 3.6, "worse", False),
        ("Clinic", "stress", "Stress", "proportion", 0.91, 11, 0.47, "worse", False),
        ("Clinic", "hse_peer_support", "HSE Peer support", "mean", 4.2, 11, 3.6, "better", False),
        ("Ward B", "stress", "Stress", "proportion", np.nan, np.nan, 0.47, "suppressed", True),
        ("Ward B", "hse_peer_support", "HSE Peer support", "mean", np.nan, np.nan, 3.6, "suppressed", True),
    ]
    frame = pd.DataFrame(rows, columns=["group", "indicator_id", "indicator", "kind", "value", "n",
                                        "reference_value", "status", "suppressed"])
    labels = drilldown.status_labels("organisation", T)
    return frame.assign(domain="d", status_label=frame.status.map(labels))


def test_heatmap_spec_colours_glyphs_and_suppressed_cells():
    heat = _heat()
    chart = charts.heatmap(heat, drilldown.status_labels("organisation", T), "organisation", T,
                           ["Clinic", "Ward A", "Ward B"])
    spec = chart.to_dict()
    rect, text = spec["layer"]
    colour = rect["encoding"]["color"]
    assert colour["title"] == "Against the organisation"
    assert colour["scale"]["domain"] == [
        "▲ Better than organisation", "● Similar to organisation", "▼ Worse than organisation",
        "No organisation figure", "Fewer than 10 responses",
    ]
    fills = colour["scale"]["range"]
    assert fills[0] == STATUS_COLOURS[0] and fills[2] == STATUS_COLOURS[2]   # better, worse
    assert len(set(fills)) == 5
    assert rect["encoding"]["x"]["axis"]["labelOverlap"] is False
    y = rect["encoding"]["y"]
    assert y["sort"] == ["Clinic", "Ward A", "Ward B"]
    cells = {(d["group"], d["indicator"]): d for d in spec["datasets"][spec["data"]["name"]]}
    # every shown figure here rests on 11-20 responses: each carries the small-n caution mark
    assert cells[("Clinic", "Stress")]["cell"] == "91%† ▼"
    assert cells[("Clinic", "HSE Peer support")]["cell"] == "4.20† ▲"
    assert cells[("Ward A", "Stress")]["cell"] == "50%† ●"
    assert cells[("Ward B", "Stress")]["cell"] == "<10"
    assert cells[("Ward B", "Stress")]["value_text"] == "fewer than 10 responses"
    assert cells[("Ward B", "Stress")]["n_text"] == ""
    assert cells[("Ward A", "Stress")]["n_text"] == (
        "20 responses † fewer than 30: read with caution")
    assert {t["title"] for t in rect["encoding"]["tooltip"]} >= {"Value", "Base (n)", "Organisation"}
    assert text["mark"]["type"] == "text"


def test_heatmap_legend_names_the_reference():
    heat = _heat().assign(status_label=lambda f: f.status.map(drilldown.status_labels("benchmark", T)))
    spec = charts.heatmap(heat, drilldown.status_labels("benchmark", T), "benchmark", T).to_dict()
    assert spec["layer"][0]["encoding"]["color"]["title"] == "Against the benchmark"
    assert "▼ Worse than benchmark" in spec["layer"][0]["encoding"]["color"]["scale"]["domain"]


def test_heatmap_absence_cells_read_staff_in_post():
    absent = pd.DataFrame({
        "group": ["Ward A", "Ward B"], "indicator_id": "absence_rate", "indicator": "Absence rate",
        "kind": "rate", "source": "absence", "value": [0.06, np.nan], "n": [25, np.nan],
        "reference_value": 0.0445, "status": ["worse", "suppressed"], "suppressed": [False, True],
        "domain": "d", "status_label": ["Worse than organisation", "Fewer than 10 staff in post"],
    })
    heat = pd.concat([_heat().assign(source="survey"), absent], ignore_index=True)
    labels = drilldown.status_labels("organisation", T, absence=True)
    spec = charts.heatmap(heat, labels, "organisation", T).to_dict()
    rect = spec["layer"][0]
    assert rect["encoding"]["color"]["scale"]["domain"][-1] == "Fewer than 10 responses or staff in post"
    cells = {(d["group"], d["indicator"]): d for d in spec["datasets"][spec["data"]["name"]]}
    assert cells[("Ward A", "Absence rate")]["cell"] == "6.0% ▼"       # one decimal for rates
    assert cells[("Ward A", "Absence rate")]["n_text"] == "25 staff in post"
    assert cells[("Ward A", "Absence rate")]["reference_text"] == "4.5%"
    assert cells[("Ward B", "Absence rate")]["cell"] == "<10 staff"
    assert cells[("Ward B", "Absence rate")]["value_text"] == "fewer than 10 staff in post"
    assert cells[("Ward B", "Stress")]["cell"] == "<10"                 # survey cells unchanged
    assert [c for c in charts.status_legend(labels)[0] if "staff" in c] == [
        "Fewer than 10 responses or staff in post"]


def _points() -> tuple[pd.DataFrame, pd.DataFrame]:
    n = np.array([11.0, 25.0, 20.0])
    value = np.array([0.91, 0.2, 0.5])
    lo95, hi95 = drilldown.control_limits("proportion", 0.47, n, 1.96)
    lo998, hi998 = drilldown.control_limits("proportion", 0.47, n, 3.09)
    points = pd.DataFrame({
        "group": ["Clinic", "Theatres", "Ward A"], "n": n, "value": value,
        "lo95": lo95, "hi95": hi95, "lo998": lo998, "hi998": hi998,
        "zone": drilldown.zone(value, lo95, hi95, lo998, hi998),
        "signal": ["worse", "better", "within"], "ci_low": value - 0.1, "ci_high": value + 0.1,
    })
    return points, drilldown.funnel_curve("proportion", 0.47, None, 10, 30)


def test_funnel_spec_lines_points_and_labels():
    points, curve = _points()
    spec = charts.funnel(points, curve, "proportion", "Stress").to_dict()
    lines, dots, names = spec["layer"]
    assert lines["mark"]["type"] == "line"
    dash = lines["encoding"]["strokeDash"]["scale"]
    assert dash["domain"] == ["Organisation", "95% limits", "99.8% limits"]
    line_data = spec["datasets"][lines["data"]["name"]]
    assert {d["line"] for d in line_data} == {"centre", "lo95", "hi95", "lo998", "hi998"}
    assert len(line_data) == 5 * len(curve)
    assert lines["encoding"]["y"]["axis"]["format"] == ".0%"
    # colour and shape both carry the signal
    assert dots["encoding"]["shape"]["field"] == dots["encoding"]["color"]["field"] == "signal_label"
    assert dots["encoding"]["shape"]["scale"]["range"] == ["triangle-down", "circle", "triangle-up"]
    dot_data = {d["group"]: d for d in spec["datasets"][dots["data"]["name"]]}
    assert dot_data["Clinic"]["signal_label"] == charts.SIGNAL_LABELS["worse"]
    assert dot_data["Theatres"]["interval"] == "10% to 30%"
    # only groups outside the limits are named on the chart
    assert [d["group"] for d in spec["datasets"][names["data"]["name"]]] == ["Clinic", "Theatres"]


def test_funnel_for_a_mean_uses_a_plain_axis():
    points, _ = _points()
    curve = drilldown.funnel_curve("mean", 3.6, 0.8, 10, 30)
    spec = charts.funnel(points.assign(value=[2.0, 4.5, 3.5]), curve, "mean", "HSE Peer support").to_dict()
    y = spec["layer"][0]["encoding"]["y"]
    assert y["axis"]["format"] == ".2f" and "mean, 1-5" in y["title"]


def test_domain_dots_spec():
    frame = pd.DataFrame({
        "domain": ["Relationships", "Relationships", "Environment", "Environment"],
        "series": ["Team", "Organisation", "Team", "Organisation"],
        "score": [6.25, 6.5, np.nan, 5.0],
        "status_label": ["Worse than benchmark", "Similar to benchmark", "No benchmark", "No benchmark"],
    })
    spec = charts.domain_dots(frame, "series", ["Team", "Organisation"]).to_dict()
    enc = spec["encoding"]
    assert enc["color"]["scale"] == {"domain": ["Team", "Organisation"], "range": PALETTE[:2]}
    assert enc["shape"]["scale"]["range"] == ["circle", "square"]
    assert enc["x"]["scale"]["domain"] == [0, 10]
    assert enc["y"]["sort"] == ["Relationships", "Environment"]
    data = spec["datasets"][spec["data"]["name"]]
    assert len(data) == 3                      # the missing score is not drawn as zero
    assert {d["series"] for d in data} == {"Team", "Organisation"}


def test_team_trend_spec_percentages_and_means_in_two_panels():
    trend = pd.DataFrame({
        "wave_label": ["2024", "2025", "2024", "2025"],
        "indicator": ["Stress", "Stress", "HSE Peer support", "HSE Peer support"],
        "kind": ["proportion", "proportion", "mean", "mean"],
        "value": [0.36, 0.2, 4.0, 4.48], "n": [22, 25, 22, 25],
    })
    spec = charts.team_trend(trend, "Theatres").to_dict()
    assert spec["title"] == "Theatres: trend over waves"
    percent, means = spec["hconcat"]
    pct_data = spec["datasets"][percent["data"]["name"]]
    assert [(d["indicator"], d["value"]) for d in pct_data] == [("Stress", 0.36), ("Stress", 0.2)]
    assert percent["layer"][0]["encoding"]["y"]["axis"]["format"] == ".0%"
    mean_data = spec["datasets"][means["data"]["name"]]
    assert [d["value"] for d in mean_data] == pytest.approx([4.0, 4.48])
    assert means["layer"][0]["encoding"]["y"]["scale"]["zero"] is False
    only_pct = charts.team_trend(trend[trend.kind == "proportion"], "Theatres").to_dict()
    assert len(only_pct["hconcat"]) == 1
