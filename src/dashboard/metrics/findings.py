"""Where to look: the few findings that matter, ranked and in plain words, from released figures.

Pure functions over the frames the pages already show (funnel points, intervention evaluations,
the domain table, the absence cells of the team heatmap). Nothing here reads the store or
compares n with the threshold: a group that is not in the released frames cannot appear.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pandas as pd

from dashboard import stats
from dashboard.catalogue import Catalogue, Indicator
from dashboard.present import formatting

# The order in which kinds of finding are listed: a team far outside the funnel is the
# strongest signal a steering group can act on; absence hotspots are the broadest.
KIND_ORDER = ("outlier", "change", "domain", "absence")
KIND_TITLES = {
    "outlier": "Teams far from the rest of the organisation",
    "change": "Changes unlikely to be chance",
    "domain": "Domains below the benchmark",
    "absence": "Absence hotspots",
}
# Funnel zones beyond the 99.8% limits (drilldown.ZONES[0] and [4]).
BEYOND_998 = ("Above 99.8% limit", "Below 99.8% limit")
PER_KIND = 3
LIMIT = 8


@dataclass(frozen=True)
class Finding:
    """One thing to look at: what it is in plain words, how big, and the view that shows it."""

    kind: str
    subject: str  # the team, domain or intervention the finding is about
    text: str  # one plain sentence
    weight: float  # size on the common 0-10 favourable scale (or excess absence), for ranking
    page: str  # url path of the view that shows it
    params: Mapping[str, str] = field(default_factory=dict)
    n: int | None = None
    n_label: str = "responses"

    @property
    def link(self) -> str:
        query = urlencode({k: v for k, v in self.params.items() if v is not None})
        return f"{self.page}?{query}" if query else self.page


def _score_gap(ind: Indicator, value: float, reference: float) -> float:
    """How far value is from reference on the 0-10 favourable scale (positive = worse)."""
    if ind.kind in ("proportion", "share"):
        per = 10.0
    elif ind.kind == "mean":
        per = 2.5
    else:
        per = 10.0 / (ind.score_zero_at or 0.10)
    gap = (value - reference) * per
    return -gap if ind.higher_is_better else gap


def plain_label(ind: Indicator) -> str:
    """The indicator's label inside a sentence ('work-related stress', but 'HSE Demands')."""
    return _lower(ind.label)


def _what(ind: Indicator, value: float) -> str:
    """'work-related stress 64.5%' / 'HSE Relationships 3.42 out of 5'."""
    if ind.kind == "proportion":
        return f"{plain_label(ind)} {formatting.value(ind.kind, value)}"
    return f"{plain_label(ind)} {formatting.value(ind.kind, value)} out of 5"


def funnel_findings(
    funnels: Mapping[str, tuple[pd.DataFrame, Mapping]],
    cat: Catalogue,
    wave_id: int,
) -> list[Finding]:
    """Teams beyond a 99.8% funnel limit on the unfavourable side, one finding per team.

    funnels: indicator id -> drilldown.funnel(...) result for teams (points, centre). A team with
    several such indicators gets one finding naming them all, weighted by its largest gap.
    """
    hits: dict[str, list[tuple[float, Indicator, float, float, int]]] = {}
    for ind_id, (points, centre) in funnels.items():
        if points is None or points.empty or centre.get("value") is None:
            continue
        ind = cat.indicators[ind_id]
        out = points[points.zone.isin(BEYOND_998) & (points.signal == "worse")]
        org = float(centre["value"])
        # plain lists: a national funnel flags a thousand teams, and rows of arrow strings are slow
        for group, value, n in zip(out.group.tolist(), out.value.tolist(), out.n.tolist(), strict=True):
            gap = _score_gap(ind, float(value), org)
            hits.setdefault(str(group), []).append((gap, ind, float(value), org, int(n)))
    found = []
    for team, rows in hits.items():
        rows.sort(key=lambda r: -r[0])
        gap, ind, value, org, n = rows[0]
        text = (
            f"{team}: {_what(ind, value)}, against {formatting.value(ind.kind, org)} across the "
            "organisation. That is further from the organisation than chance would explain."
        )
        if len(rows) > 1:
            others = ", ".join(r[1].short.lower() for r in rows[1:])
            text += f" Also unusually poor: {others}."
        found.append(Finding("outlier", team, text, gap, "teams",
                             {"team": team, "wave": str(wave_id), "ind": ind.id}, n, "responses"))
    return sorted(found, key=lambda f: (-f.weight, f.subject))


def _effect_gap(result, org_rate: float | None) -> float:
    """Size of an intervention's effect on the 0-10 favourable scale, for ranking only."""
    est = float(result.estimate)
    if result.kind == "proportion":
        return abs(est) / 10.0
    if result.kind == "mean":
        return abs(est) * 2.5
    if result.kind == "rate":
        # a rate ratio r moves the rate by (1 - r) of the organisation's rate
        rate = org_rate if org_rate is not None and math.isfinite(org_rate) else 0.05
        return abs(1.0 - est) * rate * 100.0
    return 0.0


def _lower(label: str) -> str:
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _change_words(result) -> str:
    est = float(result.estimate)
    if result.kind == "proportion":
        move = "fell" if est < 0 else "rose"
        return f"{_lower(result.label)} {move} by {abs(est):.1f} percentage points"
    if result.kind == "mean":
        move = "fell" if est < 0 else "rose"
        return f"{result.label} {move} by {abs(est):.2f} on the 1-5 scale"
    move = "fell" if est < 1 else "rose"
    return f"sickness absence {move} by about {abs(1 - est):.0%}"


