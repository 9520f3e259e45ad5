"""Every statistic in dashboard.stats against an independent computation, plus edge cases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.rates import confint_poisson_2indep

from dashboard import stats

Z = sps.norm.ppf(0.975)


def ones(k: int, n: int) -> np.ndarray:
    """n respondent values with k ones (order irrelevant for every statistic here)."""
    return np.array([1.0] * k + [0.0] * (n - k))


# --------------------------------------------------------------------------------------------
# Wilson and Newcombe
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [  # Newcombe (1998a) Stat Med 17:857, Table I, method 3 (score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(x, n, low, high):
    got = stats.wilson_interval(x, n)
    assert got.estimate == pytest.approx(x / n)
    assert got.low == pytest.approx(low, abs=6e-5)
    assert got.high == pytest.approx(high, abs=6e-5)
    assert got.n == n


def test_wilson_closed_form_with_fractional_successes():
    # Multi-item indicators give fractional successes; Wilson's closed form by hand.
    x, n = 12 + 2 / 3, 40
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    got = stats.wilson_interval(x, n)
    assert (got.low, got.high) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_wilson_empty_and_invalid():
    empty = stats.wilson_interval(0, 0)
    assert empty.n == 0 and math.isnan(empty.estimate) and math.isnan(empty.low)
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 4)


@pytest.mark.parametrize(
    ("post", "pre", "diff", "low", "high"),
    [  # Newcombe (1998b) Stat Med 17:873, Table II, method 10; includes all-0 and all-1 cases
        ((56, 70), (48, 80), 0.2, 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.6, 0.1705, 0.8090),
        ((5, 56), (0, 29), 5 / 56, -0.0381, 0.1926),
        ((0, 10), (0, 20), 0.0, -0.1611, 0.2775),
        ((0, 10), (0, 10), 0.0, -0.2775, 0.2775),
        ((10, 10), (0, 20), 1.0, 0.6791, 1.0),
        ((10, 10), (0, 10), 1.0, 0.6075, 1.0),
    ],
)
def test_newcombe_matches_published_table(post, pre, diff, low, high):
    got = stats.proportion_change(ones(*pre), ones(*post))
    assert got.estimate == pytest.approx(diff, abs=1e-12)
    assert got.ci_low == pytest.approx(low, abs=6e-5)
    assert got.ci_high == pytest.approx(high, abs=6e-5)
    assert got.n == {"pre": pre[1], "post": post[1]}


def test_newcombe_matches_statsmodels_on_random_tables():
    rng = np.random.default_rng(7)
    for _ in range(40):
        n1, n2 = rng.integers(1, 300, size=2)
        x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        got = stats.proportion_change(ones(x1, n1), ones(x2, n2))
        low, high = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb", compare="diff")
        assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-10)


def test_two_proportion_test_equals_uncorrected_chi_square():
    pre, post = ones(48, 80), ones(56, 70)
    got = stats.proportion_change(pre, post)
    chi2, p, _, _ = sps.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert got.z**2 == pytest.approx(chi2, rel=1e-10)
    assert got.p_value == pytest.approx(p, rel=1e-10)
    assert got.z > 0  # post is higher


def test_proportion_of_fractional_values_is_their_mean():
    pre = np.array([0, 1 / 3, 2 / 3, 1, 1, 0, np.nan])  # NaN = did not answer
    post = np.array([1, 1, 2 / 3, 1, 0, 1])
    got = stats.proportion_change(pre, post)
    assert got.n == {"pre": 6, "post": 6}
    assert got.pre.estimate == pytest.approx(3 / 6)
    assert got.post.estimate == pytest.approx((4 + 2 / 3) / 6)
    assert got.pre.low == pytest.approx(stats.wilson_interval(3, 6).low)
    assert any("fractions" in note for note in got.notes)


def test_proportion_edge_cases():
    empty = stats.proportion_change([], ones(3, 10))
    assert math.isnan(empty.estimate) and math.isnan(empty.ci_low)
    assert stats.verdict(empty, "low").label == stats.NOT_ENOUGH
    all_zero = stats.proportion_change(ones(0, 40), ones(0, 40))
    assert all_zero.estimate == 0 and math.isnan(all_zero.p_value)
    assert all_zero.ci_low < 0 < all_zero.ci_high
    assert stats.verdict(all_zero, "low").label == stats.NO_CLEAR_CHANGE
    all_one = stats.proportion_change(ones(40, 40), ones(40, 40))
    assert math.isnan(all_one.p_value) and all_one.ci_high > 0
    with pytest.raises(ValueError):
        stats.proportion_change([0, 2], [1, 0])


# --------------------------------------------------------------------------------------------
# Means: Welch and Hedges' g
# --------------------------------------------------------------------------------------------
def test_welch_matches_scipy():
    rng = np.random.default_rng(3)
    pre = rng.integers(1, 6, size=37).astype(float)
    post = np.clip(rng.integers(1, 6, size=52) + rng.integers(0, 2, size=52), 1, 5).astype(float)
    got = stats.mean_change(pre, post)
    ref = sps.ttest_ind(post, pre, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert got.estimate == pytest.approx(post.mean() - pre.mean())
    assert (got.ci_low, got.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert got.t == pytest.approx(ref.statistic, rel=1e-10)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert got.df == pytest.approx(ref.df, rel=1e-10)


def exact_sample(n: int, mean: float, sd: float, seed: int) -> np.ndarray:
    """n values with exactly this sample mean and SD (ddof 1)."""
    x = np.random.default_rng(seed).normal(size=n)
    return (x - x.mean()) / x.std(ddof=1) * sd + mean


def test_hedges_g_matches_borenstein_worked_example():
    # Borenstein et al. (2009) Introduction to Meta-Analysis, ch. 4: means 103 vs 100,
    # SD 5.5 vs 4.5, n 50 each -> d = 0.5970, J = 0.9923, g = 0.5924, SE(g) = 0.2028.
    treated, control = exact_sample(50, 103, 5.5, 1), exact_sample(50, 100, 4.5, 2)
    got = stats.mean_change(control, treated)
    se = (got.g_ci_high - got.g_ci_low) / (2 * Z)
    assert got.hedges_g == pytest.approx(0.5924, abs=2e-4)
    assert se == pytest.approx(0.2028, abs=2e-4)


def test_hedges_g_by_hand_small_sample():
    pre, post = np.array([2.0, 3, 3, 4]), np.array([3.0, 4, 5, 5, 4])
    n1, n2 = 4, 5
    sp = math.sqrt(((n1 - 1) * pre.var(ddof=1) + (n2 - 1) * post.var(ddof=1)) / (n1 + n2 - 2))
    d = (post.mean() - pre.mean()) / sp
    df = n1 + n2 - 2
    j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    se = j * math.sqrt((n1 + n2) / (n1 * n2) + d**2 / (2 * (n1 + n2)))
    got = stats.mean_change(pre, post)
    assert got.hedges_g == pytest.approx(j * d, rel=1e-12)
    assert (got.g_ci_low, got.g_ci_high) == pytest.approx((j * d - Z * se, j * d + Z * se))
    # the common approximation J ~ 1 - 3/(4 df - 1) agrees to about 1e-3 at this size
    assert j == pytest.approx(1 - 3 / (4 * df - 1), abs=2e-3)


def test_mean_edge_cases():
    one = stats.mean_change([3.0], [4.0, 5.0])
    assert one.estimate == pytest.approx(1.5) and math.isnan(one.ci_low)
    assert stats.verdict(one, "high").label == stats.NOT_ENOUGH
    none = stats.mean_change([], [])
    assert math.isnan(none.estimate) and none.n == {"pre": 0, "post": 0}
    flat = stats.mean_change([3.0, 3.0, 3.0], [3.0, 3.0, np.nan])
    assert flat.estimate == 0 and math.isnan(flat.hedges_g) and flat.notes


# --------------------------------------------------------------------------------------------
# Difference-in-differences
# --------------------------------------------------------------------------------------------
def did_frame(cells: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = [(g, p, u, v) for (g, p, u), vals in cells.items() for v in vals]
    return pd.DataFrame(rows, columns=["group", "period", "unit", "value"])


TINY = {
    ("T", "pre", "a"): [1, 0, 0, 1],
    ("T", "post", "a"): [0, 0, 0, 1],
    ("T", "pre", "b"): [1, 1, 0, 1],
    ("T", "post", "b"): [0, 1, 0, 0],
    ("C", "pre", "c"): [0, 1, 0, 0],
    ("C", "post", "c"): [1, 0, 1, 0],
    ("C", "pre", "d"): [1, 1, 1, 0],
    ("C", "post", "d"): [1, 1, 0, 1],
}


def test_did_tiny_by_hand():
    # Balanced counts: fixed and observed mix coincide with plain cell means.
    # T: pre 5/8 post 2/8; C: pre 4/8 post 5/8 -> (-3/8) - (1/8) = -0.5
    frame = did_frame(TINY)
    for mix in ("fixed", "observed"):
        got = stats.difference_in_differences(frame, n_boot=4000, seed=1, mix=mix)
        assert got.estimate == pytest.approx(-0.5)
        cells = got.cells.set_index(["group", "period"])["mean"]
        assert cells[("T", "pre")] == pytest.approx(5 / 8)
        assert cells[("C", "post")] == pytest.approx(5 / 8)
    # Analytic SE by hand: each unit-period mean has variance s^2/4 and weight 1/2.
    var = sum(np.var(v, ddof=1) / 4 * 0.25 for v in TINY.values())
    assert got.analytic_se == pytest.approx(math.sqrt(var))
    assert got.analytic_ci_low == pytest.approx(-0.5 - Z * math.sqrt(var))
    # Rao-Wu bootstrap variance equals the analytic one up to Monte Carlo error (~2% here).
    assert got.boot_se == pytest.approx(got.analytic_se, rel=0.06)
    assert got.ci_low < -0.5 < got.ci_high
    assert got.n == {"target pre": 8, "target post": 8, "comparison pre": 8,
                     "comparison post": 8}
    assert got.comparison_group and got.mix == "observed"


def test_did_fixed_mix_ignores_a_change_in_who_responded():
    # Unit a runs at 0.8 and b at 0.2 in both periods; a answers less after. Nothing changed
    # within any team, so the fixed-mix estimate is 0; plain respondent means are not.
    cells = {
        ("T", "pre", "a"): ones(16, 20), ("T", "post", "a"): ones(4, 5),
        ("T", "pre", "b"): ones(4, 20), ("T", "post", "b"): ones(4, 20),
        ("C", "pre", "c"): ones(5, 10), ("C", "post", "c"): ones(5, 10),
    }
    frame = did_frame(cells)
    fixed = stats.difference_in_differences(frame, n_boot=200, seed=0)
    observed = stats.difference_in_differences(frame, n_boot=200, seed=0, mix="observed")
    assert fixed.estimate == pytest.approx(0.0, abs=1e-12)
    # observed: T pre 20/40 = 0.5, T post 8/25 = 0.32 -> -0.18
    assert observed.estimate == pytest.approx(8 / 25 - 0.5)
    # fixed weights: a has 25 of 65 respondents over both periods, b 40 of 65
    t_pre = fixed.cells.set_index(["group", "period"]).loc[("T", "pre"), "mean"]
    assert t_pre == pytest.approx(25 / 65 * 0.8 + 40 / 65 * 0.2)


def test_did_drops_units_seen_in_one_period_under_fixed_mix():
    cells = dict(TINY)
    cells[("T", "pre", "e")] = [1, 1, 1, 1, 1]
    frame = did_frame(cells)
    fixed = stats.difference_in_differences(frame, n_boot=100, seed=0)
    assert fixed.estimate == pytest.approx(-0.5)
    assert fixed.n["target pre"] == 8 and any("only one period" in x for x in fixed.notes)
    observed = stats.difference_in_differences(frame, n_boot=100, seed=0, mix="observed")
    assert observed.n["target pre"] == 13
    assert observed.estimate == pytest.approx((2 / 8 - 10 / 13) - (5 / 8 - 4 / 8))


def test_did_is_reproducible_and_seed_dependent():
    frame = did_frame(TINY)
    a = stats.difference_in_differences(frame, n_boot=500, seed=42)
    b = stats.difference_in_differences(frame.sample(frac=1, random_state=3), n_boot=500, seed=42)
    c = stats.difference_in_differences(frame, n_boot=500, seed=43)
    assert (a.ci_low, a.ci_high, a.p_value, a.boot_se) == (b.ci_low, b.ci_high, b.p_value,
                                                            b.boot_se)
    # the interval is analytic (team level); only the sampling-only bootstrap check uses the seed
    assert (a.ci_low, a.ci_high) == (c.ci_low, c.ci_high) and a.boot_se != c.boot_se


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_rao_wu_resampling_gives_variance_s2_over_n(kind):
    # Binary values take the multinomial path, continuous ones the index path.
    rng = np.random.default_rng(11)
    n_s = np.array([3, 7, 12, 1])
    codes = np.repeat(np.arange(4), n_s)
    values = (rng.random(codes.size) < 0.4).astype(float) if kind == "binary" else rng.normal(
        size=codes.size
    )
    values[:3] = [0.0, 1.0, 1.0]  # stratum 0 varies in both cases
    boot = stats._resampled_means(values, codes, n_s, np.random.default_rng(0), 20000)
    for s in range(3):
        v = values[codes == s]
        assert boot[:, s].mean() == pytest.approx(v.mean(), abs=0.03)
        assert boot[:, s].var() == pytest.approx(v.var(ddof=1) / len(v), rel=0.05)
    assert np.all(boot[:, 3] == values[codes == 3][0])  # a single respondent stays fixed


def loop_boot_se(frame: pd.DataFrame, n_boot: int, seed: int) -> float:
    """The fixed-mix DiD's Rao-Wu bootstrap SE the plain way: one resample at a time, one
    stratum (unit x period, units sorted, before then after) at a time, weights from the
    units' respondents over both periods. Draws n-1 per stratum from the same generator."""
    rows = frame.dropna(subset=["value"])
    counts = rows.groupby(["unit", "period"]).size().unstack("period")
    both = sorted(counts.dropna().index)
    rows = rows[rows.unit.isin(both)]
    group = rows.groupby("unit").group.first()
    size = rows.groupby("unit").size()
    share = size / size.groupby(group).transform("sum")
    sign = {("T", "pre"): -1.0, ("T", "post"): 1.0, ("C", "pre"): 1.0, ("C", "post"): -1.0}
    strata = [(u, p) for u in both for p in ("pre", "post")]
    vals = [np.sort(rows.value[(rows.unit == u) & (rows.period == p)].to_numpy(float))
            for u, p in strata]
    coef = [sign[(group[u], p)] * share[u] for u, p in strata]
    uniq = np.unique(rows.value.to_numpy(float))
    live = [v for v in vals if len(v) > 1]
    multinomial = len(live) * len(uniq) <= sum(len(v) - 1 for v in live)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        total = 0.0
        for c, v in zip(coef, vals, strict=True):
            m = len(v) - 1
            if m == 0:
                mean = v[0]
            elif multinomial:
                mean = rng.multinomial(m, np.array([(v == x).sum() for x in uniq]) / len(v)) @ uniq / m
            else:
                mean = v[rng.integers(0, len(v), size=m)].sum() / m
            total += c * mean
        boot.append(total)
    return float(np.std(boot, ddof=1))


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_resampling_draws_equal_a_per_resample_loop(kind):
    # The vectorised draws consume the generator exactly as one resample, one stratum at a
    # time would: the same resamples, so the same bootstrap figures.
    rng = np.random.default_rng(3)
    n_s = np.array([3, 7, 12, 1, 5])
    codes = np.repeat(np.arange(5), n_s)
    values = ((rng.random(codes.size) < 0.4).astype(float) if kind == "binary"
              else rng.normal(size=codes.size))
    got = stats._resampled_means(values, codes, n_s, np.random.default_rng(9), 60)
    rng = np.random.default_rng(9)
    uniq = np.unique(values)
    want = np.empty_like(got)
    for b in range(60):
        for s in range(5):
            v = np.sort(values[codes == s])
            if len(v) == 1:
                want[b, s] = v[0]
            elif kind == "binary":
                p = np.array([(v == x).sum() for x in uniq]) / len(v)
                want[b, s] = rng.multinomial(len(v) - 1, p) @ uniq / (len(v) - 1)
            else:
                want[b, s] = v[rng.integers(0, len(v), size=len(v) - 1)].sum() / (len(v) - 1)
    if kind == "binary":
        assert np.array_equal(got, want)
    else:  # same draws; sums in another order
        np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("continuous", [False, True])
