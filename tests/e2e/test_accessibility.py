"""Browser test: axe finds no serious or critical WCAG 2.2 AA violation in any page state, and
every chart on screen has a text alternative."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e

# Page states on the demo organisation: each page, each tab, a drill-down to a team, and views
# restored from links (scope, comparison, intervention).
STATES = [
    "",
    "?wave=2024",
    "teams",
    "teams?dir=Medicine",
    "teams?team=Ward+1+Acute+Medical+Unit",
    "teams?tab=Funnel+plot",
    "teams?tab=Compare+teams&cmp=1,2,3",
    "teams?tab=Sites+map",
    "teams?view=site&ref=benchmark",
    "absence",
    "absence?scope=Site&in=Northgate+General+Hospital&by=Team&days=Working+days+(Mon-Fri)",
    "interventions",
    "interventions?iv=Rota+redesign",
    "interventions?tab=Register",
    "data",
    "data?tab=What+the+store+holds",
]
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def test_axe_finds_no_serious_or_critical_violation(server_factory, demo_db, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    base = server_factory(demo_db)
    found = {}
    for state in STATES:
        page.goto(f"{base}/{state}")
        wait_for_app(page)
        page.locator("[data-testid='dataset-banner']").wait_for()
        page.wait_for_timeout(500)
        wait_for_app(page)
        assert page.locator("[data-testid='stException']").count() == 0, state
        result = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        bad = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
               for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            found[state] = bad
        # every chart on screen has a text alternative (its one-sentence summary)
        # (charts in tabs that are not open are empty placeholders)
        charts = page.locator("[data-testid='stVegaLiteChart']:has(.vega-embed), "
                              "[data-testid='stDeckGlJsonChart']")
        for i in range(charts.count()):
            chart = charts.nth(i)
            label = chart.get_attribute("aria-label") or ""
            if not label and chart.locator("[aria-label]").count():
                label = chart.locator("[aria-label]").first.get_attribute("aria-label") or ""
            assert len(label) > 20, f"{state}: chart {i} has no text alternative"
    assert not found, found
