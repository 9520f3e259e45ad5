"""`python -m bench browser`: time each page of the demo in a real browser, cold and warm."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from bench import reference
from dashboard import devserver
from dashboard.ui import shell

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
VEGA = "vega"
DECK = "deck"

# (name, URL path and query, chart drawn first: Vega-Lite, deck.gl or none). Teams' tabs and the
# team profile are opened by link, as a person following a shared link would.
PAGES: list[tuple[str, str, str | None]] = [
    ("Overview", "", VEGA),
    ("Teams: heatmap", "teams", VEGA),
    ("Teams: funnel plot", "teams?tab=Funnel+plot", VEGA),
    ("Teams: compare", "teams?tab=Compare+teams&cmp=1,2,3", VEGA),
    ("Teams: team profile", "teams?team=Ward+1+Acute+Medical+Unit", VEGA),
    ("Teams: sites map", "teams?tab=Sites+map", DECK),
    ("Absence", "absence", VEGA),
    ("Interventions: evaluation", "interventions", VEGA),
    ("Framework", "framework", VEGA),
    ("Meeting mode", "meeting", VEGA),
    ("Data", "data", None),
]

# Installed before any page script: records, against the navigation start (performance.now()),
# when a chart first shows its marks and every change of Streamlit's script state. A mutation
# observer, not a per-frame poll, so the browser takes little CPU from the server it waits for.
_OBSERVER = """
(() => {
  const rec = {chart: null, chartKind: null, states: [], last: null};
  window.__wcBench = rec;
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const drawn = (el) => el.tagName.toLowerCase() === 'canvas'
      ? el.width > 0 && el.height > 0
      : el.querySelector('g[class^="mark-"] > *') !== null;
  const check = () => {
    const now = performance.now();
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : null;
    if (state !== rec.last) { rec.states.push([state, now]); rec.last = state; }
    if (rec.chart === null) {
      for (const el of document.querySelectorAll(
          '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks, '
          + '[data-testid="stDeckGlJsonChart"] canvas')) {
        if (visible(el) && drawn(el)) {
          rec.chart = now;
          rec.chartKind = el.closest('[data-testid="stDeckGlJsonChart"]') ? 'deck' : 'vega';
          break;
        }
      }
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-test-script-state', 'width', 'height', 'class', 'hidden']});
})();
"""

# Finished: the script has run at least once and has not been running for `settle` ms (a deep
# link on a fresh server hands over to the router, and a page may rerun itself once).
_FINISHED = """
(settle) => {
  const rec = window.__wcBench;
  if (!rec || rec.last !== 'notRunning') return false;
  if (!rec.states.some(([s]) => s === 'running')) return false;
  return performance.now() - rec.states[rec.states.length - 1][1] >= settle;
}
"""


@dataclass
class Visit:
    """One navigation: seconds from navigation start to the first script run starting (the page
    loaded and connected), to the first chart and to the script's end; CPU seconds the server and
    the browser spent on it."""
    started_s: float
    chart_s: float | None
    finished_s: float
    cpu_s: float
    browser_cpu_s: float
    runs: int
    chart_kind: str | None = None


@dataclass
class PageResult:
    name: str
    path: str
    expects: str | None
    server_start_s: float
    cold: Visit
    warm: list[Visit] = field(default_factory=list)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # in-app navigation: the page reached by its sidebar link from another page of the same tab
    # (no page load: the script reruns over the open connection), timed from the click
    clicked: list[Visit] = field(default_factory=list)
    reference: str | None = None  # a key of bench/reference.py's PAGES: not an app page

    def warm_median(self, attr: str) -> float | None:
        return _median(self.warm, attr)

    def clicked_median(self, attr: str) -> float | None:
        return _median(self.clicked, attr)

    def as_json(self) -> dict:
        out = asdict(self)
        for attr in ("started_s", "chart_s", "finished_s", "cpu_s", "browser_cpu_s"):
            out[f"warm_median_{attr}"] = self.warm_median(attr)
            out[f"clicked_median_{attr}"] = self.clicked_median(attr)
        return out


def _median(visits: Sequence[Visit], attr: str) -> float | None:
    values = [getattr(v, attr) for v in visits if getattr(v, attr) is not None]
    return statistics.median(values) if values else None


def script_times(states: Sequence[Sequence]) -> tuple[float, float, int]:
    """From the recorded script states [(state, ms)]: seconds to the first run starting and to
    the last change to notRunning, and the number of script runs started."""
    starts = [ms for s, ms in states if s == "running"]
    ends = [ms for s, ms in states if s == "notRunning" and starts and ms > starts[0]]
    if not starts or not ends:
        raise ValueError(f"the script never finished: {states}")
    return starts[0] / 1000, ends[-1] / 1000, len(starts)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    try:
        import psutil  # optional

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except ImportError:
        pass
    stat = Path(f"/proc/{pid}/stat").read_text()
    # the command name (field 2) may hold spaces: count fields after its closing parenthesis
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu(root: int | None = None) -> dict[int, float]:
    """CPU seconds so far of each Chromium process below this process (Playwright's browser)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, float] = {}
    todo = list(children.get(root or os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                found[pid] = cpu_seconds(pid)
        except Exception:  # noqa: BLE001 - ended meanwhile (OSError, or psutil's NoSuchProcess)
            pass
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two browser_cpu() readings: processes alive at both, plus all of
    those started since. A process that ended meanwhile (the previous tab's renderer closing) is
    left out, rather than its whole past counted as negative."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _timed(pg, act: Callable[[], None], pid: int, expects: str | None, what: str, settle_ms: int,
           timeout_ms: int) -> Visit:
    """Do act (a navigation or a click) in tab pg and time what follows, from the moment the
    observer holds as t0 (navigation start when none was set)."""
    before, before_browser = cpu_seconds(pid), browser_cpu()
    act()
    pg.wait_for_function(_FINISHED, arg=settle_ms, timeout=timeout_ms, polling=100)
    if pg.get_by_role("button", name="Sign in").count():
        raise RuntimeError("the store has accounts: the browser benchmark needs an open store "
                           "(the demo has none)")
    if expects is not None:  # a chart may finish drawing after the script has ended
        pg.wait_for_function("() => window.__wcBench.chart !== null", timeout=timeout_ms, polling=100)
    cpu, spent = cpu_seconds(pid) - before, cpu_between(before_browser, browser_cpu())
    if pg.locator("[data-testid='stException']").count():
        raise RuntimeError(f"{what} raised: {pg.locator('[data-testid=stException]').first.inner_text()}")
    rec = pg.evaluate("() => window.__wcBench")
    t0 = rec.get("t0") or 0.0
    started, end, runs = script_times([(state, ms - t0) for state, ms in rec["states"]])
    # a page without charts: a chart the observer saw was the previous page's, before it went
    chart = None if rec["chart"] is None or expects is None else (rec["chart"] - t0) / 1000
    return Visit(started, chart, end, cpu, spent, runs, None if chart is None else rec["chartKind"])


def visit(context, url: str, pid: int, expects: str | None, settle_ms: int = 1000,
          timeout_ms: int = 180_000) -> Visit:
    """Open url in a new tab of context (a new Streamlit session) and time it."""
    pg = context.new_page()
    try:
        return _timed(pg, lambda: pg.goto(url, wait_until="commit", timeout=timeout_ms), pid, expects,
                      url, settle_ms, timeout_ms)
    finally:
        pg.close()


# The pages a sidebar link opens, by path (the default page at the root) -> link title, as the
# router declares them (admin needs an account; the demo is open); each is reached from the Data
# page (no chart, so the first chart drawn is the new page's), the Data page from the Overview.
SIDEBAR = {("" if url == "overview" else url): title for _, title, url, _ in shell.PAGES if url != "admin"}

# Forget what the tab has recorded and note the moment (performance.now()) the click is made.
_RESET = """
() => { const r = window.__wcBench; r.chart = null; r.chartKind = null; r.states = []; r.last = null;
        r.t0 = performance.now(); }
"""


def click_visit(context, base: str, path: str, pid: int, expects: str | None, settle_ms: int = 1000,
                timeout_ms: int = 180_000) -> Visit:
    """Open another page in a new tab, then click the sidebar link to path; seconds from the
    click (started_s: to the script starting)."""
    pg = context.new_page()
    try:
        pg.goto(f"{base}/{'' if path == 'data' else 'data'}", wait_until="commit", timeout=timeout_ms)
        pg.wait_for_function(_FINISHED, arg=settle_ms, timeout=timeout_ms, polling=100)
        link = pg.get_by_test_id("stSidebarNavLink").filter(has=pg.get_by_text(SIDEBAR[path], exact=True))

        def click() -> None:
            pg.evaluate(_RESET)
            link.click()

        return _timed(pg, click, pid, expects, f"{base}/{path} (by its sidebar link)", settle_ms, timeout_ms)
    finally:
        pg.close()


def build_demo(path: Path) -> float:
    """The demo organisation into path, as `make demo` loads it; seconds taken."""
    from dashboard import demo, store

    started = time.perf_counter()
    con = store.connect(path)
    try:
        demo.load_demo(con, seed=demo.DEFAULT_SEED)
    finally:
        con.close()
    return time.perf_counter() - started


def run(db: Path, pages: Sequence[tuple[str, str, str | None]], repeat: int,
        say: Callable[[str], None] = print, settle_ms: int = 1000,
        references: Sequence[str] = ()) -> list[PageResult]:
    """For each page: a fresh server on a copy of db, the first visit (cold), then `repeat`
    visits in new tabs of the same browser (warm: server caches and browser cache filled).
    references (keys of bench/reference.py's PAGES): those reference pages are timed the same
    way, before the app's pages and again after them, each on its own server."""
    from playwright.sync_api import sync_playwright

    results: list[PageResult] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            timed = [(f"{reference.PAGES[key]} (before)", "", VEGA, key) for key in references]
            timed += [(name, path, expects, None) for name, path, expects in pages]
            timed += [(f"{reference.PAGES[key]} (after)", "", VEGA, key) for key in references]
            for name, path, expects, key in timed:
                result = _time_server(browser, db, name, path, expects, repeat, settle_ms, key)
                results.append(result)
                say(format_row(result))
        finally:
            browser.close()
    return results


REFERENCE_SCRIPT = Path(reference.__file__)


def _time_server(browser, db: Path, name: str, path: str, expects: str | None, repeat: int,
                 settle_ms: int, ref: str | None) -> PageResult:
    """One page on a fresh server (the app on a copy of db, or a reference page): cold, warm and
    (for a page the sidebar opens) clicked visits."""
    with tempfile.TemporaryDirectory(prefix="wellbeing-browser-") as tmp:
        work = Path(tmp)
        # a copy per server: DuckDB lets one process write a file, and no page sees another's
        # cache or session
        shutil.copy(db, work / "store.duckdb")
        started = time.perf_counter()
        proc, base = devserver.start(
            ROOT, work / "store.duckdb", work, timeout=180,
            script=None if ref is None else REFERENCE_SCRIPT,
            extra_env=None if ref is None else {"WELLBEING_BENCH_REFERENCE": ref})
        startup = time.perf_counter() - started
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(_OBSERVER)
            try:
                url = f"{base}/{path}"
                cold = visit(context, url, proc.pid, expects, settle_ms)
                warm = [visit(context, url, proc.pid, expects, settle_ms) for _ in range(repeat)]
                clicked = ([click_visit(context, base, path, proc.pid, expects, settle_ms)
                            for _ in range(repeat)] if ref is None and path in SIDEBAR else [])
            finally:
                context.close()
        finally:
            devserver.stop(proc)
    return PageResult(name, path, expects, startup, cold, warm, os.getloadavg(), clicked, ref)


def profile_page(db: Path, path: str, work: Path) -> dict:
    """Run one page's script once cold and once warm (AppTest, in this process: call it in a fresh
    one) on a copy of db, and time every figure it asks the cache for. CPU is this process's (all
    threads, DuckDB's included), so it does not count waiting for a core."""
    import urllib.parse

    shutil.copy(db, work / "store.duckdb")
    os.environ["WELLBEING_DB"] = str(work / "store.duckdb")
    os.environ["WELLBEING_SECRET"] = str(work / "secret.key")
    from streamlit.testing.v1 import AppTest

    from dashboard.ui import cache

    calls: list[tuple[str, float, float]] = []
    query = cache.query

    def timed(fn, *args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return query(fn, *args, **kwargs)
        finally:
            shown = ", ".join(repr(a) for a in args)
            calls.append((f"{fn.__module__.removeprefix('dashboard.')}.{fn.__name__}({shown})",
                          time.process_time() - cpu, time.perf_counter() - wall))

    cache.query = timed
    url, _, qs = path.partition("?")
    out: dict = {"path": path}
    try:
        for label in ("cold", "warm"):
            calls.clear()
            at = AppTest.from_file(str(ROOT / "pages" / f"{url or 'overview'}.py"), default_timeout=900)
            for key, value in urllib.parse.parse_qsl(qs):
                at.query_params[key] = value
            cpu = time.process_time()
            at.run()
            if at.exception:
                raise RuntimeError(f"{path}: {at.exception[0].message}")
            out[label] = {"script_cpu_s": time.process_time() - cpu,
                          "calls": sorted(([n, c, w] for n, c, w in calls), key=lambda x: -x[1])}
    finally:
        cache.query = query
    return out


def profile(db: Path, pages: Sequence[tuple[str, str, str | None]],
            say: Callable[[str], None] = print, top: int = 6) -> dict[str, dict]:
    """profile_page for each page, each in a fresh process (imports, memos and caches empty)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    found: dict[str, dict] = {}
    for name, path, _ in pages:
        with tempfile.TemporaryDirectory(prefix="wellbeing-profile-") as tmp, \
                ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            got = pool.submit(profile_page, db, path, Path(tmp)).result()
        found[name] = got
        cold, warm = got["cold"], got["warm"]
        say(f"  {name}: script cpu cold {cold['script_cpu_s']:.2f} s (figures "
            f"{sum(c[1] for c in cold['calls']):.2f} s), warm {warm['script_cpu_s']:.2f} s")
        for call, cpu, wall in cold["calls"][:top]:
            say(f"      {cpu:6.2f} s cpu {wall:6.2f} s wall  {call}")
    return found


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


HEADER = ("page", "cold chart s", "cold finished s", "cold server cpu s", "warm start s",
          "warm chart s", "warm finished s", "warm server cpu s", "warm browser cpu s", "load 1m",
          "clicked chart s", "clicked finished s")


def _cells(r: PageResult) -> tuple[str, ...]:
    w, c = r.warm_median, r.clicked_median
    return (r.name, _s(r.cold.chart_s), _s(r.cold.finished_s), _s(r.cold.cpu_s), _s(w("started_s")),
            _s(w("chart_s")), _s(w("finished_s")), _s(w("cpu_s")), _s(w("browser_cpu_s")),
            f"{r.load[0]:.1f}", _s(c("chart_s")), _s(c("finished_s")))


def format_row(r: PageResult) -> str:
    """One page's figures as a line of progress."""
    c = _cells(r)
    return (f"  {c[0]:<27} cold: chart {c[1]:>6} finished {c[2]:>6} cpu {c[3]:>5} | warm: start "
            f"{c[4]:>5} chart {c[5]:>5} finished {c[6]:>5} cpu {c[7]:>5} browser {c[8]:>5} | load {c[9]}"
            f" | clicked: chart {c[10]:>5} finished {c[11]:>5}")


def table(results: Sequence[PageResult]) -> str:
    """A Markdown table: per page, cold and warm (median) seconds to first chart and to finished,
    and the CPU seconds spent on a visit."""
    lines = ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 1)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in results]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench browser", description=__doc__)
    p.add_argument("--db", type=Path, default=None,
                   help="time this store (copied; it must have no accounts) instead of the demo")
    p.add_argument("--repeat", type=int, default=3, help="warm visits per page (median)")
    p.add_argument("--only", default=None, help="pages whose name contains this text (any case)")
    p.add_argument("--settle", type=int, default=1000,
                   help="ms without a script run before a visit counts as finished")
    p.add_argument("--profile", action="store_true",
                   help="also run each page's script without a browser (cold in a fresh process, "
                        "then warm) and list the CPU of every figure it asked for")
    p.add_argument("--no-reference", action="store_true",
                   help="leave out the reference pages (bench/reference.py: Streamlit alone, one "
                        "chart; the Overview's elements with no figures worked out), timed before "
                        "and after the app's pages")
    p.add_argument("--json", type=Path, default=None, dest="json_file",
                   help="also write the figures to this file as JSON")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pages = [p for p in PAGES if args.only is None or args.only.lower() in p[0].lower()]
    if not pages:
        sys.exit(f"no page matches {args.only!r}; pages: {', '.join(p[0] for p in PAGES)}")
    say = lambda text="": print(text, flush=True)  # noqa: E731
    say(f"Wellbeing Compass browser benchmark, {datetime.now():%Y-%m-%d %H:%M}")
    say(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, chromium {CHROMIUM}; load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="wellbeing-browser-demo-") as tmp:
        db = args.db
        built = None
        if db is None:
            db = Path(tmp) / "demo.duckdb"
            built = build_demo(db)
            say(f"demo store built in {built:.1f} s")
        load_before = os.getloadavg()
        say(f"\nPer page: a fresh server, the first visit (cold), then {args.repeat} more in new "
            "tabs (warm, median), seconds from navigation start; then, for a page the sidebar "
            f"opens, {args.repeat} clicks on its link from another page (clicked, median), seconds "
            "from the click; cpu = server CPU seconds. The reference pages (bench/reference.py), "
            "before and after the app's, are what Streamlit alone takes on this machine in these "
            "minutes: one chart, and the Overview's elements with fixed figures and no query")
        results = run(db, pages, args.repeat, say, args.settle,
                      () if args.no_reference else tuple(reference.PAGES))
        load_after = os.getloadavg()
        profiles = None
        if args.profile:
            say("\nEach page's script without a browser (AppTest): process CPU, the figures asked "
                "for on the cold run, costliest first")
            profiles = profile(db, pages, say)
    say("\n" + table(results))
    say("\nload average (1, 5, 15 min) before " + " ".join(f"{x:.1f}" for x in load_before)
        + ", after " + " ".join(f"{x:.1f}" for x in load_after))
    if args.json_file is not None:
        args.json_file.write_text(json.dumps({
            "when": datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
            "repeat": args.repeat, "settle_ms": args.settle, "demo_build_s": built,
            "load_before": load_before, "load_after": load_after,
            "pages": [r.as_json() for r in results], "profiles": profiles}, indent=2))
        say(f"figures written to {args.json_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
