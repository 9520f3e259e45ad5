"""Evaluation assembly: periods, units, suppression, warnings, corrections; demo verdicts vs truth."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep

from dashboard import periods, stats, store
from dashboard.framework import interventions as iv
from dashboard.stats import evaluation as ev

THRESHOLD = 10

# Hand organisation. Units 1 T1, 2 T2, 5 S (small) are targets; 3 C1, 4 C2 comparison; 6 C3 is
# the smallest reportable sibling, so the anonymity rule withholds it to protect S (the pooled
# comparison group would otherwise reveal it, and through it S): it never enters the figures.
# Waves 2023 (fielded 2023-10-15) and 2024 (2024-10-15); the intervention starts 2024-01-01.
# Per unit and wave: stress answers (count of "yes" out of n) and HSE manager-support values.
STRESS = {  # unit: ((yes, n) before, (yes, n) after)
    1: ((6, 12), (3, 12)),
    2: ((8, 12), (4, 12)),
    3: ((6, 12), (6, 12)),
    4: ((4, 12), (5, 12)),
    5: ((2, 3), (0, 3)),
    6: ((5, 10), (5, 10)),
}
SUPPORT = {  # unit: (values before, values after), one value per respondent, same order
    1: ([3] * 6 + [4] * 6, [4] * 8 + [5] * 4),
    2: ([2] * 6 + [3] * 6, [3] * 6 + [4] * 6),
    3: ([3] * 6 + [4] * 6, [3] * 6 + [4] * 6),
    4: ([2] * 4 + [3] * 8, [2] * 4 + [3] * 8),
    5: ([1] * 3, [5] * 3),
    6: ([1] * 10, [5] * 10),
}
TARGETS = [1, 2, 5]


def _build(path):
    con = store.connect(path)
    with store.transaction(con):
        con.executemany(
            "INSERT INTO units (unit_id, team, directorate) VALUES (?, ?, 'D')",
            [(1, "T1"), (2, "T2"), (3, "C1"), (4, "C2"), (5, "S"), (6, "C3")],
        )
        con.executemany(
            "INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)",
            [(1, "2023", date(2023, 10, 15)), (2, "2024", date(2024, 10, 15))],
        )
        responses, answers = [], []
        rid = 0
        for unit in STRESS:
            for wave in (1, 2):
                yes, n = STRESS[unit][wave - 1]
                support = SUPPORT[unit][wave - 1]
                for k in range(n):
                    rid += 1
                    responses.append((rid, wave, unit))
                    answers.append((rid, "q11c", 1 if k < yes else 0))
                    answers.append((rid, "hse08", support[k]))
                    if wave == 2:  # a new manager-support item appears in the second wave only
                        answers.append((rid, "hse23", support[k]))
        con.executemany("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (?, ?, ?)", responses)
        con.executemany("INSERT INTO answers VALUES (?, ?, ?)", answers)
        store.refresh_scores(con)
        # Absence: Oct 2023 - Mar 2024, FTE 10 (headcount 12) in the four big units, 3 in S.
        months = [date(2023, m, 1) for m in (10, 11, 12)] + [date(2024, m, 1) for m in (1, 2, 3)]
        con.executemany(
            "INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)",
            [(u, m, {5: 3, 6: 10}.get(u, 12), {5: 3.0, 6: 8.0}.get(u, 10.0)) for u in STRESS for m in months],
        )
        con.executemany(
            "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date, fte)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (1, "a", 1, date(2023, 11, 1), date(2023, 11, 10), 1.0),  # 10 days before
                (2, "b", 2, date(2023, 12, 30), date(2024, 1, 2), 1.0),  # 2 before, 2 after
                (3, "c", 1, date(2024, 2, 1), date(2024, 2, 3), 0.5),  # 1.5 after
                (4, "d", 3, date(2023, 10, 2), date(2023, 10, 5), 1.0),  # comparison: 4 before
                (5, "e", 4, date(2024, 3, 10), date(2024, 3, 14), 1.0),  # comparison: 5 after
            ],
        )
        store.bump_version(con)
    iid = iv.create_intervention(con, iv.Intervention(
        "Programme", "personal_health", TARGETS, date(2024, 1, 1),
        ["stress", "hse_manager_support", "absence_rate"],
    ))
    return con, iid


def _add(con, *args) -> int:
    return iv.create_intervention(con, iv.Intervention(*args))


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    con, iid = _build(tmp_path_factory.mktemp("eval") / "s.duckdb")
    yield con, iid
    con.close()


@pytest.fixture(scope="module")
def result(hand):
    con, iid = hand
    return ev.evaluate(con, iid, THRESHOLD, months=3, n_boot=500)


def _by_id(evaluation):
    return {r.indicator_id: r for r in evaluation.results}


def _values(unit_pairs, period):
    return np.concatenate([np.asarray(unit_pairs[u][period], dtype=float) for u in (1, 2)])


def test_periods_and_units(result):
    assert (result.pre_wave, result.post_wave) == ("2023", "2024")
    # C3 counts as a comparison team but is withheld from the figures (see the header)
    assert result.n_target_units == 3 and result.n_comparison_units == 3
    assert result.comparison_label == "all other teams"
    window = result.absence_window
    assert (window["pre_start"], window["pre_end"]) == (date(2023, 10, 1), date(2023, 12, 1))
    assert (window["post_start"], window["post_end"]) == (date(2024, 1, 1), date(2024, 3, 1))


def test_small_target_unit_is_left_out_and_named(result):
    stress = _by_id(result)["stress"]
    assert stress.excluded_units == ("S",)
    assert any("fewer than 10 responses" in w and "S." in w for w in stress.warnings)
    # 24 target respondents per wave (T1 + T2), never the 27 with S
    target = stress.cells[stress.cells.group == ev.TARGET]
    assert target.n.tolist() == [24, 24]


def test_stress_did_and_target_change_by_hand(result):
    stress = _by_id(result)["stress"]
    # equal unit sizes, so the fixed-mix means are plain means:
    # target 14/24 -> 7/24, comparison 10/24 -> 11/24
    assert stress.design == "difference-in-differences" and stress.level == 3
    assert stress.estimate == pytest.approx(100 * ((7 - 14) / 24 - (11 - 10) / 24))
    assert stress.unit == "percentage points"
    cells = stress.cells.set_index(["group", "period"]).value
    assert cells[(ev.TARGET, ev.BEFORE)] == pytest.approx(100 * 14 / 24)
    assert cells[(ev.COMPARISON, ev.AFTER)] == pytest.approx(100 * 11 / 24)
    assert stress.ci_low < stress.estimate < stress.ci_high
    # the target teams' own before/after: Newcombe interval as statsmodels computes it
    change = stress.change
    assert change.estimate == pytest.approx((7 - 14) / 24)
    low, high = confint_proportions_2indep(7, 24, 14, 24, method="newcomb", compare="diff")
    assert (change.ci_low, change.ci_high) == pytest.approx((low, high), abs=1e-9)
    # 24 per group and period: the small-sample warning
    assert any("Small samples" in w for w in stress.warnings)


def test_mean_indicator_welch_and_hedges_g_by_hand(result):
    support = _by_id(result)["hse_manager_support"]
    assert support.unit == "points on the 1-5 scale"
    pre, post = _values(SUPPORT, 0), _values(SUPPORT, 1)
    # DiD: target mean 3.0 -> 3.9167; comparison unchanged
    assert support.estimate == pytest.approx((post.mean() - pre.mean()) - 0.0)
    welch = sps.ttest_ind(post, pre, equal_var=False)
    ci = welch.confidence_interval()
    assert (support.change.ci_low, support.change.ci_high) == pytest.approx((ci.low, ci.high))
    n1, n2 = len(pre), len(post)
    pooled = np.sqrt(((n1 - 1) * pre.var(ddof=1) + (n2 - 1) * post.var(ddof=1)) / (n1 + n2 - 2))
    g_approx = (1 - 3 / (4 * (n1 + n2) - 9)) * (post.mean() - pre.mean()) / pooled
    assert support.hedges_g == pytest.approx(g_approx, rel=1e-3)


def test_changed_items_are_warned(hand, result):
    con, _ = hand
    assert ev.changed_items(con, "hse_manager_support", [1, 2]) == ["hse23"]
    assert ev.changed_items(con, "stress", [1, 2]) == []
    support = _by_id(result)["hse_manager_support"]
    assert any("hse23" in w for w in support.warnings)
    assert not any("items behind" in w for w in _by_id(result)["stress"].warnings)


def test_absence_rate_ratio_by_hand(result):
    rate = _by_id(result)["absence_rate"]
    # Comparison teams C1 and C2 have absence data, so the effect is the ratio of rate ratios
    # against them (Magenta Book level 3), no longer the target's before/after ratio (level 2).
    assert rate.design == "difference-in-differences" and rate.level == 3
    # target FTE: 10 + 10 (S, headcount 3, is too small to pool: left out and named);
    # Oct-Dec 2023 = 92 days, Jan-Mar 2024 = 91 days (leap February)
    before = 12.0 / (20 * 92)
    after = 3.5 / (20 * 91)
    assert rate.change.pre_rate == pytest.approx(before)
    assert rate.change.post_rate == pytest.approx(after)
    assert rate.change.estimate == pytest.approx(after / before)  # the target's own ratio
    assert any("left out of the absence evaluation: S." in w for w in rate.warnings)
    assert rate.null == 1.0
    comparison = rate.comparison_change
    comparison_ratio = (5 / 1820) / (4 / 1840)  # C1 + C2: 20 FTE, 4 days before, 5 after
    assert comparison.estimate == pytest.approx(comparison_ratio)
    # six months (< 24): no seasonal terms, so the estimate is the ratio of the four rates
    assert rate.estimate == pytest.approx((after / before) / comparison_ratio)
    assert rate.absence_did.estimate == rate.estimate and not rate.absence_did.seasonal
    assert rate.ci_low < rate.estimate < rate.ci_high
    assert rate.unit == ev.RATIO_OF_RATIOS and rate.absence_units == (2, 2)
    assert ev.effect_text(rate).startswith(f"{rate.estimate:.2f}x the comparison teams' change")
    assert rate.its is not None and len(rate.its.series) == 6
    # comparison teams' monthly rates, for context on the chart: October 2023 = 4 / (20 FTE x 31)
    october = rate.comparison_series.set_index("month").rate[pd.Timestamp("2023-10-01")]
    assert october == pytest.approx(4 / (20 * 31))


def test_absence_falls_back_to_before_after_without_a_usable_comparison(hand):
    con, iid = hand
    # no comparison teams at all
    alone = _by_id(ev.evaluate(con, iid, THRESHOLD, indicator_ids=["absence_rate"],
                               comparison_unit_ids=[], months=3))["absence_rate"]
    assert alone.design == "before/after" and alone.level == 2 and alone.absence_did is None
    assert alone.estimate == pytest.approx((3.5 / (20 * 91)) / (12.0 / (20 * 92)))
    assert alone.unit == "rate ratio (after / before)"
    assert any("No comparison teams with absence data" in n for n in alone.notes)
    assert ev.effect_text(alone).startswith(f"{alone.estimate:.2f}x the rate before")
    # C1 alone lost no days after the start: its change cannot be estimated, so level 2
    c1 = _by_id(ev.evaluate(con, iid, THRESHOLD, indicator_ids=["absence_rate"],
                            comparison_unit_ids=[3], months=3))["absence_rate"]
    assert c1.design == "before/after" and c1.level == 2
    assert c1.estimate == pytest.approx(alone.estimate)
    assert any("comparison teams' change cannot be estimated" in n and "comparison post" in n
               for n in c1.notes)


def test_indicator_without_any_responses_is_not_enough_data(hand):
    con, iid = hand
    out = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["presenteeism"], n_boot=100)
    result = out.results[0]
    assert result.verdict == stats.NOT_ENOUGH
    assert ev.forest_frame(out).empty


def test_holm_across_indicators_by_hand(result):
    assert result.correction.startswith("Holm")
    p = np.array([r.p_value for r in result.results])
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    assert [r.p_adjusted for r in result.results] == pytest.approx(adjusted.tolist())


def test_benjamini_hochberg_is_named(hand):
    con, iid = hand
    out = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress", "hse_manager_support"],
                      correction="bh", n_boot=200)
    assert out.correction.startswith("Benjamini-Hochberg")
    p = sorted(r.p_value for r in out.results)
    # BH with two tests: the larger keeps its p, the smaller gets min(2 p, larger)
    assert sorted(r.p_adjusted for r in out.results) == pytest.approx([min(2 * p[0], p[1]), p[1]])
    single = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], n_boot=200)
    assert single.correction is None and single.results[0].p_adjusted is None


def test_before_after_only_without_comparison(hand):
    con, iid = hand
    out = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], comparison_unit_ids=[], n_boot=200)
    stress = out.results[0]
    assert stress.design == "before/after" and stress.level == 2
    assert stress.estimate == pytest.approx(100 * (7 - 14) / 24)
    low, high = confint_proportions_2indep(7, 24, 14, 24, method="newcomb", compare="diff")
    assert (stress.ci_low, stress.ci_high) == pytest.approx((100 * low, 100 * high))
    assert out.comparison_label == "chosen teams" and out.n_comparison_units == 0


def test_chosen_comparison_units_drop_targets(hand):
    con, iid = hand
    assert ev.comparison_units(con, TARGETS) == [3, 4, 6]
    assert ev.comparison_units(con, TARGETS, [4, 1]) == [4]
    out = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], comparison_unit_ids=[4], n_boot=200)
    # comparison C2 only: 4/12 -> 5/12
    assert out.results[0].estimate == pytest.approx(100 * ((7 - 14) / 24 - 1 / 12))


def test_bootstrap_is_reproducible(hand):
    con, iid = hand
    a = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], n_boot=300)
    b = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], n_boot=300)
    assert (a.results[0].ci_low, a.results[0].ci_high) == (b.results[0].ci_low, b.results[0].ci_high)


def test_overlapping_interventions_are_warned(tmp_path):
    con, iid = _build(tmp_path / "s.duckdb")
    _add(con, "Coaching", "managers_leaders", [1], date(2024, 3, 1), ["hse_manager_support"])
    _add(con, "Resilience", "personal_health", [3], date(2023, 11, 1), ["stress"])
    _add(con, "Later", "personal_health", [1], date(2025, 6, 1), ["stress"])
    out = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], n_boot=100)
    text = " ".join(out.warnings)
    assert "'Coaching'" in text and "same teams" in text
    assert "'Resilience', aimed at Stress" in text
    assert "Later" not in text  # starts after the evaluation window
    assert out.overlaps.name.tolist() == ["Coaching"]
    assert out.n_comparison_units == 3

    # leaving out comparison teams with a programme aimed at the same indicator: C1 goes
    cleaner = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], exclude_other_programmes=True,
                          n_boot=100)
    assert cleaner.n_comparison_units == 2  # C2, and C3 which stays withheld
    assert any("'Resilience' (aimed at Stress) in this period are left out" in w for w in cleaner.warnings)
    # comparison C2 only: 4/12 -> 5/12
    assert cleaner.results[0].estimate == pytest.approx(100 * ((7 - 14) / 24 - 1 / 12))
    # a programme aimed at other indicators does not remove comparison teams
    _add(con, "Gym", "personal_health", [4], date(2024, 2, 1), ["hse_demands"])
    same = ev.evaluate(con, iid, THRESHOLD, indicator_ids=["stress"], exclude_other_programmes=True,
                       n_boot=100)
    assert same.n_comparison_units == 2


def test_no_wave_after_the_start_is_not_enough_data(hand):
    con, _ = hand
    late = _add(con, "Late", "personal_health", [1, 2], date(2025, 1, 1), ["stress"])
    try:
        out = ev.evaluate(con, late, THRESHOLD, n_boot=100)
        stress = out.results[0]
        assert stress.verdict == stats.NOT_ENOUGH and stress.design == "none" and stress.level is None
        assert any("after the start" in n for n in stress.notes)
        assert ev.forest_frame(out).empty
    finally:
        iv.delete_intervention(con, late)


def test_wave_order_and_correction_are_checked(hand):
    con, iid = hand
    with pytest.raises(ValueError, match="before"):
        ev.evaluate(con, iid, THRESHOLD, pre_wave_id=2, post_wave_id=1)
    with pytest.raises(ValueError, match="correction"):
        ev.evaluate(con, iid, THRESHOLD, correction="bonferroni")


def test_absence_window_mid_month_start():
    w = periods.absence_window(date(2025, 1, 6), 12)
    assert (w["pre_start"], w["pre_end"]) == (date(2024, 1, 1), date(2024, 12, 1))
    assert w["transition"] == date(2025, 1, 1)
    assert (w["post_start"], w["post_end"]) == (date(2025, 2, 1), date(2026, 1, 1))


def test_reportable_panel_needs_threshold_in_every_wave():
    values = pd.DataFrame(
        {
            "wave_id": [1] * 10 + [2] * 10 + [1] * 10 + [2] * 9 + [1] * 12,
            "unit_id": [1] * 20 + [2] * 19 + [3] * 12,
            "value": 0.0,
        }
    )
    kept, dropped = ev.reportable_panel(values, [1, 2], 10)
    assert sorted(kept.unit_id.unique()) == [1]
    assert dropped.set_index("unit_id").min_n.to_dict() == {2: 9, 3: 0}
    assert dropped.set_index("unit_id").reason[3] == "no responses in one of the waves"


def test_forest_frame_and_effect_text(result):
    frame = ev.forest_frame(result)
    assert len(frame) == 3
    stress = _by_id(result)["stress"]
    row = frame.set_index("indicator").loc["Stress"]
    assert row.estimate == pytest.approx(stress.estimate) and row.null == 0.0
    text = ev.effect_text(stress)
    assert text.startswith(f"{stress.estimate:+.1f} percentage points (95% CI ")
    assert ev.effect_text(_by_id(result)["absence_rate"]).endswith(")")


# ---------------------------------------------------------------------------------------------
# The demo organisation: every planted effect's verdict matches the truth
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_results(demo_con):
    from dashboard import demo

    register = iv.list_interventions(demo_con).set_index("name")
    out = {}
    for effect in demo.PLANTED_EFFECTS:
        if effect.intervention is None:
            continue
        iid = int(register.loc[effect.intervention, "intervention_id"])
        if effect.intervention not in out:
            out[effect.intervention] = ev.evaluate(demo_con, iid, THRESHOLD)
    return out


def _planted():
    from dashboard import demo

    return [e for e in demo.PLANTED_EFFECTS if e.intervention is not None]


@pytest.mark.parametrize("effect", _planted(), ids=lambda e: e.id)
def test_demo_verdict_matches_planted_truth(demo_results, effect):
    evaluation = demo_results[effect.intervention]
    got = _by_id(evaluation)[effect.indicator]
    null = 1.0 if effect.measure == "rate_ratio" else 0.0
    if effect.change == null:
        assert got.verdict == stats.NO_CLEAR_CHANGE, got
        assert got.ci_low <= got.null <= got.ci_high
        return
    scale = 100.0 if effect.measure == "proportion" else 1.0
    truth = effect.change * scale
    # right sign, and the interval covers the planted size
    assert np.sign(got.estimate - got.null) == np.sign(truth - null)
    assert got.ci_low <= truth <= got.ci_high, (got.ci_low, truth, got.ci_high)
    good = (truth < null) == (got.favourable == "low")
    assert got.verdict == (stats.IMPROVED if good else stats.WORSENED)
    # every planted effect is judged against comparison teams (level 3): survey indicators by
    # difference-in-differences and, since issue 6, absence by the ratio of rate ratios
    assert got.level == 3 and got.design == "difference-in-differences"


def test_demo_rota_redesign_ratio_of_ratios(demo_results):
    # planted: new absences at 0.7x in the rota teams from 2024-07-01, none elsewhere
    got = _by_id(demo_results["Rota redesign"])["absence_rate"]
    did = got.absence_did
    assert got.verdict == stats.IMPROVED and got.level == 3
    assert did.seasonal  # 12 months either side: month-of-year terms are in the model
    assert 0.6 < got.estimate < 0.8 and got.ci_low < 0.7 < got.ci_high
    assert 0.6 < got.change.estimate < 0.75  # the rota teams' own before/after ratio
    assert 0.9 < got.comparison_change.estimate < 1.1  # the comparison teams barely moved
    # the model's estimate agrees with the crude ratio of the four rates when both groups
    # cover the same months (the season then cancels)
    assert got.estimate == pytest.approx(did.target_ratio / did.comparison_ratio, rel=0.02)


def test_demo_bootstrap_and_corrections_equal_the_plain_methods(demo_con, demo_results):
    # The evaluation draws its respondent bootstrap only when boot_se is read and adjusts
    # p-values with its own Holm: on every demo intervention, the rows the evaluation used give
    # the same estimate, the bootstrap the same SE as a one-resample-at-a-time loop, and the
    # adjusted p-values are statsmodels' to the bit.
    from statsmodels.stats.multitest import multipletests

    from dashboard.metrics import indicators
    from tests.stats.test_stats import loop_boot_se

    checked = 0
    for result in demo_results.values():
        iv_row = result.intervention
        targets = list(iv_row["unit_ids"])
        comparison = ev.comparison_units(demo_con, targets)
        waves = ev.waves_around(demo_con, iv_row["start_date"])
        pre, post = ev.default_waves(waves)
        p = [r.p_value for r in result.results]
        tested = [x for x in p if np.isfinite(x)]
        if len(tested) > 1:
            method = "holm" if result.correction.startswith("Holm") else "fdr_bh"
            _, want, _, _ = multipletests(tested, alpha=0.05, method=method)
            assert [r.p_adjusted for r in result.results if np.isfinite(r.p_value)] == list(want)
        for r in result.results:
            if r.did is None:
                continue
            raw = indicators.respondent_values(demo_con, r.indicator_id, [pre, post],
                                               targets + comparison)
            released = ev.released_units(demo_con, r.indicator_id, [pre, post], THRESHOLD)
            kept, _ = ev.reportable_panel(raw, [pre, post], THRESHOLD, released)
            frame = pd.DataFrame({
                "group": np.where(kept.unit_id.isin(targets), "T", "C"),
                "period": np.where(kept.wave_id == pre, "pre", "post"),
                "unit": kept.unit_id.to_numpy(), "value": kept.value.to_numpy(float),
            })
            again = stats.difference_in_differences(frame, n_boot=150, seed=ev.SEED)
            assert again.estimate == r.did.estimate and again.ci_low == r.did.ci_low
            assert again.boot_se == pytest.approx(loop_boot_se(frame, 150, ev.SEED), rel=1e-12)
            assert r.did.resampling.n_boot == ev.N_BOOT and np.isfinite(r.did.boot_se)
            checked += 1
    assert checked >= 2


# ---------------------------------------------------------------------------------------------
# Evaluations remembered per dataset version: equal to a fresh computation, and forgotten when
# the data, the register, the waves or the threshold change (issue 10)
# ---------------------------------------------------------------------------------------------
def _canon(x) -> str:
    """Every field of an evaluation as text (frames with their dtypes, floats to the bit); the
    bootstrap's inputs are compared through boot_se."""
    import dataclasses

    if isinstance(x, stats.DiDResult):
        return _canon({f.name: getattr(x, f.name) for f in dataclasses.fields(x)
                       if f.name != "resampling"}) + f"boot_se={x.boot_se!r}"
    if dataclasses.is_dataclass(x):
        return type(x).__name__ + _canon({f.name: getattr(x, f.name) for f in dataclasses.fields(x)})
    if isinstance(x, pd.DataFrame):
        return f"DF{list(x.dtypes.astype(str))}\n{x.to_csv(float_format='%.17g')}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_canon(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return type(x).__name__ + "[" + ", ".join(_canon(v) for v in x) + "]"
    return repr(x)


