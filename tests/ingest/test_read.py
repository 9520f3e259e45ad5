"""Reading real exports: encodings, delimiters, quoting, title rows, sheets, mislabelled, unreadable."""

from __future__ import annotations

import pytest

from dashboard.ingest.read import ReadError, find_header, read_file, sniff_delimiter
from tests.ingest.conftest import UPLOADS


def test_semicolon_bom_crlf_title_rows():
    t = read_file(UPLOADS / "absence_semicolon_bom_crlf.csv")
    assert (t.format, t.encoding, t.delimiter, t.header_row) == ("csv", "UTF-8 with BOM", ";", 3)
    assert t.columns[0] == "Employee Number"  # no BOM glued to the first header
    assert len(t.frame) == 8 and t.row_numbers.tolist()[:2] == [4, 5]
    assert t.frame.loc[0, "FTE"] == "0,8"
    assert "Skipped 2 title row(s) above the column names." in t.notes


def test_utf16_tab_separated_with_accents():
    t = read_file(UPLOADS / "absence_utf16.txt")
    assert (t.encoding, t.delimiter) == ("UTF-16", "\t")
    assert t.frame["Team"].tolist() == ["Café Team", "Café Team", "Ward 7"]
    assert t.frame["Line manager"].iloc[0] == "Chloë Brontë"


def test_cp1252_quoted_newlines_and_doubled_quotes():
    t = read_file(UPLOADS / "absence_cp1252.csv")
    assert t.encoding == "Windows-1252"
    assert t.frame["Ward"].iloc[0] == "Chloë House"
    assert t.frame["Notes"].tolist() == [
        "Fell on stairs\r\nphased return ’agreed’",
        "Cost €0",
        'said "stressed"',
    ]
    assert t.row_numbers.tolist() == [2, 3, 4]  # records, not physical lines


def test_xlsx_picks_data_sheet_skips_merged_title_rows_dedupes_headers_reads_formula_results():
    t = read_file(UPLOADS / "survey_nhs.xlsx")
    assert t.sheets == ["Read me", "Responses"] and t.sheet == "Responses" and t.header_row == 4
    assert "Comments (2)" in t.columns
    assert t.frame["q6c"].tolist()[:3] == ["Agree", "Agree", "Disagree"]  # cached formula results
    assert t.frame["Completed"].iloc[0] == "2024-10-01"  # a real date cell, not a serial
    assert t.row_numbers.iloc[0] == 5


def test_xlsx_named_sheet_and_missing_sheet():
    with pytest.raises(ReadError, match="no rows of data"):
        read_file(UPLOADS / "survey_nhs.xlsx", sheet="Read me")  # the user's choice is respected
    with pytest.raises(ReadError, match="no sheet called 'Nope'.*Read me, Responses"):
        read_file(UPLOADS / "survey_nhs.xlsx", sheet="Nope")


def test_ods_and_mislabelled_ods():
    t = read_file(UPLOADS / "structure.ods")
    assert t.format == "ods" and t.columns == ["Team", "Directorate", "Site", "Latitude", "Longitude"]
    assert t.frame["Team"].tolist() == ["Ward 7", "Theatres", "Café Team"]
    m = read_file(UPLOADS / "staff_in_post_mislabelled.csv")
    assert m.format == "ods"
    assert any("really an OpenDocument spreadsheet" in n for n in m.notes)
    assert m.frame["Month"].tolist() == ["2024-01-01", "2024-02-01", "2024-01-01"]


def test_parquet_dates_as_iso_text():
    t = read_file(UPLOADS / "absence.parquet")
    assert t.format == "parquet" and t.frame["start_date"].tolist() == [
        "2024-06-01",
        "2024-06-03",
        "2024-06-10",
    ]
    assert t.frame["end_date"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "is empty \\(0 bytes\\)"),
        ("garbage.csv", "not a readable table"),
    ],
)
def test_refused_files(name, message):
    with pytest.raises(ReadError, match=message):
        read_file(UPLOADS / name)


def test_size_limit(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * 300_000)  # 1.2 MB
    with pytest.raises(ReadError, match="the upload limit is 1 MB"):
        read_file(big, max_mb=1)


