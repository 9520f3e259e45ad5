"""Data page: upload, kind, sheet, mapping, preview with problems, import or cancel; import log with undo."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import catalogue, store
from dashboard.config import settings
from dashboard.ingest import kinds, load, mapping, pipeline, readings, uploads
from dashboard.ingest.read import RawTable, ReadError
from dashboard.ingest.transform import HOURS_QUESTION, Prepared
from dashboard.ingest.validate import Report, render_text
from dashboard.present import plaintext
from dashboard.privacy import pseudonym
from dashboard.store import holdings
from dashboard.ui import auth, cache, links

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "ods", "parquet"]
NOT_IN_FILE = "(not in file)"
CHOOSE = "(choose)"
NO_BASE = "(no base / the one base column)"
IGNORE = "(ignore)"
DAY_FIRST = {"day/month/year (UK)": True, "month/day/year (US)": False}
# Each upload gets its own private folder here (see ingest.uploads), deleted when the import ends.
UPLOAD_DIR = Path(tempfile.gettempdir())
START_WITH_YOUR_OWN = """
**To start with your own data**
1. Tick the box below and remove the demo organisation (`python -m dashboard remove-demo` does the
   same from the command line). The store is then empty.
2. Name your organisation; the name appears in the banner on every page.
3. Upload, in this order: the **organisation structure** (team, directorate, site, optionally
   latitude and longitude for the sites map), **staff in post** (team x month headcount and FTE: the
   absence-rate and response-rate denominators), then **survey responses** and **absence
   episodes**, and **interventions** if you keep a register. Each upload shows a preview with every
   problem (row, column, value) before anything is written, and can be undone from the import log.
