"""Seeded demo organisation (Northgate Health NHS Trust); planted effects: data/demo/README.md."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import optimize
from scipy.special import ndtr, ndtri

from dashboard import catalogue, store

DATASET_NAME = "Northgate Health NHS Trust (demo)"
DEFAULT_SEED = 20261123
PERIOD_START, PERIOD_END = date(2023, 1, 1), date(2025, 12, 31)
WAVES: dict[str, date] = {
    "2023": date(2023, 10, 15),
    "2024": date(2024, 10, 15),
    "2025": date(2025, 10, 15),
}
STAFF_GROUPS = (
    "Nursing and midwifery",
    "Medical and dental",
    "Allied health professionals",
    "Healthcare assistants",
    "Administrative and clerical",
    "Estates and ancillary",
)
TARGET_STAFF = 5000
MISSING_SHARE = 0.03          # answers omitted at random
DUPLICATE_EPISODES = 12       # exact copies of real episodes, as HR extracts contain

# Fictional sites at plausible West Yorkshire coordinates.
SITES: dict[str, tuple[float, float]] = {
    "Northgate General Hospital": (53.6930, -1.4990),
    "Moorside Hospital": (53.7240, -1.8610),
    "Riverside Community Hospital": (53.6460, -1.7830),
    "Eastbrook Health Centre": (53.6950, -1.3110),
    "Northgate House": (53.7120, -1.5230),
}

# Staff-group mix by kind of team, in STAFF_GROUPS order.
PROFILES: dict[str, tuple[float, ...]] = {
    "ward": (0.55, 0.08, 0.04, 0.27, 0.06, 0.00),
    "emergency": (0.55, 0.22, 0.02, 0.14, 0.07, 0.00),
    "theatre": (0.50, 0.22, 0.05, 0.15, 0.08, 0.00),
    "maternity": (0.72, 0.08, 0.00, 0.15, 0.05, 0.00),
    "clinic": (0.40, 0.20, 0.05, 0.15, 0.20, 0.00),
    "community": (0.62, 0.02, 0.12, 0.16, 0.08, 0.00),
    "therapy": (0.03, 0.00, 0.82, 0.07, 0.08, 0.00),
    "support": (0.05, 0.06, 0.55, 0.14, 0.15, 0.05),
    "medical": (0.10, 0.82, 0.00, 0.00, 0.08, 0.00),
    "admin": (0.00, 0.00, 0.00, 0.00, 0.95, 0.05),
    "estates": (0.00, 0.00, 0.00, 0.00, 0.08, 0.92),
}

# Sizes: "small" 5-15 staff (below the anonymity threshold once response rates bite), "large"
# 120-160, "mid" 90-140, "" drawn lognormal and scaled so the trust has about TARGET_STAFF.
SIZE_RANGES = {"small": (5, 15), "mid": (90, 140), "large": (120, 160)}


@dataclass(frozen=True)
class Team:
    name: str
    directorate: str
    site: str
    profile: str
    size: str = ""


_NG, _MS, _RC, _EB, _NH = SITES
TEAMS: tuple[Team, ...] = (
    Team("Ward 1 Acute Medical Unit", "Medicine", _NG, "ward", "large"),
    Team("Ward 2 Respiratory", "Medicine", _NG, "ward"),
    Team("Ward 3 Cardiology", "Medicine", _NG, "ward", "mid"),
    Team("Ward 4 Gastroenterology", "Medicine", _NG, "ward"),
    Team("Ward 5 Elderly Care", "Medicine", _NG, "ward", "mid"),
    Team("Ward 6 Stroke Unit", "Medicine", _NG, "ward"),
    Team("Ward 7 General Medicine", "Medicine", _NG, "ward"),
    Team("Diabetes and Endocrinology", "Medicine", _NG, "clinic"),
    Team("Medical Day Unit", "Medicine", _NG, "ward", "small"),
    Team("Ward 10 General Surgery", "Surgery", _NG, "ward", "mid"),
    Team("Ward 11 Orthopaedics", "Surgery", _MS, "ward", "mid"),
    Team("Ward 12 Urology", "Surgery", _NG, "ward"),
    Team("Main Theatres", "Surgery", _NG, "theatre", "mid"),
    Team("Anaesthetics", "Surgery", _NG, "medical"),
    Team("Surgical Admissions Unit", "Surgery", _NG, "ward"),
    Team("Day Surgery Unit", "Surgery", _MS, "theatre"),
    Team("Pre-operative Assessment", "Surgery", _MS, "clinic", "small"),
    Team("Emergency Department", "Emergency and Urgent Care", _NG, "emergency", "large"),
    Team("Urgent Treatment Centre", "Emergency and Urgent Care", _MS, "emergency", "mid"),
    Team("Critical Care Unit", "Emergency and Urgent Care", _NG, "emergency", "mid"),
    Team("Ambulatory Emergency Care", "Emergency and Urgent Care", _NG, "emergency"),
    Team("Acute Frailty Team", "Emergency and Urgent Care", _NG, "community", "small"),
    Team("Maternity Unit", "Women and Children", _NG, "maternity", "large"),
    Team("Midwifery Led Unit", "Women and Children", _MS, "maternity"),
    Team("Neonatal Unit", "Women and Children", _NG, "maternity"),
    Team("Children's Ward", "Women and Children", _NG, "ward"),
    Team("Gynaecology", "Women and Children", _NG, "ward"),
    Team("Community Midwifery", "Women and Children", _MS, "maternity"),
    Team("Paediatric Outpatients", "Women and Children", _MS, "clinic"),
    Team("District Nursing North", "Community Services", _RC, "community", "large"),
    Team("District Nursing South", "Community Services", _EB, "community"),
    Team("Community Therapy", "Community Services", _RC, "therapy"),
    Team("Intermediate Care", "Community Services", _RC, "community"),
    Team("Riverside Community Ward", "Community Services", _RC, "ward"),
    Team("Podiatry", "Community Services", _EB, "therapy"),
    Team("Speech and Language Therapy", "Community Services", _EB, "therapy"),
    Team("Palliative Care Team", "Community Services", _RC, "community", "small"),
    Team("Rapid Response Team", "Community Services", _EB, "community"),
    Team("Pathology", "Clinical Support Services", _NG, "support"),
    Team("Radiology", "Clinical Support Services", _NG, "support"),
    Team("Pharmacy", "Clinical Support Services", _NG, "support"),
    Team("Physiotherapy", "Clinical Support Services", _MS, "therapy"),
    Team("Occupational Therapy", "Clinical Support Services", _MS, "therapy"),
    Team("Dietetics", "Clinical Support Services", _MS, "therapy", "small"),
    Team("Outpatients", "Clinical Support Services", _MS, "clinic"),
    Team("Medical Records", "Clinical Support Services", _NG, "admin"),
    Team("Sterile Services", "Clinical Support Services", _NG, "support"),
    Team("Estates Maintenance", "Estates and Facilities", _NG, "estates"),
    Team("Domestic Services", "Estates and Facilities", _NG, "estates"),
    Team("Catering", "Estates and Facilities", _NG, "estates"),
    Team("Portering", "Estates and Facilities", _NG, "estates", "mid"),
    Team("Security", "Estates and Facilities", _NG, "estates", "small"),
    Team("Linen and Laundry", "Estates and Facilities", _MS, "estates", "small"),
    Team("Patient Transport", "Estates and Facilities", _EB, "estates"),
    Team("Human Resources", "Corporate Services", _NH, "admin"),
    Team("Finance", "Corporate Services", _NH, "admin"),
    Team("Information Technology", "Corporate Services", _NH, "admin"),
    Team("Clinical Coding", "Corporate Services", _NH, "admin"),
    Team("Procurement", "Corporate Services", _NH, "admin"),
    Team("Learning and Development", "Corporate Services", _NH, "admin"),
    Team("Governance and Risk", "Corporate Services", _NH, "admin"),
    Team("Patient Experience", "Corporate Services", _NH, "admin", "small"),
    Team("Board Office", "Corporate Services", _NH, "admin", "small"),
    Team("Information and Analytics", "Corporate Services", _NH, "admin", "small"),
)
TEAM_NAMES = tuple(t.name for t in TEAMS)
SMALL_TEAMS = tuple(t.name for t in TEAMS if t.size == "small")


@dataclass(frozen=True)
class Intervention:
    name: str
    domain: str
    start: date
    indicators: tuple[str, ...]
    teams: tuple[str, ...]
    notes: str


MANAGER_DIRECTORATE = "Clinical Support Services"
INTERVENTIONS: tuple[Intervention, ...] = (
    Intervention(
        "Stress management programme", "personal_health", date(2025, 1, 6), ("stress",),
        ("Emergency Department", "Ward 1 Acute Medical Unit", "Maternity Unit",
         "District Nursing North"),
        "Six-week group stress-management course and monthly reflective practice sessions.",
    ),
    Intervention(
        "Manager development programme", "managers_leaders", date(2024, 2, 1),
        ("hse_manager_support", "manager_interest"),
        tuple(t.name for t in TEAMS if t.directorate == MANAGER_DIRECTORATE),
        "Leadership training for every line manager in Clinical Support Services.",
    ),
    Intervention(
        "Rota redesign", "personal_health", date(2024, 7, 1), ("absence_rate",),
        ("Ward 5 Elderly Care", "Ward 10 General Surgery", "Ward 11 Orthopaedics",
         "Main Theatres", "Critical Care Unit"),
        "Self-rostering with fewer quick returns and no more than three long days in a row.",
    ),
    Intervention(
        "Wellbeing app pilot", "professional_support", date(2025, 1, 6),
        ("stress", "work_life_balance"),
        ("Ward 4 Gastroenterology", "Children's Ward", "Community Therapy", "Human Resources",
         "Finance", "Information Technology"),
        "Free licences for a mindfulness and sleep app, promoted by team leaders.",
    ),
)
STRESS_TEAMS, MANAGER_TEAMS, ROTA_TEAMS, APP_TEAMS = (i.teams for i in INTERVENTIONS)
WORSE_STRESS_TEAMS = ("Ward 3 Cardiology", "Urgent Treatment Centre")
WORSE_BULLYING_TEAM = "Portering"

# The planted sizes (proportions as 0-1 shares; scale means in 1-5 points; absence as a ratio).
STRESS_BASE = 0.41            # trust-wide stress in wave 2023 ...
STRESS_DRIFT = 0.01           # ... rising one point a wave for everyone
STRESS_PROGRAMME = -0.12      # target teams, wave 2025 vs 2024
MANAGER_SUPPORT = 0.35        # HSE manager support mean, waves 2024-2025 vs 2023
MANAGER_INTEREST = 0.08       # q9d % agree, waves 2024-2025 vs 2023
ROTA_RATIO = 0.70             # absence rate from the start month on
WORSE_STRESS = 0.20           # every wave
WORSE_BULLYING = 0.15         # bullying from colleagues, every wave
ABSENCE_RATE = 0.05           # FTE days lost / FTE days available


@dataclass(frozen=True)
class PlantedEffect:
    id: str
    description: str
    teams: tuple[str, ...]        # empty: every team
    indicator: str
    change: float                 # proportion points (0-1), scale-mean points, or rate ratio
    measure: str                  # "proportion" | "mean" | "rate_ratio"
    before: tuple[str, ...]       # survey waves (labels) or, for absence, "<start" period
    after: tuple[str, ...]
    intervention: str | None = None
    start: date | None = None


def _iv(name: str) -> Intervention:
    return next(i for i in INTERVENTIONS if i.name == name)


PLANTED_EFFECTS: tuple[PlantedEffect, ...] = (
    PlantedEffect("stress_programme", "Stress falls 12 points in the programme teams",
                  STRESS_TEAMS, "stress", STRESS_PROGRAMME, "proportion", ("2024",), ("2025",),
                  "Stress management programme", _iv("Stress management programme").start),
    PlantedEffect("manager_support", "HSE manager support rises 0.35 after manager training",
                  MANAGER_TEAMS, "hse_manager_support", MANAGER_SUPPORT, "mean", ("2023",),
                  ("2024", "2025"), "Manager development programme",
                  _iv("Manager development programme").start),
    PlantedEffect("manager_interest", "Manager interest in wellbeing rises 8 points",
                  MANAGER_TEAMS, "manager_interest", MANAGER_INTEREST, "proportion", ("2023",),
                  ("2024", "2025"), "Manager development programme",
                  _iv("Manager development programme").start),
    PlantedEffect("rota_redesign", "Sickness absence rate falls to 0.7x from July 2024",
                  ROTA_TEAMS, "absence_rate", ROTA_RATIO, "rate_ratio", ("before start",),
                  ("from start",), "Rota redesign", _iv("Rota redesign").start),
    PlantedEffect("app_stress_null", "Wellbeing app: no effect on stress", APP_TEAMS, "stress",
                  0.0, "proportion", ("2024",), ("2025",), "Wellbeing app pilot",
                  _iv("Wellbeing app pilot").start),
    PlantedEffect("app_balance_null", "Wellbeing app: no effect on work-life balance",
                  APP_TEAMS, "work_life_balance", 0.0, "proportion", ("2024",), ("2025",),
                  "Wellbeing app pilot", _iv("Wellbeing app pilot").start),
    PlantedEffect("stress_drift", "Trust-wide stress rises 1 point a wave", (), "stress",
                  STRESS_DRIFT, "proportion", ("2023",), ("2024",)),
    PlantedEffect("worse_stress", "Two teams 20 points above the trust on stress",
                  WORSE_STRESS_TEAMS, "stress", WORSE_STRESS, "proportion", (), tuple(WAVES)),
    PlantedEffect("worse_bullying", "One team 15 points above the trust on bullying by colleagues",
                  (WORSE_BULLYING_TEAM,), "bullying_colleagues", WORSE_BULLYING, "proportion",
                  (), tuple(WAVES)),
)


def design_problems() -> list[str]:
    """Contradictions in the design above (empty when sound); checked at import."""
    names = set(TEAM_NAMES)
    problems = [] if len(names) == len(TEAMS) else ["team names are not unique"]
    seen: set[str] = set()
    for iv in INTERVENTIONS:
        if not set(iv.teams) <= names:
            problems.append(f"{iv.name}: unknown teams {sorted(set(iv.teams) - names)}")
        if seen & set(iv.teams):
            problems.append(f"{iv.name} shares target teams with another intervention")
        seen |= set(iv.teams)
    planted = set(WORSE_STRESS_TEAMS) | {WORSE_BULLYING_TEAM}
    if not planted <= names or planted & seen:
        problems.append("worse teams must exist and be no intervention's target")
    if not {t.site for t in TEAMS} <= set(SITES):
        problems.append("a team is on an unknown site")
    return problems


if design_problems():
    raise RuntimeError(f"demo design is inconsistent: {design_problems()}")

# --- survey item baselines ---------------------------------------------------------------------

# Raw answer distributions over each scale's values in ascending order, chosen so the trust sits
# near data/benchmarks.toml. Binary items give P(raw value 1).
_BINARY_P = {"q11c": STRESS_BASE, "q11d": 0.55}
_RAW_PROBS: dict[str, tuple[float, ...]] = {
    "q6b": (0.08, 0.17, 0.30, 0.35, 0.10),
    "q6c": (0.06, 0.16, 0.25, 0.40, 0.13),
    "q6d": (0.05, 0.12, 0.23, 0.40, 0.20),
    "q9d": (0.05, 0.09, 0.20, 0.42, 0.24),
    "q11a": (0.05, 0.12, 0.28, 0.40, 0.15),
    "q12a": (0.06, 0.17, 0.43, 0.24, 0.10),
    "q12b": (0.10, 0.22, 0.38, 0.21, 0.09),
    "q13a": (0.855, 0.090, 0.030, 0.012, 0.013),
    "q14a": (0.750, 0.140, 0.060, 0.025, 0.025),
    "q14b": (0.905, 0.060, 0.020, 0.008, 0.007),
    "q14c": (0.824, 0.110, 0.040, 0.014, 0.012),
}
# HSE scales: favourable-orientation means at the benchmark's p50.
_HSE_MEANS = {
    "hse_demands": 3.10, "hse_control": 3.47, "hse_manager_support": 3.46,
    "hse_peer_support": 3.78, "hse_relationships": 3.85, "hse_role": 4.18, "hse_change": 3.04,
}
# Items sharing a latent factor beyond the general one (same indicator, or same kind of harm).
_FACTOR_ALIAS = {
    "bullying_managers": "staff_bullying", "bullying_colleagues": "staff_bullying",
    "violence_public": "public_abuse", "bullying_public": "public_abuse",
}
# Loadings: general wellbeing, item's own factor, item noise (squares sum to 1).
_LOAD_GENERAL, _LOAD_FACTOR = 0.55, 0.45
_LOAD_NOISE = float(np.sqrt(1 - _LOAD_GENERAL**2 - _LOAD_FACTOR**2))
# Stress and presenteeism by staff group, in points around the trust value (centred at run time).
_SG_STRESS = np.array([0.04, 0.00, -0.01, 0.02, -0.06, -0.05])
_SG_PRESENTEEISM = np.array([0.04, 0.03, 0.00, 0.05, -0.05, -0.03])


@dataclass(frozen=True)
class _ItemModel:
    id: str
    values: np.ndarray            # scale values ascending
    fav_high: bool                # a high raw value is the favourable end
    binary_p: float | None        # P(raw = 1) for a two-point item
    fav_probs: np.ndarray | None  # ordinal: probabilities over values in favourable order
    factor: str


def _discretised_normal(mean: float, k: int, sd: float = 1.0) -> np.ndarray:
    """Probabilities over 1..k of a rounded normal whose mean is `mean` (solved for)."""
    edges = np.arange(1.5, k, 1.0)

    def probs(mu: float) -> np.ndarray:
        return np.diff(np.concatenate([[0.0], ndtr((edges - mu) / sd), [1.0]]))

    mu = optimize.brentq(lambda m: probs(m) @ np.arange(1, k + 1) - mean, -5, k + 5)
    return probs(mu)


def _item_models(cat: catalogue.Catalogue) -> list[_ItemModel]:
    models = []
    hse_offsets: dict[str, int] = {}
    for item in cat.items.values():
        ind = cat.indicators[item.indicators[0]]
        values = np.array(sorted(item.scale.labels.values()))
        fav_high = (ind.favourable == "high") != item.reverse
        factor = _FACTOR_ALIAS.get(ind.id, ind.id)
        if len(values) == 2:
            p = _BINARY_P.get(item.id, 0.5)
            models.append(_ItemModel(item.id, values, fav_high, p, None, factor))
            continue
        if item.id in _RAW_PROBS:
            raw = np.array(_RAW_PROBS[item.id])
            fav = raw if fav_high else raw[::-1]
        else:
            # HSE items (and any item added to the catalogue later): a rounded normal around the
            # scale's benchmark mean, items within a scale spread a little around it.
            j = hse_offsets.get(ind.id, 0)
            hse_offsets[ind.id] = j + 1
            mean = _HSE_MEANS.get(ind.id, (values[0] + values[-1]) / 2)
            fav = _discretised_normal(mean + 0.12 * ((j % 3) - 1), len(values))
        models.append(_ItemModel(item.id, values, fav_high, None, fav / fav.sum(), factor))
    return models


def _thresholds(fav_probs: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(np.cumsum(fav_probs)[:-1], 1e-12, 1 - 1e-12))


def _indicator_value(model: _ItemModel, item: catalogue.Item, ind: catalogue.Indicator,
                     shift: float) -> float:
    """The item's indicator value when its favourable latent moves by `shift` (store scoring)."""
    tau = _thresholds(model.fav_probs)
    fav = np.diff(np.concatenate([[0.0], ndtr(tau - shift), [1.0]]))
    raw = fav if model.fav_high else fav[::-1]
    # the store recodes reverse items so the high end is favourable
    stored = raw[::-1] if item.reverse else raw
    if ind.kind == "mean":
        return float(stored @ model.values)
    return float(stored[model.values >= ind.event_min].sum())


