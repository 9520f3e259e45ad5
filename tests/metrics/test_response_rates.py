"""Response rates: responses / staff in post in the fieldwork month, released with the team."""
from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dashboard import privacy
from dashboard.metrics import response_rates, scorecard, team_absence
from dashboard.store import query
from tests import teams_org

T = 10


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = teams_org.build(tmp_path_factory.mktemp("rates") / "s.duckdb")
    teams_org.add_absence(con)   # staff in post every month, Oct 2022 - Oct 2025
    yield con
    con.close()


@pytest.mark.parametrize(
    ("rate", "text"),
    [(0.8, "very good (80% or more)"), (0.7999, "good (70-80%)"), (0.6, "desirable (60-70%)"),
     (0.5, "adequate (50-60%)"), (0.4999, "below 50%: read the results with caution"),
     (0.0, "below 50%: read the results with caution"), (1.01, response_rates.OVER_CENSUS),
     (None, ""), (float("nan"), "")],
)
def test_hse_bands(rate, text):
    assert response_rates.band(rate) == text


def test_bands_of_a_column_are_band_of_each_rate():
    edges = [None, float("nan"), 0.0, 0.4999, 0.5, 0.5999, 0.6, 0.7, 0.7999, 0.8, 1.0, 1.0001, 3.0]
    rates = pd.Series(edges + list(np.linspace(0.0, 1.2, 241)), dtype="float64")
    assert response_rates._bands(rates) == [response_rates.band(r) for r in rates]
    assert response_rates._bands(pd.Series([], dtype="float64")) == []


def test_unit_rates_by_hand(con):
    rates = response_rates.unit_rates(con, T).set_index(["wave_id", "team"])
    # tests/teams_org.py: headcount 25 (Ward A), 30 (Theatres), 12 (Day Unit) in every month
    assert rates.loc[(2, "Ward A"), "rate"] == pytest.approx(20 / 25)
    assert rates.loc[(1, "Ward A"), "rate"] == pytest.approx(18 / 25)
    assert rates.loc[(2, "Theatres"), "rate"] == pytest.approx(25 / 30)
    assert rates.loc[(2, "Day Unit"), "rate"] == pytest.approx(1.0)
    assert rates.loc[(2, "Ward A"), "month"].month == 10   # fieldwork 15 Oct 2025
    # Clinic: 11 responses, 8 staff in post: over 100% is flagged, not hidden
    assert rates.loc[(2, "Clinic"), "band"] == response_rates.OVER_CENSUS


def test_rates_are_the_same_whether_the_release_is_stored_or_decided(tmp_path):
    con = teams_org.build(tmp_path / "s.duckdb")
    try:
        stored = response_rates.unit_rates(con, T)
        assert con.execute("SELECT count(*) FROM release_survey WHERE threshold = ?", [T]).fetchone()[0]
        # one wave's plan stored, the other's decided on the call
        con.execute("DELETE FROM release_survey WHERE wave_id = 1")
        privacy._PLAN_MEMO.clear()
        with query.trace() as ran:
            assert_frame_equal(response_rates.unit_rates(con, T), stored, check_exact=True)
        assert "survey.shown_groups" in {r.name for r in ran}
        con.execute("DELETE FROM release_survey")
        privacy._PLAN_MEMO.clear()
        assert_frame_equal(response_rates.unit_rates(con, T), stored, check_exact=True)
        assert stored.shown.any() and not stored.shown.all()
    finally:
        con.close()


def test_withheld_teams_show_no_rate(con):
    rates = response_rates.unit_rates(con, T).set_index(["wave_id", "team"])
    # Ward C (4), HR (6) below 10; Ward B and Finance withheld to protect them
    for team in ("Ward B", "Ward C", "HR", "Finance"):
        row = rates.loc[(2, team)]
        assert not row.shown and row[["responses", "headcount", "rate"]].isna().all()
        assert row.band == "" and "fewer than 10 responses" in row.note