"""
REMOVED_LABELS = {
    "responses": "survey responses",
    "survey_aggregates": "survey results",
    "absence_episodes": "absence episodes",
    "absence_monthly": "monthly absence rows",
    "staff_in_post": "staff-in-post rows",
    "units": "teams",
}


def _state() -> dict:
    return st.session_state.setdefault("data_page", {"reads": {}, "uploader": 0})


def _held_upload(file) -> dict:
    """This upload's private copy (DuckDB's CSV reader needs a path), written once per file.

    Uploads hold raw identifiers: the copy lives in its own 0700 folder and is deleted as soon as
    the import ends, whichever way (refused, failed, imported, cancelled, or the file removed).
    """
    state = _state()
    file_id = getattr(file, "file_id", None) or f"{file.name}:{file.size}"
    held = state.get("upload")
    if held is None or held["id"] != file_id:
        _discard_held()
        data = file.getvalue()
        uploads.sweep(UPLOAD_DIR)  # folders left by a server that stopped mid-import
        held = state["upload"] = {
            "id": file_id,
            "path": uploads.save(data, file.name, UPLOAD_DIR),
            "sha": hashlib.sha256(data).hexdigest(),
            "refusal": None,
        }
    return held


def _discard_held() -> None:
    held = _state().get("upload")
    if held is not None and held["path"] is not None:
        uploads.discard(held["path"])
        held["path"] = None


def _forget_upload(path: Path | None = None) -> None:
    state = _state()
    _discard_held()
    uploads.discard(path)
    state.pop("upload", None)
    state["reads"] = {}
    state.pop("prepared", None)
    state["uploader"] += 1  # a fresh uploader key empties the widget


def _read(path: Path, name: str, sheet: str | None, header_row: int | None = None) -> RawTable | str:
    reads = _state()["reads"]
    key = (str(path), sheet, header_row)
    if key not in reads:
        try:
            with st.spinner("Reading the file…"):
                reads[key] = pipeline.read(path, name, sheet, header_row)
        except ReadError as exc:
            reads[key] = str(exc)
    return reads[key]


def _header_row(raw: RawTable, sha: str) -> int | None:
    """The row holding the column names: detected, and the user may pick another (None = detected)."""
    if len(raw.head_rows) < 2:
        return None

    def label(n: int) -> str:
        cells = [str(c) for c in raw.head_rows[n - 1] if c not in (None, "")]
        text = " | ".join(cells) or "(blank)"
        return f"Row {n}: {text[:90]}{'…' if len(text) > 90 else ''}"

    rows = list(range(1, len(raw.head_rows) + 1))
    pick = st.selectbox(
        "Row holding the column names",
        rows,
        index=raw.header_detected - 1,
        format_func=label,
        key=f"data_header_{sha[:12]}_{raw.sheet or ''}",
        help="Found automatically (title rows above it are skipped). Pick another row if it is wrong.",
    )
    return None if pick == raw.header_detected else pick


def _show_refusal(kind: str, name: str, message: str) -> None:
    st.error(message)
    report = pipeline.refused(kind, name, message).report
    with st.expander("Report as text (the same as the command line prints)"):
        st.code(render_text(report), language=None)


def _field_pickers(kind: str, raw: RawTable, base: mapping.Mapping, tag: str) -> dict[str, str]:
    st.markdown("**Which column holds what?** Starred fields are required. Check the proposal.")
    options = [NOT_IN_FILE, *raw.columns]
    chosen: dict[str, str] = {}
    cols = st.columns(3)
    for i, f in enumerate(kinds.fields(kind)):
        current = base.fields.get(f.name)
        pick = cols[i % 3].selectbox(
            f"{f.label}{' *' if f.required else ''}",
            options,
            index=options.index(current) if current in options else 0,
            key=f"data_map_{tag}_{f.name}",
        )
        if pick != NOT_IN_FILE:
            chosen[f.name] = pick
    return chosen


def _item_editor(
    kind: str, raw: RawTable, base: mapping.Mapping, taken: set[str], tag: str
) -> dict[str, str]:
    cat = catalogue.get()
    if kind == "survey":
        choices = {i.id: f"{i.id}: {i.label}" for i in cat.items.values()}
        title = "**Questions**: which survey question each remaining column answers"
    else:
        choices = {i.id: f"{i.id}: {i.label}" for i in cat.survey_indicators()}
        title = "**Indicators**: columns holding a result for an indicator (one column per indicator)"
    st.markdown(title)
    # Every column is a row, whatever the pickers above say: the editor keeps its edits by row,
    # so a table that shrank when a field was picked would shift (and lose) mappings made here.
    table = pd.DataFrame(
        {"column": raw.columns, "maps to": [choices.get(base.items.get(c, ""), IGNORE) for c in raw.columns]}
    )
    st.caption("A column chosen for a field above is read as that field; its row here is not used.")
    edited = st.data_editor(
        table,
        key=f"data_items_{tag}",
        hide_index=True,
        width="stretch",
        disabled=["column"],
        column_config={
            "maps to": st.column_config.SelectboxColumn("maps to", options=[IGNORE, *choices.values()])
        },
    )
    back = {v: k for k, v in choices.items()}
    return {
        r["column"]: back[r["maps to"]]
        for _, r in edited.iterrows()
        if r["maps to"] in back and r["column"] not in taken
    }


def _custom_form(column: str, default: dict | None, key: str) -> dict | None:
    """Name, domain, favourable direction and rule of a custom indicator; None until confirmed."""
    cat = catalogue.get()
    default = default or {
        "name": column[:40], "domain": "personal_health", "favourable": "low", "op": ">=", "value": 1.0
    }
    domains = {d.id: d.name for d in cat.domains}
    c1, c2 = st.columns(2)
    name = c1.text_input("Indicator name", value=default["name"], key=f"{key}_name")
    domain = c2.selectbox(
        "Domain", list(domains), index=list(domains).index(default["domain"]), format_func=domains.get,
        key=f"{key}_domain",
    )
    c3, c4, c5 = st.columns(3)
    op = c3.selectbox(
        "A respondent counts when the value is", [">=", "<="],
        format_func={">=": "this or more", "<=": "this or less"}.get,
        index=0 if default["op"] == ">=" else 1, key=f"{key}_op",
    )
    value = c4.number_input("Value", value=float(default["value"]), key=f"{key}_value")
    favourable = c5.radio(
        "Favourable when the share is", ["low", "high"], index=0 if default["favourable"] == "low" else 1,
        horizontal=True, key=f"{key}_fav",
    )
    ok = st.checkbox(
        f"Use this custom indicator for '{column}' ({catalogue.rule_text(op, value)} counts)", key=f"{key}_ok"
    )
    if not ok:
        return None
    return {"name": name.strip(), "domain": domain, "favourable": favourable, "op": op, "value": value}


def _reading_questions(raw: RawTable, chosen: mapping.Mapping, first: Report, tag: str) -> None:
    """Each answer column whose values are not its question's answers: recode it or make it custom."""
    questions = [r for r in first.readings if r.status == "question"]
    if questions:
        st.markdown(
            "**How should these columns be read?** Nothing imports until each has a confirmed reading."
        )
    for r in questions:
        idx = raw.columns.index(r.column)
        key = f"data_read_{tag}_{idx}"
        with st.container(border=True):
            st.markdown(f"**{r.column}** → {r.target} ({r.target_label}): holds {r.why}.")
            st.dataframe(r.values[["value", "count"]], hide_index=True)
            custom_ok = r.suggest_custom is not None or len(r.values) > 15
            options = ["recode", "custom"] if custom_ok else ["recode"]
            how = st.radio(
                "Read it as",
                options,
                format_func={
                    "recode": "this question's answers (a recode)", "custom": "a custom indicator"
                }.get,
                index=0 if len(r.values) <= 15 and any(r.proposed.values()) else None,
                horizontal=True,
                key=f"{key}_how",
            )
            if how == "custom":
                definition = _custom_form(r.column, r.suggest_custom, f"{key}_custom")
                if definition:
                    chosen.custom[r.column] = definition
                    chosen.items.pop(r.column, None)
                continue
            if how != "recode":
                continue
            if len(r.values) > 15:
                st.caption("Too many distinct values to recode one by one: read it as a custom indicator.")
                continue
            values = list(r.values["value"])
            table = _pick_grid(values, [CHOOSE, *r.labels, mapping.MISSING_READING], r.proposed,
                               [f"'{v}' reads as" for v in values],
                               [f"{key}_v{j}" for j in range(len(values))], 6)
            complete = len(table) == len(r.values)
            ok = st.checkbox(
                f"Confirm this reading of '{r.column}'", key=f"{key}_ok", disabled=not complete,
                help=None if complete else "Give every value a reading first.",
            )
            if ok and complete:
                chosen.recodes[r.column] = table


