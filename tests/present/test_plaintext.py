"""User text is inert: Markdown/HTML escaped on screen, formula cells neutralised in every CSV."""
from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest

from dashboard.ingest.validate import Report
from dashboard.present import plaintext

PAYLOADS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3",
            "\tTAB", "\rCR"]


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md).replace(plaintext.WORD_JOINER, "")


@pytest.mark.parametrize("text", ["**x**", "http://evil.example/login", "[a](http://x)", "<b>x</b>",
                                  ":red[x]", "$x^2$", "# heading", "www.example.com", "a\\*b"])
def test_markdown_escape_keeps_the_text_and_removes_the_markup(text):
    out = plaintext.md(text)
    assert _unescape(out) == text  # a reader sees exactly the text that was typed
    for mark in "*[]<>:$#":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == mark)
    assert "://" not in out and "www." not in out
    # GFM autolinks bare URLs after escapes are resolved: a word joiner breaks the scheme
    assert not re.search(r"(?i)(https?|www)(\\?[:.])", out)


def test_markdown_escape_flattens_lines():
    assert plaintext.md("a\n- b\n\n# c") == r"a \- b \# c"


def test_html_escape_for_unsafe_html_blocks():
    out = plaintext.md_html('<script>alert(1)</script> **x** http://e.x')
    assert "<" not in out and ">" not in out and "*" not in out and "://" not in out
    assert out.startswith("&#60;script&#62;")


def test_csv_cells_starting_a_formula_are_neutralised():
    frame = pd.DataFrame({"value": PAYLOADS + ["plain", "1.5"], "n": range(8)})
    rows = list(csv.reader(io.StringIO(plaintext.csv_bytes(frame).decode("utf-8"), newline="")))
    assert [r[0] for r in rows[1:7]] == ["'" + p.replace("\r", "\n") for p in PAYLOADS]
    assert [r[0] for r in rows[7:]] == ["plain", "1.5"]
    assert [r[1] for r in rows[1:]] == [str(i) for i in range(8)]  # numbers stay numbers


def test_column_names_are_neutralised_too():
    frame = pd.DataFrame({"=cmd": ["x"]})
    assert plaintext.csv_bytes(frame).decode().splitlines()[0] == "'=cmd"


def test_problems_report_csv_is_neutralised():
    report = Report(kind="absence", file_name="f.csv")
    report.problems = pd.DataFrame([[2, "Team", p, "unknown team", "error"] for p in PAYLOADS[:3]],
                                   columns=["row", "column", "value", "reason", "severity"])
    lines = report.problems_csv().decode().splitlines()
    assert all(line.split(",", 2)[2].startswith(("'", "\"'")) for line in lines[1:])
