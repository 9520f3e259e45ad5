"""Browser test: the interventions page on the demo organisation, in headless Chromium."""
from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.ui.shell import PAGES
from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e

NO_EXCEPTION = "[data-testid='stException']"


def _needs_page() -> None:
    if not any(url == "interventions" for _, _, url, _ in PAGES):
        pytest.skip("the interventions page is not in the navigation yet (dashboard.ui.shell.PAGES)")


def _choose(page, label: str, option: str) -> None:
    """Open a selectbox by its label and click an option whose text starts with `option`."""
    wait_for_app(page)
    # A rerun that settles just after the click closes the dropdown again: reopen it then.
    for _ in range(3):
        page.get_by_label(label, exact=True).first.click()
        choice = page.get_by_role("option").filter(has_text=option).first
        try:
            choice.wait_for(timeout=15_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            wait_for_app(page)
            continue
        choice.click()
        break
    wait_for_app(page)


def _pick_many(page, label: str, text: str) -> None:
    """Type into a multiselect and take the first matching option."""
    box = page.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    page.keyboard.press("Escape")


def test_evaluation_shows_verdicts_charts_and_switches_intervention(demo_server, page):
    _needs_page()
    base = demo_server
    page.goto(f"{base}/interventions")
    wait_for_app(page)
    page.get_by_role("heading", name="Interventions", exact=True).wait_for()
    # the newest programme first: stress management, judged against comparison teams
    page.get_by_text("▲ Likely improved", exact=True).first.wait_for(timeout=60_000)
    # plain words on the card; the design level and the interval behind "How this was worked out"
    page.get_by_text("compared with teams without it", exact=False).first.wait_for()
    page.get_by_text("Magenta Book level 3", exact=False).first.wait_for(state="attached")
    page.get_by_text("95% CI", exact=False).first.wait_for(state="attached")
    assert not page.get_by_text("95% CI", exact=False).first.is_visible()
    page.get_by_text("How this was worked out").first.click()
    page.get_by_text("95% CI", exact=False).first.wait_for()
    # forest plot and the before/after chart have drawn their marks
    # (charts stream in one by one: wait for the second rather than count while it is on its way)
    page.locator(".vega-embed canvas, .vega-embed svg").nth(1).wait_for(timeout=60_000)
    assert page.locator(".vega-embed").count() >= 2
    assert page.locator(NO_EXCEPTION).count() == 0

    _choose(page, "Intervention", "Wellbeing app pilot")
    page.get_by_text("● No clear change", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("▲ Likely improved", exact=True).first.wait_for(state="detached", timeout=30_000)
    assert page.get_by_text("● No clear change", exact=True).count() == 2  # stress, work-life balance
    assert page.locator(NO_EXCEPTION).count() == 0

    _choose(page, "Intervention", "Rota redesign")
    window = "absence Jul 2023–Jun 2024 before, Jul 2024–Jun 2025 after"
    page.get_by_text(window, exact=False).first.wait_for(timeout=60_000)
    # absence is compared with the other teams (ratio of rate ratios): Magenta Book level 3
    page.get_by_text("▲ Likely improved", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("Magenta Book level 3", exact=False).first.wait_for(state="attached")
    # the forest plot and the interrupted time series
    page.locator(".vega-embed canvas, .vega-embed svg").nth(1).wait_for(timeout=60_000)
    # stale charts of the previous selection are cleared once the rerun settles
    page.wait_for_function("() => document.querySelectorAll('.vega-embed').length === 2",
                           timeout=30_000)
    assert page.locator(NO_EXCEPTION).count() == 0


def test_register_adds_an_intervention(server_factory, demo_db, page):
    _needs_page()
    base = server_factory(demo_db)
    page.goto(f"{base}/interventions")
    wait_for_app(page)
    page.get_by_role("tab", name="Register").click()
    page.get_by_label("Name", exact=True).fill("Quiet rooms")
    page.get_by_label("Name", exact=True).press("Tab")
    _pick_many(page, "Target teams", "Ward 5")
    _pick_many(page, "Indicators it aims to move", "HSE Demands")
    page.get_by_role("button", name="Save intervention").click()
    wait_for_app(page)
    page.get_by_text("Added “Quiet rooms”.").wait_for(timeout=60_000)
    assert page.locator(NO_EXCEPTION).count() == 0
