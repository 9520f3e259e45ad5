"""Browser test: on every page, a link copied from a changed view restores it in a new browser."""
from __future__ import annotations

import pytest

from dashboard.ui.absence_page import DAY_COUNT_SHORT
from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base(demo_server):
    return demo_server  # links only change views: the worker's shared demo server will do


def _fresh(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(45_000)
    return context, page


def _choose(page, label: str, option: str) -> None:
    """Pick an option of the Streamlit selectbox with this label."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def _selected(page, label: str) -> str:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    return box.get_by_role("combobox").input_value()


def _copy_link(page) -> str:
    """Press the page's copy-link control; return what reached the clipboard."""
    wait_for_app(page)
    page.get_by_role("button", name="Copy link to this view").click()
    page.get_by_text("Copied.").wait_for()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == page.get_by_label("Link", exact=True).input_value()
    return link


def _reopen(browser, link: str):
    context, page = _fresh(browser)
    page.goto(link)
    wait_for_app(page)
    page.locator("[data-testid='dataset-banner']").wait_for()
    wait_for_app(page)
    return context, page


def _tab_open(page, name: str) -> bool:
    return page.get_by_role("tab", name=name, exact=True).get_attribute("aria-selected") == "true"


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0


def test_overview_link_restores_the_wave(base, browser):
    context, page = _fresh(browser)
    try:
        page.goto(f"{base}/")  # the default page lives at the root
        wait_for_app(page)
        _choose(page, "Survey wave", "2024")
        link = _copy_link(page)
        assert "wave=2024" in link
    finally:
        context.close()
    context, page = _reopen(browser, link)
    try:
        assert "2024" in _selected(page, "Survey wave")
        _no_exception(page)
    finally:
        context.close()


def test_teams_link_restores_directorate_tab_and_sort(base, browser):
    context, page = _fresh(browser)
    try:
        page.goto(f"{base}/teams")
        wait_for_app(page)
        page.get_by_role("radio", name="Medicine (n=576)").click()
        wait_for_app(page)
        _choose(page, "Sort rows by", "Stress")
        page.get_by_role("tab", name="Funnel plot", exact=True).click()
        wait_for_app(page)
        link = _copy_link(page)
    finally:
        context.close()
    context, page = _reopen(browser, link)
    try:
        page.get_by_role("button", name="› Medicine").wait_for()
        assert _tab_open(page, "Funnel plot")
        page.get_by_role("tab", name="Heatmap", exact=True).click()
        wait_for_app(page)
        assert "Stress" in _selected(page, "Sort rows by")
        _no_exception(page)
    finally:
        context.close()


def test_absence_link_restores_comparison_scope_and_day_count(base, browser):
    context, page = _fresh(browser)
    try:
        page.goto(f"{base}/absence")
        wait_for_app(page)
        _choose(page, "Compare by", "Site")
        page.get_by_text(DAY_COUNT_SHORT["working"], exact=True).click()
        wait_for_app(page)
        _choose(page, "Scope", "Directorate")
        _choose(page, "Directorate", "Medicine")
        link = _copy_link(page)
    finally:
        context.close()
    context, page = _reopen(browser, link)
    try:
        assert "Site" in _selected(page, "Compare by")
        assert "Medicine" in _selected(page, "Directorate")
        assert page.get_by_role("radio", name=DAY_COUNT_SHORT["working"]).is_checked()
        page.get_by_text("Sickness absence rate — Directorate: Medicine").first.wait_for()
        _no_exception(page)
    finally:
        context.close()


def test_interventions_link_restores_the_evaluation_and_its_settings(base, browser):
    context, page = _fresh(browser)
    try:
        page.goto(f"{base}/interventions")
        wait_for_app(page)
        _choose(page, "Intervention", "Wellbeing app pilot")
        page.get_by_text("Evaluation settings").click()
        page.get_by_text("Benjamini-Hochberg", exact=False).first.click()
        wait_for_app(page)
        link = _copy_link(page)
    finally:
        context.close()
    context, page = _reopen(browser, link)
    try:
        assert "Wellbeing app pilot" in _selected(page, "Intervention")
        page.get_by_text("Evaluation settings").click()
        assert page.get_by_role("radio", name="Benjamini-Hochberg", exact=False).is_checked()
        _no_exception(page)
    finally:
        context.close()


def test_data_link_restores_the_tab(base, browser):
    context, page = _fresh(browser)
    try:
        page.goto(f"{base}/data")
        wait_for_app(page)
        page.get_by_role("tab", name="What the store holds", exact=True).click()
        link = _copy_link(page)
    finally:
        context.close()
    context, page = _reopen(browser, link)
    try:
        assert _tab_open(page, "What the store holds")
        _no_exception(page)
    finally:
        context.close()
