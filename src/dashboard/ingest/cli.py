"""`python -m dashboard import`: the Data page's import path for scheduled loads, same report on stdout."""

from __future__ import annotations

import argparse
import csv
import re
import sys

import duckdb

from dashboard import store
from dashboard.config import settings
from dashboard.ingest import kinds, load, pipeline
from dashboard.ingest.validate import render_text

EXIT_OK, EXIT_REFUSED, EXIT_FAILED = 0, 1, 2


class UsageError(ValueError):
    """A flag the CLI cannot read; the message shows the expected form."""


def _pairs(values: list[str], flag: str, form: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} '{v}': expected {form}")
        out[key.strip()] = value.strip()
    return out


def _recodes(values: list[str], path: str | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    rows: list[tuple[str, str, str]] = []
    for v in values:
        lhs, sep, label = v.partition("=")
        column, colon, value = lhs.rpartition(":")
        if not sep or not colon or not column.strip():
            raise UsageError(f"--recode '{v}': expected COLUMN:VALUE=LABEL")
        rows.append((column.strip(), value.strip(), label.strip()))
    if path:
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                for rec in csv.DictReader(fh):
                    rows.append((rec["column"].strip(), rec["value"].strip(), rec["label"].strip()))
        except (OSError, KeyError) as exc:
            raise UsageError(
                f"--recode-file {path}: needs a CSV with columns column,value,label ({exc})"
            ) from exc
    for column, value, label in rows:
        out.setdefault(column, {})[value] = label
    return out


def _customs(values: list[str]) -> dict[str, dict]:
    out = {}
    for v in values:
        column, sep, rest = v.partition("=")
        parts = [x.strip() for x in rest.split(";")]
        m = re.fullmatch(r"(>=|<=)\s*(-?[\d.]+)", parts[3]) if len(parts) == 4 else None
        if not sep or m is None:
            raise UsageError(f"--custom '{v}': expected COLUMN=NAME;DOMAIN;low|high;>=N (or <=N)")
        out[column.strip()] = {
            "name": parts[0],
            "domain": parts[1],
            "favourable": parts[2],
            "op": m.group(1),
            "value": m.group(2),
        }
    return out


def answers(args: argparse.Namespace) -> dict:
    """The mapping answers given as flags, in the structure pipeline.apply_answers takes."""
    return {
        "fields": _pairs(getattr(args, "map", []) or [], "--map", "FIELD=COLUMN"),
        "recodes": _recodes(getattr(args, "recode", []) or [], getattr(args, "recode_file", None)),
        "custom": _customs(getattr(args, "custom", []) or []),
        "wave_dates": _pairs(getattr(args, "wave_date", []) or [], "--wave-date", "WAVE=YYYY-MM-DD"),
        "bases": _pairs(getattr(args, "base", []) or [], "--base", "RESULT=BASE"),
        "published": bool(getattr(args, "published", False)),
        "unpivot": bool(getattr(args, "unpivot", False)),
    }


def run(args: argparse.Namespace) -> int:
    """Validate, print the report, and commit unless --dry-run; 0 ok, 1 refused, 2 failed and rolled back."""
    if args.kind not in kinds.KINDS:
        print(f"ERROR: unknown kind '{args.kind}'; choose from {', '.join(kinds.KINDS)}")
        return EXIT_REFUSED
    try:
        given = answers(args)
    except UsageError as exc:
        print(f"ERROR: {exc}")
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
            answers=given,
        )
        if not prepared.report.ok or args.dry_run:
            print(render_text(prepared.report))
            return EXIT_OK if prepared.report.ok else EXIT_REFUSED
        try:
            # Progress goes to stderr so that stdout stays the exact report the page shows.
            pipeline.commit(
                con, prepared, user=args.user, progress=lambda f, m: print(f"{f:4.0%} {m}", file=sys.stderr)
            )
        except load.NothingNew as exc:  # every row already stored: refused, no log entry
            prepared.report.errors.append(f"Nothing new: {exc}.")
            print(render_text(prepared.report))
            return EXIT_REFUSED
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
