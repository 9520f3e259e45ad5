"""The briefing's footer pieces: the Overview builds its chart footer before the briefing."""
from __future__ import annotations

from dashboard import periods, store
from dashboard.metrics import briefing, scorecard


def test_footer_from_pieces_equals_the_briefings(demo_con, demo_brief):
    # The Overview draws its scorecard before gathering the briefing (Where to look fills in
    # last), so its footer comes from the same pieces without the briefing: the same line.
    info = store.dataset_info(demo_con)
    table = scorecard.indicator_table(demo_con, demo_brief.wave_id, demo_brief.threshold)
    line = briefing.footer_line(
        info["name"], bool(info["is_demo"]),
        briefing.period_text(demo_brief.wave_label,
                             periods.wave_periods(demo_con, demo_brief.wave_id)[0]),
        briefing.respondents_text(table), demo_brief.threshold, demo_brief.produced)
    assert line == demo_brief.footer
    assert f"{demo_brief.respondents} respondents" in line and demo_brief.wave_label in line


def test_respondents_without_survey_figures():
    import pandas as pd

    empty = pd.DataFrame({"kind": ["mean", "rate"], "n": [40.0, None]})
    assert briefing.respondents(empty) is None
    assert briefing.respondents_text(empty) == "– respondents"
    assert briefing.respondents(pd.DataFrame({"kind": ["proportion"] * 2, "n": [12.0, 30.0]})) == 30


def test_absence_summary_is_the_released_one(demo_con, demo_brief):
    # the organisation's summary read from the stored release equals period_summary computed
    # afresh, released at the threshold, and, the organisation being shown, the raw figures
    from dashboard.metrics import absence

    start, end = periods.wave_periods(demo_con, demo_brief.wave_id)[0]
    assert demo_brief.absence_period == (start, end)
    released = absence.period_summary(demo_con, start, end, threshold=demo_brief.threshold)
    assert demo_brief.absence_summary == released
    assert released["suppressed"] is False
    plain = absence.period_summary(demo_con, start, end)
    assert {k: v for k, v in released.items() if k != "suppressed"} == plain
    assert plain["rate"] == plain["fte_days_lost"] / plain["fte_days_available"]


def test_withheld_absence_summary_shows_no_figure(demo_brief):
    # an organisation with too few staff in post: every figure None; the meeting screen and the
    # board report say why and show "–", never a number or a crash
    import dataclasses

    from dashboard.present import board_report, formatting, screens

    withheld = {k: None for k in demo_brief.absence_summary} | {"suppressed": True}
    brief = dataclasses.replace(demo_brief, absence_summary=withheld)
    screen = next(s for s in screens.build(brief) if s.key == "absence")
    assert "not shown" in screen.message
    assert formatting.fewer_than(brief.threshold, formatting.STAFF) in screen.message
    assert [f.value for f in screen.figures][:2] == ["–", "–"]
    text = " ".join(str(b[1]) for b in board_report.blocks(brief, withheld, 2025) if b[0] == "p")
    assert "Figures shown as – are withheld" in text
    days = f"{demo_brief.absence_summary['fte_days_lost']:,.0f}"
    assert days not in text
