"""Absence page: rates, reasons, patterns, Bradford distribution, survey x absence (streamlit here)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import catalogue, periods
from dashboard.config import settings
from dashboard.metrics import absence, coverage, indicators, team_absence
from dashboard.present import formatting, plaintext
from dashboard.present.charts import absence as charts
from dashboard.store import groups
from dashboard.ui import a11y, auth, cache, chart_export, links, shell

# Short labels for the day-count choice (also its value in the URL).
DAY_COUNT_SHORT = {"calendar": "Calendar days (NHS)", "working": "Working days (Mon-Fri)"}
# The page's sections, one tab each (the period, day count, comparison and scope above them hold
# for every tab); the Bradford tab only where data/settings.toml shows the Bradford Factor.
TABS = ("Rates", "Reasons", "Patterns", "Bradford Factor", "Survey × absence")


def _pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None or pd.isna(v) else f"{v * 100:.{digits}f}%"


def _count(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{int(v):,}"


def _scope_kind_changed(start: date, end: date, threshold: int) -> None:
    """A new kind of scope starts at its first group. The URL still names the old one
    ("Medicine", which is no site) until the group box is drawn again; that is not a link asking
    for a withheld site, so no note. The group box is set to the first group, which also takes
    the old name out of the URL (a bound parameter cannot be deleted directly), so a copied link
    holds what is on screen."""
    st.session_state["absence_scope_kind_changed"] = True
    kind = st.session_state.get("scope")
    if kind in (None, "organisation"):
        return
    options = cache.query(team_absence.scope_options, start, end, threshold, kind)
    if not options.empty:
        st.session_state["in"] = options[kind].iloc[0]


def _controls(first: date, last: date, threshold: int) -> dict:
    """The page's choices, each bound to the URL (period, day count, comparison, scope)."""
    months = [d.date() for d in pd.date_range(first, last, freq="MS")]
    default_start = months[max(0, len(months) - 24)]
    c1, c2, c3 = st.columns([2, 2, 2])
    start, end = links.select_slider(
        c1, "Period (months)", months, "period", "period", value=(default_start, months[-1]),
        format_func=lambda d: d.strftime("%b %Y"),
    )
    end = periods.month_end(end)
    default_count = settings().day_count
    day_count = links.radio(
        c2, "Day count", list(absence.DAY_COUNTS), "days", "day count",
        index=list(absence.DAY_COUNTS).index(default_count), format_func=DAY_COUNT_SHORT.get,
        help="How days lost and days available are counted. The NHS statistics count calendar days "
             "(a 365-day year); the organisation default is set in data/settings.toml.",
    )
    cut = links.selectbox(c3, "Compare by", groups.ABSENCE_CUTS[1:], "by", "comparison",
                          format_func=groups.LABELS.get)
    who = auth.current()
    # a manager's figures are always for their own part of the organisation, never the whole
    scopes = groups.ABSENCE_CUTS[1:] if who is not None and who.scoped else groups.ABSENCE_CUTS
    scope_cut = links.selectbox(c1, "Scope", scopes, "scope", "scope", format_func=groups.LABELS.get,
                                on_change=_scope_kind_changed, args=(start, end, threshold))
    kind_changed = st.session_state.pop("absence_scope_kind_changed", False)
    unit_ids: tuple[int, ...] | None = None
    scope_label = "Organisation"
    if scope_cut != "organisation":
        options = cache.query(team_absence.scope_options, start, end, threshold, scope_cut)
        names = list(options[scope_cut])
        wanted = links.raw("in")
        if wanted and wanted not in names and not kind_changed:
            links.note(
                f"{groups.LABELS[scope_cut]} “{wanted}” cannot be shown on its own for this period "
                f"({formatting.withheld_reason(threshold, formatting.STAFF)}); "
                "showing the first one that can."
            )
        if options.empty:
            c2.info(f"No {groups.LABELS[scope_cut].lower()} is large enough to show on its own.")
        else:
            name = c2.selectbox(groups.LABELS[scope_cut], names, key="in", bind="query-params")
            unit_ids = tuple(int(u) for u in options.loc[options[scope_cut] == name, "unit_ids"].iloc[0])
            scope_label = f"{groups.LABELS[scope_cut]}: {name}"
    return {"start": start, "end": end, "day_count": day_count, "cut": cut, "unit_ids": unit_ids,
            "scope_label": scope_label}


