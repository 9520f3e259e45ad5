"""The browser benchmark: its bookkeeping checked by hand, and one page timed for real (slow)."""
from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from bench import __main__ as cli
from bench import browser


def _visit(chart, finished, cpu=0.5, started=0.8) -> browser.Visit:
    return browser.Visit(started, chart, finished, cpu, 1.0, 1, None if chart is None else "vega")


def test_script_times_take_the_first_start_and_the_last_end():
    # a deep link on a fresh server: the page script hands over to the router, which runs again
    states = [[None, 5.0], ["initial", 400.0], ["running", 900.0], ["notRunning", 1500.0],
              ["running", 1520.0], ["notRunning", 3250.0]]
    assert browser.script_times(states) == (0.9, 3.25, 2)
    # notRunning before the first run (the app's initial state) is not an end
    with pytest.raises(ValueError, match="never finished"):
        browser.script_times([["notRunning", 10.0], ["running", 20.0]])
    with pytest.raises(ValueError, match="never finished"):
        browser.script_times([["initial", 10.0]])


def test_cpu_seconds_follow_the_process():
    before = browser.cpu_seconds(os.getpid())
    own = os.times()
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = browser.cpu_seconds(os.getpid())
    spent = (os.times().user + os.times().system) - (own.user + own.system)
    # /proc counts in clock ticks (10 ms): the two clocks agree to a few ticks
    assert after - before == pytest.approx(spent, abs=0.05)
    assert after - before >= 0.08
    # nothing below a process without Chromium (this worker may hold a browser test's Chromium)
    child = subprocess.Popen(["sleep", "5"])
    try:
        assert browser.browser_cpu(child.pid) == {}
    finally:
        child.kill()
        child.wait()


def test_browser_cpu_between_readings():
    # pid 1 ran 0.5 s more, pid 2 ended (left out), pid 3 started and ran 0.25 s
    assert browser.cpu_between({1: 2.0, 2: 9.0}, {1: 2.5, 3: 0.25}) == 0.75


def test_warm_medians_and_table():
    result = browser.PageResult(
        "Overview", "", browser.VEGA, 4.0, cold=_visit(9.5, 9.0, cpu=6.0),
        warm=[_visit(2.0, 1.5), _visit(3.0, 2.5, cpu=0.25), _visit(None, 1.0)], load=(7.5, 6.0, 5.0),
        clicked=[_visit(1.6, 1.2), _visit(1.2, 0.9), _visit(1.4, 1.0)])
    assert result.warm_median("chart_s") == 2.5          # the visit without a chart is left out
    assert result.warm_median("finished_s") == 1.5
    assert result.warm_median("cpu_s") == 0.5
    lines = browser.table([result]).splitlines()
    assert lines[0].split(" | ")[0] == "| page" and len(lines) == 3
    assert lines[2] == ("| Overview | 9.50 | 9.00 | 6.00 | 0.80 | 2.50 | 1.50 | 0.50 | 1.00 | 7.5 | 1.40 "
                        "| 1.00 |")
    data = result.as_json()
    assert data["warm_median_chart_s"] == 2.5 and data["cold"]["cpu_s"] == 6.0
    assert data["clicked_median_chart_s"] == 1.4 and data["clicked_median_finished_s"] == 1.0
    empty = browser.PageResult("Data", "data", None, 4.0, cold=_visit(None, 2.0))
    assert browser.table([empty]).splitlines()[2].startswith("| Data | - | 2.00 | 0.50 | - | - |")


def test_pages_cover_every_chart_page_and_tab():
    from dashboard.ui import shell, teams_page

    paths = [p[1] for p in browser.PAGES]
    for _, _, url, _ in shell.PAGES:
        if url != "admin":  # admin needs an account; the demo is open
            assert any(p.split("?")[0] == url for p in paths) or url == "overview", url
    for tab in teams_page.TABS:
        assert tab in ("Heatmap",) or any(f"tab={tab.replace(' ', '+')}" in p for p in paths), tab


def test_cli_dispatches_to_the_browser_benchmark():
    with pytest.raises(SystemExit, match="no page matches"):
        cli.main(["browser", "--only", "no such page"])
    with pytest.raises(SystemExit):
        browser.parse_args(["--repeat", "0"])


@pytest.mark.slow
@pytest.mark.e2e
def test_one_page_timed_in_chromium(demo_db):
    said: list[str] = []
    # in a thread of its own: in `make slow` this worker's browser tests may hold Playwright's
    # sync API (an event loop) open in this thread, and the benchmark starts its own
    found: list = []
    runner = threading.Thread(target=lambda: found.append(browser.run(
        demo_db, [("Overview", "", browser.VEGA)], repeat=1, say=said.append, settle_ms=500)))
    runner.start()
    runner.join()
    [result] = found[0]
    assert said and said[0].lstrip().startswith("Overview")
    assert result.server_start_s > 0 and len(result.warm) == 1 and len(result.clicked) == 1
    for v in (result.cold, *result.warm, *result.clicked):
        assert v.chart_kind == "vega" and v.runs >= 1
        assert 0 < v.started_s < v.finished_s and v.chart_s > v.started_s
        assert v.cpu_s > 0 and v.browser_cpu_s > 0
    assert result.cold.cpu_s > result.warm[0].cpu_s  # the first visit computes, the repeat is cached


@pytest.mark.slow
def test_profile_lists_the_figures_a_page_asked_for(demo_db):
    said: list[str] = []
    found = browser.profile(demo_db, [("Framework", "framework", browser.VEGA)], say=said.append)
    cold, warm = found["Framework"]["cold"], found["Framework"]["warm"]
    names = [call[0] for call in cold["calls"]]
    assert any(n.startswith("metrics.scorecard.indicator_table(") for n in names), names
    assert all(cpu >= 0 and wall >= 0 for _, cpu, wall in cold["calls"])
    # the warm run is served from the cache: it asks for the same figures, and computes none
    assert sorted(n for n, _, _ in warm["calls"]) == sorted(names)
    assert warm["script_cpu_s"] < cold["script_cpu_s"]
    assert said[0].startswith("  Framework: script cpu cold")
