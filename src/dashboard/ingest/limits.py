"""Upload limits, checked before a file is expanded: packed size, sheet area, columns, lines, fields."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from dashboard.config import DATA_DIR

DELIMITER_BYTES = {",": 44, ";": 59, "\t": 9, "|": 124}
HEAD_RECORDS = 30  # records whose width is counted (the header is searched for among them)
_CHUNK = 16 * 1024 * 1024
_XML_HEAD = 64 * 1024  # a worksheet declares its <dimension> before any cell


class LimitError(ValueError):
    """An upload breaks one of the limits; the message names the limit and the value found."""


@dataclass(frozen=True)
class Limits:
    """Caps on what an upload may make the server do (data/settings.toml [limits])."""

    max_upload_mb: int = 200
    max_unpacked_mb: int = 1000
    max_unpack_ratio: int = 100
    ratio_floor_mb: int = 10
    max_sheet_cells: int = 5_000_000
    max_parquet_cells: int = 50_000_000
    max_columns: int = 2000
    max_field_chars: int = 32_767
    max_line_kb: int = 1024
    read_memory_mb: int = 3072
    read_seconds: int = 120

    @property
    def max_line_bytes(self) -> int:
        return self.max_line_kb * 1024


def load() -> Limits:
    """The [limits] table of data/settings.toml over the defaults above."""
    import tomllib

    with open(DATA_DIR / "settings.toml", "rb") as fh:
        raw = tomllib.load(fh).get("limits", {})
    known = {f.name for f in fields(Limits)}
    return Limits(**{k: int(v) for k, v in raw.items() if k in known})


def size_text(n: float) -> str:
    """Bytes as people read them: 512 bytes, 48 KB, 1.4 MB, 1.5 GB."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:,.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{int(n)} bytes"


# --- zip containers (xlsx, ods) -------------------------------------------------------------------


def check_zip(zf: zipfile.ZipFile, file_name: str, limits: Limits) -> None:
    """Unpacked size and packing ratio from the zip's central directory, before any part is unpacked."""
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    cap = limits.max_unpacked_mb << 20
    if total > cap:
        raise LimitError(
            f"'{file_name}' would unpack to {size_text(total)} (from {size_text(packed)}); the limit is "
            f"{size_text(cap)} unpacked. Save the data sheet on its own, or as CSV, and upload that."
        )
    floor = limits.ratio_floor_mb << 20
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > floor and ratio > limits.max_unpack_ratio:
            raise LimitError(
                f"'{file_name}' is packed {ratio:,.0f} times smaller than its contents (part "
                f"'{info.filename}' unpacks from {size_text(info.compress_size)} to "
                f"{size_text(info.file_size)}); the limit is {limits.max_unpack_ratio} times. A real "
                "export is never packed this tightly, so the file was not opened."
            )


def _bounded(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with zf.open(name) as fh:
        return fh.read(limit)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_DIMENSION = re.compile(
    rb"<(?:\w+:)?dimension\s+ref=\"\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?\""
)


def _xlsx_sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part -> the sheet's name as Excel shows it (from workbook.xml and its relationships)."""
    names = set(zf.namelist())
    parts = {n: n.rsplit("/", 1)[-1] for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)}
    if "xl/workbook.xml" in names and "xl/_rels/workbook.xml.rels" in names:
        book = _bounded(zf, "xl/workbook.xml", 4 << 20).decode("utf-8", "replace")
        rels = _bounded(zf, "xl/_rels/workbook.xml.rels", 4 << 20).decode("utf-8", "replace")
        targets = {}
        for tag in re.findall(r"<Relationship\b[^>]*>", rels):
            rid = re.search(r'\bId="([^"]+)"', tag)
            target = re.search(r'\bTarget="([^"]+)"', tag)
            if rid and target:
                path = target.group(1).lstrip("/")
                targets[rid.group(1)] = path if path.startswith("xl/") else f"xl/{path}"
        for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", book):
            name = re.search(r'\bname="([^"]*)"', tag)
            rid = re.search(r'\br:id="([^"]+)"', tag)
            if name and rid and targets.get(rid.group(1)) in parts:
                parts[targets[rid.group(1)]] = name.group(1)
    return parts


