"""Team drill-down charts: heatmap, funnel plot, domain comparison and team trend (pure functions)."""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from dashboard.present import formatting
from dashboard.present.charts.common import PALETTE, STATUS_COLOURS, base_config
from dashboard.stats import CAUTION_MARK, MIN_N, small_n

# Glyphs travel with every status so that colour never carries the meaning alone.
GLYPHS = {"better": "▲", "similar": "●", "worse": "▼", "none": "", "suppressed": ""}
# Heatmap fills: only "better" and "worse" are strong (shared Okabe-Ito status colours); "similar"
# is a pale tint so that the cells that differ stand out in a large grid.
HEAT_COLOURS = {
    "better": STATUS_COLOURS[0],
    "similar": "#D9ECF7",
    "worse": STATUS_COLOURS[2],
    "none": "#FFFFFF",
    "suppressed": "#EDEDED",
}
SIGNAL_LABELS = {
    "worse": "▼ Unfavourable, outside 95% limits",
    "within": "● Within limits",
    "better": "▲ Favourable, outside 95% limits",
}
SIGNAL_COLOURS = {"worse": STATUS_COLOURS[2], "within": "#56B4E9", "better": STATUS_COLOURS[0]}
SIGNAL_SHAPES = {"worse": "triangle-down", "within": "circle", "better": "triangle-up"}
# Name of the heatmap's click selection (st.altair_chart returns it under this name).
PICK = "pick"


def _fmt(kind: str, value: float) -> str:
    if pd.isna(value):
        return "–"
    if kind == "rate":
        return f"{value:.1%}"    # absence rates sit around 5%: whole percents would hide changes
    return f"{value:.0%}" if kind in ("proportion", "share") else f"{value:.2f}"


def status_legend(labels: dict[str, str]) -> tuple[list[str], list[str]]:
    """Legend entries (glyph + text) and colours in a fixed order for the heatmap."""
    keys = ["better", "similar", "worse", "none", "suppressed"]
    colours = [HEAT_COLOURS[k] for k in keys]
    entries = [f"{GLYPHS[k]} {labels[k]}".strip() for k in keys]
    return entries, colours


def heatmap(
    heat: pd.DataFrame,
    labels: dict[str, str],
    reference_name: str,
    threshold: int,
    group_order: Sequence[str] | None = None,
    group_title: str = "Team",
    selectable: bool = False,
) -> alt.Chart:
    """Groups (rows) x indicators (columns), coloured by status against the reference.

    selectable: clicking a cell selects its row's group (selection parameter PICK, field group),
    so the page can open that group.

    heat: from drilldown.heatmap. labels: drilldown.status_labels(...). Suppressed survey cells
    are light grey and read "<N", absence cells (source "absence") "<N staff"; hover shows value,
    base (responses, or staff in post for absence), the reference value and the status.
    """
    entries, colours = status_legend(labels)
    entry = {k: f"{GLYPHS[k]} {labels[k]}".strip() for k in labels}
    absent = (heat["source"] == "absence").to_numpy() if "source" in heat else [False] * len(heat)
    data = heat.assign(
        legend=heat.status.map(entry),
        value_text=[
            formatting.fewer_than(threshold, formatting.STAFF if a else formatting.RESPONSES)
            if s else _fmt(k, v)
            for k, v, s, a in zip(heat.kind, heat.value, heat.suppressed, absent, strict=True)
        ],
        reference_text=[_fmt(k, v) for k, v in zip(heat.kind, heat.reference_value, strict=True)],
        cell=[
            formatting.withheld_short(threshold, formatting.STAFF if a else formatting.RESPONSES) if s
            else f"{_fmt(k, v)}{CAUTION_MARK if c and not a else ''} {GLYPHS[st]}".strip()
            for k, v, s, st, a, c in zip(heat.kind, heat.value, heat.suppressed, heat.status, absent,
                                         small_n(heat.n), strict=True)
        ],
        n_text=[
            "" if pd.isna(n) else f"{int(n)} staff in post" if a
            else f"{int(n)} responses" + (f" {CAUTION_MARK} fewer than {MIN_N}: read with caution"
                                         if c else "")
            for n, a, c in zip(heat.n, absent, small_n(heat.n), strict=True)
        ],
    )[["group", "indicator", "domain", "legend", "value_text", "reference_text", "cell", "n_text",
       "status_label"]]
    order = list(group_order) if group_order is not None else sorted(data.group.unique())
    columns = list(dict.fromkeys(heat.indicator))
    base = alt.Chart(data).encode(
        # every column keeps its label however narrow the container makes the grid
        x=alt.X("indicator:N", sort=columns, title=None,
                axis=alt.Axis(orient="top", labelAngle=-50, labelLimit=170, labelOverlap=False)),
        y=alt.Y("group:N", sort=order, title=group_title, axis=alt.Axis(labelLimit=260)),
    )
    rects = base.mark_rect(stroke="#BBBBBB", strokeWidth=0.5).encode(
        color=alt.Color(
            "legend:N",
            scale=alt.Scale(domain=entries, range=colours),
            title=f"Against the {reference_name}",
            legend=alt.Legend(columns=3, labelLimit=280, symbolStrokeColor="#BBBBBB"),
        ),
        tooltip=[
            alt.Tooltip("group:N", title=group_title),
            alt.Tooltip("indicator:N", title="Indicator"),
            alt.Tooltip("value_text:N", title="Value"),
            alt.Tooltip("n_text:N", title="Base (n)"),
            alt.Tooltip("reference_text:N", title=f"{reference_name.capitalize()}"),
            alt.Tooltip("status_label:N", title="Status"),
        ],
    )
    if selectable:
        rects = rects.add_params(alt.selection_point(name=PICK, fields=["group"], on="click"))
    text = base.mark_text(fontSize=11, color="#1A1A1A").encode(text="cell:N")
    if selectable:
        # the cell's text covers its middle: a click there selects the same group
        text = text.add_params(alt.selection_point(name=f"{PICK}_text", fields=["group"], on="click"))
    return base_config(
        alt.layer(rects, text).properties(
            title=f"Indicators by {group_title.lower()} against the {reference_name}",
            height=alt.Step(28),
            width=alt.Step(92),
        )
    )


