"""The browser benchmark: its bookkeeping checked by hand, and one page timed for real (slow)."""
from __future__ import annotations

import collections
import os
import shutil
import subprocess
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from bench import __main__ as cli
from bench import browser, reference

ROOT = browser.ROOT


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


def _elements(at) -> collections.Counter:
    """Every element and block a run drew, by kind (a chart, a metric, an expander, a column...)."""
    kinds: collections.Counter = collections.Counter()

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            kinds[f"{type(child).__name__}:{getattr(child, 'type', '')}"] += 1
            walk(child)

    walk(at._tree)
    return kinds


def test_the_overview_reference_draws_the_elements_the_app_draws_on_its_overview(
        demo_db, tmp_path, monkeypatch):
    """The reference stands for "Streamlit alone, with the Overview's elements": it must draw what
    the app draws on its landing page (router, shell and page), kind for kind and count for count,
    or the benchmark's comparison means nothing. When the Overview changes, so must the reference."""
    shutil.copy(demo_db, tmp_path / "store.duckdb")
    monkeypatch.setenv("WELLBEING_DB", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    monkeypatch.setenv("WELLBEING_BENCH_REFERENCE", reference.OVERVIEW)
    ref = AppTest.from_file(str(browser.REFERENCE_SCRIPT), default_timeout=60).run()
    assert not ref.exception, ref.exception
    drawn = _elements(app)
    assert drawn["UnknownElement:vega_lite_chart"] == 2 and drawn["Expander:expander"] >= 8
    assert _elements(ref) == drawn


def test_the_one_chart_reference_draws_one_chart_and_nothing_else(monkeypatch):
    monkeypatch.setenv("WELLBEING_BENCH_REFERENCE", reference.ONE_CHART)
    at = AppTest.from_file(str(browser.REFERENCE_SCRIPT), default_timeout=60).run()
    assert not at.exception, at.exception
    assert +_elements(at) == collections.Counter({
        "SpecialBlock:main": 1, "SpecialBlock:sidebar": 1, "SpecialBlock:event": 1,
        "Title:title": 1, "UnknownElement:vega_lite_chart": 1})
    monkeypatch.setenv("WELLBEING_BENCH_REFERENCE", "nothing")
    assert AppTest.from_file(str(browser.REFERENCE_SCRIPT), default_timeout=60).run().exception


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
        demo_db, [("Overview", "", browser.VEGA)], repeat=1, say=said.append, settle_ms=500,
        references=(reference.ONE_CHART,))))
    runner.start()
    runner.join()
    before, result, after = found[0]
    assert [line.split(" cold:")[0].strip() for line in said] == [
        "Reference: one chart (before)", "Overview", "Reference: one chart (after)"]
    for ref in (before, after):  # timed as a page is, on a server of its own; no sidebar click
        assert ref.reference == reference.ONE_CHART and ref.clicked == []
        assert ref.warm[0].chart_kind == "vega" and 0 < ref.warm[0].started_s < ref.warm[0].chart_s
    assert result.reference is None
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