def _rates(ctl: dict, threshold: int) -> None:
    st.header("Sickness absence rate")
    st.caption(
        "Rate = FTE days lost to sickness ÷ FTE days available (NHS Sickness Absence Rates definition). "
        f"Days counted as: **{absence.DAY_COUNTS[ctl['day_count']]}**. Episodes spanning month ends are "
        "split across months, open episodes run to the end of the data, part-time staff count by FTE, "
        "and a month without FTE days available shows no figure."
    )
    monthly = _monthly(ctl, threshold)
    shown = monthly[~monthly.suppressed]
    if shown.empty:
        st.info(f"No absence figure to show: {shell.threshold()} or more staff in post are needed.")
        return
    last = shown.iloc[-1]
    c = st.columns(4)
    c[0].metric(f"Rate, {last.month:%b %Y}", _pct(last.rate), border=True,
                help=f"{last.fte_days_lost:,.1f} FTE days lost ÷ {last.fte_days_available:,.1f} available")
    c[1].metric("Rolling 12 months", _pct(last.rate_12m), border=True,
                help="FTE days lost ÷ available over the 12 months to this month (needs all 12)")
    c[2].metric(f"{last.month - pd.DateOffset(years=1):%b %Y}", _pct(last.rate_last_year), border=True,
                help="The same month a year earlier")
    period = cache.query(absence.period_summary, ctl["start"], ctl["end"], ctl["unit_ids"], ctl["day_count"],
                         threshold)
    c[3].metric("Whole period", _pct(period["rate"]), border=True,
                help=(f"Not shown: {formatting.fewer_than(threshold, formatting.STAFF)} in some month "
                      "of the period"
                      if period["suppressed"] else
                      f"{period['fte_days_lost']:,.1f} ÷ {period['fte_days_available']:,.1f} FTE days"))
    events = cache.query(absence.absence_events, ctl["unit_ids"])
    rate_chart = charts.rate_series(shown, events, f"Sickness absence rate — {ctl['scope_label']}")
    chart_export.chart(
        rate_chart,
        f"Monthly sickness absence rate for {ctl['scope_label']}, {shown.month.min():%b %Y} to "
        f"{shown.month.max():%b %Y}: latest {_pct(last.rate)}, rolling 12 months {_pct(last.rate_12m)}. "
        "The monthly figures are in the table below.",
        footer=_footer(ctl, f"{_count(last.headcount)} staff in post ({last.month:%b %Y})"),
        name="absence-rate",
    )
    notes = []
    if bool(shown.headcount_fallback.any()):
        notes.append("Some months have no FTE in post: days available use headcount instead.")
    if (shown.source != "episodes").any():
        notes.append("Some months come from monthly aggregates (as reported, calendar days).")
    if shown.unmatched_days_lost.fillna(0).sum() > 0:
        notes.append(f"{shown.unmatched_days_lost.sum():,.1f} FTE days lost fall in team-months without "
                     "staff in post and are left out of the rate.")
    for note in notes:
        st.caption(plaintext.md(note))
    a11y.behind("Monthly figures", "absence_monthly_table", lambda: st.dataframe(pd.DataFrame({
        "Month": shown.month.dt.strftime("%b %Y"),
        "FTE days lost": shown.fte_days_lost.round(1),
        "FTE days available": shown.fte_days_available.round(1),
        "Rate": shown.rate.map(_pct),
        "Rolling 12 months": shown.rate_12m.map(_pct),
        "Same month last year": shown.rate_last_year.map(_pct),
        "Headcount": shown.headcount.astype("Int64"),
        "Source": shown.source,
    }), hide_index=True, width="stretch"))


def _monthly(ctl: dict, threshold: int) -> pd.DataFrame:
    """The scope's monthly rates over the period (the rate chart's and the reason shares')."""
    return cache.query(absence.monthly_rates, ctl["start"], ctl["end"], threshold, (),
                       ctl["unit_ids"], ctl["day_count"])


