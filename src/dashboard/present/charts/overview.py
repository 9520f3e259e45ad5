"""Overview charts: seven-domain scores against the benchmark, headline trends over waves."""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.present.charts.common import STATUS_ORDER, base_config, status_colour


def domain_scores(domains: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Horizontal bars of 0-10 domain scores; a tick marks the benchmark-implied score.

    domains: domain, score, status_label, feeding, benchmark_score (scorecard.domain_table, or
    lenses.rollup for any lens, whose groups come as `domain`).
    """
    data = domains[domains.score.notna()].assign(score_text=lambda d: d.score.map("{:.1f}".format))
    order = list(data.domain)
    y = alt.Y("domain:N", sort=order, title=None, axis=alt.Axis(labelLimit=0))  # never cut a name
    bars = (
        alt.Chart(data)
        .mark_bar(height=22)
        .encode(
            x=alt.X(
                "score:Q",
                scale=alt.Scale(domain=[0, 10]),
                axis=alt.Axis(values=list(range(11))),
                title="Score (0-10, higher is better)",
            ),
            y=y,
            color=alt.Color("status_label:N", scale=status_colour(), title="Against benchmark",
                            sort=STATUS_ORDER),
            tooltip=[
                alt.Tooltip("domain:N", title="Domain"),
                alt.Tooltip("score:Q", title="Score", format=".1f"),
                alt.Tooltip("status_label:N", title="Against benchmark"),
                alt.Tooltip("feeding:N", title="Indicators"),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=12, fontSize=14).encode(
        text="score_text:N", color=alt.value("#1A1A1A")
    )
    ticks = (
        alt.Chart(data[data.benchmark_score.notna()])
        .mark_tick(color="#000000", thickness=3, size=30)
        .encode(
            x="benchmark_score:Q",
            y=y,
            tooltip=[alt.Tooltip("benchmark_score:Q", title="Benchmark score", format=".1f")],
        )
    )
    return base_config(
        alt.layer(bars, labels, ticks).properties(
            title=title or "Seven-domain scores (black tick: benchmark)", height=alt.Step(40)
        )
    )


def headline_trends(trend: pd.DataFrame) -> alt.Chart:
    """Headline survey indicators by wave (percent), with a marker shape per indicator."""
    data = trend.assign(percent=trend.value * 100)
    base = alt.Chart(data).encode(
        x=alt.X(
            "wave_label:O",
            title="Survey wave",
            sort=sorted(data.wave_label.unique()),
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y("percent:Q", title="% of respondents"),
        color=alt.Color("indicator:N", title="Indicator"),
        tooltip=[
            alt.Tooltip("indicator:N", title="Indicator"),
            alt.Tooltip("wave_label:O", title="Wave"),
            alt.Tooltip("percent:Q", title="%", format=".1f"),
            alt.Tooltip("n:Q", title="Respondents"),
        ],
    )
    lines = base.mark_line(strokeWidth=3)
    points = base.mark_point(size=90, filled=True).encode(shape=alt.Shape("indicator:N", title="Indicator"))
    return base_config(alt.layer(lines, points).properties(title="Headline indicators by wave", height=380))

