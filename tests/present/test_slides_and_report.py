"""Slide pack and board report: structure, chart images, footers, the page's numbers, no withheld group."""
from __future__ import annotations

import io
import re
import shutil
from datetime import date

import altair as alt
import numpy as np
import pandas as pd
import pytest
from altair.utils.schemapi import SchemaBase
from docx import Document
from pptx import Presentation

from dashboard import store
from dashboard.framework import diagnostic, improvement, interventions
from dashboard.metrics import briefing, lenses, scorecard
from dashboard.present import board_report, formatting, screens, slides
from dashboard.present.charts import common

# One worker runs the module: the deck, report and team pack below are built once, not per worker.
pytestmark = pytest.mark.xdist_group("slides_and_report")


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


def test_each_maker_draws_the_screen_build_draws_at_its_place(brief, demo_con):
    """The meeting page draws one screen from screens.makers: the same screen, chart included,
    as the whole build gives at that place, for every lens, with team profiles and the plan."""
    profiles = briefing.team_profiles(demo_con, brief, briefing.flagged_teams(brief)[:1])
    actions = improvement.list_actions(demo_con)
    for lens in (None, "hse", "people_promise"):
        built = screens.build(brief, profiles, lens, actions)
        made = screens.makers(brief, profiles, lens, actions)
        assert len(made) == len(built)
        for screen, make in zip(built, made, strict=True):
            one = make()

            def said(s):
                return (s.key, s.title, s.message, [(f.label, f.value, f.context) for f in s.figures],
                        s.bullets, s.notes, s.links)
            assert said(one) == said(screen)
            assert (one.chart is None) == (screen.chart is None)
            if one.chart is not None:
                # the specs compared as written (each chart's schema is checked where it is made);
                # equal chart objects write equal specs, and comparing them skips Altair's deep
                # copy of every chart's data (5 of this test's 8 s)
                assert (_same_chart(one.chart, screen.chart)
                        or one.chart.to_dict(validate=False) == screen.chart.to_dict(validate=False))