def test_no_staff_in_post_means_no_rate(tmp_path):
    con = teams_org.build(tmp_path / "s.duckdb")
    try:
        rates = response_rates.unit_rates(con, T)
        ward_a = rates[(rates.team == "Ward A") & (rates.wave_id == 2)].iloc[0]
        assert ward_a.shown and ward_a.responses == 20 and ward_a.rate != ward_a.rate   # NaN
        assert ward_a.note == "no staff in post recorded for the fieldwork month"
    finally:
        con.close()


def test_feeds_the_data_insights_domain_with_its_band(con):
    table = scorecard.indicator_table(con, 2, T, unit_ids=[teams_org.TEAM_ID["Ward A"]])
    row = table.set_index("indicator_id").loc["response_rate"]
    assert row.value == pytest.approx(20 / 25) and row.domain_id == "data_insights"
    assert row.band == "very good (80% or more)"
    org = scorecard.indicator_table(con, 2, T).set_index("indicator_id").loc["response_rate"]
    # organisation: 99 responses of 115 staff in post (25+14+6+30+12+8+10+10)
    assert org.value == pytest.approx(99 / 115) and org.band == "very good (80% or more)"


def _in_span(rows: list[np.ndarray], v: np.ndarray) -> bool:
    a = np.vstack(rows)
    return np.linalg.matrix_rank(np.vstack([a, v])) == np.linalg.matrix_rank(a)


def test_headcount_beside_the_rate_of_an_absence_withheld_team_reveals_no_absence(con):
    """Decision (docs/privacy.md, Response rates): Clinic (11 responses, 8 staff in post) is shown
    by the survey release, so its response rate and headcount are shown, although the absence
    release withholds Clinic (8 < 10 staff). Played as an attacker on October 2025 (the fieldwork
    month): unknowns are each team's days lost and FTE days available; every released absence
    group gives both (and its headcount), the response-rate table gives each shown team's
    headcount, taken at its worst as its FTE days available (Clinic: 8 staff, 8.0 FTE). Staffing
    becomes known; days lost of any set of teams below 10 staff does not."""
    rates = response_rates.unit_rates(con, T).set_index(["wave_id", "team"])
    clinic = rates.loc[(2, "Clinic")]
    assert clinic.shown and clinic.responses == 11 and clinic.headcount == 8
    teams = [t for _, t, _, _ in teams_org.UNITS]
    k = len(teams)

    def lost(members) -> np.ndarray:
        return np.array([t in members for t in teams] + [False] * k, dtype=float)

    def available(members) -> np.ndarray:
        return np.array([False] * k + [t in members for t in teams], dtype=float)

    start, end = date(2025, 10, 1), date(2025, 10, 31)
    figures = []
    for cut in ("directorate", "team", "site"):
        frame = team_absence.compare_rates(con, start, end, T, cut)
        if cut == "team":
            assert frame.set_index("team").loc["Clinic", "suppressed"]
        for key in frame.loc[~frame.suppressed, cut]:
            members = {t for _, t, d, s in teams_org.UNITS if key in (t, d, s)}
            figures += [lost(members), available(members)]
    figures += [lost(teams), available(teams)]   # the organisation
    table = [available({t}) for (w, t), row in rates.iterrows() if w == 2 and row.shown]
    known = figures + table
    assert _in_span(known, available({"Clinic"}))          # staffing: known, and accepted
    small = [set(c) for n in (1, 2, 3) for c in itertools.combinations(teams, n)
             if sum(teams_org.STAFF_IN_POST[t][0] for t in c) < T]
    assert {"Clinic"} in small and {"Ward C"} in small
    assert not [s for s in small if _in_span(known, lost(s))]
    # the audit can fail: with only teams below 10 withheld (no sibling withheld as cover),
    # Surgery minus Theatres minus Day Unit gives Clinic's days lost
    naive = [lost({t}) for t in teams if teams_org.STAFF_IN_POST[t][0] >= T]
    assert _in_span(known + naive, lost({"Clinic"}))
