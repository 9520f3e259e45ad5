"""Drivers: standardised regression coefficients checked by hand and against statsmodels fitted
directly, the seeded bootstrap replayed, and the release and size rules."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from dashboard import privacy
from dashboard.metrics import drivers
from tests import tiny_org


def test_one_condition_by_hand():
    # x = 1..5, y = 0 0 1 1 1: cov(x, y) = 3.0 / 4 = 0.75 (ddof 1), sd(x) = sqrt(10 / 4) = 1.5811;
    # with x standardised the slope is cov / sd = 0.75 / 1.5811 = 0.47434
    frame = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [0, 0, 1, 1, 1]}, dtype=float)
    est = drivers.fit(frame, "y", ["x"])
    assert est.coef.iloc[0] == pytest.approx(0.75 / math.sqrt(2.5), abs=1e-12)
    assert est.attrs["n"] == 5
    # R² of a one-variable regression is the squared correlation: 0.75² / (2.5 * 0.3) = 0.75
    assert est.attrs["r2"] == pytest.approx(0.75**2 / (2.5 * 0.3))


def _frame(n=400, seed=3):
    rng = np.random.default_rng(seed)
    a = rng.normal(3, 0.8, n)
    b = rng.normal(3.5, 0.6, n) + 0.3 * a
    c = rng.integers(0, 2, n).astype(float)
    p = 1 / (1 + np.exp(-(-0.8 * (a - 3) - 0.5 * (b - 4) + 0.2 * c)))
    y = (rng.random(n) < p).astype(float)
    return pd.DataFrame({"a": a, "b": b, "c": c, "y": y})


def test_against_statsmodels_fitted_directly():
    frame = _frame()
    est = drivers.fit(frame, "y", ["a", "b", "c"]).set_index("condition")
    z = frame.copy()
    for col in ("a", "b", "c"):
        z[col] = (z[col] - z[col].mean()) / z[col].std()   # pandas std is ddof 1
    direct = smf.ols("y ~ a + b + c", data=z).fit(cov_type="HC1")
    for col in ("a", "b", "c"):
        assert est.at[col, "coef"] == pytest.approx(direct.params[col], abs=1e-10)
        assert est.at[col, "se"] == pytest.approx(direct.bse[col], abs=1e-10)
    # standardising rescales a raw slope by the condition's sd, nothing else
    raw = smf.ols("y ~ a + b + c", data=frame).fit()
    assert est.at["a", "coef"] == pytest.approx(raw.params["a"] * frame.a.std(), abs=1e-10)


def test_bootstrap_is_seeded_and_each_draw_is_a_refit_of_a_resample():
    frame = _frame(n=120)
    draws = drivers.bootstrap(frame, "y", ["a", "b", "c"], n_boot=5, seed=11)
    again = drivers.bootstrap(frame, "y", ["a", "b", "c"], n_boot=5, seed=11)
    np.testing.assert_array_equal(draws, again)
    rng = np.random.default_rng(11)
    first = rng.integers(0, len(frame), len(frame))
    replay = drivers.fit(frame.iloc[first].reset_index(drop=True), "y", ["a", "b", "c"])
    np.testing.assert_allclose(draws[0], replay.coef.to_numpy(), atol=1e-10)


def test_summary_ranks_by_strength_and_reads_its_interval():
    frame = _frame(n=600)
    out = drivers.summarise(frame, "y", ["a", "b", "c"], n_boot=200, seed=5)
    assert list(out.coef.abs()) == sorted(out.coef.abs(), reverse=True)
    assert (out.ci_low <= out.coef).all() and (out.coef <= out.ci_high).all()
    assert list(out.clear) == list((out.ci_low > 0) | (out.ci_high < 0))
    assert out.attrs["n_boot"] == 200 and out.attrs["seed"] == 5
    # the planted negative association of a with y is found
    assert out.set_index("condition").at["a", "ci_high"] < 0


def test_a_constant_condition_is_refused():
    frame = pd.DataFrame({"x": [2.0] * 6, "y": [0, 1, 0, 1, 1, 0.0]})
    with pytest.raises(ValueError, match="same value"):
        drivers.fit(frame, "y", ["x"])


def test_organisation_drivers_on_the_demo_match_a_direct_fit(demo_con):
    cfg = drivers.settings()
    result = drivers.analyse(demo_con, 3, 10, "stress")
    assert result["withheld"] is None
    # an independent query: complete cases pivoted in SQL, fitted with the formula API
    cols = ", ".join(f"max(value) FILTER (WHERE indicator_id = '{c}') AS {c}"
                     for c in ("stress", *cfg.conditions))
    wide = demo_con.execute(
        f"SELECT {cols} FROM respondent_scores JOIN responses USING (response_id) "
        "WHERE wave_id = 3 GROUP BY response_id"
    ).df().dropna()
    assert result["n"] == len(wide)
    z = wide.copy()
    for c in cfg.conditions:
        z[c] = (z[c] - z[c].mean()) / z[c].std()
    direct = smf.ols("stress ~ " + " + ".join(cfg.conditions), data=z).fit()
    table = result["table"].set_index("condition")
    for c in cfg.conditions:
        assert table.at[c, "coef"] == pytest.approx(direct.params[c], abs=1e-9)
    assert result["r2"] == pytest.approx(direct.rsquared)
    # in the demo, better conditions go with less stress: every estimate is negative
    assert (table.coef < 0).all()


def test_teams_need_release_and_fifty_complete_answers(demo_con):
    cfg = drivers.settings()
    teams = drivers.eligible_teams(demo_con, 3, 10, "stress")
    assert len(teams) > 0 and (teams.n >= cfg.min_respondents).all()
    release = privacy.plan(demo_con, 10, [3], ["stress", *cfg.conditions])
    rows = release[release.cut == "team"]
    for team in teams.team:
        assert rows[rows.team == team].released.all()
    one = teams.iloc[0]
    result = drivers.analyse(demo_con, 3, 10, "stress", int(one.unit_id))
    assert result["withheld"] is None and result["n"] == one.n and result["scope"] == one.team
    # a released team with fewer than 50 complete answers gets no analysis, and says why
    frame = drivers.respondent_frame(demo_con, 3, ["stress", *cfg.conditions])
    sizes = frame.groupby("unit_id").size()
    released = set(rows.loc[rows.released, "team"])
    units = demo_con.execute("SELECT unit_id, team FROM units").df().set_index("unit_id").team
    small = next(u for u, n in sizes.items() if n < cfg.min_respondents and units[u] in released)
    assert "Fewer than 50" in drivers.analyse(demo_con, 3, 10, "stress", int(small))["withheld"]


def test_withheld_below_the_anonymity_threshold(tmp_path):
    con = tiny_org.build(tmp_path / "tiny.duckdb")
    wave = 1
    result = drivers.analyse(con, wave, 10, "stress")
    assert result["table"] is None
    assert "not shown" in result["withheld"]


def test_sentence_says_association_in_plain_words():
    row = pd.Series({"short": "HSE Demands", "coef": -0.043, "clear": True})
    text = drivers.sentence("stress", row)
    assert text == ("Staff one standard deviation better on HSE Demands report 4.3 points less "
                    "stress, other conditions equal.")
    assert "not causes" in drivers.CAVEAT