def _latent_shift(model: _ItemModel, item: catalogue.Item, ind: catalogue.Indicator,
                  change: float) -> float:
    """Latent shift that moves this item's indicator value by `change` at the trust baseline."""
    base = _indicator_value(model, item, ind, 0.0)
    return optimize.brentq(lambda s: _indicator_value(model, item, ind, s) - base - change, -4, 4)


# --- generation --------------------------------------------------------------------------------

def _hex_keys(rng: np.random.Generator, n: int, nbytes: int = 32) -> np.ndarray:
    """n random opaque hex keys (same length as the importer's HMAC-SHA256 pseudonyms)."""
    text = rng.bytes(nbytes * n).hex().encode("ascii")
    return np.frombuffer(text, dtype=f"S{2 * nbytes}").astype(str)


def _teams_frame(rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(t) for t in TEAMS])
    sizes = np.zeros(len(TEAMS))
    for kind, (lo, hi) in SIZE_RANGES.items():
        mask = (frame["size"] == kind).to_numpy()
        sizes[mask] = rng.integers(lo, hi + 1, mask.sum())
    free = (frame["size"] == "").to_numpy()
    drawn = np.clip(rng.lognormal(np.log(65), 0.55, free.sum()), 18, 240)
    sizes[free] = np.maximum(np.round(drawn * (TARGET_STAFF - sizes.sum()) / drawn.sum()), 16)
    frame["staff"] = sizes.astype(int)
    frame["unit_id"] = np.arange(1, len(TEAMS) + 1)
    # A team climate (higher is better) links a team's survey results and its absence.
    frame["climate"] = rng.standard_normal(len(TEAMS))
    return frame