def check_xlsx_area(zf: zipfile.ZipFile, file_name: str, limits: Limits) -> None:
    """Each worksheet's declared area (<dimension ref="A1:XFD1048576">) within the column and cell limits."""
    for part, sheet in sorted(_xlsx_sheet_parts(zf).items()):
        m = _DIMENSION.search(_bounded(zf, part, _XML_HEAD))
        if not m:
            continue  # undeclared: the capped reader process is the guard
        c1, r1 = _column_number(m.group(1).decode()), int(m.group(2))
        c2, r2 = (_column_number(m.group(3).decode()), int(m.group(4))) if m.group(3) else (c1, r1)
        ref = m.group(0).split(b'"')[1].decode()
        check_area(file_name, sheet, r2 - min(r1, r2) + 1, c2 - min(c1, c2) + 1, limits, f" ({ref})")


def check_area(file_name: str, sheet: str, rows: int, columns: int, limits: Limits, where: str = "") -> None:
    """Refuse a sheet whose area is wider or larger than the limits allow (both found before reading it)."""
    if columns > limits.max_columns:
        raise LimitError(
            f"Sheet '{sheet}' of '{file_name}' spans {columns:,} columns{where}; the limit is "
            f"{limits.max_columns:,} columns. Delete stray cells far to the right, or save the data as CSV."
        )
    if rows * columns > limits.max_sheet_cells:
        raise LimitError(
            f"Sheet '{sheet}' of '{file_name}' spans {rows:,} rows × {columns:,} columns = "
            f"{rows * columns:,} cells{where}; the limit is {limits.max_sheet_cells:,} cells per sheet. "
            "Delete stray cells far below or to the right, or save the data as CSV and upload that."
        )


# --- text files -----------------------------------------------------------------------------------


@dataclass
class TextScan:
    """What one pass over the bytes found: record layout (quote-aware), widths, the longest line."""

    records: int  # records in the file, blank ones included (a quoted line break does not start one)
    blank: np.ndarray  # 1-based numbers of blank records (the CSV reader skips them)
    widths: dict[str, list[int]]  # delimiter -> fields in each of the first HEAD_RECORDS records
    longest_line: int  # bytes in the longest physical line
    longest_line_no: int  # its 1-based physical line number


def scan_text(data: bytes) -> TextScan:
    """One vectorised pass over UTF-8 bytes (16 MB at a time); nothing is decoded or split into cells.

    A byte is inside quotes when an odd number of quote marks precede it, so only the positions of
    quote marks, line breaks and (early on) delimiters are ever looked at.
    """
    quotes_before = 0
    line_no = 0  # physical lines finished so far
    line_start = 0  # offset where the current physical line began
    records = 0
    record_start = 0
    blank: list[np.ndarray] = []
    counts = {d: np.zeros(HEAD_RECORDS, dtype=np.int64) for d in DELIMITER_BYTES}
    longest, longest_no = 0, 1
    whole = np.frombuffer(data, dtype=np.uint8)
    head = data[: 1 << 20]
    newline = 13 if b"\r" in head and b"\n" not in head else 10  # old Mac files end lines with CR only
    for offset in range(0, len(data), _CHUNK):
        a = whole[offset : offset + _CHUNK]
        quotes = np.flatnonzero(a == 34)

        def inside(pos: np.ndarray, quotes=quotes, before=quotes_before) -> np.ndarray:
            return ((before + np.searchsorted(quotes, pos)) & 1).astype(bool)

        newlines = np.flatnonzero(a == newline)
        if len(newlines):
            ends = newlines + offset
            lengths = np.diff(np.concatenate(([line_start - 1], ends))) - 1
            i = int(np.argmax(lengths))
            if lengths[i] > longest:
                longest, longest_no = int(lengths[i]), line_no + i + 1
            line_no += len(ends)
            line_start = int(ends[-1]) + 1
        record_ends = newlines[~inside(newlines)] + offset
        if records < HEAD_RECORDS:
            # Fields in each early record: delimiters outside quotes, tallied per record.
            for d, byte in DELIMITER_BYTES.items():
                pos = np.flatnonzero(a == byte)
                pos = pos[~inside(pos)]
                ids = records + np.searchsorted(record_ends, pos + offset, "left")
                ids = ids[ids < HEAD_RECORDS]
                counts[d] += np.bincount(ids, minlength=HEAD_RECORDS)[:HEAD_RECORDS]
        if len(record_ends):
            starts = np.concatenate(([record_start], record_ends[:-1] + 1))
            size = record_ends - starts
            empty = (size == 0) | ((size == 1) & (whole[starts] == 13) & (newline == 10))
            blank.append(np.flatnonzero(empty) + records + 1)
            records += len(record_ends)
            record_start = int(record_ends[-1]) + 1
        quotes_before += len(quotes)
    tail = len(data) - line_start
    if tail > longest:
        longest, longest_no = tail, line_no + 1
    if record_start < len(data) and data[record_start:].strip(b"\r"):
        records += 1
    used = min(records, HEAD_RECORDS)
    widths = {d: [int(c) + 1 for c in counts[d][:used]] for d in DELIMITER_BYTES}
    return TextScan(
        records=records,
        blank=np.concatenate(blank) if blank else np.zeros(0, dtype=np.int64),
        widths=widths,
        longest_line=longest,
        longest_line_no=longest_no,
    )