def evidence_words(result) -> str:
    """The design in lay words (the Magenta Book level sits behind 'how this was worked out')."""
    if result.design == "difference-in-differences":
        return "compared with teams without it"
    if result.design == "before/after":
        return "before and after only, with no comparison teams (weaker evidence)"
    return "not compared"


def change_sentence(result, n_target_units: int) -> str:
    """'work-related stress fell by 9.4 percentage points in the 4 teams that had it, compared
    with teams without it' -- the effect in plain words, without intervals or p-values."""
    if not math.isfinite(float(result.estimate)):
        return f"{_lower(result.label)}: there is not enough data to say"
    teams = f"{n_target_units} team{'s' if n_target_units != 1 else ''}"
    return f"{_change_words(result)} in the {teams} that had it, {evidence_words(result)}"


def change_findings(evaluations: Iterable, org_rate: float | None = None) -> list[Finding]:
    """Intervention results whose verdict is 'likely improved' or 'likely worsened'.

    evaluations: evaluation.Evaluation objects (their verdicts already allow for chance and for
    several indicators tested together). Worsened results are listed before improved ones.
    """
    found = []
    for ev in evaluations:
        iv = ev.intervention
        for r in ev.results:
            if r.verdict not in (stats.IMPROVED, stats.WORSENED):
                continue
            text = f"{iv['name']}: {change_sentence(r, ev.n_target_units)} — {r.verdict}."
            weight = _effect_gap(r, org_rate)
            n = None
            if r.kind in ("proportion", "mean") and r.cells is not None and "n" in r.cells:
                smallest = pd.to_numeric(r.cells.n, errors="coerce").min()
                n = int(smallest) if pd.notna(smallest) else None
            found.append((r.verdict != stats.WORSENED, Finding(
                "change", iv["name"], text, weight, "interventions", {"iv": iv["name"]},
                n, "responses in the smallest group" if n is not None else "")))
    found.sort(key=lambda pair: (pair[0], -pair[1].weight, pair[1].subject))
    return [f for _, f in found]


def domain_findings(domains: pd.DataFrame, wave_id: int) -> list[Finding]:
    """Domains rated worse than the benchmark (scorecard.domain_table), furthest below first."""
    worse = domains[domains.status == "worse"]
    found = []
    for row in worse.itertuples(index=False):
        text = (
            f"{row.domain} scores {formatting.score(row.score)}, "
            f"{abs(float(row.benchmark_gap)):.1f} below where the benchmark would put it "
            f"({formatting.score(row.benchmark_score)})."
        )
        found.append(Finding("domain", row.domain, text, -float(row.benchmark_gap), "teams",
                             {"wave": str(wave_id), "ref": "benchmark"}))
    return sorted(found, key=lambda f: (-f.weight, f.subject))


def absence_findings(heat: pd.DataFrame, wave_id: int) -> list[Finding]:
    """Teams whose absence rate is worse than the organisation's (heatmap absence cells).

    heat: drilldown.heatmap(..., ("team",), wave, threshold, "organisation"); withheld cells are
    never used. Ranked by excess rate x staff in post, i.e. roughly the extra days lost, so a
    large team a little above the rate outranks a tiny team with one long absence.
    """
    cells = heat[(heat.source == "absence") & ~heat.suppressed.astype(bool) & (heat.status == "worse")]
    rates = cells[cells.indicator_id == "absence_rate"]
    s10 = set(cells.loc[cells.indicator_id == "s10_share", "group"])
    found = []
    for row in rates.itertuples(index=False):
        text = (
            f"{row.group}: sickness absence {formatting.value('rate', row.value)} of working days "
            f"over 12 months, against {formatting.value('rate', row.reference_value)} across the "
            "organisation."
        )
        if row.group in s10:
            text += " A larger share than usual is for stress, anxiety or depression."
        weight = (float(row.value) - float(row.reference_value)) * float(row.n)
        found.append(Finding("absence", str(row.group), text, weight, "teams",
                             {"team": str(row.group), "wave": str(wave_id)}, int(row.n), "staff in post"))
    return sorted(found, key=lambda f: (-f.weight, f.subject))


def where_to_look(
    groups: Mapping[str, Sequence[Finding]], per_kind: int = PER_KIND, limit: int = LIMIT
) -> list[Finding]:
    """The ranked short list: kinds in KIND_ORDER, the top `per_kind` of each, at most `limit`."""
    ranked: list[Finding] = []
    for kind in KIND_ORDER:
        ranked.extend(list(groups.get(kind, ()))[:per_kind])
    return ranked[:limit]


def summary_sentence(ranked: Sequence[Finding]) -> str:
    """One line for the top of a page or slide: how many things to look at, or that none stand out."""
    if not ranked:
        return "Nothing stands out: no team is far from the rest, and no change is clear enough to report."
    counts = {k: sum(f.kind == k for f in ranked) for k in KIND_ORDER}
    parts = [f"{c} {KIND_TITLES[k].lower()}" for k, c in counts.items() if c]
    return f"{len(ranked)} thing{'s' if len(ranked) != 1 else ''} to look at: " + "; ".join(parts) + "."