def _custom_columns(raw: RawTable, chosen: mapping.Mapping, tag: str) -> None:
    """Columns not mapped to a question, read as custom indicators (e.g. a 0-10 fatigue score)."""
    free = [c for c in raw.columns if c not in chosen.used_columns()]
    picked = st.multiselect(
        "Read other columns as custom indicators (for example a 0-10 fatigue score)",
        free,
        key=f"data_custom_cols_{tag}",
    )
    for column in picked:
        idx = raw.columns.index(column)
        distinct = readings.distinct_values(raw.frame[column])["value"].tolist()
        with st.container(border=True):
            st.markdown(f"**{column}**: custom indicator")
            suggestion = readings.suggest_custom(column, distinct)
            definition = _custom_form(column, suggestion, f"data_custom_{tag}_{idx}")
            if definition:
                chosen.custom[column] = definition


def _base_pairs(raw: RawTable, base: mapping.Mapping, chosen: mapping.Mapping, tag: str) -> dict[str, str]:
    """Each result column's own base column: proposed by name, editable, never one n for all."""
    results = [c for c in raw.columns if c in chosen.items]
    if not results:
        return {}
    st.markdown("**Bases**: the number of responses behind each result (its own column, by name)")
    return _pick_grid(results, [NO_BASE, *[c for c in raw.columns if c not in results]], base.bases,
                      [f"Base of '{c}'" for c in results],
                      [f"data_base_{tag}_{raw.columns.index(c)}" for c in results], 3)


def _pick_grid(items: list[str], choices: list[str], proposed: dict, labels: list[str], keys: list[str],
               per_row: int) -> dict[str, str]:
    """One selectbox per item, up to per_row a row, each opening on its proposed choice (else on
    choices[0], the "not chosen" entry); returns item -> choice for those given one."""
    picked: dict[str, str] = {}
    cols = st.columns(min(len(items), per_row))
    for j, (item, label, key) in enumerate(zip(items, labels, keys, strict=True)):
        guess = proposed.get(item)
        pick = cols[j % len(cols)].selectbox(label, choices, key=key,
                                             index=choices.index(guess) if guess in choices else 0)
        if pick != choices[0]:
            picked[item] = pick
    return picked


