"""Derived tables built once per dataset version: absence spells, absence by unit x month, survey cells.

Views roll up from these instead of re-merging episodes or re-scanning answers. They are rebuilt
inside the transaction of every import, undo and catalogue change (store.bump_version calls
`refresh`), and `ensure` rebuilds them if the source tables changed some other way (a script or a
test writing rows directly): the signature of the sources is kept in meta.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import pickle
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import TypeVar

import duckdb

# Tables added by store migration 3.
SCHEMA = """
-- One row per piece of a spell: overlapping records of one employee form one spell; within it,
-- on each day the records that started latest apply, and distinct (team, FTE) assignments among
-- them add up (concurrent posts), so a change part-way splits the spell into pieces.
CREATE TABLE IF NOT EXISTS absence_spells (
    spell_id BIGINT NOT NULL,          -- smallest episode_id of the spell
    employee_key VARCHAR NOT NULL,
    unit_id INTEGER NOT NULL,
    fte DOUBLE NOT NULL,
    reason_code VARCHAR NOT NULL,
    staff_group VARCHAR,
    start_date DATE NOT NULL,          -- this piece
    end_date DATE NOT NULL,
    spell_start DATE NOT NULL,
    spell_end DATE NOT NULL,
    spell_days INTEGER NOT NULL,       -- calendar days of the whole spell (long-term test)
    records INTEGER NOT NULL,          -- episode records merged into the spell
    first_piece BOOLEAN NOT NULL       -- the one piece a spell is counted in (its start, lowest unit)
);
-- Unit x month, per day count: FTE days lost and available, reason days, size for the release.
CREATE TABLE IF NOT EXISTS absence_unit_month (
    day_count VARCHAR NOT NULL,
    unit_id INTEGER NOT NULL,
    month DATE NOT NULL,
    lost DOUBLE, reason_days DOUBLE, s10_days DOUBLE, msk_days DOUBLE, s99_days DOUBLE,
    source VARCHAR, available DOUBLE, headcount DOUBLE, fte DOUBLE, fallback BOOLEAN
);
CREATE TABLE IF NOT EXISTS absence_unit_month_reason (
    day_count VARCHAR NOT NULL,
    unit_id INTEGER NOT NULL,
    month DATE NOT NULL,
    reason_code VARCHAR,
    lost DOUBLE,
    source VARCHAR
);
-- Sums are rounded to 1e-9: parallel aggregation adds doubles in no fixed order, and a derived
-- table must be the same for the same data (the demo is checked byte for byte).
-- Survey cells: unit x staff group x wave x indicator with n, sum and sum of squares (NULL for
-- pre-aggregated rows, which carry no staff group and no spread).
CREATE TABLE IF NOT EXISTS survey_cells (
    wave_id INTEGER NOT NULL,
    indicator_id VARCHAR NOT NULL,
    unit_id INTEGER NOT NULL,
    staff_group VARCHAR,
    respondent BOOLEAN NOT NULL,       -- false: a pre-aggregated upload row
    n BIGINT NOT NULL,
    sum_v DOUBLE NOT NULL,
    sum_v2 DOUBLE
);

