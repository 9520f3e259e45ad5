"""Teams page: organisation → directorate → team drill-down, heatmap, funnel, compare (streamlit)."""
from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import catalogue, periods, stats
from dashboard.metrics import (
    compare,
    drilldown,
    indicators,
    lenses,
    response_rates,
    scorecard,
    sites_map,
)
from dashboard.present import formatting, plaintext
from dashboard.present.charts import teams as charts
from dashboard.store.groups import LABELS
from dashboard.ui import a11y, auth, cache, chart_export, lens, links, shell

# Query parameters that make up a view; a link with them reopens the same view. The tab is bound
# to the URL by its widget; the sort order, map indicator and site, in tabs that are drawn only
# when open, are kept in the URL by theirs (ui/links.py, keep=True).
PARAMS = ("wave", "view", "dir", "team", "ref", "ind", "cmp", "lens")
TABS = ("Heatmap", "Funnel plot", "Compare teams", "Sites map")


def _params() -> dict[str, str]:
    return {k: st.query_params[k] for k in PARAMS if k in st.query_params}


def _set_param(name: str, value: str | None) -> None:
    try:
        if value is None or value == "":
            if name in st.query_params:
                del st.query_params[name]
        else:
            st.query_params[name] = str(value)
    except StreamlitAPIException:
        # On the first run after arriving from another page, a parameter of the same name (the
        # Overview's wave) is still bound to that page's widget; the binding ends with this run,
        # and the next run writes the URL.
        pass


def _on_widget(name: str, key: str, to_param=str) -> None:
    value = st.session_state.get(key)
    _set_param(name, None if value is None else to_param(value))


def _on_view() -> None:
    view = st.session_state.get("teams_view") or "team"
    _set_param("view", view)
    if view != "team":
        # the alternative cuts cover the whole organisation: leave the drill-down position
        _set_param("dir", None)
        _set_param("team", None)


def _go(directorate: str | None, team: str | None) -> None:
    """Breadcrumb and drill clicks: move to a level and clear the levels below it."""
    _set_param("view", "team")
    _set_param("dir", directorate)
    _set_param("team", team)


def _pick(key: str, level: str) -> None:
    value = st.session_state.get(key)
    st.session_state[key] = None  # the pills are a one-shot navigation, not a lasting choice
    if value is None:
        return
    if level == "dir":
        _go(value, None)
    else:
        _go(st.session_state.get("teams_dir_of", {}).get(value), value)


def _within_scope(params: dict[str, str], tree: pd.DataFrame) -> dict[str, str]:
    """A manager opens at their own directorate (or team); a link elsewhere is refused and audited."""
    who = auth.current()
    if who is None or not who.scoped:
        return params
    dir_of = dict(zip(tree.team, tree.directorate, strict=True))
    asked_dir, asked_team = params.get("dir"), params.get("team")
    team_ok = asked_team is None or asked_team in who.teams or dir_of.get(asked_team) in who.directorates
    if (asked_dir is not None and asked_dir not in who.directorates and asked_team is None) or not team_ok:
        auth.record("refused", f"teams link outside scope: dir={asked_dir} team={asked_team}")
        st.error("Refused: that directorate or team is outside your scope "
                 f"({plaintext.md(who.scope_text())}).", icon=":material/lock:")
        params = {k: v for k, v in params.items() if k not in ("dir", "team")}
    if params.get("dir") is None and params.get("team") is None:
        if who.directorates:
            params["dir"] = sorted(who.directorates)[0]
        else:
            params["team"] = sorted(who.teams)[0]
    params["view"] = "team"  # the other views cut across the whole organisation
    return params


def _picked_group(state_key: str) -> str | None:
    """The group named by a chart click (either of the heatmap's two selection layers)."""
    state = st.session_state.get(state_key)
    selection = getattr(state, "selection", None) or (state or {}).get("selection", {})
    for name in (charts.PICK, f"{charts.PICK}_text"):
        points = selection.get(name) or []
        if points and points[0].get("group"):
            return str(points[0]["group"])
    return None


def _open_group(by: tuple[str, ...], group: str) -> None:
    """Open what a clicked row names: a team's profile, a directorate, or a site's cut."""
    tree = st.session_state.get("teams_tree")
    reportable = set(st.session_state.get("teams_reportable") or [])
    if by == ("team",) and tree is not None and group in reportable:
        _go(dict(zip(tree.team, tree.directorate, strict=True)).get(group), group)
    elif by == ("directorate",):
        _go(group, None)
    elif by == ("site",):
        links.write("site", group)
        st.session_state["tab"] = TABS[3]


