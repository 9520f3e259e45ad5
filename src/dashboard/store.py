"""The DuckDB store: connections, schema and migrations, transactions, dataset version."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from dashboard import catalogue, derived
from dashboard.config import settings

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

# Each open issue owns its own migration number (9 -> 2, 10 -> 3, 11 -> 4, 12 -> 5, 13 -> 6,
# 14 -> 7, 15 -> 8) so parallel work merges without renumbering; versions may have gaps.
MIGRATIONS: dict[int, str] = {1: _V1}
# Version 3 (issue 10): derived tables (absence spells, absence by unit x month, survey cells).
_V3 = derived.SCHEMA
MIGRATIONS[3] = _V3
SCHEMA_VERSION = max(MIGRATIONS)


def connect(path: Path | str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store (creating and migrating it if needed)."""
    path = Path(path) if path is not None else settings().db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        migrate(con)
        sync_catalogue(con)
    return con


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
    for version in sorted(v for v in MIGRATIONS if v > current):
        with transaction(con):
            con.execute(MIGRATIONS[version])
            set_meta(con, "schema_version", str(version))
            if version == 1:
                set_meta(con, "dataset_version", "0")
            if version == 3:
                derived.refresh(con)


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


def bump_version(con: duckdb.DuckDBPyConnection) -> int:
    """Mark a change of data; derived tables are brought up to date in the same transaction."""
    derived.refresh(con)
    version = dataset_version(con) + 1
    set_meta(con, "dataset_version", str(version))
    return version


DATA_TABLES = (
    "units", "sites", "staff_in_post", "waves", "responses", "answers", "survey_aggregates",
    "absence_episodes", "absence_monthly", "interventions", "intervention_units",
)


def clear_data(con: duckdb.DuckDBPyConnection) -> None:
    """Delete every organisation row and the import log; call inside a transaction.

    The catalogue (cat_items) and saved mapping profiles are configuration and stay.
    """
    for table in (*DATA_TABLES, "respondent_scores", "imports"):
        con.execute(f"DELETE FROM {table}")  # names from this module, never user input


def remove_demo(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the store of the demo organisation so real data never mixes with fictional staff."""
    with transaction(con):
        clear_data(con)
        set_meta(con, "is_demo", "false")
        set_meta(con, "dataset_name", "No data loaded")
        bump_version(con)


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
    total = " + ".join(f"(SELECT count(*) FROM {t})" for t in DATA_TABLES)
    return con.execute(f"SELECT {total}").fetchone()[0] == 0


def dataset_info(con: duckdb.DuckDBPyConnection) -> dict:
    """Name of the dataset and whether it is the bundled demo, for the banner."""
    return {
        "name": get_meta(con, "dataset_name", "No data loaded"),
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
        bump_version(con)
    return True


_SCORES_SQL = """
INSERT INTO respondent_scores
WITH recoded AS (
    SELECT
        a.response_id,
        c.indicator_id,
        c.kind,
        c.combine,
        c.event_min,
        -- reverse-scored items flip so that the high end is always the favourable one
        CASE WHEN c.reverse THEN c.scale_min + c.scale_max - a.value ELSE a.value END AS v
    FROM answers AS a
    JOIN cat_items AS c USING (item_id)
)
SELECT
    response_id,
    indicator_id,
    CASE
        WHEN any_value(kind) = 'mean' THEN avg(v)
        WHEN any_value(combine) = 'any' THEN max(CASE WHEN v >= event_min THEN 1.0 ELSE 0.0 END)
        ELSE avg(CASE WHEN v >= event_min THEN 1.0 ELSE 0.0 END)
    END AS value
FROM recoded
GROUP BY response_id, indicator_id
"""


def refresh_scores(con: duckdb.DuckDBPyConnection) -> None:
    """Re-derive respondent_scores from answers; call inside the import's transaction."""
    con.execute("DELETE FROM respondent_scores")
    con.execute(_SCORES_SQL)