-- The release, stored per dataset version and threshold (emptied whenever its derived table is
-- rebuilt; filled at import for the configured threshold, on first use for any other).
CREATE TABLE IF NOT EXISTS release_survey (
    threshold INTEGER NOT NULL, wave_id INTEGER NOT NULL, indicator_id VARCHAR NOT NULL,
    cut VARCHAR NOT NULL, directorate VARCHAR, team VARCHAR, site VARCHAR, staff_group VARCHAR,
    n BIGINT NOT NULL, released BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS release_absence (
    threshold INTEGER NOT NULL, month DATE NOT NULL, members INTEGER[] NOT NULL
);
"""

TABLES = ("absence_spells", "absence_unit_month", "absence_unit_month_reason", "survey_cells")

# Table added by store migration 4: the absence of the drill-down's cuts over each wave's two
# fieldwork periods (periods.wave_periods), exactly as team_absence.released_rates returns it,
# withheld groups already blank. Partial months make these the costliest absence figures a page
# asks for (eight period queries and their release per wave), so they are decided with the rest
# of the release: stored at import for the configured threshold, on first use for any other.
# fielded_on is the date they were computed for: a wave with another date reads none of them.
WAVE_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_absence_wave (
    threshold INTEGER NOT NULL, wave_id INTEGER NOT NULL, fielded_on DATE NOT NULL,
    period VARCHAR NOT NULL,           -- wave: the 12 months to fieldwork; previous: the 12 before
    cut VARCHAR NOT NULL,              -- organisation, directorate, team, site
    pos INTEGER NOT NULL,              -- row of the frame
    directorate VARCHAR, team VARCHAR, site VARCHAR,
    fte_days_lost DOUBLE, fte_days_available DOUBLE, rate DOUBLE, s10_share DOUBLE,
    msk_share DOUBLE, s99_share DOUBLE, headcount DOUBLE, suppressed BOOLEAN NOT NULL
);
"""

# Table added by store migration 5: absence.period_summary of each standard scope (the
# organisation, each directorate's units, each unit) over each wave's two fieldwork periods,
# released (figures NULL where withheld): the scorecard, team profile and Compare read a scope's
# absence from here instead of two period queries and a release per scope. scope is
# team_absence.scope_key of the scope's unit ids; stored and kept like release_absence_wave.
SCOPE_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_absence_scope (
    threshold INTEGER NOT NULL, wave_id INTEGER NOT NULL, fielded_on DATE NOT NULL,
    period VARCHAR NOT NULL,           -- wave: the 12 months to fieldwork; previous: the 12 before
    scope VARCHAR NOT NULL,            -- 'organisation' or the sorted unit ids, comma-separated
    fte_days_lost DOUBLE, fte_days_available DOUBLE, rate DOUBLE, s10_share DOUBLE,
    msk_share DOUBLE, s99_share DOUBLE, unmatched_days_lost DOUBLE, episodes BIGINT,
    suppressed BOOLEAN NOT NULL
);
"""
# Table added by store migration 13: every offered cut's survey figures for every wave, as
# privacy.apply_plan releases them (withheld groups' figures NULL), worked out with the stored
# release for the configured threshold. A funnel read them from the cells and the plan, and
# applied the plan in pandas: 30 ms at a tenth of national scale against 9 ms for a raw query of
# the same numbers; read from here it is one filtered scan. gpos is the group's place in its
# cut's order (the order survey_results gives), so a read orders rows as the query would.
# Emptied whenever the survey cells are rebuilt and filled again in the same transaction
# (store_release), so whatever it holds is current.
FIGURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_survey_figures (
    threshold INTEGER NOT NULL, cut VARCHAR NOT NULL, gpos BIGINT NOT NULL,
    directorate VARCHAR, team VARCHAR, site VARCHAR, staff_group VARCHAR,
    wave_id INTEGER NOT NULL, indicator_id VARCHAR NOT NULL,
    value DOUBLE, n DOUBLE, sd DOUBLE, suppressed BOOLEAN NOT NULL
);
"""

# The tables of wave figures stored with the release (each may be missing on an older store).
WAVE_TABLES = ("release_absence_wave", "release_absence_scope")

# Table added by store migration 9: the units with any absence record (an episode or a monthly
# aggregate row), whatever its dates. The register's status asks which target units have
# absence data every time it is listed (Where to look lists it six times), and finding out from
# the records is a scan of every episode (5M at national scale). Migration 9 fills it from the
# records; every absence refresh rebuilds it.
UNITS_SQL = """
SELECT unit_id FROM absence_episodes
UNION
SELECT unit_id FROM absence_monthly
"""
UNITS_SCHEMA = "CREATE TABLE IF NOT EXISTS absence_units AS " + UNITS_SQL

# The organisation's episode quality (metrics/absence.episode_quality), kept as JSON in meta by
# every absence refresh: the Absence page asks for it on every view, and working it out scans every
# episode and spell (5M each at national scale, 30-50 ms). Migration 11 fills it in a store made
# before.
QUALITY_KEY = "absence_quality"
QUALITY_FIELDS = ("records", "spells", "duplicates_merged", "invalid_dropped", "open_episodes")


def quality_sql(scoped: bool) -> str:
    """Episode quality's counts in QUALITY_FIELDS order; scoped: for unit ids bound twice."""
    # each spell has exactly one first piece: without a scope, counting those needs no DISTINCT;
    # and no scope filter at all (a NULL-scope test on every row cost a third of the scan)
    spells = "count(DISTINCT spell_id)" if scoped else "count(*) FILTER (WHERE first_piece)"
    scope = "WHERE list_contains(CAST(? AS INTEGER[]), unit_id)" if scoped else ""
    return f"""
WITH ep AS (
    SELECT count(*) AS records, count(*) FILTER (WHERE end_date < start_date) AS invalid,
           count(*) FILTER (WHERE end_date IS NULL) AS open_
    FROM absence_episodes {scope}
),
sp AS (
    SELECT {spells} AS spells, coalesce(sum(records - 1) FILTER (WHERE first_piece), 0) AS merged
    FROM absence_spells {scope}
)
SELECT records, spells, merged, invalid, open_ FROM ep, sp
"""


# Writes them: run by every absence refresh and, as migration 11, once in a store made before.
STORE_QUALITY = (
    "INSERT INTO meta SELECT '" + QUALITY_KEY + "', '[' || concat_ws(', ', records, spells, merged,"
    " invalid, open_) || ']' FROM (" + quality_sql(scoped=False) + ")"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_SPELLS_SQL = """
INSERT INTO absence_spells
WITH data_end AS (
    SELECT greatest(
        (SELECT max(last_day(month)) FROM staff_in_post),
        (SELECT max(greatest(start_date, end_date)) FROM absence_episodes)
    ) AS d
),
records AS (
    SELECT e.episode_id, e.employee_key, e.unit_id, e.start_date,
           coalesce(e.end_date, greatest(d.d, e.start_date)) AS end_date,
           e.fte, e.reason_code, e.staff_group
    FROM absence_episodes AS e, data_end AS d
    WHERE e.end_date IS NULL OR e.end_date >= e.start_date
),
ordered AS (
    SELECT *,
           row_number() OVER w AS rn,
           max(end_date) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM records
    WINDOW w AS (PARTITION BY employee_key ORDER BY start_date, end_date DESC, episode_id)
),
islands AS (
    SELECT *,
           sum(CASE WHEN prev_end IS NULL OR start_date > prev_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY employee_key ORDER BY rn) AS spell_no
    FROM ordered
),
spell AS (
    SELECT employee_key, spell_no, min(episode_id) AS spell_id,
           min(start_date) AS spell_start, max(end_date) AS spell_end, count(*) AS records
    FROM islands GROUP BY employee_key, spell_no
),
member AS (
    SELECT i.*, s.spell_id, s.spell_start, s.spell_end, s.records
    FROM islands AS i JOIN spell AS s USING (employee_key, spell_no)
),
-- most spells are one record: their one piece is the record itself
single AS (
    SELECT spell_id, employee_key, unit_id, fte, reason_code, staff_group, start_date, end_date,
           spell_start, spell_end, records
    FROM member WHERE records = 1
),
multi AS (SELECT * FROM member WHERE records > 1),
bounds AS (
    SELECT spell_id, start_date AS b FROM multi
    UNION
    SELECT spell_id, CAST(end_date + 1 AS DATE) AS b FROM multi
),
segments AS (
    SELECT spell_id, b AS seg_start,
           CAST(lead(b) OVER (PARTITION BY spell_id ORDER BY b) - 1 AS DATE) AS seg_end
    FROM bounds
),
covering AS (
    SELECT s.spell_id, s.seg_start, s.seg_end, m.employee_key, m.unit_id, m.fte, m.reason_code,
           m.staff_group, m.episode_id, m.start_date AS rec_start, m.spell_start, m.spell_end, m.records
    FROM segments AS s
    JOIN multi AS m ON m.spell_id = s.spell_id AND m.start_date <= s.seg_start AND m.end_date >= s.seg_end
    WHERE s.seg_end IS NOT NULL
    QUALIFY m.start_date = max(m.start_date) OVER (PARTITION BY s.spell_id, s.seg_start)
),
pieces AS (
    -- identical assignments (same team and FTE) in the latest records are one: duplicates
    SELECT spell_id, any_value(employee_key) AS employee_key, unit_id, fte,
           arg_min(reason_code, episode_id) AS reason_code, arg_min(staff_group, episode_id) AS staff_group,
           seg_start AS start_date, seg_end AS end_date,
           any_value(spell_start) AS spell_start, any_value(spell_end) AS spell_end,
           any_value(records) AS records
    FROM covering
    GROUP BY spell_id, seg_start, seg_end, unit_id, fte
),
everything AS (SELECT * FROM single UNION ALL SELECT * FROM pieces)
SELECT spell_id, employee_key, unit_id, fte, reason_code, staff_group, start_date, end_date,
       spell_start, spell_end, date_diff('day', spell_start, spell_end) + 1 AS spell_days, records,
       row_number() OVER (PARTITION BY spell_id ORDER BY start_date, unit_id, fte) = 1 AS first_piece
FROM everything
"""

_SURVEY_SQL = """
INSERT INTO survey_cells
SELECT r.wave_id, s.indicator_id, r.unit_id, r.staff_group, TRUE, count(*),
       round(sum(s.value), 9), round(sum(s.value * s.value), 9)
FROM respondent_scores AS s JOIN responses AS r USING (response_id)
GROUP BY ALL;
INSERT INTO survey_cells
SELECT wave_id, indicator_id, unit_id, NULL, FALSE, sum(n), round(sum(value * n), 9), NULL
FROM survey_aggregates GROUP BY ALL;
"""

# What each family of derived tables is built from, as the expressions of one row: a change in
# any of them means the family must be rebuilt. The absence release groups units by directorate
# and site, so a structure change re-decides it (the units' hash in both).
_ABSENCE_SIGNATURE = [
    "(SELECT count(*) FROM absence_episodes)",
    "(SELECT coalesce(sum(episode_id), 0) FROM absence_episodes)",
    "(SELECT count(*) FROM staff_in_post)",
    "(SELECT coalesce(sum(hash(unit_id, month, headcount, fte)) % 1000000007, 0) FROM staff_in_post)",
    "(SELECT count(*) FROM absence_monthly)",
    "(SELECT coalesce(sum(hash(unit_id, month, reason_code, fte_days_lost, fte_days_available))"
    " % 1000000007, 0) FROM absence_monthly)",
    "(SELECT coalesce(sum(hash(unit_id, team, directorate, site)) % 1000000007, 0) FROM units)",
]
_SURVEY_SIGNATURE = [
    "(SELECT count(*) FROM respondent_scores)",
    "(SELECT count(*) FROM responses)",
    "(SELECT coalesce(sum(response_id), 0) FROM responses)",
    "(SELECT count(*) FROM survey_aggregates)",
    "(SELECT coalesce(sum(n), 0) FROM survey_aggregates)",
    "(SELECT value FROM meta WHERE key = 'catalogue_fingerprint')",
    "(SELECT coalesce(sum(hash(unit_id, team, directorate, site)) % 1000000007, 0) FROM units)",
]


def _as_text(values: Sequence[object]) -> str:
    return json.dumps([str(v) for v in values])


# Each value as text, one UNION ALL branch per expression. As scalar subqueries of one SELECT,
# DuckDB planned them as a cross join of 8 relations and searched its join orders: 9-10 ms for
# one family's check at a tenth of national scale, against 2.5 ms this way, on every figure call.
# The expressions give integers or text, whose text DuckDB and Python write alike, so signatures
# stored by earlier versions still match.
def _texts(con: duckdb.DuckDBPyConnection, expressions: Sequence[str], params: Sequence[object] = ()
           ) -> list[str | None]:
    sql = " UNION ALL ".join(f"SELECT {k} AS k, CAST({e} AS VARCHAR) AS v" for k, e in enumerate(expressions))
    return [v for _, v in sorted(con.execute(sql, list(params)).fetchall())]


def _signature(con: duckdb.DuckDBPyConnection, expressions: list[str]) -> str:
    return _as_text(["None" if v is None else v for v in _texts(con, expressions)])


def _stale(con: duckdb.DuckDBPyConnection, families: Iterable[str]) -> list[str]:
    """The families among these whose stored signature is not their sources' signature now.

    One query reads every stored signature and works out every current one: each figure call
    checks, and on a small store a query's own cost is most of it (18 -> 8 ms on the demo)."""
    families = list(families)
    if not families:
        return []
    columns: list[str] = []
    for family in families:
        columns.append("(SELECT value FROM meta WHERE key = ?)")
        columns.extend(FAMILIES[family][1])
    row = _texts(con, columns, [FAMILIES[f][0] for f in families])
    stale, at = [], 0
    for family in families:
        width = len(FAMILIES[family][1])
        current = ["None" if v is None else v for v in row[at + 1:at + 1 + width]]
        if row[at] != _as_text(current):
            stale.append(family)
        at += 1 + width
    return stale


def memo_key(con: duckdb.DuckDBPyConnection, meta_key: str) -> tuple[str, str] | None:
    """(store file, signature of one derived family) for in-process memos of released figures;
    None for an in-memory store (never memoised). An import changes the signature."""
    path = _PATHS.get(con)
    if path is None:
        row = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        path = _PATHS[con] = str(row[0]) if row and row[0] else ""
    if not path:
        return None
    return path, _meta(con, meta_key) or ""


# Each open connection's store file ("" in memory): it never changes while the connection lives,
# and asking DuckDB took 0.4-0.6 ms of every memo lookup.
_PATHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value])