def _on_heat_pick(by: tuple[str, ...]) -> None:
    group = _picked_group("teams_heat_pick")
    if group is not None:
        _open_group(by, group)


def _controls(sel: dict, waves: pd.DataFrame) -> None:
    labels = dict(zip(waves.wave_id.astype(int), waves.label, strict=True))
    st.session_state["teams_wave"] = sel["wave"]
    st.session_state["teams_view"] = sel["view"]
    left, right = st.columns(2)
    left.selectbox(
        "Survey wave", list(labels), format_func=labels.get, key="teams_wave",
        on_change=_on_widget, args=("wave", "teams_wave"),
    )
    right.selectbox(
        "View by", list(drilldown.VIEWS), format_func=drilldown.VIEW_LABELS.get, key="teams_view",
        on_change=_on_view,
        help="Teams drill down from the organisation through directorates; the other views are "
        "alternative cuts of the whole organisation.",
    )


def _breadcrumbs(sel: dict) -> None:
    crumbs = [("Organisation", None, None)]
    if sel["dir"]:
        crumbs.append((sel["dir"], sel["dir"], None))
    if sel["team"]:
        crumbs.append((sel["team"], sel["dir"], sel["team"]))
    cols = st.columns([1] * len(crumbs) + [max(1, 6 - len(crumbs))])
    for i, (label, directorate, team) in enumerate(crumbs):
        last = i == len(crumbs) - 1
        cols[i].button(
            ("› " if i else "") + plaintext.md(label), key=f"teams_crumb_{i}", disabled=last,
            on_click=_go, args=(directorate, team), type="tertiary",
        )


def _children(sel: dict, threshold: int, tree: pd.DataFrame) -> None:
    """One click down: directorates at the organisation, teams within a directorate."""
    if sel["dir"] is None:
        kids = cache.query(drilldown.groups_overview, ("directorate",), sel["wave"], threshold)
        level, title, key = "dir", "Open a directorate", "teams_pick_dir"
        names = kids.directorate
    else:
        kids = cache.query(drilldown.groups_overview, ("team",), sel["wave"], threshold, sel["dir"])
        level, title, key = "team", f"Open a team in {plaintext.md(sel['dir'])}", "teams_pick_team"
        names = kids.team
        st.session_state["teams_dir_of"] = dict(zip(tree.team, tree.directorate, strict=True))
    open_ = kids[kids.reportable.astype(bool)]
    labels = {name: f"{plaintext.md(name)} (n={int(n)})"
              for name, n in zip(names[open_.index], open_.n, strict=True)}
    if labels:
        st.pills(title, list(labels), format_func=labels.get, key=key, on_change=_pick, args=(key, level))
    hidden = list(names[~kids.reportable.astype(bool)])
    if hidden:
        st.caption(
            f"Not shown on their own ({len(hidden)}): {plaintext.md(', '.join(hidden))} — "
            f"{formatting.withheld_reason(threshold)}. They still count in every total above them."
        )


def _jump(sel: dict, reportable: list[str], tree: pd.DataFrame) -> None:
    st.session_state["teams_dir_of"] = dict(zip(tree.team, tree.directorate, strict=True))
    st.selectbox(
        "Or go straight to a team", reportable, index=None, placeholder="Choose a team",
        key="teams_jump", on_change=_pick, args=("teams_jump", "team"),
    )