def _same_chart(a, b) -> bool:
    """Two Altair objects built alike: the same classes, arguments and data, compared part by part
    (a frame by its values and dtypes). False can still mean equal specs: the caller then compares
    the specs themselves."""
    if isinstance(a, SchemaBase) or isinstance(b, SchemaBase):
        return type(a) is type(b) and _same_chart(a._args, b._args) and _same_chart(a._kwds, b._kwds)
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
                and list(a.columns) == list(b.columns) and a.equals(b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_chart(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same_chart(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def test_same_chart_tells_charts_apart_by_data_encoding_and_layer():
    frame = pd.DataFrame({"x": [1, 2], "y": [0.5, 0.25]})

    def chart(data=frame, y="y:Q", extra=()):
        return alt.layer(alt.Chart(data).mark_point().encode(x="x:Q", y=y), *extra)

    assert _same_chart(chart(), chart(frame.copy()))
    assert not _same_chart(chart(), chart(frame.assign(y=[0.5, 0.3])))
    assert not _same_chart(chart(), chart(y="y:O"))
    assert not _same_chart(chart(), chart(extra=[alt.Chart(frame).mark_rule().encode(y="y:Q")]))


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
    spec = slides.footed_spec(common.meeting(chart), brief.footer)
    assert spec["title"]["text"] == brief.footer and spec["title"]["orient"] == "bottom"
    assert slides.chart_png(chart, brief.footer)[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def recorded_db(demo_db, tmp_path_factory):
    """A copy of the demo store with an improvement plan, a self-assessment and register fields."""
    path = tmp_path_factory.mktemp("recorded") / "store.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path)
    improvement.create_action(con, "Rest rooms on every ward", "domain", "Estates lead",
                              date(2025, 3, 1), gap_id="environment")
    done = improvement.create_action(con, "Manager training", "indicator", "HR director",
                                     date(2025, 2, 1), gap_id="stress")
    improvement.update_action(con, done, "Manager training", "indicator", "HR director", date(2025, 2, 1),
                              "done", gap_id="stress")
    improvement.create_action(con, "Talk to the cardiology ward", "team", "Head of nursing",
                              date(2030, 1, 1), unit_id=_unit(con, "Ward 3 Cardiology"))
    diagnostic.record_assessment(con, "mental_emotional", 4, date(2025, 11, 1), "Steering group")
    reg = interventions.list_interventions(con)
    first = interventions.get_intervention(con, int(reg.intervention_id.iloc[0]))
    interventions.update_intervention(con, first["intervention_id"], interventions.Intervention(
        first["name"], first["domain"], first["unit_ids"],
        first["start_date"], first["indicators"], first["end_date"], first["notes"],
        interventions.RegisterFields("primary", ("organisational",), "managers", "evaluate", 12500)))
    con.close()
    return path


def _unit(con, team: str) -> int:
    return int(con.execute("SELECT unit_id FROM units WHERE team = ?", [team]).fetchone()[0])


@pytest.fixture(scope="module")
def report(recorded_db):
    con = store.connect(recorded_db, read_only=True)
    brief, last_year = board_report.gather(con, 2025, 10)
    recorded = board_report.records(con, brief, today=date(2025, 12, 31))
    parts = board_report.blocks(brief, last_year, 2025, recorded)
    yield brief, last_year, parts, Document(io.BytesIO(board_report.to_docx(parts, brief.footer))), recorded
    con.close()


def test_report_has_the_board_paper_sections_in_order(report):
    _, _, _, doc, _ = report
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == list(board_report.SECTIONS)
    assert doc.sections[0].footer.paragraphs[0].text == report[0].footer
    assert len(doc.inline_shapes) == 1  # the seven-domain chart


def test_report_numbers_equal_the_pages(report, demo_con):
    brief, last_year, _, doc, _ = report
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    # absence for the calendar year, from the function the Absence page's "Whole period" uses
    assert f"{formatting.value('rate', brief.absence_summary['rate'])} of working days" in text
    assert f"{brief.absence_summary['fte_days_lost']:,.0f} FTE days" in text
    assert formatting.value("rate", last_year["rate"]) in text
    table = scorecard.indicator_table(demo_con, brief.wave_id, brief.threshold)
    for row in table[table.value.notna()].itertuples(index=False):
        assert formatting.value(row.kind, row.value) in cells
    verdicts = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert "Likely improved" in verdicts and "Level 3: compared with teams without it" in verdicts


def test_report_html_is_self_contained_and_names_no_withheld_team(report):
    brief, _, parts, _, _ = report
    page = board_report.to_html(parts, brief.footer)
    assert "data:image/png;base64," in page and "<link" not in page and "src='http" not in page
    assert "@media print" in page
    for team in _withheld_teams(brief):
        assert not re.search(rf"\b{re.escape(team)}\b", page), team


def _table(doc, *header: str) -> list[list[str]]:
    """The rows of the table whose header starts with these cells."""
    table = next(t for t in doc.tables
                 if [c.text for c in t.rows[0].cells][:len(header)] == list(header))
    return [[c.text for c in row.cells] for row in table.rows]


def test_report_lens_rollups_are_the_mean_of_the_released_indicator_scores(report):
    brief, _, _, doc, _ = report
    rows = {r[0]: r for r in _table(doc, "HSE Management Standards")[1:]}
    scored = brief.table[brief.table.scored.astype(bool) & brief.table.score.notna()]
    for group in lenses.get("hse").groups:
        # by hand: the plain mean of the group's released 0-10 scores, formatted as the page does
        mine = scored[scored.indicator_id.isin(group.indicators)]
        expected = formatting.score(sum(mine.score) / len(mine)) if len(mine) else "–"
        assert rows[group.name][1] == expected, group.name
    pp = {r[0]: r for r in _table(doc, "People Promise")[1:]}
    assert pp["We are recognised and rewarded"][1:4] == ["–", "–", "–"]  # nothing measures it
    assert len(pp) == len(lenses.get("people_promise").groups)


def test_report_sets_self_assessment_beside_the_domain_figures(report):
    brief, _, _, doc, recorded = report
    rows = {r[0]: r for r in _table(doc, "Element")[1:]}
    assert len(rows) == len(diagnostic.get().elements)
    mine = rows["Mental and emotional wellbeing"]
    dom = brief.domains.set_index("domain_id").loc["personal_health"]
    assert mine[1] == "Embedded" and mine[2] == "01 Nov 2025 by Steering group"
    assert mine[3].startswith(formatting.score(dom.score))
    # the demo's personal-health domain scores below the 6 / 10 of "good": rated Embedded is a gap
    assert dom.score < diagnostic.get().good_score and mine[4] == diagnostic.FLAGS["gap"]
    assert rows["Physical wellbeing"][1] == "Not yet assessed"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "1 of the framework's 16 elements are self-assessed; 1 rated well" in text


def test_report_lists_the_plan_and_every_register_field(report):
    brief, _, _, doc, recorded = report
    text = "\n".join(p.text for p in doc.paragraphs)
    # two open actions, one of them past its due date on 31 Dec 2025; one done
    assert "3 action(s) in the plan (2 not started, 1 done); 1 overdue; 0 became" in text
    plan = {r[0]: r for r in _table(doc, "Action")[1:]}
    assert plan["Rest rooms on every ward"][1:5] == ["Domain: Environment", "Estates lead", "01 Mar 2025",
                                                     "not started (overdue)"]
    assert plan["Manager training"][4] == "done"
    assert plan["Talk to the cardiology ward"][1] == "Team: Ward 3 Cardiology"
    register = {r[0]: r for r in _table(doc, "Intervention", "Status", "Prevention")[1:]}
    assert len(register) == len(brief.register)
    first = brief.register.iloc[0]
    assert register[first["name"]][2:] == ["Primary", "Tangible or organisational", "Line managers",
                                           "Evaluate", "£12,500"]
    others = [r for name, r in register.items() if name != first["name"]]
    assert all(r[2:] == ["–"] * 5 for r in others)


def test_lens_switches_the_meeting_screens_and_slides_follow(brief, recorded_db):
    hse = lenses.get("hse")
    deck = screens.build(brief, lens=hse)
    keys = [s.key for s in deck]
    assert keys[2:2 + len(hse.groups)] == [f"hse-{g.id}" for g in hse.groups]
    assert not any(k.startswith("domain-") for k in keys)
    demands = deck[2]
    row = brief.table.set_index("indicator_id").loc["hse_demands"]
    assert demands.title == "Demands"
    assert demands.message == f"Demands scores {formatting.score(row.score)}, " \
        f"{scorecard.STATUS_LABELS[lenses.rollup(brief.table, hse).status.iloc[0]].lower()}."
    assert demands.bullets[0].startswith(f"{row.indicator}: {formatting.value(row.kind, row.value)}")
    empty = next(s for s in screens.build(brief, lens="people_promise")
                 if s.key == "people_promise-recognised_rewarded")
    assert empty.message.endswith(lenses.NO_INDICATOR + ".") and empty.chart is None
    # the default lens is the seven domains, screen for screen
    assert [s.key for s in screens.build(brief, lens="domains")] == [s.key for s in screens.build(brief)]


def test_plan_screen_counts_by_status_and_puts_overdue_first(brief, recorded_db):
    con = store.connect(recorded_db, read_only=True)
    try:
        actions = improvement.list_actions(con, today=date(2025, 12, 31))
    finally:
        con.close()
    screen = screens.build(brief, actions=actions)[-1]
    assert screen.key == "plan" and screen.title == "Improvement plan"
    values = {f.label: f.value for f in screen.figures}
    assert values == {"Actions": "3", "Overdue": "1", "In the register": "0"}
    assert screen.message == "3 actions in the plan, 2 still open; 1 overdue."
    assert screen.bullets[0].startswith(
        "Overdue: Rest rooms on every ward — Domain: Environment; Estates lead")
    assert "Manager training" not in " ".join(screen.bullets)  # done: not on the screen
    assert screens.build(brief)[-1].key != "plan"  # no actions given: no plan screen


@pytest.fixture(scope="module")
def team_deck(brief, demo_con):
    teams = briefing.flagged_teams(brief)
    profiles = briefing.team_profiles(demo_con, brief, (*teams, *sorted(_withheld_teams(brief))[:1]))
    return teams, profiles, Presentation(io.BytesIO(slides.build(brief, profiles)))


def test_pack_has_a_slide_per_flagged_team_and_a_withheld_one_shows_no_figure(brief, team_deck, demo_con):
    teams, profiles, deck = team_deck
    assert teams == tuple(f.subject for f in brief.ranked if f.kind == "outlier") and len(teams) == 3
    base = len(screens.build(brief))
    assert len(deck.slides) == 1 + base + len(profiles)
    titles = [_slide_text(s).split("\n")[0] for s in deck.slides]
    start = titles.index("Teams to look at") + 1
    withheld = sorted(_withheld_teams(brief))[0]
    assert titles[start:start + len(profiles)] == [*teams, withheld]
    for slide, team in zip(list(deck.slides)[start:start + 3], teams, strict=True):
        # the team's figures on its slide are the team profile's (the Teams page's) figures
        text = _slide_text(slide)
        assert f"{team} (" in text and "against its directorate" in text
        assert len([s for s in slide.shapes if s.shape_type == 13]) == 1
        assert [s for s in slide.shapes if s.name == "footer"]
    hidden = _slide_text(deck.slides[start + 3])
    assert f"{withheld} cannot be shown" in hidden
    body = hidden.split(withheld + " cannot be shown")[1].split("Groups with fewer")[0]
    body = body.replace(f"fewer than {brief.threshold} responses", "")  # the rule, not a figure
    assert "%" not in body and not re.search(r"\d", body)  # no figure of any kind
    assert not [s for s in deck.slides[start + 3].shapes if s.shape_type == 13]


def test_team_slides_match_a_count_of_the_raw_answers(brief, team_deck, demo_con):
    """A flagged team's stress share and n on the slides, against a hand-written query over the
    raw respondent rows (item q11c, unwell from work-related stress: 1 yes, 0 no), not the
    derived tables or the release the briefing reads. Demo, Ward 3 Cardiology: 46 of 71."""
    teams, _, deck = team_deck
    raw = demo_con.execute(
        """
        SELECT u.team,
               count(DISTINCT r.response_id) AS responses,
               count(a.value) FILTER (WHERE a.item_id = 'q11c') AS answered,
               count(*) FILTER (WHERE a.item_id = 'q11c' AND a.value = 1) AS yes
        FROM responses AS r
        JOIN units AS u USING (unit_id)
        LEFT JOIN answers AS a USING (response_id)
        WHERE r.wave_id = ?
        GROUP BY u.team
        """,
        [brief.wave_id],
    ).df().set_index("team")
    text = {_slide_text(s).split("\n")[0]: _slide_text(s) for s in deck.slides}
    on_stress = [f.subject for f in brief.ranked if f.kind == "outlier" and f.params.get("ind") == "stress"]
    assert on_stress and set(on_stress) <= set(teams)
    for team in on_stress:
        row = raw.loc[team]
        assert f"{team}: work-related stress {row.yes / row.answered:.1%}," in text[team]
        assert f"{team}: n = {int(row.responses)} responses." in text[team]
        line = next(b for b in text["Teams to look at"].split("\n") if b.startswith(f"{team}:"))
        assert line.endswith(f"(n = {int(row.answered):,} responses)")
    cardiology = raw.loc["Ward 3 Cardiology"]
    assert (cardiology.yes, cardiology.answered, cardiology.responses) == (46, 71, 73)


def test_footed_images_render_charts_whose_data_hold_dates():
    import altair as alt
    import pandas as pd

    data = pd.DataFrame({"element": ["A", "B"], "rating": [2, 4],
                         "assessed_on": [date(2025, 11, 1), None]})  # as diagnostic.latest gives
    chart = alt.Chart(data).mark_bar().encode(x="rating:Q", y="element:N", tooltip=["assessed_on"])
    assert slides.chart_png(chart, "a footer")[:4] == b"\x89PNG"
    svg = slides.chart_svg(chart, "a footer")
    assert "a footer" in svg
