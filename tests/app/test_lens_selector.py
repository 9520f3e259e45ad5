"""AppTest of the lens selector (ui/lens.py) on the Overview and Teams pages: in the URL, same figures."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import signin, teams_org

ROOT = Path(__file__).resolve().parents[2]


def _app(page: str, user: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if user is not None:  # a store of real data opens only after signing in; the link survives it
        signin.sign_in(at, user)
    assert not at.exception, at.exception
    return at


def test_overview_switches_to_the_people_promise_and_back(demo_env_read_only):
    at = _app("overview.py")
    assert at.selectbox(key="overview_lens").value == "domains"
    assert "lens" not in at.query_params
    at.selectbox(key="overview_lens").select("people_promise").run()
    assert not at.exception, at.exception
    assert at.query_params["lens"] == "people_promise"
    labels = [e.label for e in at.expander]
    assert any(label.startswith("We are safe and healthy — ") for label in labels)
    assert any(label.startswith("We are a team — ") for label in labels)
    assert not any(label.startswith("Relationships — ") for label in labels)
    captions = [c.value for c in at.caption]
    empty = "We are recognised and rewarded: no indicator measures this yet"
    assert any(c.startswith(empty) for c in captions)
    assert any(c.startswith("Not in this lens: Response rate") for c in captions)
    # the headline tiles do not depend on the lens
    assert [m.label for m in at.metric][:2] == ["Stress", "Presenteeism"]
    at.selectbox(key="overview_lens").select("domains").run()
    assert "lens" not in at.query_params


def test_overview_opens_a_lens_from_the_link_and_falls_back_from_a_bad_one(demo_env_read_only):
    at = _app("overview.py", lens="hse")
    assert at.selectbox(key="overview_lens").value == "hse"
    assert any(e.label.startswith("Demands — ") for e in at.expander)
    at = _app("overview.py", lens="astrology")
    assert at.selectbox(key="overview_lens").value == "domains"
    assert any("lens in the link is not offered" in i.value for i in at.info)


@pytest.fixture
def teams_env(tmp_path, monkeypatch):
    path = tmp_path / "teams.duckdb"
    teams_org.build(path).close()
    signin.add_user(path, "ana", "analyst")
    monkeypatch.setenv("WELLBEING_DB", str(path))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.delenv("WELLBEING_THRESHOLD", raising=False)


def test_team_profile_regroups_by_the_lens_in_the_link(teams_env):
    at = _app("teams.py", "ana", team="Ward A", lens="hse")
    assert at.selectbox(key="teams_lens").value == "hse"
    assert at.query_params["lens"] == "hse" and at.query_params["team"] == "Ward A"
    profile = next(d.value for d in at.dataframe if "Indicator" in d.value.columns)
    assert "HSE Management Standards" in profile.columns
    groups = dict(zip(profile.Indicator, profile["HSE Management Standards"], strict=True))
    assert groups["HSE Demands (includes the work environment)"] == "Demands"
    assert groups["Work-related stress"] == "not in this lens"
    at.selectbox(key="teams_lens").select("domains").run()
    assert not at.exception, at.exception
    assert "lens" not in at.query_params
    profile = next(d.value for d in at.dataframe if "Indicator" in d.value.columns)
    assert "Domain" in profile.columns


def test_heatmap_keeps_the_lens_indicators_in_its_order(teams_env):
    at = _app("teams.py", "ana", lens="hse")
    sort = at.selectbox(key="sort")
    # teams_org answers q11c (stress) and hse07 (peer support): only peer support is in the HSE lens
    assert sort.options == ["Name", "HSE Peer support"]
    at = _app("teams.py", "ana")
    assert "Stress" in at.selectbox(key="sort").options
