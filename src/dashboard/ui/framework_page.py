"""Framework page: diagnostic self-assessment beside the data, improvement plan, drivers (streamlit)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import catalogue
from dashboard.framework import diagnostic, improvement, interventions
from dashboard.metrics import drivers, indicators, lenses, scorecard
from dashboard.present import formatting, plaintext
from dashboard.present.charts import framework as charts
from dashboard.ui import a11y, auth, cache, chart_export, shell

FLAG_ICON = {"gap": "⚠", "check": "!", "modest": "?", "": ""}
SECTIONS = {"diagnostic": "Diagnostic", "plan": "Improvement plan", "drivers": "Drivers"}


def _flash() -> None:
    message = st.session_state.pop("fw_flash", None)
    if message:
        st.success(plaintext.md(message))  # names actions and elements the user typed


def _read(fn, *args):
    """Assessments and actions: small tables read fresh on every run (never cached, so a record
    written here shows at once without emptying the figure caches)."""
    con = cache.cursor()
    try:
        return fn(con, *args)
    finally:
        con.close()


def _write(fn, message: str, errors: tuple[type[Exception], ...], figures: bool = False,
           **kwargs) -> None:
    """One write on this run's cursor; a refusal is shown, a success reruns the page. Only a
    write that changes figures (a new register entry) drops the cached figures."""
    # a register entry is an intervention change (admins); assessments and actions are the plan's
    action = "intervention" if figures else "plan"
    auth.require(action)
    con = cache.cursor()
    try:
        fn(con, **kwargs)
    except errors as err:
        st.error(f"Not saved: {plaintext.md(str(err))}.")
        return
    finally:
        con.close()
    auth.record(action, fn.__name__.replace("_", " "))
    if figures:
        cache.clear()
    st.session_state["fw_flash"] = message
    st.rerun()


# ---------------------------------------------------------------------------------------------
# Diagnostic
# ---------------------------------------------------------------------------------------------
def _org_table(wave_id: int, threshold: int) -> pd.DataFrame:
    # The Overview's own figures, so the diagnostic sits beside exactly what the scorecard shows.
    # The organisation is the first figure the release plan adds, so it is released whenever the
    # scorecard shows it.
    return cache.query(scorecard.indicator_table, wave_id, threshold)


def _beside(wave_id: int, threshold: int) -> pd.DataFrame:
    table = _org_table(wave_id, threshold)
    domains = lenses.rollup(table, lenses.DEFAULT)
    return diagnostic.beside_data(_read(diagnostic.latest), table, domains)


def _diagnostic(wave_id: int, wave_label: str, threshold: int) -> None:
    diag = diagnostic.get()
    beside = _beside(wave_id, threshold)
    flagged = beside[beside.flag == "gap"]
    if not flagged.empty:
        st.warning(
            "Rated well, but staff report otherwise: "
            + "; ".join(f"**{r.element}** (rated {r.rating_label}; {r.flag_reason})"
                        for r in flagged.itertuples())
            + ".",
            icon=":material/warning:",
        )
    _cards(beside)
    rated = beside[beside.rating.notna()]
    chart_export.chart(
        charts.diagnostic(beside, [(lv.level, lv.label) for lv in diag.levels]),
        f"Self-ratings of {len(rated)} of {len(beside)} framework elements beside their domain's "
        f"measured score; {int((beside.flag == 'gap').sum())} flagged as rated well where staff "
        "report otherwise. The table below lists each element.",
        width="content", footer=chart_export.footer(
            f"survey wave {wave_label} · self-assessments as recorded", f"{len(rated)} elements rated"),
        name="diagnostic",
    )
    view = pd.DataFrame(
        {
            "Domain": beside.domain,
            "Element": beside.element,
            "Self-rating": [
                lab if pd.isna(r) else f"{lab} ({int(r)})"
                for r, lab in zip(beside.rating, beside.rating_label, strict=True)
            ],
            "Assessed": [
                "–" if d is None or pd.isna(d) else f"{pd.Timestamp(d):%d %b %Y} by {who}"
                for d, who in zip(beside.assessed_on, beside.assessed_by, strict=True)
            ],
            "Domain score": beside.domain_score.round(1),
            "Against benchmark": beside.domain_status_label,
            "Flag": [f"{FLAG_ICON[f]} {t}: {why}" if f else "" for f, t, why in
                     zip(beside.flag, beside.flag_text, beside.flag_reason, strict=True)],
            "Figures in the domain": beside.measured,
            "Evidence": beside.evidence.fillna(""),
        }
    )
    a11y.behind("All sixteen elements as a table", "fw_beside_table",
                lambda: st.dataframe(view, hide_index=True, width="stretch", key="fw_beside"))
    st.caption(
        f"Figures: survey wave {wave_label} and the 12 months of absence before it, for the whole "
        f"organisation, as on the Overview ({formatting.not_shown_rule(threshold)}). "
        f"⚠ a rating of {diag.level(diag.claims_good_from).label} or above where the domain "
        f"is worse than the benchmark or scores below {diag.good_score:g} / 10 (data/diagnostic.toml); "
        "! rated well, but at least one of its indicators is worse "
        f"than the benchmark; ? rated {diag.level(diag.modest_up_to).label} or below where the "
        "domain is better than the benchmark."
    )
    def scale() -> None:
        st.dataframe(pd.DataFrame([{"Level": lv.level, "Rating": lv.label, "Meaning": lv.meaning}
                                   for lv in diag.levels]), hide_index=True, width="stretch")
        st.dataframe(pd.DataFrame([{"Element": e.name, "What good looks like": e.good}
                                   for e in diag.elements]), hide_index=True, width="stretch")

    a11y.behind("The maturity scale and what good looks like", "fw_scale_table", scale)
    _record_form(diag)
    _history()


def _cards(beside: pd.DataFrame) -> None:
    """One box per domain: what the data say, then each element's latest self-rating."""
    labels = {lv.level: lv.label for lv in diagnostic.get().levels}
    cols = st.columns(2)
    for k, (_, part) in enumerate(beside.groupby("domain_id", sort=False)):
        first = part.iloc[0]
        with cols[k % 2].container(border=True):
            score = "–" if pd.isna(first.domain_score) else f"{first.domain_score:.1f} / 10"
            st.markdown(f"**{first.domain}** · data: {score} · {first.domain_status_label}")
            st.caption(f"Figures: {first.measured}")
            for row in part.itertuples():
                if pd.isna(row.rating):
                    line = f"{row.element}: *not yet assessed*"
                else:
                    line = (f"{row.element}: **{row.rating_label}** "
                            f"({pd.Timestamp(row.assessed_on):%d %b %Y}, {row.assessed_by})")
                    if not pd.isna(row.previous_rating):
                        line += f" · before: {labels[int(row.previous_rating)]}"
                if row.flag:
                    line += f"  \n{FLAG_ICON[row.flag]} {row.flag_text}: {row.flag_reason}"
                st.markdown(line)


