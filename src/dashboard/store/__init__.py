"""The DuckDB store: connections, schema and migrations, transactions, dataset version."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from dashboard import catalogue
from dashboard.config import settings
from dashboard.store import derived

# Version 1: the canonical model. Every imported row carries import_id so an import can be undone.
_V1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE SEQUENCE import_seq START 1;
CREATE TABLE imports (
    import_id INTEGER PRIMARY KEY DEFAULT nextval('import_seq'),
    kind VARCHAR NOT NULL,
    file_name VARCHAR,
    sha256 VARCHAR,
    rows INTEGER,
    user_name VARCHAR,
    imported_at TIMESTAMP DEFAULT current_timestamp,
    profile VARCHAR,
    status VARCHAR DEFAULT 'active',   -- active | undone
    undone_at TIMESTAMP
);

CREATE TABLE mapping_profiles (
    name VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    header_signature VARCHAR NOT NULL,
    mapping_json VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE sites (
    site VARCHAR PRIMARY KEY,
    latitude DOUBLE,
    longitude DOUBLE
);

CREATE SEQUENCE unit_seq START 1;
CREATE TABLE units (
    unit_id INTEGER PRIMARY KEY DEFAULT nextval('unit_seq'),
    team VARCHAR NOT NULL UNIQUE,      -- normalised display name
    directorate VARCHAR,
    site VARCHAR,
    import_id INTEGER
);

CREATE TABLE staff_in_post (
    unit_id INTEGER NOT NULL,
    month DATE NOT NULL,               -- first day of the month
    headcount INTEGER,
    fte DOUBLE,
    import_id INTEGER,
    PRIMARY KEY (unit_id, month)
);

CREATE SEQUENCE wave_seq START 1;
CREATE TABLE waves (
    wave_id INTEGER PRIMARY KEY DEFAULT nextval('wave_seq'),
    label VARCHAR NOT NULL UNIQUE,
    fielded_on DATE NOT NULL          -- mid-point of fieldwork; decides before/after an intervention
);

CREATE SEQUENCE response_seq START 1;
CREATE TABLE responses (
    response_id BIGINT PRIMARY KEY,
    wave_id INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    staff_group VARCHAR,
    respondent_key VARCHAR,            -- keyed hash, never the raw identifier
    import_id INTEGER
);

-- Long layout: one row per answered item. See docs/architecture.md for the measured trade-off.
CREATE TABLE answers (
    response_id BIGINT NOT NULL,
    item_id VARCHAR NOT NULL,
    value TINYINT NOT NULL
);

-- Respondent-level indicator values derived from answers and the catalogue (refresh_scores).
CREATE TABLE respondent_scores (
    response_id BIGINT NOT NULL,
    indicator_id VARCHAR NOT NULL,
    value DOUBLE NOT NULL
);

-- Pre-aggregated survey results (unit x wave x indicator with its base n).
CREATE TABLE survey_aggregates (
    unit_id INTEGER NOT NULL,
    wave_id INTEGER NOT NULL,
    indicator_id VARCHAR NOT NULL,
    value DOUBLE NOT NULL,
    n INTEGER NOT NULL,
    import_id INTEGER
);

CREATE SEQUENCE episode_seq START 1;
CREATE TABLE absence_episodes (
    episode_id BIGINT PRIMARY KEY,
    employee_key VARCHAR NOT NULL,     -- keyed hash
    unit_id INTEGER NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,                     -- NULL: still absent, runs to the end of the data
    fte DOUBLE NOT NULL DEFAULT 1.0,
    reason_code VARCHAR NOT NULL DEFAULT 'S99',
    days_lost DOUBLE,                  -- as uploaded, if given
    staff_group VARCHAR,
    import_id INTEGER
);

-- Monthly absence aggregates as ESR reports give them.
CREATE TABLE absence_monthly (
    unit_id INTEGER NOT NULL,
    month DATE NOT NULL,
    reason_code VARCHAR,
    fte_days_lost DOUBLE NOT NULL,
    fte_days_available DOUBLE,
    import_id INTEGER
);

CREATE SEQUENCE intervention_seq START 1;
CREATE TABLE interventions (
    intervention_id INTEGER PRIMARY KEY DEFAULT nextval('intervention_seq'),
    name VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    indicators VARCHAR[] NOT NULL,
    notes VARCHAR,
    import_id INTEGER
);

CREATE TABLE intervention_units (
    intervention_id INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    PRIMARY KEY (intervention_id, unit_id)
);

-- The catalogue's item rules, loaded from TOML so scoring stays in SQL with no code edits.
CREATE TABLE cat_items (
    item_id VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    combine VARCHAR NOT NULL,
    event_min INTEGER,
    reverse BOOLEAN NOT NULL,
    scale_min INTEGER NOT NULL,
    scale_max INTEGER NOT NULL
);
"""

