"""The intervention register: create, edit, delete, list with status, and overlaps on shared units."""
from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import catalogue, store
from dashboard.config import DATA_DIR
from dashboard.store import derived, query

STATUSES = ("planned", "running", "evaluated")
# An open-ended intervention is treated as running until this day when comparing periods.
_OPEN_END = date(9999, 12, 31)


class InterventionError(ValueError):
    """An intervention that cannot be saved as given (the message says why, in plain words)."""


# Fields evaluation reviews ask of every intervention (data/improvement.toml [register]); all
# optional, so interventions registered before they existed stay valid.
CHOICE_FIELDS = ("prevention_level", "driver", "stage")
REGISTER_FIELDS = ("prevention_level", "resources", "driver", "stage", "cost")
FIELD_LABELS = {
    "prevention_level": "Prevention level",
    "resources": "Resources targeted",
    "driver": "Who drives it",
    "stage": "Stage",
    "cost": "Cost (£, if known)",
}


@lru_cache(maxsize=2)
def register_options(data_dir: Path = DATA_DIR) -> dict[str, dict[str, str]]:
    """field -> {key: label} for prevention_level, resources, driver and stage."""
    with open(data_dir / "improvement.toml", "rb") as fh:
        raw = tomllib.load(fh)["register"]
    return {name: dict(raw[name]) for name in ("prevention_level", "resources", "driver", "stage")}


def short_label(field: str, key: str | None) -> str:
    """'Primary' for 'primary': the label up to its colon (the whole label when it has none)."""
    if key is None or (not isinstance(key, str) and pd.isna(key)):
        return ""
    label = register_options()[field].get(key, key)
    return label.split(":")[0].strip()


def parse_option(field: str, text: str | None) -> str | None:
    """A key of `field` from its key, its label or the label's first words (any case), else None."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return None
    wanted = " ".join(str(text).split()).casefold()
    for key, label in register_options()[field].items():
        if wanted in (key.casefold(), label.casefold(), label.split(":")[0].strip().casefold(),
                      key.replace("_", " ").casefold()):
            return key
    return None


@dataclass(frozen=True)
class RegisterFields:
    """What evaluation reviews ask of an intervention beyond its name, teams and dates: prevention
    level, resources targeted, who drives it, stage and cost (keys of data/improvement.toml).

    One record for the register page, the improvement plan, the CSV import and the board report;
    every field is optional (None / empty: not recorded)."""

    prevention_level: str | None = None
    resources: tuple[str, ...] = ()
    driver: str | None = None
    stage: str | None = None
    cost: float | None = None

    @classmethod
    def from_row(cls, row: dict | pd.Series | object) -> RegisterFields:
        """The fields of a register row, a dict or a prepared import row (NaN/NA: not recorded);
        not checked (validated() does that)."""
        get = row.get if hasattr(row, "get") else (lambda name: getattr(row, name, None))

        def one(name: str):
            value = get(name)
            return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value

        return cls(one("prevention_level"), tuple(_as_list(get("resources"))), one("driver"),
                   one("stage"), one("cost"))

    def validated(self) -> RegisterFields:
        """The same fields checked against data/improvement.toml (resources in its order, cost a
        number >= 0); InterventionError names the field and the choices."""
        opts = register_options()
        choice = {}
        for name in CHOICE_FIELDS:
            value = getattr(self, name)
            value = None if value in (None, "") else value
            if value is not None and value not in opts[name]:
                raise InterventionError(
                    f"unknown {FIELD_LABELS[name].lower()} {value!r}; choose one of "
                    f"{', '.join(short_label(name, k) for k in opts[name])}"
                )
            choice[name] = value
        if isinstance(self.resources, str):
            raise InterventionError("resources targeted is a list of choices, not one text")
        resources = list(dict.fromkeys(self.resources or ()))
        bad = [r for r in resources if r not in opts["resources"]]
        if bad:
            raise InterventionError(
                f"unknown resource(s) {', '.join(map(repr, bad))}; choose from "
                f"{', '.join(short_label('resources', k) for k in opts['resources'])}"
            )
        cost = self.cost
        if cost is not None and not (isinstance(cost, float) and math.isnan(cost)):
            try:
                cost = float(cost)
            except (TypeError, ValueError):
                raise InterventionError(f"the cost {cost!r} is not a number") from None
            if cost < 0 or math.isinf(cost):
                raise InterventionError(f"the cost {cost:g} must be zero or more")
        else:
            cost = None
        # stored in the order of data/improvement.toml, whatever order they were picked in
        ordered = tuple(r for r in opts["resources"] if r in resources)
        return RegisterFields(choice["prevention_level"], ordered, choice["driver"], choice["stage"], cost)

    def values(self) -> list:
        """prevention_level, resources, driver, stage, cost in the store's column order."""
        return [self.prevention_level, list(self.resources) or None, self.driver, self.stage,
                None if self.cost is None else float(self.cost)]

    def describe(self) -> str:
        """One line for a report or a slide, e.g. 'Primary prevention · resources: Relational,
        Tangible or organisational · driven by: Line managers · stage: Implement · cost £12,500';
        parts not recorded are left out."""
        parts = []
        level = short_label("prevention_level", self.prevention_level)
        if level:
            parts.append(f"{level} prevention")
        resources = [short_label("resources", r) for r in self.resources]
        if resources:
            parts.append("resources: " + ", ".join(resources))
        if self.driver is not None:
            parts.append("driven by: " + register_options()["driver"].get(self.driver, self.driver))
        stage = short_label("stage", self.stage)
        if stage:
            parts.append(f"stage: {stage}")
        if self.cost is not None:
            parts.append(f"cost £{float(self.cost):,.0f}")
        return " · ".join(parts)


