"""Downloads from a page: the slide pack and a chart image that carries the footer."""
from __future__ import annotations

import io

import pytest
from pptx import Presentation

from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e


def test_overview_downloads_slide_pack_and_footed_chart(server_factory, demo_db, page):
    base = server_factory(demo_db)
    page.goto(base)
    wait_for_app(page)
    page.get_by_text("Where to look", exact=True).wait_for(timeout=120_000)
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)

    with page.expect_download(timeout=180_000) as svg:
        page.locator(".st-key-svg_seven-domain-scores button").click()
    text = open(svg.value.path(), encoding="utf-8").read()
    assert "<svg" in text and "survey wave 2025" in text and "fewer than 10 responses" in text

    with page.expect_download(timeout=240_000) as pack:
        page.get_by_role("button", name="Slide pack (PowerPoint)").click()
    deck = Presentation(io.BytesIO(open(pack.value.path(), "rb").read()))
    assert len(deck.slides) >= 12
    assert "Where to look" in "\n".join(s.text_frame.text for s in deck.slides[2].shapes if s.has_text_frame)