def _staff(rng: np.random.Generator, teams: pd.DataFrame) -> pd.DataFrame:
    team_idx = np.repeat(np.arange(len(teams)), teams["staff"].to_numpy())
    n = len(team_idx)
    mix = np.array([PROFILES[p] for p in teams["profile"]])
    cum = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[team_idx]
    group = (rng.random(n)[:, None] > cum).sum(axis=1)
    part_time = rng.random(n) < 0.20
    fte = np.where(part_time, rng.choice([0.4, 0.5, 0.6, 0.7, 0.8], n), 1.0)
    return pd.DataFrame({
        "team_idx": team_idx, "group_idx": np.minimum(group, len(STAFF_GROUPS) - 1),
        "fte": fte, "employee_key": _hex_keys(rng, n),
    })


def _month_range(first: str, last: str) -> np.ndarray:
    return np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1)


def _staff_in_post(rng: np.random.Generator, teams: pd.DataFrame,
                   staff: pd.DataFrame) -> pd.DataFrame:
    months = _month_range("2023-01", "2025-12")
    n_t, n_m = len(teams), len(months)
    headcount = np.bincount(staff["team_idx"], minlength=n_t)
    fte = np.bincount(staff["team_idx"], weights=staff["fte"], minlength=n_t)
    # Small month-to-month drift: a mean-reverting walk within +/-5% of the establishment.
    steps = rng.normal(0, 0.01, (n_t, n_m))
    drift = np.zeros((n_t, n_m))
    for m in range(1, n_m):  # 36 steps over all teams at once
        drift[:, m] = np.clip(0.8 * drift[:, m - 1] + steps[:, m], -0.05, 0.05)
    return pd.DataFrame({
        "unit_id": np.repeat(teams["unit_id"].to_numpy(), n_m),
        "month": np.tile(months.astype("datetime64[D]"), n_t),
        "headcount": np.maximum(np.round(headcount[:, None] * (1 + drift)), 1).astype(int).ravel(),
        "fte": np.round(fte[:, None] * (1 + drift), 2).ravel(),
    })


