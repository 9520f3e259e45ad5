"""Data page: upload, kind, sheet, mapping, preview with problems, import or cancel; import log with undo."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import catalogue, holdings, store
from dashboard.config import settings
from dashboard.ingest import kinds, load, mapping, pipeline, uploads
from dashboard.ingest.read import RawTable, ReadError
from dashboard.ingest.transform import HOURS_QUESTION, Prepared
from dashboard.ingest.validate import Report, render_text
from dashboard.ui import cache, links

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "ods", "parquet"]
NOT_IN_FILE = "(not in file)"
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
    rest = [c for c in raw.columns if c not in taken]
    if not rest:
        return {}
    st.markdown(title)
    table = pd.DataFrame(
        {"column": rest, "maps to": [choices.get(base.items.get(c, ""), IGNORE) for c in rest]}
    )
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
    return {r["column"]: back[r["maps to"]] for _, r in edited.iterrows() if r["maps to"] in back}


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
    if "in the field" in questions or (
        kind in ("survey", "survey_aggregate") and "fielded_on" not in chosen.fields
    ):
        on = st.date_input(
            "Middle date of fieldwork", value=None, key=f"data_fielded_{tag}", format="YYYY-MM-DD"
        )
        chosen.fielded_on = on.isoformat() if on else None
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
        st.error(e)
    for q in report.questions:
        st.warning(q)
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
    for n in report.notes:
        st.caption(n)
    if report.ignored_columns:
        st.caption(f"Columns ignored: {', '.join(report.ignored_columns)}")
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
        st.download_button(
            "Download all problems (CSV)",
            report.problems_csv(),
            file_name=f"{Path(report.file_name).stem}_problems.csv",
            mime="text/csv",
            key="data_problems_csv",
        )
    with st.expander("Report as text (the same as the command line prints)"):
        st.code(render_text(report), language=None)


def _commit(con, prepared: Prepared, raw: RawTable, path: Path) -> None:
    report = prepared.report
    c1, c2 = st.columns(2)
    profile = c1.text_input("Save this mapping as a profile (optional)", key="data_profile_name").strip()
    user = c2.text_input("Your name, for the import log", key="data_user").strip() or "data page"
    go, cancel = st.columns([1, 5])
    if cancel.button("Cancel", key="data_cancel"):
        _forget_upload(path)
        st.rerun()
    if not go.button("Import", type="primary", disabled=not report.ok, key="data_commit"):
        if not report.ok:
            st.info("Nothing can be imported until the errors and questions above are resolved.")
        return
    if profile:
        mapping.save_profile(con, profile, raw.columns, prepared.mapping)
        prepared.mapping.profile = profile
    bar = st.progress(0.0, text="Importing…")
    try:
        pipeline.commit(
            con, prepared, user=user, progress=lambda f, m: bar.progress(f, text=f"Importing: {m}")
        )
    except Exception as exc:  # the transaction rolled back; say so plainly
        st.error(f"The import failed and was rolled back; the data is unchanged. ({exc})")
        return
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
    if kind in ("survey", "survey_aggregate"):
        chosen.items = _item_editor(kind, raw, base, set(chosen.fields.values()), tag)
    first = _validated(con, raw, chosen, notes).report
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
        removed = load.undo(con, pick)
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
            store.remove_demo(con)
            cache.clear()
            st.rerun()
        return False
    with st.form("data_name"):
        name = st.text_input(
            "Organisation name (shown in the banner on every page)",
            value="" if info["name"] == "No data loaded" else info["name"],
            max_chars=120,
        )
        if st.form_submit_button("Save name") and name.strip():
            store.set_dataset_name(con, name)
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
    con = cache.cursor()
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