# Version 8 (issue 15): the framework's own tools. The diagnostic self-assessment and the
# improvement plan are the organisation's records, kept apart from imported data (no import_id);
# the register gains the fields evaluation reviews ask for (all optional: older rows stay valid).
_V8 = """
CREATE SEQUENCE assessment_seq START 1;
CREATE TABLE diagnostic_assessments (
    assessment_id INTEGER PRIMARY KEY DEFAULT nextval('assessment_seq'),
    element_id VARCHAR NOT NULL,       -- data/diagnostic.toml
    rating INTEGER NOT NULL,           -- a level of the maturity scale in data/diagnostic.toml
    evidence VARCHAR,
    assessed_on DATE NOT NULL,
    assessed_by VARCHAR NOT NULL,
    recorded_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE action_seq START 1;
CREATE TABLE plan_actions (
    action_id INTEGER PRIMARY KEY DEFAULT nextval('action_seq'),
    title VARCHAR NOT NULL,
    gap_kind VARCHAR NOT NULL,         -- domain | indicator | team
    gap_id VARCHAR,                    -- domain or indicator id (catalogue)
    unit_id INTEGER,                   -- the team, for a team gap
    owner VARCHAR NOT NULL,
    due_date DATE NOT NULL,
    status VARCHAR NOT NULL,
    intervention_id INTEGER,           -- set when the action became a register entry
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE progress_seq START 1;
CREATE TABLE plan_progress (
    note_id INTEGER PRIMARY KEY DEFAULT nextval('progress_seq'),
    action_id INTEGER NOT NULL,
    noted_on DATE NOT NULL,
    note VARCHAR NOT NULL
);

ALTER TABLE interventions ADD COLUMN prevention_level VARCHAR;
ALTER TABLE interventions ADD COLUMN resources VARCHAR[];
ALTER TABLE interventions ADD COLUMN driver VARCHAR;
ALTER TABLE interventions ADD COLUMN stage VARCHAR;
ALTER TABLE interventions ADD COLUMN cost DOUBLE;
"""

# Version 2 (issue 9): custom indicators the user defines for an answer column that fits no
# catalogue scale, their raw respondent values, and published organisation-level results that
# came without a base (n not given: no intervals, never used for team comparisons).
_V2 = """
CREATE TABLE custom_indicators (
    indicator_id VARCHAR PRIMARY KEY,  -- 'custom_' + slug of the name
    label VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    favourable VARCHAR NOT NULL,       -- low | high
    rule_op VARCHAR NOT NULL,          -- '>=' | '<=': a respondent counts when value op rule_value
    rule_value DOUBLE NOT NULL,
    source_column VARCHAR,
    import_id INTEGER
);

CREATE TABLE custom_answers (
    response_id BIGINT NOT NULL,
    indicator_id VARCHAR NOT NULL,
    value DOUBLE NOT NULL              -- as uploaded; the rule is applied in refresh_scores
);

CREATE TABLE published_figures (
    wave_id INTEGER NOT NULL,
    indicator_id VARCHAR NOT NULL,
    value DOUBLE NOT NULL,             -- proportion 0-1 or mean 1-5, organisation level, no n
    import_id INTEGER
);
"""

# Each open issue owns its own migration number (9 -> 2, 10 -> 3, 11 -> 4, 12 -> 5, 13 -> 6,
# 14 -> 7, 15 -> 8) so parallel work merges without renumbering; versions may have gaps.
MIGRATIONS: dict[int, str] = {1: _V1}
MIGRATIONS[2] = _V2
MIGRATIONS[8] = _V8

# Version 3 (issue 10): derived tables (absence spells, absence by unit x month, survey cells).
_V3 = derived.SCHEMA
MIGRATIONS[3] = _V3

