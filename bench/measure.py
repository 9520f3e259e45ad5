"""Time the app's real query functions on a store: cold (fresh connection) and median of repeats."""
from __future__ import annotations

import dataclasses
import importlib
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from bench import raw as raw_sql
from dashboard import periods, privacy, store
from dashboard.metrics import (
    absence,
    briefing,
    compare,
    drilldown,
    indicators,
    response_rates,
    scorecard,
    team_absence,
)
from dashboard.privacy import release
from dashboard.stats import evaluation
from dashboard.store import derived


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable[[duckdb.DuckDBPyConnection], object]


@dataclass(frozen=True)
class Timing:
    name: str
    rows: int
    cold: float
    median: float
    runs: tuple[float, ...]
    raw: float | None = None      # median of the hand-written raw DuckDB query for the same numbers
    cpu: float | None = None      # median CPU seconds of this process (all threads): on a shared
                                  # machine wall time also counts waiting for a core
    repeated: float | None = None  # median of calls that keep the process's memos of the release
                                   # (a second view in the same server; still no UI cache)

    @property
    def ratio(self) -> float | None:
        return self.median / self.raw if self.raw else None

    def as_json(self) -> dict:
        return {"operation": self.name, "rows": self.rows, "cold_s": round(self.cold, 4),
                "median_s": round(self.median, 4),
                "raw_s": None if self.raw is None else round(self.raw, 4),
                "ratio": None if self.ratio is None else round(self.ratio, 2),
                "cpu_s": None if self.cpu is None else round(self.cpu, 4),
                "repeated_s": None if self.repeated is None else round(self.repeated, 4)}


def row_count(result: object) -> int:
    """Rows a result carries: frame length, evaluation results, summed parts of a tuple."""
    if isinstance(result, pd.DataFrame):
        return len(result)
    if isinstance(result, evaluation.Evaluation):
        return len(result.results)
    if isinstance(result, tuple):
        return sum(row_count(part) for part in result)
    if isinstance(result, dict):
        return 1 if result else 0
    return 0 if result is None else 1