def _heatmap(sel: dict, by: tuple[str, ...], threshold: int, group_title: str) -> None:
    cat = catalogue.get()
    st.session_state["teams_ref"] = sel["ref"]
    st.radio(
        "Compare each cell with", list(drilldown.REFERENCES), key="teams_ref", horizontal=True,
        format_func=lambda r: f"the {drilldown.REFERENCES[r]}", on_change=_on_widget,
        args=("ref", "teams_ref"),
    )
    directorate = sel["dir"] if by == ("team",) else None
    # another lens keeps only its own indicators, in its group order; the default shows them all
    ids = None if sel["lens"] == lenses.DEFAULT else tuple(
        lenses.members(sel["lens"], [*drilldown.survey_indicator_ids(cat), *drilldown.ABSENCE_IDS]))
    heat = cache.query(drilldown.heatmap, by, sel["wave"], threshold, sel["ref"], directorate, ids)
    if heat.empty:
        st.info("No survey figures for this wave.")
        return
    absence_ids = drilldown.absence_columns(heat)
    shown = set(heat.indicator_id)
    options = ["group", *[i for i in drilldown.survey_indicator_ids(cat) if i in shown], *absence_ids]
    left, right = st.columns([3, 1])
    sort_by = links.selectbox(
        left, "Sort rows by", options, "sort", "sort order",
        format_func=lambda o: "Name" if o == "group" else cat.indicators[o].short, keep=True,
    )
    descending = links.toggle(right, "Highest first", "desc", keep=True)
    order = drilldown.sort_order(heat, sort_by, descending)
    labels = drilldown.status_labels(sel["ref"], threshold, absence=bool(absence_ids))
    ref_name = drilldown.REFERENCES[sel["ref"]]
    shown = heat[~heat.suppressed.astype(bool)]
    summary = (
        f"Heatmap of {heat.group.nunique()} {group_title.lower()} groups by {heat.indicator.nunique()} "
        f"indicators against the {ref_name}: {int((shown.status == 'worse').sum())} cells worse, "
        f"{int((shown.status == 'better').sum())} better, {int(heat.suppressed.sum())} withheld. "
        "Click a row to open that group."
    )
    chart_export.chart(
        charts.heatmap(heat, labels, ref_name, threshold, order, group_title, selectable=True),
        summary, _cells_table(heat, threshold, group_title, ref_name), key="teams_heat_pick",
        footer=_footer(sel, f"{shown.group.nunique()} {group_title.lower()} groups shown"),
        name=f"heatmap-{group_title.lower()}",
        on_select=lambda: _on_heat_pick(by),
        selection_mode=[charts.PICK, f"{charts.PICK}_text"],
    )
    flags = drilldown.flag_summary(heat)
    st.caption(
        f"Colour and symbol (▲ better, ● similar, ▼ worse) compare each figure with the {ref_name} "
        "in the indicator's favourable direction, flagged only when the difference survives "
        "false-discovery control (Benjamini-Hochberg, 5%) over all the survey cells shown: "
        f"{flags['flagged']} of {flags['tested']} cells flagged. With a plain 95% test per cell "
        f"{flags['uncorrected']} would be, and chance alone would give about "
        f"{flags['expected_by_chance']:.0f} such flags even if no group truly differed. "
        f"{stats.CAUTION_MARK}: fewer than {stats.MIN_N} responses, read with caution. Grey cells: "
        f"{formatting.withheld_reason(threshold)} by subtraction."
    )
    if absence_ids:
        start, end = cache.query(periods.wave_periods, sel["wave"])[0]
        st.caption(
            f"Absence columns cover the 12 months {start:%d %b %Y} to {end:%d %b %Y} (calendar days). "
            f"Against the organisation and against the {drilldown.ABSENCE_REFERENCES['previous']} "
            f"(the previous wave's reference), ● similar means within ±{scorecard.RATE_MARGIN:.0%} "
            "of the reference rate or share (relative): absence is a census of days lost, not a "
            "sample, and days come in spells, so a Poisson interval on days would be misleadingly "
            "narrow. Against the benchmark as on the overview. `<N staff`: "
            f"{formatting.withheld_reason(threshold, formatting.STAFF, 'team')} "
            "(the Absence page's rule; see docs/privacy.md)."
        )
    elif any(b == "staff_group" for b in by):
        st.caption(
            "No absence columns for staff groups: staff in post is recorded by team, not by staff "
            "group, so there is no denominator for an absence rate."
        )
    a11y.behind("Table (the chart's figures and tooltips; click a column heading to sort)",
                "teams_heat_table", lambda: st.dataframe(drilldown.heatmap_table(heat, threshold),
                                                         hide_index=True, width="stretch"))