def _record_form(diag: diagnostic.Diagnostic) -> None:
    st.markdown("#### Record an assessment")
    names = {e.id: e.name for e in diag.elements}
    element = st.selectbox("Element", list(names), format_func=names.get, key="fw_element")
    st.caption(f"What good looks like: {diag.element(element).good}")
    levels = {lv.level: f"{lv.level} {lv.label}" for lv in diag.levels}
    with st.form("fw_assess", clear_on_submit=True):
        rating = st.radio("Our rating", list(levels), format_func=levels.get, horizontal=True,
                          key="fw_rating", index=None)
        c1, c2 = st.columns(2)
        when = c1.date_input("Assessed on", value=date.today(), max_value=date.today(),
                             format="DD/MM/YYYY", key="fw_date")
        who = c2.text_input("Assessed by", key="fw_by", placeholder="e.g. Wellbeing steering group")
        evidence = st.text_area("Evidence", key="fw_evidence",
                                placeholder="What the rating rests on: policies, audits, figures")
        saved = st.form_submit_button("Save assessment", type="primary")
    if saved:
        if rating is None:
            st.error("Not saved: choose a rating.")
            return
        _write(diagnostic.record_assessment, f"Recorded {names[element]}: {levels[rating]}.",
               (diagnostic.DiagnosticError,), element_id=element, rating=rating, assessed_on=when,
               assessed_by=who, evidence=evidence)


