"""Meeting mode at 1920x1080: every screen, large type, arrow keys, no withheld figure."""
from __future__ import annotations

import re

import pytest

from dashboard.framework import improvement
from dashboard.metrics import lenses
from dashboard.present import screens
from dashboard.present.charts import common
from tests.e2e.conftest import close_tab, wait_for_app

pytestmark = pytest.mark.e2e


def _settle(pg) -> None:
    wait_for_app(pg)
    pg.wait_for_timeout(400)
    wait_for_app(pg)
    # stale elements of the previous screen are removed when the run ends; an element still
    # waiting for its script (a skeleton) is not drawn yet
    pg.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"meeting-notes\"]').length === 1"
        " && document.querySelectorAll('[data-testid=\"meeting-title\"]').length === 1"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')", polling=100)


# Every screen of the deck, walked with the keyboard (`make slow`; tests/app/test_meeting_page.py
# reads every screen's content in `make test`).
def test_meeting_mode_screens_large_and_keyboard_driven(demo_server, demo_brief, demo_con, new_page):
    brief = demo_brief  # the latest wave's briefing at threshold 10, as the page shows it
    deck = screens.build(brief, actions=improvement.list_actions(demo_con))  # the plan is the last screen
    heat = brief.heat
    hidden = heat.suppressed.astype(bool)
    withheld = set(heat.loc[hidden, "group"]) - set(heat.loc[~hidden, "group"])
    assert withheld

    base = demo_server
    pg = new_page(1920, 1080)
    try:
        pg.goto(f"{base}/meeting?screen=1")
        _settle(pg)
        pg.locator("[data-testid='meeting-title']").wait_for()
        assert not pg.locator("[data-testid='stSidebar']").is_visible()
        shown = deck
        for number, screen in enumerate(shown, start=1):
            # elements are replaced one by one during a rerun: wait until counter and title agree
            pg.wait_for_function(
                "([n, title]) => (document.querySelector('[data-testid=\"meeting-counter\"]') || {})"
                ".innerText?.startsWith('Screen ' + n + ' of') && (document.querySelector("
                "'[data-testid=\"meeting-title\"]') || {}).innerText === title", arg=[number, screen.title],
                polling=100)
            _settle(pg)
            assert f"screen={number}" in pg.url
            numbers = pg.locator("[data-testid='meeting-number']")
            assert numbers.count() == len(screen.figures)
            for k in range(numbers.count()):
                size = numbers.nth(k).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
                assert size >= 48, (screen.key, size)
            notes = pg.locator("[data-testid='meeting-notes']").inner_text()
            assert "fewer than 10 responses" in notes and "n = " in notes
            text = pg.locator("[data-testid='stMain']").inner_text()
            for team in withheld:
                assert not re.search(rf"\b{re.escape(team)}\b", text), (screen.key, team)
            if screen.chart is not None:
                pg.locator(".vega-embed canvas, .vega-embed svg").first.wait_for()
                assert min(common.text_sizes(common.meeting(screen.chart).to_dict())) >= 18
            if number < len(shown):
                pg.keyboard.press("ArrowRight")  # settled at the top of the loop, on the next screen
        # and back again with the left arrow
        pg.keyboard.press("ArrowLeft")
        _settle(pg)
        pg.wait_for_function(
            "n => document.querySelector('[data-testid=\"meeting-counter\"]').innerText"
            ".startsWith('Screen ' + n + ' of')", arg=len(shown) - 1, polling=100)
        assert pg.locator("[data-testid='stException']").count() == 0
    finally:
        close_tab(pg)


def test_meeting_mode_switches_lens_from_the_link_and_the_selector(demo_server, new_page):
    hse, promise = lenses.get("hse"), lenses.get("people_promise")
    base = demo_server  # switching lens changes the view only: the worker's shared demo server
    pg = new_page(1920, 1080)

    def title_is(text: str) -> None:
        pg.wait_for_function(
            "t => (document.querySelector('[data-testid=\"meeting-title\"]') || {}).innerText === t",
            arg=text)
        _settle(pg)

    try:
        pg.goto(f"{base}/meeting?lens=hse&screen=3")
        _settle(pg)
        title_is(hse.groups[0].name)
        size = pg.locator("[data-testid='meeting-title']").evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 48
        pg.keyboard.press("ArrowRight")
        title_is(hse.groups[1].name)
        assert "lens=hse" in pg.url and "screen=4" in pg.url
        # the selector below the screen: choosing a lens changes the link, the screen follows
        pg.locator(".st-key-meeting_lens").get_by_role("combobox").click()
        pg.get_by_role("option", name=promise.name).click()
        title_is(promise.groups[1].name)
        assert "lens=people_promise" in pg.url
        pg.reload()
        title_is(promise.groups[1].name)
        assert pg.locator("[data-testid='stException']").count() == 0
    finally:
        close_tab(pg)