def _cells_table(heat: pd.DataFrame, threshold: int, group_title: str, ref_name: str) -> pd.DataFrame:
    """Every heatmap cell with what its tooltip says (value, base, reference, status)."""
    absent = heat.source.eq("absence") if "source" in heat else pd.Series(False, index=heat.index)
    return pd.DataFrame({
        group_title: heat.group,
        "Indicator": heat.indicator,
        "Value": [(formatting.WITHHELD if s else formatting.value(k, v))
                  for k, v, s in zip(heat.kind, heat.value, heat.suppressed, strict=True)],
        "Base (n)": [formatting.withheld_base(threshold, unit) if s else
                     ("–" if pd.isna(n) else f"{int(n)} {unit}")
                     for n, s, unit in zip(heat.n, heat.suppressed,
                                           absent.map({True: formatting.STAFF, False: formatting.RESPONSES}),
                                           strict=True)],
        ref_name.capitalize(): [formatting.value(k, v) for k, v in
                                zip(heat.kind, heat.reference_value, strict=True)],
        "Status": heat.status_label,
    })


def _funnel(sel: dict, by: tuple[str, ...], threshold: int, group_title: str) -> None:
    cat = catalogue.get()
    ids = drilldown.survey_indicator_ids(cat)
    st.session_state["teams_ind"] = sel["ind"]
    ind_id = st.selectbox(
        "Indicator", ids, key="teams_ind", format_func=lambda i: cat.indicators[i].label,
        on_change=_on_widget, args=("ind", "teams_ind"),
    )
    directorate = sel["dir"] if by == ("team",) else None
    points, centre = cache.query(drilldown.funnel, by, sel["wave"], ind_id, threshold, directorate)
    ind = cat.indicators[ind_id]
    if centre["value"] is None or points.empty or points.lo95.isna().all():
        st.info("Not enough reportable groups for a funnel plot of this indicator in this wave.")
        return
    curve = drilldown.funnel_curve(ind.kind, centre["value"], centre["sd"], threshold,
                                   float(points.n.max()) * 1.1)
    outside_n = int((points.zone != drilldown.ZONES[2]).sum())
    chart_export.chart(
        charts.funnel(points, curve, ind.kind, ind.short, group_title),
        f"Funnel plot of {ind.short} for {len(points)} {group_title.lower()} groups around the "
        f"organisation value {formatting.value(ind.kind, centre['value'])}: {outside_n} outside the "
        "95% limits.",
        pd.DataFrame({
            group_title: points.group, "n": points.n.astype(int),
            "Value": [formatting.value(ind.kind, v) for v in points.value],
            "95% interval": [f"{formatting.value(ind.kind, lo)} to {formatting.value(ind.kind, hi)}"
                             for lo, hi in zip(points.ci_low, points.ci_high, strict=True)],
            "95% limits": [f"{formatting.value(ind.kind, lo)} to {formatting.value(ind.kind, hi)}"
                           for lo, hi in zip(points.lo95, points.hi95, strict=True)],
            "Against the limits": points.zone,
        }),
        footer=_footer(sel, f"{len(points)} groups, {int(points.n.sum()):,} responses"),
        name=f"funnel-{ind_id}",
    )
    st.caption(
        f"Each dot is a group; the middle line is the organisation "
        f"({formatting.value(ind.kind, centre['value'])}). A dot beyond the dotted lines is further "
        "from the organisation than chance would explain; between the dashed and dotted lines, worth "
        "watching. Small groups get wider lines, so they are not over-read. "
        f"{centre['withheld']} group(s) withheld for privacy are not plotted."
    )
    with st.expander("How this was worked out"):
        st.markdown(
            "Control limits around the organisation value for a group of each size: 95% (dashed) and "
            "99.8% (dotted), "
            + ("exact binomial quantiles of the organisation's proportion at the group's n "
               "(asymmetric near 0% and 100%)" if ind.kind == "proportion" else "m ± z·sd/√n")
            + ", at the coverage of z = 1.96 and 3.09, as in NHS funnel plots."
        )
    outside = drilldown.outside_limits(points)
    st.markdown(f"**{group_title}s outside the 95% limits**")
    if outside.empty:
        st.caption("None: every group is within the limits expected from chance alone.")
        return
    view = pd.DataFrame(
        {
            group_title: outside.group,
            "n": outside.n.astype(int),
            "Value": [formatting.value(ind.kind, v) for v in outside.value],
            "95% interval": [
                f"{formatting.value(ind.kind, lo)} to {formatting.value(ind.kind, hi)}"
                for lo, hi in zip(outside.ci_low, outside.ci_high, strict=True)
            ],
            "Against the limits": outside.zone,
            "Reading": outside.signal.map({"worse": "▼ unfavourable", "better": "▲ favourable"}),
            "Caution": np.where(stats.small_n(outside.n),
                                f"{stats.CAUTION_MARK} fewer than {stats.MIN_N} responses", ""),
        }
    )
    if by == ("team",):
        st.caption("Select a row to open that team.")
        st.session_state["teams_outliers"] = list(outside.group)
        st.dataframe(view, hide_index=True, width="stretch", key="teams_outlier_pick",
                     on_select=_on_outlier_pick, selection_mode="single-row")
    else:
        st.dataframe(view, hide_index=True, width="stretch")


