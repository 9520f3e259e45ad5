"""Browser test: the absence page on the demo organisation, in headless Chromium."""
from __future__ import annotations

import pytest

from dashboard.metrics import absence
from dashboard.ui import absence_page
from dashboard.ui.shell import PAGES
from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e


def test_absence_page_draws_charts_and_switches_day_count(demo_server, page):
    if not any(url == "absence" for _, _, url, _ in PAGES):
        pytest.skip("the absence page is not in the navigation yet (dashboard.ui.shell.PAGES)")
    base = demo_server
    page.goto(f"{base}/absence")
    wait_for_app(page)
    page.get_by_role("heading", name="Absence", exact=True).wait_for()
    page.get_by_text(absence.DAY_COUNTS["calendar"], exact=False).first.wait_for()
    page.get_by_text("Bradford Factor (S²", exact=False).first.wait_for()
    # rate series, comparison, reasons, shares, split, seasonality, Bradford and the scatter
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)
    page.get_by_text("Survey × absence by team").wait_for()
    # every chart embedded, however late the last of them (in a whole run on a busy machine the
    # count once saw 2 of them just after the first was drawn)
    page.wait_for_function("document.querySelectorAll('.vega-embed').length >= 6",
                           timeout=60_000, polling=200)
    assert page.locator(".vega-embed").count() >= 6
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text(absence_page.DAY_COUNT_SHORT["working"], exact=True).click()
    wait_for_app(page)
    page.get_by_text(f"Days counted as: {absence.DAY_COUNTS['working']}", exact=False).wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
