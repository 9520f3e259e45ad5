"""AppTest of meeting mode and of Where to look on the Overview (demo organisation)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.auth import audit
from dashboard.framework import improvement
from dashboard.metrics import findings, lenses
from dashboard.present import screens
from tests import expanders, signin

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
    deck = screens.build(demo_brief, actions=_no_actions())
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


def test_a_meeting_run_draws_only_the_screen_it_shows(demo_env_read_only, demo_brief, monkeypatch):
    drawn: list[str] = []

    class Counted(screens.Screen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            drawn.append(self.key)

    monkeypatch.setattr(screens, "Screen", Counted)
    deck = screens.build(demo_brief, actions=_no_actions())
    assert len(drawn) == len(deck) > 10
    drawn.clear()
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["screen"] = "4"
    at.run()
    assert not at.exception, at.exception
    assert drawn == [deck[3].key] and deck[3].title in _html(at)


def test_meeting_screen_out_of_range_falls_back(demo_env_read_only, demo_brief):
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["screen"] = "999"
    at.run()
    deck = screens.build(demo_brief, actions=_no_actions())
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


def test_meeting_follows_the_lens_in_the_link_and_the_selector(demo_env_read_only, demo_brief):
    hse = lenses.get("hse")
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["lens"] = "hse"
    at.query_params["screen"] = "3"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="meeting_lens").value == "hse"
    deck = screens.build(demo_brief, lens=hse, actions=_no_actions())
    assert f"Screen 3 of {len(deck)} · Demands" in _html(at)
    at.selectbox(key="meeting_lens").select("people_promise").run()
    assert not at.exception, at.exception
    assert at.query_params["lens"] == "people_promise"
    assert f"Screen 3 of {len(deck)} · {lenses.get('people_promise').groups[0].name}" in _html(at)
    at.selectbox(key="meeting_lens").select("domains").run()
    assert "lens" not in at.query_params
    assert f"· {demo_brief.domains.domain.iloc[0]}" in _html(at)


def _no_actions():
    import pandas as pd

    return pd.DataFrame(columns=["status", "overdue", "intervention_id"])


def test_meeting_ends_with_the_improvement_plan(demo_env):
    con = store.connect(demo_env)
    try:
        improvement.create_action(con, "Rest rooms on every ward", "domain", "Estates lead",
                                  date(2020, 3, 1), gap_id="environment")
    finally:
        con.close()
    at = AppTest.from_file(str(MEETING), default_timeout=180)
    at.query_params["screen"] = "999"
    at.run()
    assert not at.exception, at.exception
    text = _html(at)
    assert "· Improvement plan ·" in text
    assert "Overdue: Rest rooms on every ward — Domain: Environment; Estates lead, due 01 Mar 2020" in text


@pytest.fixture
def deferred(monkeypatch):
    """key -> the callable a deferred download runs when clicked (AppTest has no server to run
    it, so the call to download_button is watched)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: dict[str, object] = {}
    original = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        seen[kwargs.get("key")] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: spy(st._main, *a, **k))
    return seen


def test_downloads_need_the_export_right_and_are_audited(demo_env, deferred):
    signin.add_user(demo_env, "vi", "viewer")
    signin.add_user(demo_env, "ana", "analyst")
    at = AppTest.from_file(str(MEETING), default_timeout=180).run()
    expanders.open_all(signin.sign_in(at, "vi"))
    assert not at.exception, at.exception
    assert "How are we doing?" in _html(at)
    assert len(at.download_button) == 0  # a viewer watches the meeting, takes nothing away

    at = AppTest.from_file(str(MEETING), default_timeout=180).run()
    expanders.open_all(signin.sign_in(at, "ana"))
    assert not at.exception, at.exception
    keys = {b.key for b in at.download_button}
    assert {"meeting_slides", "png_meeting-overview", "svg_meeting-overview"} <= keys
    svg = deferred["svg_meeting-overview"]()
    assert "<svg" in svg and "fewer than 10 responses" in svg
    con = store.connect(demo_env)  # the same configuration as the app's connection in this process
    try:
        trail = audit.read(con)
    finally:
        con.close()
    exports = trail[trail.action == "export"]
    assert list(exports.who) == ["ana"]
    assert exports.detail.iloc[0] == "chart image (meeting-overview.svg)"
    assert not exports.detail.str.contains(r"\d+(?:\.\d+)?%|n = ").any()  # no figure in the trail