def _on_outlier_pick() -> None:
    state = st.session_state.get("teams_outlier_pick")
    rows = (getattr(state, "selection", None) or (state or {}).get("selection", {})).get("rows", [])
    groups_ = st.session_state.get("teams_outliers") or []
    if rows and rows[0] < len(groups_):
        _open_group(("team",), groups_[rows[0]])


def _compare(sel: dict, threshold: int, reportable: list[str], tree: pd.DataFrame) -> None:
    ids = dict(zip(tree.team, tree.unit_id.astype(int), strict=True))
    chosen_ids = [s for s in (sel.get("cmp") or "").split(",") if s.strip().isdigit()]
    by_id = {v: k for k, v in ids.items()}
    default = [by_id[int(i)] for i in chosen_ids if int(i) in by_id and by_id[int(i)] in reportable][:6]
    st.session_state["teams_cmp"] = default

    def changed() -> None:
        picked = st.session_state.get("teams_cmp") or []
        _set_param("cmp", ",".join(str(ids[t]) for t in picked))

    picked = st.multiselect(
        "Teams to compare (2 to 6)", reportable, key="teams_cmp", max_selections=6, on_change=changed
    )
    if len(picked) < 2:
        st.caption("Pick at least two teams.")
        return
    frame, left_out = cache.query(drilldown.compare, tuple(ids[t] for t in picked), sel["wave"], threshold,
                                  sel["lens"])
    if left_out:
        st.caption(f"Not reportable in this wave: {plaintext.md(', '.join(left_out))}.")
    kept = [t for t in picked if t not in left_out]
    table = frame.pivot(index="domain", columns="team", values="score").reindex(
        index=list(dict.fromkeys(frame.domain)), columns=kept
    )
    chart_export.chart(
        charts.domain_dots(frame, "team", picked, f"{_lens_title(sel)}, side by side"),
        f"{_lens_title(sel)} (0-10) of {', '.join(kept)}; the table below lists every indicator "
        "with n, the organisation and the benchmark.",
        table.round(1).reset_index().rename(columns={"domain": "Domain"}),
        footer=_footer(sel, f"{len(kept)} teams compared"), name="compare-teams",
    )
    st.dataframe(table.round(1), width="stretch")
    long, _ = cache.query(compare.indicators, tuple(ids[t] for t in picked), sel["wave"], threshold)
    if not long.empty:
        st.markdown("**Every indicator, with n, the organisation and the benchmark**")
        st.dataframe(compare.wide(long, kept), hide_index=True, width="stretch")
        st.caption(
            "n is the number of responses behind a survey figure. Absence and data-quality rows "
            "have no n of responses (absence counts staff in post; see the team profile). A dash "
            "with a reason marks a figure that is withheld or has no responses."
        )

    small = cache.query(drilldown.small_n_teams, tuple(ids[t] for t in picked if t not in left_out),
                        sel["wave"], threshold)
    if small:
        st.caption(f"{stats.CAUTION_MARK} Read with caution: " + "; ".join(
            f"{team} has {n} responses (fewer than {stats.MIN_N})" for team, n in small.items()))


def _lens_title(sel: dict) -> str:
    if sel["lens"] == lenses.DEFAULT:
        return "Seven-domain scores"
    return f"{lenses.get(sel['lens']).name} scores"


