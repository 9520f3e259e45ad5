"""`python -m bench`: build a synthetic national-scale store, then time the app's queries on it
(`python -m bench browser`: the demo's pages in a real browser, bench/browser.py)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

from bench import generate, measure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--responses", type=int, default=1_000_000, help="survey responses (all waves)")
    p.add_argument("--episodes", type=int, default=5_000_000, help="absence episodes over 36 months")
    p.add_argument("--teams", type=int, default=2_000, help="teams (about 40 directorates, 100 sites)")
    p.add_argument("--waves", type=int, default=3, help="survey waves")
    p.add_argument("--db", type=Path, default=None, help="store file (default: a temporary file)")
    p.add_argument("--keep", action="store_true", help="keep the store file afterwards")
    p.add_argument("--reuse", action="store_true",
                   help="time an existing --db store instead of generating one")
    p.add_argument("--repeat", type=int, default=3, help="timed runs after the cold one (median)")
    p.add_argument("--threshold", type=int, default=10, help="anonymity threshold")
    p.add_argument("--only", default=None, help="time only operations whose name contains this text")
    p.add_argument("--memory-limit", default="8GB",
                   help="DuckDB memory cap for the benchmark (the app sets none); 'none': DuckDB default")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, dest="json_file",
                   help="also write the timings to this file as JSON (operation, rows, cold_s, "
                        "median_s, raw_s, ratio, cpu_s, repeated_s)")
    args = p.parse_args(argv)
    if args.reuse and args.db is None:
        p.error("--reuse needs --db")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def _peak_rss_gb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _say(text: str = "") -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["browser"]:  # the pages in a real browser (bench/browser.py)
        from bench import browser

        return browser.main(argv[1:])
    args = parse_args(argv)
    limit = None if args.memory_limit.lower() == "none" else args.memory_limit
    tmpdir = None
    if args.db is None:
        tmpdir = tempfile.mkdtemp(prefix="wellbeing-bench-")
        path = Path(tmpdir) / "bench.duckdb"
    else:
        path = args.db
        if not args.reuse and path.exists():
            sys.exit(f"{path} exists; remove it, or time it as it is with --reuse")

    _say(f"Wellbeing Compass benchmark, {datetime.now():%Y-%m-%d %H:%M}")
    _say(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, python "
         f"{platform.python_version()}, duckdb {duckdb.__version__}, memory limit {limit or 'default'}")
    _say(f"store: {path}")
    try:
        if not args.reuse:
            _say(f"\nGenerating {args.responses:,} responses, {args.episodes:,} episodes, "
                 f"{args.teams:,} teams, {args.waves} waves ...")
            t0 = time.perf_counter()
            con = measure.open_store(path, read_only=False, memory_limit=limit)
            try:
                built = generate.generate(con, args.responses, args.episodes, args.teams, args.waves,
                                          seed=args.seed)
            finally:
                con.close()
            total = time.perf_counter() - t0
            for step, secs in built.seconds.items():
                _say(f"  {step:<34} {secs:8.1f} s")
            _say(f"  {'total':<34} {total:8.1f} s")
            _say("  rows: " + ", ".join(f"{k} {v:,}" for k, v in built.counts.items()))
        else:
            # a store made by older code gets the current schema (migrations run on a writable open)
            t0 = time.perf_counter()
            measure.open_store(path, read_only=False, memory_limit=limit).close()
            _say(f"opened for writing (migrations) in {time.perf_counter() - t0:.1f} s")
            # what an import now stores besides the release: the evaluations (for a store made
            # before they were stored, or for another threshold)
            t0 = time.perf_counter()
            if measure.store_evaluations(path, args.threshold, limit):
                _say(f"stored the evaluations, as an import does, in {time.perf_counter() - t0:.1f} s")
        # as in the app, the first view of Where to look works out its figures and stores them
        secs = measure.store_briefing(path, args.threshold, limit)
        _say(f"first view of Where to look (figures worked out and stored) in {secs:.1f} s")
        size = path.stat().st_size
        wal = path.with_name(path.name + ".wal")
        size += wal.stat().st_size if wal.exists() else 0
        _say(f"  store file size: {size / 1024**3:.2f} GiB ({size:,} bytes)")
        _say(f"  peak memory so far: {_peak_rss_gb():.1f} GiB")

        _say(f"\nTimings (cold = first call on a fresh connection; median of {args.repeat} more):")
        rows: list[tuple[str, ...]] = []
        timings: list[measure.Timing] = []

        def report(t: measure.Timing) -> None:
            rows.append(measure.timing_row(t))
            timings.append(t)
            raw = "" if t.raw is None else f"  raw {t.raw:7.3f} s  ratio {t.ratio:6.1f}"
            cpu = "" if t.cpu is None else f"  cpu {t.cpu:7.2f} s"
            again = "" if t.repeated is None else f"  repeated {t.repeated:6.2f} s"
            _say(f"  {t.name:<44} rows {t.rows:>9,}  cold {t.cold:7.2f} s"
                 f"  median {t.median:7.2f} s{cpu}{raw}{again}")

        wanted = (lambda name: args.only in name) if args.only else None
        # what serving pages needed: read after the page operations, before their raw baselines
        # and the import-time derivations are timed (with --reuse; a generated store's peak also
        # holds the generation's)
        peaks: list[float] = []
        _say(f"  statistics libraries imported in {measure.import_lazy():.1f} s, before any timing")
        measure.measure(path, args.repeat, args.threshold, wanted, report, limit,
                        pages_done=lambda: peaks.append(_peak_rss_gb()))
        serving = peaks[0]
        _say(f"  peak memory after the page operations (before their raw baselines): {serving:.1f} GiB")
        if wanted is None or wanted("store.refresh_scores"):
            report(measure.time_refresh(path, args.repeat, limit))
        if wanted is None or wanted("derived.refresh"):
            report(measure.time_derive(path, args.repeat, limit, args.threshold))
        _say()
        _say(measure.format_table(rows))
        _say(f"\nstore file size {size / 1024**3:.2f} GiB; peak memory {_peak_rss_gb():.1f} GiB")
        if args.json_file is not None:
            held = (measure.scale(path) if args.reuse else
                    {"responses": args.responses, "episodes": args.episodes, "teams": args.teams})
            args.json_file.write_text(json.dumps({
                **held,
                "cores": os.cpu_count(), "duckdb": duckdb.__version__,
                "peak_memory_gib": round(_peak_rss_gb(), 2), "peak_serving_gib": round(serving, 2),
                "timings": [t.as_json() for t in timings]}, indent=2))
            _say(f"timings written to {args.json_file}")
    finally:
        if not args.keep and not args.reuse:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
            if tmpdir is not None:
                os.rmdir(tmpdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
