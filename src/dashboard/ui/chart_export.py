"""A chart on a page with PNG and SVG downloads that carry the footer (dataset, wave, date, n, threshold)."""
from __future__ import annotations

import re

import altair as alt
import streamlit as st

from dashboard import slides


def show(chart: alt.Chart, footer: str, key: str) -> None:
    """st.altair_chart at container width, then PNG/SVG downloads rendered offline on click."""
    st.altair_chart(chart, width="stretch", key=f"chart_{key}")
    name = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "chart"
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("PNG", lambda: slides.chart_png(chart, footer, scale=2), file_name=f"{name}.png",
                         mime="image/png", on_click="ignore", key=f"png_{key}", icon=":material/image:")
    right.download_button("SVG", lambda: slides.chart_svg(chart, footer), file_name=f"{name}.svg",
                          mime="image/svg+xml", on_click="ignore", key=f"svg_{key}", icon=":material/image:")