def _answers(kind: str, chosen: mapping.Mapping, first: Report, tag: str) -> None:
    """Questions the file could not answer itself: asked, never guessed."""
    questions = " ".join(first.questions)
    if "day/month/year" in questions:
        pick = st.radio(
            "The dates in this file could be read two ways. Which order does it use?",
            list(DAY_FIRST),
            index=None,
            key=f"data_day_first_{tag}",
            horizontal=True,
        )
        chosen.day_first = DAY_FIRST.get(pick) if pick else None
    if any(q.startswith(HOURS_QUESTION) for q in first.questions) or chosen.hours_per_day:
        hours = st.number_input(
            "Hours in one FTE day (durations in this file are in hours)",
            min_value=0.5,
            max_value=24.0,
            value=None,
            step=0.25,
            key=f"data_hours_{tag}",
        )
        chosen.hours_per_day = float(hours) if hours else chosen.hours_per_day
    if kind in ("survey", "survey_aggregate") and "wave" not in chosen.fields:
        chosen.wave = st.text_input("Survey wave name", key=f"data_wave_{tag}").strip() or None
    several = len(first.waves_without_date) > 1
    if several:
        st.markdown("**Fieldwork date of each wave** (the middle of fieldwork; it orders the waves "
                    "and decides before/after an intervention)")
        cols = st.columns(min(len(first.waves_without_date), 4))
        for j, label in enumerate(first.waves_without_date):
            on = cols[j % len(cols)].date_input(
                f"Wave '{label}'", value=None, key=f"data_wave_date_{tag}_{j}", format="YYYY-MM-DD"
            )
            if on:
                chosen.wave_dates[label] = on.isoformat()
    elif first.waves_without_date or (
        kind in ("survey", "survey_aggregate") and "fielded_on" not in chosen.fields
    ):
        on = st.date_input(
            "Middle date of fieldwork", value=None, key=f"data_fielded_{tag}", format="YYYY-MM-DD"
        )
        chosen.fielded_on = on.isoformat() if on else None
    if first.year_columns and "value" not in chosen.fields and "wave" not in chosen.fields:
        # Shown while the answer stands (it was applied before `first` was checked), so the
        # questions that follow from it (bases, wave dates) are asked in the same round.
        chosen.unpivot = list(first.year_columns) if st.checkbox(
            f"One row per measure, one column per year ({', '.join(first.year_columns)}): "
            "read each year column as a survey wave",
            key=f"data_unpivot_{tag}",
        ) else []
    if first.no_base:
        st.info(
            "This file gives no base (number of responses). Without one the anonymity threshold cannot "
            "be checked and no interval can be drawn, so no team figure can come from it, and no n is "
            "taken from another column."
        )
        chosen.published = st.checkbox(
            "Import as published organisation-level figures (n not given: no intervals, not used for "
            "team comparisons)",
            key=f"data_published_{tag}",
        )
    if kind == "survey" and any(n.startswith("Unknown answers") for n in first.notes):
        text = st.text_area(
            "Unknown answers: give each a value, one per line as `label = value` "
            "(otherwise they are not imported)",
            key=f"data_labels_{tag}",
        )
        for line in text.splitlines():
            label, _, value = line.partition("=")
            if label.strip() and value.strip().lstrip("-").isdigit():
                chosen.labels[label.strip()] = int(value.strip())


def _validated(con, raw: RawTable, chosen: mapping.Mapping, notes: list[str]) -> Prepared:
    state = _state()
    key = (raw.sha256, raw.sheet, chosen.to_json(), chosen.profile)
    cached = state.get("prepared")
    if cached is None or cached[0] != key:
        with st.spinner(f"Checking {len(raw.frame):,} rows…"):
            state["prepared"] = (key, pipeline.validate(con, raw, chosen, notes=notes))
    return state["prepared"][1]


