"""Slide pack and board report: structure, chart images, footers, the page's numbers, no withheld group."""
from __future__ import annotations

import io
import re

import pytest
from docx import Document
from pptx import Presentation

from dashboard.metrics import scorecard
from dashboard.present import board_report, formatting, screens, slides
from dashboard.present.charts import common


@pytest.fixture(scope="module")
def brief(demo_brief):
    return demo_brief


@pytest.fixture(scope="module")
def deck(brief):
    return Presentation(io.BytesIO(slides.build(brief)))


def _slide_text(slide) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def _withheld_teams(brief) -> set[str]:
    heat = brief.heat
    hidden = heat.suppressed.astype(bool)
    return set(heat.loc[hidden, "group"]) - set(heat.loc[~hidden, "group"])


def test_deck_has_title_and_one_slide_per_screen_each_footed(brief, deck):
    shown = screens.build(brief)
    # title + overview + where to look + 7 domains + teams + absence + one per evaluated intervention
    assert len(deck.slides) == 1 + len(shown) == 1 + 2 + 7 + 2 + len(brief.evaluations)
    for slide in deck.slides:
        footer = [s for s in slide.shapes if s.name == "footer"]
        assert footer and brief.footer in footer[0].text_frame.text
        assert f"fewer than {brief.threshold} responses" in footer[0].text_frame.text
        assert f"survey wave {brief.wave_label}" in footer[0].text_frame.text


def test_every_chart_is_an_image_in_its_slide(brief, deck):
    for screen, slide in zip(screens.build(brief), list(deck.slides)[1:], strict=True):
        pictures = [s for s in slide.shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == (1 if screen.chart is not None else 0), screen.key
        for pic in pictures:
            assert pic.image.blob[:8] == b"\x89PNG\r\n\x1a\n" and len(pic.image.blob) > 5_000


def test_slide_numbers_equal_the_overview_page_numbers(brief, deck, demo_con):
    # the Overview page's tiles for the same wave, straight from the function the page calls
    table = scorecard.indicator_table(demo_con, brief.wave_id, brief.threshold)
    overview = _slide_text(deck.slides[1])
    for row in table[table.headline].itertuples(index=False):
        assert f"{row.short}\n{formatting.value(row.kind, row.value)}" in overview
        assert f"n = {int(row.n):,}" in overview
    where = _slide_text(deck.slides[2])
    for f in brief.ranked:
        assert f.text in where


def test_no_withheld_team_appears_anywhere_in_the_deck(brief, deck):
    withheld = _withheld_teams(brief)
    assert withheld  # the demo has teams too small to show
    text = "\n".join(_slide_text(s) for s in deck.slides)
    for team in withheld:
        assert not re.search(rf"\b{re.escape(team)}\b", text), team


def test_chart_png_carries_the_footer(brief):
    chart = screens.build(brief)[0].chart
    spec = slides.with_footer(common.meeting(chart), brief.footer).to_dict()
    assert spec["title"]["text"] == brief.footer and spec["title"]["orient"] == "bottom"
    assert slides.chart_png(chart, brief.footer)[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def report(demo_con):
    brief, last_year = board_report.gather(demo_con, 2025, 10)
    parts = board_report.blocks(brief, last_year, 2025)
    return brief, last_year, parts, Document(io.BytesIO(board_report.to_docx(parts, brief.footer)))


def test_report_has_the_board_paper_sections_in_order(report):
    _, _, _, doc = report
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == list(board_report.SECTIONS)
    assert doc.sections[0].footer.paragraphs[0].text == report[0].footer
    assert len(doc.inline_shapes) == 1  # the seven-domain chart


def test_report_numbers_equal_the_pages(report, demo_con):
    brief, last_year, _, doc = report
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    # absence for the calendar year, from the function the Absence page's "Whole period" uses
    assert f"{formatting.value('rate', brief.absence_summary['rate'])} of working days" in text
    assert f"{brief.absence_summary['fte_days_lost']:,.0f} FTE days" in text
    assert formatting.value("rate", last_year["rate"]) in text
    table = scorecard.indicator_table(demo_con, brief.wave_id, brief.threshold)
    for row in table[table.value.notna()].itertuples(index=False):
        assert formatting.value(row.kind, row.value) in cells
    verdicts = {c.text for t in doc.tables[-1:] for row in t.rows for c in row.cells}
    assert "Likely improved" in verdicts and "Level 3: compared with teams without it" in verdicts


def test_report_html_is_self_contained_and_names_no_withheld_team(report):
    brief, _, parts, _ = report
    page = board_report.to_html(parts, brief.footer)
    assert "data:image/png;base64," in page and "<link" not in page and "src='http" not in page
    assert "@media print" in page
    for team in _withheld_teams(brief):
        assert not re.search(rf"\b{re.escape(team)}\b", page), team