def _profile(sel: dict, threshold: int, tree: pd.DataFrame) -> None:
    unit_id = int(tree.loc[tree.team == sel["team"], "unit_id"].iloc[0])
    prof = cache.query(drilldown.team_profile, unit_id, sel["wave"], threshold, sel["lens"])
    st.subheader(plaintext.md(prof["team"]))
    st.caption(f"Directorate: {plaintext.md(prof['directorate'])} · Site: {plaintext.md(prof['site'])}")
    if not prof["reportable"]:
        st.info(f"{plaintext.md(prof['team'])} cannot be shown in this wave: "
                f"{formatting.withheld_reason(threshold, group='team')}.")
        return
    doms = prof["domains"]
    survey = prof["indicators"][prof["indicators"].kind.isin(["proportion", "mean"])]
    chart_export.chart(
        charts.domain_dots(doms, "series", list(drilldown.PROFILE_SERIES),
                           f"{_lens_title(sel)}: team, directorate and organisation"),

        f"{_lens_title(sel)} (0-10) of {prof['team']} beside its directorate and the "
        "organisation.",
        doms.pivot(index="domain", columns="series", values="score")
        .reindex(index=list(dict.fromkeys(doms.domain)), columns=list(drilldown.PROFILE_SERIES))
        .round(1).reset_index().rename(columns={"domain": "Domain"}),
        footer=_footer(sel, f"{prof['team']}: "
                       f"{'–' if survey.n.dropna().empty else format(int(survey.n.max()), ',')} responses"),
        name="team-profile",
    )
    ind = prof["indicators"]
    chosen = lenses.get(sel["lens"])
    groups = [g.name if g else "not in this lens" for g in map(chosen.group_of, ind.indicator_id)]
    view = pd.DataFrame(
        {
            "Domain" if sel["lens"] == lenses.DEFAULT else chosen.name: groups,
            "Indicator": ind.indicator,
            "Team": [formatting.value(k, v) for k, v in zip(ind.kind, ind.value, strict=True)],
            # n counts responses; absence rows would give episodes, which read as a sample size
            "n": [_n_text(k, n, v, note, threshold) for k, n, v, note in
                  zip(ind.kind, ind.n, ind.value, ind.note, strict=True)],
            "Change since last wave": [formatting.change(k, v) or "–" for k, v in
                                       zip(ind.kind, ind.change, strict=True)],
            "Directorate": [formatting.value(k, v) for k, v in
                            zip(ind.kind, ind.directorate_value, strict=True)],
            "Organisation": [formatting.value(k, v) for k, v in
                             zip(ind.kind, ind.organisation_value, strict=True)],
            "Benchmark": [formatting.value(k, v) for k, v in zip(ind.kind, ind.benchmark, strict=True)],
            "Team against benchmark": ind.status_label,
            "Note": [
                "; ".join(x for x in (b or n, f"{stats.CAUTION_MARK} fewer than {stats.MIN_N} "
                                      "responses: read with caution" if c else "") if x)
                for b, n, c in zip(ind.band, ind.note,
                                   stats.small_n(ind.n.where(ind.kind.isin(["proportion", "mean"]))),
                                   strict=True)
            ],
        }
    )
    st.dataframe(view, hide_index=True, width="stretch")
    start, end = prof["absence_period"]
    st.caption(
        f"Absence figures: the 12 months {start:%d %b %Y} to {end:%d %b %Y}, each group shown only "
        f"with at least {threshold} staff in post and when it cannot reveal a smaller team (the "
        "Absence page's rule). The domain scores include the absence rate wherever it is shown."
    )
    _response_rate(sel, unit_id)
    trend = cache.query(drilldown.team_trend, unit_id, threshold)
    if trend.wave_label.nunique() > 1:
        chart_export.chart(
            charts.team_trend(trend, prof["team"]),
            f"{prof['team']}: released survey figures in {trend.wave_label.nunique()} waves "
            f"({', '.join(sorted(trend.wave_label.unique()))}).",
            pd.DataFrame({
                "Wave": trend.wave_label, "Indicator": trend.indicator,
                "Value": [formatting.value(k, v) for k, v in zip(trend.kind, trend.value, strict=True)],
                "n": trend.n.astype(int),
            }),
            footer=chart_export.footer(
                f"survey waves {', '.join(sorted(trend.wave_label.unique()))} · {prof['team']}",
                chart_export.n_range(trend.n)),
            name="team-trend",
        )
    else:
        st.caption("A trend appears once the team is reportable in two or more waves.")


def _footer(sel: dict, n: str) -> str:
    """The footer of this page's chart downloads: the wave shown and its n."""
    waves = cache.query(indicators.waves)
    label = waves.loc[waves.wave_id == sel["wave"], "label"]
    return chart_export.footer(f"survey wave {label.iloc[0] if not label.empty else sel['wave']}", n)