# Numbers no import accepts (ingest.transform.MAX_NUMBER): infinite, not a number, or beyond
# 1e12. A store filled before that rule may hold some; the derived tables add figures exactly as
# decimals, which hold none of them, so a refresh refuses such a store, naming what to undo,
# rather than failing on a cast or showing a figure made of them. (family, what, table, column)
LARGEST = 1e12
_NUMBERS = [
    ("absence", "absence episodes (FTE)", "absence_episodes", "fte"),
    ("absence", "absence episodes (days lost)", "absence_episodes", "days_lost"),
    ("absence", "monthly absence (FTE days lost)", "absence_monthly", "fte_days_lost"),
    ("absence", "monthly absence (FTE days available)", "absence_monthly", "fte_days_available"),
    ("absence", "staff in post (FTE)", "staff_in_post", "fte"),
    ("survey", "published survey figures (value)", "survey_aggregates", "value"),
]
_SCORES = ("survey", "survey answers (scores)")


class BadNumbers(ValueError):
    """The store holds numbers no import accepts; the message says which imports to undo."""


def bad_numbers(con: duckdb.DuckDBPyConnection, families: Iterable[str] = ("absence", "survey")
                ) -> list[tuple[str, int | None, int]]:
    """(what, import id, rows) for every stored number no import accepts, in these families."""
    families = set(families)
    # NOT (abs(x) <= largest) holds for infinities and NaN as well, and not for a missing value
    parts = [f"SELECT '{what}' AS what, import_id, count(*) AS n FROM {table} "
             f"WHERE NOT (abs({column}) <= $largest) GROUP BY ALL"
             for family, what, table, column in _NUMBERS if family in families]  # names from here
    if _SCORES[0] in families:
        parts.append(f"SELECT '{_SCORES[1]}' AS what, r.import_id, count(*) AS n "
                     "FROM respondent_scores AS s JOIN responses AS r USING (response_id) "
                     "WHERE NOT (abs(s.value) <= $largest) GROUP BY ALL")
    if not parts:
        return []
    sql = " UNION ALL ".join(parts) + " ORDER BY import_id NULLS FIRST, what"
    return [(str(w), None if i is None else int(i), int(n))
            for w, i, n in con.execute(sql, {"largest": LARGEST}).fetchall()]


