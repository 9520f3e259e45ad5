"""The slide pack: the meeting screens as a PowerPoint deck, charts rendered offline, every slide footed."""
from __future__ import annotations

import io
import json

import altair as alt
import pandas as pd
import vl_convert as vlc
from pptx import Presentation
from pptx.util import Emu, Inches, Pt

from dashboard.metrics.briefing import Briefing
from dashboard.present import screens
from dashboard.present.charts import common

WIDE, TALL = Inches(13.333), Inches(7.5)
CHART_WIDTH_PX = 1500


def footed_spec(chart: alt.Chart, footer: str, width: int = CHART_WIDTH_PX) -> dict:
    """The chart's Vega-Lite spec with the footer (dataset, wave, date, n, threshold) written
    under it.

    Used for every exported image, so a chart copied out of a slide or downloaded from a page
    still says where it came from. Wrapped as a dict: the chart is turned into a spec (and
    validated) once, where wrapping it in Altair copied it deeply twice (0.2 s a chart).
    """
    inner = chart.to_dict()
    # what only a top-level spec may hold stays at the top; the footer is the top's title
    top = {key: inner.pop(key) for key in ("$schema", "config", "datasets") if key in inner}
    # params Altair has hoisted (naming their views) belong at the top; a unit's own stay with it
    hoisted = [p for p in inner.get("params", []) if "views" in p]
    if hoisted:
        kept = [p for p in inner["params"] if "views" not in p]
        if kept:
            inner["params"] = kept
        else:
            del inner["params"]
    if "mark" in inner or "layer" in inner:
        inner["width"] = width
    spec = {**({"$schema": top["$schema"]} if "$schema" in top else {}), "vconcat": [inner],
            "title": {"text": footer, "orient": "bottom", "anchor": "start", "fontSize": 14,
                      "color": common.MUTED, "fontWeight": "normal", "limit": 0}}
    if hoisted:
        spec["params"] = hoisted
    for key in ("config", "datasets"):
        if key in top:
            spec[key] = top[key]
    return spec


def _spec(chart: alt.Chart, footer: str) -> str:
    # Data frames may carry dates (e.g. when an element was self-assessed), which the browser's
    # renderer takes as text but vl-convert's JSON parser refuses: write them as ISO text.
    return json.dumps(footed_spec(chart, footer), default=str)


def chart_png(chart: alt.Chart, footer: str, scale: float = 1.0) -> bytes:
    """PNG of a chart with its footer, rendered offline (vl-convert, no browser, no network)."""
    return vlc.vegalite_to_png(_spec(chart, footer), scale=scale)


def chart_svg(chart: alt.Chart, footer: str) -> str:
    return vlc.vegalite_to_svg(_spec(chart, footer))


def _text(slide, left, top, width, height, lines, size, bold=False):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for k, line in enumerate(lines):
        para = frame.paragraphs[0] if k == 0 else frame.add_paragraph()
        para.text = line
        para.font.size = Pt(size)
        para.font.bold = bold
    return box


def _footer(slide, brief: Briefing, notes: tuple[str, ...] = ()) -> None:
    lines = [*notes, brief.footer] if notes else [brief.footer]
    box = _text(slide, Inches(0.4), TALL - Inches(0.85), WIDE - Inches(0.8), Inches(0.75), lines, 10)
    box.name = "footer"


def _slide(prs, brief: Briefing, screen: screens.Screen):
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    _text(slide, Inches(0.4), Inches(0.25), WIDE - Inches(0.8), Inches(0.7), [screen.title], 30, bold=True)
    _text(slide, Inches(0.4), Inches(0.95), WIDE - Inches(0.8), Inches(0.6), [screen.message], 18)
    top = Inches(1.6)
    if screen.figures:
        n = len(screen.figures)
        width = int((WIDE - Inches(0.8)) / max(n, 1))
        for k, fig in enumerate(screen.figures):
            box = _text(slide, Inches(0.4) + Emu(width * k), top, Emu(width - Inches(0.1)), Inches(1.2),
                        [fig.label, fig.value, fig.context], 14)
            box.text_frame.paragraphs[1].font.size = Pt(28 if len(fig.value) < 12 else 20)
            box.text_frame.paragraphs[1].font.bold = True
            box.name = "figure"
        top += Inches(1.35)
    room = TALL - Inches(0.95) - top
    if screen.chart is not None:
        png = chart_png(common.meeting(screen.chart), brief.footer)
        left_w = WIDE - Inches(0.8) if not screen.bullets else Inches(7.6)
        pic = slide.shapes.add_picture(io.BytesIO(png), Inches(0.4), top, height=room)
        if pic.width > left_w:  # keep the aspect ratio inside the space left
            ratio = left_w / pic.width
            pic.width, pic.height = int(pic.width * ratio), int(pic.height * ratio)
        pic.name = "chart"
        if screen.bullets:
            _text(slide, Inches(8.2), top, Inches(4.7), room, list(screen.bullets), 12)
    elif screen.bullets:
        _text(slide, Inches(0.4), top, WIDE - Inches(0.8), room, list(screen.bullets), 15)
    _footer(slide, brief, screen.notes)
    return slide


def build(
    brief: Briefing,
    profiles: tuple[dict, ...] = (),
    lens: str | None = None,
    actions: pd.DataFrame | None = None,
) -> bytes:
    """Title, then one slide per meeting screen (where to look, the domains or the chosen lens's
    groups, teams and one slide per team profile given, absence, each intervention verdict, the
    improvement plan when its actions are given). Returns the .pptx file as bytes."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDE, TALL
    title = prs.slides.add_slide(prs.slide_layouts[6])
    _text(title, Inches(0.8), Inches(2.2), WIDE - Inches(1.6), Inches(1.2),
          ["Staff wellbeing: steering group pack"], 40, bold=True)
    _text(title, Inches(0.8), Inches(3.5), WIDE - Inches(1.6), Inches(1.2),
          [brief.dataset, f"Survey wave {brief.wave_label} · produced {brief.produced:%d %B %Y}"], 22)
    _footer(title, brief)
    for screen in screens.build(brief, profiles, lens, actions):
        _slide(prs, brief, screen)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