def _fresh(con, *args, **kwargs):
    """evaluate() computed from nothing remembered or stored (and storing nothing); the memos
    are put back as they were."""
    from unittest import mock

    kept = dict(ev._EVALUATIONS), dict(ev._SHARED)
    ev._EVALUATIONS.clear()
    ev._SHARED.clear()
    try:
        with (mock.patch.object(ev, "_stored", lambda *a: None),
              mock.patch.object(ev, "_keep", lambda *a: None)):
            return ev.evaluate(con, *args, **kwargs)
    finally:
        for memo, was in zip((ev._EVALUATIONS, ev._SHARED), kept, strict=True):
            memo.clear()
            memo.update(was)


@pytest.fixture()
def computed(monkeypatch):
    """How many evaluations were computed (not taken from the memo)."""
    calls = []
    real = ev._evaluate
    monkeypatch.setattr(ev, "_evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    ev._EVALUATIONS.clear()
    return calls


def test_remembered_evaluations_equal_fresh_ones_on_the_demo(demo_con, computed):
    # demo_con is read-only: the memo lives in this process, nothing is written
    # the demo was loaded by an import, which stored every default evaluation: read, not made
    register = iv.list_interventions(demo_con)
    assert all(ev.is_stored(demo_con, int(i), THRESHOLD) for i in register.intervention_id)
    for iid in register.intervention_id.astype(int):
        first = ev.evaluate(demo_con, iid, THRESHOLD)
        again = ev.evaluate(demo_con, iid, THRESHOLD)
        assert again is not first  # each caller gets its own copy
        assert _canon(again) == _canon(first) == _canon(_fresh(demo_con, iid, THRESHOLD))
        # other settings are made and remembered in this process (the store is read-only)
        short = ev.evaluate(demo_con, iid, THRESHOLD, months=6, n_boot=200)
        assert _canon(short) == _canon(_fresh(demo_con, iid, THRESHOLD, months=6, n_boot=200))
    assert len(computed) == 3 * len(register)  # the fresh ones and the 6-month ones only
    # the page's explicit settings equal to the defaults share Where to look's result
    iid = int(register.intervention_id.iloc[0])
    before = len(computed)
    default = ev.evaluate(demo_con, iid, THRESHOLD)
    row = iv.get_intervention(demo_con, iid)
    explicit = ev.evaluate(demo_con, iid, THRESHOLD, tuple(row["indicators"]))
    assert len(computed) == before and _canon(explicit) == _canon(default)


def test_released_units_for_all_indicators_equal_one_indicator_at_a_time(demo_con):
    # the shared release (an evaluation's indicators from one query) against the one-indicator
    # figures, and the shared item check against the items of one indicator
    from dashboard import privacy

    waves = [int(w) for w in ev.waves_around(demo_con, date(2024, 1, 1)).wave_id][:2]
    ids = dict(demo_con.execute("SELECT team, unit_id FROM units").fetchall())
    together = ("stress", "hse_manager_support", "burnout")
    for ind in together:
        figures = privacy.survey_figures(demo_con, ("team",), THRESHOLD, wave_ids=waves, indicator_ids=[ind])
        shown = figures[~figures.suppressed].groupby("team").wave_id.nunique()
        want = {int(ids[t]) for t in shown[shown == len(waves)].index}
        assert ev.released_units(demo_con, ind, waves, THRESHOLD, together) == want and want
        assert ev.changed_items(demo_con, ind, waves, together) == ev.changed_items(demo_con, ind, waves)


def test_changed_items_checked_together_name_each_indicators_own(hand):
    con, _ = hand
    # hse23 (manager support) was asked in the second wave only; stress's item in both
    assert ev.changed_items(con, "hse_manager_support", [1, 2], ["stress"]) == ["hse23"]
    assert ev.changed_items(con, "stress", [1, 2], ["hse_manager_support"]) == []


def test_remembered_evaluation_follows_register_data_and_threshold(tmp_path, computed):
    con, iid = _build(tmp_path / "s.duckdb")
    try:
        def check(**kwargs):
            got = ev.evaluate(con, iid, THRESHOLD, months=3, n_boot=100, **kwargs)
            assert _canon(got) == _canon(_fresh(con, iid, THRESHOLD, months=3, n_boot=100, **kwargs))
            return got

        base = check()
        n = len(computed)
        ev.evaluate(con, iid, THRESHOLD, months=3, n_boot=100)
        assert len(computed) == n  # remembered

        # another threshold is another evaluation (C3 is no longer withheld at 3)
        lower = ev.evaluate(con, iid, 3, months=3, n_boot=100)
        assert _canon(lower) == _canon(_fresh(con, iid, 3, months=3, n_boot=100))
        assert lower.results[0].estimate != base.results[0].estimate

        # register: an overlapping intervention added, edited, deleted
        other = _add(con, "Coaching", "managers_leaders", [1], date(2024, 3, 1), ["hse_manager_support"])
        added = check()
        assert any("'Coaching'" in w for w in added.warnings)
        iv.update_intervention(con, other, iv.Intervention(
            "Mentoring", "managers_leaders", [1], date(2024, 3, 1), ["hse_manager_support"]))
        edited = check()
        assert any("'Mentoring'" in w for w in edited.warnings)
        iv.delete_intervention(con, other)
        assert _canon(check()) == _canon(base)
        # the intervention itself edited: S leaves the targets
        iv.update_intervention(con, iid, iv.Intervention(
            "Programme", "personal_health", [1, 2], date(2024, 1, 1),
            ["stress", "hse_manager_support", "absence_rate"]))
        assert check().n_target_units == 2
        # a register row changed outside the register functions (a script) is seen too
        con.execute("DELETE FROM intervention_units WHERE intervention_id = ? AND unit_id = 2", [iid])
        assert check().n_target_units == 1
        con.execute("INSERT INTO intervention_units VALUES (?, 2)", [iid])

        # data: an import of more target answers, then its undo
        restored = check()
        first = con.execute("SELECT max(response_id) FROM responses").fetchone()[0] + 1
        with store.transaction(con):
            rows = [(first + k, 2, 1) for k in range(12)]
            con.executemany("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (?, ?, ?)", rows)
            con.executemany("INSERT INTO answers VALUES (?, 'q11c', 1)", [(r[0],) for r in rows])
            store.refresh_scores(con)
            store.bump_version(con)
        imported = check()
        assert imported.results[0].estimate != restored.results[0].estimate
        with store.transaction(con):
            con.execute("DELETE FROM answers WHERE response_id >= ?", [first])
            con.execute("DELETE FROM responses WHERE response_id >= ?", [first])
            store.refresh_scores(con)
            store.bump_version(con)
        assert _canon(check()) == _canon(restored)
    finally:
        con.close()


def _stored_rows(con) -> int:
    return con.execute("SELECT count(*) FROM evaluation_store").fetchone()[0]


def test_stored_evaluations_are_read_after_an_import_and_redone_when_stale(tmp_path, computed):
    con, iid = _build(tmp_path / "s.duckdb")
    try:
        # made after the import by a register change: evaluated on first reading, then stored
        assert _stored_rows(con) == 0
        first = ev.evaluate(con, iid, THRESHOLD)
        assert len(computed) == 1 and _stored_rows(con) == 1 and ev.is_stored(con, iid, THRESHOLD)
        ev._EVALUATIONS.clear()  # another process: nothing remembered, the store read
        again = ev.evaluate(con, iid, THRESHOLD)
        assert len(computed) == 1 and _canon(again) == _canon(first) == _canon(_fresh(con, iid, THRESHOLD))

        # another entry in the register leaves the figures stored; its warning is read with them
        other = _add(con, "Coaching", "managers_leaders", [1], date(2024, 3, 1), ["hse_manager_support"])
        assert ev.is_stored(con, iid, THRESHOLD) and not ev.is_stored(con, other, THRESHOLD)
        n = len(computed)
        ev._EVALUATIONS.clear()
        with_other = ev.evaluate(con, iid, THRESHOLD)
        assert len(computed) == n and any("'Coaching'" in w for w in with_other.warnings)
        assert _canon(with_other) == _canon(_fresh(con, iid, THRESHOLD))
        assert with_other.intervention["overlaps_with"] == ["Coaching"]
        # the intervention's own record changed: evaluated again
        iv.update_intervention(con, iid, iv.Intervention(
            "Programme", "personal_health", TARGETS, date(2024, 1, 1), ["stress", "absence_rate"]))
        assert not ev.is_stored(con, iid, THRESHOLD)
        n = len(computed)
        redone = ev.evaluate(con, iid, THRESHOLD)
        assert [r.indicator_id for r in redone.results] == ["stress", "absence_rate"]
        assert len(computed) == n + 1

        # an import evaluates and stores every intervention inside its transaction
        with store.transaction(con):
            con.execute("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (9999, 2, 3)")
            con.execute("INSERT INTO answers VALUES (9999, 'q11c', 1)")
            store.refresh_scores(con)
            store.bump_version(con)
        assert _stored_rows(con) == 2 and ev.is_stored(con, other, THRESHOLD)
        n = len(computed)
        ev._EVALUATIONS.clear()
        imported = ev.evaluate(con, iid, THRESHOLD)
        assert len(computed) == n and _canon(imported) == _canon(_fresh(con, iid, THRESHOLD))
        assert any("'Coaching'" in w for w in imported.warnings)

        # another threshold: evaluated and stored beside the configured one
        n = len(computed)
        low = ev.evaluate(con, iid, 3)
        assert len(computed) == n + 1 and _stored_rows(con) == 3
        assert _canon(low) == _canon(_fresh(con, iid, 3))

        # a payload naming anything an evaluation does not hold is never unpickled: evaluated again
        import pathlib
        import pickle
        con.execute("UPDATE evaluation_store SET payload = ? WHERE intervention_id = ? AND threshold = ?",
                    [pickle.dumps(pathlib.Path("x")), iid, THRESHOLD])
        ev._EVALUATIONS.clear()
        n = len(computed)
        assert _canon(ev.evaluate(con, iid, THRESHOLD)) == _canon(imported)
        assert len(computed) == n + 1
    finally:
        con.close()


def test_stored_evaluations_are_keyed_by_the_code_beneath_them(tmp_path):
    """An upgrade that changes how absence or release is computed makes stored evaluations
    stale; a change to a page does not."""
    import shutil
    from pathlib import Path

    source = Path(stats.__file__).resolve().parents[1]
    copy = tmp_path / "dashboard"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    first = ev._code_print(copy)
    assert first == ev._code_print(source) == ev._CODE

    page = copy / "ui" / "teams_page.py"
    page.write_text(page.read_text() + "\n# a page edit\n")
    assert ev._code_print(copy) == first
    for changed in ("metrics/absence.py", "privacy/release.py", "stats/evaluation.py", "periods.py"):
        path = copy / changed
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        assert ev._code_print(copy) != first, changed
        path.write_text(original)
    assert ev._code_print(copy) == first


def test_an_evaluation_the_statistics_refuse_does_not_refuse_the_import(tmp_path, monkeypatch):
    """Storing evaluations is part of an import's transaction; one that raises leaves that
    intervention unstored (read: evaluated again, refusal shown as before), the import lands."""
    con, iid = _build(tmp_path / "s.duckdb")
    try:
        other = _add(con, "Coaching", "managers_leaders", [1], date(2024, 3, 1), ["hse_manager_support"])
        real = ev._evaluate

        def refuse(con_, entry, *args):
            if int(entry["intervention_id"]) == other:
                raise ValueError("no comparison teams left")
            return real(con_, entry, *args)

        monkeypatch.setattr(ev, "_evaluate", refuse)
        with store.transaction(con):
            con.execute("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (9999, 2, 3)")
            con.execute("INSERT INTO answers VALUES (9999, 'q11c', 1)")
            store.refresh_scores(con)
            store.bump_version(con)
        assert con.execute("SELECT count(*) FROM responses WHERE response_id = 9999").fetchone()[0] == 1
        assert ev.is_stored(con, iid, THRESHOLD) and not ev.is_stored(con, other, THRESHOLD)
        ev._EVALUATIONS.clear()
        with pytest.raises(ValueError, match="no comparison teams left"):
            ev.evaluate(con, other, THRESHOLD)
    finally:
        con.close()