def describe_fields(row: dict | pd.Series) -> str:
    """The register fields of one register row as one line (RegisterFields.describe)."""
    return RegisterFields.from_row(row).describe()


def _as_list(value) -> list:
    """A list column's cell as a list (None or NaN when not recorded -> [])."""
    if value is None or isinstance(value, (float, str)) or value is pd.NA:
        return []
    return list(value)


def filter_register(
    register: pd.DataFrame,
    prevention_level: Sequence[str] = (),
    resources: Sequence[str] = (),
    driver: Sequence[str] = (),
    stage: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows matching every non-empty filter: a field's value is one of those chosen (resources:
    at least one in common). An empty filter keeps everything."""
    keep = pd.Series(True, index=register.index)
    for name, chosen in (("prevention_level", prevention_level), ("driver", driver), ("stage", stage)):
        if chosen:
            keep &= register[name].isin(list(chosen))
    if resources:
        wanted = set(resources)
        keep &= register["resources"].map(lambda rs: bool(wanted & set(_as_list(rs)))).astype(bool)
    return register[keep]


# Status comes from dates and data, never stored: it must follow every import and undo.
# "evaluated" means data exist on both sides of the start date for at least one of the
# intervention's indicators and target units (a survey wave before and after; absence months
# before and after), so the evaluation view has something to compare.
_LIST_SQL = """
WITH targets AS (
    SELECT iu.intervention_id,
           list(u.unit_id ORDER BY u.team) AS unit_ids,
           list(u.team ORDER BY u.team) AS teams
    FROM intervention_units AS iu
    JOIN units AS u USING (unit_id)
    GROUP BY iu.intervention_id
),
survey_waves AS (
    {survey_waves}
),
survey_sides AS (
    SELECT sw.intervention_id,
           bool_or(w.fielded_on < i.start_date) AS has_pre,
           bool_or(w.fielded_on >= i.start_date) AS has_post
    FROM survey_waves AS sw
    JOIN waves AS w USING (wave_id)
    JOIN interventions AS i USING (intervention_id)
    GROUP BY sw.intervention_id
),
with_absence AS (
    {absence_units}
),
absence_sides AS (
    -- a month counts before the start only when it ends before the start date
    SELECT iu.intervention_id,
           bool_or(last_day(s.month) < i.start_date) AS has_pre,
           bool_or(s.month >= i.start_date) AS has_post
    FROM intervention_units AS iu
    JOIN with_absence USING (unit_id)
    JOIN staff_in_post AS s USING (unit_id)
    JOIN interventions AS i USING (intervention_id)
    GROUP BY iu.intervention_id
),
pairs AS (
    SELECT a.intervention_id, ib.name AS other_name, count(*) AS shared
    FROM intervention_units AS a
    JOIN intervention_units AS b ON a.unit_id = b.unit_id AND a.intervention_id <> b.intervention_id
    JOIN interventions AS ia ON ia.intervention_id = a.intervention_id
    JOIN interventions AS ib ON ib.intervention_id = b.intervention_id
    WHERE ia.start_date <= coalesce(ib.end_date, CAST(? AS DATE))
      AND ib.start_date <= coalesce(ia.end_date, CAST(? AS DATE))
    GROUP BY a.intervention_id, ib.name
),
overlap_names AS (
    SELECT intervention_id, list(other_name ORDER BY other_name) AS overlaps_with
    FROM pairs
    GROUP BY intervention_id
)
SELECT i.intervention_id, i.name, i.domain, i.start_date, i.end_date, i.indicators, i.notes,
       i.prevention_level, i.resources, i.driver, i.stage, i.cost,
       coalesce(t.unit_ids, []) AS unit_ids,
       coalesce(t.teams, []) AS teams,
       len(coalesce(t.unit_ids, [])) AS n_units,
       CASE
           WHEN i.start_date > CAST(? AS DATE) THEN 'planned'
           WHEN (list_has_any(i.indicators, CAST(? AS VARCHAR[])) AND ss.has_pre AND ss.has_post)
             OR (list_has_any(i.indicators, CAST(? AS VARCHAR[])) AND sa.has_pre AND sa.has_post)
               THEN 'evaluated'
           ELSE 'running'
       END AS status,
       coalesce(o.overlaps_with, []) AS overlaps_with
