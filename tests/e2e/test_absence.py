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
    # each tab draws its own charts when opened: rate series and comparison first, then reasons
    # and shares, short/long and seasonality, the Bradford bands, the survey scatter
    charts = page.locator("[data-testid='stTabPanel']:visible .vega-embed")
    tabs = [("Rates", 2, "Sickness absence rate"), ("Reasons", 2, "Reasons"), ("Patterns", 2, "Patterns"),
            ("Bradford Factor", 1, "Bradford Factor (group level)"),
            ("Survey × absence", 1, "Survey × absence by team")]
    for tab, count, heading in tabs:
        if tab != "Rates":
            page.get_by_role("tab", name=tab, exact=True).click()
        wait_for_app(page)
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        # every chart of the tab embedded, however late the last of them
        charts.nth(count - 1).wait_for(timeout=60_000)
        assert charts.count() == count, tab
        assert page.locator("[data-testid='stException']").count() == 0, tab
    page.get_by_role("tab", name="Rates", exact=True).click()
    wait_for_app(page)
    page.get_by_text(absence_page.DAY_COUNT_SHORT["working"], exact=True).click()
    wait_for_app(page)
    page.get_by_text(f"Days counted as: {absence.DAY_COUNTS['working']}", exact=False).wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
