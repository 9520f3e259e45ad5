"""Intervention charts: before/after slope chart, interrupted time series, forest plot of effects."""
from __future__ import annotations

import textwrap
from datetime import date

import altair as alt
import pandas as pd

from dashboard.present.charts.common import PALETTE, base_config

# Target vs comparison: colour, line dash and marker shape all differ, and lines carry labels.
GROUP_ORDER = ["Target teams", "Comparison teams"]
GROUP_COLOURS = [PALETTE[0], PALETTE[1]]  # blue, orange
GROUP_DASH = [[1, 0], [6, 4]]
GROUP_SHAPES = ["circle", "square"]

VERDICT_ORDER = ["likely improved", "likely worsened", "changed after: favourable direction",
                 "changed after: unfavourable direction", "no clear change", "not enough data"]
# before/after-only verdicts share the direction's shape but a paler colour: no comparison group
VERDICT_COLOURS = ["#009E73", "#D55E00", "#7FCDB8", "#EAAE80", "#555555", "#999999"]
VERDICT_SHAPES = ["triangle-up", "triangle-down", "triangle-up", "triangle-down", "circle", "square"]

COMPARISON_SERIES = "Comparison teams (observed)"
SERIES_ORDER = ["Observed", "Fitted", "Projected pre-trend (no change)", COMPARISON_SERIES]
SERIES_COLOURS = ["#000000", PALETTE[0], PALETTE[3], "#999999"]
SERIES_DASH = [[1, 0], [1, 0], [6, 4], [2, 2]]
SERIES_WIDTH = [1, 3, 3, 1.5]


def _value_format(kind: str) -> tuple[str, str]:
    """(axis title, d3 number format) for an indicator kind in display units."""
    if kind == "proportion":
        return "% of respondents", ".1f"
    if kind == "rate":
        return "Absence rate (%)", ".2f"
    return "Mean score (1-5, higher is better)", ".2f"


def before_after(cells: pd.DataFrame, kind: str, title: str) -> alt.Chart:
    """Slope chart: each group's value before and after, one line per group, values labelled.

    cells: group, period ("Before"/"After"), wave (label), value (display units: % or mean), n.
    """
    axis_title, fmt = _value_format(kind)
    data = cells.assign(
        x_label=cells.period + " (" + cells.wave.astype(str) + ")",
        value_text=cells.value.map(lambda v: format(v, fmt) + ("%" if kind != "mean" else "")),
        n_text=cells.n.map(lambda n: "" if pd.isna(n) else f"n = {int(n)}"),
        # the higher group's value is written above its point, the lower one's below, so
        # labels of close values do not collide
        above=cells.value >= cells.groupby("period").value.transform("max"),
    )
    order = list(dict.fromkeys(data.sort_values("period", key=lambda p: p != "Before").x_label))
    # wide outer padding keeps the group names at the line ends inside the plot
    x = alt.X("x_label:N", sort=order, title=None, axis=alt.Axis(labelAngle=0),
              scale=alt.Scale(padding=2.2))
    colour = alt.Color("group:N", scale=alt.Scale(domain=GROUP_ORDER, range=GROUP_COLOURS), legend=None)
    base = alt.Chart(data).encode(
        x=x,
        # pixel padding keeps labels written below the lowest point clear of the axis
        y=alt.Y("value:Q", title=axis_title, scale=alt.Scale(zero=False, padding=24)),
        color=colour,
        tooltip=[
            alt.Tooltip("group:N", title="Teams"),
            alt.Tooltip("x_label:N", title="Period"),
            alt.Tooltip("value:Q", title=axis_title, format=fmt),
            alt.Tooltip("n:Q", title="Respondents"),
        ],
    )
    lines = base.mark_line(strokeWidth=3).encode(
        strokeDash=alt.StrokeDash("group:N", scale=alt.Scale(domain=GROUP_ORDER, range=GROUP_DASH),
                                  legend=None),
        detail="group:N",
    )
    points = base.mark_point(size=120, filled=True).encode(
        shape=alt.Shape("group:N", scale=alt.Scale(domain=GROUP_ORDER, range=GROUP_SHAPES), legend=None)
    )
    text = {"fontSize": 13, "fontWeight": "bold"}
    labels_above = base.transform_filter("datum.above").mark_text(dy=-14, **text).encode(
        text="value_text:N"
    )
    labels_below = base.transform_filter("!datum.above").mark_text(dy=18, **text).encode(
        text="value_text:N"
    )
    # groups are named at the end of their lines (colour is never the only key)
    names = (
        alt.Chart(data[data.period == "After"])
        .mark_text(align="left", dx=12, fontSize=13)
        .encode(x=x, y="value:Q", text="group:N", color=colour)
    )
    return base_config(
        alt.layer(lines, points, labels_above, labels_below, names).properties(
            title=_wrapped(title), height=320
        )
    )


def _wrapped(title: str, width: int = 42) -> alt.TitleParams:
    """Long titles on several lines: a title wider than the chart upsets Streamlit's sizing."""
    return alt.TitleParams(text=textwrap.wrap(title, width) or [""])


