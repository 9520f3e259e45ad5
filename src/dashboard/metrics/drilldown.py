"""Team drill-down queries: units tree, heatmap, funnel plot with control limits, profiles, compare."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue, periods, privacy, stats
from dashboard.metrics import indicators, lenses, scorecard, team_absence
from dashboard.present import formatting
from dashboard.store import derived, groups

# The cuts a user can choose on the Teams page (each is offered by privacy.RELEASE_ORDER).
VIEWS: dict[str, tuple[str, ...]] = {
    "team": ("team",),
    "directorate": ("directorate",),
    "site": ("site",),
    "staff_group": ("staff_group",),
    "directorate_staff_group": ("directorate", "staff_group"),
    "site_staff_group": ("site", "staff_group"),
}
# "Teams", "Directorate × staff group": a single cut reads in the plural.
VIEW_LABELS: dict[str, str] = {view: groups.title(by, plural=len(by) == 1) for view, by in VIEWS.items()}
# The team profile's series: the team beside its directorate and the organisation.
PROFILE_SERIES: tuple[str, ...] = tuple(groups.LABELS[c] for c in ("team", "directorate", "organisation"))
REFERENCES: dict[str, str] = {
    "organisation": "organisation",
    "benchmark": "benchmark",
    "previous": "previous wave",
}
# Funnel plot control limits: 95% (about 2 sd) and 99.8% (about 3 sd), as in NHS funnel plots.
Z95, Z998 = 1.96, 3.09
# Views with an absence column (staff in post gives their denominator; staff groups have none).
ABSENCE_VIEWS: dict[tuple[str, ...], str] = {(cut,): cut for cut in groups.ABSENCE_CUTS[1:]}
ABSENCE_IDS: tuple[str, ...] = tuple(team_absence.MEASURE_OF)
# What an absence cell is compared with for each reference.
ABSENCE_REFERENCES: dict[str, str] = {
    "organisation": "organisation",
    "benchmark": "benchmark",
    "previous": "12 months before",
}
STATUS_KEYS = ("better", "similar", "worse", "none", "suppressed")
ZONES = (
    "Above 99.8% limit",
    "Above 95% limit",
    "Within limits",
    "Below 95% limit",
    "Below 99.8% limit",
)


def status_labels(reference: str, threshold: int, absence: bool = False) -> dict[str, str]:
    """Legend text for each heatmap status; it always names the reference. With absence columns
    the withheld entry names both bases (responses for survey cells, staff in post for absence)."""
    ref = REFERENCES[reference]
    return {
        "better": f"Better than {ref}",
        "similar": f"Similar to {ref}",
        "worse": f"Worse than {ref}",
        "none": f"No {ref} figure",
        "suppressed": formatting.sentence(formatting.fewer_than(
            threshold, formatting.RESPONSES_OR_STAFF if absence else formatting.RESPONSES)),
    }


def absence_status_labels(reference: str, threshold: int) -> dict[str, str]:
    """Status text of an absence cell (hover and table): its own reference and base."""
    ref = ABSENCE_REFERENCES[reference]
    ref = ref if reference != "previous" else f"the {ref}"
    return {
        "better": f"Better than {ref}",
        "similar": f"Similar to {ref} (within {scorecard.RATE_MARGIN:.0%})",
        "worse": f"Worse than {ref}",
        "none": "No figure for the 12 months before" if reference == "previous" else f"No {ref} figure",
        "suppressed": formatting.sentence(formatting.fewer_than(threshold, formatting.STAFF)),
    }


def unit_tree(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every unit with its directorate and site as group labels (privacy.label)."""
    tree = con.execute("SELECT unit_id, team, directorate, site FROM units").df()
    tree = privacy.normalise_keys(tree, ("directorate", "site"))
    return tree.sort_values(["directorate", "team"], kind="stable").reset_index(drop=True)


def survey_indicator_ids(cat: catalogue.Catalogue | None = None) -> list[str]:
    cat = cat or catalogue.get()
    return [i.id for i in cat.survey_indicators()]


