"""Interventions page: the register (list, add, edit, delete) and the before/after evaluation view."""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import streamlit as st

from dashboard import catalogue
from dashboard.auth import access
from dashboard.framework import interventions
from dashboard.metrics import findings
from dashboard.present import plaintext
from dashboard.present.charts import interventions as charts
from dashboard.stats import evaluation
from dashboard.ui import auth, cache, chart_export, links, shell

NEW = 0  # the "new intervention" choice in the editor
VERDICT_MARK = {
    "likely improved": "▲",
    "likely worsened": "▼",
    "changed after: favourable direction": "△",
    "changed after: unfavourable direction": "▽",
    "no clear change": "●",
    "not enough data": "○",
}
LEVEL_TEXT = {
    2: "Magenta Book level 2 (before and after, no comparison group)",
    3: "Magenta Book level 3 (compared with teams without the intervention)",
}


def _fmt_p(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _evaluable_indicators() -> dict[str, str]:
    cat = catalogue.get()
    return {i.id: i.label for i in cat.indicators.values() if i.source in ("survey", "absence")}


# ---------------------------------------------------------------------------------------------
# Register
# ---------------------------------------------------------------------------------------------
def _register_table(register: pd.DataFrame) -> None:
    cat = catalogue.get()
    if register.empty:
        st.info("No interventions registered yet. Add one below, or import a file on the Data page.")
        return
    view = pd.DataFrame(
        {
            "Intervention": register.name,
            "Status": register.status.str.capitalize(),
            "Start": pd.to_datetime(register.start_date).dt.strftime("%d %b %Y"),
            "End": pd.to_datetime(register.end_date).dt.strftime("%d %b %Y").fillna("open"),
            "Domain": register.domain_name,
            "Aims to move": [", ".join(cat.indicators[i].short if i in cat.indicators else i for i in ids)
                             for ids in register.indicators],
            "Overlaps with": [", ".join(o) or "–" for o in register.overlaps_with],
            "Target teams": [f"{n}: " + ", ".join(t) for n, t in zip(register.n_units, register.teams,
                                                                     strict=True)],
            "Prevention": [interventions.short_label("prevention_level", v) or "–"
                           for v in register.prevention_level],
            "Resources": [", ".join(interventions.short_label("resources", r)
                                    for r in interventions._as_list(rs)) or "–"
                          for rs in register.resources],
            "Driven by": [interventions.short_label("driver", v) or "–" for v in register.driver],
            "Stage": [interventions.short_label("stage", v) or "–" for v in register.stage],
            "Cost (£)": register.cost.astype("float64"),
        }
    )
    st.dataframe(view, hide_index=True, width="stretch",
                 column_config={"Cost (£)": st.column_config.NumberColumn(format="%.0f")})


def _filters(register: pd.DataFrame) -> pd.DataFrame:
    """Multiselect filters on the register fields; none chosen keeps every row."""
    opts = interventions.register_options()
    cols = st.columns(4)
    chosen = {}
    for col, name in zip(cols, ("prevention_level", "resources", "driver", "stage"), strict=True):
        # only the open tab is drawn: the filters are still set on coming back from Evaluate
        chosen[name] = links.held(f"iv_filter_{name}", lambda col=col, name=name: col.multiselect(
            interventions.FIELD_LABELS[name], list(opts[name]),
            format_func=lambda k, n=name: interventions.short_label(n, k), key=f"iv_filter_{name}",
        ))
    shown = interventions.filter_register(register, **chosen)
    if len(shown) < len(register):
        st.caption(f"Showing {len(shown)} of {len(register)} interventions (filters above).")
    return shown


def _editor(register: pd.DataFrame, units: pd.DataFrame) -> None:
    cat = catalogue.get()
    choices = [NEW, *register.intervention_id.astype(int).tolist()]
    names = dict(zip(register.intervention_id.astype(int), register.name, strict=True))
    chosen = st.selectbox(
        "Add or edit", choices, key="iv_edit_pick",
        format_func=lambda i: "New intervention" if i == NEW else f"Edit: {names[i]}",
    )
    current = None if chosen == NEW else register[register.intervention_id == chosen].iloc[0]
    team_names = dict(zip(units.unit_id.astype(int), units.team, strict=True))
    domains = [d.id for d in cat.domains]
    indicator_labels = _evaluable_indicators()
    suffix = str(chosen)  # widget keys follow the choice so each intervention starts from its own values
    with st.form(f"iv_form_{suffix}"):
        name = st.text_input("Name", value="" if current is None else current["name"],
                             key=f"iv_name_{suffix}")
        domain = st.selectbox(
            "Domain (of the seven)", domains, format_func=lambda d: cat.domain(d).name,
            index=0 if current is None else domains.index(current["domain"]), key=f"iv_domain_{suffix}",
        )
        targets = st.multiselect(
            "Target teams", list(team_names), format_func=team_names.get,
            default=[] if current is None else [int(u) for u in current["unit_ids"]],
            key=f"iv_units_{suffix}",
        )
        c1, c2 = st.columns(2)
        start = c1.date_input(
            "Start date",
            value=date.today() if current is None else pd.Timestamp(current["start_date"]).date(),
            format="DD/MM/YYYY", key=f"iv_start_{suffix}",
        )
        has_end = current is not None and not pd.isna(current["end_date"])
        end = c2.date_input(
            "End date (leave empty if ongoing)",
            value=pd.Timestamp(current["end_date"]).date() if has_end else None,
            format="DD/MM/YYYY", key=f"iv_end_{suffix}",
        )
        aims = st.multiselect(
            "Indicators it aims to move", list(indicator_labels), format_func=indicator_labels.get,
            default=[] if current is None else [i for i in current["indicators"] if i in indicator_labels],
            key=f"iv_indicators_{suffix}",
        )
        notes = st.text_area(
            "Notes", value="" if current is None or pd.isna(current["notes"]) else current["notes"],
            key=f"iv_notes_{suffix}",
        )
        register = _register_fields(current, suffix)
        saved = st.form_submit_button("Save intervention", type="primary")
    if saved:
        entry = interventions.Intervention(name, domain, targets, start, aims, end, notes, register)
        if current is None:
            _write(interventions.create_intervention, f"Added “{plaintext.md(name.strip())}”.",
                   entry=entry)
        else:
            _write(interventions.update_intervention, f"Saved “{plaintext.md(name.strip())}”.",
                   intervention_id=int(chosen), entry=entry)
    if current is not None:
        with st.expander("Delete this intervention"):
            sure = st.checkbox("Yes, delete this intervention and its list of target teams",
                               key=f"iv_delete_sure_{suffix}")
            if st.button("Delete", disabled=not sure, key=f"iv_delete_{suffix}"):
                _write(interventions.delete_intervention, f"Deleted “{plaintext.md(current['name'])}”.",
                       intervention_id=int(chosen))


def _register_fields(current: pd.Series | None, suffix: str) -> interventions.RegisterFields:
    """Prevention level, resources, driver, stage and cost (each optional) inside the form."""
    opts = interventions.register_options()
    values = {}
    c1, c2, c3 = st.columns(3)
    for col, name in zip((c1, c2, c3), interventions.CHOICE_FIELDS, strict=True):
        keys = [None, *opts[name]]
        now = None if current is None or pd.isna(current[name]) else current[name]
        values[name] = col.selectbox(
            interventions.FIELD_LABELS[name], keys, index=keys.index(now) if now in keys else 0,
            format_func=lambda k, n=name: "Not recorded" if k is None else opts[n][k],
            key=f"iv_{name}_{suffix}",
        )
    c4, c5 = st.columns([3, 1])
    now_res = [] if current is None else interventions._as_list(current["resources"])
    values["resources"] = c4.multiselect(
        interventions.FIELD_LABELS["resources"], list(opts["resources"]),
        default=[r for r in now_res if r in opts["resources"]],
        format_func=opts["resources"].get, key=f"iv_resources_{suffix}",
    )
    cost = None if current is None or pd.isna(current["cost"]) else float(current["cost"])
    values["cost"] = c5.number_input(
        interventions.FIELD_LABELS["cost"], min_value=0.0, value=cost, step=100.0,
        key=f"iv_cost_{suffix}", help="Leave empty when the cost is not known.",
    )
    return interventions.RegisterFields(values["prevention_level"], tuple(values["resources"]),
                                        values["driver"], values["stage"], values["cost"])


def _write(fn, message: str, **kwargs) -> None:
    """Run one register write on this run's cursor, then drop cached results and rerun."""
    auth.require("intervention")
    con = cache.cursor()
    try:
        result = fn(con, **kwargs)
    except interventions.InterventionError as err:
        st.error(f"Not saved: {plaintext.md(str(err))}.")
        return
    finally:
        con.close()
    iid = kwargs.get("intervention_id", result if isinstance(result, int) else None)
    auth.record("intervention", f"{fn.__name__.replace('_intervention', '')} intervention #{iid}")
    cache.clear()
    st.session_state["iv_flash"] = message
    st.rerun()


def _register(register: pd.DataFrame) -> None:
    st.header("Register")
    shown = _filters(register) if not register.empty else register
    if shown.empty and not register.empty:
        st.info("No intervention matches these filters.")
    else:
        _register_table(shown)
    st.caption(
        "Status comes from the dates and the data: planned (starts later), running (no survey wave "
        "or absence months after the start yet), evaluated (data before and after the start)."
    )
    data_page = "[Data page](/data)" if any(p[2] == "data" for p in shell.PAGES) else "Data page"
    # body text, not a caption: a caption is drawn at 60% opacity, which takes a link to 3:1
    st.markdown(f"To import many interventions from a spreadsheet, use the {data_page} with the "
                "“interventions” file kind.")
    units = cache.query(interventions.unit_choices)
    if units.empty:
        st.info("Load survey or organisation data first: interventions target teams.")
        return
    principal = auth.current()
    if principal is None or not access.can(principal, "intervention"):
        st.caption("Only an administrator can add, edit or delete interventions.")
        return
    _editor(register, units)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
def _controls(iv: pd.Series, units: pd.DataFrame) -> dict:
    labels = _evaluable_indicators()
    start = pd.Timestamp(iv["start_date"]).date()
    waves = cache.query(evaluation.waves_around, start)
    pre_default, post_default = evaluation.default_waves(waves)
    key = str(int(iv["intervention_id"]))
    with st.expander("Evaluation settings", expanded=False):
        # every setting is in the URL, keyed by the intervention so that each keeps its own
        chosen = links.multiselect(
            st, "Indicators", list(labels), f"iv_eval_ind_{key}", "indicators", format_func=labels.get,
            default=[i for i in iv["indicators"] if i in labels],
        )
        wave_ids = waves.wave_id.astype(int).tolist()
        wave_label = dict(zip(wave_ids, waves.label + " (fielded " + waves.fielded_on.astype(str) + ")",
                              strict=True))
        c1, c2 = st.columns(2)
        # a side without any wave stays empty: the evaluation then says there is nothing to compare
        pre = post = None
        if pre_default is None:
            c1.caption("No survey wave before the start date.")
        else:
            pre = links.selectbox(c1, "Survey wave before", wave_ids, f"iv_pre_{key}", "wave before",
                                  format_func=wave_label.get, index=wave_ids.index(pre_default))
        if post_default is None:
            c2.caption("No survey wave after the start date yet.")
        else:
            post = links.selectbox(c2, "Survey wave after", wave_ids, f"iv_post_{key}", "wave after",
                                   format_func=wave_label.get, index=wave_ids.index(post_default))
        targets = {int(u) for u in iv["unit_ids"]}
        others = units[~units.unit_id.isin(targets)]
        mode = links.radio(st, "Comparison teams", ["All other teams", "Chosen teams"],
                           f"iv_cmp_mode_{key}", "comparison", horizontal=True)
        exclude = links.checkbox(
            st, "Leave out comparison teams that had another intervention aimed at the same indicators",
            f"iv_cmp_clean_{key}",
        )
        comparison = None
        if mode == "Chosen teams":
            names = dict(zip(others.unit_id.astype(int), others.team, strict=True))
            comparison = tuple(sorted(links.multiselect(
                st, "Choose comparison teams", list(names), f"iv_cmp_{key}", "comparison teams",
                format_func=names.get)))
        c3, c4 = st.columns(2)
        months = c3.slider("Absence: months either side of the start", 3, 24, evaluation.DEFAULT_MONTHS,
                           key=f"iv_months_{key}", bind="query-params",
                           help=f"No absence verdict below {evaluation.stats.MIN_VERDICT_MONTHS} "
                           "months: a shorter window cannot compare the same calendar months "
                           "before and after.")
        correction = links.radio(c4, "Correction for several indicators", list(evaluation.CORRECTIONS),
                                 f"iv_correction_{key}", "correction",
                                 format_func=evaluation.CORRECTIONS.get, horizontal=True)
    # keep the default waves implicit so the evaluation follows new imports
    return {
        "indicators": tuple(chosen),
        "pre": None if pre == pre_default else pre,
        "post": None if post == post_default else post,
        "comparison": comparison,
        "months": months,
        "correction": correction,
        "exclude": exclude,
    }


def _verdict_card(r: evaluation.IndicatorResult, n_target_units: int) -> None:
    """Plain words first (verdict and what changed); the statistics behind an expander."""
    with st.container(border=True, key=f"verdict_{r.indicator_id}"):
        st.markdown(f"#### {r.label}")
        # large, near the top of the card: the one thing a steering group needs to read
        st.markdown(f"**{VERDICT_MARK.get(r.verdict, '')} {r.verdict.capitalize()}**")
        if r.design != "none":
            sentence = findings.change_sentence(r, n_target_units)
            st.markdown(sentence[:1].upper() + sentence[1:] + ".")
        else:
            for note in r.notes:
                st.caption(note)
        if r.warnings:
            st.markdown("**Caveats**\n" + "\n".join(f"- {w}" for w in r.warnings))
        with st.expander("How this was worked out"):
            st.markdown(f"Effect: {evaluation.effect_text(r)}")
            if r.level is not None:
                st.markdown(f"**{LEVEL_TEXT[r.level]}**")
            st.caption(r.summary)
            extra = [f"p = {_fmt_p(r.p_value)}"]
            if r.p_adjusted is not None:
                extra.append(f"adjusted p = {_fmt_p(r.p_adjusted)}")
            if r.hedges_g is not None and not math.isnan(r.hedges_g):
                lo, hi = r.g_ci
                extra.append(f"Hedges' g (target teams, before to after) = {r.hedges_g:+.2f} "
                             f"(95% CI {lo:+.2f} to {hi:+.2f})")
            if r.design != "none":
                st.caption(" · ".join(extra))
            _details(r)


def _details(r: evaluation.IndicatorResult) -> None:
    if r.design_text:
        st.markdown(r.design_text)
    if r.method:
        st.caption(f"Method: {r.method}.")
    change = r.change
    if change is not None and r.kind in ("proportion", "mean"):
        scale = 100 if r.kind == "proportion" else 1
        unit = "%" if r.kind == "proportion" else ""
        digits = 1 if r.kind == "proportion" else 2
        rows = []
        for period, part in (("Before", change.pre), ("After", change.post)):
            ci = (f"{part.low * scale:.{digits}f}{unit} to {part.high * scale:.{digits}f}{unit}"
                  if not math.isnan(part.low) else "–")
            rows.append({"Target teams": period, "Value": f"{part.estimate * scale:.{digits}f}{unit}",
                         "95% CI": ci, "Respondents": part.n})
        st.markdown("Target teams before and after")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        sign = "+" if change.estimate >= 0 else ""
        st.caption(f"Target teams' own change: {sign}{change.estimate * scale:.{digits}f} {r.unit} "
                   f"(95% CI {change.ci_low * scale:+.{digits}f} to "
                   f"{change.ci_high * scale:+.{digits}f}), p = {_fmt_p(change.p_value)}.")
    if r.did is not None:
        units = r.did.cells.groupby("group")["units"].max()  # the same teams before and after
        st.caption(f"Teams used: {int(units.get('T', 0))} target and {int(units.get('C', 0))} "
                   "comparison, each reportable in both waves.")
    if r.did is not None and not math.isnan(r.did.analytic_ci_low):
        scale = 100 if r.kind == "proportion" else 1
        st.caption(
            f"Check: counting sampling alone (respondents within teams, no team-by-wave "
            f"variation) the interval would be {r.did.analytic_ci_low * scale:+.2f} to "
            f"{r.did.analytic_ci_high * scale:+.2f}; the interval used also allows for teams "
            f"changing between waves on their own ({r.did.df:.0f} degrees of freedom)."
        )
    if r.trend is not None:
        st.markdown(f"**Parallel trends:** {r.trend.flag}")
    if r.absence_did is not None:
        _absence_did_details(r)
    elif r.comparison_change is not None and not math.isnan(r.comparison_change.estimate):
        comp = r.comparison_change
        st.caption(f"Comparison teams over the same months: {comp.estimate:.2f}x "
                   f"(95% CI {comp.ci_low:.2f} to {comp.ci_high:.2f}).")
    if r.its is not None and r.its.level_change is not None and r.its.withheld:
        st.caption(f"Interrupted time series: {r.its.withheld}")
    elif r.its is not None and r.its.level_change is not None:
        lvl, slope = r.its.level_change, r.its.slope_change
        st.caption(
            f"Interrupted time series: level change {lvl.estimate * 100:+.2f} points of absence rate "
            f"(95% CI {lvl.ci_low * 100:+.2f} to {lvl.ci_high * 100:+.2f}); change in monthly trend "
            f"{slope.estimate * 100:+.3f} points a month (95% CI {slope.ci_low * 100:+.3f} to "
            f"{slope.ci_high * 100:+.3f}); month-of-year terms "
            f"{'included' if r.its.seasonal else 'not included'}."
        )
    for note in r.notes:
        st.caption(note)


def _ratio_text(ratio) -> str:
    if math.isnan(ratio.estimate):
        return "no estimate"
    return f"{ratio.estimate:.2f}x (95% CI {ratio.ci_low:.2f} to {ratio.ci_high:.2f})"


def _absence_did_details(r: evaluation.IndicatorResult) -> None:
    did = r.absence_did
    if r.absence_units is not None:
        st.caption(f"Teams pooled: {r.absence_units[0]} target and {r.absence_units[1]} comparison "
                   "(only teams the Absence page may show over these months).")
    comparison = _ratio_text(r.comparison_change) if r.comparison_change is not None else "no estimate"
    st.caption(f"Rate after / before: target teams {_ratio_text(r.change)}; comparison teams "
               f"{comparison}. The effect is the first divided by the second.")
    st.caption(
        f"Absence rate before → after: target teams {did.rates['target pre'] * 100:.2f}% → "
        f"{did.rates['target post'] * 100:.2f}%, comparison teams "
        f"{did.rates['comparison pre'] * 100:.2f}% → {did.rates['comparison post'] * 100:.2f}%; "
        f"month-of-year terms {'included' if did.seasonal else 'not included'}; the interval "
        f"comes from how much teams' own before/after changes scatter (long spells, teams' own "
        f"runs), {did.widening:.1f}x as wide as a plain Poisson one."
    )


def _charts(result: evaluation.Evaluation) -> None:
    forest = evaluation.forest_frame(result)
    period = (f"{result.intervention['name']} · survey {result.pre_wave or '–'} → "
              f"{result.post_wave or '–'}")
    n = f"{result.n_target_units} target and {result.n_comparison_units} comparison teams"
    footer = chart_export.footer(period, n)
    if len(forest):
        # a fixed-width stack of panels: shown at its own width, not stretched
        chart_export.chart(
            charts.forest(forest),
            f"Estimated effect with its 95% interval for {len(forest)} indicator(s): "
            + "; ".join(f"{i} {str(v).lower()}" for i, v in zip(forest.indicator, forest.verdict,
                                                                 strict=True)) + ".",
            pd.DataFrame({"Indicator": forest.indicator, "Effect": forest.text, "Verdict": forest.verdict,
                          "Magenta Book level": forest.level}),
            width="content", footer=footer, name="effects", key=None,
        )
    for r in result.results:
        if r.cells is not None and r.kind in ("proportion", "mean"):
            cells = r.cells
            cell_n = chart_export.n_range(cells.n, "responses per group and wave")
            chart_export.chart(
                charts.before_after(cells, r.kind, f"{r.label}: before and after"),
                f"{r.label} before and after in the target and comparison teams.",
                pd.DataFrame({"Teams": cells.group, "Period": cells.period, "Wave": cells.wave,
                              "Value": cells.value.round(2), "n": cells.n.astype("Int64")}),
                footer=chart_export.footer(period, cell_n), name=f"before-after-{r.indicator_id}",
                key=None,
            )
        if r.its is not None and r.its.level_change is not None:
            start = result.intervention["start_date"]
            chart_export.chart(
                charts.interrupted_series(r.its.series, start,
                                          f"{r.label} in the target teams: observed, fitted and projected",
                                          r.comparison_series),
                f"{r.label} by month in the target teams, with the fitted trend before and after the "
                f"start on {pd.Timestamp(start):%d %b %Y} and the projection without the intervention.",
                r.its.series.assign(**{c: r.its.series[c].round(4)
                                       for c in r.its.series.select_dtypes("number").columns}),
                footer=footer, name=f"monthly-{r.indicator_id}", key=None,
            )


def _heading(result: evaluation.Evaluation | None) -> str:
    """The evaluation heading follows the design: only a comparison group can ask 'did it work?'."""
    if result is None:
        return "Evaluate an intervention"
    levels = {r.level for r in result.results if r.level is not None}
    if levels == {3}:
        return "Did it work? Compared with teams without it"
    if 3 in levels:
        return "Did it work? Partly compared with other teams, partly before/after only"
    return "What changed after the start? (before/after only, no comparison group)"


def _evaluate(register: pd.DataFrame, threshold: int) -> None:
    heading = st.empty()
    heading.header(_heading(None))
    if register.empty:
        st.info("Register an intervention to evaluate it.")
        return
    ids = register.intervention_id.astype(int).tolist()
    # the name is the URL value (a status changes with new data, a link should not), as in the
    # links from Where to look
    names = dict(zip(ids, register.name, strict=True))
    iid = links.selectbox(st, "Intervention", ids, "iv", "intervention", format_func=names.get)
    iv = register[register.intervention_id == iid].iloc[0]
    st.caption(
        f"{str(iv['status']).capitalize()} · {iv['domain_name']} · {iv['n_units']} target team(s) · started "
        f"{pd.Timestamp(iv['start_date']):%d %b %Y}"
        + ("" if pd.isna(iv["end_date"]) else f", ended {pd.Timestamp(iv['end_date']):%d %b %Y}")
    )
    fields = interventions.describe_fields(iv)
    if fields:
        st.caption(fields)
    if iv["status"] == "planned":
        st.info("This intervention has not started yet: there is nothing to evaluate.")
        return
    units = cache.query(interventions.unit_choices)
    ctl = _controls(iv, units)
    if not ctl["indicators"]:
        st.info("Choose at least one indicator to evaluate.")
        return
    try:
        with st.spinner("Evaluating…"):
            result = cache.query(
                evaluation.evaluate, iid, threshold, ctl["indicators"], ctl["pre"], ctl["post"],
                ctl["comparison"], ctl["months"], ctl["correction"], ctl["exclude"],
            )
    except ValueError as err:  # settings that cannot be evaluated, e.g. waves in the wrong order
        st.error(f"Cannot evaluate with these settings: {err}.")
        return
    heading.header(_heading(result))
    design = []
    if result.pre_wave and result.post_wave:
        design.append(f"survey wave {result.pre_wave} before, {result.post_wave} after")
    if any(r.kind == "rate" for r in result.results):
        w = result.absence_window
        design.append(f"absence {w['pre_start']:%b %Y}–{w['pre_end']:%b %Y} before, "
                      f"{w['post_start']:%b %Y}–{w['post_end']:%b %Y} after")
    design.append(f"{result.n_comparison_units} comparison team(s) ({result.comparison_label})")
    st.markdown(plaintext.md("Compared: " + "; ".join(design) + "."))
    if result.correction:
        st.caption(f"{len(result.results)} indicators tested together: p-values adjusted by "
                   f"{result.correction}.")
    for warning in result.warnings:
        st.warning(plaintext.md(warning))  # may quote intervention and team names
    for r in result.results:
        _verdict_card(r, result.n_target_units)
    _charts(result)
    st.caption(
        "A verdict says what the data show, not that the intervention caused it. “Likely improved” "
        "(with comparison teams) means the 95% interval leaves out no change; “changed after” "
        "(before/after only) means the same but with nothing to compare against, so seasons, "
        "staffing or policy could explain it. Other things happening at the same time can "
        "produce the same pattern. Teams below the anonymity threshold in a wave are left out. "
        "How often these intervals miss or raise false alarms is measured in docs/calibration.md."
    )


def render() -> None:
    st.title("Interventions")
    threshold = shell.threshold()
    flash = st.session_state.pop("iv_flash", None)
    if flash:
        st.success(flash)
    register = cache.query(interventions.list_interventions, date.today())
    # only the open tab is drawn (a switch reruns): the register's table, filters and form cost a
    # new tab of the evaluation as much again in the browser
    links.tabbed({"Evaluate": lambda: _evaluate(register, threshold),
                  "Register": lambda: _register(register)})
