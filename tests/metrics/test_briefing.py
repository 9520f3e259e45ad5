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
