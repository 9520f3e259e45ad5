"""The one chart theme: text sizes, contrast, series colours and shapes, meeting sizes."""
from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest

from dashboard.present.charts import common, overview, teams


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str = "#FFFFFF") -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_matches_known_values():
    assert contrast("#000000") == pytest.approx(21.0)
    # the Streamlit default grey the issue measured at about 3.7:1
    assert contrast("#808495") == pytest.approx(3.7, abs=0.1)


def _charts():
    domains = pd.DataFrame({"domain": ["A", "B"], "score": [6.0, 4.0],
                            "status_label": ["Better than benchmark", "Worse than benchmark"],
                            "feeding": ["x", "y"], "benchmark_score": [5.0, 5.0]})
    trend = pd.DataFrame({"wave_label": ["2024", "2025"] * 2, "indicator": ["Stress"] * 2 + ["Burnout"] * 2,
                          "value": [0.4, 0.42, 0.3, 0.31], "n": [100] * 4})
    team = pd.DataFrame({"wave_label": ["2024", "2025"] * 4,
                         "indicator": ["S"] * 2 + ["P"] * 2 + ["Demands"] * 2 + ["Control"] * 2,
                         "kind": ["proportion"] * 4 + ["mean"] * 4,
                         "value": [0.4, 0.42, 0.5, 0.52, 3.1, 3.2, 3.4, 3.5], "n": [30] * 8})
    small_text = alt.Chart(pd.DataFrame({"a": [1]})).mark_text(fontSize=9).encode(text="a:Q")
    return {
        "domain_scores": overview.domain_scores(domains),
        "headline_trends": overview.headline_trends(trend),
        "team_trend": teams.team_trend(team, "Ward 1"),
        "bare_text": common.base_config(small_text),
    }


@pytest.mark.parametrize("size,minimum", [("page", 14), ("meeting", 18)])
def test_every_font_is_large_enough_and_text_is_dark(size, minimum):
    for name, chart in _charts().items():
        spec = common.base_config(chart, size).to_dict()
        sizes = common.text_sizes(spec)
        assert sizes and min(sizes) >= minimum, (name, sorted(sizes)[:3])
        cfg = spec["config"]
        for colour in (cfg["axis"]["labelColor"], cfg["axis"]["titleColor"], cfg["legend"]["labelColor"],
                       cfg["title"]["color"], cfg["title"]["subtitleColor"], cfg["text"]["color"]):
            assert contrast(colour) >= 4.5, (name, colour)
        assert "#808495" not in json.dumps(spec).upper()
        # legends and titles are never cut short
        assert cfg["legend"]["labelLimit"] == 0 and cfg["title"]["limit"] == 0


def test_page_theme_is_applied_by_the_chart_builders():
    for name, chart in _charts().items():
        assert min(common.text_sizes(chart.to_dict())) >= 14, name


def test_series_get_distinct_colour_and_shape_pairs():
    # Vega cycles each range on its own, so series i gets colour i % 7 and shape i % 6
    colours, shapes = common.SERIES_COLOURS, common.SERIES_SHAPES
    pairs = {(colours[i % len(colours)], shapes[i % len(shapes)]) for i in range(42)}
    assert len(pairs) == 42
    assert "#F0E442" not in common.SERIES_COLOURS  # Okabe-Ito yellow is invisible as a line
    for colour in common.SERIES_COLOURS:
        assert contrast(colour) >= 2.0  # graphics need 3:1 with a shape as well; none is pale


def test_team_trend_panels_share_one_colour_and_shape_scale():
    spec = _charts()["team_trend"].to_dict()
    assert spec["resolve"]["scale"] == {"color": "shared", "shape": "shared"}
    assert spec["config"]["range"]["category"] == common.SERIES_COLOURS
    assert spec["config"]["range"]["symbol"] == common.SERIES_SHAPES


def test_trend_chart_is_tall_and_meeting_theme_replaces_page_theme():
    spec = _charts()["headline_trends"].to_dict()
    assert spec["height"] >= 360
    meeting = common.meeting(_charts()["headline_trends"]).to_dict()
    assert meeting["config"]["axis"]["labelFontSize"] == common.SIZES["meeting"]["label"]
    # the original chart is untouched
    assert spec["config"]["axis"]["labelFontSize"] == common.SIZES["page"]["label"]


@pytest.mark.parametrize("size", ["page", "meeting"])
def test_theme_is_the_config_altairs_configure_methods_give(size):
    # base_config sets one config built per size; Altair's configure_* chain is the second method
    s = common.SIZES[size]
    frame = pd.DataFrame({"x": [1, 2], "y": [3.0, 4.0], "g": ["a", "b"]})
    chart = alt.Chart(frame).mark_line().encode(x="x", y="y", color="g").configure_axisX(labelAngle=0)
    by_hand = (
        chart.configure(font="Source Sans Pro, Arial, sans-serif")
        .configure_axis(labelFontSize=s["label"], titleFontSize=s["title"], labelColor=common.TEXT,
                        titleColor=common.TEXT, domainColor=common.MUTED, tickColor=common.MUTED,
                        gridColor=common.GRID, titleFontWeight="normal")
        .configure_legend(labelFontSize=s["legend"], titleFontSize=s["legend"], labelColor=common.TEXT,
                          titleColor=common.TEXT, orient="bottom", labelLimit=0, titleLimit=0,
                          symbolSize=12 * s["legend"])
        .configure_header(labelFontSize=s["label"], titleFontSize=s["title"], labelColor=common.TEXT,
                          titleColor=common.TEXT)
        .configure_title(fontSize=s["heading"], color=common.TEXT, subtitleFontSize=s["label"],
                         subtitleColor=common.MUTED, anchor="start", limit=0)
        .configure_text(fontSize=s["text"], color=common.TEXT)
        .configure_range(category=common.SERIES_COLOURS, symbol=common.SERIES_SHAPES)
        .configure_view(stroke=None)
    )
    themed = common.base_config(chart, size)
    assert json.dumps(themed.to_dict()) == json.dumps(by_hand.to_dict())
    # the shared config is copied, never handed out: changing one chart's leaves the next alone
    themed.config.axis.labelFontSize = 99
    assert common.base_config(chart, size).to_dict()["config"]["axis"]["labelFontSize"] == s["label"]


def test_theme_lifts_small_text_in_layers_and_leaves_the_chart_given_alone():
    frame = pd.DataFrame({"x": [1, 2], "y": [3.0, 4.0], "t": ["a", "b"]})
    base = alt.Chart(frame).encode(x="x", y="y")
    small = base.mark_text(fontSize=9).encode(text="t")
    chart = alt.vconcat(alt.layer(base.mark_point(), small), base.mark_line())
    themed = common.base_config(chart, "meeting")
    marks = [m for m in json.dumps(themed.to_dict()).split('"mark": ')[1:] if m.startswith('{"type": "text"')]
    assert marks and all('"fontSize": 20' in m for m in marks)
    assert small.mark.fontSize == 9 and chart.vconcat[0].layer[1].mark.fontSize == 9
