"""The one chart theme: Okabe-Ito colours with a shape per series, legible text, for page and projector."""
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


# Series colours for lines and points: Okabe-Ito without its yellow, which is too pale against
# white to see as a line. Seven colours against six shapes: series i gets colour i % 7 and shape
# i % 6, so no two of the first 42 series (7 x 6) share both colour and shape.
SERIES_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9"]
SERIES_SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]

# Text: near-black on white is 17:1 (WCAG asks 4.5:1); the Streamlit default grey #808495 is
# about 3.7:1 and is overridden here for every label, title and legend.
TEXT = "#1A1A1A"
MUTED = "#3D3D3D"  # subtitles and axis lines: 10.7:1
GRID = "#E3E3E3"

# Minimum sizes in px. "page": a laptop or desktop; "meeting": a 1920x1080 shared screen.
SIZES: dict[str, dict[str, int]] = {
    "page": {"label": 14, "title": 15, "legend": 14, "heading": 18, "text": 14},
    "meeting": {"label": 20, "title": 22, "legend": 20, "heading": 28, "text": 20},
}


def _lift_text(chart, minimum: int):
    """The chart with every text mark's font size raised to at least `minimum`: a copy of each
    part that changes (the chart given is left as it was), the same object where nothing does."""
    if not hasattr(chart, "_kwds"):
        return chart
    changes = {}
    mark = chart._kwds.get("mark", alt.Undefined)
    if isinstance(mark, alt.MarkDef) and mark.type == "text":
        size = mark._kwds.get("fontSize", alt.Undefined)
        if size is alt.Undefined or (isinstance(size, int | float) and size < minimum):
            changes["mark"] = mark.copy(deep=False)
            changes["mark"].fontSize = minimum
    for attr in ("layer", "vconcat", "hconcat", "concat"):
        kids = chart._kwds.get(attr, alt.Undefined)
        if kids is not alt.Undefined:
            lifted = [_lift_text(kid, minimum) for kid in kids]
            if any(new is not old for new, old in zip(lifted, kids, strict=True)):
                changes[attr] = lifted
    spec = chart._kwds.get("spec", alt.Undefined)
    if spec is not alt.Undefined and (lifted := _lift_text(spec, minimum)) is not spec:
        changes["spec"] = lifted
    if not changes:
        return chart
    chart = chart.copy(deep=False)
    for attr, value in changes.items():
        chart[attr] = value
    return chart


def _theme(size: str) -> alt.Config:
    """The theme's config for a size; built (and schema-checked by Altair) once per size."""
    if size not in _THEMES:
        s = SIZES[size]
        _THEMES[size] = alt.Config(
            font="Source Sans Pro, Arial, sans-serif",
            axis=alt.AxisConfig(
                labelFontSize=s["label"], titleFontSize=s["title"], labelColor=TEXT, titleColor=TEXT,
                domainColor=MUTED, tickColor=MUTED, gridColor=GRID, titleFontWeight="normal",
            ),
            legend=alt.LegendConfig(
                labelFontSize=s["legend"], titleFontSize=s["legend"], labelColor=TEXT, titleColor=TEXT,
                orient="bottom", labelLimit=0, titleLimit=0, symbolSize=12 * s["legend"],
            ),
            header=alt.HeaderConfig(labelFontSize=s["label"], titleFontSize=s["title"],
                                    labelColor=TEXT, titleColor=TEXT),
            title=alt.TitleConfig(fontSize=s["heading"], color=TEXT, subtitleFontSize=s["label"],
                                  subtitleColor=MUTED, anchor="start", limit=0),
            text=alt.MarkConfig(fontSize=s["text"], color=TEXT),
            range=alt.RangeConfig(category=SERIES_COLOURS, symbol=SERIES_SHAPES),
            view=alt.ViewConfig(stroke=None),
        )
    return _THEMES[size]


_THEMES: dict[str, alt.Config] = {}


def base_config(chart: alt.Chart, size: str = "page") -> alt.Chart:
    """Apply the theme: text sizes for `size` ("page" or "meeting"), dark text, Okabe-Ito series
    colours and shapes, legends and labels never truncated, no chart border.

    Calling it again on a themed chart (e.g. with "meeting") replaces the earlier theme.
    """
    # Copies only the parts it changes: a deep copy of a layered chart re-runs Altair's layer
    # merging for every layer (~50 ms a chart). The whole config is replaced, as
    # chart.configure(...) did, by a copy of the one built per size (Altair checks every config
    # object it builds against the schema: ~14 ms a chart).
    chart = _lift_text(chart, SIZES[size]["text"]).copy(deep=False)
    chart.config = _theme(size).copy(deep=True)
    return chart


def meeting(chart: alt.Chart) -> alt.Chart:
    """The same chart themed for a shared screen (text at least 18 px at 1920x1080)."""
    return base_config(chart, "meeting")


def text_sizes(spec: dict) -> list[float]:
    """Every font size a Vega-Lite spec sets (config and marks), for tests and checks."""
    sizes: list[float] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("fontSize", "labelFontSize", "titleFontSize", "subtitleFontSize") and isinstance(
                    value, int | float
                ):
                    sizes.append(float(value))
                elif key not in ("datasets", "data"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return sizes
