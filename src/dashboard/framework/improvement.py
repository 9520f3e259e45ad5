"""The improvement plan: actions on the gaps found, with owner, due date, status and progress notes."""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import catalogue, store
from dashboard.config import DATA_DIR
from dashboard.framework import interventions

GAP_KINDS = {"domain": "A domain", "indicator": "An indicator", "team": "A team"}
TITLE_MAX = 200
NOTE_MAX = 2000


# Actions and notes are records, not data: writing them changes no figure, so they leave the
# dataset version alone (pages read them uncached). Making an intervention does bump it: the
# register feeds the data-insights figures and the evaluations.


class PlanError(ValueError):
    """An action that cannot be saved as given (the message says why)."""


@lru_cache(maxsize=2)
def settings(data_dir: Path = DATA_DIR) -> dict:
    """[actions] of data/improvement.toml: statuses and which of them are still open."""
    with open(data_dir / "improvement.toml", "rb") as fh:
        raw = tomllib.load(fh)["actions"]
    return {"statuses": tuple(raw["statuses"]), "open": tuple(raw["open_statuses"])}


def _check(
    con: duckdb.DuckDBPyConnection,
    title: str,
    gap_kind: str,
    gap_id: str | None,
    unit_id: int | None,
    owner: str,
    due_date: date,
    status: str,
) -> tuple[str, str | None, int | None, str]:
    cat = catalogue.get()
    title = " ".join((title or "").split())
    if not title:
        raise PlanError("say what the action is")
    if len(title) > TITLE_MAX:
        raise PlanError(f"the action is longer than {TITLE_MAX} characters; put detail in a note")
    if gap_kind not in GAP_KINDS:
        raise PlanError(f"an action addresses a domain, an indicator or a team, not {gap_kind!r}")
    if gap_kind == "domain":
        if gap_id not in {d.id for d in cat.domains}:
            raise PlanError(f"unknown domain {gap_id!r}")
        unit_id = None
    elif gap_kind == "indicator":
        if gap_id not in cat.indicators:
            raise PlanError(f"unknown indicator {gap_id!r}")
        unit_id = None
    else:
        if unit_id is None:
            raise PlanError("choose the team the action addresses")
        found = con.execute("SELECT count(*) FROM units WHERE unit_id = ?", [int(unit_id)]).fetchone()[0]
        if not found:
            raise PlanError(f"unknown team (unit {unit_id})")
        unit_id, gap_id = int(unit_id), None
    owner = " ".join((owner or "").split())
    if not owner:
        raise PlanError("name the action's owner")
    if due_date is None:
        raise PlanError("give a due date")
    if status not in settings()["statuses"]:
        raise PlanError(f"unknown status {status!r}; choose from {', '.join(settings()['statuses'])}")
    return title, gap_id, unit_id, owner[:200]


def create_action(
    con: duckdb.DuckDBPyConnection,
    title: str,
    gap_kind: str,
    owner: str,
    due_date: date,
    gap_id: str | None = None,
    unit_id: int | None = None,
    status: str = "not started",
) -> int:
    """Add an action to the plan; returns its id."""
    title, gap_id, unit_id, owner = _check(con, title, gap_kind, gap_id, unit_id, owner, due_date, status)
    with store.transaction(con):
        new_id = con.execute(
            "INSERT INTO plan_actions (title, gap_kind, gap_id, unit_id, owner, due_date, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING action_id",
            [title, gap_kind, gap_id, unit_id, owner, due_date, status],
        ).fetchone()[0]
    return int(new_id)


def update_action(
    con: duckdb.DuckDBPyConnection,
    action_id: int,
    title: str,
    gap_kind: str,
    owner: str,
    due_date: date,
    status: str,
    gap_id: str | None = None,
    unit_id: int | None = None,
) -> None:
    title, gap_id, unit_id, owner = _check(con, title, gap_kind, gap_id, unit_id, owner, due_date, status)
    with store.transaction(con):
        changed = con.execute(
            "UPDATE plan_actions SET title = ?, gap_kind = ?, gap_id = ?, unit_id = ?, owner = ?, "
            "due_date = ?, status = ? WHERE action_id = ? RETURNING action_id",
            [title, gap_kind, gap_id, unit_id, owner, due_date, status, int(action_id)],
        ).fetchall()
        if not changed:
            raise PlanError(f"there is no action {action_id}")


def delete_action(con: duckdb.DuckDBPyConnection, action_id: int) -> None:
    """Remove an action and its notes (a register entry made from it stays in the register)."""
    with store.transaction(con):
        con.execute("DELETE FROM plan_progress WHERE action_id = ?", [int(action_id)])
        gone = con.execute(
            "DELETE FROM plan_actions WHERE action_id = ? RETURNING action_id", [int(action_id)]
        ).fetchall()
        if not gone:
            raise PlanError(f"there is no action {action_id}")


def add_progress(con: duckdb.DuckDBPyConnection, action_id: int, note: str, noted_on: date) -> int:
    """A dated progress note on an action (notes are kept, never overwritten)."""
    note = (note or "").strip()
    if not note:
        raise PlanError("the progress note is empty")
    if len(note) > NOTE_MAX:
        raise PlanError(f"the note is longer than {NOTE_MAX} characters")
    with store.transaction(con):
        if not con.execute("SELECT count(*) FROM plan_actions WHERE action_id = ?",
                           [int(action_id)]).fetchone()[0]:
            raise PlanError(f"there is no action {action_id}")
        new_id = con.execute(
            "INSERT INTO plan_progress (action_id, noted_on, note) VALUES (?, ?, ?) RETURNING note_id",
            [int(action_id), noted_on, note],
        ).fetchone()[0]
    return int(new_id)


