"""Calibration harness: do the intervention statistics keep their promises under realistic noise?

Each method runs many times on simulated organisations whose truth is known (team-by-wave noise,
few or many teams, HSE-style means, seasonal absence with long spells and AR(1) months) and on
placebo start dates in the demo organisation's own absence data (no intervention there). The
tables give coverage of the true effect by the 95% interval and the false-alarm rate when
nothing happened, each with its Monte Carlo standard error, and whether it sits in its band.
`python -m dashboard validate` prints them; `make validate` writes docs/calibration.md.
Thousands of runs per scenario fit in minutes on two shared cores because the runs are
batched in numpy (team summaries for the survey DiD, team x month arrays for absence) and go
through the same statistical cores as the app (`stats.team_level_batch`,
`stats.team_quasi_poisson_arrays`, `stats.ar1_gls`); tests check both paths agree.
"""
from __future__ import annotations

import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from dashboard import stats

COVERAGE_BAND = (0.93, 0.97)
SURVEY_ALARM_MAX = 0.05
ABSENCE_ALARM_MAX = 0.07
SURVEY_NOISE = (0.0, 1.5, 3.0, 5.0)  # team-by-wave SD, percentage points (0-100 scale)


@dataclass(frozen=True)
class Row:
    """One method on one scenario: the rates seen, their Monte Carlo error, and the verdict."""

    method: str
    scenario: str
    measure: str  # "coverage" or "false alarms"
    runs: int  # runs that gave a verdict
    withheld: int  # runs where the method withheld its verdict (too few teams / months)
    rate: float
    mc_se: float
    band: str
    ok: bool
    margin: float = math.nan  # distance inside the band's nearest edge, in Monte Carlo SEs


def _row(method: str, scenario: str, measure: str, hits: np.ndarray, withheld: int) -> Row:
    """Summarise hits (True = covered, or True = false alarm) against the measure's band."""
    runs = int(len(hits))
    if runs == 0:
        return Row(method, scenario, measure, 0, withheld, math.nan, math.nan,
                   "verdict withheld", True)
    rate = float(np.mean(hits))
    # Monte Carlo SE at the band's edge, so a rate of 0 or 1 still carries its error
    if measure == "coverage":
        lo, hi = COVERAGE_BAND
        se = math.sqrt(0.95 * 0.05 / runs)
        margin = min(rate - lo, hi - rate) / se
        band = f"{lo:.0%}-{hi:.0%}"
    else:
        top = ABSENCE_ALARM_MAX if "absence" in method else SURVEY_ALARM_MAX
        se = math.sqrt(top * (1 - top) / runs)
        margin = (top - rate) / se
        band = f"<= {top:.0%}"
    return Row(method, scenario, measure, runs, withheld, rate, se, band, margin >= -2, margin)


# --------------------------------------------------------------------------------------------
# Survey: simulated organisations
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyOrg:
    """A simulated organisation for the survey DiD: sizes and noise."""

    name: str
    target: int
    comparison: int
    n_low: int
    n_high: int


SURVEY_ORGS = (
    SurveyOrg("small (4 target, 6 comparison teams, 10-40 responses)", 4, 6, 10, 40),
    SurveyOrg("large (8 target, 52 comparison teams, 10-150 responses)", 8, 52, 10, 150),
)