# Version 7 (issue 14): local accounts and SSO role mapping, and the append-only audit trail.
_V7 = """
CREATE TABLE users (
    username VARCHAR NOT NULL UNIQUE,  -- lower case; the e-mail address for single sign-on
    role VARCHAR NOT NULL,             -- admin | analyst | manager | viewer
    directorates VARCHAR[] NOT NULL,   -- a manager's scope
    teams VARCHAR[] NOT NULL,
    password_hash VARCHAR,             -- bcrypt; NULL for a single-sign-on-only account
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE SEQUENCE audit_seq START 1;
CREATE TABLE audit_log (
    audit_id BIGINT DEFAULT nextval('audit_seq'),
    logged_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    who VARCHAR NOT NULL,
    role VARCHAR,
    action VARCHAR NOT NULL,
    detail VARCHAR,
    scope VARCHAR
);
"""
MIGRATIONS[7] = _V7

# Version 4 (issue 10): each wave's fieldwork-period absence, stored with the release (derived.py).
_V4 = derived.WAVE_SCHEMA
MIGRATIONS[4] = _V4

# Version 5 (issue 10): each wave's fieldwork-period absence per standard scope (derived.py).
_V5 = derived.SCOPE_SCHEMA
MIGRATIONS[5] = _V5

# Version 6 (issue 10): intervention evaluations with the default settings, stored at import
# (stats/evaluation.py: store_all) and read by Where to look and the Interventions page.
_V6 = """
CREATE TABLE IF NOT EXISTS evaluation_store (
    threshold INTEGER NOT NULL,
    intervention_id INTEGER NOT NULL,
    inputs VARCHAR NOT NULL,        -- code, derived-table signatures, register and waves prints
    record VARCHAR NOT NULL,        -- the intervention's own record as evaluated
    payload BLOB NOT NULL           -- the Evaluation, read back by a restricted unpickler
);
"""
MIGRATIONS[6] = _V6

# Version 9 (issue 10): the units with any absence record, for the register's status (derived.py).
MIGRATIONS[9] = derived.UNITS_SCHEMA

# Version 10 (issue 10): Where to look's figures for a wave with the default absence period,
# stored when first worked out and read by every later view (metrics/briefing.py).
_V10 = """
CREATE TABLE IF NOT EXISTS briefing_store (
    threshold INTEGER NOT NULL,
    wave_id INTEGER NOT NULL,
    inputs VARCHAR NOT NULL,        -- code, catalogue, settings, derived-table and small-table prints
    payload BLOB NOT NULL           -- the figures and their findings, read by a restricted unpickler
);
"""
MIGRATIONS[10] = _V10
MIGRATIONS[11] = derived.STORE_QUALITY
# Version 12: derived tables worked out from numbers no import accepts now are marked stale, so
# the store says which imports to undo instead of failing on them (derived.forget_bad).
MIGRATIONS[12] = "SELECT 1"
# Version 13 (issue 10): every offered cut's released survey figures, stored with the release
# (derived.FIGURES_SCHEMA) and filled here for a store imported before it.
MIGRATIONS[13] = derived.FIGURES_SCHEMA
SCHEMA_VERSION = max(MIGRATIONS)
# The versions a store had run when it did not yet record them (meta 'migrations'): every one of
# these up to its schema_version. A version added below a store's schema_version later (4 came
# after 7 and 8) still runs on it.
_BEFORE_RECORDED = (1, 2, 3, 7, 8)