def progress(con: duckdb.DuckDBPyConnection, action_id: int) -> pd.DataFrame:
    """An action's notes, newest first: [note_id, noted_on, note]."""
    return con.execute(
        "SELECT note_id, noted_on, note FROM plan_progress WHERE action_id = ? "
        "ORDER BY noted_on DESC, note_id DESC",
        [int(action_id)],
    ).df()


def list_actions(con: duckdb.DuckDBPyConnection, today: date | None = None) -> pd.DataFrame:
    """The plan, soonest due first: [action_id, title, gap_kind, gap_id, unit_id, gap (a readable
    name), owner, due_date, status, overdue, notes, last_note, intervention_id, intervention]."""
    today = today or date.today()
    frame = con.execute(
        """
        WITH notes AS (
            SELECT action_id, count(*) AS notes, arg_max(note, (noted_on, note_id)) AS last_note
            FROM plan_progress GROUP BY action_id
        )
        SELECT a.action_id, a.title, a.gap_kind, a.gap_id, a.unit_id, u.team, a.owner, a.due_date,
               a.status, coalesce(n.notes, 0) AS notes, n.last_note,
               i.intervention_id, i.name AS intervention
        FROM plan_actions AS a
        LEFT JOIN units AS u USING (unit_id)
        LEFT JOIN notes AS n USING (action_id)
        -- an intervention removed from the register (or its import undone) unlinks quietly
        LEFT JOIN interventions AS i ON i.intervention_id = a.intervention_id
        ORDER BY a.due_date, a.action_id
        """
    ).df()
    cat = catalogue.get()
    domains = {d.id: d.name for d in cat.domains}

    def gap(row) -> str:
        if row.gap_kind == "domain":
            return f"Domain: {domains.get(row.gap_id, row.gap_id)}"
        if row.gap_kind == "indicator":
            ind = cat.indicators.get(row.gap_id)
            return f"Indicator: {ind.label if ind else row.gap_id}"
        return f"Team: {row.team if isinstance(row.team, str) else 'no longer in the data'}"

    frame.insert(5, "gap", [gap(r) for r in frame.itertuples()] if len(frame) else pd.Series(dtype=str))
    frame = frame.drop(columns=["team"])
    open_ = settings()["open"]
    frame["overdue"] = frame.status.isin(open_) & (pd.to_datetime(frame.due_date).dt.date < today)
    frame["intervention_id"] = frame.intervention_id.astype("Int64")
    return frame


def intervention_defaults(con: duckdb.DuckDBPyConnection, action_id: int) -> dict:
    """What an action's register entry starts from: its gap's domain, indicator or team."""
    row = con.execute(
        "SELECT title, gap_kind, gap_id, unit_id, intervention_id FROM plan_actions WHERE action_id = ?",
        [int(action_id)],
    ).fetchone()
    if row is None:
        raise PlanError(f"there is no action {action_id}")
    title, kind, gap_id, unit_id, linked = row
    cat = catalogue.get()
    out: dict = {"name": title, "domain": None, "indicators": [], "unit_ids": [], "linked": linked}
    if kind == "domain":
        out["domain"] = gap_id
    elif kind == "indicator":
        out["domain"] = cat.indicators[gap_id].domain
        if cat.indicators[gap_id].source in ("survey", "absence"):
            out["indicators"] = [gap_id]
    else:
        out["unit_ids"] = [int(unit_id)]
    return out


def to_intervention(
    con: duckdb.DuckDBPyConnection,
    action_id: int,
    start_date: date,
    unit_ids: Sequence[int],
    indicators: Sequence[str],
    domain: str | None = None,
    name: str | None = None,
    end_date: date | None = None,
    fields: interventions.RegisterFields | None = None,
) -> int:
    """Turn an action into an evaluated intervention: one register entry, linked to the action,
    written in one transaction with the link (so neither exists without the other). Without
    register fields the entry is at the implement stage."""
    base = intervention_defaults(con, action_id)
    if base["linked"] is not None:
        raise PlanError("this action is already in the register")
    domain = domain or base["domain"]
    if domain is None:
        raise PlanError("choose the domain the intervention belongs to")
    entry = interventions.Intervention(
        name or base["name"], domain, unit_ids, start_date, indicators, end_date,
        f"From improvement plan action {int(action_id)}.",
        fields or interventions.RegisterFields(stage="implement"),
    )
    try:
        checked = entry.validated(con)
    except interventions.InterventionError as err:
        raise PlanError(str(err)) from None
    with store.transaction(con):
        new_id = interventions._insert(con, checked)
        con.execute("UPDATE plan_actions SET intervention_id = ? WHERE action_id = ?",
                    [new_id, int(action_id)])
        store.bump_version(con)
    return new_id


def summary(actions: pd.DataFrame) -> dict:
    """Counts for a report or a meeting screen: {total, by_status (in declared order), overdue,
    in_register}. actions: list_actions()."""
    statuses = settings()["statuses"]
    counts = actions.status.value_counts() if not actions.empty else pd.Series(dtype=int)
    return {
        "total": int(len(actions)),
        "by_status": {s: int(counts.get(s, 0)) for s in statuses},
        "overdue": int(actions.overdue.sum()) if not actions.empty else 0,
        "in_register": int(actions.intervention_id.notna().sum()) if not actions.empty else 0,
    }