def operations(con: duckdb.DuckDBPyConnection, threshold: int = 10) -> list[Operation]:
    """The queries pages run, with the arguments a user's first view of each page would use.

    Survey figures use the latest wave; absence figures the last 24 months (the Absence page's
    default period); the evaluation the first synthetic intervention (survey and absence
    indicators, 2,000 bootstrap resamples).
    """
    wave = int(con.execute("SELECT max(wave_id) FROM waves").fetchone()[0])
    span = absence.data_range(con)
    end = periods.month_end(span[1])
    y, m = divmod(end.year * 12 + end.month - 1 - 23, 12)
    start = max(date(y, m + 1, 1), span[0])
    intervention = int(con.execute("SELECT min(intervention_id) FROM interventions").fetchone()[0])
    unit = int(con.execute(
        "SELECT unit_id FROM responses WHERE wave_id = ? GROUP BY unit_id ORDER BY count(*) DESC LIMIT 1",
        [wave],
    ).fetchone()[0])
    teams = _largest_teams(con, wave)
    targets = evaluation.interventions.get_intervention(con, intervention)["unit_ids"]
    others = evaluation.comparison_units(con, targets)
    t = threshold
    return [
        Operation("indicators.survey_results organisation", lambda c: indicators.survey_results(c)),
        Operation("indicators.survey_results directorate",
                  lambda c: indicators.survey_results(c, by=("directorate",))),
        Operation("indicators.survey_results team", lambda c: indicators.survey_results(c, by=("team",))),
        Operation("scorecard.indicator_table", lambda c: scorecard.indicator_table(c, wave, t)),
        Operation("privacy.plan (1 wave)", lambda c: privacy.plan(c, t, wave_ids=[wave])),
        Operation("privacy.survey_figures team (1 wave)",
                  lambda c: privacy.survey_figures(c, ("team",), t, wave_ids=[wave])),
        Operation("drilldown.heatmap team", lambda c: drilldown.heatmap(c, ("team",), wave, t)),
        Operation("drilldown.team_profile", lambda c: drilldown.team_profile(c, unit, wave, t)),
        Operation("drilldown.funnel team", lambda c: drilldown.funnel(c, ("team",), wave, "stress", t)),
        Operation("drilldown.compare (3 teams)", lambda c: drilldown.compare(c, teams, wave, t)),
        Operation("compare.indicators (3 teams)", lambda c: compare.indicators(c, teams, wave, t)),
        Operation("response_rates.unit_rates", lambda c: response_rates.unit_rates(c, t)),
        # Where to look: its figures as every view after the first reads them (stored by the
        # first view, see store_briefing), and worked out as the first view after an import does
        Operation("briefing.gather", lambda c: briefing.gather(c, wave, t)),
        Operation("briefing.gather worked out", lambda c: briefing.gather(c, wave, t, stored=False)),
        Operation("absence.period_summary (24 months)", lambda c: absence.period_summary(c, start, end)),
        Operation("absence.monthly_rates directorate",
                  lambda c: absence.monthly_rates(c, start, end, t, by=("directorate",))),
        Operation("absence.period_rates directorate+team",
                  lambda c: absence.period_rates(c, start, end, t, by=("directorate", "team"))),
        Operation("absence.episode_quality", lambda c: absence.episode_quality(c)),
        Operation("evaluation.evaluate (n_boot=2000)",
                  lambda c: evaluation.evaluate(c, intervention, t, n_boot=2000)),
        # the same figures computed, not read from the store: the comparison teams given
        # explicitly (every other team, as the default) are settings no import stores
        Operation("evaluation.evaluate computed (n_boot=2000)",
                  lambda c: evaluation.evaluate(c, intervention, t, n_boot=2000,
                                                comparison_unit_ids=others)),
    ]


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def scale(path: Path) -> dict[str, int]:
    """What the store holds: responses, absence episodes and teams (the scale of a run that
    times an existing store, whatever the command line's defaults say)."""
    con = store.connect(path, read_only=True)
    try:
        row = con.execute("SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM absence_episodes),"
                          " (SELECT count(*) FROM units)").fetchone()
    finally:
        con.close()
    return dict(zip(("responses", "episodes", "teams"), (int(v) for v in row), strict=True))