def _footer(ctl: dict, n: str, period: str | None = None) -> str:
    """The footer of this page's chart downloads: the period and scope shown, and its n."""
    return chart_export.footer(
        period or f"absence {ctl['start']:%d %b %Y}–{ctl['end']:%d %b %Y} · {ctl['scope_label']}", n)


def _compare(ctl: dict, threshold: int) -> None:
    cut = ctl["cut"]
    label = groups.LABELS[cut]
    st.header(f"By {label.lower()}")
    frame = cache.query(team_absence.compare_rates, ctl["start"], ctl["end"], threshold, cut,
                        ctl["unit_ids"], ctl["day_count"])
    shown = frame[~frame.suppressed]
    hidden = int(frame.suppressed.sum())
    if not shown.empty:
        top = shown.sort_values("rate", ascending=False).iloc[0]
        chart_export.chart(
            charts.group_rates(shown, cut, f"Absence rate by {label.lower()} over the period"),
            f"Absence rate over the period for {len(shown)} {label.lower()} groups; highest "
            f"{top[cut]} at {_pct(top.rate)}.",
            pd.DataFrame({label: shown[cut], "Rate": shown.rate.map(_pct),
                          "FTE days lost": shown.fte_days_lost.round(1),
                          "FTE days available": shown.fte_days_available.round(0),
                          "Smallest monthly headcount": shown.headcount.astype("Int64")}),
            footer=_footer(ctl, f"{len(shown)} {label.lower()} groups shown"), name=f"absence-by-{cut}",
        )
    if hidden:
        st.caption(f"{hidden} {label.lower()}(s) not shown: "
                   f"{formatting.withheld_reason(threshold, formatting.STAFF)}.")


def _quality(ctl: dict) -> None:
    q = cache.query(absence.episode_quality, ctl["unit_ids"])
    summary = cache.query(absence.period_summary, ctl["start"], ctl["end"], ctl["unit_ids"], ctl["day_count"],
                          shell.threshold())
    c = st.columns(4)
    c[0].metric("Reason not recorded (S99)", _pct(summary["s99_share"], 1), border=True,
                help="Share of FTE days lost with reason S99 — a Data insights figure")
    c[1].metric("Duplicate records merged", f"{q['duplicates_merged']:,}", border=True,
                help="Overlapping absence records of the same employee counted once")
    c[2].metric("Open episodes", f"{q['open_episodes']:,}", border=True,
                help="No end date: counted up to the end of the data")
    c[3].metric("Records dropped", f"{q['invalid_dropped']:,}", border=True,
                help="End date before start date")


def _reasons(ctl: dict, threshold: int) -> None:
    st.header("Reasons")
    frame = cache.query(absence.reasons, ctl["start"], ctl["end"], threshold, (), ctl["unit_ids"],
                        ctl["day_count"])
    if frame.empty or frame.suppressed.all():
        st.info("No reasons to show for this scope.")
        return
    left, right = st.columns(2)
    named = frame[frame.fte_days_lost.notna()].sort_values("fte_days_lost", ascending=False)
    chart_export.chart(
        charts.reasons_bar(frame),
        f"FTE days lost by reason; largest {named.reason_code.iloc[0]} {named.reason.iloc[0]}"
        + (f" ({named.share.iloc[0]:.0%})." if pd.notna(named.share.iloc[0]) else "."),
        pd.DataFrame({"Code": named.reason_code, "Reason": named.reason,
                      "FTE days lost": named.fte_days_lost.round(1),
                      "Share": named.share.map(lambda v: _pct(v, 1))}),
        container=left, footer=_footer(ctl, f"{named.fte_days_lost.sum():,.0f} FTE days lost with a reason"),
        name="absence-reasons",
    )
    monthly = _monthly(ctl, threshold)
    months = monthly[~monthly.suppressed]
    shares = [c for c in ("s10_share", "msk_share", "s99_share") if c in months.columns]
    chart_export.chart(
        charts.reason_shares(months),
        "Monthly shares of days lost to anxiety/stress/depression (S10), musculoskeletal problems "
        "and unknown reasons (S99).",
        pd.DataFrame({"Month": months.month.dt.strftime("%b %Y"),
                      **{c: months[c].map(lambda v: _pct(v, 1)) for c in shares}}),
        container=right, footer=_footer(ctl, f"{len(months)} months shown"), name="absence-reason-shares",
    )
    st.caption("Shares are of FTE days lost with a reason record; MSK is S11 back problems plus S12 "
               "other musculoskeletal problems. Reason codes and labels: data/absence_reasons.toml.")
    _quality(ctl)


