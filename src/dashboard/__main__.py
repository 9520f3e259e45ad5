"""Command line: `python -m dashboard demo|import|info|validate|export|report|user|backup|restore`."""
from __future__ import annotations

import argparse
import sys

from dashboard import admin_cli, store
from dashboard.auth import audit
from dashboard.config import settings


def _cmd_demo(args: argparse.Namespace) -> int:
    from dashboard import demo

    con = store.connect(args.db or settings().db_path)
    if args.if_empty and not store.is_empty(con):
        print("store already holds data; demo not loaded")
        return 0
    summary = demo.load_demo(con, seed=args.seed)
    print(summary)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from dashboard.ingest import cli
    from dashboard.privacy import pseudonym

    if args.user is None:
        args.user = admin_cli.operator()
    try:
        return cli.run(args)
    except pseudonym.KeyProblem as exc:
        print(exc, file=sys.stderr)
        return 2


def _cmd_remove_demo(args: argparse.Namespace) -> int:
    con = store.connect(args.db or settings().db_path)
    if store.get_meta(con, "is_demo") != "true":
        print("the store does not hold the demo organisation; nothing removed")
        return 1
    store.remove_demo(con)
    audit.record(con, admin_cli.operator(), "admin", "remove demo", "removed the demo organisation")
    print("demo organisation removed; the store is empty and ready for your own data")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    con = store.connect(args.db or settings().db_path)
    info = store.dataset_info(con)
    print(f"store: {args.db or settings().db_path}")
    print(f"dataset: {info['name']} (demo: {info['is_demo']}, version {info['version']})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dashboard.framework import improvement
    from dashboard.metrics import briefing, drilldown, lenses
    from dashboard.present import slides

    con = store.connect(args.db or settings().db_path, read_only=True)
    wave = briefing.latest_wave(con) if args.wave is None else _wave_id(con, args.wave)
    if wave is None:
        print("no survey data: nothing to export")
        return 1
    if args.lens not in lenses.options():
        print(f"unknown lens {args.lens!r}; choose from {', '.join(lenses.options())}")
        return 2
    brief = briefing.gather(con, wave, settings().anonymity_threshold)
    teams = tuple(t.strip() for t in (args.teams or "").split(",") if t.strip())
    profiles = briefing.team_profiles(con, brief, teams or briefing.flagged_teams(brief), args.lens)
    if teams and len(profiles) < len(set(teams)):
        known = set(drilldown.unit_tree(con).team)
        print(f"not in the store, left out: {', '.join(t for t in teams if t not in known)}")
    data = slides.build(brief, profiles, args.lens, improvement.list_actions(con))
    with open(args.out, "wb") as fh:
        fh.write(data)
    print(f"slide pack written to {args.out}")
    return 0


def _wave_id(con, label: str) -> int:
    from dashboard.metrics import indicators

    waves = indicators.waves(con)
    match = waves[waves.label.astype(str) == str(label)]
    if match.empty:
        raise SystemExit(f"no survey wave labelled {label!r}; waves: {', '.join(map(str, waves.label))}")
    return int(match.wave_id.iloc[0])


def _cmd_report(args: argparse.Namespace) -> int:
    from dashboard.present import board_report

    fmt = args.out.rsplit(".", 1)[-1].lower()
    if fmt not in ("docx", "html"):
        print("the output file must end in .docx or .html")
        return 2
    con = store.connect(args.db or settings().db_path, read_only=True)
    try:
        data = board_report.build(con, args.year, settings().anonymity_threshold, fmt)
    except ValueError as err:
        print(f"cannot write the report: {err}")
        return 1
    with open(args.out, "wb") as fh:
        fh.write(data)
    print(f"board report for {args.year} written to {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from pathlib import Path

    from dashboard.stats import calibration

    def say(text: str) -> None:
        print(f"... {text}", file=sys.stderr, flush=True)

    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(parts) - set(calibration.PARTS)
    if unknown:
        print(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(calibration.PARTS)}",
              file=sys.stderr)
        return 2
    con = None
    if not args.no_demo and "placebo" in parts:
        if args.db:
            con = store.connect(args.db, read_only=True)
        else:
            say("building the demo organisation in a temporary store")
            con = calibration.demo_store(Path(tempfile.mkdtemp()) / "demo.duckdb")
    started = calibration.run_context()
    table = calibration.run(args.reps, args.seed, con, args.placebo_sets, progress=say,
                            parts=parts)
    meta = {"reps": args.reps, "seed": args.seed, "placebo_sets": args.placebo_sets,
            "parts": list(parts),
            "command": (f"python -m dashboard validate --reps {args.reps} --seed {args.seed} "
                        f"--placebo-sets {args.placebo_sets} --parts {','.join(parts)}"
                        + (" --no-demo" if args.no_demo else "")),
            **calibration.run_context(started)}
    text = calibration.markdown(table, meta)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {**meta, "rows": json.loads(table.to_json(orient="records"))}, indent=1))
    bad = calibration.failures(table)
    if len(bad):
        print(f"{len(bad)} row(s) outside their band", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard")
    parser.add_argument("--db", help="store path (default: WELLBEING_DB or data/wellbeing.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the seeded demo organisation into the store")
    demo.add_argument("--seed", type=int, default=20261123)
    demo.add_argument("--if-empty", action="store_true", help="only when the store is empty")
    demo.set_defaults(func=_cmd_demo)

    imp = sub.add_parser("import", help="import a file (same path as the Data page)")
    imp.add_argument("--kind", required=True)
    imp.add_argument("file")
    imp.add_argument("--profile")
    imp.add_argument("--sheet")
    imp.add_argument("--day-first", choices=["yes", "no"], help="answer for ambiguous dates")
    imp.add_argument("--dry-run", action="store_true", help="validate and report only")
    imp.add_argument("--user", help="name for the import log (default: the command-line login)")
    imp.add_argument("--wave", help="survey wave label when the file has no wave column")
    imp.add_argument("--fielded-on", help="survey fieldwork mid-point (YYYY-MM-DD) when the file has no date")
    imp.add_argument("--header-row", type=int, help="file row (1-based) holding the column names")
    imp.add_argument(
        "--hours-per-day", type=float, help="hours in one FTE day, when durations are given in hours"
    )
    imp.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                     help="which column holds a field (or a question/indicator id); FIELD= unmaps it")
    imp.add_argument("--recode", action="append", default=[], metavar="COLUMN:VALUE=LABEL",
                     help="how a value of an answer column reads on its question's scale")
    imp.add_argument("--recode-file", help="CSV with columns column,value,label (one recode per line)")
    imp.add_argument("--custom", action="append", default=[], metavar="COLUMN=NAME;DOMAIN;low|high;>=N",
                     help="read a column as a custom indicator: share of respondents meeting the rule")
    imp.add_argument("--wave-date", action="append", default=[], metavar="WAVE=YYYY-MM-DD",
                     help="fieldwork date of one survey wave")
    imp.add_argument("--base", action="append", default=[], metavar="RESULT=BASE",
                     help="pair an aggregate result column with its own base column")
    imp.add_argument("--published", action="store_true",
                     help="results without a base: import as published organisation-level figures")
    imp.add_argument("--unpivot", action="store_true",
                     help="confirm a wide layout: each year column is a survey wave")
    imp.set_defaults(func=_cmd_import)

    remove = sub.add_parser("remove-demo", help="empty a store that holds the demo organisation")
    remove.set_defaults(func=_cmd_remove_demo)

    info = sub.add_parser("info", help="show which dataset the store holds")
    info.set_defaults(func=_cmd_info)

    export = sub.add_parser("export", help="export a slide pack for a survey wave")
    export.add_argument("what", choices=["slides"])
    export.add_argument("out", help="output file, e.g. pack.pptx")
    export.add_argument("--wave", help="survey wave label (default: the latest)")
    export.add_argument("--teams", help="comma-separated teams to give a slide each "
                        "(default: the teams flagged in Where to look)")
    export.add_argument("--lens", default="domains",
                        help="domains, people_promise or hse: how the domain slides are grouped")
    export.set_defaults(func=_cmd_export)

    report = sub.add_parser("report", help="the annual board wellbeing report (.docx or .html)")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("out", help="output file ending in .docx or .html")
    report.set_defaults(func=_cmd_report)

    val = sub.add_parser("validate", help="calibration harness: coverage and false alarms of "
                         "the intervention statistics on simulated data and demo placebo dates")
    val.add_argument("--reps", type=int, default=3000, help="runs per scenario and case")
    val.add_argument("--seed", type=int, default=20261130)
    val.add_argument("--placebo-sets", type=int, default=40,
                     help="random target-team sets per placebo start month in the demo")
    val.add_argument("--json", help="write the table as JSON to this file")
    val.add_argument("--markdown", help="write the table as Markdown to this file")
    val.add_argument("--no-demo", action="store_true", help="skip the demo placebo dates")
    val.add_argument("--parts", default="survey,absence,placebo",
                     help="comma-separated parts to run (survey, absence, placebo)")
    val.set_defaults(func=_cmd_validate)
    admin_cli.add_parsers(sub)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