def numbers_problem(con: duckdb.DuckDBPyConnection, families: Iterable[str] = ("absence", "survey")
                    ) -> str | None:
    """What the store holds that no import accepts and which imports to undo, in a sentence;
    None when it holds none."""
    found = bad_numbers(con, families)
    if not found:
        return None
    imports = sorted({i for _, i, _ in found if i is not None})
    held = "; ".join(f"{n:,} in {what}" + ("" if i is None else f" (import #{i})") for what, i, n in found)
    many = len(imports) > 1
    undo = (f"undo import{'s' if many else ''} {', '.join(f'#{i}' for i in imports)} on the Data page and "
            f"upload {'corrected files' if many else 'a corrected file'}" if imports else "correct the store")
    return (f"The store holds numbers no import accepts (infinite, not a number, or beyond {LARGEST:,.0f}), "
            f"from before uploads refused them: {held}. No figure can be worked out from them: {undo}.")


def check_numbers(con: duckdb.DuckDBPyConnection, families: Iterable[str] = ("absence", "survey")) -> None:
    """Raise BadNumbers, naming each import and what it holds, if the store holds any."""
    problem = numbers_problem(con, families)
    if problem is not None:
        raise BadNumbers(problem)


def forget_bad(con: duckdb.DuckDBPyConnection) -> None:
    """Mark stale each family whose sources hold numbers no import accepts (store migration 12):
    tables an earlier version derived from them match their signature, so they would be read
    (and fail on a decimal cast) instead of refused with what to undo."""
    for family in sorted({f for f, *_ in _NUMBERS} | {_SCORES[0]}):
        if bad_numbers(con, [family]):
            con.execute("DELETE FROM meta WHERE key = ?", [FAMILIES[family][0]])