def test_did_bootstrap_is_drawn_when_read_and_equals_the_plain_loop(continuous):
    import pickle

    rng = np.random.default_rng(12)
    rows = []
    for g, units in (("T", "ab"), ("C", "cdef")):
        for u in units:
            for p in ("pre", "post"):
                k = int(rng.integers(1, 9))
                v = rng.normal(3, 1, k) if continuous else rng.integers(1, 6, k).astype(float)
                rows += [(g, p, u, x) for x in v]
    rows += [("C", "pre", "g", 2.0)]  # seen in one period only: left out
    frame = pd.DataFrame(rows, columns=["group", "period", "unit", "value"])
    got = stats.difference_in_differences(frame.sample(frac=1, random_state=1), n_boot=300, seed=5)
    assert "_boot_se" not in got.__dict__  # nothing drawn until it is read
    want = loop_boot_se(frame, 300, 5)
    assert got.boot_se == pytest.approx(want, rel=1e-12)
    assert got.boot_se == got.boot_se
    # st.cache_data pickles evaluations: a copy made before reading draws the same resamples
    fresh = stats.difference_in_differences(frame, n_boot=300, seed=5)
    assert pickle.loads(pickle.dumps(fresh)).boot_se == got.boot_se
    assert math.isnan(stats.difference_in_differences(frame, n_boot=0).boot_se)
    assert math.isnan(stats.difference_in_differences(frame, n_boot=1).boot_se)