def _patterns(ctl: dict, threshold: int) -> None:
    st.header("Patterns")
    long_days = settings().long_term_days
    pat = cache.query(absence.patterns, ctl["start"], ctl["end"], threshold, (), ctl["unit_ids"],
                      ctl["day_count"], long_days)
    season = cache.query(absence.seasonality, ctl["start"], ctl["end"], threshold, (), ctl["unit_ids"],
                         ctl["day_count"])
    left, right = st.columns(2)
    if not pat.empty and not pat.suppressed.all():
        row = pat.iloc[0]
        chart_export.chart(charts.short_long(pat),
                           "Short- and long-term spells as shares of spells and of FTE days lost.",
                           pat.drop(columns=["suppressed"], errors="ignore"), container=left,
                           footer=_footer(ctl, f"{int(row.spells):,} spells"), name="absence-short-long")
        left.caption(f"Long-term: a spell of {long_days} calendar days or more. Spells count in the "
                     "month they start; days are FTE days lost inside the period.")
        left.metric("Spells per FTE over the period",
                    "–" if pd.isna(row.spells_per_fte) else f"{row.spells_per_fte:.2f}",
                    help=f"{int(row.spells):,} spells starting in the period ÷ {row.mean_fte:,.1f} mean FTE")
    shown = season[~season.suppressed]
    if not shown.empty:
        peak = shown.sort_values("rate", ascending=False).iloc[0]
        chart_export.chart(
            charts.seasonality_chart(shown),
            f"Absence rate by month of the year; highest in {peak.month_name} ({_pct(peak.rate)}).",
            pd.DataFrame({"Month": shown.month_name, "Rate": shown.rate.map(_pct)}),
            container=right, footer=_footer(ctl, f"{len(shown)} calendar months"), name="absence-seasonality",
        )
        right.caption("Each calendar month pools every year of the period (days lost ÷ days available).")


def _bradford(ctl: dict, threshold: int) -> None:
    st.header("Bradford Factor (group level)")
    st.warning(absence.BRADFORD_CAVEAT, icon=":material/warning:")
    cut = ctl["cut"]
    summary, bands = cache.query(team_absence.bradford, ctl["end"], threshold, cut, ctl["unit_ids"],
                                 ctl["day_count"])
    shown = bands[~bands.suppressed]
    if shown.empty:
        st.info("No group is large enough to show a distribution.")
        return
    order = [b[0] for b in absence.BRADFORD_BANDS]
    chart_export.chart(
        charts.bradford_bands(shown, cut, order),
        f"Share of absent employees in each Bradford Factor band, by {groups.LABELS[cut].lower()} "
        "(group level only).",
        pd.DataFrame({groups.LABELS[cut]: shown[cut], "Band": shown.band,
                      "Employees": shown.employees.astype("Int64"),
                      "Share": shown.share.map(lambda v: _pct(v, 1))}),
        footer=_footer(ctl, f"{int(shown.employees.sum()):,} absent employees", period=(
            f"52 weeks to {ctl['end']:%d %b %Y} · {ctl['scope_label']}")), name=f"bradford-{cut}",
    )
    st.caption(f"52 weeks to {ctl['end']:%d %b %Y}; employees with at least one spell, by the group of "
               "their latest spell. A group needs at least "
               f"{threshold} staff in post and {threshold} absent employees to be shown.")


