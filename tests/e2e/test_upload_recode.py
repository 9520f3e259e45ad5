"""In a real browser: a number-coded survey is asked about, the recode confirmed, the Overview right."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in, wait_for_app
from tests.e2e.test_upload import _choose

pytestmark = pytest.mark.e2e

FILE = Path(__file__).resolve().parents[1] / "fixtures" / "uploads" / "survey_numeric_codes.csv"
WLB = "Q6c. I achieve a good balance between my work life and my home life"


def _expected_wlb() -> str:
    with open(FILE, newline="", encoding="utf-8") as fh:
        codes = [int(r[WLB]) for r in csv.DictReader(fh) if r[WLB]]
    # 1-4 coded: 3 (agree) and 4 (strongly agree) count as agreeing.
    return f"{sum(c >= 3 for c in codes) / len(codes):.1%}"


def test_numeric_codes_recode_question_answered_in_browser(server_factory, page):
    base = server_factory(None, users=[("dana", "admin")])  # an empty store: real data needs sign-in
    sign_in(page, base, "dana", path="data")
    _choose(page, "What is in the file?", "Survey responses (one row per respondent)")
    page.locator("input[type='file']").first.set_input_files(str(FILE))
    page.get_by_role("heading", name="Preview").wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_text("How should these columns be read?").wait_for()
    assert page.get_by_role("button", name="Import", exact=True).is_disabled()
    # The proposal is shown value by value; the user confirms it.
    assert page.get_by_role("combobox", name="'3' reads as").input_value() == "Agree"
    page.get_by_text(f"Confirm this reading of '{WLB}'").click()
    wait_for_app(page)
    importer = page.get_by_role("button", name="Import", exact=True)
    expect(importer).to_be_enabled(timeout=60_000)  # the page reruns after the confirmation
    importer.click()
    page.get_by_test_id("stAlertContentSuccess").get_by_text("Imported as import #1").wait_for(timeout=60_000)
    banner = page.locator("[data-testid='dataset-banner']")
    assert "survey_numeric_codes.csv" in banner.inner_text()
    sign_in(page, base, "dana")  # the Overview is the default page at /; a sign-in lasts for the tab
    tile = page.get_by_test_id("stMetric").filter(has_text="Work-life balance")
    tile.wait_for(timeout=60_000)
    assert tile.get_by_test_id("stMetricValue").inner_text().strip() == _expected_wlb()
    assert page.locator("[data-testid='stException']").count() == 0
