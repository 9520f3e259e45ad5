"""Read an upload (CSV/TSV/TXT, Excel, ODS, Parquet) into a frame of text cells, sniffing what it is."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboard.ingest import limits as caps
from dashboard.ingest.sandbox import Refused, cell_text, read_sheet

TEXT_EXTENSIONS = {".csv", ".tsv", ".txt", ".tab", ".dat", ""}
SHEET_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".ods"}
DELIMITERS = [",", ";", "\t", "|"]
SAMPLE_BYTES = 256 * 1024
HEADER_SEARCH_ROWS = 30
FORMAT_NAMES = {
    "csv": "a text (CSV) file",
    "xlsx": "an Excel workbook",
    "xls": "an old-style Excel workbook (.xls)",
    "ods": "an OpenDocument spreadsheet",
    "parquet": "a Parquet file",
}
_EXPECTED_FORMAT = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods", ".parquet": "parquet"}


class ReadError(ValueError):
    """The file cannot be read as a table; the message tells a non-technical user what to do."""


@dataclass
class RawTable:
    """The uploaded table as text cells, plus what was detected about the file."""

    frame: pd.DataFrame
    file_name: str
    format: str
    sha256: str
    size: int
    sheets: list[str] = field(default_factory=list)
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 1  # file row (1-based) holding the column names
    header_detected: int = 1  # the row the reader would pick by itself (header_row unless overridden)
    head_rows: list[list[str | None]] = field(default_factory=list)  # the first rows, to pick the header
    row_numbers: pd.Series | None = None  # file row number of each frame row, for problem reports
    notes: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (file line, reason) not read

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sniff_format(
    head: bytes, path: Path, file_name: str | None = None, limits: caps.Limits | None = None
) -> str:
    """What the bytes are, whatever the file is called: xlsx, xls, ods, parquet or csv (text).

    A zip is measured from its central directory (and a workbook's declared sheet areas) before
    any part of it is unpacked.
    """
    if head.startswith(b"PK\x03\x04"):
        limits = limits or caps.load()
        file_name = file_name or path.name
        try:
            with zipfile.ZipFile(path) as zf:
                caps.check_zip(zf, file_name, limits)
                names = set(zf.namelist())
                mimetype = ""
                if "mimetype" in names and zf.getinfo("mimetype").file_size < 1024:
                    mimetype = zf.read("mimetype").decode("ascii", "ignore")
                if "xl/workbook.xml" in names:
                    caps.check_xlsx_area(zf, file_name, limits)
        except caps.LimitError as exc:
            raise ReadError(str(exc)) from exc
        # OSError, zlib.error and ValueError: damaged archives found by fuzzing (bad offsets,
        # corrupt deflate streams) raise these too
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError,
                zlib.error, ValueError) as exc:
            raise ReadError("The file looks like a damaged spreadsheet (a broken zip archive).") from exc
        if "spreadsheet" in mimetype and "opendocument" in mimetype:
            return "ods"
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
            return "xlsx"
        if any(n.startswith("word/") for n in names):
            raise ReadError("This is a Word document, not a table. Export the data as CSV or Excel.")
        raise ReadError(
            "This is a zip archive, not a table. Unzip it and upload the CSV or Excel file inside."
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"%PDF"):
        raise ReadError("This is a PDF, not a table. Export the data as CSV or Excel instead.")
    return "csv"


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM or zero-byte pattern), else Windows-1252 / Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without a BOM: ASCII text has a zero in every other byte.
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return "\x00" in sample or control > len(sample) * 0.01 or sample.count("\ufffd") > len(sample) * 0.01


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate giving the most rows with the same (largest) number of fields."""
    best, best_score = ",", (-1.0, 0)
    for delim in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delim, quotechar='"'))
        widths = [len(r) for r in rows if any(c.strip() for c in r)]
        if not widths:
            continue
        modal = max(set(widths), key=lambda w: (widths.count(w), w))
        if modal < 2:
            continue
        score = (widths.count(modal) / len(widths), modal)
        if score > best_score:
            best, best_score = delim, score
    return best


_NUMERIC = re.compile(r"^\s*[-+]?[\d.,]+%?\s*$")


