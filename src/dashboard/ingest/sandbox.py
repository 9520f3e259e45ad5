"""Open a spreadsheet in a child process capped in memory and time, so no workbook can take the server down.

The parser (calamine, native code) allocates the whole used area of a sheet at once: a two-cell
workbook with cells at A1 and XFD1048576 asks for 512 GB and aborts the process that asked. So the
parent never parses a workbook itself: a fresh interpreter does, under setrlimit, and writes the
cells as JSON into a private folder. Any way the child dies becomes a refusal with a reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from xml.parsers import expat

EXIT_REFUSED = 3
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


class _Found(Exception):
    """Stops the ODS scan at the first table over a limit."""


class Refused(Exception):
    """Raised in the child (and re-raised as ReadError in the parent) with a message for the user."""


def cell_text(value: object) -> str | None:
    """Spreadsheet cell -> text, so that every format reaches mapping in the same shape."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# --- parent side --------------------------------------------------------------------------------


def read_sheet(path: Path, file_name: str, fmt: str, sheet: str | None, limits) -> dict:
    """{sheets, sheet, rows} from a child process; Refused for anything the child could not do."""
    out_dir = Path(tempfile.mkdtemp(prefix="wellbeing_read_"))  # 0700, removed below however it ends
    out = out_dir / "rows.json"
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [
        sys.executable, "-m", "dashboard.ingest.sandbox", str(path), str(out), fmt, sheet or "",
        str(limits.read_memory_mb), str(limits.read_seconds), str(limits.max_sheet_cells),
        str(limits.max_columns), file_name,
    ]
    try:
        try:
            proc = subprocess.run(
                # CPU time is capped in the child; the wall clock allows for a busy machine.
                args, env=env, capture_output=True, text=True, timeout=2 * limits.read_seconds + 10,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise Refused(_too_slow(file_name, limits)) from exc
        if proc.returncode == 0:
            with open(out, encoding="utf-8") as fh:
                return json.load(fh)
        if proc.returncode == EXIT_REFUSED and out.exists():
            with open(out, encoding="utf-8") as fh:
                raise Refused(json.load(fh)["error"])
        if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in proc.stderr:
            raise Refused(_too_slow(file_name, limits))
        raise Refused(
            f"Opening '{file_name}' needed more than the {limits.read_memory_mb:,} MB of memory a "
            "spreadsheet may use, so it was stopped. The sheet probably has stray cells far below or to "
            "the right of the data (its used area is huge): delete them, or save the data as CSV, and "
            "upload again."
        )
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _too_slow(file_name: str, limits) -> str:
    return (
        f"Opening '{file_name}' took longer than the {limits.read_seconds} seconds a spreadsheet may take, "
        "so it was stopped. Save the data as CSV and upload that."
    )


# --- child side ---------------------------------------------------------------------------------


def ods_area(path: str, max_cells: int, max_columns: int) -> tuple[str, int, int] | None:
    """The first ODS table whose filled area (repeats expanded) is over a limit: (name, rows, columns).

    Streams content.xml with expat, counting table:number-rows-repeated and
    table:number-columns-repeated without expanding them; empty repeated rows and cells (how
    LibreOffice pads a sheet to its full size) do not count.
    """
    state = {"table": "", "row": 0, "rows": 0, "cols": 0, "col": 0, "row_rep": 1, "row_used": 0,
             "cell_rep": 1, "cell_filled": False, "in_cell": 0}
    found: list[tuple[str, int, int]] = []

    def start(tag: str, attrs: dict) -> None:
        if tag == f"{_TABLE} table":
            state.update(table=attrs.get(f"{_TABLE} name", "?"), row=0, rows=0, cols=0)
        elif tag == f"{_TABLE} table-row":
            state.update(row_rep=int(attrs.get(f"{_TABLE} number-rows-repeated", "1")), col=0, row_used=0)
        elif tag in (f"{_TABLE} table-cell", f"{_TABLE} covered-table-cell"):
            state.update(cell_rep=int(attrs.get(f"{_TABLE} number-columns-repeated", "1")),
                         cell_filled=f"{_OFFICE} value-type" in attrs, in_cell=1)
        elif state["in_cell"]:
            state["cell_filled"] = True  # a text:p or any content inside the cell

    def end(tag: str) -> None:
        if tag in (f"{_TABLE} table-cell", f"{_TABLE} covered-table-cell"):
            state["col"] += state["cell_rep"]
            if state["cell_filled"]:
                state["row_used"] = state["col"]
            state["in_cell"] = 0
        elif tag == f"{_TABLE} table-row":
            state["row"] += state["row_rep"]
            if state["row_used"]:
                state["rows"] = state["row"]
                state["cols"] = max(state["cols"], state["row_used"])
                if state["cols"] > max_columns or state["rows"] * state["cols"] > max_cells:
                    found.append((state["table"], state["rows"], state["cols"]))
                    raise _Found

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    # _Found stops the scan at the first table over a limit.
    with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh, contextlib.suppress(_Found):
        parser.ParseFile(fh)
    return found[0] if found else None


def _visible(book) -> list[str]:
    return [
        m.name
        for m in book.sheets_metadata
        if str(m.visible).endswith("Visible") and "Hidden" not in str(m.visible)
    ] or list(book.sheet_names)


def _child(argv: list[str]) -> int:
    import resource

    path, out, fmt, sheet, mem_mb, seconds, max_cells, max_cols, file_name = argv
    limit = int(mem_mb) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds) + 5))
    try:
        result = _open(path, fmt, sheet or None, int(max_cells), int(max_cols), file_name)
    except Refused as exc:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump({"error": str(exc)}, fh)
        return EXIT_REFUSED
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