def check_text(scan: TextScan, file_name: str, limits: Limits) -> None:
    """Columns first (a million-column header is also a long line, but the width is the real problem)."""
    widest, row = 0, 0
    for per_record in scan.widths.values():
        for i, w in enumerate(per_record):
            if w > widest:
                widest, row = w, i + 1
    if widest > limits.max_columns:
        raise LimitError(
            f"'{file_name}' has {widest:,} columns (row {row}); the limit is {limits.max_columns:,} "
            "columns. Export only the columns you need."
        )
    if scan.longest_line > limits.max_line_bytes:
        raise LimitError(
            f"Line {scan.longest_line_no:,} of '{file_name}' is {size_text(scan.longest_line)} long; the "
            f"limit is {size_text(limits.max_line_bytes)} per line. The file may not be a table with one "
            "row per line: export it again as CSV."
        )


def check_fields(frame, row_numbers, file_name: str, limits: Limits) -> None:
    """No cell longer than the field limit (names the row, the column and the length)."""
    for column in frame.columns:
        lengths = frame[column].str.len().to_numpy(dtype="float64", na_value=0)
        if len(lengths) and lengths.max() > limits.max_field_chars:
            i = int(lengths.argmax())
            raise LimitError(
                f"Row {int(row_numbers.iloc[i]):,}, column '{column}' of '{file_name}' holds "
                f"{int(lengths[i]):,} characters; the limit is {limits.max_field_chars:,} characters "
                "per cell."
            )


def check_parquet(path: Path, file_name: str, limits: Limits) -> None:
    """Columns, cells and unpacked size from the Parquet footer, before any data page is read."""
    import duckdb

    con = duckdb.connect()
    try:
        rows, columns = con.execute(
            "SELECT num_rows, (SELECT count(*) FROM parquet_schema(?)) - 1 FROM parquet_file_metadata(?)",
            [str(path), str(path)],
        ).fetchone()
        unpacked = con.execute(
            "SELECT coalesce(sum(total_uncompressed_size), 0) FROM parquet_metadata(?)", [str(path)]
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise LimitError("The Parquet file could not be read; it may be damaged.") from exc
    finally:
        con.close()
    if columns > limits.max_columns:
        raise LimitError(
            f"'{file_name}' has {columns:,} columns; the limit is {limits.max_columns:,} columns."
        )
    if rows * columns > limits.max_parquet_cells:
        raise LimitError(
            f"'{file_name}' holds {rows:,} rows × {columns:,} columns = {rows * columns:,} cells; the "
            f"limit is {limits.max_parquet_cells:,} cells. Split it (for example by year)."
        )
    cap = limits.max_unpacked_mb << 20
    if unpacked > cap:
        raise LimitError(
            f"'{file_name}' would unpack to {size_text(unpacked)}; the limit is {size_text(cap)} unpacked."
        )