def connect(path: Path | str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store (creating and migrating it if needed)."""
    path = Path(path) if path is not None else settings().db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        migrate(con)
        sync_catalogue(con)
        restrict_permissions(path)
    load_custom(con)
    return con


def restrict_permissions(path: Path) -> None:
    """Owner-only (0600) store and write-ahead log: they hold special-category health data."""
    for file in (path, path.with_name(path.name + ".wal")):
        with suppress(FileNotFoundError, PermissionError):
            os.chmod(file, 0o600)


def load_custom(con: duckdb.DuckDBPyConnection) -> None:
    """Join the store's custom indicators to the catalogue (after connect, import and undo)."""
    if schema_version(con) < 2:
        catalogue.set_custom(())
        return
    rows = con.execute(
        "SELECT indicator_id, label, domain, favourable, rule_op, rule_value FROM custom_indicators"
    ).fetchall()
    catalogue.set_custom(catalogue.custom_indicator(*r) for r in rows)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"store schema {current} is newer than this app ({SCHEMA_VERSION})")
    recorded = get_meta(con, "migrations") if current else None
    applied = ({int(v) for v in recorded.split(",")} if recorded
               else {v for v in _BEFORE_RECORDED if v <= current})
    for version in sorted(set(MIGRATIONS) - applied):
        with transaction(con):
            con.execute(MIGRATIONS[version])
            applied.add(version)
            current = max(current, version)
            set_meta(con, "schema_version", str(current))
            set_meta(con, "migrations", ",".join(str(v) for v in sorted(applied)))
            if version == 1:
                set_meta(con, "dataset_version", "0")
            if version == 3:
                # a store holding numbers no import accepts opens; its figures say what to undo
                with suppress(derived.BadNumbers):
                    derived.refresh(con)
            if version == 12:
                derived.forget_bad(con)
            if version in (4, 5):
                derived.store_absence_waves(con)
            if version == 13:
                with suppress(derived.BadNumbers):   # as for version 3: the pages say what to undo
                    derived.store_survey_figures(con)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: commit on success, roll back on any exception."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def snapshot(con: duckdb.DuckDBPyConnection) -> Iterator[int]:
    """A read transaction: every query inside sees one dataset version (yielded), even while an
    import commits on another cursor. Use a cursor of its own, as for any transaction."""
    con.execute("BEGIN TRANSACTION")
    derived.SNAPSHOTS.add(con)
    try:
        yield dataset_version(con)
    finally:
        derived.SNAPSHOTS.discard(con)
        con.execute("ROLLBACK")  # nothing to keep: reads only


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def dataset_version(con: duckdb.DuckDBPyConnection) -> int:
    """Changes on every import or undo; caches are keyed by it."""
    return int(get_meta(con, "dataset_version", "0"))


def bump_version(con: duckdb.DuckDBPyConnection, refuse_bad_numbers: bool = True) -> int:
    """Mark a change of data; derived tables are brought up to date in the same transaction.

    A store holding numbers no import accepts (derived.BadNumbers) refuses the change, unless
    refuse_bad_numbers is False (an undo; a catalogue change as the store opens): then its
    derived tables stay out of date and every figure says what to undo."""
    try:
        derived.refresh(con)
    except derived.BadNumbers:
        if refuse_bad_numbers:
            raise
    version = dataset_version(con) + 1
    set_meta(con, "dataset_version", str(version))
    return version


DATA_TABLES = (
    "units", "sites", "staff_in_post", "waves", "responses", "answers", "survey_aggregates",
    "absence_episodes", "absence_monthly", "interventions", "intervention_units",
)

# The organisation's own records (self-assessments, the improvement plan): cleared with its data,
# but not "data" for is_empty (recording an assessment must not block loading the demo).
RECORD_TABLES = ("diagnostic_assessments", "plan_progress", "plan_actions")


# Added by migration 2; kept apart from DATA_TABLES so that tuple stays as other code knows it.
CUSTOM_TABLES = ("custom_answers", "custom_indicators", "published_figures")


def clear_data(con: duckdb.DuckDBPyConnection) -> None:
    """Delete every organisation row and the import log; call inside a transaction.

    The catalogue (cat_items) and saved mapping profiles are configuration and stay.
    """
    for table in (*DATA_TABLES, *CUSTOM_TABLES, *RECORD_TABLES, "respondent_scores", "imports"):
        con.execute(f"DELETE FROM {table}")  # names from this module, never user input