FROM interventions AS i
LEFT JOIN targets AS t USING (intervention_id)
LEFT JOIN survey_sides AS ss USING (intervention_id)
LEFT JOIN absence_sides AS sa USING (intervention_id)
LEFT JOIN overlap_names AS o USING (intervention_id)
WHERE CAST(? AS INTEGER) IS NULL OR i.intervention_id = CAST(? AS INTEGER)
ORDER BY i.start_date DESC, i.name
"""


def _indicator_ids_by_source() -> tuple[list[str], list[str]]:
    cat = catalogue.get()
    survey = [i.id for i in cat.indicators.values() if i.source == "survey"]
    absence = [i.id for i in cat.indicators.values() if i.source == "absence"]
    return survey, absence


def list_interventions(
    con: duckdb.DuckDBPyConnection, as_of: date | None = None, intervention_id: int | None = None
) -> pd.DataFrame:
    """The register: one row per intervention with target units, derived status and overlaps.

    Columns: intervention_id, name, domain, domain_name, start_date, end_date, indicators (list),
    notes, prevention_level, resources (list or None), driver, stage, cost (register fields,
    None when not recorded), unit_ids (list), teams (list), n_units, status, overlaps_with (names
    of other interventions sharing a target unit in an overlapping period).
    """
    as_of = as_of or date.today()
    # inside one figure call the register is listed once per date and entries read from it:
    # Where to look lists it, its data quality lists it again and each evaluation reads its own
    # entry. The statement works out every entry whichever is asked for (its filter is last).
    shared = derived.scratch()
    if shared is not None:
        key = ("interventions.register", as_of)
        if key not in shared:
            shared[key] = _register(con, as_of, None)
        frame = shared[key]
        if intervention_id is not None:
            frame = frame[frame.intervention_id == int(intervention_id)]
        return frame.reset_index(drop=True)
    return _register(con, as_of, intervention_id)


# The waves with survey figures for an intervention's units: from the survey cells derived at
# import (respondents' and published figures alike), or, in a store made before them, from the
# raw responses and published figures (a scan of every response on every register listing).
_WAVES_FROM_CELLS = """SELECT DISTINCT iu.intervention_id, c.wave_id
    FROM intervention_units AS iu
    JOIN survey_cells AS c USING (unit_id)"""
_WAVES_FROM_RAW = """SELECT DISTINCT iu.intervention_id, r.wave_id
    FROM intervention_units AS iu
    JOIN responses AS r USING (unit_id)
    UNION
    SELECT DISTINCT iu.intervention_id, a.wave_id
    FROM intervention_units AS iu
    JOIN survey_aggregates AS a USING (unit_id)"""


def _register(con: duckdb.DuckDBPyConnection, as_of: date, intervention_id: int | None) -> pd.DataFrame:
    survey, absence = _indicator_ids_by_source()
    # the units with absence records as derived at import (a store not yet migrated: the records)
    stored = derived.has_table(con, "absence_units")
    cells = derived.has_table(con, "survey_cells")
    if stored or cells:
        derived.ensure(con, *(["absence"] if stored else []), *(["survey"] if cells else []))
    sql = _LIST_SQL.format(absence_units="SELECT unit_id FROM absence_units" if stored else derived.UNITS_SQL,
                           survey_waves=_WAVES_FROM_CELLS if cells else _WAVES_FROM_RAW)
    frame = query.run(con, "interventions.register", sql,
                      [_OPEN_END, _OPEN_END, as_of, survey, absence, intervention_id, intervention_id])
    names = {d.id: d.name for d in catalogue.get().domains}
    frame.insert(3, "domain_name", frame["domain"].map(names).fillna(frame["domain"]))
    return frame


def get_intervention(con: duckdb.DuckDBPyConnection, intervention_id: int, as_of: date | None = None) -> dict:
    """One intervention as a dict (same fields as a register row); InterventionError if absent."""
    frame = list_interventions(con, as_of=as_of, intervention_id=int(intervention_id))
    if frame.empty:
        raise InterventionError(f"there is no intervention {intervention_id}")
    row = frame.iloc[0].to_dict()
    for key in ("indicators", "unit_ids", "teams", "overlaps_with"):
        row[key] = list(row[key])
    row["unit_ids"] = [int(u) for u in row["unit_ids"]]
    row["intervention_id"] = int(row["intervention_id"])
    row["start_date"] = _as_date(row["start_date"])
    row["end_date"] = None if pd.isna(row["end_date"]) else _as_date(row["end_date"])
    row["notes"] = None if pd.isna(row["notes"]) else row["notes"]
    for key in CHOICE_FIELDS:
        row[key] = None if pd.isna(row[key]) else row[key]
    row["resources"] = _as_list(row["resources"])
    row["cost"] = None if pd.isna(row["cost"]) else float(row["cost"])
    return row


def _as_date(value) -> date:
    return pd.Timestamp(value).date()


@dataclass(frozen=True)
class Intervention:
    """One register entry as a user gives it: name, domain (one of the seven), target units,
    start and optional end date, the indicators it aims to move, notes and the register fields.

    The one record the register page, the improvement plan and scripts write through, so it is
    checked in one place (validated)."""

    name: str
    domain: str
    unit_ids: Sequence[int]
    start_date: date
    indicators: Sequence[str]
    end_date: date | None = None
    notes: str | None = None
    fields: RegisterFields | None = None

    def validated(self, con: duckdb.DuckDBPyConnection) -> Intervention:
        """The same entry checked against the catalogue and the store's units: name stripped,
        units sorted and unique, indicators unique in order, blank notes None, register fields
        checked (none given: not recorded). InterventionError says what is wrong."""
        cat = catalogue.get()
        name = (self.name or "").strip()
        if not name:
            raise InterventionError("give the intervention a name")
        if self.domain not in {d.id for d in cat.domains}:
            raise InterventionError(f"unknown domain {self.domain!r}; choose one of the seven domains")
        if self.start_date is None:
            raise InterventionError("give a start date")
        if self.end_date is not None and self.end_date < self.start_date:
            raise InterventionError(
                f"the end date {self.end_date} is before the start date {self.start_date}")
        indicators = list(dict.fromkeys(self.indicators or []))
        if not indicators:
            raise InterventionError("choose at least one indicator the intervention aims to move")
        unknown = [i for i in indicators if i not in cat.indicators]
        if unknown:
            raise InterventionError(f"unknown indicator(s): {', '.join(unknown)}")
        not_evaluable = [i for i in indicators
                         if cat.indicators[i].source not in ("survey", "absence")]
        if not_evaluable:
            raise InterventionError(
                f"{', '.join(not_evaluable)}: data-quality figures cannot be evaluated before/after"
            )
        units = sorted({int(u) for u in self.unit_ids or []})
        if not units:
            raise InterventionError("choose at least one target team")
        known = {
            r[0]
            for r in con.execute(
                "SELECT unit_id FROM units WHERE list_contains(CAST(? AS INTEGER[]), unit_id)", [units]
            ).fetchall()
        }
        missing = [u for u in units if u not in known]
        if missing:
            raise InterventionError(f"unknown target unit id(s): {missing}")
        return replace(self, name=name, unit_ids=units, indicators=indicators,
                       notes=(self.notes or "").strip() or None,
                       fields=(self.fields or RegisterFields()).validated())

    def values(self) -> list:
        """name, domain, start_date, end_date, indicators, notes, then the register fields, in
        the store's column order (of a validated entry)."""
        return [self.name, self.domain, self.start_date, self.end_date, list(self.indicators),
                self.notes, *(self.fields or RegisterFields()).values()]


