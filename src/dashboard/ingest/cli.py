"""`python -m dashboard import`: the Data page's import path for scheduled loads, same report on stdout."""

from __future__ import annotations

import argparse
import sys

import duckdb

from dashboard import store
from dashboard.config import settings
from dashboard.ingest import kinds, pipeline
from dashboard.ingest.validate import render_text

EXIT_OK, EXIT_REFUSED, EXIT_FAILED = 0, 1, 2


def run(args: argparse.Namespace) -> int:
    """Validate, print the report, and commit unless --dry-run; 0 ok, 1 refused, 2 failed and rolled back."""
    if args.kind not in kinds.KINDS:
        print(f"ERROR: unknown kind '{args.kind}'; choose from {', '.join(kinds.KINDS)}")
        return EXIT_REFUSED
    path = getattr(args, "db", None) or settings().db_path
    try:
        con = store.connect(path)
    except duckdb.IOException as exc:  # another process (the dashboard) holds the write lock
        print(f"ERROR: the store {path} is in use by another process; try again later ({exc})")
        return EXIT_FAILED
    try:
        day_first = None if args.day_first is None else args.day_first == "yes"
        _raw, prepared = pipeline.prepare(
            con,
            args.file,
            args.kind,
            sheet=args.sheet,
            profile=args.profile,
            day_first=day_first,
            wave=getattr(args, "wave", None),
            fielded_on=getattr(args, "fielded_on", None),
            header_row=getattr(args, "header_row", None),
            hours_per_day=getattr(args, "hours_per_day", None),
        )
        if not prepared.report.ok or args.dry_run:
            print(render_text(prepared.report))
            return EXIT_OK if prepared.report.ok else EXIT_REFUSED
        try:
            # Progress goes to stderr so that stdout stays the exact report the page shows.
            pipeline.commit(
                con, prepared, user=args.user, progress=lambda f, m: print(f"{f:4.0%} {m}", file=sys.stderr)
            )
        except Exception as exc:  # any failure: the transaction rolled back, say so plainly
            print(render_text(prepared.report))
            print(
                f"ERROR: the import failed and was rolled back; the store is unchanged ({exc})",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(render_text(prepared.report))
        return EXIT_OK
    finally:
        con.close()