def group_label(frame: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    """One display name per row: the cut's values joined with ' · ', or 'Organisation'."""
    if not by:
        return pd.Series("Organisation", index=frame.index, dtype="string")
    parts = [frame[b].astype("string") for b in by]
    label = parts[0]
    for part in parts[1:]:
        label = label + " · " + part
    return label


def _previous_wave(con: duckdb.DuckDBPyConnection, wave_id: int) -> int | None:
    waves = indicators.wave_dates(con)
    here = waves.loc[waves.wave_id == wave_id, "fielded_on"]
    if here.empty:
        raise ValueError(f"unknown wave {wave_id}")
    earlier = waves[waves.fielded_on < here.iloc[0]]
    return int(earlier.wave_id.iloc[-1]) if not earlier.empty else None


def _figures(
    con: duckdb.DuckDBPyConnection,
    cuts: Sequence[Sequence[str]],
    threshold: int,
    wave_ids: Sequence[int] | None,
    indicator_ids: Sequence[str] | None = None,
) -> list[pd.DataFrame]:
    """Released survey figures for several cuts from one release plan.

    Inside one figure call, a second request for the same cuts and indicators in some of the
    waves already worked out is read from the first (each wave's plan is decided on its own, so
    the rows of a wave are the same whichever other waves were asked for)."""
    shared = derived.scratch()
    key = ("drilldown.figures", tuple(tuple(by) for by in cuts), int(threshold),
           None if indicator_ids is None else tuple(indicator_ids))
    if shared is not None and wave_ids is not None and key in shared:
        waves, frames = shared[key]
        if set(wave_ids) <= waves:
            return [f[f.wave_id.isin(list(wave_ids))].reset_index(drop=True) for f in frames]
    frames = privacy.survey_figures_of(con, cuts, threshold, wave_ids, indicator_ids)
    if shared is not None and wave_ids is not None:
        shared[key] = ({int(w) for w in wave_ids}, frames)
        return [f.copy() for f in frames]   # the caller may change its own; the kept ones stay
    return frames


@derived.reads(only="survey")
def groups_overview(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    threshold: int,
    directorate: str | None = None,
) -> pd.DataFrame:
    """The groups of a cut in one wave: [*by, label, n, reportable].

    reportable: released for at least one survey indicator; n: the largest released base
    (NaN when not reportable, so a small group's size is never shown).
    """
    by = tuple(by)
    if privacy.cut_name(by) not in {privacy.cut_name(o) for o in privacy.RELEASE_ORDER}:
        raise ValueError(f"the cut {privacy.cut_name(by)!r} is not offered")
    # the release plan holds each group's n and whether it is released: no figures needed
    plan = privacy.plan(con, threshold, [wave_id], survey_indicator_ids())
    figs = plan[plan.cut == privacy.cut_name(by)]
    figs = figs.assign(**{b: figs[b].astype("string") for b in by},
                       n=figs.n.astype("float64").where(figs.released))
    if by == ("team",) and directorate is not None:
        tree = unit_tree(con)
        figs = figs[figs.team.isin(tree.loc[tree.directorate == directorate, "team"])]
    figs = figs[figs[list(by)].notna().all(axis=1).to_numpy()]
    if figs.empty:
        return pd.DataFrame(columns=[*by, "label", "n", "reportable"])
    # one number per group in sorted key order (pandas' named aggregation cost 9 ms a call on
    # the demo, and the Teams page asks on every run)
    code = np.zeros(len(figs), dtype=np.int64)
    for b in by:
        found, distinct = pd.factorize(figs[b], sort=True)
        code = code * len(distinct) + found
    groups_, first, back = np.unique(code, return_index=True, return_inverse=True)
    n = np.full(len(groups_), np.nan)
    np.fmax.at(n, back, figs.n.to_numpy(dtype=np.float64, na_value=np.nan))
    reportable = np.bincount(back, weights=figs.released.to_numpy(dtype=bool), minlength=len(groups_)) > 0
    out = figs[list(by)].iloc[first].reset_index(drop=True)
    out["label"] = group_label(out, by)
    out["n"], out["reportable"] = n, reportable
    return out


def control_limits(
    kind: str,
    centre: float | np.ndarray,
    n: float | np.ndarray,
    z: float,
    sd: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Funnel limits around the centre for groups of size n (centre and sd may vary by row).

    Proportions: exact binomial limits at the two-sided coverage of z (stats.binomial_limits).
    Means: m0 +/- z * sd / sqrt(n), with sd the organisation's respondent-level sd.
    """
    from scipy.stats import norm

    n = np.asarray(n, dtype=np.float64)
    centre = np.asarray(centre, dtype=np.float64)
    if kind == "proportion":
        return stats.binomial_limits(centre, n, 1 - 2 * float(norm.sf(z)))
    if kind == "mean":
        if sd is None or np.isnan(np.asarray(sd, dtype=np.float64)).any():
            raise ValueError("control limits for a mean need the organisation's sd")
        half = z * np.asarray(sd, dtype=np.float64) / np.sqrt(n)
        return centre - half, centre + half
    raise ValueError(f"no control limits for kind {kind!r}")


def zone(value: np.ndarray, lo95, hi95, lo998, hi998) -> np.ndarray:
    """Where each value falls against its 95% and 99.8% limits (ZONES)."""
    value = np.asarray(value, dtype=np.float64)
    return np.select(
        [value > hi998, value > hi95, value < lo998, value < lo95],
        [ZONES[0], ZONES[1], ZONES[4], ZONES[3]],
        default=ZONES[2],
    )


def _direction(higher: np.ndarray, lower: np.ndarray, higher_is_better: bool) -> np.ndarray:
    good, bad = ("better", "worse") if higher_is_better else ("worse", "better")
    return np.select([higher, lower], [good, bad], default="similar")


def _own_interval(kind: str, value: pd.Series, n: pd.Series, sd: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The group's own 95% interval: Wilson for proportions, normal for means."""
    if kind == "proportion":
        return stats.wilson_bounds(stats.successes(value.to_numpy(), n.to_numpy()), n.to_numpy())
    half = Z95 * sd.to_numpy() / np.sqrt(n.to_numpy())
    return value.to_numpy() - half, value.to_numpy() + half


@derived.reads
def heatmap(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    threshold: int,
    reference: str = "organisation",
    directorate: str | None = None,
    indicator_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Groups x indicators with each cell's status against the chosen reference.

    Survey cells (favourable direction from the catalogue): against the organisation or
    benchmark, an exact binomial test (proportions; the test behind the exact funnel limits)
    or a z test (means) at the group's n; against the previous wave, a two-sample z test on the
    group's own figures; a cell is flagged better or worse only when its p-value survives
    Benjamini-Hochberg false-discovery control over all the survey cells shown (flag_summary
    says how many chance alone would give). Absence cells (directorate, team and
    site views; see absence_cells) follow the Absence page's staff-in-post rule. indicator_ids
    None means every survey indicator plus the absence rate and S10 share. Columns: [*by, group,
    indicator_id, indicator, domain, kind, source, value, n, reference_value, difference, status,
    status_label, suppressed, p_value, flagged]; n is responses for survey cells, staff in post
    for absence cells (whose p_value and flagged are empty).
    """
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}")
    cat = catalogue.get()
    ids = list(indicator_ids) if indicator_ids is not None else [*survey_indicator_ids(cat), *ABSENCE_IDS]
    absence_ids = [i for i in ids if i in ABSENCE_IDS]
    ids = [i for i in ids if i not in ABSENCE_IDS]
    cols = [*by, "group", "indicator_id", "indicator", "domain", "kind", "source", "value", "n",
            "reference_value", "difference", "status", "status_label", "suppressed", "p_value",
            "flagged"]
    parts = [_survey_cells(con, by, wave_id, threshold, reference, directorate, ids, cat)] if ids else []
    parts.append(absence_cells(con, by, wave_id, threshold, reference, directorate, absence_ids))
    parts = [p.reindex(columns=cols) for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=cols)
    now = pd.concat(parts, ignore_index=True)
    order = {iid: k for k, iid in enumerate([*ids, *absence_ids])}
    now = now.assign(_order=now.indicator_id.map(order)).sort_values(["group", "_order"])
    return now[cols].reset_index(drop=True)


def _survey_cells(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    threshold: int,
    reference: str,
    directorate: str | None,
    ids: list[str],
    cat: catalogue.Catalogue,
) -> pd.DataFrame:
    """The survey cells of heatmap (see there)."""
    from scipy.stats import norm

    prev = _previous_wave(con, wave_id)
    # the previous wave's figures only when they are the reference: each wave's release is
    # decided on its own, so this wave's rows are the same either way (half the rows to read)
    wave_ids = [wave_id] + ([prev] if prev is not None and reference == "previous" else [])
    figs, org = _figures(con, [by, ()], threshold, wave_ids, ids)
    if by == ("team",) and directorate is not None:
        tree = unit_tree(con)
        figs = figs[figs.team.isin(tree.loc[tree.directorate == directorate, "team"])]
    now = figs[figs.wave_id == wave_id].copy()
    if now.empty:
        return now.assign(group=pd.Series(dtype="string"))
    now["group"] = group_label(now, by)

    org_now = org[org.wave_id == wave_id].set_index("indicator_id")
    # per indicator, not per row: the team heatmap has tens of thousands of cells, and a lookup
    # per row (Series.map) took a sixth of a repeated team heatmap at national scale
    codes, uniques = pd.factorize(now.indicator_id)
    info = {i: cat.indicators[i] for i in uniques}

    def per_cell(values: Mapping[str, object], dtype: object = None) -> np.ndarray:
        return np.asarray([values.get(i, np.nan) for i in uniques], dtype=dtype)[codes]

    kinds = pd.Series(per_cell({i: d.kind for i, d in info.items()}, object), index=now.index)
    higher_better = pd.Series(per_cell({i: d.higher_is_better for i, d in info.items()}, bool),
                              index=now.index)
    if reference == "previous":
        before = figs[figs.wave_id == prev] if prev is not None else figs.iloc[0:0]
        before = before[[*by, "indicator_id", "value", "n", "sd"]].rename(
            columns={"value": "reference_value", "n": "ref_n", "sd": "ref_sd"}
        )
        now = now.merge(before, on=[*by, "indicator_id"], how="left")
        var_now = np.where(
            kinds.to_numpy() == "proportion", now.value * (1 - now.value) / now.n, now.sd**2 / now.n
        )
        var_ref = np.where(
            kinds.to_numpy() == "proportion",
            now.reference_value * (1 - now.reference_value) / now.ref_n,
            now.ref_sd**2 / now.ref_n,
        )
        se = np.sqrt(var_now + var_ref)
        diff = (now.value - now.reference_value).to_numpy(dtype=float)
        # a zero standard error (everyone gave the same answer in both waves): any change is real
        with np.errstate(divide="ignore", invalid="ignore"):
            p_value = np.where(se > 0, 2 * norm.sf(np.abs(diff) / se), np.where(diff != 0, 0.0, 1.0))
        p_value = np.where(np.isnan(diff), np.nan, p_value)
        now = now.drop(columns=["ref_n", "ref_sd"])
    else:
        if reference == "organisation":
            now["reference_value"] = per_cell(org_now["value"].to_dict(), float)
        else:
            now["reference_value"] = per_cell(
                {i: d.benchmark.value if d.benchmark else np.nan for i, d in info.items()}, float
            )
        sd0 = pd.Series(per_cell(org_now["sd"].to_dict(), float), index=now.index)
        p_value = cell_p_values(kinds.to_numpy(), now.value.to_numpy(dtype=float),
                                now.reference_value.to_numpy(dtype=float),
                                now.n.to_numpy(dtype=float), sd0.to_numpy(dtype=float))
        diff = (now.value - now.reference_value).to_numpy(dtype=float)
    # Dozens of cells are tested at once: 5% of them would pass a 95% test by chance alone,
    # so a cell is flagged only when it survives Benjamini-Hochberg control of false discoveries.
    usable = ~np.isnan(p_value) & ~now.suppressed.to_numpy(dtype=bool)
    flagged = np.zeros(len(now), dtype=bool)
    if usable.any():
        flagged[usable] = stats.adjust_pvalues(p_value[usable], method="bh").reject
    now["p_value"] = np.where(usable, p_value, np.nan)
    now["flagged"] = flagged
    higher, lower = flagged & (diff > 0), flagged & (diff < 0)
    status = np.where(
        higher_better.to_numpy(), _direction(higher, lower, True), _direction(higher, lower, False)
    )
    status = np.where(now.reference_value.isna() | now.value.isna(), "none", status)
    status = np.where(now.suppressed, "suppressed", status)
    labels = status_labels(reference, threshold)
    now["status"] = status
    # per status, not per cell (Series.map on tens of thousands of text cells: 9 ms a call)
    found, statuses = pd.factorize(status)
    now["status_label"] = np.asarray([labels.get(s, np.nan) for s in statuses], dtype=object)[found]
    now["difference"] = now.value - now.reference_value
    now["indicator"] = per_cell({i: d.short for i, d in info.items()}, object)
    now["domain"] = per_cell({i: cat.domain(d.domain).name for i, d in info.items()}, object)
    now["kind"] = kinds.to_numpy()
    now["source"] = "survey"
    return now


def cell_p_values(kind: np.ndarray, value: np.ndarray, reference: np.ndarray, n: np.ndarray,
                  sd: np.ndarray) -> np.ndarray:
    """Two-sided p-value of each cell against its reference value.

    Proportions: exact binomial test of round(value x n) successes in n against the reference
    (twice the smaller tail, capped at 1), the test the exact funnel limits invert. Means: z
    test with the organisation's respondent-level sd. NaN where there is nothing to compare.
    The count is `stats.successes` (a last-bit difference in value moved a demo cell's p-value from
    0.22 to 0.25).
    """
    from scipy.stats import binom, norm

    p = np.full(len(value), np.nan)
    prop = (kind == "proportion") & ~np.isnan(reference) & ~np.isnan(value) & (n > 0)
    if prop.any():
        k, m, p0 = stats.successes(value[prop], n[prop]), np.rint(n[prop]), reference[prop]
        tails = np.minimum(binom.cdf(k, m, p0), binom.sf(k - 1, m, p0))
        p[prop] = np.minimum(1.0, 2 * tails)
    mean = (kind == "mean") & ~np.isnan(reference) & ~np.isnan(value) & (sd > 0) & (n > 0)
    if mean.any():
        z = (value[mean] - reference[mean]) / (sd[mean] / np.sqrt(n[mean]))
        p[mean] = 2 * norm.sf(np.abs(z))
    return p


def flag_summary(heat: pd.DataFrame) -> dict[str, float]:
    """How many survey cells were tested and flagged, and how many chance alone would flag.

    `expected_by_chance` is 5% of the cells tested: what a 95% test per cell would flag if no
    group truly differed. `uncorrected` is what such a test flags here; `flagged` what survives
    the false-discovery control the heatmap uses.
    """
    if "p_value" not in heat.columns:
        return {"tested": 0, "uncorrected": 0, "flagged": 0, "expected_by_chance": 0.0}
    p = heat.p_value.to_numpy(dtype=float)
    tested = int((~np.isnan(p)).sum())
    return {
        "tested": tested,
        "uncorrected": int((p < 0.05).sum()),
        "flagged": int(heat.get("flagged", pd.Series(False, index=heat.index)).fillna(False)
                       .astype(bool).sum()),
        "expected_by_chance": 0.05 * tested,
    }


def _relative_status(value: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(higher, lower): value more than scorecard.RATE_MARGIN above / below the reference,
    relative to it. Absence is a census of days lost, not a sample, and days come in spells,
    so a Poisson interval on days would be far too narrow: a relative margin is the honest test."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(reference > 0, value / reference - 1, np.where(value > 0, np.inf, 0.0))
    return rel > scorecard.RATE_MARGIN, rel < -scorecard.RATE_MARGIN


@derived.reads
def absence_cells(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    threshold: int,
    reference: str = "organisation",
    directorate: str | None = None,
    indicator_ids: Sequence[str] = ABSENCE_IDS,
) -> pd.DataFrame:
    """Absence rate and S10 share per group over the 12 months to the wave's fieldwork, as heatmap
    cells (columns as heatmap). Empty for staff-group cuts and when there is no absence data.

    Groups are released by team_absence.released_rates (staff in post at least the threshold,
    with siblings withheld to protect a small team). Status: against the organisation and the
    group's own 12 months before, "similar" within scorecard.RATE_MARGIN (relative) of the
    reference, else better or worse in the favourable direction; against the benchmark,
    scorecard.rag as on the overview.
    """
    cut = ABSENCE_VIEWS.get(tuple(by))
    ids = [i for i in indicator_ids if i in ABSENCE_IDS]
    if cut is None or not ids:
        return pd.DataFrame()
    now, before = team_absence.wave_release(con, wave_id, threshold)
    groups_ = now[cut]
    if groups_.empty:
        return pd.DataFrame()
    if cut == "team" and directorate is not None:
        groups_ = groups_[groups_.directorate == directorate]
    cat = catalogue.get()
    labels = absence_status_labels(reference, threshold)
    frames = []
    for iid in ids:
        ind = cat.indicators[iid]
        col = team_absence.MEASURE_OF[iid]
        frame = groups_[[cut, col, "headcount", "suppressed"]].rename(
            columns={col: "value", "headcount": "n"}
        )
        if reference == "organisation":
            org = now["organisation"]
            shown = team_absence.is_shown(now, "organisation")
            frame["reference_value"] = float(org[col].iloc[0]) if shown else np.nan
        elif reference == "benchmark":
            frame["reference_value"] = ind.benchmark.value if ind.benchmark else np.nan
        else:
            earlier = before[cut][[cut, col]].rename(columns={col: "reference_value"})
            frame = frame.merge(earlier, on=cut, how="left")
        frame["reference_value"] = frame["reference_value"].astype("float64")
        value = frame.value.to_numpy(dtype=np.float64)
        if reference == "benchmark":
            rated = [scorecard.rag(ind, float(v), n)[0] if pd.notna(v) else None
                     for v, n in zip(value, frame.n, strict=True)]
            status = np.array([r or "none" for r in rated], dtype=object)
        else:
            higher, lower = _relative_status(value, frame.reference_value.to_numpy())
            status = _direction(higher, lower, ind.higher_is_better)
        status = np.where(frame.reference_value.isna() | frame.value.isna(), "none", status)
        status = np.where(frame.suppressed, "suppressed", status)
        frames.append(frame.assign(
            indicator_id=iid, indicator=ind.short, domain=cat.domain(ind.domain).name, kind=ind.kind,
            source="absence", status=status, difference=frame.value - frame.reference_value,
        ))
    out = pd.concat(frames, ignore_index=True)
    out["status_label"] = out.status.map(labels)
    out["group"] = group_label(out, by)
    return out.reset_index(drop=True)


def absence_columns(heat: pd.DataFrame) -> list[str]:
    """The absence indicator ids shown in a heatmap (none for staff-group cuts or without data)."""
    if heat.empty or "source" not in heat:
        return []
    return [i for i in ABSENCE_IDS if i in set(heat.loc[heat.source == "absence", "indicator_id"])]


def sort_order(heat: pd.DataFrame, sort_by: str | None = None, descending: bool = False) -> list[str]:
    """Group names in display order: by name, or by one indicator's value (suppressed last)."""
    names = sorted(heat.group.dropna().unique())
    if not sort_by or sort_by == "group":
        return names[::-1] if descending else names
    col = heat[heat.indicator_id == sort_by].set_index("group")["value"]
    values = pd.Series({g: col.get(g, np.nan) for g in names}, dtype="float64")
    shown = values.dropna().sort_values(ascending=not descending, kind="stable")
    return list(shown.index) + [g for g in names if g not in shown.index]


@derived.reads(only="survey")
def funnel(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    indicator_id: str,
    threshold: int,
    directorate: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Each released group's value against its n, with 95% and 99.8% limits around the organisation.

    Returns (points, centre). points: [*by, group, n, value, sd, lo95, hi95, lo998, hi998, zone,
    signal (better | worse | within), ci_low, ci_high]; centre: {value, sd, n, kind,
    higher_is_better, withheld (groups not shown)}.
    """
    return funnels(con, by, wave_id, [indicator_id], threshold, directorate)[indicator_id]


@derived.reads(only="survey")
def funnels(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    wave_id: int,
    indicator_ids: Sequence[str],
    threshold: int,
    directorate: str | None = None,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """funnel for several indicators from one release and one query per cut: {id: (points, centre)}."""
    cat = catalogue.get()
    ids = list(dict.fromkeys(indicator_ids))
    figs, org = _figures(con, [by, ()], threshold, [wave_id], ids)
    if by == ("team",) and directorate is not None:
        tree = unit_tree(con)
        figs = figs[figs.team.isin(tree.loc[tree.directorate == directorate, "team"])]
    mine = dict(list(figs.groupby("indicator_id", sort=False)))
    org_of = dict(list(org.groupby("indicator_id", sort=False)))
    return {i: _funnel(cat.indicators[i], by, mine.get(i, figs.iloc[0:0]), org_of.get(i, org.iloc[0:0]))
            for i in ids}


def _funnel(
    ind: catalogue.Indicator, by: Sequence[str], figs: pd.DataFrame, org: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """One indicator's funnel from its released figures (see funnel)."""
    centre = {
        "value": float(org.value.iloc[0]) if not org.empty and not org.suppressed.iloc[0] else None,
        "sd": float(org.sd.iloc[0]) if not org.empty and pd.notna(org.sd.iloc[0]) else None,
        "n": float(org.n.iloc[0]) if not org.empty else None,
        "kind": ind.kind,
        "higher_is_better": ind.higher_is_better,
        "withheld": int(figs.suppressed.sum()),
    }
    cols = [*by, "group", "n", "value", "sd", "lo95", "hi95", "lo998", "hi998", "zone", "signal",
            "ci_low", "ci_high"]
    shown = ~figs.suppressed.to_numpy(dtype=bool)
    if centre["value"] is None or not shown.any() or (ind.kind == "mean" and centre["sd"] is None):
        points = figs[shown].copy()
        points["group"] = group_label(points, by)
        return points.reindex(columns=cols), centre
    # worked out on arrays and put in a frame once, sorted by group: column by column on a frame
    # this was 7.5 ms of a funnel's 45 at a tenth of national scale (a few hundred teams)
    group = group_label(figs, by)[shown]
    order = np.argsort(group.to_numpy(dtype=object), kind="stable")
    n, value, sd = (figs[c].to_numpy(dtype=np.float64, na_value=np.nan)[shown][order]
                    for c in ("n", "value", "sd"))
    lo95, hi95 = control_limits(ind.kind, centre["value"], n, Z95, centre["sd"])
    lo998, hi998 = control_limits(ind.kind, centre["value"], n, Z998, centre["sd"])
    direction = _direction(value > hi95, value < lo95, ind.higher_is_better)
    ci_low, ci_high = _own_interval(ind.kind, pd.Series(value), pd.Series(n), pd.Series(sd))
    columns = {c: figs[c][shown].iloc[order].reset_index(drop=True) for c in by}
    columns |= {"group": group.iloc[order].reset_index(drop=True), "n": n, "value": value, "sd": sd,
                "lo95": lo95, "hi95": hi95, "lo998": lo998, "hi998": hi998,
                "zone": zone(value, lo95, hi95, lo998, hi998),
                "signal": np.where(direction == "similar", "within", direction),
                "ci_low": ci_low, "ci_high": ci_high}
    return pd.DataFrame(columns, columns=cols), centre


def funnel_curve(
    kind: str,
    centre: float,
    sd: float | None,
    n_min: float,
    n_max: float,
    steps: int = 80,
) -> pd.DataFrame:
    """The funnel's limit lines over n (log-spaced): [n, centre, lo95, hi95, lo998, hi998]."""
    # whole respondents: exact binomial limits step with n
    n = np.unique(np.rint(np.geomspace(max(n_min, 1), max(n_max, n_min + 1), steps)))
    lo95, hi95 = control_limits(kind, centre, n, Z95, sd)
    lo998, hi998 = control_limits(kind, centre, n, Z998, sd)
    return pd.DataFrame(
        {"n": n, "centre": centre, "lo95": lo95, "hi95": hi95, "lo998": lo998, "hi998": hi998}
    )


def outside_limits(points: pd.DataFrame) -> pd.DataFrame:
    """Groups outside the 95% limits, worst first: [group, n, value, ci_low, ci_high, zone, signal]."""
    out = points[points.zone != ZONES[2]].copy()
    rank = {z: k for k, z in enumerate((ZONES[0], ZONES[4], ZONES[1], ZONES[3]))}
    out = out.assign(_signal=out.signal.map({"worse": 0, "better": 1}), _zone=out.zone.map(rank))
    out = out.sort_values(["_signal", "_zone", "group"]).drop(columns=["_signal", "_zone"])
    return out[["group", "n", "value", "ci_low", "ci_high", "zone", "signal"]].reset_index(drop=True)


# ---- profiles (reusing the scorecard) -------------------------------------------------------

_SURVEY_BLANK = {
    "value": None, "n": None, "score": None, "previous": None, "change": None,
    "status": None, "band": "",
}


def _released(release: pd.DataFrame, cut: str, key: Mapping[str, str]) -> pd.DataFrame:
    rows = release[release.cut == cut]
    for col, val in key.items():
        rows = rows[rows[col] == val]
    return rows


@derived.reads
def scope_table(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    unit_id: int | None = None,
    directorate: str | None = None,
    release: pd.DataFrame | None = None,
    absence_release: tuple[dict, dict] | None = None,
) -> pd.DataFrame:
    """scorecard.indicator_table for a team, a directorate or the organisation, with the release
    plan applied: a survey figure (this wave or the previous) the plan withholds is blanked;
    data-quality figures are shown only when the group is released for every survey indicator.

    Absence figures (12 months to the wave's fieldwork, and the 12 months before for the change)
    follow their own rule, the Absence page's: staff in post, not respondents, so the survey plan
    cannot protect them (a team nobody answered for has no place in it). A group's absence is
    shown only when the release shows the group's units in that period (release.release, through
    the stored summary of team_absence.scope_release: for a team, a directorate or the
    organisation the same unit set, and so the same decision, as team_absence.released_rates
    holds for it); otherwise "fewer than N staff in post". absence_release: frames from
    team_absence.wave_release to decide by instead (is_shown), for a caller that has them.
    """
    scope = {"unit_id": unit_id} if unit_id is not None else (
        {"directorate": directorate} if directorate is not None else {})
    return scope_tables(con, wave_id, threshold, {"scope": scope}, release, absence_release)["scope"]


@derived.reads
def scope_tables(
    con: duckdb.DuckDBPyConnection,
    wave_id: int,
    threshold: int,
    scopes: Mapping[str, Mapping[str, object]],
    release: pd.DataFrame | None = None,
    absence_release: tuple[dict, dict] | None = None,
    tree: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """scope_table for several scopes at once (name -> {"unit_id": id} for a team,
    {"directorate": name}, or {} for the organisation), from one scorecard computation.
    tree: unit_tree, when the caller has it."""
    tree = unit_tree(con) if tree is None else tree
    resolved: dict[str, tuple[str, dict, list[int] | None]] = {}
    for name, scope in scopes.items():
        if scope.get("unit_id") is not None:
            unit_id = int(scope["unit_id"])
            team = tree.loc[tree.unit_id == unit_id, "team"]
            if team.empty:
                raise ValueError(f"unknown unit {unit_id}")
            resolved[name] = ("team", {"team": team.iloc[0]}, [unit_id])
        elif scope.get("directorate") is not None:
            directorate = scope["directorate"]
            units = list(tree.loc[tree.directorate == directorate, "unit_id"])
            if not units:
                raise ValueError(f"unknown directorate {directorate!r}")
            resolved[name] = ("directorate", {"directorate": directorate}, units)
        else:
            resolved[name] = ("organisation", {}, None)
    prev = _previous_wave(con, wave_id)
    if release is None:
        release = privacy.plan_rows(con, threshold, [wave_id] + ([prev] if prev is not None else []),
                                    [(cut, key.get(cut)) for cut, key, _ in resolved.values()])
    cat = catalogue.get()
    tables = scorecard.indicator_tables(
        con, wave_id, threshold, {name: units for name, (_, _, units) in resolved.items()}, cat)
    units_of = {name: units for name, (_, _, units) in resolved.items()}
    summaries = (team_absence.scope_release(con, wave_id, threshold, units_of)
                 if absence_release is None else None)
    out = {}
    for name, (cut, key, _units) in resolved.items():
        if summaries is None:
            absence_now, absence_before = (team_absence.is_shown(frames, cut, key.get(cut))
                                           for frames in absence_release)
        else:
            absence_now, absence_before = (not s["suppressed"] for s in summaries[name])
        out[name] = _blank_scope(tables[name], release, cut, key, wave_id, prev, threshold,
                                 absence_now, absence_before, cat)
    return out


def _blank_scope(
    table: pd.DataFrame,
    release: pd.DataFrame,
    cut: str,
    key: Mapping[str, str],
    wave_id: int,
    prev: int | None,
    threshold: int,
    absence_now: bool,
    absence_before: bool,
    cat: catalogue.Catalogue,
) -> pd.DataFrame:
    """One scope's indicator table with what the release withholds blanked (see scope_table)."""
    mine = _released(release, cut, key)
    shown = mine[mine.released]
    now_ok = set(shown.loc[shown.wave_id == wave_id, "indicator_id"])
    prev_ok = set(shown.loc[shown.wave_id == prev, "indicator_id"])
    answered_now = set(mine.loc[mine.wave_id == wave_id, "indicator_id"])
    complete = bool(answered_now) and answered_now <= now_ok

    source = table.indicator_id.map(lambda i: cat.indicators[i].source)
    survey = source == "survey"
    blank_now = survey & ~table.indicator_id.isin(now_ok)
    absent = source == "absence"
    blank_other = ~survey & ~absent & (not complete)
    blank_absent = absent & (not absence_now)
    for col, val in _SURVEY_BLANK.items():
        table[col] = table[col].astype(object).where(~(blank_now | blank_other | blank_absent), val)
    blank_prev = (survey & ~table.indicator_id.isin(prev_ok)) | (absent & (not absence_before))
    for col in ("previous", "change"):
        table[col] = table[col].astype(object).where(~blank_prev, None)
    answered = table.indicator_id.isin(answered_now)
    table.loc[blank_now & answered, "note"] = formatting.fewer_than(threshold)
    table.loc[blank_now & ~answered, "note"] = "no responses in this wave"
    table.loc[blank_other, "note"] = "not shown: the group is not reportable for every survey indicator"
    table.loc[blank_absent, "note"] = formatting.fewer_than(threshold, formatting.STAFF)
    for col in ("value", "n", "score", "previous", "change"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    return table


@derived.reads(only="survey")
def is_reportable(
    con: duckdb.DuckDBPyConnection, unit_id: int, wave_id: int, threshold: int
) -> bool:
    """A team is reportable in a wave when at least one of its survey figures is released."""
    tree = unit_tree(con)
    team = tree.loc[tree.unit_id == unit_id, "team"]
    if team.empty:
        return False
    rows = privacy.plan_rows(con, threshold, [wave_id], [("team", team.iloc[0])])
    return bool(rows.released.any())


@derived.reads
def team_profile(
    con: duckdb.DuckDBPyConnection, unit_id: int, wave_id: int, threshold: int,
    lens: str = lenses.DEFAULT,
) -> dict:
    """Team vs its directorate, the organisation and the benchmark for one wave.

    Returns {reportable, team, directorate, site, indicators, domains, absence_period}.
    indicators: one row per catalogue indicator with team/directorate/organisation value, n and
    score, benchmark and the team's status against it (absence figures each under the Absence
    page's rule, see scope_table); domains: long [domain_id, domain, series, score, status_label];
    absence_period: (start, end) of the 12 months the absence figures cover. With another lens
    (data/lenses), `domains` holds that lens's groups, rolled up from the same released figures.
    Nothing but the team's name is returned when the team is not reportable.
    """
    tree = unit_tree(con)
    row = tree[tree.unit_id == unit_id]
    if row.empty:
        raise ValueError(f"unknown unit {unit_id}")
    team, directorate, site = row.iloc[0][["team", "directorate", "site"]]
    info = {"team": team, "directorate": directorate, "site": site}
    prev = _previous_wave(con, wave_id)
    release = privacy.plan_rows(con, threshold, [wave_id] + ([prev] if prev is not None else []),
                                [("team", team), ("directorate", directorate), ("organisation", None)])
    # is_reportable, from the plan already at hand (each wave's plan is decided on its own)
    if not _released(release[release.wave_id == wave_id], "team", {"team": team}).released.any():
        return {**info, "reportable": False, "indicators": None, "domains": None}
    tables = scope_tables(
        con, wave_id, threshold,
        dict(zip(PROFILE_SERIES, ({"unit_id": unit_id}, {"directorate": directorate}, {}), strict=True)),
        release, tree=tree)
    base = tables[PROFILE_SERIES[0]]
    ind = base[["domain_id", "domain", "indicator_id", "indicator", "short", "kind", "favourable",
                "value", "n", "score", "previous", "change", "benchmark", "benchmark_source",
                "status", "band", "scored", "note"]].copy()
    for name in PROFILE_SERIES[1:]:
        other = tables[name].set_index("indicator_id")
        ind[f"{name.lower()}_value"] = ind.indicator_id.map(other["value"])
        ind[f"{name.lower()}_n"] = ind.indicator_id.map(other["n"])
    ind["status_label"] = ind.status.map(scorecard.STATUS_LABELS)
    domains = []
    for name, table in tables.items():
        dom = lenses.rollup(table, lens).assign(series=name)
        domains.append(dom)
    domains = pd.concat(domains, ignore_index=True)[
        ["domain_id", "domain", "series", "score", "status_label", "feeding"]
    ]
    return {**info, "reportable": True, "indicators": ind, "domains": domains,
            "absence_period": periods.wave_periods(con, wave_id)[0]}


@derived.reads
def compare(
    con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int], wave_id: int, threshold: int,
    lens: str = lenses.DEFAULT,
) -> tuple[pd.DataFrame, list[str]]:
    """Seven-domain scores (or another lens's group scores) of 2-6 teams side by side.

    Returns (long frame [unit_id, team, domain_id, domain, score, status_label], names of teams
    left out because they are not reportable).
    """
    unit_ids = list(dict.fromkeys(int(u) for u in unit_ids))
    if not 2 <= len(unit_ids) <= 6:
        raise ValueError("compare 2 to 6 teams")
    tree = unit_tree(con).set_index("unit_id")
    prev = _previous_wave(con, wave_id)
    for uid in unit_ids:
        if uid not in tree.index:
            raise ValueError(f"unknown unit {uid}")
    release = privacy.plan_rows(con, threshold, [wave_id] + ([prev] if prev is not None else []),
                                [("team", tree.at[uid, "team"]) for uid in unit_ids])
    frames, left_out, shown = [], [], []
    for uid in unit_ids:
        team = tree.at[uid, "team"]
        if not _released(release[release.wave_id == wave_id], "team", {"team": team}).released.any():
            left_out.append(team)
        else:
            shown.append(uid)
    tables = scope_tables(con, wave_id, threshold, {str(u): {"unit_id": u} for u in shown},
                          release, tree=tree.reset_index()) if shown else {}
    for uid in shown:
        dom = lenses.rollup(tables[str(uid)], lens).assign(unit_id=uid, team=tree.at[uid, "team"])
        frames.append(dom)
    cols = ["unit_id", "team", "domain_id", "domain", "score", "status_label"]
    if not frames:
        return pd.DataFrame(columns=cols), left_out
    return pd.concat(frames, ignore_index=True)[cols], left_out


@derived.reads(only="survey")
def small_n_teams(
    con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int], wave_id: int, threshold: int
) -> dict[str, int]:
    """Teams among unit_ids shown in this wave (threshold or more responses) with fewer than
    stats.MIN_N responses: {team: responses}, for the caution beside compared figures."""
    rows = con.execute(
        """
        SELECT u.team, count(*) AS n
        FROM responses AS r JOIN units AS u USING (unit_id)
        WHERE r.wave_id = ? AND list_contains(CAST(? AS INTEGER[]), r.unit_id)
        GROUP BY u.team
        ORDER BY u.team
        """,
        [wave_id, [int(u) for u in unit_ids]],
    ).fetchall()
    return {team: int(n) for team, n in rows if privacy.releasable(n, threshold) and n < stats.MIN_N}


@derived.reads(only="survey")
def team_trend(
    con: duckdb.DuckDBPyConnection, unit_id: int, threshold: int
) -> pd.DataFrame:
    """The team's released survey figures in every wave: [wave_id, wave_label, fielded_on,
    indicator_id, indicator, kind, value, n] (withheld waves are absent)."""
    tree = unit_tree(con)
    team = tree.loc[tree.unit_id == unit_id, "team"]
    if team.empty:
        raise ValueError(f"unknown unit {unit_id}")
    ids = survey_indicator_ids()
    # one team's figures (team names are unique), released by the whole organisation's plan
    # (its rows for this team: apply_plan matches them by wave and indicator)
    figs = privacy.apply_plan(
        indicators.survey_results(con, by=("team",), indicator_ids=ids, unit_ids=[int(unit_id)]),
        privacy.plan_rows(con, threshold, None, [("team", team.iloc[0])]), ("team",))
    figs = figs[(figs.team == team.iloc[0]) & ~figs.suppressed].copy()
    cat = catalogue.get()
    figs["indicator"] = figs.indicator_id.map(lambda i: cat.indicators[i].short)
    figs["kind"] = figs.indicator_id.map(lambda i: cat.indicators[i].kind)
    return figs[["wave_id", "wave_label", "fielded_on", "indicator_id", "indicator", "kind", "value", "n"]]


# ---- selection from the URL -------------------------------------------------------------------

def resolve_selection(
    params: Mapping[str, str],
    tree: pd.DataFrame,
    wave_ids: Sequence[int],
    reportable_teams: Sequence[str] | None = None,
    indicator_ids: Sequence[str] = (),
) -> tuple[dict, list[str]]:
    """Turn query parameters into a valid selection; anything unknown falls back, with a note.

    Parameters: wave, view, dir, team, ref, ind. reportable_teams, if given, are the teams that
    may be opened (others fall back to their directorate). Returns (selection, notes).
    """
    notes: list[str] = []
    sel: dict = {"wave": wave_ids[-1] if wave_ids else None, "view": "team", "dir": None,
                 "team": None, "ref": "organisation", "ind": indicator_ids[0] if indicator_ids else None}
    raw_wave = params.get("wave")
    if raw_wave is not None:
        try:
            wave = int(raw_wave)
        except ValueError:
            wave = None
        if wave in wave_ids:
            sel["wave"] = wave
        else:
            notes.append("The survey wave in the link is not in this dataset; showing the latest.")
    # Each parameter: (key, what it may be, the note when the link's value is not one of them).
    for key, allowed, note in (
        ("view", VIEWS, "The view in the link is not offered; showing teams."),
        ("ref", REFERENCES, "The comparison in the link is not offered; comparing with the organisation."),
        ("ind", indicator_ids, "The indicator in the link is not a survey indicator; showing the first."),
        ("dir", set(tree.directorate),
         "The directorate in the link is not in this dataset; showing the organisation."),
    ):
        value = params.get(key)
        if value is None:
            continue
        if value in allowed:
            sel[key] = value
        else:
            notes.append(note)
    team = params.get("team")
    if team is not None:
        match = tree[tree.team == team]
        if match.empty:
            notes.append("The team in the link is not in this dataset.")
        elif reportable_teams is not None and team not in set(reportable_teams):
            sel["dir"] = match.directorate.iloc[0]
            notes.append(
                "That team cannot be shown on its own in this wave (too few responses, or it would "
                "reveal a smaller team); showing its directorate."
            )
        else:
            sel["team"] = team
            sel["dir"] = match.directorate.iloc[0]
            sel["view"] = "team"
    return sel, notes


@derived.reads(only="survey")
def reportable_teams(con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int) -> list[str]:
    """Teams that can be opened in a wave (released for at least one survey indicator)."""
    teams = groups_overview(con, ("team",), wave_id, threshold)
    return sorted(teams.loc[teams.reportable.astype(bool), "team"])


def heatmap_table(heat: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The heatmap as a wide table (one row per group, one column per indicator) for sorting.

    Cells hold the value as a number (percent for proportions, rates and shares) or NaN where
    withheld; a `Withheld` column counts the cells not shown, so nothing is silently blank.
    """
    percent = heat.kind.isin(["proportion", "rate", "share"])
    data = heat.assign(shown=np.where(percent, heat.value * 100, heat.value))
    columns = list(dict.fromkeys(data.indicator))
    wide = data.pivot(index="group", columns="indicator", values="shown").reindex(columns=columns)
    wide.columns = [
        f"{c} (mean 1-5)" if k == "mean" else f"{c} (%)"
        for c, k in zip(columns, data.drop_duplicates("indicator").kind, strict=True)
    ]
    withheld = data.groupby("group").suppressed.sum().astype(int)
    wide.insert(0, f"Not shown ({formatting.withheld_reason(threshold, formatting.RESPONSES_OR_STAFF)})",
                withheld)
    survey = data[(data.source != "absence") & ~data.suppressed.astype(bool)]
    few = survey.assign(c=stats.small_n(survey.n)).groupby("group").c.sum().astype(int)
    wide.insert(1, f"Figures on fewer than {stats.MIN_N} responses (read with caution)",
                few.reindex(wide.index, fill_value=0))
    return wide.reset_index().rename(columns={"group": "Group"})