_COLUMNS = ("name, domain, start_date, end_date, indicators, notes, "
            "prevention_level, resources, driver, stage, cost")


def _insert(con: duckdb.DuckDBPyConnection, entry: Intervention) -> int:
    """Write one validated intervention and its units; the caller holds the transaction."""
    new_id = con.execute(
        f"INSERT INTO interventions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING intervention_id",
        entry.values(),
    ).fetchone()[0]
    _set_units(con, int(new_id), entry.unit_ids)
    return int(new_id)


def _set_units(con: duckdb.DuckDBPyConnection, intervention_id: int, units: Sequence[int]) -> None:
    con.execute("DELETE FROM intervention_units WHERE intervention_id = ?", [intervention_id])
    con.execute(
        "INSERT INTO intervention_units SELECT ?, unnest(CAST(? AS INTEGER[]))",
        [intervention_id, list(units)],
    )


def create_intervention(con: duckdb.DuckDBPyConnection, entry: Intervention) -> int:
    """Add an intervention and its target units in one transaction; returns its id."""
    checked = entry.validated(con)
    with store.transaction(con):
        new_id = _insert(con, checked)
        store.bump_version(con)
    return new_id


def update_intervention(
    con: duckdb.DuckDBPyConnection, intervention_id: int, entry: Intervention
) -> None:
    """Replace an intervention's fields and target units in one transaction (no register
    fields: they are cleared, as a form with nothing chosen)."""
    checked = entry.validated(con)
    with store.transaction(con):
        changed = con.execute(
            f"UPDATE interventions SET ({_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "WHERE intervention_id = ? RETURNING intervention_id",
            [*checked.values(), int(intervention_id)],
        ).fetchall()
        if not changed:
            raise InterventionError(f"there is no intervention {intervention_id}")
        _set_units(con, int(intervention_id), checked.unit_ids)
        store.bump_version(con)


