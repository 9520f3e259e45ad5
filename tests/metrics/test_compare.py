"""Compare 2-6 teams on every indicator: each figure as the team profile releases it."""
from __future__ import annotations

import pytest

from dashboard.metrics import compare
from tests import teams_org

T = 10
IDS = teams_org.TEAM_ID


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = teams_org.build(tmp_path_factory.mktemp("compare") / "s.duckdb")
    teams_org.add_absence(con)
    yield con
    con.close()


def test_every_indicator_with_n_organisation_and_benchmark(con):
    frame, left_out = compare.indicators(con, [IDS["Ward A"], IDS["Theatres"], IDS["Ward C"]], 2, T)
    assert left_out == ["Ward C"]                          # 4 responses: not reportable
    assert set(frame.team) == {"Ward A", "Theatres"}
    row = frame.set_index(["team", "indicator_id"])
    # wave 2025 by hand: stress 10/20 and 5/25, organisation 47/99, benchmark 42%
    assert row.loc[("Ward A", "stress"), "value"] == pytest.approx(0.5)
    assert row.loc[("Ward A", "stress"), "n"] == 20
    assert row.loc[("Theatres", "stress"), "value"] == pytest.approx(0.2)
    assert row.loc[("Theatres", "stress"), "organisation_value"] == pytest.approx(47 / 99)
    assert row.loc[("Theatres", "stress"), "benchmark"] == pytest.approx(0.42)
    # absence: Ward A 438 of 7,300 FTE days; Theatres 182 of 9,125
    assert row.loc[("Ward A", "absence_rate"), "value"] == pytest.approx(438 / 7300)
    assert row.loc[("Theatres", "absence_rate"), "value"] == pytest.approx(182 / 9125)


def test_withheld_absence_is_blank_with_its_reason(con):
    frame, _ = compare.indicators(con, [IDS["Ward A"], IDS["Day Unit"]], 2, T)
    day = frame.set_index(["team", "indicator_id"]).loc[("Day Unit", "absence_rate")]
    # Day Unit is withheld to protect Clinic (8 staff in post) in Surgery
    assert day.value != day.value and day.note == "fewer than 10 staff in post"


def test_n_text_never_reads_none():
    assert compare.n_text("proportion", 20, 0.5, "") == "20"
    reason = "fewer than 10 responses"
    assert compare.n_text("proportion", None, None, reason) == f"– ({reason})"
    assert compare.n_text("mean", float("nan"), float("nan"), "") == "–"
    assert compare.n_text("rate", 12, 0.05, "") == "–"


def test_two_to_six_teams(con):
    with pytest.raises(ValueError):
        compare.indicators(con, [IDS["Ward A"]], 2, T)
    with pytest.raises(ValueError):
        compare.indicators(con, list(IDS.values())[:7], 2, T)
