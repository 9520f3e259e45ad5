"""Scorecard: 0-10 scores, RAG against benchmarks, domain roll-up, checked by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard import catalogue
from dashboard.metrics import scorecard
from tests import tiny_org

CAT = catalogue.get()


@pytest.mark.parametrize(
    ("indicator_id", "value", "expected"),
    [
        ("stress", 0.42, 5.8),  # low is favourable: 10 x (1 - 0.42)
        ("work_life_balance", 0.6, 6.0),  # high is favourable: 10 x 0.6
        ("hse_demands", 3.0, 5.0),  # 1-5 mean: (3 - 1) x 2.5
        ("hse_role", 5.0, 10.0),
        ("hse_role", 1.0, 0.0),
        ("absence_rate", 0.05, 5.0),  # 10 x (1 - 0.05 / 0.10)
        ("absence_rate", 0.12, 0.0),  # beyond score_zero_at clamps at 0
        ("stress", None, None),
        ("stress", float("nan"), None),
    ],
)
def test_score_0_10(indicator_id, value, expected):
    got = scorecard.score_0_10(CAT.indicators[indicator_id], value)
    assert got == (pytest.approx(expected) if expected is not None else None)


def _wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(
    ("value", "n", "expected"),
    [
        (0.30, 400, "better"),  # interval well below the 42% benchmark
        (0.55, 400, "worse"),
        (0.40, 30, "similar"),  # small team: interval spans the benchmark
    ],
)
def test_rag_proportion_uses_wilson_interval(value, n, expected):
    status, band = scorecard.rag(CAT.indicators["stress"], value, n)
    lo, hi = _wilson(value, n)
    assert status == expected
    assert f"{lo:.1%} to {hi:.1%}" in band


def test_rag_high_is_favourable_flips():
    ind = CAT.indicators["response_rate"]  # census share with reference 50%
    assert scorecard.rag(ind, 0.55, 100)[0] == "better"
    assert scorecard.rag(ind, 0.45, 100)[0] == "worse"


@pytest.mark.parametrize(
    ("value", "status", "band"),
    [(3.10, "worse", 0), (3.22, "similar", 1), (3.50, "similar", 2), (3.72, "better", 3)],
)
def test_rag_hse_percentile_bands(value, status, band):
    # Control cut-offs p20 / p50 / p80 = 3.22 / 3.47 / 3.72
    got = scorecard.rag(CAT.indicators["hse_control"], value, 50)
    assert got == (status, scorecard.HSE_BANDS[band])


def test_rag_rate_margin():
    ind = CAT.indicators["absence_rate"]  # benchmark 5.6%
    assert scorecard.rag(ind, 0.058, 1)[0] == "similar"
    assert scorecard.rag(ind, 0.045, 1)[0] == "better"
    assert scorecard.rag(ind, 0.070, 1)[0] == "worse"


def test_no_benchmark_no_status():
    assert scorecard.rag(CAT.indicators["burnout"], 0.3, 100) == (None, "")


def test_domain_table_by_hand():
    table = pd.DataFrame(
        [
            # domain, id, short, score, benchmark score, scored
            ("relationships", "a", "A", 6.0, 5.0, True),
            ("relationships", "b", "B", 8.0, None, True),
            ("relationships", "c", "C", 1.0, 9.0, False),  # breakdown: not in the score
            ("fulfilment", "d", "D", 4.0, 6.0, True),
        ],
        columns=["domain_id", "indicator_id", "short", "score", "benchmark_score", "scored"],
    )
    domains = scorecard.domain_table(table).set_index("domain_id")
    rel = domains.loc["relationships"]
    assert rel.score == pytest.approx(7.0)
    assert rel.feeding == "A, B"
    # RAG compares like with like: indicator A only (6 vs 5): +1 > margin 0.5
    assert rel.benchmark_gap == pytest.approx(1.0)
    assert rel.status == "better"
    # the tick sits where the domain would be with A at benchmark: 7.0 - 1.0
    assert rel.benchmark_score == pytest.approx(6.0)
    assert domains.loc["fulfilment"].status == "worse"
    assert domains.loc["environment"].score is None or math.isnan(domains.loc["environment"].score)
    assert domains.loc["environment"].status_label == "No benchmark"


def test_indicator_table_on_tiny_org(tmp_path):
    con = tiny_org.build(tmp_path / "t.duckdb")
    table = scorecard.indicator_table(con, wave_id=2, threshold=3).set_index("indicator_id")
    # wave 2025 has two stress answers: below the threshold of 3, so no figure and a note.
    assert pd.isna(table.loc["stress", "value"])
    assert "fewer than 3" in table.loc["stress", "note"]
    # previous wave 2024 organisation: 2 of 5 said yes
    assert table.loc["stress", "previous"] == pytest.approx(0.4)
    # no staff in post: no absence rate and no response rate rather than a zero
    assert pd.isna(table.loc["absence_rate", "value"])
    assert pd.isna(table.loc["response_rate", "value"])
    assert set(table.domain_id) == {d.id for d in CAT.domains}

    first = scorecard.indicator_table(con, wave_id=1, threshold=3).set_index("indicator_id")
    assert first.loc["stress", "value"] == pytest.approx(0.4)
    assert first.loc["stress", "n"] == 5
    assert first.loc["stress", "score"] == pytest.approx(6.0)
    assert pd.isna(first.loc["stress", "previous"])
    # teams with respondents in 2024: Ward A is released for work-life balance (Ward B gave no
    # answers there); Ward B (2) is released for nothing
    assert first.loc["teams_reportable", "value"] == pytest.approx(0.5)


def test_data_insights_agree_with_the_pages(demo_con):
    from dashboard.framework import interventions
    from dashboard.metrics import drilldown

    wave = int(demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0])
    table = scorecard.indicator_table(demo_con, wave, 10).set_index("indicator_id")
    teams = demo_con.execute("SELECT count(*) FROM units").fetchone()[0]
    # the Teams page's own list of teams that can be opened
    shown = drilldown.reportable_teams(demo_con, wave, 10)
    assert table.loc["teams_reportable", "value"] == pytest.approx(len(shown) / teams)
    assert 0 < len(shown) < teams
    register = interventions.list_interventions(demo_con)
    assert table.loc["interventions_evaluable", "value"] == pytest.approx(
        (register.status == "evaluated").mean()
    )
    # absence shares come from the same period summary as the rate
    assert 0.10 < table.loc["msk_share", "value"] < 0.25
    assert 0.20 < table.loc["s10_share", "value"] < 0.40
    assert not table.loc["msk_share", "scored"]


def test_change_p_value_by_hand():
    from statsmodels.stats.proportion import proportions_ztest

    # 42% of 500 then 38% of 450: the pooled two-proportion z test
    got = scorecard.change_p_value("proportion", 0.38, 450, None, 0.42, 500, None)
    _, want = proportions_ztest([0.38 * 450, 0.42 * 500], [450, 500])
    assert got == pytest.approx(want, rel=1e-9) and got > 0.05
    # a 1-5 mean: z = 0.15 / sqrt(0.8^2/200 + 0.8^2/220)
    z = 0.15 / math.sqrt(0.64 / 200 + 0.64 / 220)
    got = scorecard.change_p_value("mean", 3.45, 200, 0.8, 3.30, 220, 0.8)
    assert got == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2)))), rel=1e-9)
    assert got == pytest.approx(0.0550, abs=1e-4)  # a 0.15 rise on 200 is not clearly real
    assert scorecard.change_p_value("mean", 3.4, 200, None, 3.3, 200, 0.8) is None
    assert scorecard.change_p_value("proportion", 0.0, 50, None, 0.0, 50, None) == 1.0


def test_tiles_are_coloured_only_for_changes_unlikely_to_be_chance(tmp_path):
    con = tiny_org.build(tmp_path / "t.duckdb")
    table = scorecard.indicator_table(con, wave_id=2, threshold=1).set_index("indicator_id")
    # stress 2/5 in 2024 -> 2/2 in 2025: p = 0.10 by the pooled z test, so grey, not red
    stress = table.loc["stress"]
    assert stress.change == pytest.approx(0.6)
    assert stress.change_p == pytest.approx(
        scorecard.change_p_value("proportion", 1.0, 2, None, 0.4, 5, None))
    assert stress.change_p > 0.05 and not stress.change_clear