def _survey_frame(rng: np.random.Generator, org: SurveyOrg, kind: str, noise: float,
                  effect: float) -> pd.DataFrame:
    """Respondent rows (group, period, unit, value) of one simulated organisation: the model
    `_survey_summaries` draws from in bulk, kept to check that path against the app's
    `stats.difference_in_differences` on real respondent rows (tests/test_calibration.py)."""
    g = org.target + org.comparison
    is_t = np.arange(g) < org.target
    size = np.exp(rng.uniform(math.log(org.n_low), math.log(org.n_high), g))
    n = np.maximum(org.n_low, np.round(size[:, None] * rng.uniform(0.8, 1.2, (g, 2)))).astype(int)
    drift = 0.01  # every team drifts a little between waves (why before/after alone misleads)
    if kind == "proportion":
        base = np.clip(0.42 + rng.normal(0, 0.06, g), 0.05, 0.9)
        p = base[:, None] + rng.normal(0, noise / 100, (g, 2))
        p[:, 1] += drift + effect * is_t
        p = np.clip(p, 0.01, 0.99)
    else:  # HSE-style scale: the mean of five 1-5 items; noise in points of the 0-100 range
        base = 3.3 + rng.normal(0, 0.2, g)
        p = base[:, None] + rng.normal(0, noise / 100 * 4, (g, 2))
        p[:, 1] += drift * 4 + effect * is_t
    unit = np.repeat(np.arange(g * 2), n.ravel())
    centre = p.ravel()[unit]
    if kind == "proportion":
        value = (rng.random(len(unit)) < centre).astype(float)
    else:
        latent = centre + rng.normal(0, 0.6, len(unit))
        items = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.7, (len(unit), 5))), 1, 5)
        value = items.mean(axis=1)
    team = unit // 2
    return pd.DataFrame({
        "group": np.where(is_t[team], "T", "C"),
        "period": np.where(unit % 2 == 1, "post", "pre"),
        "unit": team,
        "value": value,
    })


SURVEY_EFFECT = {"proportion": -0.05, "mean": 0.15}


