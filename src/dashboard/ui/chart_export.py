"""Downloads of what a page shows: every chart with footed PNG/SVG, the slide pack and the board
report, each behind the export right and written to the audit trail when built."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.auth import access
from dashboard.metrics import briefing
from dashboard.ui import a11y, auth, shell


def footer(period: str, n: str) -> str:
    """The export footer for a page's chart: this dataset, the period and n shown, today."""
    info = shell.dataset()
    return briefing.footer_line(info["name"], bool(info["is_demo"]), period, n, shell.threshold(),
                                date.today())


def n_range(values: pd.Series, what: str = "responses per figure") -> str:
    """'2,708–2,723 responses per figure' for a footer; 'not given' where no n is known (figures
    published without a base)."""
    known = pd.to_numeric(values, errors="coerce").dropna()
    if known.empty:
        return "not given"
    low, high = int(known.min()), int(known.max())
    return f"{low:,} {what}" if low == high else f"{low:,}–{high:,} {what}"


def may_export() -> bool:
    """True when the signed-in role may download (viewers see meeting mode but take nothing away)."""
    who = auth.current()
    return who is not None and access.can(who, "export")


def file_download(container: Any, label: str, build: Callable[[], bytes | str], file_name: str,
                  mime: str, key: str, what: str, icon: str | None = None) -> bool:
    """A download built when clicked (outside the page run), offered only to roles with the export
    right; the build checks that right again and appends an "export" event naming what was taken
    (never a figure). Returns False when nothing was offered."""
    who = auth.current()
    if who is None or not access.can(who, "export"):
        return False

    def built() -> bytes | str:
        access.require(who, "export")  # the role could have changed since the page was drawn
        data = build()
        auth.record("export", f"{what} ({file_name})", who=who)
        return data

    container.download_button(label, built, file_name=file_name, mime=mime, on_click="ignore", key=key,
                              icon=icon)
    return True


def table_key(name: str) -> str:
    """The session-state key of a chart's "data behind this chart" expander (True while open)."""
    return f"table_{name}"


def show(chart: alt.Chart, footer: str, key: str, summary: str) -> None:
    """The chart at container width with its summary as its text alternative (the page shows it
    already), and its PNG/SVG downloads (rendered offline on click) behind one expander."""
    a11y.chart(chart, summary, None, caption=False, key=f"chart_{key}", table_key=table_key(key),
               extra=(lambda: downloads(chart, footer, key)) if may_export() else None)


def chart(figure: Any, summary: str, data: pd.DataFrame | None = None, *, footer: str, name: str,
          container: Any = None, **kwargs: Any) -> Any:
    """Every chart on every page: the chart with its text alternative (a11y.chart), then PNG and
    SVG downloads footed with dataset, period, date, n and the threshold note, inside the chart's
    one expander (its only tab stop). name: the files' name (and the chart's widget key,
    chart_<name>, unless a key is given; its expander's is table_key(name))."""
    kwargs.setdefault("key", f"chart_{name}")
    return a11y.chart(figure, summary, data, container=container, table_key=table_key(name),
                      extra=(lambda: downloads(figure, footer, name)) if may_export() else None, **kwargs)


def downloads(chart: alt.Chart, footer: str, key: str, container: Any = None) -> None:
    """PNG and SVG of the chart with its footer, built when clicked."""
    if not may_export():
        return
    name = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "chart"
    left, right, _ = (container or st).columns([1, 1, 6])
    file_download(left, "PNG", lambda: _image(chart, footer, "png"), f"{name}.png",
                  "image/png", f"png_{key}", "chart image", ":material/image:")
    file_download(right, "SVG", lambda: _image(chart, footer, "svg"), f"{name}.svg",
                  "image/svg+xml", f"svg_{key}", "chart image", ":material/image:")


def _image(chart: alt.Chart, footer: str, kind: str) -> bytes | str:
    """The footed PNG (at twice the size) or SVG, drawn offline when the download is clicked."""
    # imported here: python-pptx and vl-convert are needed only once a file is built
    from dashboard.present import slides

    return slides.chart_png(chart, footer, scale=2) if kind == "png" else slides.chart_svg(chart, footer)
