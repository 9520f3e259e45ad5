"""One message per screen: the meeting-mode screens and slides, built from one Briefing.

Pure: every number is formatted from the briefing's released figures, so a screen, a slide and
the page say the same thing. Each screen carries its n and the suppression note.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import altair as alt
import pandas as pd

from dashboard.framework import improvement
from dashboard.metrics import drilldown, findings, lenses, scorecard
from dashboard.metrics.briefing import Briefing
from dashboard.present import formatting
from dashboard.present.charts import absence as absence_charts
from dashboard.present.charts import interventions as iv_charts
from dashboard.present.charts import overview as overview_charts
from dashboard.present.charts import teams as team_charts
from dashboard.stats import evaluation


@dataclass(frozen=True, eq=False)
class Figure:
    """A big number with its label and the context that makes it readable (benchmark, n)."""

    label: str
    value: str
    context: str = ""


@dataclass(frozen=True, eq=False)
class Screen:
    key: str
    title: str
    message: str
    figures: tuple[Figure, ...] = ()
    bullets: tuple[str, ...] = ()
    chart: alt.Chart | None = None
    notes: tuple[str, ...] = ()
    links: tuple[str, ...] = field(default=())


def _n(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{int(v):,}"


def suppression_note(brief: Briefing) -> str:
    return (formatting.sentence(formatting.not_shown_rule(brief.threshold, formatting.RESPONSES_OR_STAFF))
            + ", nor any group that would let a smaller one be worked out.")


def _bench(kind: str, value) -> str:
    return "no benchmark" if pd.isna(value) else f"benchmark {formatting.value(kind, value)}"


def lens_groups(brief: Briefing, lens: lenses.Lens) -> pd.DataFrame:
    """The lens's groups rolled up from the briefing's released figures (the seven domains are the
    briefing's own domain table)."""
    return brief.domains if lens.id == lenses.DEFAULT else lenses.rollup(brief.table, lens)


def _overview(brief: Briefing, lens: lenses.Lens, groups: pd.DataFrame) -> Screen:
    heads = brief.table[brief.table.headline]
    figures = tuple(
        Figure(
            row.short,
            formatting.value(row.kind, row.value),
            _bench(row.kind, row.benchmark) + f" · n = {_n(row.n)}",
        )
        for row in heads.itertuples(index=False)
    )
    counts = groups.status.value_counts()
    what = "the seven domains" if lens.id == lenses.DEFAULT else f"the {lens.name}"
    message = (
        f"Survey wave {brief.wave_label}, {what} against the benchmark: "
        f"{counts.get('better', 0)} better, {counts.get('similar', 0)} similar, "
        f"{counts.get('worse', 0)} worse."
    )
    title = None if lens.id == lenses.DEFAULT else f"{lens.name} scores (black tick: benchmark)"
    return Screen("overview", "How are we doing?", message, figures,
                  chart=overview_charts.domain_scores(groups, title=title),
                  notes=(f"Survey: n = {_n(brief.respondents)} respondents.", suppression_note(brief)))


def _where(brief: Briefing) -> Screen:
    bullets = tuple(f.text + (f" (n = {f.n:,} {f.n_label})" if f.n is not None else "")
                    for f in brief.ranked)
    return Screen("where", "Where to look", findings.summary_sentence(brief.ranked), bullets=bullets,
                  links=tuple(f.link for f in brief.ranked),
                  notes=("Ranked: teams far from the rest first, then changes unlikely to be chance, "
                         "domains below benchmark, absence hotspots.", suppression_note(brief)))


def _domain(brief: Briefing, dom, lens: lenses.Lens) -> Screen:
    group = next(g for g in lens.groups if g.id == dom.domain_id)
    order = {ind: k for k, ind in enumerate(group.indicators)}
    part = brief.table[brief.table.indicator_id.isin(group.indicators)]
    part = part.iloc[part.indicator_id.map(order).argsort()]
    shown = part[part.value.notna()]
    withheld = part[part.value.isna() & (part.note != "")]
    status = scorecard.STATUS_LABELS[dom.status].lower()
    if not group.indicators:
        message = f"{dom.domain}: {lenses.NO_INDICATOR}."
    elif pd.isna(dom.score):
        message = f"{dom.domain}: no figure to show for this wave."
    elif dom.status == "none":
        message = (f"{dom.domain} scores {formatting.score(dom.score)}; there is no benchmark to compare "
                   "with.")
    else:
        message = f"{dom.domain} scores {formatting.score(dom.score)}, {status}."
    figures = [Figure("Domain score", formatting.score(dom.score),
                      "benchmark " + formatting.score(dom.benchmark_score)
                      if pd.notna(dom.benchmark_score) else "no benchmark")]
    bullets = []
    for row in shown.itertuples(index=False):
        bench = "" if pd.isna(row.benchmark) else f"; benchmark {formatting.value(row.kind, row.benchmark)}"
        change = formatting.change(row.kind, row.change)
        since = f"; {change} since last wave" if change else ""
        n = f" (n = {_n(row.n)})" if row.kind in ("proportion", "mean") else ""
        bullets.append(f"{row.indicator}: {formatting.value(row.kind, row.value)}{n}{bench}{since} — "
                       f"{scorecard.STATUS_LABELS[row.status].lower()}.")
    chart = None
    scored = shown[shown.score.notna()]
    if not scored.empty:
        data = pd.DataFrame({
            "domain": scored.short, "score": scored.score,
            "status_label": scored.status.map(scorecard.STATUS_LABELS),
            "feeding": scored.indicator, "benchmark_score": scored.benchmark_score,
        })
        chart = overview_charts.domain_scores(data).properties(
            title=f"{dom.domain}: indicator scores (0-10, black tick: benchmark)")
    notes = [suppression_note(brief)]
    if not withheld.empty:
        notes.insert(0, "Not shown: " + ", ".join(withheld.short) + f" ({withheld.note.iloc[0]}).")
    key = f"domain-{dom.domain_id}" if lens.id == lenses.DEFAULT else f"{lens.id}-{dom.domain_id}"
    if lens.id != lenses.DEFAULT:
        notes.insert(0, f"{lens.name}: where each indicator sits is declared in data/lenses "
                        f"({lens.source}).")
    return Screen(key, dom.domain, message, tuple(figures), tuple(bullets), chart, tuple(notes))


def _teams(brief: Briefing) -> Screen:
    chosen = [f for f in brief.ranked if f.kind in ("outlier", "absence")]
    bullets = tuple(f.text + (f" (n = {f.n:,} {f.n_label})" if f.n is not None else "") for f in chosen)
    message = ("Teams to look at: far from the rest of the organisation on a survey indicator, or "
               "with more sickness absence than the organisation." if chosen
               else "No team stands out from the rest of the organisation.")
    return Screen("teams", "Teams to look at", message, bullets=bullets,
                  links=tuple(f.link for f in chosen), notes=(suppression_note(brief),))


def team_screen(brief: Briefing, profile: dict, lens: lenses.Lens | None = None) -> Screen:
    """A chosen team against its directorate and the organisation (drilldown.team_profile, with
    its scores grouped by the lens it was asked for).

    A team that cannot be shown gets a screen saying so, with no figure at all.
    """
    team = profile["team"]
    if not profile.get("reportable"):
        return Screen(f"team-{team}", team, f"{team} cannot be shown for this wave: "
                      f"{formatting.withheld_reason(brief.threshold, group='team')}.",
                      notes=(suppression_note(brief),))
    ind = profile["indicators"]
    survey = ind[ind.kind.isin(["proportion", "mean"]) & ind.n.notna()]
    worse = ind[(ind.status == "worse") & ind.value.notna()]
    bullets = [f.text for kind in ("outlier", "absence") for f in brief.groups.get(kind, ())
               if f.subject == team]
    bullets += [f"{r.indicator}: {formatting.value(r.kind, r.value)}, worse than the benchmark "
                f"({formatting.value(r.kind, r.benchmark)})." for r in worse.itertuples(index=False)]
    message = (f"{team} ({profile['directorate']}) against its directorate and the organisation, "
               f"survey wave {brief.wave_label}.")
    what = "seven-domain scores" if lens is None or lens.id == lenses.DEFAULT else f"{lens.name} scores"
    chart = team_charts.domain_dots(profile["domains"], "series", list(drilldown.PROFILE_SERIES),
                                    f"{team}: {what}")
    n = int(survey.n.max()) if not survey.empty else None
    return Screen(f"team-{team}", team, message, bullets=tuple(bullets) or ("Nothing stands out.",),
                  chart=chart, notes=(f"{team}: n = {_n(n)} responses.", suppression_note(brief)))


def _absence(brief: Briefing) -> Screen:
    s = brief.absence_summary
    start, end = brief.absence_period
    every = brief.absence_reasons
    reasons = every[~every.suppressed & every.reason_code.notna()]
    top = reasons.head(3)
    figures = (
        Figure("Sickness absence rate", formatting.value("rate", s["rate"]),
               f"{start:%b %Y}–{end:%b %Y}"),
        Figure("FTE days lost", formatting.whole(s["fte_days_lost"]),
               f"of {formatting.whole(s['fte_days_available'])} available"),
        Figure("Stress, anxiety, depression", formatting.value("share", s["s10_share"]),
               "share of days lost (S10)"),
    )
    bullets = tuple(f"{r.reason}: {r.fte_days_lost:,.0f} FTE days ({formatting.value('share', r.share)})"
                    for r in top.itertuples(index=False))
    rate = formatting.value("rate", s["rate"])
    message = (f"Over the 12 months to the survey, {rate} of working days were lost to sickness; "
               f"the biggest reason was {top.reason.iloc[0].lower() if not top.empty else 'not recorded'}.")
    if s.get("suppressed"):
        message = ("Sickness absence for the organisation is not shown: "
                   f"{formatting.fewer_than(brief.threshold, formatting.STAFF)} in some month of the period.")
    chart = None
    if not brief.absence_monthly.empty:
        chart = absence_charts.rate_series(brief.absence_monthly, None, "Sickness absence rate by month")
    return Screen("absence", "Sickness absence", message, figures, bullets, chart,
                  (f"{formatting.whole(s['episodes'])} absence episodes; calendar days, NHS definition.",
                   suppression_note(brief)))


def _intervention(brief: Briefing, ev: evaluation.Evaluation) -> Screen:
    iv = ev.intervention
    figures, bullets, notes = [], [], []
    for r in ev.results:
        figures.append(Figure(r.label, r.verdict.capitalize(), findings.evidence_words(r)))
        if r.design != "none":
            sentence = findings.change_sentence(r, ev.n_target_units)
            bullets.append(sentence[:1].upper() + sentence[1:] + ".")
        if r.kind in ("proportion", "mean") and r.cells is not None and "n" in r.cells:
            ns = pd.to_numeric(r.cells.n, errors="coerce").dropna()
            if not ns.empty:
                notes.append(f"{r.label}: n = {int(ns.min()):,} to {int(ns.max()):,} responses per group "
                             "and wave.")
        if r.absence_units is not None:
            notes.append(f"{r.label}: {r.absence_units[0]} target and {r.absence_units[1]} comparison "
                         "teams, each large enough to show.")
    first = ev.results[0] if ev.results else None
    message = f"{iv['name']}: {first.verdict if first is not None else 'nothing to evaluate'}."
    forest = evaluation.forest_frame(ev)
    chart = iv_charts.forest(forest) if len(forest) else None
    notes.append("“Likely” means the change is unlikely to be chance; it does not prove the "
                 "programme caused it.")
    notes.append(suppression_note(brief))
    return Screen(f"intervention-{iv['intervention_id']}", iv["name"], message, tuple(figures),
                  tuple(bullets), chart, tuple(notes))


def plan_screen(brief: Briefing, actions: pd.DataFrame) -> Screen:
    """The improvement plan: actions by status, the overdue ones, the gaps they address and what
    went into the intervention register (improvement.list_actions; records, not health figures)."""
    summary = improvement.summary(actions)
    open_ = improvement.settings()["open"]
    figures = (
        Figure("Actions", f"{summary['total']:,}",
               ", ".join(f"{n} {status}" for status, n in summary["by_status"].items() if n)
               or "none yet"),
        Figure("Overdue", f"{summary['overdue']:,}", "open and past their due date"),
        Figure("In the register", f"{summary['in_register']:,}", "evaluated as interventions"),
    )
    if actions.empty:
        return Screen("plan", "Improvement plan", "No action is in the improvement plan yet.", figures,
                      notes=("Actions are recorded on the Framework page.",))
    shown = actions[actions.status.isin(open_)].sort_values(["overdue", "due_date"],
                                                            ascending=[False, True])
    bullets = tuple(
        f"{'Overdue: ' if a.overdue else ''}{a.title} — {a.gap}; {a.owner}, due "
        f"{pd.Timestamp(a.due_date):%d %b %Y} ({a.status})"
        + (f"; in the register as {a.intervention}" if isinstance(a.intervention, str) else "") + "."
        for a in shown.head(8).itertuples(index=False)
    )
    more = len(shown) - len(bullets)
    message = (f"{summary['total']} action{'s' if summary['total'] != 1 else ''} in the plan, "
               f"{len(shown)} still open; {summary['overdue']} overdue.")
    notes = [f"{more} more open action{'s' if more != 1 else ''} on the Framework page."] if more > 0 else []
    notes.append("Actions address a domain, an indicator or a team; the plan holds no health figures.")
    return Screen("plan", "Improvement plan", message, figures, bullets or ("Every action is done.",),
                  notes=tuple(notes))


def build(
    brief: Briefing,
    profiles: tuple[dict, ...] = (),
    lens: lenses.Lens | str | None = None,
    actions: pd.DataFrame | None = None,
) -> list[Screen]:
    """Overview, where to look, each domain (or each group of the chosen lens), teams (and each
    chosen team's profile), absence, each intervention verdict, then the improvement plan when
    its actions are given."""
    return [make() for make in makers(brief, profiles, lens, actions)]


def makers(
    brief: Briefing,
    profiles: tuple[dict, ...] = (),
    lens: lenses.Lens | str | None = None,
    actions: pd.DataFrame | None = None,
) -> list[Callable[[], Screen]]:
    """build's screens in order, each drawn only when called: the meeting page shows one screen
    a run, and drawing every screen's chart to show one cost it about a second of CPU a run."""
    chosen = lenses.get(lens) if isinstance(lens, str) else (lens or lenses.get(lenses.DEFAULT))
    groups = lens_groups(brief, chosen)
    out: list[Callable[[], Screen]] = [partial(_overview, brief, chosen, groups), partial(_where, brief)]
    out += [partial(_domain, brief, dom, chosen) for dom in groups.itertuples(index=False)]
    out += [partial(_teams, brief), *(partial(team_screen, brief, p, chosen) for p in profiles),
            partial(_absence, brief)]
    out += [partial(_intervention, brief, ev) for ev in brief.evaluations]
    if actions is not None:
        out.append(partial(plan_screen, brief, actions))
    return out
