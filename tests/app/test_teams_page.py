"""AppTest of the Teams page on the small test organisation: drill-down, deep links, fallbacks."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.store import query
from tests import expanders, signin, teams_org
from tests.tabs import open_tab

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "teams.py")


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("teams_app") / "store.duckdb"
    teams_org.build(path).close()
    signin.add_user(path, "ana", "analyst")
    return path


@pytest.fixture
def env(store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("WELLBEING_DB", str(store_path))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)


def _app(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return signin.sign_in(at.run(), "ana")


def _crumbs(at) -> list[str]:
    return [b.label for b in at.button if b.key and b.key.startswith("teams_crumb_")]


def _profile_table(at) -> pd.DataFrame:
    """The team profile's indicator table (charts' data tables come before it)."""
    return next(d.value for d in at.dataframe
                if {"Indicator", "Team", "Directorate"} <= set(d.value.columns)).set_index("Indicator")


def _charts(at) -> int:
    return len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart"))


def test_organisation_level_lists_directorates_and_draws_charts(env):
    at = _app()
    assert not at.exception, at.exception
    assert at.title[0].value == "Teams"
    assert _crumbs(at) == ["Organisation"]
    pills = at.pills(key="teams_pick_dir")
    assert pills.options == ["Corporate (n=13)", "Medicine (n=38)", "Surgery (n=48)"]
    assert _charts(at) == 1                      # the heatmap: only the open tab is drawn
    assert at.query_params["wave"] == "2"
    open_tab(at, "Funnel plot")
    assert not at.exception, at.exception
    assert _charts(at) == 1 and at.selectbox(key="teams_ind").value == "stress"


def test_click_from_organisation_to_a_team(env):
    at = _app()
    at.pills(key="teams_pick_dir").set_value("Medicine").run()
    assert not at.exception, at.exception
    assert _crumbs(at) == ["Organisation", "› Medicine"]
    assert at.query_params["dir"] == "Medicine"
    teams = at.pills(key="teams_pick_team")
    assert teams.options == ["Ward A (n=20)"]     # Ward B and Ward C are withheld
    assert any("Ward B, Ward C" in c.value for c in at.caption)
    teams.set_value("Ward A").run()
    assert not at.exception, at.exception
    assert _crumbs(at) == ["Organisation", "› Medicine", "› Ward A"]
    assert at.subheader[0].value == "Ward A"
    assert at.query_params["team"] == "Ward A"
    # breadcrumbs go back up
    at.button(key="teams_crumb_0").click().run()
    assert _crumbs(at) == ["Organisation"] and "team" not in at.query_params


def test_deep_link_reopens_a_team_in_an_earlier_wave(env):
    at = _app(team="Theatres", wave="1", ref="previous")
    assert not at.exception, at.exception
    assert not at.info
    assert _crumbs(at) == ["Organisation", "› Surgery", "› Theatres"]
    assert at.selectbox(key="teams_wave").value == 1
    table = _profile_table(at)
    stress = table.loc["Work-related stress"]
    assert stress["Team"] == "36.4%" and stress["n"] == "22"       # 8 of 22 in 2024
    assert stress["Directorate"] == "40.9%"                       # 18 of 44 in Surgery, 2024
    assert _charts(at) >= 1


def test_deep_link_to_a_withheld_team_falls_back_to_its_directorate(env):
    at = _app(team="Ward C")
    assert not at.exception
    assert any("cannot be shown" in i.value for i in at.info)
    assert _crumbs(at) == ["Organisation", "› Medicine"]
    assert "team" not in at.query_params and at.query_params["dir"] == "Medicine"
    # nothing about Ward C is on the page beyond its name
    assert all("Ward C (n=" not in o for o in at.pills(key="teams_pick_team").options)


@pytest.mark.parametrize(
    "params",
    [{"team": "<script>alert(1)</script>"}, {"dir": "Nowhere"}, {"view": "salary"}, {"wave": "1; DROP"},
     {"ref": "x"}, {"ind": "x"}],
)
def test_unknown_link_values_fall_back_cleanly(env, params):
    at = _app(**params)
    assert not at.exception, at.exception
    assert len(at.info) == 1
    assert _crumbs(at) == ["Organisation"]
    assert at.selectbox(key="teams_wave").value == 2


def test_alternative_cut_by_site(env):
    at = _app(view="site")
    assert not at.exception, at.exception
    assert _crumbs(at) == []
    assert at.selectbox(key="teams_view").value == "site"
    assert _charts(at) == 1                      # the heatmap of sites
    open_tab(at, "Funnel plot")
    assert not at.exception, at.exception
    assert _charts(at) == 1                      # the funnel plot of sites


def test_compare_two_teams_from_the_link(env):
    ids = teams_org.TEAM_ID
    at = expanders.open_all(_app(cmp=f"{ids['Ward A']},{ids['Theatres']},{ids['Ward B']}",
                                 tab="Compare teams"))
    assert not at.exception, at.exception
    # Ward B is not offered: it is withheld in this wave
    assert at.multiselect(key="teams_cmp").value == ["Ward A", "Theatres"]
    frames = [d.value for d in at.dataframe]
    domain_table = next(f for f in frames if "Theatres" in f.columns and "Domain" in f.columns)
    domain_table = domain_table.set_index("Domain")
    assert domain_table.loc["Improving personal health and wellbeing", "Theatres"] == pytest.approx(8.0)


def test_compare_every_indicator_with_n_organisation_and_benchmark(env):
    ids = teams_org.TEAM_ID
    at = _app(cmp=f"{ids['Ward A']},{ids['Theatres']}", tab="Compare teams")
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Theatres: n" in d.value.columns).set_index("Indicator")
    stress = table.loc["Work-related stress"]
    # by hand from tests/teams_org.py, wave 2025: Ward A 10 of 20, Theatres 5 of 25,
    # organisation 47 of 99 stressed; benchmark 42% (data/benchmarks.toml)
    assert (stress["Ward A"], stress["Ward A: n"]) == ("50.0%", "20")
    assert (stress["Theatres"], stress["Theatres: n"]) == ("20.0%", "25")
    assert stress["Organisation"] == "47.5%" and stress["Benchmark"] == "42.0%"
    peer = table.loc["HSE Peer support"]
    # answers cycle (4, 3) in Ward A and (4, 5) in Theatres: 70/20 and 112/25; organisation 357/99
    assert (peer["Ward A"], peer["Theatres"], peer["Organisation"]) == ("3.50", "4.48", "3.61")
    # an indicator nobody answered has no n, and says why instead of showing None
    assert table.loc["Presenteeism (came to work when unwell)", "Ward A: n"].startswith("– (no responses")


def test_response_rates_in_the_drill_down_by_hand(absence_env):
    at = expanders.open_all(_app(dir="Medicine"), "Response rates")
    assert not at.exception, at.exception
    rates = next(d.value for d in at.dataframe if "Response rate" in d.value.columns).set_index("Team")
    # Ward A: 20 responses of 25 staff in post in October 2025 (tests/teams_org.py)
    assert rates.loc["Ward A", "Response rate"] == "80%"
    assert rates.loc["Ward A", "Reading (HSE guidance)"] == "very good (80% or more)"
    # Ward B and Ward C are withheld: no responses, headcount or rate (rate x headcount = n)
    for team in ("Ward B", "Ward C"):
        assert rates.loc[team, "Response rate"] == "–" and pd.isna(rates.loc[team, "Responses"])
        assert pd.isna(rates.loc[team, "Staff in post (fieldwork month)"])
    profile = _app(team="Ward A", wave="1")
    assert not profile.exception, profile.exception
    # 2024: 18 responses of 25 staff in post
    assert any("Response rate this wave: 72%" in m.value and "18 responses of 25" in m.value
               and "good (70-80%)" in m.value for m in profile.markdown)


# What each tab asks the figures cache for; only the open tab's should run (a tab switch reruns).
_TAB_FIGURES = {
    "Heatmap": {"drilldown.heatmap"},
    "Funnel plot": {"drilldown.funnel"},
    "Compare teams": {"drilldown.compare", "compare.indicators"},
    "Sites map": {"sites_map.site_figures", "drilldown.heatmap"},
}


def _figures_asked() -> set[str]:
    """The figure functions the page asked for since RECENT was cleared (cached or not)."""
    return {r.name.removeprefix("dashboard.metrics.").removesuffix(" (function)")
            for r in query.RECENT if r.name.endswith(" (function)")}


@pytest.mark.parametrize("tab", list(_TAB_FIGURES))
def test_only_the_open_tab_is_computed(env, tab):
    ids = teams_org.TEAM_ID
    query.RECENT.clear()
    at = _app(tab=tab, cmp=f"{ids['Ward A']},{ids['Theatres']}")
    assert not at.exception, at.exception
    asked = _figures_asked()
    others = set().union(*_TAB_FIGURES.values()) - _TAB_FIGURES[tab]
    assert _TAB_FIGURES[tab] <= asked
    assert not asked & others, asked & others
    # switching tabs computes the newly opened one
    following = "Funnel plot" if tab == "Heatmap" else "Heatmap"
    query.RECENT.clear()
    open_tab(at, following)
    assert not at.exception, at.exception
    assert _TAB_FIGURES[following] <= _figures_asked()
    assert not _figures_asked() & (_TAB_FIGURES[tab] - _TAB_FIGURES[following])


def test_a_closed_tab_keeps_its_choices_in_the_link(env):
    at = _app()
    at.selectbox(key="sort").set_value("stress").run()
    at.toggle(key="desc").set_value(True).run()
    assert (at.query_params["sort"], at.query_params["desc"]) == ("Stress", "true")
    open_tab(at, "Funnel plot")
    assert not at.exception, at.exception
    # the heatmap is not drawn, but a link copied now still reopens its sort order
    assert (at.query_params["sort"], at.query_params["desc"]) == ("Stress", "true")
    open_tab(at, "Heatmap")
    assert at.selectbox(key="sort").value == "stress" and at.toggle(key="desc").value is True
    # back to the defaults: the link drops them
    at.selectbox(key="sort").set_value("group").run()
    at.toggle(key="desc").set_value(False).run()
    assert "sort" not in at.query_params and "desc" not in at.query_params


def test_switching_view_leaves_the_team(env):
    at = _app(team="Ward A")
    at.selectbox(key="teams_view").set_value("staff_group").run()
    assert not at.exception, at.exception
    assert at.query_params["view"] == "staff_group" and "team" not in at.query_params
    assert _crumbs(at) == []
    assert any("team drill-down takes priority" in c.value for c in at.caption)


# ---- absence figures (the same organisation with staff in post and absence episodes) -----------

@pytest.fixture(scope="module")
def absence_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("teams_app_absence") / "store.duckdb"
    con = teams_org.build(path)
    teams_org.add_absence(con)
    con.close()
    signin.add_user(path, "ana", "analyst")
    return path


@pytest.fixture
def absence_env(absence_store, tmp_path, monkeypatch):
    monkeypatch.setenv("WELLBEING_DB", str(absence_store))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)


def test_team_profile_shows_absence_by_hand(absence_env):
    at = _app(team="Ward A")
    assert not at.exception, at.exception
    table = _profile_table(at)
    rate = table.loc["Sickness absence rate"]
    assert rate["Team"] == "6.0%" and rate["Organisation"] == "4.5%"      # 438/7300; 1593/35770
    assert rate["Directorate"] == "5.4%"                                   # 688/12775
    assert rate["Change since last wave"] == "+2.0 pts"                    # from 4.0%
    assert rate["n"] == "– (absence: staff in post, not responses)"        # n counts responses
    assert any("16 Oct 2024 to 15 Oct 2025" in c.value for c in at.caption)


def test_small_team_profile_withholds_absence(absence_env):
    at = _app(team="Clinic")
    assert not at.exception, at.exception
    table = _profile_table(at)
    rate = table.loc["Sickness absence rate"]
    assert rate["Team"] == "–" and rate["Note"] == "fewer than 10 staff in post"
    assert rate["Directorate"] == "4.3%"                                   # Surgery 682/15695


def test_heatmap_has_absence_columns_and_says_how_they_compare(absence_env):
    at = expanders.open_all(_app(dir="Medicine"), "Table")
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Group" in d.value.columns).set_index("Group")
    assert table.loc["Ward A", "Absence rate (%)"] == pytest.approx(6.0)
    assert pd.isna(table.loc["Ward C", "Absence rate (%)"])
    assert any("within ±10%" in c.value and "<N staff" in c.value for c in at.caption)
    assert at.selectbox(key="sort").options[-2:] == ["Absence rate", "S10 share"]


def test_staff_group_view_says_why_there_is_no_absence(absence_env):
    at = _app(view="staff_group")
    assert not at.exception, at.exception
    assert any("No absence columns for staff groups" in c.value for c in at.caption)


def test_link_restores_sort_order_and_tab(env):
    at = _app(sort="HSE Peer support", desc="true", tab="Funnel plot")
    assert not at.exception, at.exception
    assert at.selectbox(key="teams_ind")                   # the funnel plot's tab is open
    assert not [s for s in at.selectbox if s.key == "sort"]
    # the heatmap's choices wait in the URL while its tab is closed, and apply when it opens
    assert (at.query_params["sort"], at.query_params["desc"]) == ("HSE Peer support", "true")
    open_tab(at, "Heatmap")
    assert not at.exception, at.exception
    assert at.selectbox(key="sort").value == "hse_peer_support"
    assert at.toggle(key="desc").value is True
    assert not at.info


def test_link_with_an_unknown_sort_or_withheld_site_says_so(env):
    at = _app(sort="Salary", site="Nowhere")
    assert not at.exception, at.exception
    notes = [i.value for i in at.info]
    assert any("sort order in the link is not available" in n for n in notes)
    assert at.selectbox(key="sort").value == "group"
    assert "sort" not in at.query_params
    # each tab says so where the choice is, when it is opened
    open_tab(at, "Sites map")
    assert not at.exception, at.exception
    assert any("site in the link is not available" in i.value for i in at.info)
    assert at.selectbox(key="site").value is None
