"""Browser test: record a diagnostic self-assessment and see it beside the organisation's figures."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e

NO_EXCEPTION = "[data-testid='stException']"


def test_record_a_self_assessment_and_see_it_beside_the_data(server_factory, demo_db, page):
    base = server_factory(demo_db)
    page.goto(f"{base}/framework")
    wait_for_app(page)
    page.get_by_role("heading", name="Framework", exact=True).wait_for()
    # before: the element is not assessed, its domain's figures are already there
    page.get_by_text("Mental and emotional wellbeing: not yet assessed").wait_for()
    page.get_by_text("Improving personal health and wellbeing · data: 5.", exact=False).first.wait_for()

    page.get_by_text("3 Established", exact=True).click()
    page.get_by_label("Assessed by", exact=True).fill("Wellbeing steering group")
    page.get_by_label("Evidence", exact=True).fill("EAP contract renewed; stress risk assessments")
    page.get_by_role("button", name="Save assessment").click()
    wait_for_app(page)
    page.get_by_text("Recorded Mental and emotional wellbeing: 3 Established.").wait_for(timeout=60_000)

    # after: the rating sits in its domain's box, beside the measured score, with the gap flag
    rating = page.locator("p").filter(has_text="Mental and emotional wellbeing: Established (")
    rating.wait_for()
    assert "Wellbeing steering group" in rating.inner_text()
    assert "Rated well, but staff report otherwise" in rating.inner_text()
    # the innermost block holding both the domain's measured score and the rating: its box
    box = page.locator("[data-testid='stVerticalBlock']").filter(
        has_text="Improving personal health and wellbeing · data:").filter(has=rating).last
    assert "Stress 42.9%" in box.inner_text()
    assert "Relationships · data:" not in box.inner_text()
    # the warning at the top names the element
    page.locator("[data-testid='stAlert']").filter(
        has_text="Mental and emotional wellbeing").first.wait_for()
    # the side-by-side chart has drawn
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)
    assert page.locator(NO_EXCEPTION).count() == 0

    # the record survives a reload: it is in the store, not the session
    page.reload()
    wait_for_app(page)
    page.locator("p").filter(has_text="Mental and emotional wellbeing: Established (").wait_for(
        timeout=60_000)