def _report(report: Report) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows read", f"{report.rows_read:,}")
    c2.metric("Rows ready to import", f"{report.rows_ready:,}")
    c3.metric("Problems listed", f"{len(report.problems):,}")
    for e in report.errors:
        st.error(plaintext.md(e))  # messages quote the file's own headers and values
    for q in report.questions:
        st.warning(plaintext.md(q))
    if report.can_show or report.cannot_show:
        st.markdown(
            "**What this data can show**\n\n" + "\n".join(f"- {what}" for what in report.can_show)
        )
        for what in report.cannot_show:
            st.info(f"Cannot show yet: {what}", icon=":material/info:")
    if report.counts:
        st.dataframe(
            pd.DataFrame({"what": list(report.counts), "count": list(report.counts.values())}),
            hide_index=True,
        )
    shown = [r for r in report.readings if r.status != "question"]
    if shown:
        st.markdown("**How each answer column reads**, and the distribution it gives")
        for r in shown:
            with st.expander(r.describe(), expanded=r.status in ("recoded", "custom")):
                c1, c2 = st.columns(2)
                c1.dataframe(r.values, hide_index=True)
                c2.dataframe(r.distribution, hide_index=True)
    if len(report.pairing):
        st.markdown("**Results and their bases**")
        st.dataframe(report.pairing, hide_index=True)
    if report.wave_dates:
        st.dataframe(
            pd.DataFrame({"wave": list(report.wave_dates), "fieldwork": list(report.wave_dates.values())}),
            hide_index=True,
        )
    if report.mapping_lines:
        with st.expander("Final mapping (column → field)"):
            st.code("\n".join(report.mapping_lines), language=None)
    for n in report.notes:
        st.caption(plaintext.md(n))
    if report.ignored_columns:
        st.caption(plaintext.md(f"Columns ignored: {', '.join(report.ignored_columns)}"))
    if len(report.merged_teams):
        st.markdown("**Team names merged** (case and spacing do not make a different team)")
        st.dataframe(report.merged_teams, hide_index=True)
    if len(report.reasons):
        st.markdown("**Absence reasons** as they will be recorded")
        st.dataframe(report.reasons, hide_index=True)
    if len(report.sample):
        st.markdown("**Sample of mapped rows** (identifiers already pseudonymised)")
        st.dataframe(report.sample, hide_index=True)
    if len(report.problems):
        st.markdown("**Problems** (row in the file, column, value, reason)")
        st.dataframe(report.problems, hide_index=True, width="stretch")
        auth.download_csv(
            "Download all problems (CSV)",
            report.problems,
            file_name=f"{Path(report.file_name).stem}_problems.csv",
            key="data_problems_csv",
            what="problems report",
        )
    with st.expander("Report as text (the same as the command line prints)"):
        st.code(render_text(report), language=None)


def _why_disabled(report: Report) -> str | None:
    """The reason Import cannot run yet, in words; None when it can."""
    if report.nothing_new:
        return "nothing new: every row is already in the store."
    if report.errors:
        return f"{len(report.errors)} error(s) above must be resolved first."
    if report.questions:
        return f"{len(report.questions)} question(s) above need an answer first."
    if report.rows_ready == 0:
        return "0 rows are ready to import."
    return None


def _commit(con, prepared: Prepared, raw: RawTable, path: Path) -> None:
    report = prepared.report
    c1, c2 = st.columns(2)
    profile = c1.text_input("Save this mapping as a profile (optional)", key="data_profile_name").strip()
    user = auth.require("import").name  # the import log names the signed-in user, not a typed name
    c2.caption(f"The import log will name you: {plaintext.md(user)}")
    go, cancel = st.columns([1, 5])
    if cancel.button("Cancel", key="data_cancel"):
        _forget_upload(path)
        st.rerun()
    why = _why_disabled(report)
    if not go.button("Import", type="primary", disabled=why is not None, key="data_commit", help=why):
        if why:
            st.info(f"Import is disabled: {why}")
        return
    if profile:
        mapping.save_profile(con, profile, raw.columns, prepared.mapping)
        prepared.mapping.profile = profile
    auth.require("import")
    bar = st.progress(0.0, text="Importing…")
    try:
        import_id = pipeline.commit(
            con, prepared, user=user, progress=lambda f, m: bar.progress(f, text=f"Importing: {m}")
        )
    except load.NothingNew as exc:
        st.info(f"Nothing new: {exc}. Nothing was written and the import log is unchanged.")
        return
    except Exception as exc:  # the transaction rolled back; say so plainly
        st.error(f"The import failed and was rolled back; the data is unchanged. ({exc})")
        return
    auth.record("import", f"import #{import_id}: {prepared.kind}, {report.rows_ready} rows, "
                          f"file sha256 {report.sha256[:12]}")
    cache.clear()
    _state()["done"] = render_text(report)
    _forget_upload(path)
    st.rerun()