def _history() -> None:
    hist = _read(diagnostic.history)
    with st.expander(f"All assessments ({len(hist)})"):
        if hist.empty:
            st.caption("None yet.")
            return
        st.dataframe(
            pd.DataFrame({
                "Date": pd.to_datetime(hist.assessed_on).dt.strftime("%d %b %Y"),
                "Element": hist.element,
                "Rating": hist.rating_label,
                "By": hist.assessed_by,
                "Evidence": hist.evidence.fillna(""),
            }),
            hide_index=True, width="stretch",
        )
        ids = hist.assessment_id.astype(int).tolist()
        labels = {i: f"{pd.Timestamp(d):%d %b %Y} · {e} · {r}" for i, d, e, r in
                  zip(ids, hist.assessed_on, hist.element, hist.rating_label, strict=True)}
        gone = st.selectbox("Remove an assessment recorded in error", [None, *ids],
                            format_func=lambda i: "—" if i is None else labels[i], key="fw_del_pick")
        if gone is not None and st.button("Remove", key="fw_del"):
            _write(diagnostic.delete_assessment, "Assessment removed.", (diagnostic.DiagnosticError,),
                   assessment_id=gone)


# ---------------------------------------------------------------------------------------------
# Improvement plan
# ---------------------------------------------------------------------------------------------
def _gap_picker(prefix: str, current: pd.Series | None, units: pd.DataFrame) -> dict:
    cat = catalogue.get()
    kinds = list(improvement.GAP_KINDS)
    kind = st.radio("It addresses", kinds, format_func=improvement.GAP_KINDS.get, horizontal=True,
                    index=kinds.index(current.gap_kind) if current is not None else 0,
                    key=f"{prefix}_kind")
    if kind == "domain":
        ids = [d.id for d in cat.domains]
        now = current.gap_id if current is not None and current.gap_id in ids else ids[0]
        return {"gap_kind": kind, "gap_id": st.selectbox(
            "Domain", ids, index=ids.index(now), format_func=lambda d: cat.domain(d).name,
            key=f"{prefix}_domain")}
    if kind == "indicator":
        ids = list(cat.indicators)
        now = current.gap_id if current is not None and current.gap_id in ids else ids[0]
        return {"gap_kind": kind, "gap_id": st.selectbox(
            "Indicator", ids, index=ids.index(now), format_func=lambda i: cat.indicators[i].label,
            key=f"{prefix}_indicator")}
    names = dict(zip(units.unit_id.astype(int), units.team, strict=True))
    if not names:
        st.caption("No teams in the data yet.")
        return {"gap_kind": kind, "unit_id": None}
    ids = list(names)
    now = int(current.unit_id) if current is not None and not pd.isna(current.unit_id) else ids[0]
    return {"gap_kind": kind, "unit_id": st.selectbox(
        "Team", ids, index=ids.index(now) if now in ids else 0, format_func=names.get,
        key=f"{prefix}_team")}


def _plan(wave_id: int, threshold: int) -> None:
    actions = _read(improvement.list_actions, date.today())
    table = _org_table(wave_id, threshold)
    worse = table[(table.status == "worse") & table.value.notna()]
    if not worse.empty:
        st.caption("Worse than the benchmark in this wave: " + ", ".join(worse.short) + ".")
    if actions.empty:
        st.info("No actions yet. Add one below: what will be done, about which gap, by whom and when.")
    else:
        st.dataframe(
            pd.DataFrame({
                "Action": actions.title,
                "Addresses": actions.gap,
                "Owner": actions.owner,
                "Due": pd.to_datetime(actions.due_date).dt.strftime("%d %b %Y"),
                "Status": [s + (" · overdue" if o else "") for s, o in
                           zip(actions.status, actions.overdue, strict=True)],
                "Notes": actions.notes.astype(int),
                "Latest note": actions.last_note.fillna(""),
                "In the register": actions.intervention.fillna("–"),
            }),
            hide_index=True, width="stretch", key="fw_actions",
        )
    units = cache.query(interventions.unit_choices)
    ids = [0, *actions.action_id.astype(int).tolist()]
    titles = dict(zip(actions.action_id.astype(int), actions.title, strict=True))
    chosen = st.selectbox("Add or edit an action", ids, key="fw_action_pick",
                          format_func=lambda i: "New action" if i == 0 else f"Edit: {titles[i]}")
    current = None if chosen == 0 else actions[actions.action_id == chosen].iloc[0]
    prefix = f"fw_act_{chosen}"
    title = st.text_input("Action", value="" if current is None else current.title, key=f"{prefix}_title")
    gap = _gap_picker(prefix, current, units)
    c1, c2, c3 = st.columns(3)
    owner = c1.text_input("Owner", value="" if current is None else current.owner, key=f"{prefix}_owner")
    due = c2.date_input("Due", value=None if current is None else pd.Timestamp(current.due_date).date(),
                        format="DD/MM/YYYY", key=f"{prefix}_due")
    statuses = list(improvement.settings()["statuses"])
    status = c3.selectbox("Status", statuses, key=f"{prefix}_status",
                          index=0 if current is None else statuses.index(current.status))
    if st.button("Save action", type="primary", key=f"{prefix}_save"):
        fields = dict(title=title, owner=owner, due_date=due, status=status, **gap)
        if current is None:
            _write(improvement.create_action, f"Added the action “{title.strip()}”.",
                   (improvement.PlanError,), **fields)
        else:
            _write(improvement.update_action, f"Saved “{title.strip()}”.", (improvement.PlanError,),
                   action_id=int(chosen), **fields)
    if current is None:
        return
    _progress(int(chosen))
    _to_register(int(chosen), current, units)
    with st.expander("Delete this action"):
        if st.button("Delete", key=f"{prefix}_delete"):
            _write(improvement.delete_action, "Action deleted.", (improvement.PlanError,),
                   action_id=int(chosen))


