"""AppTest of the pages after real imports: custom indicators and published figures, as a user sees them."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import pipeline
from dashboard.metrics import scorecard
from tests import expanders, signin

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
UPLOADS = ROOT / "tests" / "fixtures" / "uploads"
WLB = "Q6c. I achieve a good balance between my work life and my home life"


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    return db


def _import(db, name, kind, answers):
    con = store.connect(db)
    try:
        _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind, answers=answers)
        assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
        pipeline.commit(con, prepared, user="t")
    finally:
        con.close()


def _banner(at) -> str:
    # the banner's user text is written as HTML character references (issue 14): read it as shown
    return html.unescape(next(m.value for m in at.markdown if "dataset-banner" in m.value))


def test_published_figures_show_n_not_given_on_the_overview(env):
    dates = {"NSS 2023": "2023-10-20", "NSS 2024": "2024-10-18"}
    _import(env, "survey_aggregate_no_base.csv", "survey_aggregate", {"published": True, "wave_dates": dates})
    signin.add_user(env, "ana", "analyst")  # real data is shown only after signing in
    at = expanders.open_all(signin.sign_in(AppTest.from_file(str(APP), default_timeout=120).run(), "ana"))
    assert not at.exception, at.exception
    assert "Unnamed organisation (latest import #1: survey_aggregate_no_base.csv" in _banner(at)
    assert at.selectbox(key="wave").value == "NSS 2024"  # the latest by date
    stress = next(m for m in at.metric if m.label == "Stress")
    assert stress.value == "42.6%"  # the file's NSS 2024 figure
    assert stress.delta == "-2.3 pts"  # 42.6% - 44.9%
    personal = next(
        df.value
        for df in at.dataframe
        if "Indicator" in df.value and "Work-related stress" in set(df.value.Indicator)
    )
    row = personal.set_index("Indicator").loc["Work-related stress"]
    assert row["Detail"] == scorecard.PUBLISHED_NOTE and pd.isna(row["n"])


def test_custom_indicators_on_the_overview_and_the_teams_page(env):
    custom = {
        "Fatigue (0-10)": {
            "name": "High fatigue",
            "domain": "personal_health",
            "favourable": "low",
            "op": ">=",
            "value": 7,
        }
    }
    recode = {WLB: {"1": "Strongly disagree", "2": "Disagree", "3": "Agree", "4": "Strongly agree"}}
    _import(env, "survey_numeric_codes.csv", "survey", {"custom": custom, "recodes": recode})
    signin.add_user(env, "ana", "analyst")  # real data is shown only after signing in
    at = expanders.open_all(signin.sign_in(AppTest.from_file(str(APP), default_timeout=120).run(), "ana"))
    assert not at.exception, at.exception
    rows = next(
        df.value
        for df in at.dataframe
        if "Indicator" in df.value and "Work-related stress" in set(df.value.Indicator)
    ).set_index("Indicator")
    # 9 of the 25 fatigue answers are 7 or more (see tests/ingest/test_readings.py for the count by hand).
    assert rows.at["High fatigue (custom: 7 or more)", "Value"] == "36.0%"
    assert rows.at["High fatigue (custom: 7 or more)", "n"] == 25
    expanders.open_all(at.switch_page("pages/teams.py").run())
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "Group" in df.value)
    assert "High fatigue (custom) (%)" in table.columns