def refresh_absence(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild absence spells and unit x month tables; call inside a transaction."""
    from dashboard.metrics import absence  # the day-count SQL and reason groups live there

    check_numbers(con, ["absence"])  # before anything is written

    for table in ("absence_spells", "absence_unit_month", "absence_unit_month_reason", "release_absence"):
        con.execute(f"DELETE FROM {table}")  # names from this module, never user input
    for table in WAVE_TABLES:
        if has_table(con, table):
            con.execute(f"DELETE FROM {table}")  # names from this module
    if has_table(con, "absence_units"):
        con.execute("DELETE FROM absence_units")
        con.execute("INSERT INTO absence_units " + UNITS_SQL)
    con.execute(_SPELLS_SQL)
    everything = [date(1900, 1, 1), date(2200, 12, 31), None]
    # spells are split into months once, for both day counts; each table then reads that
    con.execute(absence._episode_months_sql())
    try:
        for day_count in absence.DAY_COUNTS:
            core = absence._core_from_episode_months(day_count)
            con.execute(
                "INSERT INTO absence_unit_month " + core + f"""
SELECT '{day_count}', unit_id, month, round(lost, 9), round(reason_days, 9), round(s10_days, 9),
       round(msk_days, 9), round(s99_days, 9), source,
       round(available, 9), headcount, fte, fallback
FROM unit_month""",
                everything,
            )
            con.execute(
                "INSERT INTO absence_unit_month_reason " + core + f"""
SELECT '{day_count}', unit_id, month, reason_code, round(lost, 9), source FROM umr""",
                everything,
            )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {absence._EP_TABLE}")
    con.execute(STORE_QUALITY)
    _set_meta(con, "derived_absence", _signature(con, _ABSENCE_SIGNATURE))


# What a wave's survey release is decided from: its cells (privacy.cells) and the unit structure.
_WAVE_PRINTS = """
SELECT wave_id, [count(*), sum(hash(indicator_id, unit_id, staff_group, respondent, n)),
                 sum(hash(n, unit_id, indicator_id, staff_group))]
FROM survey_cells GROUP BY wave_id
"""
_UNITS_PRINT = "SELECT coalesce(sum(hash(unit_id, team, directorate, site)) % 1000000007, 0) FROM units"


@contextlib.contextmanager
def _without_pushdown(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB 2.0's partial_aggregate_pushdown pushes the cells' GROUP BY below the join with
    responses, grouping every (response, indicator) pair that is already unique: 4x the CPU
    (bench/README.md). Off for this statement only; the connection's setting is restored."""
    before = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    names = [n for n in before.split(",") if n.strip()]
    con.execute("SET disabled_optimizers = ?", [",".join([*names, "partial_aggregate_pushdown"])])
    try:
        yield
    finally:
        con.execute("SET disabled_optimizers = ?", [before])


def refresh_survey(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild survey cells from respondent scores and pre-aggregated rows; inside a transaction.

    A wave's stored release is kept when its cells and the unit structure are unchanged (an
    import of a new wave re-decides that wave only)."""
    check_numbers(con, ["survey"])  # before anything is written
    before = dict(con.execute(_WAVE_PRINTS).fetchall())
    previous = _meta(con, "derived_survey")
    units_now = str(con.execute(_UNITS_PRINT).fetchone()[0])
    units_same = previous is not None and json.loads(previous)[-1] == units_now
    con.execute("DELETE FROM survey_cells")
    with _without_pushdown(con):
        con.execute(_SURVEY_SQL)
    after = dict(con.execute(_WAVE_PRINTS).fetchall())
    keep = [int(w) for w, v in after.items() if units_same and before.get(w) == v]
    con.execute("DELETE FROM release_survey WHERE NOT list_contains(CAST(? AS INTEGER[]), wave_id)", [keep])
    if has_table(con, "release_survey_figures"):
        # the figures move with any answer, not only with the counts a kept plan depends on
        con.execute("DELETE FROM release_survey_figures")
    _set_meta(con, "derived_survey", _signature(con, _SURVEY_SIGNATURE))


def refresh(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Rebuild whichever derived tables are out of date with their sources; returns their names.

    Called inside the transaction of an import, undo or catalogue change.
    """
    done = _stale(con, ["absence", "survey"])
    if "absence" in done:
        refresh_absence(con)
    if "survey" in done:
        refresh_survey(con)
    # Every family is current from here on, and what follows only reads the sources: the figure
    # functions it calls skip their freshness check (one query each, many per import: 11% of
    # the non-browser suite's samples, most of them here).
    with _current(con):
        if done:
            store_release(con)
        elif _waves_changed(con):
            store_absence_waves(con)   # a wave added or dropped without survey rows (published figures)
    return done


@contextlib.contextmanager
def _current(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Within the block, figure functions on con take its derived tables as checked (see `reads`);
    no scratch is shared between them (the block writes the stored release as it goes)."""
    with _checked_as(con, frozenset(FAMILIES), None):
        yield


@contextlib.contextmanager
def _checked_as(con: duckdb.DuckDBPyConnection, families: frozenset[str], shared: dict | None
                ) -> Iterator[None]:
    """This thread's record of the checked connection, families and scratch, for the block."""
    outer = (getattr(_checked, "con", None), getattr(_checked, "families", frozenset()),
             getattr(_checked, "scratch", None))
    _checked.con, _checked.families, _checked.scratch = con, families, shared
    try:
        yield
    finally:
        _checked.con, _checked.families, _checked.scratch = outer


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store has the table (a store made before its migration, opened read-only, lacks it)."""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()
    return bool(found[0])


def remember(memo: dict, key: object, value: object, size: int) -> None:
    """Put value in an in-process memo of at most size entries (the oldest one goes first)."""
    if key not in memo and len(memo) >= size:
        memo.pop(next(iter(memo)))
    memo[key] = value


# What stored figures are made of: frames, arrays, dates. A stored payload (an evaluation, a
# briefing) is read back by pickle restricted to these and its own classes: a store file edited
# by hand cannot make the reader run anything else.
FIGURE_CLASSES = frozenset({
    ("builtins", "slice"), ("datetime", "date"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.numeric", "_frombuffer"),
    ("pandas", "DataFrame"), ("pandas", "Series"), ("pandas", "Index"), ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"), ("pandas", "BooleanDtype"), ("pandas", "Int64Dtype"),
    ("pandas", "CategoricalDtype"), ("pandas", "Categorical"), ("pandas", "NA"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.arrays", "ArrowStringArray"), ("pandas.arrays", "DatetimeArray"),
    ("pandas.arrays", "BooleanArray"), ("pandas.arrays", "IntegerArray"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pyarrow.lib", "_restore_array"), ("pyarrow.lib", "py_buffer"), ("pyarrow.lib", "type_for_alias"),
})


class _Restricted(pickle.Unpickler):
    def __init__(self, payload: bytes, allowed: frozenset, what: str) -> None:
        super().__init__(io.BytesIO(payload))
        self.allowed, self.what = allowed, what

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of {self.what}")
        return super().find_class(module, name)


def unpickle(payload: bytes, own: Iterable[tuple[str, str]], what: str) -> object:
    """A stored payload read back by pickle restricted to FIGURE_CLASSES and its own classes
    (module, name); anything else raises pickle.UnpicklingError naming it, before it is loaded."""
    return _Restricted(payload, FIGURE_CLASSES | frozenset(own), what).load()


class Stale(RuntimeError):
    """Derived tables are out of date inside a read snapshot (see ensure)."""


# The connections inside a read snapshot (store.snapshot): a refresh there would be rolled back.
SNAPSHOTS: weakref.WeakSet = weakref.WeakSet()


def in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether con is inside a transaction. Inside one two statements share its id; outside,
    each runs in its own. (Trying BEGIN instead would abort the caller's transaction.)"""
    ids = [con.execute("SELECT txid_current()").fetchone()[0] for _ in range(2)]
    return ids[0] == ids[1]


def keep_on_read(con: duckdb.DuckDBPyConnection, table: str, write: Callable[[], None]) -> None:
    """Store something decided on a read path: best effort, in a transaction of its own.

    Nothing is written on a read-only store or a store made before the table, nor inside a
    caller's transaction (a read snapshot: it would be rolled back with it); if another session
    is writing, the write is dropped and the figure is decided again next time.
    """
    if (not has_table(con, table)
            or con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only"):
        return
    if in_transaction(con):
        return
    con.execute("BEGIN TRANSACTION")
    try:
        write()
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")


_WAVES_STALE = """
SELECT (SELECT count(*) FROM {table} AS r ANTI JOIN waves AS w
        ON w.wave_id = r.wave_id AND w.fielded_on = r.fielded_on),
       (SELECT count(*) FROM waves AS w ANTI JOIN {table} AS r
        ON r.threshold = ? AND r.wave_id = w.wave_id AND r.fielded_on = w.fielded_on)
"""


def _no_absence(con: duckdb.DuckDBPyConnection) -> bool:
    # without absence data every wave's frames are one withheld organisation row: computed on
    # read at no cost worth storing (a survey-only store's imports stay as fast as before)
    return not con.execute("SELECT count(*) FROM (SELECT 1 FROM absence_unit_month LIMIT 1)").fetchone()[0]


def _waves_changed(con: duckdb.DuckDBPyConnection) -> bool:
    from dashboard.config import settings

    tables = [t for t in WAVE_TABLES if has_table(con, t)]
    if not tables or _no_absence(con):
        return False
    threshold = int(settings().anonymity_threshold)
    return any(any(con.execute(_WAVES_STALE.format(table=t), [threshold]).fetchone()) for t in tables)


def store_absence_waves(con: duckdb.DuckDBPyConnection, threshold: int | None = None) -> None:
    """Decide and store every wave's fieldwork-period absence for the threshold (the configured
    one by default; see WAVE_SCHEMA and SCOPE_SCHEMA), dropping rows of waves gone or re-dated;
    inside a transaction."""
    from dashboard.config import settings
    from dashboard.metrics import team_absence

    tables = [t for t in WAVE_TABLES if has_table(con, t)]
    if not tables:
        return   # the store is being migrated: migration 4 fills it
    for table in tables:
        con.execute(f"DELETE FROM {table} AS r WHERE NOT EXISTS (SELECT 1 FROM waves AS w"
                    " WHERE w.wave_id = r.wave_id AND w.fielded_on = r.fielded_on)")
    if _no_absence(con):
        return
    threshold = settings().anonymity_threshold if threshold is None else threshold
    team_absence.store_waves(con, threshold)


def has_figures(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has release_survey_figures (one made before migration 13 and opened
    read-only does not). Once a connection has seen it, it is not asked again: no code drops it."""
    if con in _HAS_FIGURES:
        return True
    found = has_table(con, "release_survey_figures")
    if found:
        _HAS_FIGURES[con] = True
    return found


_HAS_FIGURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def store_survey_figures(con: duckdb.DuckDBPyConnection, threshold: int | None = None) -> None:
    """Work out and store every offered cut's released survey figures for the threshold (the
    configured one by default; see FIGURES_SCHEMA); inside a transaction."""
    from dashboard import privacy
    from dashboard.config import settings

    ensure(con, "survey")   # stale sources are brought up to date first, which stores them
    privacy.store_figures(con, settings().anonymity_threshold if threshold is None else threshold)


def store_release(con: duckdb.DuckDBPyConnection, threshold: int | None = None) -> None:
    """Decide and store the survey and absence release for the threshold (the configured one by
    default), so the first page view after an import reads it instead of deciding it."""
    from dashboard import privacy
    from dashboard.config import settings
    from dashboard.privacy import release

    threshold = settings().anonymity_threshold if threshold is None else threshold
    privacy.plan(con, threshold, store=True)
    privacy.store_figures(con, threshold)
    release.absence_plan(con, threshold, store=True)
    store_absence_waves(con, threshold)
    from dashboard.stats import evaluation  # reads the release just stored

    evaluation.store_all(con, threshold)
    if has_table(con, "briefing_store"):
        # stale now, and figures of data an undo removed must not stay in the file: the next
        # view of Where to look works them out again (metrics/briefing.py)
        con.execute("DELETE FROM briefing_store")


# Each family of derived tables: the meta key that holds the signature of its sources, and the
# query that computes it. A figure checks only the families it reads.
FAMILIES: dict[str, tuple[str, list[str]]] = {
    "absence": ("derived_absence", _ABSENCE_SIGNATURE),
    "survey": ("derived_survey", _SURVEY_SIGNATURE),
}

# The connection whose derived tables this thread has checked for the figure function running
# now, and which families (see `reads`): one check per figure, not one per query inside it.
_checked = threading.local()
F = TypeVar("F", bound=Callable)


def _done(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    if getattr(_checked, "con", None) is not con:
        return frozenset()
    return getattr(_checked, "families", frozenset())


def reads(fn: F | None = None, *, only: str | None = None):
    """Decorate a figure function (first argument the connection): the derived tables are
    checked once when it starts, and every query inside it skips the check. `only` ('absence'
    or 'survey', as `@reads(only="survey")`): check just that family, for a figure that reads
    no other (each signature scans its sources: 5M episodes at national scale).

    The signatures cost two scans of the source tables; a team profile asked for them 33 times
    (bench/README.md). Figure functions only read, so the tables cannot go stale within one call.
    """
    if only is not None and only not in FAMILIES:
        raise ValueError(f"unknown family {only!r}; choose from {sorted(FAMILIES)}")
    if fn is None:
        return functools.partial(reads, only=only)
    wanted = frozenset(FAMILIES if only is None else (only,))

    @functools.wraps(fn)
    def wrapper(con, *args, **kwargs):
        done = _done(con)
        if wanted <= done:
            return fn(con, *args, **kwargs)
        ensure(con, *wanted)
        # the outermost figure call on this connection opens the scratch; inner ones share it
        shared = getattr(_checked, "scratch", None) if getattr(_checked, "con", None) is con else {}
        with _checked_as(con, done | wanted, shared):
            return fn(con, *args, **kwargs)
    return wrapper  # type: ignore[return-value]


def scratch() -> dict | None:
    """A dict that lives exactly as long as the outermost figure function (`reads`) running on
    this thread, None outside one: figures one call needs twice (Where to look draws the heatmap
    and the funnels from the same team figures) are worked out once, and nothing outlives the
    call, so nothing can go stale."""
    return getattr(_checked, "scratch", None)


def ensure(con: duckdb.DuckDBPyConnection, *families: str) -> None:
    """Make sure derived tables match their sources before a query reads them.

    families: 'absence' and/or 'survey' (default both), the ones the caller reads; any stale
    one refreshes all. Imports keep them current; this catches rows written outside an import
    (scripts, tests). Inside a figure function decorated with `reads` those checked are skipped.
    Inside a caller's write transaction the refresh joins it; inside a read snapshot
    (`store.snapshot`) it raises Stale, since a refresh there would be rolled back with it.
    """
    done = _done(con)
    if not _stale(con, [f for f in (families or FAMILIES) if f not in done]):
        return
    if con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only":
        raise RuntimeError("derived tables are out of date and the store is open read-only")
    if in_transaction(con):
        if con in SNAPSHOTS:
            raise Stale("derived tables are out of date: bring them up to date outside the snapshot")
        refresh(con)  # the caller's transaction commits or rolls back
        return
    con.execute("BEGIN TRANSACTION")
    try:
        refresh(con)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