def test_header_only_file(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("Team,Month\n")
    with pytest.raises(ReadError, match="no rows of data"):
        read_file(f)


def test_other_formats_refused_by_content(tmp_path):
    pdf = tmp_path / "report.csv"
    pdf.write_bytes(b"%PDF-1.7\n...")
    with pytest.raises(ReadError, match="PDF"):
        read_file(pdf)


def test_ragged_row_is_reported_not_dropped(tmp_path):
    n = 30_000  # past the sniffing sample, so the width is already fixed when the bad row comes
    lines = ["Team,Month,Headcount"] + [f"T{i},2024-01,{i}" for i in range(n)] + ["T9,2024-01,1,EXTRA,MORE"]
    f = tmp_path / "r.csv"
    f.write_text("\n".join(lines) + "\n")
    t = read_file(f)
    # The over-long row is not read, and is listed with its line number.
    assert len(t.frame) == n and t.columns == ["Team", "Month", "Headcount"]
    assert len(t.rejected) == 1 and t.rejected[0][0] == n + 2 and "too many columns" in t.rejected[0][1]


def test_sniff_delimiter_and_header():
    assert sniff_delimiter(["a;b;c\n", '1;"2;x";3\n']) == ";"
    assert sniff_delimiter(["a\tb\n", "1,5\t2\n"]) == "\t"
    assert find_header([["Report"], [None], ["Team", "Month", "FTE"], ["A", "2024", "1"]]) == 2
    assert find_header([["Team", "FTE"], ["A", "1"]]) == 0
    # Report parameters above the header are labels ending in a colon, not column names.
    params = [["Organisation:", "Northshire", "Period:", "Jan 2024"], []]
    assert find_header([*params, ["Team", "Month", "FTE", "Headcount"], ["A", "2024-01", "1", "2"]]) == 2


def test_title_and_blank_line_above_the_header_detected():
    t = read_file(UPLOADS / "staff_in_post_title_rows.csv")
    assert (t.header_row, t.header_detected) == (3, 3)
    assert t.columns == ["Organisation", "Month", "Headcount", "FTE"]
    assert t.row_numbers.tolist() == [4, 5, 6, 7]
    assert t.head_rows[:3] == [["Staff in post by organisation - January to February 2024"], [], [
        "Organisation", "Month", "Headcount", "FTE"]]


def test_header_row_override_text_and_sheet():
    t = read_file(UPLOADS / "staff_in_post_title_rows.csv", header_row=4)
    assert (t.header_row, t.header_detected) == (4, 3)
    assert t.columns == ["Ward 7", "2024-01", "20", "16.0"] and t.row_numbers.tolist() == [5, 6, 7]
    assert "Column names taken from row 4, as chosen (detected: row 3)." in t.notes
    x = read_file(UPLOADS / "survey_nhs.xlsx", header_row=1)
    assert (x.header_row, x.header_detected) == (1, 4)
    assert x.columns[0] == "NHS Staff Survey 2024 - local results" and x.row_numbers.iloc[0] == 2
    with pytest.raises(ReadError, match="Row 2 is empty, so it cannot hold the column names"):
        read_file(UPLOADS / "staff_in_post_title_rows.csv", header_row=2)
    with pytest.raises(ReadError, match=r"Row 40 cannot hold the column names: the file has 7 row\(s\)"):
        read_file(UPLOADS / "staff_in_post_title_rows.csv", header_row=40)


def test_rows_after_rejected_and_blank_rows_keep_their_file_row_numbers(tmp_path):
    # Hand-made: 30,000 rows (past the sniffing sample, so the width is fixed), then a row with two
    # extra fields (rejected by the CSV reader), a blank line, a quoted line break, and rows after.
    n = 30_000
    lines = ["Team,Month,Headcount"] + [f"T{i},2024-01,{i}" for i in range(n)]
    lines += ["Bad,2024-01,1,EXTRA,MORE", "", 'After,2024-01,"7\n8"', "Last,2024-01,9"]
    f = tmp_path / "hand.csv"
    f.write_text("\n".join(lines) + "\n")
    t = read_file(f)
    # File rows (as a spreadsheet program numbers them): header 1, data 2..30001, bad 30002,
    # blank 30003, 'After' 30004 (one record over two lines), 'Last' 30005.
    assert t.rejected[0][0] == n + 2
    assert t.frame["Team"].tolist()[-2:] == ["After", "Last"]
    assert t.row_numbers.tolist()[-3:] == [n + 1, n + 4, n + 5]
    assert t.row_numbers.tolist()[:2] == [2, 3]


def test_problem_rows_after_a_rejected_row_are_reported_on_their_true_rows(con, tmp_path):
    from dashboard.ingest import pipeline

    n = 30_000
    lines = ["Team,Month,Headcount"] + [f"T{i % 40},2024-{i // 40 % 12 + 1:02d},{i}" for i in range(n)]
    lines += ["Bad,2024-01,1,EXTRA,MORE", "", "T1,not a month,5", "T2,2024-01,-3"]
    f = tmp_path / "sip.csv"
    f.write_text("\n".join(lines) + "\n")
    _raw, prepared = pipeline.prepare(con, f, "staff_in_post")
    rows = prepared.report.problems[["row", "value"]].values.tolist()
    assert [n + 2, ""] in rows  # the rejected row itself
    assert [n + 4, "not a month"] in rows and [n + 5, "-3"] in rows
