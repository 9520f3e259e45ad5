"""A chart on a page with PNG and SVG downloads that carry the footer (dataset, wave, date, n, threshold)."""
from __future__ import annotations

import re
from datetime import date

import altair as alt
import streamlit as st

from dashboard import store
from dashboard.metrics import briefing
from dashboard.present import slides
from dashboard.ui import cache, shell


def footer(period: str, n: str) -> str:
    """The export footer for a page's chart: this dataset, the period and n shown, today."""
    cur = cache.cursor()
    try:
        info = store.dataset_info(cur)
    finally:
        cur.close()
    return briefing.footer_line(info["name"], bool(info["is_demo"]), period, n, shell.threshold(),
                                date.today())


def show(chart: alt.Chart, footer: str, key: str) -> None:
    """st.altair_chart at container width, then PNG/SVG downloads rendered offline on click."""
    st.altair_chart(chart, width="stretch", key=f"chart_{key}")
    downloads(chart, footer, key)


def downloads(chart: alt.Chart, footer: str, key: str) -> None:
    """PNG and SVG of the chart with its footer, built when clicked."""
    name = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "chart"
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("PNG", lambda: slides.chart_png(chart, footer, scale=2), file_name=f"{name}.png",
                         mime="image/png", on_click="ignore", key=f"png_{key}", icon=":material/image:")
    right.download_button("SVG", lambda: slides.chart_svg(chart, footer), file_name=f"{name}.svg",
                          mime="image/svg+xml", on_click="ignore", key=f"svg_{key}", icon=":material/image:")
