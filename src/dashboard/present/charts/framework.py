"""Framework charts: self-ratings beside the domain scores, and drivers with their intervals."""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.present.charts.common import STATUS_ORDER, base_config, status_colour, status_shape

FLAG_MARK = {"gap": "⚠ ", "check": "! ", "modest": "? ", "": ""}


def diagnostic(beside: pd.DataFrame, levels: list[tuple[int, str]]) -> alt.HConcatChart:
    """Two panels on the same rows (one per element): the latest self-rating on the maturity
    scale, and the measured 0-10 score of the element's domain with its benchmark status.

    beside: diagnostic.beside_data; levels: (level, label) of the scale.
    """
    data = beside.assign(
        row=[FLAG_MARK[f] + e for f, e in zip(beside.flag, beside.element, strict=True)],
        rating_num=beside.rating.astype("float64"),
        status_label=beside.domain_status_label.fillna("No benchmark"),
    )
    order = list(data.row)
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=360))
    lo, hi = levels[0][0], levels[-1][0]
    label_expr = " : ".join(f"datum.value == {lv} ? '{lab}'" for lv, lab in levels) + " : ''"
    rated = (
        alt.Chart(data[data.rating_num.notna()])
        .mark_point(size=160, filled=True, color="#0072B2", shape="diamond")
        .encode(
            x=alt.X("rating_num:Q", scale=alt.Scale(domain=[lo - 0.3, hi + 0.3]),
                    axis=alt.Axis(values=[lv for lv, _ in levels], labelExpr=label_expr,
                                  labelAngle=0), title="Our self-rating"),
            y=y,
            tooltip=[alt.Tooltip("element:N", title="Element"),
                     alt.Tooltip("rating_label:N", title="Self-rating"),
                     alt.Tooltip("assessed_by:N", title="Assessed by"),
                     alt.Tooltip("flag_text:N", title="Flag")],
        )
        .properties(width=300, height=alt.Step(26), title="Self-assessment")
    )
    measured = (
        alt.Chart(data[data.domain_score.notna()])
        .mark_point(size=160, filled=True)
        .encode(
            x=alt.X("domain_score:Q", scale=alt.Scale(domain=[0, 10]),
                    title="Domain score from the data (0-10)"),
            y=alt.Y("row:N", sort=order, title=None, axis=None),
            color=alt.Color("status_label:N", scale=status_colour(), sort=STATUS_ORDER,
                            title="Against benchmark"),
            shape=alt.Shape("status_label:N", scale=status_shape(), sort=STATUS_ORDER,
                            title="Against benchmark"),
            tooltip=[alt.Tooltip("domain:N", title="Domain"),
                     alt.Tooltip("domain_score:Q", title="Score", format=".1f"),
                     alt.Tooltip("status_label:N", title="Against benchmark"),
                     alt.Tooltip("measured:N", title="Figures")],
        )
        .properties(width=300, height=alt.Step(26), title="What the data say")
    )
    return base_config(alt.hconcat(rated, measured, spacing=12))


def drivers(table: pd.DataFrame, outcome: str, unit: str = "points") -> alt.LayerChart:
    """Each condition's association with the outcome per 1 sd better, with its 95% bootstrap
    interval; strongest first. table: drivers.analyse()['table']."""
    data = table.assign(
        est=table.coef * 100, lo=table.ci_low * 100, hi=table.ci_high * 100,
        reading=table.clear.map({True: "Interval leaves out 0", False: "Interval includes 0"}),
    )
    order = list(data.short)
    y = alt.Y("short:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    rules = alt.Chart(data).mark_rule(strokeWidth=3, color="#555555").encode(
        x=alt.X("lo:Q", title=f"Change in {outcome} ({unit}) per 1 sd better condition"),
        x2="hi:Q", y=y,
    )
    points = alt.Chart(data).mark_point(size=140, filled=True).encode(
        x="est:Q", y=y,
        shape=alt.Shape("reading:N", title=None,
                        scale=alt.Scale(domain=["Interval leaves out 0", "Interval includes 0"],
                                        range=["circle", "square"])),
        color=alt.Color("reading:N", title=None,
                        scale=alt.Scale(domain=["Interval leaves out 0", "Interval includes 0"],
                                        range=["#0072B2", "#999999"])),
        tooltip=[alt.Tooltip("label:N", title="Condition"),
                 alt.Tooltip("est:Q", title="Estimate", format="+.1f"),
                 alt.Tooltip("lo:Q", title="95% low", format="+.1f"),
                 alt.Tooltip("hi:Q", title="95% high", format="+.1f")],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return base_config(alt.layer(zero, rules, points).properties(
        title=f"What goes with {outcome}", height=alt.Step(34), width=520))