def _stratified_uniform(groups: np.ndarray, rng: np.random.Generator,
                        by: np.ndarray | None = None) -> np.ndarray:
    """Uniforms stratified within each group: the k-th of n (ordered by `by`, else at random)
    falls in [k/n, (k+1)/n).

    Latin-hypercube style: each group gets an almost exact sample of the distribution, so the
    planted effects are not buried in sampling noise at the team sizes the demo uses. Team and
    team x wave random effects supply the realistic spread between teams.
    """
    n = len(groups)
    order = np.lexsort((rng.random(n) if by is None else by, groups))
    sorted_groups = groups[order]
    first = np.searchsorted(sorted_groups, sorted_groups, side="left")
    count = np.bincount(groups)[sorted_groups]
    u = np.empty(n)
    u[order] = (np.arange(n) - first + rng.random(n)) / count
    return u


def _stratified_normal(values: np.ndarray, groups: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Each column replaced by stratified normal scores within each group, keeping the order
    (so items keep their correlations while every team x wave gets an almost exact N(0, 1))."""
    n, j = values.shape
    key = (groups[:, None] * j + np.arange(j)).ravel()
    return ndtri(_stratified_uniform(key, rng, by=values.ravel())).reshape(n, j)


def _survey(rng: np.random.Generator, teams: pd.DataFrame, staff: pd.DataFrame,
            cat: catalogue.Catalogue) -> tuple[pd.DataFrame, pa.Table]:
    n_t, n_w = len(teams), len(WAVES)
    models = _item_models(cat)
    n_items = len(models)
    names = teams["name"].to_numpy()

    # Who responds: a team response rate of 35-75%, wobbling a little by wave.
    rate = np.clip(rng.uniform(0.35, 0.75, n_t)[:, None] + rng.normal(0, 0.04, (n_t, n_w)),
                   0.30, 0.80)
    take = rng.random((n_w, len(staff))) < rate[staff["team_idx"].to_numpy()].T
    wave, emp = np.nonzero(take)
    team = staff["team_idx"].to_numpy()[emp]
    sg = staff["group_idx"].to_numpy()[emp]
    n = len(emp)

    # Favourable latent per respondent x item: general + factor + noise, stratified per team-wave.
    factors = sorted({m.factor for m in models})
    f_idx = np.array([factors.index(m.factor) for m in models])
    latent = (_LOAD_GENERAL * rng.standard_normal(n)[:, None]
              + _LOAD_FACTOR * rng.standard_normal((n, len(factors)))[:, f_idx]
              + _LOAD_NOISE * rng.standard_normal((n, n_items)))
    good = _stratified_normal(latent, team * n_w + wave, rng)

    # Ordinal items: team effect (climate plus its own part) and team x wave noise, in latent sd.
    climate = teams["climate"].to_numpy()
    team_fx = 0.12 * climate[:, None] + rng.normal(0, 0.10, (n_t, len(factors)))
    team_wave_fx = rng.normal(0, 0.05, (n_t, n_w, len(factors)))
    bully_f = factors.index("staff_bullying") if "staff_bullying" in factors else None
    is_bully_team = names == WORSE_BULLYING_TEAM
    if bully_f is not None:
        # the planted team's level is exactly trust + planted effect, no random part
        team_fx[is_bully_team, bully_f] = 0.0
    shift = team_fx[team][:, f_idx] + team_wave_fx[team, wave][:, f_idx]

    item_pos = {m.id: k for k, m in enumerate(models)}
    manager_resp = np.isin(names[team], MANAGER_TEAMS) & (wave >= 1)
    for ind_id, change, who in (
        ("hse_manager_support", MANAGER_SUPPORT, manager_resp),
        ("manager_interest", MANAGER_INTEREST, manager_resp),
        ("bullying_colleagues", WORSE_BULLYING, is_bully_team[team]),
    ):
        ind = cat.indicators[ind_id]
        for item_id in ind.items:
            k = item_pos[item_id]
            shift[who, k] += _latent_shift(models[k], cat.items[item_id], ind, change)

    # Binary items: probability of "yes" per respondent, effects added in points.
    stress_team = -0.045 * climate + rng.normal(0, 0.03, n_t)
    stress_team[np.isin(names, WORSE_STRESS_TEAMS)] = WORSE_STRESS
    pres_team = -0.03 * climate + rng.normal(0, 0.03, n_t)
    emp_groups = staff["group_idx"].to_numpy()
    sg_stress = _SG_STRESS - _SG_STRESS[emp_groups].mean()
    sg_pres = _SG_PRESENTEEISM - _SG_PRESENTEEISM[emp_groups].mean()
    tw_noise = rng.normal(0, 0.015, (2, n_t, n_w))
    binary_extra = {
        "q11c": (STRESS_DRIFT * wave + stress_team[team] + sg_stress[sg]
                 + tw_noise[0, team, wave]
                 + STRESS_PROGRAMME * (np.isin(names[team], STRESS_TEAMS) & (wave == 2))),
        "q11d": pres_team[team] + sg_pres[sg] + tw_noise[1, team, wave],
    }

    raw = np.empty((n, n_items), dtype=np.int8)
    for k, m in enumerate(models):  # one vectorised step per item (48), never per respondent
        if m.binary_p is not None:
            p = np.clip(m.binary_p + binary_extra.get(m.id, 0.0), 0.02, 0.98)
            hit = good[:, k] < ndtri(p)           # low wellbeing -> the unfavourable answer
            favourable, unfavourable = (m.values[1], m.values[0]) if m.fav_high else m.values
            raw[:, k] = np.where(hit, unfavourable, favourable)
        else:
            level = (good[:, k, None] + shift[:, k, None] > _thresholds(m.fav_probs)).sum(axis=1)
            raw[:, k] = m.values[level] if m.fav_high else m.values[::-1][level]

    responses = pd.DataFrame({
        "response_id": np.arange(1, n + 1, dtype=np.int64),
        "wave_id": wave + 1,
        "unit_id": teams["unit_id"].to_numpy()[team],
        "staff_group": np.array(STAFF_GROUPS)[sg],
        "respondent_key": _hex_keys(rng, n),
    })
    answered = rng.random((n, n_items)) >= MISSING_SHARE
    rows, cols = np.nonzero(answered)
    answers = pa.table({
        "response_id": pa.array(rows.astype(np.int64) + 1),
        "item_id": pa.DictionaryArray.from_arrays(
            pa.array(cols.astype(np.int32)), pa.array([m.id for m in models])
        ),
        "value": pa.array(raw[rows, cols]),
    })
    return responses, answers


# --- absence -----------------------------------------------------------------------------------

# reason: (share of episodes other than S10, winter amplitude, P(long-term), short median days,
# long median days). S10 is drawn on its own so team stress can raise it.
_REASONS: dict[str, tuple[float, float, float, float, float]] = {
    "S11": (0.05, 0.05, 0.12, 5, 55),
    "S12": (0.07, 0.05, 0.18, 6, 60),
    "S13": (0.30, 0.90, 0.005, 3, 35),
    "S14": (0.01, 0.30, 0.02, 3, 35),
    "S15": (0.06, 0.50, 0.03, 5, 40),
    "S16": (0.05, 0.00, 0.00, 1.5, 35),
    "S17": (0.004, 0.00, 0.70, 10, 120),
    "S19": (0.008, 0.10, 0.30, 8, 60),
    "S21": (0.03, 0.20, 0.02, 3, 35),
    "S22": (0.02, 0.00, 0.01, 2, 35),
    "S23": (0.01, 0.00, 0.02, 3, 35),
    "S25": (0.15, 0.25, 0.005, 2, 35),
    "S26": (0.03, 0.00, 0.20, 6, 45),
    "S27": (0.03, 0.40, 0.05, 5, 35),
    "S28": (0.04, 0.10, 0.35, 10, 60),
    "S29": (0.01, 0.00, 0.20, 5, 50),
    "S30": (0.02, 0.00, 0.25, 7, 45),
    "S31": (0.01, 0.00, 0.05, 4, 35),
    "S98": (0.05, 0.00, 0.10, 5, 45),
    "S99": (0.06, 0.10, 0.05, 3, 40),
}
_S10 = (0.08, 0.05, 0.45, 7, 70)   # as a share of all episodes
_SHORT_SIGMA, _LONG_SIGMA, _MAX_DAYS, LONG_TERM_DAYS = 0.55, 0.6, 365, 28


def _mean_days(p_long: float, short_median: float, long_median: float) -> float:
    # lognormal means, +0.5 for rounding up to whole days (caps are rarely reached)
    short = short_median * np.exp(_SHORT_SIGMA**2 / 2) + 0.5
    long = LONG_TERM_DAYS + (long_median - LONG_TERM_DAYS) * np.exp(_LONG_SIGMA**2 / 2) + 0.5
    return (1 - p_long) * short + p_long * long


def _durations(u: np.ndarray, p_long: np.ndarray, short_median: np.ndarray,
               long_median: np.ndarray) -> np.ndarray:
    """Calendar days from one uniform per episode through the short/long mixture's quantiles."""
    eps = 1e-9
    is_long = u >= 1 - p_long
    q_short = np.clip(u / np.maximum(1 - p_long, eps), eps, 1 - eps)
    q_long = np.clip((u - (1 - p_long)) / np.maximum(p_long, eps), eps, 1 - eps)
    short = np.ceil(short_median * np.exp(_SHORT_SIGMA * ndtri(q_short)))
    long = LONG_TERM_DAYS + np.ceil(
        (long_median - LONG_TERM_DAYS) * np.exp(_LONG_SIGMA * ndtri(q_long)))
    return np.where(is_long, np.clip(long, LONG_TERM_DAYS + 1, _MAX_DAYS),
                    np.clip(short, 1, LONG_TERM_DAYS)).astype(np.int64)


def _absence(rng: np.random.Generator, teams: pd.DataFrame, staff: pd.DataFrame,
             stress_excess: np.ndarray) -> pd.DataFrame:
    """Episodes overlapping 2023-2025; started up to a year before it when still open on 1 Jan.

    Starts per team x month are the expected number rounded at random (not Poisson), shared out
    over the team's staff by their personal propensity; reasons and durations use uniforms
    stratified within team x half-year, so the rota effect is visible at these team sizes.
    """
    months = _month_range("2022-01", "2025-12")     # 2022 is burn-in for long episodes
    starts = months.astype("datetime64[D]")
    days = ((months + 1).astype("datetime64[D]") - starts).astype(int)
    phase = np.cos(2 * np.pi * (months.astype(int) % 12) / 12)     # +1 in January, -1 in July
    n_t = len(teams)

    codes = list(_REASONS)
    spec = np.array([_REASONS[c] for c in codes])
    share = spec[:, 0] / spec[:, 0].sum() * (1 - _S10[0])
    season = 1 + spec[:, 1][None, :] * phase[:, None]               # month x reason
    other_mean = float(share @ [_mean_days(*r[2:]) for r in spec])
    # New episodes cannot start while someone is already off (about the absence rate of days).
    per_day = ABSENCE_RATE / (other_mean + _S10[0] * _mean_days(*_S10[2:])) / (1 - ABSENCE_RATE)

    team = staff["team_idx"].to_numpy()
    names = teams["name"].to_numpy()
    climate = teams["climate"].to_numpy()
    team_mult = np.exp(-0.12 * climate + rng.normal(0, 0.10, n_t))
    team_mult /= team_mult[team].mean()
    propensity = rng.gamma(3.0, 1 / 3.0, len(staff))   # some people are off more often
    headcount = np.bincount(team, minlength=n_t)        # staff are sorted by team
    rota_start = np.datetime64(_iv("Rota redesign").start, "M")
    rota = np.where(np.isin(names, ROTA_TEAMS)[:, None] & (months >= rota_start)[None, :],
                    ROTA_RATIO, 1.0)
    s10_mult = np.clip(1 + 1.5 * stress_excess, 0.5, None)

    base = per_day * headcount[:, None] * days[None, :] * team_mult[:, None] * rota
    expected = {
        "other": base * (season @ share)[None, :],
        "S10": base * _S10[0] * (1 + _S10[1] * phase)[None, :] * s10_mult[:, None],
    }
    cum_w = np.cumsum(propensity)
    lo = np.concatenate([[0.0], cum_w])[np.searchsorted(team, np.arange(n_t))]
    hi = cum_w[np.searchsorted(team, np.arange(n_t), side="right") - 1]

    parts = []
    for k, (kind, lam) in enumerate(expected.items()):
        count = np.floor(lam + rng.random(lam.shape)).astype(int)
        t_idx, m_idx = np.nonzero(count)
        t_idx, m_idx = np.repeat(t_idx, count[t_idx, m_idx]), np.repeat(m_idx, count[t_idx, m_idx])
        pick = lo[t_idx] + rng.random(len(t_idx)) * (hi[t_idx] - lo[t_idx])
        emp = np.minimum(np.searchsorted(cum_w, pick, side="right"), len(staff) - 1)
        stratum = (k * n_t + t_idx) * 8 + m_idx // 6          # class x team x half-year
        if kind == "S10":
            r_idx = np.full(len(t_idx), -1)
            reason = np.full(len(t_idx), "S10")
            p_long, short_med, long_med = (np.full(len(t_idx), v) for v in _S10[2:])
        else:
            mix = np.cumsum(season * share[None, :], axis=1)
            mix /= mix[:, -1:]
            u = _stratified_uniform(stratum, rng)
            r_idx = np.minimum((u[:, None] > mix[m_idx]).sum(axis=1), len(codes) - 1)
            reason = np.array(codes)[r_idx]
            p_long, short_med, long_med = spec[r_idx, 2], spec[r_idx, 3], spec[r_idx, 4]
        start = starts[m_idx] + (rng.random(len(m_idx)) * days[m_idx]).astype(int)
        dur = _durations(_stratified_uniform(stratum, rng), p_long, short_med, long_med)
        parts.append((emp, start, start + dur - 1, reason))
    emp, start, end, reason = (np.concatenate(x) for x in zip(*parts, strict=True))

    # One person cannot start a new absence while off sick: keep an episode only if it starts
    # after every earlier episode of the same employee has ended (group-wise running max).
    order = np.lexsort((end, start, emp))
    emp, start, end, reason = emp[order], start[order], end[order], reason[order]
    span = np.int64(10**6)
    running = np.maximum.accumulate(emp * span + end.astype(np.int64))
    prev_end = np.concatenate([[np.int64(-1)], running[:-1]]) - emp * span
    prev_emp = np.concatenate([[-1], emp[:-1]])
    keep = (prev_emp != emp) | (start.astype(np.int64) > prev_end)
    keep &= (end >= np.datetime64(PERIOD_START)) & (start <= np.datetime64(PERIOD_END))
    emp, start, end, reason = emp[keep], start[keep], end[keep], reason[keep]

    frame = pd.DataFrame({
        "emp": emp,
        "unit_id": teams["unit_id"].to_numpy()[team[emp]],
        "start_date": start,
        "end_date": end,
        "open": end > np.datetime64(PERIOD_END),      # still off on the extract date
        "fte": staff["fte"].to_numpy()[emp],
        "reason_code": reason,
        "staff_group": np.array(STAFF_GROUPS)[staff["group_idx"].to_numpy()[emp]],
        "employee_key": staff["employee_key"].to_numpy()[emp],
    })
    dupes = frame.iloc[np.sort(rng.choice(len(frame), DUPLICATE_EPISODES, replace=False))]
    frame = pd.concat([frame, dupes], ignore_index=True)
    frame = frame.sort_values(["start_date", "unit_id", "emp"], kind="stable", ignore_index=True)
    frame["episode_id"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return frame


# --- writing -----------------------------------------------------------------------------------

_SEQUENCES = {
    "unit_seq": "units", "wave_seq": "waves", "response_seq": "responses",
    "episode_seq": "absence_episodes", "intervention_seq": "interventions",
}
_ID_COLUMN = {
    "units": "unit_id", "waves": "wave_id", "responses": "response_id",
    "absence_episodes": "episode_id", "interventions": "intervention_id",
}


def _holds_data(con: duckdb.DuckDBPyConnection) -> list[str]:
    # table names are this module's constants, never user input
    return [t for t in store.DATA_TABLES if con.execute(f"SELECT count(*) > 0 FROM {t}").fetchone()[0]]


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame | pa.Table,
            columns: list[str]) -> None:
    data = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame[columns], preserve_index=False)
    con.register("demo_frame", data)
    try:
        cols = ", ".join(columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM demo_frame")
    finally:
        con.unregister("demo_frame")


def _write(con: duckdb.DuckDBPyConnection, teams: pd.DataFrame, sip: pd.DataFrame,
           responses: pd.DataFrame, answers: pa.Table, episodes: pd.DataFrame) -> None:
    con.executemany("INSERT INTO sites VALUES (?, ?, ?)",
                    [(s, lat, lon) for s, (lat, lon) in SITES.items()])
    con.executemany(
        "INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)",
        teams[["unit_id", "name", "directorate", "site"]].values.tolist(),
    )
    con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)",
                    [(k + 1, label, d) for k, (label, d) in enumerate(WAVES.items())])
    _insert(con, "staff_in_post", sip, ["unit_id", "month", "headcount", "fte"])
    _insert(con, "responses", responses,
            ["response_id", "wave_id", "unit_id", "staff_group", "respondent_key"])
    _insert(con, "answers", answers, ["response_id", "item_id", "value"])
    ep = pa.Table.from_pandas(episodes, preserve_index=False)
    ep = ep.set_column(ep.schema.get_field_index("end_date"), "end_date", pa.array(
        episodes["end_date"].to_numpy().astype("datetime64[D]"), mask=episodes["open"].to_numpy()))
    ep = ep.set_column(ep.schema.get_field_index("start_date"), "start_date",
                       pa.array(episodes["start_date"].to_numpy().astype("datetime64[D]")))
    _insert(con, "absence_episodes", ep, ["episode_id", "employee_key", "unit_id", "start_date",
                                          "end_date", "fte", "reason_code", "staff_group"])
    unit_of = dict(zip(teams["name"], teams["unit_id"], strict=True))
    for k, iv in enumerate(INTERVENTIONS, start=1):
        con.execute(
            "INSERT INTO interventions (intervention_id, name, domain, start_date, indicators, notes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [k, iv.name, iv.domain, iv.start, list(iv.indicators), iv.notes],
        )
        con.executemany("INSERT INTO intervention_units VALUES (?, ?)",
                        [(k, int(unit_of[t])) for t in iv.teams])
    # Ids were written explicitly (so equal seeds give equal stores); move each sequence past
    # them so later imports that draw nextval() cannot collide.
    for seq, table in _SEQUENCES.items():
        top = con.execute(f"SELECT max({_ID_COLUMN[table]}) FROM {table}").fetchone()[0]
        if top:
            con.execute("SELECT setval(?, ?)", [seq, int(top)])