def test_did_bootstrap_se_matches_analytic_on_continuous_data():
    rng = np.random.default_rng(5)
    rows = []
    for g, units in (("T", range(3)), ("C", range(3, 10))):
        for u in units:
            for p in ("pre", "post"):
                k = int(rng.integers(5, 30))
                rows += [(g, p, u, v) for v in rng.normal(3 + 0.1 * u, 0.8, k)]
    frame = pd.DataFrame(rows, columns=["group", "period", "unit", "value"])
    got = stats.difference_in_differences(frame, n_boot=3000, seed=2)
    assert got.boot_se == pytest.approx(got.analytic_se, rel=0.06)
    # the interval used adds team-by-wave variance (>= 0) and a t quantile (>= z)
    assert got.ci_low <= got.analytic_ci_low + 1e-12 and got.ci_high >= got.analytic_ci_high - 1e-12


def _did_by_hand(teams: dict) -> dict:
    """Team-level DiD from scratch: estimate, tau2, variance and Satterthwaite df."""
    d, v, w = {}, {}, {}
    for u, (_g, pre, post) in teams.items():
        pre, post = np.array(pre, float), np.array(post, float)
        d[u] = post.mean() - pre.mean()
        v[u] = pre.var(ddof=1) / len(pre) + post.var(ddof=1) / len(post)
        w[u] = len(pre) + len(post)
    arms = {"T": [u for u in teams if teams[u][0] == "T"], "C": [u for u in teams if teams[u][0] == "C"]}
    q = sum(sum((d[u] - np.mean([d[x] for x in us])) ** 2 for u in us) for us in arms.values())
    e0 = sum((len(us) - 1) / len(us) * sum(v[u] for u in us) for us in arms.values())
    df_g = sum(len(us) - 1 for us in arms.values())
    tau2 = max(0.0, (q - e0) / df_g)
    weight = {u: w[u] / sum(w[x] for x in arms[teams[u][0]]) for u in teams}
    estimate = sum(weight[u] * d[u] * (1 if teams[u][0] == "T" else -1) for u in teams)
    var = sum(weight[u] ** 2 * (tau2 + v[u]) for u in teams)
    # Satterthwaite: df = 2 V^2 / Var(V), V = a tau2 + sum w^2 v. With tau2 > 0, Var(V) is the
    # scatter's variance (a/df_g)^2 Var(q) plus each within-team variance s2/n, entering with
    # weight w^2 minus its share (a/df_g)(G-1)/G in the moment estimate of tau2; with tau2
    # floored at 0 only the sampling terms are left.
    a = sum(weight[u] ** 2 for u in teams)
    var_q = 0.0
    for us in arms.values():
        s2 = np.array([tau2 + v[u] for u in us])
        big_g = len(us)
        var_q += 2 * ((s2**2).sum() * (1 - 2 / big_g) + s2.sum() ** 2 / big_g**2)
    var_v = 0.0
    for u, (g, pre, post) in teams.items():
        big_g = len(arms[g])
        for x in (np.array(pre, float), np.array(post, float)):
            c = weight[u] ** 2 - (a / df_g * (big_g - 1) / big_g if tau2 > 0 else 0.0)
            var_v += c**2 * 2 * (x.var(ddof=1) / len(x)) ** 2 / (len(x) - 1)
    var_total = (a / df_g) ** 2 * var_q * (tau2 > 0) + var_v
    return {"estimate": estimate, "tau2": tau2, "var": var, "df": 2 * var**2 / var_total}


def test_did_team_level_interval_by_hand():
    # 3 target and 4 comparison teams, equal sizes before and after (fixed-mix weights are
    # each team's share of its arm's respondents over both waves).
    teams = {  # unit: (group, values before, values after)
        "a": ("T", [1, 0, 0, 1, 1, 0], [0, 0, 0, 1, 0, 0]),
        "b": ("T", [1, 1, 0, 1, 1, 1, 0, 1], [0, 1, 0, 0, 1, 0, 0, 0]),
        "c": ("T", [0, 1, 1, 0, 1], [1, 0, 0, 0, 0]),
        "d": ("C", [0, 1, 0, 0, 1, 1], [1, 1, 1, 0, 1, 1]),
        "e": ("C", [1, 1, 1, 0, 0, 0, 1, 1], [1, 0, 0, 1, 0, 0, 1, 0]),
        "f": ("C", [0, 0, 1, 0, 1], [0, 1, 1, 1, 0]),
        "g": ("C", [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 0]),
    }
    frame = did_frame({(g, p, u): v for u, (g, pre, post) in teams.items()
                       for p, v in (("pre", pre), ("post", post))})
    got = stats.difference_in_differences(frame, n_boot=0)
    hand = _did_by_hand(teams)
    estimate = hand["estimate"]
    assert got.estimate == pytest.approx(estimate, abs=1e-12)
    assert got.team_variance == pytest.approx(hand["tau2"], abs=1e-12)
    assert got.se == pytest.approx(math.sqrt(hand["var"]), rel=1e-12)
    assert got.teams == {"target": 3, "comparison": 4} and got.withheld is None
    tq = sps.t.ppf(0.975, got.df)
    assert (got.ci_low, got.ci_high) == pytest.approx((estimate - tq * got.se, estimate + tq * got.se))
    assert got.p_value == pytest.approx(2 * sps.t.sf(abs(estimate) / got.se, got.df))
    assert math.isnan(got.boot_se)
    assert hand["tau2"] == 0 and got.df == pytest.approx(hand["df"], rel=1e-10)


