"""The one import path shared by the Data page and the CLI: read, map, validate, then commit."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dashboard import catalogue, store
from dashboard.config import settings
from dashboard.ingest import kinds, load, mapping
from dashboard.ingest.read import RawTable, ReadError, read_file
from dashboard.ingest.transform import PRIMARY_TABLES, Prepared, prepare_table
from dashboard.ingest.validate import Report
from dashboard.metrics import coverage
from dashboard.privacy import pseudonym


def read(
    path: Path | str, file_name: str | None = None, sheet: str | None = None, header_row: int | None = None
) -> RawTable:
    """Read an upload within the configured limits (ReadError on anything unreadable or too large)."""
    return read_file(
        path, file_name=file_name, sheet=sheet, max_mb=settings().max_upload_mb, header_row=header_row
    )


def resolve_mapping(
    con: duckdb.DuckDBPyConnection, kind: str, raw: RawTable, profile: str | None = None
) -> tuple[mapping.Mapping, list[str]]:
    """Named profile, else a saved profile for these exact headers, else a fresh proposal."""
    notes: list[str] = []
    if profile:
        found = mapping.load_profile(con, profile)
        if found is None:
            raise ReadError(f"There is no saved mapping profile called '{profile}'.")
        if found.kind != kind:
            raise ReadError(f"The profile '{profile}' is for {found.kind} files, not {kind}.")
        return found.aligned(raw.columns), [f"Mapping from profile '{profile}'."]
    found = mapping.find_profile(con, kind, raw.columns)
    if found is not None:
        notes.append(f"Same headers as before: mapping profile '{found.profile}' applied.")
        return found.aligned(raw.columns), notes
    return mapping.propose(kind, raw.frame), notes


def describe_source(raw: RawTable) -> str:
    """Format, encoding, delimiter, sheet and header row, as the report states them."""
    parts = [raw.format.upper()]
    if raw.encoding:
        parts.append(raw.encoding)
    if raw.delimiter:
        parts.append({"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[raw.delimiter] + "-separated")
    if raw.sheet:
        parts.append(f"sheet '{raw.sheet}'")
    how = "detected"
    if raw.header_row != raw.header_detected:
        how = f"as chosen; detected: row {raw.header_detected}"
    parts.append(f"column names on row {raw.header_row} ({how})")
    return ", ".join(parts)


def validate(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    chosen: mapping.Mapping,
    *,
    allow_same_file: bool = False,
    notes: list[str] | None = None,
) -> Prepared:
    """Everything short of writing: the report the user reviews, and the frames to load."""
    pseudonym.check_key(con)  # a missing or wrong key stops here, before any pseudonym is made
    report = Report(kind=chosen.kind, file_name=raw.file_name, sha256=raw.sha256, source=describe_source(raw))
    report.notes.extend(raw.notes + (notes or []))
    report.mapped = {column: name for name, column in chosen.fields.items() if column in raw.columns}
    report.mapped |= {
        column: target
        for column, target in chosen.items.items()
        if column in raw.columns and column not in chosen.custom
    }
    report.mapped |= {
        column: f"custom indicator '{d.get('name')}'"
        for column, d in chosen.custom.items()
        if column in raw.columns
    }
    report.mapped |= {
        base: f"base of '{result}'" for result, base in chosen.bases.items() if base in raw.columns
    }
    report.mapped |= {c: "survey wave (one column per year)" for c in chosen.unpivot if c in raw.columns}
    prepared = prepare_table(raw, chosen, con, report)
    if not report.errors:
        report.can_show, report.cannot_show = coverage.upload(con, chosen.kind, prepared.tables)
    if store.get_meta(con, "is_demo") == "true":
        report.errors.append(
            "The store holds the demo organisation, which is fictional. Remove it first (Data page, "
            "or `python -m dashboard remove-demo`) so that real and fictional staff never mix."
        )
    earlier = load.same_file(con, raw.sha256)
    if earlier and not allow_same_file:
        report.errors.append(
            f"This exact file was already imported as import #{earlier[0]} on {earlier[1]:%d %b %Y %H:%M} "
            f"({earlier[2]}). Undo that import first if you want to load it again."
        )
    skipped = load.overlaps(con, chosen.kind, prepared.tables)
    primary = [t for t in PRIMARY_TABLES[chosen.kind] if t in prepared.tables]
    incoming = sum(len(prepared.tables[t]) for t in primary)
    if skipped and incoming and skipped >= incoming and not report.errors:
        report.nothing_new = True
        report.rows_ready = 0
        report.errors.append(
            f"Nothing new: all {incoming} rows of this file are already in the store from an earlier "
            "import. Nothing was written and the import log is unchanged."
        )
    elif skipped:
        report.notes.append(
            f"{skipped} rows are already in the store from an earlier import and will be skipped."
        )
    return prepared


def _find_column(raw: RawTable, name: str) -> str:
    if name in raw.columns:
        return name
    by_norm = {mapping.normalise_header(c): c for c in raw.columns}
    if mapping.normalise_header(name) in by_norm:
        return by_norm[mapping.normalise_header(name)]
    raise ReadError(f"There is no column '{name}' in this file. Its columns are: {', '.join(raw.columns)}.")


def apply_answers(raw: RawTable, chosen: mapping.Mapping, answers: dict) -> mapping.Mapping:
    """Answers given on the command line (or by a script) applied to the proposed mapping.

    answers: fields {FIELD or item/indicator id: column or ''}, recodes {column: {value: label}},
    custom {column: definition}, wave_dates {wave: ISO date}, bases {result: base column},
    published (bool), unpivot (bool). ReadError names the flag when something does not fit.
    """
    cat = catalogue.get()
    names = {f.name for f in kinds.fields(chosen.kind)}
    for name, column in (answers.get("fields") or {}).items():
        key = name.strip()
        col = _find_column(raw, column) if column else None
        if col:  # a column feeds one thing only
            chosen.fields = {f: c for f, c in chosen.fields.items() if c != col}
            chosen.items.pop(col, None)
            chosen.custom.pop(col, None)
        if key in names:
            chosen.fields.pop(key, None)
            if col:
                chosen.fields[key] = col
        elif chosen.kind == "survey" and key.casefold() in cat.items:
            chosen.items = {c: i for c, i in chosen.items.items() if i != key.casefold()}
            if col:
                chosen.items[col] = key.casefold()
        elif chosen.kind == "survey_aggregate" and key in cat.indicators:
            chosen.items = {c: i for c, i in chosen.items.items() if i != key}
            if col:
                chosen.items[col] = key
        else:
            extra = " or a question id (q11c, hse01)" if chosen.kind == "survey" else (
                " or an indicator id" if chosen.kind == "survey_aggregate" else "")
            raise ReadError(
                f"--map {name}=...: '{name}' is not a field of {chosen.kind} files; use one of "
                f"{', '.join(sorted(names))}{extra}."
            )
    for column, table in (answers.get("recodes") or {}).items():
        col = _find_column(raw, column)
        chosen.recodes[col] = {**chosen.recodes.get(col, {}), **table}
    for column, definition in (answers.get("custom") or {}).items():
        col = _find_column(raw, column)
        chosen.custom[col] = definition
        chosen.items.pop(col, None)
    chosen.wave_dates.update(answers.get("wave_dates") or {})
    for result, base in (answers.get("bases") or {}).items():
        chosen.bases[_find_column(raw, result)] = _find_column(raw, base)
    if answers.get("published"):
        chosen.published = True
    if answers.get("unpivot"):
        chosen.unpivot = mapping.year_columns(raw.columns)
    if chosen.custom and chosen.kind != "survey":
        raise ReadError("--custom reads a column of survey responses; this is a file of another kind.")
    unread = [c for c in (answers.get("recodes") or {}) if _find_column(raw, c) not in chosen.items]
    if unread:
        raise ReadError(
            f"--recode '{unread[0]}:...': that column is not mapped to a question; map it first "
            f"(--map QUESTION='{unread[0]}', for example --map q6c='{unread[0]}')."
        )
    return chosen


def refused(kind: str, file_name: str, message: str) -> Prepared:
    report = Report(kind=kind, file_name=file_name, errors=[message])
    return Prepared(kind=kind, report=report, mapping=mapping.Mapping(kind=kind))


def prepare(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    kind: str,
    *,
    file_name: str | None = None,
    sheet: str | None = None,
    profile: str | None = None,
    day_first: bool | None = None,
    wave: str | None = None,
    fielded_on: str | None = None,
    header_row: int | None = None,
    hours_per_day: float | None = None,
    answers: dict | None = None,
) -> tuple[RawTable | None, Prepared]:
    """Read + map + validate a file in one call (the CLI's path; the page runs the same steps one by one)."""
    kinds.fields(kind)
    file_name = file_name or Path(path).name
    try:
        raw = read(path, file_name, sheet, header_row)
        chosen, notes = resolve_mapping(con, kind, raw, profile)
        if answers:
            chosen = apply_answers(raw, chosen, answers)
    except ReadError as exc:
        return None, refused(kind, file_name, str(exc))
    if day_first is not None:
        chosen.day_first = day_first
    chosen.wave = wave or chosen.wave
    chosen.fielded_on = fielded_on or chosen.fielded_on
    if hours_per_day is not None:
        chosen.hours_per_day = hours_per_day
    return raw, validate(con, raw, chosen, notes=notes)


def commit(con: duckdb.DuckDBPyConnection, prepared: Prepared, user: str, progress=None) -> int:
    """Write a validated upload; refuses if the report still has errors or open questions."""
    report = prepared.report
    if not report.ok:
        raise ValueError("this upload has errors or unanswered questions; nothing was written")
    import_id = load.commit(
        con,
        prepared.kind,
        prepared.tables,
        file_name=report.file_name,
        sha256=report.sha256,
        user=user,
        profile=prepared.mapping.profile,
        progress=progress,
    )
    store.load_custom(con)
    pseudonym.remember_key(con)
    report.import_id = import_id
    report.committed = True
    return import_id