def _n_text(kind: str, n, value, note: str, threshold: int) -> str:
    """n of a profile row; a dash with the reason where there is none (never 'None')."""
    if kind == "rate" or (kind == "share" and "staff in post" in (note or "")):
        return "– (absence: staff in post, not responses)"
    if kind not in ("proportion", "mean"):
        return "– (data quality figure)"
    if value is None or pd.isna(value) or n is None or pd.isna(n):
        return f"– ({note})" if note else "–"
    return str(int(n))


def _response_rate(sel: dict, unit_id: int) -> None:
    """The team's response rate this wave (HSE caution band) and in every wave."""
    rates = cache.query(response_rates.team_rates, unit_id, shell.threshold())
    now = rates[rates.wave_id == sel["wave"]]
    if now.empty:
        return
    row = now.iloc[0]
    if pd.isna(row.rate):
        st.caption(f"Response rate this wave: not shown ({row.note}).")
    else:
        st.markdown(
            f"**Response rate this wave: {row.rate:.0%}** ({int(row.responses)} responses of "
            f"{int(row.headcount)} staff in post in {row.month:%b %Y}) — {row.band}."
        )
    def every_wave() -> None:
        st.dataframe(response_rates.table(rates).drop(columns=["Team", "Directorate"]),
                     hide_index=True, width="stretch")
        st.caption("Response rate = responses ÷ headcount in post in the month of the wave's "
                   "fieldwork. HSE guidance: above 50% adequate, 60% desirable, 70% good, 80% very "
                   "good. Shown only where the team's survey figures are shown.")

    a11y.behind("Response rate in every wave", "team_rates_table", every_wave)


def _response_rates_table(sel: dict, threshold: int) -> None:
    """Response rates of the teams on screen (directorate or organisation level)."""
    rates = cache.query(response_rates.unit_rates, threshold, [sel["wave"]])
    if sel["dir"]:
        rates = rates[rates.directorate == sel["dir"]]
    if rates.empty:
        return
    def by_team() -> None:
        st.dataframe(response_rates.table(rates).drop(columns=["Wave"]), hide_index=True, width="stretch")
        st.caption("Staff in post in the month of the wave's fieldwork. Teams withheld for privacy "
                   "show no rate, since rate × staff in post would give their number of responses. "
                   "HSE guidance: above 50% adequate, 60% desirable, 70% good, 80% very good.")

    a11y.behind("Response rates by team (responses ÷ staff in post)", "teams_rates_table", by_team)


def _sites(sel: dict, threshold: int) -> None:
    """The sites map: one indicator, released as in the Sites view; a site opens its cut."""
    who = auth.current()
    if who is not None and who.scoped:
        st.info("The sites map compares sites across the whole organisation, so it is not part of "
                f"a view limited to {plaintext.md(who.scope_text())}.")
        return
    cat = catalogue.get()
    options = [*drilldown.survey_indicator_ids(cat), *drilldown.ABSENCE_IDS]
    ind_id = links.selectbox(
        st, "Colour sites by", options, "map", "map indicator",
        format_func=lambda i: cat.indicators[i].label, keep=True,
    )
    frame = cache.query(sites_map.site_figures, sel["wave"], threshold, ind_id)
    if frame.empty:
        st.caption("No sites recorded: add a site to each team (organisation structure upload).")
        return
    ind = cat.indicators[ind_id]
    placed = frame[frame.on_map]
    if placed.empty:
        st.caption("No site has a latitude and longitude yet, so there is nothing to place on a "
                   "map; the table below lists the sites.")
    else:
        st.pydeck_chart(sites_map.deck(frame), height=480, key="teams_map_pick",
                        on_select=_on_map_pick, selection_mode="single-object",
                        alt=sites_map.summary(frame, ind.short))
        st.session_state["teams_map_sites"] = list(placed.site)
    unit = formatting.RESPONSES if ind.source == "survey" else formatting.STAFF
    st.caption(
        sites_map.summary(frame, ind.short) + " Dot area: staff in post; colour: against the "
        f"organisation (▲ green better, ● blue similar, ▼ orange worse, grey withheld: "
        f"{formatting.withheld_reason(threshold, unit)}). Drawn without a background "
        "map, so it works offline; positions are to scale."
    )
    a11y.behind("Sites as a table (the figures in the map's tooltips)", "sites_table",
                lambda: st.dataframe(sites_map.table(frame), hide_index=True, width="stretch"))
    heat = cache.query(drilldown.heatmap, ("site",), sel["wave"], threshold, "organisation")
    openable = sorted(set(heat.loc[~heat.suppressed.astype(bool), "site"])) if not heat.empty else []
    site = links.selectbox(st, "Open a site", openable, "site", "site", index=None,
                           placeholder="Choose a site (or click one on the map)", keep=True)
    if site is None:
        return
    rows = heat[(heat.site == site)]
    st.markdown(f"**{site}**: every indicator against the organisation")
    st.dataframe(pd.DataFrame({
        "Indicator": rows.indicator,
        "Site": [(formatting.WITHHELD if s else formatting.value(k, v))
                 for k, v, s in zip(rows.kind, rows.value, rows.suppressed, strict=True)],
        "n": ["–" if pd.isna(n) else str(int(n)) for n in rows.n],
        "Organisation": [formatting.value(k, v)
                         for k, v in zip(rows.kind, rows.reference_value, strict=True)],
        "Against the organisation": rows.status_label,
    }), hide_index=True, width="stretch")
    st.caption("n: responses for survey figures, staff in post for absence figures.")
    # links as body text: a caption is drawn at 60% opacity, which takes a link to 3:1
    st.markdown(f"[Absence at this site](/absence?scope=Site&in={quote(site)}) · "
                f"[All sites side by side](/teams?view=site&wave={sel['wave']})")