def test_did_degrees_of_freedom_by_hand_with_team_noise():
    # teams whose changes scatter far beyond sampling: tau2 > 0, so the scatter's own
    # variance and the within-team variances' share in tau2 enter the df
    rng = np.random.default_rng(12)
    teams = {}
    for i in range(9):
        group = "T" if i < 4 else "C"
        shift = rng.normal(0, 0.6)
        size = int(rng.integers(5, 25))
        teams[f"u{i}"] = (group, list(np.round(rng.normal(3, 0.8, size), 1)),
                          list(np.round(rng.normal(3 + shift, 0.8, size + int(rng.integers(0, 6))), 1)))
    frame = did_frame({(g, p, u): v for u, (g, pre, post) in teams.items()
                       for p, v in (("pre", pre), ("post", post))})
    got = stats.difference_in_differences(frame, n_boot=0)
    hand = _did_by_hand(teams)
    assert hand["tau2"] > 0 and got.team_variance == pytest.approx(hand["tau2"], rel=1e-10)
    assert got.se == pytest.approx(math.sqrt(hand["var"]), rel=1e-10)
    assert got.df == pytest.approx(hand["df"], rel=1e-10)
    assert 1 < got.df < 2 * 7  # about the pooled team df (7), not the respondents'


def test_did_with_too_few_teams_withholds_the_verdict():
    got = stats.difference_in_differences(did_frame(TINY), n_boot=0)  # 2 teams a side: 2 df
    assert got.teams == {"target": 2, "comparison": 2}
    assert got.withheld and "Too few teams" in got.withheld
    assert stats.verdict(got, "low").label == stats.NOT_ENOUGH


def test_did_bootstrap_p_value_is_consistent_with_interval():
    frame = did_frame(TINY)
    got = stats.difference_in_differences(frame, n_boot=2000, seed=9)
    assert (got.p_value < 0.05) == (got.ci_high < 0 or got.ci_low > 0)
    assert 0 < got.p_value <= 1


def test_did_edge_cases():
    frame = did_frame({k: v for k, v in TINY.items() if k[0] == "T"})  # no comparison group
    got = stats.difference_in_differences(frame, n_boot=100)
    assert math.isnan(got.estimate) and got.n["comparison pre"] == 0
    assert stats.verdict(got, "low").label == stats.NOT_ENOUGH
    empty = stats.difference_in_differences(did_frame({}), n_boot=100)
    assert math.isnan(empty.ci_low)
    with_nan = did_frame(TINY)
    with_nan.loc[len(with_nan)] = ["T", "pre", "a", np.nan]
    assert stats.difference_in_differences(with_nan, n_boot=50).estimate == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        stats.difference_in_differences(did_frame({("T", "pre", "a"): [1], ("C", "pre", "a"): [0]}))
    with pytest.raises(ValueError):
        stats.difference_in_differences(did_frame({("X", "pre", "a"): [1]}))
    flat = did_frame({("T", "pre", "a"): [0] * 5, ("T", "post", "a"): [0] * 5,
                      ("C", "pre", "b"): [0, 1, 0, 1], ("C", "post", "b"): [1, 1, 0, 1]})
    assert any("same value" in x for x in stats.difference_in_differences(flat, n_boot=50).notes)


def simulate_org(rng: np.random.Generator, effect: float) -> pd.DataFrame:
    """4 target and 8 comparison teams, 8-25 respondents per team and period, a yes/no item.

    Teams differ in level (0.2-0.6), everyone drifts +0.03, target teams move `effect` more.
    Team-level values stay in (0, 1), so the true fixed-mix DiD is exactly `effect`.
    """
    units = np.arange(12)
    group = np.where(units < 4, "T", "C")
    base = rng.uniform(0.2, 0.6, size=12)
    parts = []
    for period, shift in (("pre", 0.0), ("post", 0.03)):
        k = rng.integers(8, 26, size=12)
        unit = np.repeat(units, k)
        p = base[unit] + shift + effect * ((period == "post") & (group[unit] == "T"))
        parts.append(pd.DataFrame({"group": group[unit], "period": period, "unit": unit,
                                   "value": (rng.random(unit.size) < p).astype(float)}))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.slow
def test_did_simulation_coverage_and_false_alarms():
    # 300 organisations with a true effect of +0.10 and 300 with none (the team-level interval
    # needs no bootstrap, so none is drawn). Binomial SE of a 95%
    # rate over 300 runs is 1.3 points, so 0.90-0.99 is about +/-3.5 SE; for 5% false alarms
    # 0.08 is about 2.4 SE above.
    rng = np.random.default_rng(20240601)
    sims = 300
    covered = alarms = 0
    for _ in range(sims):
        res = stats.difference_in_differences(simulate_org(rng, 0.10), n_boot=0)
        covered += res.ci_low <= 0.10 <= res.ci_high
        null = stats.difference_in_differences(simulate_org(rng, 0.0), n_boot=0)
        alarms += stats.verdict(null, "low").label != stats.NO_CLEAR_CHANGE
    assert 0.90 <= covered / sims <= 0.99
    assert alarms / sims <= 0.08


