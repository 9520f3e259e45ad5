"""Shared chart style: Okabe-Ito palette, status colours with shapes, axis formats."""
from __future__ import annotations

import altair as alt

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# Status colours always travel with a text label or shape, never colour alone (WCAG 1.4.1).
STATUS_ORDER = ["Better than benchmark", "Similar to benchmark", "Worse than benchmark", "No benchmark"]
STATUS_COLOURS = ["#009E73", "#E69F00", "#D55E00", "#999999"]
STATUS_SHAPES = ["triangle-up", "circle", "triangle-down", "square"]


def status_colour() -> alt.Scale:
    return alt.Scale(domain=STATUS_ORDER, range=STATUS_COLOURS)


def status_shape() -> alt.Scale:
    return alt.Scale(domain=STATUS_ORDER, range=STATUS_SHAPES)


def base_config(chart: alt.Chart) -> alt.Chart:
    """Legible on a shared screen: larger fonts, no chart border."""
    return (
        chart.configure_axis(labelFontSize=13, titleFontSize=14)
        .configure_legend(labelFontSize=13, titleFontSize=13, orient="bottom")
        .configure_title(fontSize=16, anchor="start")
        .configure_view(stroke=None)
    )