def _progress(action_id: int) -> None:
    notes = _read(improvement.progress, action_id)
    with st.expander(f"Progress notes ({len(notes)})", expanded=True):
        for note in notes.itertuples():
            st.markdown(f"**{pd.Timestamp(note.noted_on):%d %b %Y}** — {plaintext.md(note.note)}")
        with st.form(f"fw_note_{action_id}", clear_on_submit=True):
            text = st.text_area("New note", key=f"fw_note_text_{action_id}")
            when = st.date_input("Dated", value=date.today(), format="DD/MM/YYYY",
                                 key=f"fw_note_date_{action_id}")
            if st.form_submit_button("Add note"):
                _write(improvement.add_progress, "Note added.", (improvement.PlanError,),
                       action_id=action_id, note=text, noted_on=when)


def _to_register(action_id: int, current: pd.Series, units: pd.DataFrame) -> None:
    if not pd.isna(current.intervention_id):
        st.caption(f"In the register as “{plaintext.md(current.intervention)}”: "
                   "evaluate it on the Interventions page.")
        return
    cat = catalogue.get()
    base = _read(improvement.intervention_defaults, action_id)
    opts = interventions.register_options()
    with st.expander("Turn into an evaluated intervention"), st.form(f"fw_iv_{action_id}"):
        domains = [d.id for d in cat.domains]
        domain = st.selectbox("Domain", domains, format_func=lambda d: cat.domain(d).name,
                              index=domains.index(base["domain"]) if base["domain"] in domains else 0,
                              key=f"fw_iv_domain_{action_id}")
        names = dict(zip(units.unit_id.astype(int), units.team, strict=True))
        targets = st.multiselect("Target teams", list(names), format_func=names.get,
                                 default=[u for u in base["unit_ids"] if u in names],
                                 key=f"fw_iv_units_{action_id}")
        evaluable = {i.id: i.label for i in cat.indicators.values() if i.source in ("survey", "absence")}
        aims = st.multiselect("Indicators it aims to move", list(evaluable), format_func=evaluable.get,
                              default=base["indicators"], key=f"fw_iv_ind_{action_id}")
        start = st.date_input("Start date", value=date.today(), format="DD/MM/YYYY",
                              key=f"fw_iv_start_{action_id}")
        c1, c2, c3 = st.columns(3)
        level = c1.selectbox("Prevention level", [None, *opts["prevention_level"]],
                             format_func=lambda k: "Not recorded" if k is None
                             else interventions.short_label("prevention_level", k),
                             key=f"fw_iv_level_{action_id}")
        driver = c2.selectbox("Who drives it", [None, *opts["driver"]],
                              format_func=lambda k: "Not recorded" if k is None else opts["driver"][k],
                              key=f"fw_iv_driver_{action_id}")
        stages = list(opts["stage"])
        stage = c3.selectbox("Stage", stages, index=stages.index("implement"),
                             format_func=lambda k: interventions.short_label("stage", k),
                             key=f"fw_iv_stage_{action_id}")
        resources = st.multiselect("Resources targeted", list(opts["resources"]),
                                   format_func=opts["resources"].get, key=f"fw_iv_res_{action_id}")
        cost = st.number_input("Cost (£, if known)", min_value=0.0, value=None, step=100.0,
                               key=f"fw_iv_cost_{action_id}")
        if st.form_submit_button("Add to the register"):
            _write(improvement.to_intervention, "Added to the intervention register.",
                   (improvement.PlanError,), figures=True, action_id=action_id, start_date=start,
                   unit_ids=targets, indicators=aims, domain=domain,
                   fields=interventions.RegisterFields(level, tuple(resources), driver, stage, cost))