# --------------------------------------------------------------------------------------------
# Parallel trends
# --------------------------------------------------------------------------------------------
def waves_frame(rng, slopes: dict[str, float], waves=(2021, 2022, 2023), n=400) -> pd.DataFrame:
    parts = []
    for w_i, wave in enumerate(waves):
        for g, slope in slopes.items():
            for u in range(3):
                p = 0.4 + slope * w_i
                unit = f"{g}{u}"
                parts.append(pd.DataFrame({"group": g, "wave": wave, "unit": unit,
                                           "value": (rng.random(n) < p).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def test_parallel_trends_equals_placebo_did_on_last_two_waves():
    frame = waves_frame(np.random.default_rng(1), {"T": 0.0, "C": 0.0})
    got = stats.parallel_trends(frame, n_boot=300, seed=4)
    pair = frame[frame["wave"] > 2021]
    placebo = pair.assign(period=np.where(pair["wave"] == 2023, "post", "pre"))
    ref = stats.difference_in_differences(placebo, n_boot=300, seed=4)
    assert (got.estimate, got.ci_low, got.ci_high) == (ref.estimate, ref.ci_low, ref.ci_high)
    assert got.waves == (2022, 2023) and got.differs is False
    assert any("last two of 3" in x for x in got.notes)


def test_parallel_trends_flags_diverging_groups():
    frame = waves_frame(np.random.default_rng(2), {"T": 0.15, "C": 0.0}, waves=(1, 2))
    got = stats.parallel_trends(frame, n_boot=300)
    assert got.differs is True and got.ci_low > 0 and "caution" in got.flag


def test_parallel_trends_needs_two_pre_waves():
    frame = waves_frame(np.random.default_rng(3), {"T": 0.0, "C": 0.0}, waves=(2023,))
    got = stats.parallel_trends(frame)
    assert got.differs is None and math.isnan(got.estimate) and "Not checked" in got.flag


# --------------------------------------------------------------------------------------------
# Absence rate ratio
# --------------------------------------------------------------------------------------------
def test_rate_ratio_single_month_each_side_by_hand():
    monthly = pd.DataFrame({"month": ["2024-01-01", "2024-02-01"], "days_lost": [300.0, 240.0],
                            "days_available": [6000.0, 6400.0]})
    got = stats.rate_ratio(monthly, "2024-02-01")
    ratio = (240 / 6400) / (300 / 6000)
    se = math.sqrt(1 / 300 + 1 / 240)
    assert got.estimate == pytest.approx(ratio)
    assert (got.ci_low, got.ci_high) == pytest.approx(
        (ratio * math.exp(-Z * se), ratio * math.exp(Z * se))
    )
    low, high = confint_poisson_2indep(240, 6400, 300, 6000, method="wald-log")
    assert (got.poisson_ci_low, got.poisson_ci_high) == pytest.approx((low, high))
    assert got.p_value == pytest.approx(2 * sps.norm.sf(abs(math.log(ratio)) / se))
    assert math.isnan(got.dispersion) and got.notes


def test_rate_ratio_poisson_check_and_no_verdict_without_team_rows():
    months = pd.date_range("2023-01-01", periods=12, freq="MS")
    lost = np.array([410, 380, 350, 300, 290, 330, 300, 260, 250, 300, 280, 240], dtype=float)
    avail = np.full(12, 9000.0)
    monthly = pd.DataFrame({"month": months, "days_lost": lost, "days_available": avail})
    got = stats.rate_ratio(monthly, "2023-07-01")
    pre, post = slice(0, 6), slice(6, 12)
    r_pre, r_post = lost[pre].sum() / avail[pre].sum(), lost[post].sum() / avail[post].sum()
    expected = np.concatenate([avail[pre] * r_pre, avail[post] * r_post])
    phi = np.sum((lost - expected) ** 2 / expected) / (12 - 2)
    se = math.sqrt(1 / lost[pre].sum() + 1 / lost[post].sum())
    assert got.dispersion == pytest.approx(phi)
    assert got.poisson_ci_high == pytest.approx(r_post / r_pre * math.exp(Z * se))
    assert got.months == {"pre": 6, "post": 6}
    # a pooled series with no team rows and 6 months a side: no verdict, for both reasons
    assert got.withheld and "12 months" in got.withheld
    assert stats.verdict(got, "low").label == stats.NOT_ENOUGH


def _team_months(rng, teams: int, months, effect_from=None, effect=1.0, fte=(20, 60)):
    rows = []
    for u in range(teams):
        avail = rng.uniform(*fte) * months.days_in_month.to_numpy()
        mu = avail * 0.05 * (1 + 0.2 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12))
        if effect_from is not None:
            mu = mu * np.where(months >= effect_from, effect, 1.0)
        lost = rng.negative_binomial(mu / 9, 1 / 10).astype(float)  # variance 10x the mean
        rows.append(_series(months, lost, avail).assign(unit=f"u{u}"))
    return pd.concat(rows, ignore_index=True)


def test_rate_ratio_is_team_level_quasi_poisson_checked_against_statsmodels():
    rng = np.random.default_rng(4)
    months = pd.date_range("2023-01-01", periods=25, freq="MS")
    frame = _team_months(rng, 5, months)
    got = stats.rate_ratio(frame, "2024-01-10")  # mid-month: January 2024 left out
    keep = frame.month != pd.Timestamp("2024-01-01")
    t = frame[keep].assign(post=(frame.month[keep] > pd.Timestamp("2024-01-01")).astype(int))
    totals = t.groupby(["unit", "post"], as_index=False)[["days_lost", "days_available"]].sum()
    fit = smf.glm("days_lost ~ C(unit) + post", data=totals, family=sm.families.Poisson(),
                  offset=np.log(totals.days_available)).fit(scale="X2")
    assert fit.scale > 1
    assert got.estimate == pytest.approx(math.exp(fit.params["post"]), rel=1e-8)
    assert got.df == 5 - 1
    tq = sps.t.ppf(0.975, 4)
    b, se = fit.params["post"], fit.bse["post"]
    assert (got.ci_low, got.ci_high) == pytest.approx((math.exp(b - tq * se), math.exp(b + tq * se)),
                                                      rel=1e-6)
    assert got.p_value == pytest.approx(2 * sps.t.sf(abs(b) / se, 4), rel=1e-6)
    assert got.withheld is None and got.months == {"pre": 12, "post": 12}
    assert stats.verdict(got, "low").design_level == 2


def test_rate_ratio_with_two_teams_gives_no_verdict():
    rng = np.random.default_rng(5)
    frame = _team_months(rng, 2, pd.date_range("2023-01-01", periods=24, freq="MS"))
    got = stats.rate_ratio(frame, "2024-01-01")
    assert got.withheld and "Fewer than 3 teams" in got.withheld
    assert np.isfinite(got.estimate)  # the month series is still shown


def test_rate_ratio_edge_cases():
    zero = pd.DataFrame({"month": ["2024-01-01", "2024-02-01"], "days_lost": [0.0, 5.0],
                         "days_available": [100.0, 100.0]})
    got = stats.rate_ratio(zero, "2024-02-01")
    assert math.isnan(got.estimate) and got.post_rate == pytest.approx(0.05)
    assert stats.verdict(got, "low").label == stats.NOT_ENOUGH
    only_pre = stats.rate_ratio(zero, "2025-01-01")
    assert math.isnan(only_pre.estimate) and only_pre.months["post"] == 0
    with pytest.raises(ValueError):
        stats.rate_ratio(zero[["month", "days_lost"]], "2024-02-01")


# --------------------------------------------------------------------------------------------
# Absence: ratio of rate ratios (comparison-group design)
# --------------------------------------------------------------------------------------------
def _series(months, lost, avail) -> pd.DataFrame:
    return pd.DataFrame({"month": months, "days_lost": np.asarray(lost, dtype=float),
                         "days_available": np.asarray(avail, dtype=float)})


def _hand_pair():
    months = pd.date_range("2023-01-01", periods=6, freq="MS")
    target = _series(months, [40, 25, 33, 20, 26, 15], [600, 560, 600, 580, 600, 580])
    comparison = _series(months, [150, 190, 140, 175, 130, 160], [3000, 2800, 3000, 2900, 3000, 2900])
    return target, comparison


def test_rate_ratio_did_crude_ratios_and_poisson_check_by_hand():
    target, comparison = _hand_pair()
    got = stats.rate_ratio_did(target, comparison, "2023-04-01")
    pre, post = slice(0, 3), slice(3, 6)
    a, b = target.days_lost[pre].sum(), target.days_lost[post].sum()
    c, d = comparison.days_lost[pre].sum(), comparison.days_lost[post].sum()
    ra, rb = a / target.days_available[pre].sum(), b / target.days_available[post].sum()
    rc, rd = c / comparison.days_available[pre].sum(), d / comparison.days_available[post].sum()
    ratio = (rb / ra) / (rd / rc)
    assert got.target_ratio == pytest.approx(rb / ra) and got.comparison_ratio == pytest.approx(rd / rc)
    rate_of = np.array([ra] * 3 + [rb] * 3 + [rc] * 3 + [rd] * 3)
    obs = np.concatenate([target.days_lost, comparison.days_lost])
    expected = np.concatenate([target.days_available, comparison.days_available]) * rate_of
    phi = np.sum((obs - expected) ** 2 / expected) / (12 - 4)
    assert phi > 1 and got.dispersion == pytest.approx(phi)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    assert (got.poisson_ci_low, got.poisson_ci_high) == pytest.approx(
        (ratio * math.exp(-Z * se), ratio * math.exp(Z * se)))
    # no team rows: the estimate shown is the pooled model's, the ratio of the four rates
    assert got.estimate == pytest.approx(ratio, rel=1e-9)
    assert got.months == {"target pre": 3, "target post": 3, "comparison pre": 3, "comparison post": 3}
    assert not got.seasonal and got.null == 1.0 and got.comparison_group
    assert got.withheld  # 3 months a side and no team rows: no verdict
    assert stats.verdict(got, "low").design_level == 3


def test_rate_ratio_did_team_level_matches_statsmodels_interaction():
    rng = np.random.default_rng(11)
    months = pd.date_range("2022-07-01", periods=25, freq="MS")
    target = _team_months(rng, 3, months, "2023-08-01", 0.75)
    comparison = _team_months(rng, 6, months).assign(unit=lambda f: "c" + f.unit)
    got = stats.rate_ratio_did(target, comparison, "2023-07-10")
    long = pd.concat([target.assign(target=1), comparison.assign(target=0)])
    long = long[long.month != pd.Timestamp("2023-07-01")]
    long["post"] = (long.month >= pd.Timestamp("2023-08-01")).astype(int)
    totals = long.groupby(["unit", "target", "post"], as_index=False)[
        ["days_lost", "days_available"]].sum()
    fit = smf.glm("days_lost ~ C(unit) + post + target:post", data=totals,
                  family=sm.families.Poisson(), offset=np.log(totals.days_available)).fit(scale="X2")
    assert fit.scale > 1
    b, se = fit.params["target:post"], fit.bse["target:post"]
    assert got.estimate == pytest.approx(math.exp(b), rel=1e-7)
    assert got.df == 9 - 2
    tq = sps.t.ppf(0.975, 7)
    assert (got.ci_low, got.ci_high) == pytest.approx((math.exp(b - tq * se), math.exp(b + tq * se)),
                                                      rel=1e-6)
    assert got.withheld is None and got.seasonal
    assert got.months["target pre"] == 12 and got.months["target post"] == 12
    assert any("left out of both periods" in n for n in got.notes)


def test_rate_ratio_did_seasonal_terms_remove_a_season_on_unequal_months():
    # Noise-free rates with an exactly log-harmonic season and a true ratio of ratios of 0.8.
    # The target has no winter months after the start, so the crude ratio of the four rates
    # mistakes the season for an effect; the comparison series (and its season terms) recover 0.8.
    months = pd.date_range("2022-01-01", periods=36, freq="MS")
    season = np.exp(0.3 * np.cos(2 * np.pi * months.month / 12))
    post = months >= "2023-07-01"
    comparison = _series(months, 3000 * 0.05 * season, np.full(36, 3000.0))
    lost_t = 600 * 0.06 * season * np.where(post, 0.8, 1.0)
    keep = ~post | months.month.isin([5, 6, 7, 8, 9])
    target = _series(months[keep], lost_t[keep], np.full(int(keep.sum()), 600.0))
    got = stats.rate_ratio_did(target, comparison, "2023-07-01")
    assert got.estimate == pytest.approx(0.8, rel=1e-6)
    crude = got.target_ratio / got.comparison_ratio
    assert abs(crude - 0.8) > 0.05
    assert got.withheld  # no team rows, and only 5 months after the start


def test_rate_ratio_did_single_month_each_side_is_the_four_cell_wald_interval():
    months = ["2024-01-01", "2024-02-01"]
    target = _series(months, [60, 30], [1200, 1000])
    comparison = _series(months, [300, 280], [6000, 5800])
    got = stats.rate_ratio_did(target, comparison, "2024-02-01")
    ratio = ((30 / 1000) / (60 / 1200)) / ((280 / 5800) / (300 / 6000))
    se = math.sqrt(1 / 60 + 1 / 30 + 1 / 300 + 1 / 280)
    assert got.estimate == pytest.approx(ratio)
    assert (got.ci_low, got.ci_high) == pytest.approx((ratio * math.exp(-Z * se), ratio * math.exp(Z * se)))
    assert math.isnan(got.dispersion) and any("too narrow" in n for n in got.notes)


def test_rate_ratio_did_edge_cases():
    target, comparison = _hand_pair()
    # zero days lost in one cell: no ratio, and the verdict says not enough data
    none_after = comparison.assign(days_lost=np.where(comparison.month >= "2023-04-01", 0.0,
                                                      comparison.days_lost))
    got = stats.rate_ratio_did(target, none_after, "2023-04-01")
    assert math.isnan(got.estimate) and "comparison post" in got.notes[-1]
    assert got.rates["comparison post"] == 0.0
    assert stats.verdict(got, "low").label == stats.NOT_ENOUGH
    # no comparison rows at all
    empty = stats.rate_ratio_did(target, comparison.iloc[:0], "2023-04-01")
    assert math.isnan(empty.estimate) and math.isnan(empty.comparison_ratio)
    assert empty.months["comparison pre"] == 0
    assert stats.verdict(empty, "low").label == stats.NOT_ENOUGH
    # no months after the start
    late = stats.rate_ratio_did(target, comparison, "2025-01-01")
    assert math.isnan(late.estimate) and late.months["target post"] == 0
    # a target ratio equal to the comparison's is exactly null
    same = stats.rate_ratio_did(comparison, comparison, "2023-04-01")
    assert same.estimate == pytest.approx(1.0) and same.ci_low <= 1 <= same.ci_high
    with pytest.raises(ValueError):
        stats.rate_ratio_did(target, comparison[["month", "days_lost"]], "2023-04-01")


# --------------------------------------------------------------------------------------------
# Interrupted time series
# --------------------------------------------------------------------------------------------
def test_its_recovers_known_level_and_slope_change_exactly():
    months = pd.date_range("2022-01-01", periods=20, freq="MS")
    t = np.arange(20)
    after = t >= 10
    rate = 0.05 + 0.001 * t - 0.008 * after - 0.0005 * after * (t - 10)
    got = stats.interrupted_time_series(pd.DataFrame({"month": months, "rate": rate}),
                                        "2022-11-01")
    est = got.coefficients.set_index("term")["estimate"]
    assert est["baseline level"] == pytest.approx(0.05)
    assert est["pre-trend (per month)"] == pytest.approx(0.001)
    assert got.level_change.estimate == pytest.approx(-0.008)
    assert got.slope_change.estimate == pytest.approx(-0.0005)
    assert got.change_at_end.estimate == pytest.approx(-0.008 - 0.0005 * 9)
    assert not got.seasonal and any("24 months" in x for x in got.notes)
    cf = got.series["counterfactual"].to_numpy()
    assert cf == pytest.approx(0.05 + 0.001 * t)
    assert got.series["fitted"].to_numpy() == pytest.approx(rate)


def _reml_by_hand(y: np.ndarray, x: np.ndarray, rho: float) -> float:
    """AR(1) restricted log-likelihood from the dense covariance (profiled over the variance)."""
    n, k = x.shape
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    v = rho**lag / (1 - rho**2)
    vi = np.linalg.inv(v)
    beta = np.linalg.solve(x.T @ vi @ x, x.T @ vi @ y)
    r = y - x @ beta
    return -0.5 * (np.linalg.slogdet(v)[1] + np.linalg.slogdet(x.T @ vi @ x)[1]
                   + (n - k) * math.log(r @ vi @ r / (n - k)))


def test_ar1_gls_matches_dense_gls_and_reml_by_hand():
    rng = np.random.default_rng(8)
    n = 30
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = 0.6 * e[t - 1] + rng.normal()
    x = np.column_stack([np.ones(n), (np.arange(n) >= 15).astype(float), np.arange(n) / 10])
    y = x @ np.array([1.0, -0.5, 0.2]) + e
    got = stats.ar1_gls(y, x, term=1)
    grid = np.linspace(0, 0.95, 96)
    ll = [_reml_by_hand(y, x, r) for r in grid]
    assert got.rho == pytest.approx(grid[int(np.argmax(ll))])
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    fit = sm.GLS(y, x, sigma=got.rho**lag).fit()
    assert got.params == pytest.approx(fit.params, rel=1e-8)
    assert got.se == pytest.approx(fit.bse[1], rel=1e-8)
    assert got.df == n - 3 - 1


def test_its_with_seasonality_is_ar1_gls_on_the_hand_design():
    rng = np.random.default_rng(8)
    months = pd.date_range("2021-01-01", periods=36, freq="MS")
    t = np.arange(36.0)
    after = (t >= 20).astype(float)
    moy = months.month.to_numpy()
    season = 0.006 * np.cos(2 * np.pi * moy / 12)
    avail = rng.uniform(8000, 9000, size=36)
    rate = 0.045 + 0.0002 * t - 0.004 * after + 0.0001 * after * (t - 20) + season
    rate = rate + rng.normal(0, 0.0015, size=36)
    monthly = pd.DataFrame({"month": months, "days_lost": rate * avail, "days_available": avail})
    got = stats.interrupted_time_series(monthly, "2022-09-01")
    design = np.column_stack(
        [np.ones(36), t, after, after * (t - 20)]
        + [f(2 * np.pi * k * moy / 12) for k in (1, 2) for f in (np.sin, np.cos)]
    )
    fit = stats.ar1_gls(rate, design, term=2)
    assert got.seasonal
    assert got.coefficients["estimate"].to_numpy() == pytest.approx(fit.params, rel=1e-8, abs=1e-12)
    tq = sps.t.ppf(0.975, 36 - design.shape[1] - 1)
    assert (got.level_change.ci_low, got.level_change.ci_high) == pytest.approx(
        (fit.params[2] - tq * fit.se, fit.params[2] + tq * fit.se))
    c = np.zeros(design.shape[1])
    c[2], c[3] = 1.0, 15.0
    assert got.change_at_end.estimate == pytest.approx(c @ fit.params)
    assert got.change_at_end.ci_high == pytest.approx(c @ fit.params + tq * math.sqrt(c @ fit.cov @ c))
    cf_design = design.copy()
    cf_design[:, 2:4] = 0
    assert got.series["counterfactual"].to_numpy() == pytest.approx(cf_design @ fit.params)
    # 20 months before and 16 after: fewer than 24 a side, so the intervals are not for a verdict
    assert got.withheld and "24 months" in got.withheld


def test_its_intervals_never_give_a_verdict():
    # 30 months either side: past the 24-month minimum, yet the intervals are withheld because
    # they were too narrow on simulated organisations with long spells (docs/calibration.md)
    rng = np.random.default_rng(4)
    months = pd.date_range("2020-01-01", periods=60, freq="MS")
    monthly = pd.DataFrame({"month": months, "rate": 0.045 + rng.normal(0, 0.002, 60)})
    got = stats.interrupted_time_series(monthly, "2022-07-01")
    assert got.months == {"pre": 30, "post": 30} and got.level_change is not None
    assert got.withheld == stats.ITS_NO_VERDICT and got.withheld in got.notes


def test_before_after_ratio_compares_the_same_calendar_months():
    # 18 months either side: the team-level ratio uses the 12 next to the start, so a winter
    # peak falling twice before and once after cannot pose as a change
    months = pd.date_range("2021-01-01", periods=36, freq="MS")
    rows = []
    for unit in range(4):
        for i, m in enumerate(months):
            lost = 100 + 40 * (m.month in (12, 1, 2)) + 5 * unit + (3 if i % 2 else 0)
            rows.append((unit, m, float(lost), 3000.0))
    frame = pd.DataFrame(rows, columns=["unit", "month", "days_lost", "days_available"])
    got = stats.rate_ratio(frame, "2022-07-01")
    inner = frame[(frame.month >= "2021-07-01") & (frame.month < "2023-07-01")]
    pre = inner[inner.month < "2022-07-01"].days_lost.sum()
    post = inner[inner.month >= "2022-07-01"].days_lost.sum()
    assert got.estimate == pytest.approx(post / pre, rel=1e-9)  # equal days available
    assert got.months == {"pre": 18, "post": 18}
    assert any("same calendar months" in n for n in got.notes)
    assert stats.matched_months(18, 18) == 12 and stats.matched_months(11, 30) == 0


def test_its_edge_cases():
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    monthly = pd.DataFrame({"month": months, "rate": [0.05, 0.04, np.nan, 0.05, 0.04, 0.05]})
    short = stats.interrupted_time_series(monthly, "2024-04-01")
    assert short.level_change is None and short.coefficients.empty
    assert short.months == {"pre": 2, "post": 3}  # the NaN month is dropped
    mid = stats.interrupted_time_series(
        pd.DataFrame({"month": pd.date_range("2024-01-01", periods=12, freq="MS"),
                      "rate": np.linspace(0.04, 0.06, 12)}), "2024-06-10")
    assert mid.months == {"pre": 5, "post": 6}
    transition = mid.series[mid.series["period"] == "transition"]
    assert len(transition) == 1 and transition["fitted"].isna().all()
    with pytest.raises(ValueError):
        stats.interrupted_time_series(
            pd.DataFrame({"month": ["2024-01-01", "2024-01-01"], "rate": [0.1, 0.2]}),
            "2024-01-01",
        )


# --------------------------------------------------------------------------------------------
# Multiple comparisons
# --------------------------------------------------------------------------------------------
def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005 0.01 0.03 0.04 x 4 3 2 1 = 0.02 0.03 0.06 0.04 -> running max
    holm = stats.adjust_pvalues(p, "holm")
    assert holm.p_adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert holm.reject == (True, False, False, True)
    assert "Holm" in holm.label and holm.method == "holm"
    # BH: p x 4/rank = 0.02 0.02 0.04 0.04 -> running min from the top
    bh = stats.adjust_pvalues(p, "bh")
    assert bh.p_adjusted == pytest.approx((0.02, 0.04, 0.04, 0.02))
    assert bh.reject == (True, True, True, True)
    assert "Benjamini-Hochberg" in bh.label


def test_holm_equals_statsmodels_bit_for_bit():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(8)
    cases = [rng.random(k) ** 3 for k in range(1, 13)]
    cases += [np.array([0.0125, 0.0125, 0.025, 0.05]), np.array([0.6, 0.6, 0.6]),
              np.array([0.01, 0.02, 0.9, 0.9]), np.array([0.05 / 3, 0.025, 0.05])]
    for p in cases:
        want_reject, want_adj, _, _ = multipletests(p, alpha=0.05, method="holm")
        got = stats.adjust_pvalues(p, "holm")
        assert got.p_adjusted == tuple(float(x) for x in want_adj)
        assert got.reject == tuple(bool(x) for x in want_reject)


def test_adjustment_passes_nan_through():
    got = stats.adjust_pvalues([0.02, float("nan"), 0.04], "holm")
    assert got.p_adjusted[0] == pytest.approx(0.04) and math.isnan(got.p_adjusted[1])
    assert got.reject == (True, False, True)  # 0.04 and 0.04 are both below 0.05
    with pytest.raises(ValueError):
        stats.adjust_pvalues([0.1], "bonferroni")


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------
def effect(est, low, high, n=None, null=0.0, comparison=False) -> stats.Estimate:
    n = {"pre": 100, "post": 100} if n is None else n
    return stats.Estimate("test", est, low, high, 0.01, n, null, comparison)


@pytest.mark.parametrize(
    ("est", "low", "high", "favourable", "label"),
    [
        (-0.08, -0.12, -0.03, "low", stats.IMPROVED),
        (-0.08, -0.12, -0.03, "high", stats.WORSENED),
        (0.3, 0.1, 0.5, "high", stats.IMPROVED),
        (0.3, 0.1, 0.5, "low", stats.WORSENED),
        (0.02, -0.01, 0.05, "low", stats.NO_CLEAR_CHANGE),
        (0.0, 0.0, 0.05, "low", stats.NO_CLEAR_CHANGE),  # touching the null is not clear
        (float("nan"), float("nan"), float("nan"), "low", stats.NOT_ENOUGH),
    ],
)
def test_verdict_labels(est, low, high, favourable, label):
    assert stats.verdict(effect(est, low, high, comparison=True), favourable).label == label


def test_before_after_verdict_says_changed_after_not_improved():
    # no comparison group (Magenta Book level 2): "changed after", never "improved"
    fav = stats.verdict(effect(-0.08, -0.12, -0.03), "low")
    assert fav.label == stats.CHANGED_FAVOURABLY and fav.design_level == 2
    bad = stats.verdict(effect(-0.08, -0.12, -0.03), "high")
    assert bad.label == stats.CHANGED_UNFAVOURABLY
    assert "improved" not in fav.label + fav.summary and "could explain" in fav.summary
    assert stats.verdict(effect(0.02, -0.01, 0.05), "low").label == stats.NO_CLEAR_CHANGE


def test_withheld_effect_gives_no_verdict_with_its_reason():
    class Withheld:
        estimate, ci_low, ci_high, null, comparison_group = -0.1, -0.2, -0.05, 0.0, True
        n = {"target pre": 20, "target post": 20}
        withheld = "Too few teams for a reliable interval."

    got = stats.verdict(Withheld(), "low")
    assert got.label == stats.NOT_ENOUGH
    assert got.warnings[-1] == Withheld.withheld and "Small samples" in got.warnings[0]


def test_verdict_ratio_uses_null_of_one():
    below = effect(0.85, 0.78, 0.93, n={}, null=1.0, comparison=True)
    assert stats.verdict(below, "low").label == stats.IMPROVED
    assert stats.verdict(effect(0.9, 0.8, 1.02, n={}, null=1.0), "low").label == (
        stats.NO_CLEAR_CHANGE
    )


def test_verdict_design_level_and_small_sample_warning():
    small = effect(-0.2, -0.3, -0.1, n={"target pre": 24, "target post": 40,
                                       "comparison pre": 300, "comparison post": 310},
                   comparison=True)
    got = stats.verdict(small, "low")
    assert got.design_level == 3 and "level 3" in got.design
    assert len(got.warnings) == 1 and "target pre (24)" in got.warnings[0]
    assert "comparison" not in got.warnings[0]
    before_after = stats.verdict(effect(-0.2, -0.3, -0.1), "low")
    assert before_after.design_level == 2 and before_after.warnings == ()


def test_verdict_anonymity_and_empty_groups():
    few = effect(-0.2, -0.3, -0.1, n={"pre": 8, "post": 40})
    got = stats.verdict(few, "low", anonymity_threshold=10)
    assert got.label == stats.NOT_ENOUGH and "anonymity" in got.warnings[0]
    assert stats.verdict(few, "low").label == stats.CHANGED_FAVOURABLY  # threshold not given
    empty = effect(-0.2, -0.3, -0.1, n={"pre": 0, "post": 40})
    assert stats.verdict(empty, "low").label == stats.NOT_ENOUGH


def test_verdict_respects_multiple_comparison_correction():
    clear = effect(-0.2, -0.3, -0.1, comparison=True)
    kept = stats.verdict(clear, "low", p_adjusted=0.01, correction="Holm")
    assert kept.label == stats.IMPROVED
    lost = stats.verdict(clear, "low", p_adjusted=0.2, correction="Holm")
    assert lost.label == stats.NO_CLEAR_CHANGE and "Holm" in lost.warnings[0]


def test_verdict_carries_a_failed_parallel_trends_check():
    clear = effect(-0.2, -0.3, -0.1, comparison=True)
    frame = waves_frame(np.random.default_rng(2), {"T": 0.15, "C": 0.0}, waves=(1, 2))
    diverging = stats.parallel_trends(frame, n_boot=200)
    got = stats.verdict(clear, "low", trend=diverging)
    assert got.label == stats.IMPROVED and got.warnings == (diverging.flag,)
    parallel = waves_frame(np.random.default_rng(1), {"T": 0.0, "C": 0.0})
    assert stats.verdict(clear, "low", trend=stats.parallel_trends(parallel, n_boot=200)).warnings == ()


def test_verdict_wording_never_claims_cause():
    banned = ("caused", "causes", "because of", "due to", "proves", "proof", "impact of",
              "resulted in", "led to", "thanks to")
    texts = []
    for est, low, high in ((-0.2, -0.3, -0.1), (0.2, 0.1, 0.3), (0.0, -0.1, 0.1)):
        for comparison in (False, True):
            for fav in ("low", "high"):
                v = stats.verdict(effect(est, low, high, {"pre": 12, "post": 50},
                                         comparison=comparison), fav, p_adjusted=0.5)
                texts += [v.summary, v.design, *v.warnings]
    texts += [stats.verdict(effect(np.nan, np.nan, np.nan), "low").summary]
    texts += [stats.parallel_trends(pd.DataFrame({"group": [], "wave": [], "unit": [],
                                                  "value": []})).flag]
    for text in texts:
        assert not any(word in text.lower() for word in banned), text
    with pytest.raises(ValueError):
        stats.verdict(effect(0, -1, 1), "up")


def test_weighted_pearson_and_small_n():
    x, y, w = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], [10, 40, 10, 40]
    cov = np.cov(x, y, aweights=w)
    assert stats.weighted_pearson(x, y, w) == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
    assert stats.weighted_pearson(x, y, [1, 1, 1, 1]) == pytest.approx(sps.pearsonr(x, y).statistic)
    assert stats.weighted_pearson([1, 2], [1, 2], [1, 1]) is None
    assert stats.small_n([9, 10, 29, 30, np.nan]).tolist() == [True, True, True, False, False]


def test_wilson_bounds_is_the_closed_form_for_arrays_and_scalars():
    # Closed form (Wilson 1927), worked independently of statsmodels.
    x, n, z = np.array([0.0, 12.0, 39.5]), np.array([10.0, 40.0, 40.0]), 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = stats.wilson_bounds(x, n)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    one = stats.wilson_interval(12, 40)
    assert (one.low, one.high) == pytest.approx((low[1], high[1]), abs=1e-15)


def test_binomial_limits_of_repeated_sizes_equal_each_worked_out_alone():
    # the limits are worked out once per distinct (p0, n): every element must equal the limit
    # worked out over the whole array as before, and the one computed for it on its own, whatever
    # the order, repeats, shapes or a scalar input. To rounding only: scipy's vectorised
    # quantile differs in the last bit with an element's place in the array
    rng = np.random.default_rng(3)
    n = rng.choice([1, 3, 10, 10.4, 57, 200, 1500], size=400)
    p0 = rng.choice([0.0, 0.02, 0.31, 0.5, 0.97, 1.0], size=400)

    def every(p, m, q):   # the formula over the whole array, no element shared
        p, m = np.broadcast_arrays(np.asarray(p, dtype=float), np.maximum(np.rint(m), 1.0))
        r = sps.binom.ppf(q, m, p)
        f_r, f_below = sps.binom.cdf(r, m, p), sps.binom.cdf(r - 1, m, p)
        step = f_r - f_below
        frac = np.divide(f_r - q, step, out=np.zeros_like(step), where=step > 0)
        return np.clip((r - frac) / m, 0.0, 1.0)

    coverage = 0.95
    lo, hi = stats.binomial_limits(p0, n, coverage)
    assert lo.shape == hi.shape == (400,)
    assert lo == pytest.approx(every(p0, n, 0.025), rel=1e-12, abs=1e-15)
    assert hi == pytest.approx(every(p0, n, 0.975), rel=1e-12, abs=1e-15)
    alone = [float(every(p, m, 0.025)) for p, m in zip(p0, n, strict=True)]
    assert lo == pytest.approx(alone, rel=1e-12, abs=1e-15)
    lo1, hi1 = stats.binomial_limits(0.31, 57, coverage)           # scalars
    assert float(lo1) == pytest.approx(float(every(0.31, 57, 0.025)), rel=1e-12)
    assert float(hi1) == pytest.approx(float(every(0.31, 57, 0.975)), rel=1e-12)
    grid_lo, _ = stats.binomial_limits(0.31, n.reshape(20, 20), coverage)   # broadcast, 2-D
    assert grid_lo.shape == (20, 20)
    assert grid_lo.ravel() == pytest.approx(every(0.31, n, 0.025), rel=1e-12, abs=1e-15)
    empty_lo, empty_hi = stats.binomial_limits(0.5, np.array([]), coverage)
    assert empty_lo.shape == empty_hi.shape == (0,)
    # one centre (a funnel's) takes the distinct sizes only: the same limits as the centre
    # given for every element
    for one, each in zip(stats.binomial_limits(0.31, n, coverage),
                         stats.binomial_limits(np.full(n.shape, 0.31), n, coverage), strict=True):
        assert one == pytest.approx(each, rel=1e-12, abs=1e-15)