def funnel(
    points: pd.DataFrame,
    curve: pd.DataFrame,
    kind: str,
    indicator_label: str,
    group_title: str = "Team",
) -> alt.Chart:
    """Funnel plot: each group's value against its n, with 95% (dashed) and 99.8% (solid) limits.

    points: from drilldown.funnel; curve: drilldown.funnel_curve. Marker shape and colour both
    say whether a group is outside the 95% limits, favourably or not.
    """
    axis_format = ".0%" if kind == "proportion" else ".2f"
    y_title = f"{indicator_label} ({'% of respondents' if kind == 'proportion' else 'mean, 1-5'})"
    lines = curve.melt(id_vars="n", value_vars=["centre", "lo95", "hi95", "lo998", "hi998"],
                       var_name="line", value_name="y")
    lines["limit"] = lines.line.map(
        {"centre": "Organisation", "lo95": "95% limits", "hi95": "95% limits",
         "lo998": "99.8% limits", "hi998": "99.8% limits"}
    )
    x = alt.X("n:Q", title="Responses (n)", scale=alt.Scale(zero=False))
    limit_lines = (
        alt.Chart(lines)
        .mark_line(color="#444444")
        .encode(
            x=x,
            y=alt.Y("y:Q", title=y_title, axis=alt.Axis(format=axis_format)),
            detail="line:N",
            strokeDash=alt.StrokeDash(
                "limit:N",
                scale=alt.Scale(domain=["Organisation", "95% limits", "99.8% limits"],
                                range=[[1, 0], [6, 4], [2, 2]]),
                title="Lines",
            ),
            tooltip=[alt.Tooltip("limit:N", title="Line"), alt.Tooltip("n:Q", format=".0f"),
                     alt.Tooltip("y:Q", title="Value", format=axis_format)],
        )
    )
    data = points.assign(
        signal_label=points.signal.map(SIGNAL_LABELS),
        interval=[f"{_fmt(kind, lo)} to {_fmt(kind, hi)}" for lo, hi in
                  zip(points.ci_low, points.ci_high, strict=True)],
    )[["group", "n", "value", "signal_label", "interval", "zone"]]
    keys = list(SIGNAL_LABELS)
    dots = (
        alt.Chart(data)
        .mark_point(size=110, filled=True, opacity=0.9)
        .encode(
            x=x,
            y=alt.Y("value:Q"),
            color=alt.Color("signal_label:N", title="Team",
                            scale=alt.Scale(domain=[SIGNAL_LABELS[k] for k in keys],
                                            range=[SIGNAL_COLOURS[k] for k in keys])),
            shape=alt.Shape("signal_label:N", title="Team",
                            scale=alt.Scale(domain=[SIGNAL_LABELS[k] for k in keys],
                                            range=[SIGNAL_SHAPES[k] for k in keys])),
            tooltip=[
                alt.Tooltip("group:N", title=group_title),
                alt.Tooltip("n:Q", title="Responses (n)", format=".0f"),
                alt.Tooltip("value:Q", title="Value", format=axis_format),
                alt.Tooltip("interval:N", title="95% interval"),
                alt.Tooltip("zone:N", title="Against the limits"),
            ],
        )
    )
    names = (
        alt.Chart(data[data.zone != "Within limits"])
        .mark_text(align="left", dx=8, fontSize=12, color="#1A1A1A")
        .encode(x=x, y="value:Q", text="group:N")
    )
    return base_config(
        alt.layer(limit_lines, dots, names).properties(
            title=f"{indicator_label}: funnel plot around the organisation value", height=420
        )
    )