def _on_map_pick() -> None:
    state = st.session_state.get("teams_map_pick")
    selection = getattr(state, "selection", None) or (state or {}).get("selection", {})
    objects = (selection.get("objects") or {}).get("sites") or []
    if objects and objects[0].get("site"):
        links.write("site", str(objects[0]["site"]))


def render() -> None:
    st.title("Teams")
    threshold = shell.threshold()
    waves = cache.query(indicators.waves)
    if waves.empty:
        st.info("No survey data yet. Load the demo organisation or upload a survey on the Data page.")
        return
    tree = cache.query(drilldown.unit_tree)
    wave_ids = [int(w) for w in waves.wave_id]
    ind_ids = drilldown.survey_indicator_ids()
    params = _within_scope(_params(), tree)
    first, _ = drilldown.resolve_selection(params, tree, wave_ids, None, ind_ids)
    reportable = cache.query(drilldown.reportable_teams, first["wave"], threshold)
    sel, notes = drilldown.resolve_selection(params, tree, wave_ids, reportable, ind_ids)
    sel["cmp"] = params.get("cmp")
    # for the click callbacks (heatmap cells, outlier rows), which run before the next script run
    st.session_state["teams_tree"] = tree
    st.session_state["teams_reportable"] = reportable
    for note in notes:
        st.info(plaintext.md(note), icon=":material/link_off:")
    # Keep the URL equal to what is on screen, so a copied link reopens this view.
    for name in ("wave", "view", "dir", "team", "ref", "ind"):
        default = {"view": "team", "ref": "organisation"}.get(name)
        value = sel[name]
        _set_param(name, None if value is None or value == default else value)

    _controls(sel, waves)
    # the lens regroups the profile's and Compare's scores; heatmap and funnel show indicators
    sel["lens"] = lens.picker("teams_lens")
    if sel["view"] == "team":
        _breadcrumbs(sel)
        if sel["team"]:
            _profile(sel, threshold, tree)
            return
        _children(sel, threshold, tree)
        if sel["dir"] is None:
            _jump(sel, reportable, tree)
        by = ("directorate",) if sel["dir"] is None else ("team",)
        _response_rates_table(sel, threshold)
    else:
        by = drilldown.VIEWS[sel["view"]]
        if "site" in by or "staff_group" in by:
            st.caption(
                "Sites and staff groups cut across teams. A figure is withheld here when, together "
                "with the team figures, it would let a group smaller than "
                f"{threshold} be worked out by subtraction; the team drill-down takes priority. "
                "See docs/privacy.md."
            )
    group_title = " × ".join(LABELS[b] for b in by)
    funnel_by = ("team",) if sel["view"] == "team" else by
    # only the open tab is computed and drawn: the other tabs' figures, charts and map cost a
    # view its first-chart time
    links.tabbed(dict(zip(TABS, (
        lambda: _heatmap(sel, by, threshold, group_title),
        lambda: _funnel(sel, funnel_by, threshold, " × ".join(LABELS[b] for b in funnel_by)),
        lambda: _compare(sel, threshold, reportable, tree),
        lambda: _sites(sel, threshold),
    ), strict=True)))
