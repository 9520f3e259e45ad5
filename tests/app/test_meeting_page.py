"""AppTest of meeting mode and of Where to look on the Overview (demo organisation)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.metrics import findings
from dashboard.present import screens

APP = Path(__file__).resolve().parents[2] / "app.py"
MEETING = Path(__file__).resolve().parents[2] / "pages" / "meeting.py"


def _html(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_where_to_look_lists_the_ranked_findings_with_links(demo_env_read_only, demo_brief):
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert not at.exception, at.exception
    text = _html(at)
    assert "Where to look" in [s.value for s in at.subheader]
    assert findings.summary_sentence(demo_brief.ranked) in text
    for k, f in enumerate(demo_brief.ranked, start=1):
        assert f"{k}. **{findings.KIND_TITLES[f.kind]}.**" in text
        assert f"({f.link})" in text
    # tiles say their benchmark and n out loud, not only in a tooltip
    assert "benchmark 42.0% · n = " in text


def test_meeting_screens_move_with_buttons_and_keep_the_url(demo_env_read_only, demo_brief):
    deck = screens.build(demo_brief)
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["screen"] = "2"
    at.run()
    assert not at.exception, at.exception
    assert f"Screen 2 of {len(deck)}" in _html(at)
    assert "Where to look" in _html(at)
    at.button(key="meeting_next").click().run()
    assert at.query_params["screen"] == "3"
    assert deck[2].title in _html(at)
    at.button(key="meeting_prev").click().run()
    at.button(key="meeting_prev").click().run()
    assert at.query_params["screen"] == "1"
    assert at.button(key="meeting_prev").disabled
    # every screen says n and the suppression rule
    assert "fewer than 10 responses" in _html(at) and "n = " in _html(at)


def test_meeting_screen_out_of_range_falls_back(demo_env_read_only, demo_brief):
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["screen"] = "999"
    at.run()
    deck = screens.build(demo_brief)
    assert f"Screen {len(deck)} of {len(deck)}" in _html(at)
    assert at.button(key="meeting_next").disabled


def test_chosen_teams_get_their_own_screens_and_a_withheld_one_shows_no_figure(demo_env_read_only,
                                                                             demo_brief):
    heat = demo_brief.heat
    hidden = heat.suppressed.astype(bool)
    withheld = sorted(set(heat.loc[hidden, "group"]) - set(heat.loc[~hidden, "group"]))[0]
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["teams"] = f"Ward 3 Cardiology,{withheld}"
    at.query_params["screen"] = "11"  # overview, where, 7 domains, teams, then the first chosen team
    at.run()
    assert not at.exception, at.exception
    assert "Ward 3 Cardiology (" in _html(at) and "against its directorate" in _html(at)
    assert "work-related stress 64.8%" in _html(at)
    at.button(key="meeting_next").click().run()
    text = _html(at)
    assert f"{withheld} cannot be shown for this wave" in text
    body = text.split("meeting-message")[1].split("meeting-notes")[0]
    assert "%" not in body and "n = " not in body  # no figure of any kind for the withheld team