def _upload(con) -> None:
    state = _state()
    if state.get("done"):
        st.success(state["done"].splitlines()[-1].capitalize())
        with st.expander("Import report"):
            st.code(state.pop("done"), language=None)
    kind = st.selectbox(
        "What is in the file?", list(kinds.KIND_LABELS), format_func=kinds.KIND_LABELS.get, key="data_kind"
    )
    file = st.file_uploader(
        "Upload a file",
        type=UPLOAD_TYPES,
        key=f"data_file_{state['uploader']}",
        help=f"CSV/TSV/TXT, Excel, OpenDocument or Parquet, up to {settings().max_upload_mb} MB.",
    )
    if file is None:
        _discard_held()  # the file was removed from the uploader: its copy goes too
        st.caption("Nothing is written until you have checked the preview and pressed Import.")
        return
    held = _held_upload(file)
    try:
        _preview(con, kind, file, held)
    except Exception:
        _forget_upload()  # an unexpected failure ends the import: its bytes go with it
        raise


def _preview(con, kind: str, file, held: dict) -> None:
    path, sha = held["path"], held["sha"]
    if held["refusal"] is not None:
        _refused_upload(kind, file.name, held["refusal"])
        return
    raw = _read(path, file.name, None)
    if isinstance(raw, str):
        # Refused as read: the import has ended, so the bytes are deleted at once.
        held["refusal"] = raw
        _discard_held()
        _refused_upload(kind, file.name, raw)
        return
    if len(raw.sheets) > 1:
        sheet = st.selectbox(
            "Sheet", raw.sheets, index=raw.sheets.index(raw.sheet), key=f"data_sheet_{sha[:12]}"
        )
        raw = _read(path, file.name, sheet)
    if isinstance(raw, RawTable):
        header_row = _header_row(raw, sha)
        if header_row is not None:
            raw = _read(path, file.name, raw.sheet, header_row)
    if isinstance(raw, str):  # a sheet or header row the user chose: they can choose again
        _show_refusal(kind, file.name, raw)
        if st.button("Cancel", key="data_cancel_refused"):
            _forget_upload(path)
            st.rerun()
        return
    st.caption(f"Read as {pipeline.describe_source(raw)}.")
    tag = f"{kind}_{sha[:12]}_{raw.sheet or ''}_{raw.header_row}"
    profiles = mapping.list_profiles(con)
    names = profiles.loc[profiles["kind"] == kind, "name"].tolist()
    picked = st.selectbox("Mapping profile", ["(automatic)", *names], key=f"data_profile_{tag}")
    try:
        base, notes = pipeline.resolve_mapping(con, kind, raw, None if picked == "(automatic)" else picked)
    except ReadError as exc:
        st.error(str(exc))
        return
    tag = f"{tag}_{base.profile or ''}"
    chosen = mapping.Mapping(
        kind=kind,
        profile=base.profile,
        labels=dict(base.labels),
        day_first=base.day_first,
        hours_per_day=base.hours_per_day,
    )
    chosen.fields = _field_pickers(kind, raw, base, tag)
    chosen.wave_dates = dict(base.wave_dates)
    chosen.recodes = dict(base.recodes)
    chosen.custom = dict(base.custom)
    chosen.published = base.published
    chosen.unpivot = list(base.unpivot)
    if kind in ("survey", "survey_aggregate"):
        chosen.items = _item_editor(kind, raw, base, set(chosen.fields.values()), tag)
    if kind == "survey_aggregate":
        chosen.bases = _base_pairs(raw, base, chosen, tag)
        if st.session_state.get(f"data_unpivot_{tag}"):
            chosen.unpivot = mapping.year_columns(raw.columns)
    first = _validated(con, raw, chosen, notes).report
    if kind == "survey":
        _reading_questions(raw, chosen, first, tag)
        _custom_columns(raw, chosen, tag)
    if (
        first.questions
        or any(n.startswith("Unknown answers") for n in first.notes)
        or kind.startswith("survey")
    ):
        _answers(kind, chosen, first, tag)
    prepared = _validated(con, raw, chosen, notes)
    st.subheader("Preview")
    _report(prepared.report)
    _commit(con, prepared, raw, path)