def load_demo(con: duckdb.DuckDBPyConnection, seed: int = DEFAULT_SEED,
              replace: bool = False) -> str:
    """Write the seeded demo organisation into the store in one transaction; return a summary.

    Refuses (ValueError) when the store already holds data unless replace=True, which clears
    every data table first in the same transaction. Equal seeds give identical contents.
    """
    held = _holds_data(con)
    if held and not replace:
        raise ValueError(
            f"the store already holds data ({', '.join(held)}); "
            "load the demo into an empty store or pass replace=True"
        )
    rng = np.random.default_rng(seed)
    cat = catalogue.get()
    teams = _teams_frame(rng)
    staff = _staff(rng, teams)
    sip = _staff_in_post(rng, teams, staff)
    responses, answers = _survey(rng, teams, staff, cat)
    stress_excess = np.where(teams["name"].isin(WORSE_STRESS_TEAMS), WORSE_STRESS,
                             -0.045 * teams["climate"].to_numpy())
    episodes = _absence(rng, teams, staff, stress_excess)

    with store.transaction(con):
        if replace:
            store.clear_data(con)
        _write(con, teams, sip, responses, answers, episodes)
        store.refresh_scores(con)
        store.set_meta(con, "dataset_name", DATASET_NAME)
        store.set_meta(con, "is_demo", "true")
        store.set_meta(con, "demo_seed", str(seed))
        store.bump_version(con)
    return _summary(seed, teams, staff, responses, answers, episodes)


def _summary(seed: int, teams: pd.DataFrame, staff: pd.DataFrame, responses: pd.DataFrame,
             answers: pa.Table, episodes: pd.DataFrame) -> str:
    fmt = "{:,}".format
    return (
        f"Loaded the demo organisation {DATASET_NAME} (seed {seed}): {fmt(len(staff))} staff in "
        f"{len(teams)} teams ({len(SMALL_TEAMS)} of 5-15 staff) across "
        f"{teams['directorate'].nunique()} directorates and {len(SITES)} sites; "
        f"{len(WAVES)} survey waves ({', '.join(WAVES)}) with {fmt(len(responses))} responses "
        f"and {fmt(answers.num_rows)} answers; {fmt(len(episodes))} absence episodes "
        f"{PERIOD_START:%b %Y}-{PERIOD_END:%b %Y} ({fmt(int(episodes['open'].sum()))} still open, "
        f"{DUPLICATE_EPISODES} exact duplicates); {len(INTERVENTIONS)} interventions. "
        "Every planted effect is listed in data/demo/README.md."
    )