def domain_dots(
    frame: pd.DataFrame,
    series_col: str = "series",
    series_order: Sequence[str] | None = None,
    title: str = "Seven-domain scores",
) -> alt.Chart:
    """Each domain's 0-10 score for several series (a team and its comparators, or 2-6 teams).

    frame: [domain, series_col, score, status_label]. Series differ by colour and shape.
    """
    data = frame[frame.score.notna()][["domain", series_col, "score", "status_label"]].rename(
        columns={series_col: "series"}
    )
    order = list(series_order) if series_order is not None else list(dict.fromkeys(data.series))
    shapes = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross"]
    domains = list(dict.fromkeys(frame.domain))
    enc_series = alt.Scale(domain=order, range=PALETTE[: len(order)])
    dots = (
        alt.Chart(data)
        .mark_point(size=140, filled=True)
        .encode(
            x=alt.X("score:Q", scale=alt.Scale(domain=[0, 10]), title="Score (0-10, higher is better)"),
            y=alt.Y("domain:N", sort=domains, title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("series:N", scale=enc_series, title=None, sort=order),
            shape=alt.Shape("series:N", scale=alt.Scale(domain=order, range=shapes[: len(order)]),
                            title=None, sort=order),
            yOffset=alt.YOffset("series:N", sort=order),
            tooltip=[
                alt.Tooltip("series:N", title="Group"),
                alt.Tooltip("domain:N", title="Domain"),
                alt.Tooltip("score:Q", title="Score", format=".1f"),
                alt.Tooltip("status_label:N", title="Against benchmark"),
            ],
        )
    )
    return base_config(dots.properties(title=title, height=alt.Step(12 * max(len(order), 2))))


def _trend_panel(data: pd.DataFrame, waves: list[str], kind: str) -> alt.Chart:
    percent = kind == "proportion"
    fmt = ".0%" if percent else ".2f"
    base = alt.Chart(data).encode(
        x=alt.X("wave_label:O", sort=waves, title="Survey wave"),
        y=alt.Y("value:Q", title="% of respondents" if percent else "Mean (1-5, 5 favourable)",
                axis=alt.Axis(format=fmt), scale=alt.Scale(zero=percent)),
        # colour and shape come from the theme's series ranges, shared by both panels, so no two
        # indicators on the chart share a colour and a shape
        color=alt.Color("indicator:N", title="Indicator"),
        tooltip=[
            alt.Tooltip("indicator:N", title="Indicator"),
            alt.Tooltip("wave_label:O", title="Wave"),
            alt.Tooltip("value:Q", title="Value", format=".1%" if percent else ".2f"),
            alt.Tooltip("n:Q", title="Responses (n)", format=".0f"),
        ],
    )
    lines = base.mark_line(strokeWidth=2)
    marks = base.mark_point(size=80, filled=True).encode(shape=alt.Shape("indicator:N", title="Indicator"))
    title = "Percentages" if percent else "HSE scales"
    return alt.layer(lines, marks).properties(title=title, height=340, width=440)


def team_trend(trend: pd.DataFrame, team: str) -> alt.Chart:
    """The team's released figures over waves: percentages and 1-5 means in two panels.

    Waves in which the team was withheld are simply absent (never drawn as zero).
    """
    waves = sorted(trend.wave_label.unique())
    panels = [
        _trend_panel(trend[trend.kind == kind][["wave_label", "indicator", "value", "n"]], waves, kind)
        for kind in ("proportion", "mean")
        if (trend.kind == kind).any()
    ]
    chart = alt.hconcat(*panels).resolve_scale(color="shared", shape="shared")
    return base_config(chart.properties(title=f"{team}: trend over waves"))