def _refused_upload(kind: str, name: str, message: str) -> None:
    _show_refusal(kind, name, message)
    st.caption("The uploaded file has already been deleted from the server.")
    if st.button("Upload another file", key="data_cancel_refused"):
        _forget_upload()
        st.rerun()


def _log(con) -> None:
    if _state().get("undone"):
        st.success(_state().pop("undone"))
    log = load.import_log(con)
    if log.empty:
        st.caption("No imports yet.")
        return
    shown = log.assign(sha256=log["sha256"].str.slice(0, 12))
    st.dataframe(shown, hide_index=True, width="stretch")
    active = log[log["status"] == "active"]
    if active.empty:
        return
    labels = {
        int(
            r.import_id
        ): f"#{r.import_id} {r.kind}: {r.file_name} ({r.rows} rows, {r.imported_at:%d %b %Y %H:%M})"
        for r in active.itertuples()
    }
    pick = st.selectbox("Undo an import", list(labels), format_func=labels.get, key="data_undo_pick")
    sure = st.checkbox("I understand this removes every row this import added", key="data_undo_sure")
    if st.button("Undo import", disabled=not sure, key="data_undo"):
        auth.require("undo")
        removed = load.undo(con, pick)
        auth.record("undo", f"import #{pick}: " + ", ".join(f"{n} {t}" for t, n in removed.items() if n))
        cache.clear()
        parts = [f"{n} {REMOVED_LABELS.get(t, t)}" for t, n in removed.items() if n]
        _state()["undone"] = f"Import #{pick} undone: {', '.join(parts) or 'nothing'} removed."
        st.rerun()


def _dataset(con) -> bool:
    """Demo notice with a way out, or the organisation's name for the banner. True if importable."""
    info = store.dataset_info(con)
    if info["is_demo"]:
        st.info(
            "The store holds the **demo organisation**, which is fictional. Remove it before you "
            "import your own data, so that real and fictional staff never mix."
        )
        st.markdown(START_WITH_YOUR_OWN)
        sure = st.checkbox("I understand this empties the store", key="data_remove_demo_ok")
        if st.button("Remove the demo organisation", disabled=not sure, key="data_remove_demo"):
            auth.require("remove demo")
            store.remove_demo(con)
            auth.record("remove demo", "removed the demo organisation")
            cache.clear()
            st.rerun()
        return False
    unnamed = info["name"] == "No data loaded" or info["name"].startswith("Unnamed organisation")
    with st.form("data_name"):
        name = st.text_input(
            "Organisation name (shown in the banner on every page)",
            value="" if unnamed else info["name"],
            max_chars=120,
        )
        if st.form_submit_button("Save name") and name.strip():
            auth.require("settings")
            store.set_dataset_name(con, name)
            auth.record("settings", "renamed the dataset")
            cache.clear()
            st.rerun()
    return True


def _holdings(con) -> None:
    """What the store holds, whatever its state (demo, empty or your own data)."""
    table = holdings.summary(con)
    st.dataframe(
        pd.DataFrame({
            "What": table["what"],
            "Count": table["count"],
            "From": pd.to_datetime(table["first"]).dt.strftime("%d %b %Y").fillna("–"),
            "To": pd.to_datetime(table["last"]).dt.strftime("%d %b %Y").fillna("–"),
        }),
        hide_index=True, width="stretch",
    )
    waves = holdings.waves(con)
    if not waves.empty:
        st.markdown("**Survey waves** (organisation-wide responses)")
        st.dataframe(waves.rename(columns={"wave": "Wave", "fielded_on": "Fieldwork (middle date)",
                                           "responses": "Responses"}),
                     hide_index=True, width="stretch")


def render() -> None:
    st.title("Data")
    auth.require("import")
    con = cache.cursor()
    try:
        pseudonym.check_key(con)
    except pseudonym.KeyProblem as exc:
        st.error(plaintext.md(str(exc)))
        con.close()
        return
    try:
        importable = _dataset(con)
        # the log and the holdings are always there; the upload only once real data may go in
        names = ["Upload", "Import log", "What the store holds"] if importable else \
            ["Import log", "What the store holds"]
        tabs = dict(zip(names, links.tabs(names), strict=True))
        if importable:
            with tabs["Upload"]:
                _upload(con)
        with tabs["Import log"]:
            _log(con)
        with tabs["What the store holds"]:
            _holdings(con)
    finally:
        con.close()