def find_header(rows: list[list[str | None]]) -> int:
    """Index of the header row: the first wide row of mostly text that is followed by data.

    Title rows above the header (report names, merged cells, dates) have few filled cells; report
    parameters ("Organisation:", "Period:") are labels ending in a colon, which column names never are.
    """
    filled = [[c for c in r if c not in (None, "") and str(c).strip()] for r in rows[:HEADER_SEARCH_ROWS]]
    if not any(filled):
        return 0
    widest = max(len(f) for f in filled)
    for i, cells in enumerate(filled):
        if len(cells) >= max(2, (widest + 1) // 2) or (widest == 1 and cells):
            texty = sum(1 for c in cells if not _NUMERIC.match(str(c)))
            labels = sum(1 for c in cells if str(c).strip().endswith(":"))
            if texty >= len(cells) / 2 and labels < len(cells) / 2:
                return i
    return 0


def _dedupe_headers(raw: list[str | None], notes: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(raw):
        name = "" if value is None or pd.isna(value) else re.sub(r"\s+", " ", str(value)).strip()
        if not name:
            name = f"Column {i + 1}"
        key = name.casefold()
        if key in seen:
            seen[key] += 1
            new = f"{name} ({seen[key]})"
            notes.append(f"Two columns are both called '{name}'; the later one is shown as '{new}'.")
            name = new
        else:
            seen[key] = 1
        names.append(name)
    return names


_cell_text = cell_text


def _header_index(rows: list[list], header_row: int | None, notes: list[str]) -> tuple[int, int]:
    """(index used, index detected): the user's row when given, else the detected one."""
    detected = find_header(rows)
    if header_row is None:
        if detected:
            notes.append(f"Skipped {detected} title row(s) above the column names.")
        return detected, detected
    if not 1 <= header_row <= len(rows):
        raise ReadError(
            f"Row {header_row} cannot hold the column names: the file has {len(rows)} row(s) at the top "
            f"to choose from (rows 1 to {len(rows)})."
        )
    if not any(c not in (None, "") and str(c).strip() for c in rows[header_row - 1]):
        raise ReadError(f"Row {header_row} is empty, so it cannot hold the column names.")
    if header_row - 1 != detected:
        notes.append(f"Column names taken from row {header_row}, as chosen (detected: row {detected + 1}).")
    return header_row - 1, detected


def _frame_from_rows(
    rows: list[list], first_row_number: int, notes: list[str], header_row: int | None = None
) -> tuple[pd.DataFrame, int, pd.Series]:
    header_idx, _detected = _header_index(rows, header_row, notes)
    width = max((len(r) for r in rows), default=0)
    header = list(rows[header_idx]) + [None] * (width - len(rows[header_idx]))
    body = [list(r) + [None] * (width - len(r)) for r in rows[header_idx + 1 :]]
    names = _dedupe_headers(header, notes)
    frame = (
        pd.DataFrame(body, columns=names, dtype="string")
        if body
        else pd.DataFrame(columns=names, dtype="string")
    )
    numbers = pd.Series(range(len(body)), dtype="int64") + first_row_number + header_idx + 1
    return frame, first_row_number + header_idx, numbers


def _tidy(frame: pd.DataFrame, numbers: pd.Series, notes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Trim cells, drop wholly empty rows and unnamed empty columns."""
    frame = frame.astype("string").apply(lambda col: col.str.strip())
    frame = frame.mask(frame == "")
    keep_rows = frame.notna().any(axis=1).to_numpy()
    frame = frame.loc[keep_rows].reset_index(drop=True)
    numbers = numbers.loc[keep_rows].reset_index(drop=True)
    empty_unnamed = [c for c in frame.columns if c.startswith("Column ") and frame[c].isna().all()]
    if empty_unnamed:
        frame = frame.drop(columns=empty_unnamed)
    return frame, numbers


def _read_text(path: Path, table: RawTable, limits: caps.Limits, header_row: int | None) -> None:
    data = path.read_bytes()
    encoding = detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    if _looks_binary(text):
        raise ReadError(
            "This file is not a readable table (it looks like binary data). "
            "Export the data again as CSV, Excel (.xlsx), OpenDocument (.ods) or Parquet."
        )
    table.encoding = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252"}.get(
        encoding, encoding.upper()
    )
    if encoding not in ("utf-8", "utf-8-sig"):
        table.notes.append(f"Text encoding {table.encoding} converted to UTF-8.")
    if text.startswith("\ufeff"):
        text = text[1:]
    # DuckDB parses the whole file (fast, streaming); it needs UTF-8, so other encodings are converted.
    utf8 = data if encoding == "utf-8" else text.encode("utf-8")
    del data
    scan = caps.scan_text(utf8)
    try:
        caps.check_text(scan, table.file_name, limits)
    except caps.LimitError as exc:
        raise ReadError(str(exc)) from exc
    sample = text[:SAMPLE_BYTES]
    if len(text) > SAMPLE_BYTES:
        sample = sample[: sample.rfind("\n") + 1] or sample
    # Python's csv refuses fields over 128 KB; the sample is smaller than the line limit, so raising
    # its limit to that means no cell in the sample can trip it (cell lengths are checked below).
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_line_bytes, SAMPLE_BYTES))
    lines = sample.splitlines(keepends=True)
    delim = sniff_delimiter(lines)
    table.delimiter = delim
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delim, quotechar='"')
    rows: list[list[str]] = []
    line_ends: list[int] = []
    wanted = max(HEADER_SEARCH_ROWS, header_row or 0)
    for row in reader:
        rows.append(row)
        line_ends.append(reader.line_num)
        if len(rows) >= wanted:
            break
    if not any(any(c.strip() for c in r) for r in rows):
        raise ReadError("The file has no data in it (only blank lines).")
    table.head_rows = [[c if c.strip() else None for c in r] for r in rows[:HEADER_SEARCH_ROWS]]
    header_idx, detected = _header_index(rows, header_row, table.notes)
    skip_lines = line_ends[header_idx - 1] if header_idx else 0
    # Every record in the sample sets the width (a stray extra field widens the table, not lost).
    widths = [len(r) for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim, quotechar='"')]
    width = max(widths[header_idx:] or [1])
    with tempfile.TemporaryDirectory(prefix="wellbeing_csv_") as tmp:
        source = path
        if encoding not in ("utf-8", "utf-8-sig"):
            source = Path(tmp) / "converted.csv"
            source.write_bytes(utf8)
        raw, rejects = _duckdb_csv(source, delim, skip_lines, width, limits.max_line_bytes)
    if not len(raw):  # found by fuzzing: Python's csv saw a row in a file DuckDB reads as empty
        raise ReadError("The file could not be read as a table: no row could be read (is a quote "
                        "mark left open?).")
    header = list(raw.iloc[0])
    names = _dedupe_headers(header, table.notes)
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = names
    table.header_row = header_idx + 1
    table.header_detected = detected + 1
    numbers = _record_numbers(scan, table.header_row, [line for line, _ in rejects], len(frame))
    try:
        caps.check_fields(frame, numbers, table.file_name, limits)
    except caps.LimitError as exc:
        raise ReadError(str(exc)) from exc
    table.frame, table.row_numbers = _tidy(frame, numbers, table.notes)
    table.rejected = rejects


def _record_numbers(scan: caps.TextScan, header_row: int, rejected: list[int], rows: int) -> pd.Series:
    """The file row of each row read: records after the header, less blank ones and rejected ones.

    Records, not physical lines: a quoted line break inside a cell does not shift the count, and
    the rows the CSV reader skips (blank lines) or rejects (wrong number of fields) are not given
    to the next row (which is what a spreadsheet program shows as the row number).
    """
    after = np.arange(header_row + 1, scan.records + 1, dtype=np.int64)
    gone = np.union1d(scan.blank, np.asarray(rejected, dtype=np.int64))
    kept = after[~np.isin(after, gone)]
    if len(kept) != rows:
        # The file's quoting confused the count (a stray quote mark): fall back to counting rows read.
        kept = np.arange(rows, dtype=np.int64) + header_row + 1
    return pd.Series(kept, dtype="int64")


def _duckdb_csv(
    source: Path, delim: str, skip: int, width: int, max_line: int
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    con = duckdb.connect()
    try:
        columns = {f"c{i}": "VARCHAR" for i in range(width)}
        base = (
            "SELECT * FROM read_csv(?, delim = ?, quote = '\"', escape = '\"', header = false, skip = ?,"
            " columns = ?, auto_detect = false, null_padding = true, store_rejects = true,"
            " max_line_size = ?{extra})"
        )
        params = [str(source), delim, skip, columns, max_line]
        try:
            frame = con.execute(base.format(extra=""), params).df()
        except duckdb.Error:
            # Quoted line breaks trip the parallel scanner (with short rows, or before a rejected
            # row); the single-threaded reader handles both, on a fresh connection.
            con.close()
            con = duckdb.connect()
            try:
                frame = con.execute(base.format(extra=", parallel = false"), params).df()
            except duckdb.Error as exc:
                raise ReadError(f"The file could not be read as a table: {str(exc).splitlines()[0]}") from exc
        rejects = con.execute(
            "SELECT line, error_type, error_message FROM reject_errors ORDER BY line"
        ).fetchall()
    finally:
        con.close()
    reasons: dict[int, str] = {}
    for line, kind, msg in rejects:
        # DuckDB may report one line several times (one per surplus field); list it once.
        reasons.setdefault(int(line), f"row not read ({str(kind).lower().replace('_', ' ')}: {msg})")
    return frame.astype("string"), sorted(reasons.items())


def _read_sheet(
    path: Path, table: RawTable, sheet: str | None, limits: caps.Limits, header_row: int | None
) -> None:
    try:
        got = read_sheet(path, table.file_name, table.format, sheet, limits)
    except Refused as exc:
        raise ReadError(str(exc)) from exc
    table.sheets, sheet, rows = got["sheets"], got["sheet"], got["rows"]
    if len(table.sheets) > 1:
        table.notes.append(
            f"The workbook has {len(table.sheets)} sheets ({', '.join(table.sheets)}); read '{sheet}'."
        )
    table.sheet = sheet
    if not any(any(v is not None for v in r) for r in rows):
        raise ReadError(f"The sheet '{sheet}' is empty.")
    table.head_rows = [list(r) for r in rows[:HEADER_SEARCH_ROWS]]
    frame, header_row_used, numbers = _frame_from_rows(rows, 1, table.notes, header_row)
    table.header_row = header_row_used
    table.header_detected = find_header(rows) + 1
    try:
        caps.check_fields(frame, numbers, table.file_name, limits)
    except caps.LimitError as exc:
        raise ReadError(str(exc)) from exc
    table.frame, table.row_numbers = _tidy(frame, numbers, table.notes)


def _read_parquet(path: Path, table: RawTable, limits: caps.Limits) -> None:
    try:
        caps.check_parquet(path, table.file_name, limits)
    except caps.LimitError as exc:
        raise ReadError(str(exc)) from exc
    con = duckdb.connect()
    try:
        frame = con.execute("SELECT COLUMNS(*)::VARCHAR FROM read_parquet(?)", [str(path)]).df()
    except duckdb.Error as exc:
        raise ReadError("The Parquet file could not be read; it may be damaged.") from exc
    finally:
        con.close()
    names = _dedupe_headers(list(frame.columns), table.notes)
    frame.columns = names
    numbers = pd.Series(range(len(frame)), dtype="int64") + 2
    table.frame, table.row_numbers = _tidy(frame, numbers, table.notes)


def read_file(
    path: Path | str,
    file_name: str | None = None,
    sheet: str | None = None,
    max_mb: int | None = None,
    header_row: int | None = None,
    limits: caps.Limits | None = None,
) -> RawTable:
    """Read any supported upload into text cells; raise ReadError with an actionable message.

    header_row (1-based) overrides the detected row of column names. Every limit in `limits` is
    checked before the part of the file it guards is expanded.
    """
    path = Path(path)
    file_name = file_name or path.name
    limits = limits or caps.load()
    size = path.stat().st_size
    if size == 0:
        raise ReadError(f"'{file_name}' is empty (0 bytes). Export it again from your system and re-upload.")
    if max_mb is not None and size > max_mb * 1024 * 1024:
        raise ReadError(
            f"'{file_name}' is {size / 1024 / 1024:.0f} MB; the upload limit is {max_mb} MB. "
            "Split it (for example by year) or ask your administrator to raise the limit."
        )
    if header_row is not None and header_row < 1:
        raise ReadError(f"The header row must be 1 or more (got {header_row}).")
    with open(path, "rb") as fh:
        head = fh.read(8)
    fmt = sniff_format(head, path, file_name, limits)
    table = RawTable(
        frame=pd.DataFrame(), file_name=file_name, format=fmt, sha256=file_sha256(path), size=size
    )
    ext = Path(file_name).suffix.lower()
    expected = _EXPECTED_FORMAT.get(ext, "csv" if ext in TEXT_EXTENSIONS else None)
    if expected is None:
        table.notes.append(f"Unrecognised extension '{ext}'; read as {FORMAT_NAMES[fmt]}.")
    elif expected != fmt and not (expected == "xlsx" and fmt == "xls"):
        table.notes.append(
            f"'{file_name}' is named like {FORMAT_NAMES[expected]} but is really {FORMAT_NAMES[fmt]}; "
            "it was read as what it really is."
        )
    if fmt == "csv":
        _read_text(path, table, limits, header_row)
    elif fmt == "parquet":
        _read_parquet(path, table, limits)
    else:
        _read_sheet(path, table, sheet, limits, header_row)
    if table.frame.shape[1] == 0 or table.frame.empty:
        raise ReadError(f"'{file_name}' has column names but no rows of data.")
    return table