def open_store(
    path: Path, read_only: bool = True, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """`store.connect`, optionally capping DuckDB's memory (the app itself sets no cap)."""
    con = store.connect(path, read_only=read_only)
    if memory_limit is not None:
        if not _MEMORY.match(memory_limit):
            con.close()
            raise ValueError(f"memory limit {memory_limit!r} is not like '8GB'")
        con.execute(f"SET memory_limit = '{memory_limit}'")  # checked against _MEMORY above
    return con


def forget_memos() -> None:
    """Clear the figures a process remembers per dataset version (plans, wave releases,
    evaluations), so the next call computes them as the first page view after an import does."""
    privacy._PLAN_MEMO.clear()
    release._MEMO.clear()
    team_absence._MEMO.clear()
    evaluation._EVALUATIONS.clear()
    evaluation._SHARED.clear()


def _largest_teams(con: duckdb.DuckDBPyConnection, wave: int, k: int = 3) -> list[int]:
    """The k teams with most responses in the wave (Compare's selection)."""
    return [int(u) for (u,) in con.execute(
        "SELECT unit_id FROM responses WHERE wave_id = ? GROUP BY unit_id ORDER BY count(*) DESC, unit_id"
        " LIMIT ?", [wave, k]).fetchall()]


def context(con: duckdb.DuckDBPyConnection) -> raw_sql.Context:
    """The arguments operations() uses, for the raw queries."""
    wave, fielded = con.execute(
        "SELECT wave_id, fielded_on FROM waves ORDER BY wave_id DESC LIMIT 1").fetchone()
    span = absence.data_range(con)
    end = periods.month_end(span[1])
    y, m = divmod(end.year * 12 + end.month - 1 - 23, 12)
    start = max(date(y, m + 1, 1), span[0])
    unit = int(con.execute(
        "SELECT unit_id FROM responses WHERE wave_id = ? GROUP BY unit_id ORDER BY count(*) DESC LIMIT 1",
        [wave],
    ).fetchone()[0])
    directorate = con.execute("SELECT directorate FROM units WHERE unit_id = ?", [unit]).fetchone()[0]
    prev = con.execute("SELECT max(wave_id) FROM waves WHERE fielded_on < ?", [fielded]).fetchone()[0]
    return raw_sql.Context(int(wave), start, end, unit, fielded, tuple(_largest_teams(con, int(wave))),
                           directorate, None if prev is None else int(prev),
                           periods.wave_periods(con, int(wave)))


def time_raw(
    path: Path, queries: list[tuple[str, list | dict]], repeat: int, memory_limit: str | None = None
) -> float:
    """Median time of raw queries (all of them, one after the other) after one cold run, on a
    fresh connection."""
    con = open_store(path, memory_limit=memory_limit)
    try:
        runs = []
        for _ in range(1 + repeat):
            t0 = time.perf_counter()
            for sql, params in queries:
                con.execute(sql, params).fetchall()
            runs.append(time.perf_counter() - t0)
    finally:
        con.close()
    return statistics.median(runs[1:] or runs)


def time_operation(path: Path, op: Operation, repeat: int, memory_limit: str | None = None) -> Timing:
    """Cold: the first call on a fresh read-only connection (empty DuckDB buffer pool; the OS
    file cache may be warm). Then `repeat` more calls on that connection with the memos cleared
    before every call (the first view after an import), then `repeat` calls that keep them (a
    view repeated in the same process; no UI cache either way)."""
    con = open_store(path, memory_limit=memory_limit)
    try:
        runs, cpu, again = [], [], []
        rows = 0
        for _ in range(1 + repeat):
            forget_memos()
            t0, c0 = time.perf_counter(), time.process_time()
            result = op.run(con)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            rows = row_count(result)
        for _ in range(repeat):
            t0 = time.perf_counter()
            op.run(con)
            again.append(time.perf_counter() - t0)
    finally:
        con.close()
    warm = runs[1:] or runs
    return Timing(op.name, rows, runs[0], statistics.median(warm), tuple(runs),
                  cpu=statistics.median(cpu[1:] or cpu),
                  repeated=statistics.median(again) if again else None)


# The statistics libraries figure functions import on first use. A server imports them once, at
# its first statistics figure, long before the first view after an import; imported here before
# any timing, so that "cold" is the DuckDB buffer pool's, not this process's first import (0.8-2 s
# of scipy.stats in whichever operation came first).
LAZY_IMPORTS = ("scipy.special", "scipy.stats", "statsmodels.genmod.families",
                "statsmodels.genmod.generalized_linear_model", "statsmodels.regression.linear_model",
                "statsmodels.stats.multitest", "statsmodels.stats.proportion",
                "statsmodels.stats.weightstats", "statsmodels.tools.sm_exceptions",
                "statsmodels.tools.tools")


def import_lazy() -> float:
    """Import LAZY_IMPORTS; returns the seconds it took."""
    t0 = time.perf_counter()
    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    return time.perf_counter() - t0


def measure(
    path: Path,
    repeat: int = 3,
    threshold: int = 10,
    only: Callable[[str], bool] | None = None,
    report: Callable[[Timing], None] | None = None,
    memory_limit: str | None = None,
    pages_done: Callable[[], None] | None = None,
) -> list[Timing]:
    """Time every operation (or those `only` accepts) on the store at `path`, then the raw
    baselines; pages_done is called in between. The raw queries group tens of millions of rows
    and took this process to 3.2 GiB at full scale, which is not what serving the pages needs
    (0.5-0.9 GiB)."""
    con = open_store(path, memory_limit=memory_limit)
    try:
        ops = operations(con, threshold)
        raws = raw_sql.queries(context(con))
    finally:
        con.close()
    import_lazy()
    out = [time_operation(path, op, repeat, memory_limit)
           for op in ops if only is None or only(op.name)]
    if pages_done is not None:
        pages_done()
    for k, timing in enumerate(out):
        if timing.name in raws:
            out[k] = timing = dataclasses.replace(
                timing, raw=time_raw(path, raw_sql.as_list(raws[timing.name]), repeat, memory_limit))
        if report is not None:
            report(timing)
    return out


def time_refresh(path: Path, repeat: int, memory_limit: str | None = None) -> Timing:
    """store.refresh_scores re-derived `1 + repeat` times, each in a transaction rolled back so the
    store is unchanged (so the commit itself is not timed; the generator times one committed run)."""
    con = open_store(path, read_only=False, memory_limit=memory_limit)
    try:
        runs = []
        for _ in range(1 + repeat):
            con.execute("BEGIN TRANSACTION")
            try:
                t0 = time.perf_counter()
                store.refresh_scores(con)
                runs.append(time.perf_counter() - t0)
            finally:
                con.execute("ROLLBACK")
        rows = con.execute("SELECT count(*) FROM respondent_scores").fetchone()[0]
    finally:
        con.close()
    return Timing("store.refresh_scores (rolled back)", rows, runs[0],
                  statistics.median(runs[1:] or runs), tuple(runs))


def store_evaluations(path: Path, threshold: int, memory_limit: str | None = None) -> bool:
    """Store the default evaluations for the threshold when the store holds none that are current
    (as derived.store_release does at import); whether it had to."""
    con = open_store(path, read_only=False, memory_limit=memory_limit)
    try:
        iid = con.execute("SELECT min(intervention_id) FROM interventions").fetchone()[0]
        if iid is None:
            return False
        if evaluation.is_stored(con, int(iid), threshold):
            return False
        with store.transaction(con):
            evaluation.store_all(con, threshold)
        return True
    finally:
        con.close()


def store_briefing(path: Path, threshold: int, memory_limit: str | None = None) -> float:
    """The first view of Where to look after an import, on a writable connection as the app's:
    it works out the latest wave's briefing and stores its figures; seconds taken."""
    con = open_store(path, read_only=False, memory_limit=memory_limit)
    try:
        forget_memos()
        started = time.perf_counter()
        wave = briefing.latest_wave(con)
        if wave is not None:
            briefing.gather(con, wave, threshold)
        return time.perf_counter() - started
    finally:
        con.close()


def time_derive(path: Path, repeat: int, memory_limit: str | None = None, threshold: int = 10) -> Timing:
    """The import-time derived tables (spells, unit x month, survey cells) and the stored release
    rebuilt `1 + repeat` times, each rolled back."""
    con = open_store(path, read_only=False, memory_limit=memory_limit)
    try:
        runs, cpu = [], []
        for _ in range(1 + repeat):
            con.execute("BEGIN TRANSACTION")
            try:
                # a first import: no wave's survey release can be kept from before
                con.execute("DELETE FROM release_survey")
                t0, c0 = time.perf_counter(), time.process_time()
                derived.refresh_absence(con)
                derived.refresh_survey(con)
                privacy._PLAN_MEMO.clear()
                release._MEMO.clear()
                evaluation._SHARED.clear()
                derived.store_release(con, threshold)
                runs.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            finally:
                con.execute("ROLLBACK")
        rows = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in derived.TABLES)
    finally:
        con.close()
    return Timing("derived.refresh (rolled back)", rows, runs[0],
                  statistics.median(runs[1:] or runs), tuple(runs), cpu=statistics.median(cpu[1:] or cpu))


def format_table(rows: list[tuple[str, ...]]) -> str:
    """A plain-text table with a header row; columns after the first are right-aligned."""
    width = max((len(r) for r in rows), default=4)
    header = ("operation", "rows", "cold s", "median s", "raw s", "ratio", "repeated s")[:width]
    table = [header, *rows]
    widths = [max(len(r[k]) for r in table) for k in range(width)]
    lines = []
    for k, r in enumerate(table):
        cells = [r[0].ljust(widths[0])] + [r[j].rjust(widths[j]) for j in range(1, width)]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def timing_row(t: Timing) -> tuple[str, ...]:
    return (t.name, f"{t.rows:,}", f"{t.cold:.2f}", f"{t.median:.2f}",
            "-" if t.raw is None else f"{t.raw:.3f}", "-" if t.ratio is None else f"{t.ratio:.1f}",
            "-" if t.repeated is None else f"{t.repeated:.2f}")