def interrupted_series(
    series: pd.DataFrame, start: date, title: str, comparison: pd.DataFrame | None = None
) -> alt.Chart:
    """Observed monthly rate, the fitted segmented line, and the pre-trend projected past the start.

    series: month, period ("pre"/"post"/"transition"), observed, fitted, counterfactual (rates as
    fractions, from stats.interrupted_time_series). The projection is drawn after the start only.
    comparison (optional): month, rate of the comparison teams, drawn thin and grey for context.
    """
    data = series.assign(month=pd.to_datetime(series.month))
    parts = [
        data[["month"]].assign(series="Observed", rate=data.observed * 100),
        data[["month"]].assign(series="Fitted", rate=data.fitted * 100),
        data.loc[data.period != "pre", ["month"]].assign(
            series="Projected pre-trend (no change)",
            rate=data.loc[data.period != "pre", "counterfactual"] * 100,
        ),
    ]
    if comparison is not None and len(comparison):
        parts.append(pd.DataFrame({"month": pd.to_datetime(comparison.month), "series": COMPARISON_SERIES,
                                   "rate": comparison.rate.astype("float64") * 100}))
    long = pd.concat(parts, ignore_index=True).dropna(subset=["rate"])
    colour = alt.Color("series:N", scale=alt.Scale(domain=SERIES_ORDER, range=SERIES_COLOURS), title=None,
                       legend=alt.Legend(symbolType="stroke", labelLimit=320))
    dash = alt.StrokeDash("series:N", scale=alt.Scale(domain=SERIES_ORDER, range=SERIES_DASH), title=None)
    x = alt.X("month:T", title="Month", axis=alt.Axis(format="%b %Y"))
    y = alt.Y("rate:Q", title="Absence rate (%)", scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("month:T", title="Month", format="%b %Y"),
        alt.Tooltip("series:N", title="Series"),
        alt.Tooltip("rate:Q", title="Rate %", format=".2f"),
    ]
    lines = (
        alt.Chart(long[long.series != "Observed"])
        .mark_line()
        .encode(
            x=x, y=y, color=colour, strokeDash=dash, tooltip=tooltip,
            strokeWidth=alt.StrokeWidth("series:N", scale=alt.Scale(domain=SERIES_ORDER, range=SERIES_WIDTH),
                                        legend=None),
        )
    )
    observed = alt.Chart(long[long.series == "Observed"]).encode(x=x, y=y, color=colour, tooltip=tooltip)
    observed_line = observed.mark_line(strokeWidth=1, opacity=0.6)
    observed_points = observed.mark_point(size=50, filled=True, shape="circle")
    start_frame = pd.DataFrame({"month": [pd.Timestamp(start)], "label": [f"Start {start:%d %b %Y}"]})
    rule = alt.Chart(start_frame).mark_rule(strokeWidth=2, color="#000000").encode(x="month:T")
    rule_text = (
        alt.Chart(start_frame)
        .mark_text(align="left", dx=5, dy=-8, fontSize=13, baseline="top", y=0)
        .encode(x="month:T", text="label:N")
    )
    return base_config(
        alt.layer(observed_line, observed_points, lines, rule, rule_text).properties(
            title=_wrapped(title, 90), height=320
        )
    )


def forest(frame: pd.DataFrame) -> alt.VConcatChart:
    """Effects across indicators with 95% intervals, one panel per unit of measurement.

    frame: evaluation.forest_frame (indicator, unit, estimate, ci_low, ci_high, null, verdict,
    level, text). Each row is labelled with its verdict and design level in words; the dashed
    line marks no change (0, or 1 for a rate ratio or a ratio of rate ratios).
    """
    panels = []
    for unit, part in frame.groupby("unit", sort=False):
        data = part.assign(
            label=part.verdict.str.capitalize() + " · level " + part.level.astype("Int64").astype(str),
        )
        y = alt.Y("indicator:N", title=None, sort=list(data.indicator), axis=alt.Axis(labelLimit=220))
        verdict_colour = alt.Color(
            "verdict:N", scale=alt.Scale(domain=VERDICT_ORDER, range=VERDICT_COLOURS), title="Verdict"
        )
        lo = float(min(data.ci_low.min(), data.null.min()))
        hi = float(max(data.ci_high.max(), data.null.max()))
        pad = (hi - lo) * 0.08 or 1.0
        x = alt.X("estimate:Q", title=unit, scale=alt.Scale(domain=[lo - pad, hi + pad]))
        intervals = alt.Chart(data).mark_rule(strokeWidth=3).encode(
            x=alt.X("ci_low:Q", title=unit), x2="ci_high:Q", y=y, color=verdict_colour
        )
        points = alt.Chart(data).mark_point(size=160, filled=True).encode(
            x=x,
            y=y,
            color=verdict_colour,
            shape=alt.Shape("verdict:N", scale=alt.Scale(domain=VERDICT_ORDER, range=VERDICT_SHAPES),
                            title="Verdict"),
            tooltip=[
                alt.Tooltip("indicator:N", title="Indicator"),
                alt.Tooltip("text:N", title="Effect"),
                alt.Tooltip("verdict:N", title="Verdict"),
                alt.Tooltip("level:Q", title="Magenta Book level"),
            ],
        )
        null_rule = alt.Chart(data.head(1)).mark_rule(strokeDash=[5, 4], color="#000000").encode(
            x="null:Q"
        )
        labels = alt.Chart(data).mark_text(align="center", dy=-16, fontSize=12).encode(
            x=alt.X("estimate:Q"), y=y, text="label:N"
        )
        panels.append(
            alt.layer(null_rule, intervals, points, labels).properties(
                title=_wrapped(f"Effect in {unit} (dashed line: no change)", 60), height=alt.Step(60),
                width=720,
            )
        )
    return base_config(alt.vconcat(*panels).properties(title="Effects across indicators, with 95% intervals"))