def _survey_summaries(rng: np.random.Generator, org: SurveyOrg, kind: str, noise: float,
                      effect: float, reps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Responses, mean and variance per team and wave, shape (reps, teams, 2), of `reps`
    organisations drawn from the same model as `_survey_frame`, without a row per respondent
    where the summary can be drawn directly (a count of yeses is binomial)."""
    g = org.target + org.comparison
    is_t = np.arange(g) < org.target
    size = np.exp(rng.uniform(math.log(org.n_low), math.log(org.n_high), (reps, g)))
    n = np.maximum(org.n_low,
                   np.round(size[..., None] * rng.uniform(0.8, 1.2, (reps, g, 2)))).astype(int)
    drift = 0.01
    if kind == "proportion":
        base = np.clip(0.42 + rng.normal(0, 0.06, (reps, g)), 0.05, 0.9)
        p = base[..., None] + rng.normal(0, noise / 100, (reps, g, 2))
        p[..., 1] += drift + effect * is_t
        p = np.clip(p, 0.01, 0.99)
        k = rng.binomial(n, p)
        mean = k / n
        var = k * (n - k) / (n * (n - 1.0))  # the sample variance (n - 1) of 0/1 answers
        return n, mean, var
    base = 3.3 + rng.normal(0, 0.2, (reps, g))
    p = base[..., None] + rng.normal(0, noise / 100 * 4, (reps, g, 2))
    p[..., 1] += drift * 4 + effect * is_t
    flat_n = n.ravel()
    cell = np.repeat(np.arange(flat_n.size), flat_n)
    latent = p.ravel()[cell] + rng.normal(0, 0.6, cell.size)
    noise_items = rng.standard_normal((cell.size, 5), dtype=np.float32) * np.float32(0.7)
    items = np.clip(np.rint(latent[:, None].astype(np.float32) + noise_items), 1, 5)
    value = items.sum(axis=1, dtype=np.float64) / 5
    mean = np.bincount(cell, weights=value, minlength=flat_n.size) / flat_n
    ss = np.bincount(cell, weights=(value - mean[cell]) ** 2, minlength=flat_n.size)
    return n, mean.reshape(n.shape), (ss / (flat_n - 1)).reshape(n.shape)


def survey_did_batch(n: np.ndarray, mean: np.ndarray, var: np.ndarray, is_t: np.ndarray,
                     alpha: float = 0.05) -> dict[str, np.ndarray]:
    """`stats.difference_in_differences` (mix "fixed") on a batch of organisations given as
    team-by-wave summaries (every team answered in both waves): the estimate, the team-level
    interval the app uses, whether it is withheld, and the respondent-only interval."""
    unit_n = n.sum(axis=-1).astype(float)  # a team's weight: its responses over both waves
    arm_total = np.stack([(unit_n * is_t).sum(axis=-1), (unit_n * ~is_t).sum(axis=-1)], -1)
    weight = unit_n / np.where(is_t, arm_total[:, :1], arm_total[:, 1:])
    sign = np.where(is_t, 1.0, -1.0)[None, :, None] * np.array([-1.0, 1.0])
    coef = sign * weight[..., None]
    estimate = (coef * mean).sum(axis=(-2, -1))
    team = stats.team_level_batch(n, mean, var, is_t, coef)
    with np.errstate(invalid="ignore"):
        q = sps.t.ppf(1 - alpha / 2, team["df"])
    analytic = np.sqrt((coef**2 * var / n).sum(axis=(-2, -1)))
    z = sps.norm.ppf(1 - alpha / 2)
    return {"estimate": estimate, "ci_low": estimate - q * team["se"],
            "ci_high": estimate + q * team["se"],
            "withheld": team["withheld"] | ~np.isfinite(team["se"]),
            "ref_low": estimate - z * analytic, "ref_high": estimate + z * analytic}


def survey_rows(reps: int, seed: int, orgs: Sequence[SurveyOrg] = SURVEY_ORGS,
                noises: Sequence[float] = SURVEY_NOISE,
                kinds: Sequence[str] = ("proportion", "mean")) -> list[Row]:
    """Coverage and null false alarms of the team-level survey DiD on simulated organisations.

    The respondent-only interval (what the app used before) is reported beside it as a
    reference, so the table shows why the method changed.
    """
    rows: list[Row] = []
    chunk = 500  # organisations drawn at once: bounds memory for the respondent-level means
    for kind in kinds:
        for org in orgs:
            is_t = np.arange(org.target + org.comparison) < org.target
            for noise in noises:
                # one stream per scenario, named by the scenario itself, so a subset of
                # scenarios run alone gives the same rows as the full run
                k_i = ("proportion", "mean").index(kind)
                o_i = SURVEY_ORGS.index(org) if org in SURVEY_ORGS else 99
                rng = np.random.default_rng([seed, k_i, o_i, int(round(noise * 10))])
                label = f"{kind}, {org.name}, team-by-wave noise {noise:g} points"
                method = f"survey DiD ({'HSE-style 1-5 mean' if kind == 'mean' else 'proportion'})"
                ref = "reference: respondents only (old method)"
                found: dict[str, list[Row]] = {}
                for case, effect in (("coverage", SURVEY_EFFECT[kind]), ("false alarms", 0.0)):
                    hit, ref_hit, held = [], [], 0
                    for lo in range(0, reps, chunk):
                        b = min(chunk, reps - lo)
                        out = survey_did_batch(*_survey_summaries(rng, org, kind, noise, effect, b),
                                               is_t)
                        inside = (out["ci_low"] <= effect) & (effect <= out["ci_high"])
                        ref_in = (out["ref_low"] <= effect) & (effect <= out["ref_high"])
                        live = ~out["withheld"]
                        held += int((~live).sum())
                        hit.append(inside[live] if case == "coverage" else ~inside[live])
                        ref_hit.append(ref_in if case == "coverage" else ~ref_in)
                    found[case] = [_row(method, label, case, np.concatenate(hit), held),
                                   _row(ref, label, case, np.concatenate(ref_hit), 0)]
                rows += [found["coverage"][0], found["false alarms"][0],
                         found["coverage"][1], found["false alarms"][1]]
    return rows


# --------------------------------------------------------------------------------------------
# Absence: simulated organisations
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AbsenceOrg:
    """A simulated organisation for the absence methods."""

    name: str
    target: int
    comparison: int
    months: int  # months either side of the start


ABSENCE_ORGS = (
    AbsenceOrg("small (5 target, 5 comparison teams), 12 months either side", 5, 5, 12),
    AbsenceOrg("large (5 target, 40 comparison teams), 12 months either side", 5, 40, 12),
    AbsenceOrg("small (5 target, 5 comparison teams), 18 months either side", 5, 5, 18),
    AbsenceOrg("large (5 target, 40 comparison teams), 24 months either side", 5, 40, 24),
    AbsenceOrg("large (5 target, 40 comparison teams), 6 months either side", 5, 40, 6),
)
ABSENCE_EFFECT = 0.8  # days lost in the target teams scaled by this from the start


def _absence_arrays(rng: np.random.Generator, org: AbsenceOrg, effect: float,
                    first: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex,
                                                  pd.Timestamp]:
    """Team x month FTE days lost and available: seasonal onsets, long spells, AR(1) months.

    New spells per team-month are Poisson with a winter peak (+-20%), an organisation-wide AR(1)
    factor (rho 0.6, SD 0.10: a bad flu season, a staffing crisis) and a team AR(1) factor
    (rho 0.5, SD 0.10); durations are 90% short (lognormal, median 3 days, at most 28) and 10%
    long (29-240 days), so spells run across months and months are correlated. A year of
    burn-in means spells are already running when the window opens. The effect scales the
    target teams' days lost after the start, so the true rate ratio is exactly `effect`.
    """
    burn, total = 12, 2 * org.months
    n_months = burn + total
    months = pd.date_range(first - pd.DateOffset(months=burn), periods=n_months, freq="MS")
    days_in = months.days_in_month.to_numpy()
    day0 = np.concatenate([[0], np.cumsum(days_in)])
    g = org.target + org.comparison
    fte = rng.uniform(15, 80, g)
    season = 1 + 0.2 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)

    def ar1(rho: float, sd: float, shape: tuple[int, ...]) -> np.ndarray:
        e = rng.normal(0, sd * math.sqrt(1 - rho**2), shape)
        out = np.empty(shape)
        out[..., 0] = rng.normal(0, sd, shape[:-1])
        for t in range(1, shape[-1]):
            out[..., t] = rho * out[..., t - 1] + e[..., t]
        return out

    org_f = np.exp(ar1(0.6, 0.10, (n_months,)))
    team_f = np.exp(ar1(0.5, 0.10, (g, n_months)))
    team_level = np.exp(rng.normal(0, 0.15, g))
    lam = 1.25 / 365 * fte[:, None] * team_level[:, None] * season * org_f * team_f
    counts = rng.poisson(lam * days_in)
    team = np.repeat(np.repeat(np.arange(g), n_months), counts.ravel())
    month = np.repeat(np.tile(np.arange(n_months), g), counts.ravel())
    start = day0[month] + (rng.random(len(month)) * days_in[month]).astype(int)
    long = rng.random(len(start)) < 0.10
    dur = np.where(long, rng.integers(29, 241, len(start)),
                   np.minimum(28, np.ceil(rng.lognormal(math.log(3), 0.8, len(start))))).astype(int)
    n_days = int(day0[-1])
    off = np.zeros((g, n_days + 1))
    np.add.at(off, (team, start), 1.0)
    np.add.at(off, (team, np.minimum(start + dur, n_days)), -1.0)
    daily = np.cumsum(off[:, :-1], axis=1)
    lost = np.add.reduceat(daily, day0[:-1], axis=1)
    avail = fte[:, None] * days_in[None, :]
    start_month = first + pd.DateOffset(months=org.months)
    after = (months >= start_month)[None, :] & (np.arange(g) < org.target)[:, None]
    lost = np.where(after, lost * effect, lost)
    keep = slice(burn, None)
    return lost[:, keep], avail[:, keep], months[keep], start_month


def _absence_panel(rng: np.random.Generator, org: AbsenceOrg, effect: float,
                   first: pd.Timestamp) -> tuple[pd.DataFrame, pd.Timestamp]:
    """`_absence_arrays` as team-month rows (unit, month, days_lost, days_available), the
    form the app's functions take."""
    lost, avail, months, start_month = _absence_arrays(rng, org, effect, first)
    g, total = lost.shape
    frame = pd.DataFrame({
        "unit": np.repeat(np.arange(g), total),
        "month": np.tile(months, g),
        "days_lost": lost.ravel(),
        "days_available": avail.ravel(),
    })
    return frame, start_month


def _absence_methods(panel: pd.DataFrame, targets: Sequence, comparisons: Sequence,
                     start: pd.Timestamp, its: bool = True
                     ) -> dict[str, tuple[float, float, str | None]]:
    """(ci_low, ci_high, withheld) of each absence method on one panel, through the app's own
    functions on team-month rows: the reference `absence_methods_arrays` is checked against."""
    t = panel[panel.unit.isin(list(targets))]
    c = panel[panel.unit.isin(list(comparisons))]
    ratio = stats.rate_ratio(t, start)
    did = stats.rate_ratio_did(t, c, start)
    out = {
        "absence before/after rate ratio": (ratio.ci_low, ratio.ci_high, ratio.withheld),
        "absence ratio of rate ratios": (did.ci_low, did.ci_high, did.withheld),
    }
    if not its:
        return out
    its = stats.interrupted_time_series(t, start)
    for name, term in (("absence ITS level change", its.level_change),
                       ("absence ITS slope change", its.slope_change)):
        if term is None:
            out[name] = (math.nan, math.nan, "no fit")
        else:
            out[name] = (term.ci_low, term.ci_high, its.withheld)
    return out


def absence_methods_arrays(lost: np.ndarray, avail: np.ndarray, months: pd.DatetimeIndex,
                           is_t: np.ndarray, start: int, its: bool = True
                           ) -> dict[str, tuple[float, float, str | None]]:
    """`_absence_methods` on team x month arrays (months in order, adjacent, `start` the
    index of the first month after the start): the same statistics without building frames,
    so the harness can run thousands. tests/test_calibration.py checks it against the app's
    functions on simulated and demo panels."""
    n_pre, n_post = start, len(months) - start
    window = stats._window_withheld({"pre": n_pre, "post": n_post})
    totals = np.stack([lost[:, :start].sum(axis=1), lost[:, start:].sum(axis=1)], axis=1)
    avails = np.stack([avail[:, :start].sum(axis=1), avail[:, start:].sum(axis=1)], axis=1)

    def interval(fit) -> tuple[float, float, str | None]:
        if fit is None:
            return math.nan, math.nan, stats._FEW_TEAMS
        q = float(sps.t.ppf(0.975, fit.df))
        return (math.exp(fit.estimate - q * fit.se), math.exp(fit.estimate + q * fit.se),
                window)

    # before/after alone compares the same calendar months (whole years next to the start)
    k = stats.matched_months(n_pre, n_post)
    same = slice(start - k, start + k) if k else slice(None)
    m_lost, m_avail = lost[is_t, same], avail[is_t, same]
    cut = start - (start - k if k else 0)
    matched = (np.stack([m_lost[:, :cut].sum(axis=1), m_lost[:, cut:].sum(axis=1)], axis=1),
               np.stack([m_avail[:, :cut].sum(axis=1), m_avail[:, cut:].sum(axis=1)], axis=1))
    out = {
        "absence before/after rate ratio": interval(stats.team_quasi_poisson_arrays(
            *matched, is_t[is_t], comparison=False)),
        "absence ratio of rate ratios": interval(stats.team_quasi_poisson_arrays(
            totals, avails, is_t, comparison=True)),
    }
    if not its:
        return out
    if min(n_pre, n_post) < stats.ITS_INTERVAL_MONTHS:
        # the app shows the series as a picture only: no interval is read
        held = (math.nan, math.nan, "window below the time series minimum")
        out["absence ITS level change"] = out["absence ITS slope change"] = held
        return out
    t_lost, t_avail = lost[is_t].sum(axis=0), avail[is_t].sum(axis=0)
    use = t_avail > 0
    data = pd.DataFrame({"month": months[use], "t": np.arange(len(months))[use],
                         "t0": start, "rate": t_lost[use] / t_avail[use]})
    design = stats._its_design(data, len(data) >= stats.SEASONAL_MONTHS, 2).to_numpy()
    fit = stats.ar1_gls(data["rate"].to_numpy(), design, term=2)
    q = float(sps.t.ppf(0.975, fit.df))
    for name, k in (("absence ITS level change", 2), ("absence ITS slope change", 3)):
        se = math.sqrt(max(fit.cov[k, k], 0.0))
        # the app withholds these intervals at every window; the reference row shows why
        out[name] = (math.nan, math.nan, stats.ITS_NO_VERDICT)
        out[_ITS_REF[name]] = (fit.params[k] - q * se, fit.params[k] + q * se, None)
    return out


_ITS_REF = {m: f"reference: {m} (AR(1) GLS intervals, not used)"
            for m in ("absence ITS level change", "absence ITS slope change")}


_NULLS = {"absence before/after rate ratio": 1.0, "absence ratio of rate ratios": 1.0,
          "absence ITS level change": 0.0, "absence ITS slope change": 0.0,
          **dict.fromkeys(_ITS_REF.values(), 0.0)}


def absence_rows(reps: int, seed: int, orgs: Sequence[AbsenceOrg] = ABSENCE_ORGS,
                 its: bool = True) -> list[Row]:
    """Null false alarms of every absence method and coverage of the two ratios."""
    rows: list[Row] = []
    first = pd.Timestamp("2021-01-01")
    for o_i, org in enumerate(orgs):
        rng = np.random.default_rng([seed, 100 + o_i])
        hits: dict[tuple[str, str], list[bool]] = {}
        withheld: dict[tuple[str, str], int] = {}
        is_t = np.arange(org.target + org.comparison) < org.target
        # below the minimum window every run is withheld by design: a few runs show it
        runs = reps if org.months >= stats.MIN_VERDICT_MONTHS else min(reps, 20)
        for case, effect in (("false alarms", 1.0), ("coverage", ABSENCE_EFFECT)):
            for _ in range(runs):
                lost, avail, months, _ = _absence_arrays(rng, org, effect, first)
                for method, (lo, hi, held) in absence_methods_arrays(
                        lost, avail, months, is_t, org.months, its).items():
                    if case == "coverage" and _NULLS[method] == 0.0:
                        continue  # the level and slope of a ratio effect are not fixed numbers
                    key = (method, case)
                    if held or not np.isfinite(lo):
                        withheld[key] = withheld.get(key, 0) + 1
                        continue
                    truth = effect if case == "coverage" else _NULLS[method]
                    inside = lo <= truth <= hi
                    hits.setdefault(key, []).append(inside if case == "coverage" else not inside)
        for method in (m for m in _NULLS if its or "ITS" not in m):
            for case in ("coverage", "false alarms"):
                key = (method, case)
                if key in hits or key in withheld:
                    rows.append(_row(method, org.name, case, np.array(hits.get(key, [])),
                                     withheld.get(key, 0)))
    return rows


# --------------------------------------------------------------------------------------------
# Absence: placebo dates in the demo organisation
# --------------------------------------------------------------------------------------------
def demo_panel(con) -> pd.DataFrame:
    """Team x month FTE days lost and available in the demo store, rota teams left out.

    Internal to the harness: it prints only false-alarm rates over many pooled placebo
    groups, never a team's figure, so the anonymity threshold is not applied here.
    """
    from dashboard import demo
    from dashboard.metrics import absence

    months = con.execute("SELECT min(month), max(month) FROM staff_in_post").fetchone()
    frame = absence.monthly_rates(con, months[0], months[1], 0, by=("team",))
    frame = frame[~frame.team.isin(demo.ROTA_TEAMS)]
    return pd.DataFrame({
        "unit": frame.team.to_numpy(),
        "month": pd.to_datetime(frame.month).to_numpy(),
        "days_lost": frame.fte_days_lost.astype(float).to_numpy(),
        "days_available": frame.fte_days_available.astype(float).to_numpy(),
    }).dropna()


def placebo_rows(panel: pd.DataFrame, sets: int, seed: int,
                 windows: Sequence[int] = (12, 6), n_target: int = 5, its: bool = True,
                 starts_every: int = 1) -> list[Row]:
    """False alarms at placebo start dates (the 1st of each month a full window fits) with
    random sets of `n_target` teams as targets and the rest as comparison."""
    rows: list[Row] = []
    teams = np.array(sorted(panel.unit.unique()))
    lo_m, hi_m = panel.month.min(), panel.month.max()
    all_months = pd.date_range(lo_m, hi_m, freq="MS")
    # team x month arrays; a team-month without a row adds nothing, as in the app's sums
    grid = panel.pivot_table(index="unit", columns="month", values=["days_lost",
                             "days_available"], aggfunc="sum", fill_value=0.0)
    lost = grid["days_lost"].reindex(index=teams, columns=all_months, fill_value=0.0).to_numpy()
    avail = grid["days_available"].reindex(index=teams, columns=all_months,
                                           fill_value=0.0).to_numpy()
    for w_i, months in enumerate(windows):
        rng = np.random.default_rng([seed, 200 + w_i])
        short = months < stats.MIN_VERDICT_MONTHS  # withheld by design: a sample shows it
        starts = pd.date_range(lo_m + pd.DateOffset(months=months),
                               hi_m - pd.DateOffset(months=months - 1),
                               freq="MS")[::max(starts_every, 4 if short else 1)]
        names = [m for m in _NULLS if its or "ITS" not in m]
        hits: dict[str, list[bool]] = {m: [] for m in names}
        held: dict[str, int] = dict.fromkeys(names, 0)
        for start in starts:
            s_i = all_months.get_loc(start)
            cols = slice(s_i - months, s_i + months)
            for _ in range(min(sets, 5) if short else sets):
                pick = rng.choice(len(teams), n_target, replace=False)
                is_t = np.zeros(len(teams), dtype=bool)
                is_t[pick] = True
                for method, (lo, hi, why) in absence_methods_arrays(
                        lost[:, cols], avail[:, cols], all_months[cols], is_t, months,
                        its).items():
                    if why or not np.isfinite(lo):
                        held[method] += 1
                        continue
                    hits[method].append(not (lo <= _NULLS[method] <= hi))
        label = (f"demo placebo dates ({len(starts)} start months x "
                 f"{min(sets, 5) if short else sets} random sets of {n_target} teams), "
                 f"{months} months either side")
        for method in names:
            if hits[method] or held[method]:
                rows.append(_row(method, label, "false alarms", np.array(hits[method]),
                                 held[method]))
    return rows


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------
PARTS = ("survey", "absence", "placebo")


def run(reps: int = 400, seed: int = 20261130, con=None, placebo_sets: int = 20,
        progress: Callable[[str], None] | None = None,
        parts: Sequence[str] = PARTS) -> pd.DataFrame:
    """Every table: survey and absence simulations, and demo placebo dates when `con` is given.

    `parts` picks some of them (each part uses its own seeded streams, so running a part alone
    gives the same rows as in a full run).
    """
    say = progress or (lambda _: None)
    rows: list[Row] = []
    if "survey" in parts:
        say(f"survey simulations ({reps} runs per scenario and case)")
        rows += survey_rows(reps, seed)
    if "absence" in parts:
        say(f"absence simulations ({reps} runs per scenario and case)")
        rows += absence_rows(reps, seed)
    if con is not None and "placebo" in parts:
        say("placebo dates in the demo organisation")
        rows += placebo_rows(demo_panel(con), placebo_sets, seed)
    return pd.DataFrame([asdict(r) for r in rows])


def failures(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of methods the app uses that left their band (reference rows are not judged)."""
    used = ~table.method.str.startswith("reference")
    return table[used & ~table.ok]


def markdown(table: pd.DataFrame, meta: dict) -> str:
    """The tables as Markdown, one section per method family."""
    lines = [
        "# Calibration of the intervention statistics",
        "",
        "Generated by `make validate` (`python -m dashboard validate`); do not edit by hand.",
        f"Runs per scenario and case: {meta['reps']}; seed {meta['seed']}; "
        f"placebo sets per start month: {meta.get('placebo_sets', '-')}.",
        "",
    ]
    if "finished_utc" in meta:
        lines += [
            f"This run: one end-to-end run of `{meta.get('command', 'python -m dashboard validate')}` "
            f"from {meta['started_utc']} to {meta['finished_utc']} "
            f"({meta['wall_seconds'] / 60:.1f} minutes wall time) at commit {meta['git_commit']}, "
            f"on {meta['cpus']} shared cores (load average {meta['load_average_at_end'][0]} at "
            f"the end), Python {meta['python']}, numpy {meta['numpy']}.",
            "",
        ]
    judged = table[~table.method.str.startswith("reference") & (table.runs > 0)]
    lines += [
        "Coverage: share of 95% intervals that contain the true effect (band 93-97%). False "
        "alarms: share of runs with no true effect whose interval leaves out no change "
        "(band <= 5% for survey methods, <= 7% for absence methods; a method exactly at its "
        "nominal 5% sits on the survey band's edge). MC SE is the Monte Carlo standard error "
        "at the band's edge; `margin` is how far the rate lies inside the band's nearest edge, "
        "in MC SEs (negative: outside). A row is within its band when its margin is above -2. "
        "`withheld` counts runs where the app gives no verdict (too few teams, fewer than 12 "
        "months either side, or the time series, whose intervals are never used): it says so "
        "instead of giving an interval. Rows marked `reference` are not judged: the "
        "respondent-only interval the app used before issue 11, and the time series' AR(1) "
        "intervals, which show why the app withholds them.",
        "",
        "Placebo rows reuse the same months for many random team sets, so their runs are not "
        "independent and the Monte Carlo error shown understates the true one.",
        "",
    ]
    if len(judged):
        worst = judged.loc[judged.margin.idxmin()]
        bad = int((~judged.ok).sum())
        lines += [
            "## Summary",
            "",
            f"{len(judged)} judged rows with a verdict; "
            + (f"**{bad} outside their band**." if bad else "all within their band.")
            + f" Smallest margin: {worst.margin:+.1f} MC SE ({worst.method}, {worst.measure}, "
            f"{worst.scenario}: {worst.rate:.1%}, band {worst.band}). "
            f"Rows whose rate is beyond the band's edge itself (within Monte Carlo error): "
            f"{int((judged.margin < 0).sum())}.",
            "",
        ]
    family_of = np.where(table.method.str.contains("absence"), "Absence", "Survey")
    for family, part in table.groupby(family_of, sort=False):
        lines += [f"## {family}", "",
                  "| method | scenario | measure | runs | withheld | rate | MC SE | band "
                  "| margin (SE) | ok |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in part.itertuples(index=False):
            rate = "-" if not np.isfinite(r.rate) else f"{r.rate:.1%}"
            se = "-" if not np.isfinite(r.mc_se) else f"{r.mc_se:.2%}"
            margin = "-" if not np.isfinite(r.margin) else f"{r.margin:+.1f}"
            ok = "reference" if r.method.startswith("reference") else ("yes" if r.ok else "**NO**")
            lines.append(f"| {r.method} | {r.scenario} | {r.measure} | {r.runs} | {r.withheld} "
                         f"| {rate} | {se} | {r.band} | {margin} | {ok} |")
        lines.append("")
    return "\n".join(lines)


def demo_store(path) -> object:
    """A connection to a fresh demo store at `path` (built when missing)."""
    from dashboard import demo, store

    con = store.connect(path)
    if store.is_empty(con):
        demo.load_demo(con, seed=demo.DEFAULT_SEED)
    return con


def today() -> str:
    return date.today().isoformat()


def run_context(started: dict | None = None) -> dict:
    """When and where a run happened: call once before (returns the start) and once after
    with that start (returns start, finish, wall time, machine load and versions)."""
    now = datetime.now(UTC)
    if started is None:
        return {"started_utc": now.isoformat(timespec="seconds"), "clock": time.perf_counter()}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "started_utc": started["started_utc"],
        "finished_utc": now.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started["clock"], 1),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "git_commit": commit or "unknown",
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