def delete_intervention(con: duckdb.DuckDBPyConnection, intervention_id: int) -> None:
    """Remove an intervention and its target units in one transaction."""
    with store.transaction(con):
        con.execute("DELETE FROM intervention_units WHERE intervention_id = ?", [int(intervention_id)])
        gone = con.execute(
            "DELETE FROM interventions WHERE intervention_id = ? RETURNING intervention_id",
            [int(intervention_id)],
        ).fetchall()
        if not gone:
            raise InterventionError(f"there is no intervention {intervention_id}")
        store.bump_version(con)


def overlapping(
    con: duckdb.DuckDBPyConnection,
    unit_ids: Sequence[int],
    start: date,
    end: date | None = None,
    exclude_id: int | None = None,
) -> pd.DataFrame:
    """Other interventions on any of unit_ids whose active period meets [start, end].

    An open-ended intervention (no end date) is active from its start onwards; end=None means
    the window is open too. Columns: intervention_id, name, start_date, end_date, indicators
    (list), shared_units, shared_teams (list), shared_unit_ids (list).
    """
    return con.execute(
        """
        SELECT i.intervention_id, i.name, i.start_date, i.end_date, i.indicators,
               count(*) AS shared_units,
               list(u.team ORDER BY u.team) AS shared_teams,
               list(u.unit_id ORDER BY u.team) AS shared_unit_ids
        FROM interventions AS i
        JOIN intervention_units AS iu USING (intervention_id)
        JOIN units AS u USING (unit_id)
        WHERE (CAST(? AS INTEGER) IS NULL OR i.intervention_id <> CAST(? AS INTEGER))
          AND list_contains(CAST(? AS INTEGER[]), iu.unit_id)
          AND i.start_date <= CAST(? AS DATE)
          AND coalesce(i.end_date, CAST(? AS DATE)) >= CAST(? AS DATE)
        GROUP BY ALL
        ORDER BY i.start_date, i.name
        """,
        [exclude_id, exclude_id, [int(u) for u in unit_ids], end or _OPEN_END, _OPEN_END, start],
    ).df()


def unit_choices(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Teams a user can target: unit_id, team, directorate (for the form's pickers)."""
    return con.execute("SELECT unit_id, team, directorate FROM units ORDER BY team").df()
