"""Downloads from a page (slide pack, a chart image with its footer) and the print stylesheet."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from pptx import Presentation

from tests.e2e.conftest import download, wait_for_app

pytestmark = pytest.mark.e2e


def test_overview_downloads_slide_pack_and_footed_chart(demo_server, page):
    base = demo_server
    page.goto(base)
    wait_for_app(page)
    page.get_by_text("Where to look", exact=True).wait_for(timeout=120_000)
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)

    # the downloads sit with the table behind the chart (one tab stop per chart)
    page.get_by_text("Data behind this chart (table) and downloads").first.click()
    svg = download(page, page.locator(".st-key-svg_seven-domain-scores button"))
    text = Path(svg.path()).read_text(encoding="utf-8")
    assert "<svg" in text and "survey wave 2025" in text and "fewer than 10 responses" in text

    # printing: the sidebar and buttons go, the page content stays
    assert page.locator("[data-testid='stSidebar']").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    assert not page.locator(".st-key-svg_seven-domain-scores button").is_visible()
    assert page.get_by_text("Where to look", exact=True).is_visible()
    page.emulate_media(media="screen")

    pack = download(page, page.get_by_role("button", name="Slide pack (PowerPoint)"), 180_000)
    deck = Presentation(io.BytesIO(Path(pack.path()).read_bytes()))
    assert len(deck.slides) >= 12
    where = "\n".join(s.text_frame.text for s in deck.slides[2].shapes if s.has_text_frame)
    assert "Where to look" in where
    # nobody picked teams: a slide for each team Where to look flags beyond the funnel limit
    titles = [next(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides]
    assert "Ward 3 Cardiology" in titles and "Improvement plan" in titles