def _open(path: str, fmt: str, sheet: str | None, max_cells: int, max_cols: int, file_name: str) -> dict:
    import python_calamine

    if fmt == "ods":
        big = ods_area(path, max_cells, max_cols)
        if big is not None:
            name, rows, cols = big
            what = (
                f"{cols:,} columns; the limit is {max_cols:,} columns"
                if cols > max_cols
                else f"{rows:,} rows × {cols:,} columns = {rows * cols:,} cells; the limit is "
                f"{max_cells:,} cells per sheet"
            )
            raise Refused(
                f"Sheet '{name}' of '{file_name}' spans {what}. Delete stray cells far below or to the "
                "right, or save the data as CSV and upload that."
            )
    try:
        book = python_calamine.CalamineWorkbook.from_path(path)
    except MemoryError:
        raise
    except Exception as exc:  # calamine raises several of its own error types
        raise Refused(f"The spreadsheet could not be opened ({exc}). Save it again and retry.") from exc
    visible = _visible(book)
    if sheet is not None and sheet not in book.sheet_names:
        raise Refused(f"There is no sheet called '{sheet}'. The sheets are: {', '.join(visible)}.")
    candidates = [sheet] if sheet is not None else visible
    rows: list[list[str | None]] = []
    chosen = None
    for name in candidates:
        rows = _rows(book, name, max_cells, max_cols, file_name)
        filled = [r for r in rows if sum(v is not None for v in r) >= 2]
        if sheet is not None or len(filled) >= 2:
            chosen = name
            break
    if chosen is None:
        chosen = visible[0]
        rows = _rows(book, chosen, max_cells, max_cols, file_name, skip_empty=True)
    return {"sheets": visible, "sheet": chosen, "rows": rows}


def _rows(
    book, name: str, max_cells: int, max_cols: int, file_name: str, skip_empty: bool = False
) -> list[list[str | None]]:
    ws = book.get_sheet_by_name(name)
    height, width = ws.total_height, ws.total_width
    if width > max_cols or height * width > max_cells:
        raise Refused(
            f"Sheet '{name}' of '{file_name}' spans {height:,} rows × {width:,} columns; the limits are "
            f"{max_cols:,} columns and {max_cells:,} cells per sheet. Delete stray cells far below or to "
            "the right, or save the data as CSV and upload that."
        )
    # Without skipping the empty area, row i of the list is sheet row i + 1 (true row numbers).
    # Text cells (most of them) skip the conversion.
    return [
        [v if type(v) is str and v else cell_text(v) for v in row]
        for row in ws.to_python(skip_empty_area=skip_empty)
    ]


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