def _survey(ctl: dict, threshold: int) -> None:
    st.header("Survey × absence by team")
    waves = cache.query(indicators.waves)
    if waves.empty:
        st.info("No survey waves yet.")
        return
    who = auth.current()
    if who is not None and who.scoped:
        st.info("Survey and absence by team compares teams across the whole organisation, so it is "
                f"not part of a view limited to {plaintext.md(who.scope_text())}.")
        return
    cat = catalogue.get()
    survey_inds = [i for i in cat.survey_indicators() if i.kind in ("proportion", "mean")]
    c1, c2, c3 = st.columns(3)
    ids = [i.id for i in survey_inds]
    ind_id = links.selectbox(c1, "Survey indicator", ids, "survey_ind", "survey indicator",
                             index=ids.index("stress") if "stress" in ids else 0,
                             format_func=lambda i: cat.indicators[i].label, keep=True)
    labels = list(waves.label)
    wave = links.selectbox(c2, "Wave", labels, "survey_wave", "survey wave", index=len(labels) - 1,
                           keep=True)
    wave_id = int(waves.loc[waves.label == wave, "wave_id"].iloc[0])
    measure = links.radio(c3, "Absence measure", list(absence.MEASURES)[:2], "measure", "absence measure",
                          format_func=absence.MEASURES.get, keep=True)
    teams, result = cache.query(absence.survey_vs_absence, ind_id, wave_id, threshold, measure,
                                ctl["day_count"])
    ind = cat.indicators[ind_id]
    x_title = f"{ind.short} ({'%' if ind.kind == 'proportion' else 'mean 1-5'})"
    y_title = f"{absence.MEASURES[measure]} (%)"
    if teams.empty:
        st.info("No team is large enough to show.")
        return
    chart_export.chart(
        charts.survey_scatter(teams, result, x_title, y_title, ind.kind == "proportion"),
        f"{len(teams)} teams: {ind.short} against {absence.MEASURES[measure].lower()}, Pearson r "
        + ("–." if result["r"] is None else f"{result['r']:.2f}."),
        pd.DataFrame({"Team": teams.team, x_title: teams.value, y_title: teams.absence,
                      "Respondents": teams.n.astype("Int64")}),
        footer=_footer(ctl, f"{len(teams)} teams, {int(teams.n.sum()):,} respondents",
                       period=f"survey wave {wave} · absence 12 months to its fieldwork"),
        name="survey-vs-absence",
    )
    c = st.columns(4)
    c[0].metric("Teams", f"{result['n']}", border=True,
                help=f"{result['teams_removed']} team(s) removed: "
                     f"{formatting.withheld_reason(threshold, 'respondents or staff in post', 'team')}")
    c[1].metric("Pearson r", "–" if result["r"] is None else f"{result['r']:.2f}", border=True,
                help="Each team counts once, whatever its size.")
    ci = "–" if result["lo"] is None else f"{result['lo']:.2f} to {result['hi']:.2f}"
    c[2].metric("95% interval (Fisher z)", ci, border=True)
    rw = result.get("r_weighted")
    c[3].metric("r weighted by respondents", "–" if rw is None else f"{rw:.2f}", border=True,
                help="Large teams count for more; when it differs from the unweighted r, small "
                     "teams at the extremes are driving the pattern.")
    st.caption(f"Absence over {result['start']:%d %b %Y} – {result['end']:%d %b %Y} (the 12 months to the "
               "wave's fieldwork). A correlation between teams is not evidence that one causes the other, "
               "and it is about teams, not people: teams with more stress can have more absence without "
               "the stressed staff being the ones who are off (the ecological fallacy).")


def render() -> None:
    st.title("Absence")
    threshold = shell.threshold()
    span = cache.query(absence.data_range)
    if span is None:
        st.info("No absence data yet. Load the demo organisation or upload absence episodes or "
                "monthly absence figures on the Data page.")
        return
    for gap in cache.query(coverage.absence_gaps):
        st.warning(gap, icon=":material/info:")  # what the stored data lacks for rates
    ctl = _controls(span[0], span[1], threshold)

    def rates() -> None:
        _rates(ctl, threshold)
        _compare(ctl, threshold)

    def survey() -> None:
        with auth.refusals("survey x absence by team"):
            _survey(ctl, threshold)

    views = {TABS[0]: rates,
             TABS[1]: lambda: _reasons(ctl, threshold),
             TABS[2]: lambda: _patterns(ctl, threshold),
             TABS[3]: lambda: _bradford(ctl, threshold),
             TABS[4]: survey}
    if not settings().show_bradford:
        del views[TABS[3]]
    # only the open tab is worked out and drawn: the whole page's eight charts and thirteen tiles
    # on every run took twice the server's and a quarter more of the browser's time for a view
    # that shows one section at a time
    links.tabbed(views)
