"""Hostile uploads: each limit refuses with its own reason, before the file is expanded; nothing crashes."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import numpy as np
import pytest

from dashboard.ingest import limits as caps
from dashboard.ingest import pipeline
from dashboard.ingest.read import ReadError, read_file
from tests.ingest.conftest import UPLOADS, snapshot

LIMITS = caps.load()


def _refusal(path, **kwargs) -> str:
    """The reason read_file gives for refusing the file (it must refuse)."""
    with pytest.raises(ReadError) as err:
        read_file(path, **kwargs)
    return str(err.value)


def test_settings_file_sets_every_limit():
    expected = caps.Limits(
        max_upload_mb=200,
        max_unpacked_mb=1000,
        max_unpack_ratio=100,
        ratio_floor_mb=10,
        max_sheet_cells=5_000_000,
        max_parquet_cells=50_000_000,
        max_columns=2000,
        max_field_chars=32_767,
        max_line_kb=1024,
        read_memory_mb=3072,
        read_seconds=120,
    )
    assert expected == LIMITS


def test_corner_cell_xlsx_refused_from_its_declared_dimension():
    # 4.8 KB on disk, two cells: A1 and XFD1048576 (the server used to abort asking for 512 GB).
    assert (UPLOADS / "corner_cell.xlsx").stat().st_size < 6000
    assert _refusal(UPLOADS / "corner_cell.xlsx") == (
        "Sheet 'Data' of 'corner_cell.xlsx' spans 16,384 columns (A1:XFD1048576); the limit is 2,000 "
        "columns. Delete stray cells far to the right, or save the data as CSV."
    )


def test_declared_area_over_the_cell_limit(tmp_path):
    # 2,000 columns is allowed, 2,000 x 2,501 = 5,002,000 cells is not.
    path = _strip_or_set_dimension(UPLOADS / "corner_cell.xlsx", tmp_path / "tall.xlsx", b"A1:BXX2501")
    with pytest.raises(ReadError, match=r"spans 2,501 rows × 2,000 columns = 5,002,000 cells \(A1:BXX2501\); "
                       r"the limit is 5,000,000 cells per sheet"):
        read_file(path)


def test_corner_cell_without_a_dimension_is_stopped_by_the_capped_reader(tmp_path):
    # No <dimension>: nothing to check up front, so calamine tries to allocate 512 GB in the
    # child process, which hits its memory cap and dies; the parent refuses with that reason.
    path = _strip_or_set_dimension(UPLOADS / "corner_cell.xlsx", tmp_path / "nodim.xlsx", None)
    assert _refusal(path).startswith(
        "Opening 'nodim.xlsx' needed more than the 3,072 MB of memory a spreadsheet may use, "
        "so it was stopped."
    )


def test_child_out_of_cpu_time_is_refused_with_that_reason(tmp_path):
    # A CPU cap of 0 stops the child at its first scheduler tick of parsing; the sheet must keep
    # it busy for many ticks (a tiny file could finish between two ticks on a busy machine).
    import xlsxwriter

    path = tmp_path / "busy.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for r in range(20_000):
        sheet.write_row(r, 0, [r, f"team {r % 97}", r * 0.5, "text", r % 5])
    book.close()
    with pytest.raises(ReadError, match="took longer than the 0 seconds a spreadsheet may take"):
        read_file(path, limits=replace(LIMITS, read_seconds=0))


def test_zip_bomb_refused_by_the_packing_ratio_before_unpacking():
    assert _refusal(UPLOADS / "zip_bomb.xlsx") == (
        "'zip_bomb.xlsx' is packed 1,017 times smaller than its contents (part 'xl/worksheets/sheet1.xml' "
        "unpacks from 40 KB to 40 MB); the limit is 100 times. A real export is never packed this tightly, "
        "so the file was not opened."
    )


def test_zip_bomb_refused_by_total_unpacked_size():
    small = replace(LIMITS, max_unpacked_mb=30)
    with pytest.raises(ReadError, match=r"would unpack to 40 MB \(from \d+ KB\); the limit is 30 MB"):
        read_file(UPLOADS / "zip_bomb.xlsx", limits=small)


def test_ods_with_a_huge_repeated_area_refused_before_parsing(tmp_path):
    path = tmp_path / "repeat.ods"
    row = (
        '<table:table-row table:number-rows-repeated="1048576">'
        '<table:table-cell table:number-columns-repeated="1024" office:value-type="string">'
        "<text:p>x</text:p></table:table-cell></table:table-row>"
    )
    _write_ods(path, row)
    assert _refusal(path) == (
        "Sheet 'Big' of 'repeat.ods' spans 1,048,576 rows × 1,024 columns = 1,073,741,824 cells; the limit "
        "is 5,000,000 cells per sheet. Delete stray cells far below or to the right, or save the data as "
        "CSV and upload that."
    )


def test_ods_padding_of_empty_repeated_rows_is_not_counted(tmp_path):
    # How LibreOffice pads every sheet: empty rows and cells repeated to the sheet's full size.
    path = tmp_path / "padded.ods"
    rows = (
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Team</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>Site</text:p>'
        '</table:table-cell><table:table-cell table:number-columns-repeated="16382"/></table:table-row>'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Ward 7</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>City</text:p>'
        '</table:table-cell></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048574"><table:table-cell '
        'table:number-columns-repeated="16384"/></table:table-row>'
    )
    _write_ods(path, rows)
    t = read_file(path)
    assert t.columns == ["Team", "Site"] and t.frame.values.tolist() == [["Ward 7", "City"]]


def test_a_million_columns_refused_by_column_count(tmp_path):
    path = tmp_path / "wide.csv"
    with open(path, "w") as fh:
        fh.write(",".join(f"c{i}" for i in range(1_000_000)) + "\n" + ",".join("1" * 1_000_000) + "\n")
    assert _refusal(path) == (
        "'wide.csv' has 1,000,000 columns (row 1); the limit is 2,000 columns. "
        "Export only the columns you need."
    )


def test_one_190_mb_line_refused_by_line_length(tmp_path):
    path = tmp_path / "one_line.csv"
    with open(path, "wb") as fh:
        fh.write(b"Team,Notes\nWard 7,")
        block = b"x" * (1 << 20)
        for _ in range(190):
            fh.write(block)
    assert _refusal(path) == (
        "Line 2 of 'one_line.csv' is 190 MB long; the limit is 1.0 MB per line. The file may not be a "
        "table with one row per line: export it again as CSV."
    )


def test_field_longer_than_the_cell_limit(tmp_path):
    path = tmp_path / "long_cell.csv"
    path.write_text("Team,Notes\nWard 7,short\nTheatres," + "y" * 40_000 + "\n")
    assert _refusal(path) == (
        "Row 3, column 'Notes' of 'long_cell.csv' holds 40,000 characters; the limit is 32,767 characters "
        "per cell."
    )


def test_parquet_column_limit_from_the_footer(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [1] for i in range(30)}), path)
    with pytest.raises(ReadError, match="'wide.parquet' has 30 columns; the limit is 20 columns"):
        read_file(path, limits=replace(LIMITS, max_columns=20))
    with pytest.raises(ReadError, match=r"holds 1 rows × 30 columns = 30 cells; the limit is 10 cells"):
        read_file(path, limits=replace(LIMITS, max_parquet_cells=10))


def test_hostile_upload_through_the_pipeline_changes_nothing(con):
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, UPLOADS / "zip_bomb.xlsx", "staff_in_post")
    assert not prepared.report.ok and "packed 1,017 times smaller" in prepared.report.errors[0]
    assert snapshot(con) == before


def test_scan_counts_records_not_lines_and_finds_blank_ones():
    data = b'a,b\n1,"x\ny"\n\n2,3\r\n\r\n"q,r",4\n5,6'
    scan = caps.scan_text(data)
    # records: a,b | 1,"x y" | (blank) | 2,3 | (blank) | "q,r",4 | 5,6
    assert scan.records == 7 and scan.blank.tolist() == [3, 5]
    assert scan.widths[","] == [2, 2, 1, 2, 1, 2, 2]  # the comma inside quotes does not count
    assert (scan.longest_line, scan.longest_line_no) == (7, 7)  # '"q,r",4' is physical line 7


def test_scan_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(caps, "_CHUNK", 7)
    data = b'a,b\n1,"x\ny"\n\n2,3\r\n\r\n"q,r",4\n5,6'
    scan = caps.scan_text(data)
    assert scan.records == 7 and scan.blank.tolist() == [3, 5]
    assert scan.widths[","] == [2, 2, 1, 2, 1, 2, 2]
    assert isinstance(scan.blank, np.ndarray)


def test_scan_of_a_file_with_cr_line_ends():
    scan = caps.scan_text(b"a,b\r1,2\r\r3,4\r")
    assert scan.records == 4 and scan.blank.tolist() == [3] and scan.longest_line == 3


def _strip_or_set_dimension(src, dst, ref: bytes | None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "xl/worksheets/sheet1.xml":
                new = b"" if ref is None else b'<dimension ref="' + ref + b'"/>'
                data = data.replace(b'<dimension ref="A1:XFD1048576"/>', new)
            zout.writestr(name, data)
    return dst


def _write_ods(path, rows_xml: str) -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Big">{rows_xml}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        zf.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
