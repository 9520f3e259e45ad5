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


@pytest.mark.parametrize("state", STATES)
def test_axe_finds_no_serious_or_critical_violation(demo_server, page, state):
    # One test per page state (each loaded once, on the worker's shared server) so the states
    # spread over the workers and a failure names its state.
    from axe_playwright_python.sync_playwright import Axe

    page.goto(f"{demo_server}/{state}")
    wait_for_app(page)
    page.locator("[data-testid='dataset-banner']").wait_for()
    page.wait_for_timeout(500)  # a rerun the first run asks for (URL sync) starts just after it
    wait_for_app(page)
    assert page.locator("[data-testid='stException']").count() == 0, state
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    bad = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
           for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, bad
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
