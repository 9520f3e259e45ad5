"""`python -m dashboard report` and `export`: files written from the store, clear refusals."""
from __future__ import annotations

from dashboard import __main__ as cli


def test_report_html_written_for_a_year_with_a_wave(demo_db, tmp_path, capsys):
    out = tmp_path / "board.html"
    assert cli.main(["--db", str(demo_db), "report", "--year", "2025", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Staff wellbeing: annual report to the board, 2025" in page
    assert "Privacy statement" in page and "data:image/png;base64," in page
    assert "written to" in capsys.readouterr().out


def test_report_refuses_a_year_without_a_wave_and_a_wrong_extension(demo_db, tmp_path, capsys):
    assert cli.main(["--db", str(demo_db), "report", "--year", "2019", str(tmp_path / "r.docx")]) == 1
    assert "no survey wave fielded in 2019" in capsys.readouterr().out
    assert not (tmp_path / "r.docx").exists()
    assert cli.main(["--db", str(demo_db), "report", "--year", "2025", str(tmp_path / "r.pdf")]) == 2
    assert ".docx or .html" in capsys.readouterr().out


def test_export_refuses_an_unknown_lens_before_building(demo_db, tmp_path, capsys):
    out = tmp_path / "pack.pptx"
    assert cli.main(["--db", str(demo_db), "export", "slides", str(out), "--lens", "astrology"]) == 2
    assert "unknown lens 'astrology'; choose from domains" in capsys.readouterr().out
    assert not out.exists()