# ---------------------------------------------------------------------------------------------
# Drivers
# ---------------------------------------------------------------------------------------------
def _drivers(wave_id: int, wave_label: str, threshold: int) -> None:
    cfg = drivers.settings()
    cat = catalogue.get()
    c1, c2 = st.columns(2)
    outcome = c1.selectbox("Outcome", list(cfg.outcomes), format_func=lambda i: cat.indicators[i].label,
                           key="fw_drv_outcome")
    teams = cache.query(drivers.eligible_teams, wave_id, threshold, outcome)
    names = {None: "Organisation", **dict(zip(teams.unit_id.astype(int), teams.team, strict=True))}
    unit = c2.selectbox("Group", list(names), format_func=names.get, key="fw_drv_scope")
    result = cache.query(drivers.analyse, wave_id, threshold, outcome, unit)
    st.caption(
        f"Teams get their own analysis only when the release plan shows them for every question "
        f"used and at least {cfg.min_respondents} of their respondents answered all of them "
        f"({len(teams)} team(s) in wave {wave_label})."
    )
    if result["withheld"]:
        st.info(result["withheld"])
        return
    table = result["table"]
    chart_export.chart(
        charts.drivers(table, cat.indicators[outcome].short.lower()),
        f"How strongly each condition goes with {cat.indicators[outcome].short.lower()} "
        f"({result['scope']}); the table below gives each association with its interval.",
        width="content", footer=chart_export.footer(
            f"survey wave {wave_label} · {result['scope']}", f"{result['n']:,} respondents"),
        name=f"drivers-{outcome}",
    )
    for row in table.head(3).itertuples():
        st.markdown("- " + drivers.sentence(outcome, pd.Series(row._asdict())))
    st.dataframe(
        pd.DataFrame({
            "Condition": table.label,
            "Per 1 sd better (points)": (table.coef * 100).round(1),
            "95% interval": [f"{lo * 100:+.1f} to {hi * 100:+.1f}" for lo, hi in
                             zip(table.ci_low, table.ci_high, strict=True)],
            "Reading": table.clear.map({True: "clear association", False: "no clear association"}),
        }),
        hide_index=True, width="stretch", key="fw_drv_table",
    )
    st.caption(
        f"{result['scope']}, wave {wave_label}: {result['n']:,} respondents who answered every "
        f"question used; linear regression with each condition standardised; R² = {result['r2']:.2f}; "
        f"95% intervals from {result['n_boot']:,} bootstrap resamples of respondents (seed "
        f"{result['seed']})."
    )
    st.info(drivers.CAVEAT, icon=":material/info:")


def render() -> None:
    st.title("Framework")
    threshold = shell.threshold()
    _flash()
    waves = cache.query(indicators.waves)
    if waves.empty:
        st.info("No survey data yet. Load the demo organisation or upload a survey on the Data page.")
        return
    labels = list(waves.label)
    label = st.selectbox("Survey wave", labels, index=len(labels) - 1, key="fw_wave")
    wave_id = int(waves.loc[waves.label == label, "wave_id"].iloc[0])
    # one section at a time: each reads different figures, and tabs would compute all three
    section = st.segmented_control("Show", list(SECTIONS), default="diagnostic", key="fw_section",
                                   format_func=SECTIONS.get, label_visibility="collapsed")
    if section == "plan":
        _plan(wave_id, threshold)
    elif section == "drivers":
        _drivers(wave_id, label, threshold)
    else:
        st.caption(
            "The framework's organisational diagnostic: rate each of its sixteen elements against "
            "what good looks like, and see the rating beside what staff report in that domain."
        )
        _diagnostic(wave_id, label, threshold)