def remove_demo(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the store of the demo organisation so real data never mixes with fictional staff."""
    with transaction(con):
        clear_data(con)
        set_meta(con, "is_demo", "false")
        set_meta(con, "dataset_name", "No data loaded")
        bump_version(con)
    load_custom(con)


def set_dataset_name(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """The organisation's name for the banner (trimmed, at most 120 characters)."""
    name = " ".join(name.split())[:120]
    if not name:
        raise ValueError("the organisation name is empty")
    with transaction(con):
        set_meta(con, "dataset_name", name)
        bump_version(con)


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """True when no organisation data at all is stored (structure-only counts as data)."""
    total = " + ".join(f"(SELECT count(*) FROM {t})" for t in (*DATA_TABLES, "published_figures"))
    return con.execute(f"SELECT {total}").fetchone()[0] == 0


def dataset_info(con: duckdb.DuckDBPyConnection) -> dict:
    """Name of the dataset and whether it is the bundled demo, for the banner."""
    name = get_meta(con, "dataset_name", "No data loaded")
    latest = None
    if schema_version(con) >= 1:
        latest = con.execute(
            "SELECT import_id, file_name FROM imports WHERE status = 'active' ORDER BY import_id DESC LIMIT 1"
        ).fetchone()
    if name == "No data loaded" and latest:
        # Data has arrived before anyone named the organisation: say what is loaded, at once.
        name = f"Unnamed organisation (latest import #{latest[0]}: {latest[1]}; name it on the Data page)"
    return {
        "name": name,
        "is_demo": get_meta(con, "is_demo", "false") == "true",
        "version": dataset_version(con),
    }


def sync_catalogue(con: duckdb.DuckDBPyConnection, force: bool = False) -> bool:
    """Reload cat_items and re-derive respondent scores when the TOML catalogue has changed."""
    cat = catalogue.get()
    if not force and get_meta(con, "catalogue_fingerprint") == cat.fingerprint:
        return False
    rows = [
        (
            item.id,
            ind_id,
            cat.indicators[ind_id].kind,
            cat.indicators[ind_id].combine,
            cat.indicators[ind_id].event_min,
            item.reverse,
            item.scale.min,
            item.scale.max,
        )
        for item in cat.items.values()
        for ind_id in item.indicators
    ]
    with transaction(con):
        con.execute("DELETE FROM cat_items")
        con.executemany("INSERT INTO cat_items VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        refresh_scores(con)
        set_meta(con, "catalogue_fingerprint", cat.fingerprint)
        bump_version(con, refuse_bad_numbers=False)
    return True


# "Any of" indicators (combine = "any"): a respondent counts yes when any answered item is at
# or above event_min; no only when every item of the indicator asked in their wave was
# answered below it; otherwise (some skipped, none yes) the value is missing and the
# respondent is left out. Counting a skipped item as "no" biased such indicators down
# (issue 11: bullying from managers or colleagues 22.10% against 22.62% on complete cases).
# "Asked in their wave" means answered by anyone in that wave, so an item dropped from a
# questionnaire does not turn every respondent of that wave into a missing value.
_SCORES_SQL = """
INSERT INTO respondent_scores
WITH recoded AS (
    SELECT
        a.response_id,
        r.wave_id,
        a.item_id,
        c.indicator_id,
        c.kind,
        c.combine,
        c.event_min,
        -- reverse-scored items flip so that the high end is always the favourable one
        CASE WHEN c.reverse THEN c.scale_min + c.scale_max - a.value ELSE a.value END AS v
    FROM answers AS a
    JOIN responses AS r USING (response_id)
    JOIN cat_items AS c USING (item_id)
),
asked AS (
    SELECT wave_id, indicator_id, count(DISTINCT item_id) AS items
    FROM recoded
    GROUP BY wave_id, indicator_id
),
scored AS (
    SELECT
        response_id,
        wave_id,
        indicator_id,
        any_value(kind) AS kind,
        any_value(combine) AS combine,
        count(DISTINCT item_id) AS answered,
        avg(v) AS item_mean,
        max(CASE WHEN v >= event_min THEN 1.0 ELSE 0.0 END) AS any_event,
        avg(CASE WHEN v >= event_min THEN 1.0 ELSE 0.0 END) AS share_event
    FROM recoded
    GROUP BY response_id, wave_id, indicator_id
),
valued AS (
    SELECT
        s.response_id,
        s.indicator_id,
        CASE
            WHEN s.kind = 'mean' THEN s.item_mean
            WHEN s.combine = 'any' THEN
                CASE WHEN s.any_event = 1.0 THEN 1.0 WHEN s.answered = k.items THEN 0.0 END
            ELSE s.share_event
        END AS value
    FROM scored AS s
    JOIN asked AS k USING (wave_id, indicator_id)
)
SELECT response_id, indicator_id, value FROM valued WHERE value IS NOT NULL
"""


# A custom indicator is a proportion: 1 when the uploaded value meets the user's rule.
_CUSTOM_SCORES_SQL = """
INSERT INTO respondent_scores
SELECT a.response_id, a.indicator_id,
       CASE WHEN (c.rule_op = '>=' AND a.value >= c.rule_value)
              OR (c.rule_op = '<=' AND a.value <= c.rule_value) THEN 1.0 ELSE 0.0 END
FROM custom_answers AS a
JOIN custom_indicators AS c USING (indicator_id)
"""


def refresh_scores(con: duckdb.DuckDBPyConnection) -> None:
    """Re-derive respondent_scores from answers; call inside the import's transaction."""
    con.execute("DELETE FROM respondent_scores")
    con.execute(_SCORES_SQL)
    con.execute(_CUSTOM_SCORES_SQL)
