"""Atomic import into the store (one transaction), the import log, duplicate-file check and undo."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from dashboard import store
from dashboard.framework import interventions

Progress = Callable[[float, str], None]

# Stored team names are already trimmed with single spaces, so lower() gives the matching key.
_UNIT_KEYS = """
CREATE OR REPLACE TEMP TABLE _unit_keys AS
SELECT unit_id, lower(regexp_replace(trim(team), '\\s+', ' ', 'g')) AS team_key FROM units
"""

_TABLES_WITH_IMPORT_ID = [
    "responses",
    "survey_aggregates",
    "absence_episodes",
    "absence_monthly",
    "staff_in_post",
]


class NothingNew(ValueError):
    """The upload adds no row the store does not already hold; nothing is written or logged."""


def _settle(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB refuses (un)registering while a result is pending; finish it with a trivial query."""
    con.execute("SELECT 1").fetchall()


class _Frames:
    """Register pandas frames as DuckDB views for the duration of a load; always unregistered."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.names: list[str] = []

    def add(self, name: str, frame: pd.DataFrame) -> None:
        _settle(self.con)
        self.con.register(name, frame)
        self.names.append(name)

    def close(self) -> None:
        _settle(self.con)
        for name in self.names:
            self.con.unregister(name)


def same_file(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple | None:
    """An active earlier import of exactly this file: (import_id, imported_at, kind)."""
    return con.execute(
        "SELECT import_id, imported_at, kind FROM imports WHERE sha256 = ? AND status = 'active' "
        "ORDER BY import_id DESC LIMIT 1",
        [sha256],
    ).fetchone()


def _units(con: duckdb.DuckDBPyConnection, import_id: int, update: bool) -> None:
    con.execute(
        """
        INSERT INTO units (team, directorate, site, import_id)
        SELECT n.team, n.directorate, n.site, ?
        FROM _in_units AS n
        WHERE n.team_key NOT IN (SELECT lower(regexp_replace(trim(team), '\\s+', ' ', 'g')) FROM units)
        """,
        [import_id],
    )
    con.execute(_UNIT_KEYS)
    # The structure file is the authority on directorate and site; other files only fill blanks.
    assign = "coalesce(n.{c}, units.{c})" if update else "coalesce(units.{c}, n.{c})"
    con.execute(
        f"""
        UPDATE units SET directorate = {assign.format(c="directorate")}, site = {assign.format(c="site")}
        FROM _in_units AS n JOIN _unit_keys AS k USING (team_key)
        WHERE units.unit_id = k.unit_id
        """
    )


def _waves(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO waves (label, fielded_on) SELECT label, CAST(fielded_on AS DATE) FROM _in_waves "
        "WHERE label NOT IN (SELECT label FROM waves)"
    )


def _survey(con: duckdb.DuckDBPyConnection, import_id: int, tables: dict[str, pd.DataFrame]) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _resp AS "
        "SELECT nextval('response_seq') AS response_id, r.* FROM _in_responses AS r"
    )
    con.execute(
        """
        INSERT INTO responses (response_id, wave_id, unit_id, staff_group, respondent_key, import_id)
        SELECT r.response_id, w.wave_id, k.unit_id, r.staff_group, r.respondent_key, ?
        FROM _resp AS r
        JOIN waves AS w ON w.label = r.wave
        JOIN _unit_keys AS k USING (team_key)
        """,
        [import_id],
    )
    # Wide answers are unpivoted by DuckDB (NULLs, i.e. unanswered items, are dropped by UNPIVOT).
    if len(tables["answers"].columns) > 1:
        con.execute(
            """
            INSERT INTO answers (response_id, item_id, value)
            WITH long AS (
                UNPIVOT _in_answers ON COLUMNS(* EXCLUDE (row_no)) INTO NAME item_id VALUE value
            )
            SELECT r.response_id, l.item_id, CAST(l.value AS TINYINT)
            FROM long AS l JOIN _resp AS r USING (row_no)
            """
        )
    if "custom_indicators" in tables:
        con.execute(
            """
            INSERT INTO custom_indicators
                (indicator_id, label, domain, favourable, rule_op, rule_value, source_column, import_id)
            SELECT indicator_id, label, domain, favourable, rule_op, rule_value, source_column, ?
            FROM _in_custom_indicators
            WHERE indicator_id NOT IN (SELECT indicator_id FROM custom_indicators)
            """,
            [import_id],
        )
        con.execute(
            """
            INSERT INTO custom_answers (response_id, indicator_id, value)
            WITH long AS (
                UNPIVOT _in_custom_answers ON COLUMNS(* EXCLUDE (row_no)) INTO NAME indicator_id VALUE value
            )
            SELECT r.response_id, l.indicator_id, CAST(l.value AS DOUBLE)
            FROM long AS l JOIN _resp AS r USING (row_no)
            """
        )
    con.execute("DROP TABLE _resp")
    store.refresh_scores(con)


def _published(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    con.execute(
        """
        INSERT INTO published_figures (wave_id, indicator_id, value, import_id)
        SELECT w.wave_id, p.indicator_id, p.value, ?
        FROM _in_published AS p JOIN waves AS w ON w.label = p.wave
        WHERE NOT EXISTS (
            SELECT 1 FROM published_figures AS x
            WHERE x.wave_id = w.wave_id AND x.indicator_id = p.indicator_id
        )
        """,
        [import_id],
    )


def _aggregates(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    con.execute(
        """
        INSERT INTO survey_aggregates (unit_id, wave_id, indicator_id, value, n, import_id)
        SELECT k.unit_id, w.wave_id, a.indicator_id, a.value, a.n, ?
        FROM _in_aggregates AS a
        JOIN waves AS w ON w.label = a.wave
        JOIN _unit_keys AS k USING (team_key)
        WHERE NOT EXISTS (
            SELECT 1 FROM survey_aggregates AS s
            WHERE s.unit_id = k.unit_id AND s.wave_id = w.wave_id AND s.indicator_id = a.indicator_id
        )
        """,
        [import_id],
    )


def _episodes(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    con.execute(
        """
        INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date, fte,
                                      reason_code, days_lost, staff_group, import_id)
        WITH incoming AS (
            SELECT e.*, k.unit_id, CAST(e.start_date AS DATE) AS s, CAST(e.end_date AS DATE) AS f
            FROM _in_episodes AS e JOIN _unit_keys AS k USING (team_key)
        )
        SELECT nextval('episode_seq'), i.employee_key, i.unit_id, i.s, i.f, i.fte, i.reason_code,
               i.days_lost, i.staff_group, ?
        FROM incoming AS i
        WHERE NOT EXISTS (
            SELECT 1 FROM absence_episodes AS x
            WHERE x.employee_key = i.employee_key AND x.unit_id = i.unit_id
              AND x.start_date = i.s AND x.end_date IS NOT DISTINCT FROM i.f
        )
        """,
        [import_id],
    )


def _absence_monthly(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    con.execute(
        """
        INSERT INTO absence_monthly
            (unit_id, month, reason_code, fte_days_lost, fte_days_available, import_id)
        SELECT k.unit_id, CAST(m.month AS DATE), m.reason_code, m.fte_days_lost, m.fte_days_available, ?
        FROM _in_absence_monthly AS m JOIN _unit_keys AS k USING (team_key)
        WHERE NOT EXISTS (
            SELECT 1 FROM absence_monthly AS x
            WHERE x.unit_id = k.unit_id AND x.month = CAST(m.month AS DATE)
              AND x.reason_code IS NOT DISTINCT FROM m.reason_code
        )
        """,
        [import_id],
    )


def _staff_in_post(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    con.execute(
        """
        INSERT INTO staff_in_post (unit_id, month, headcount, fte, import_id)
        SELECT k.unit_id, CAST(s.month AS DATE), CAST(s.headcount AS INTEGER), s.fte, ?
        FROM _in_staff_in_post AS s JOIN _unit_keys AS k USING (team_key)
        WHERE NOT EXISTS (
            SELECT 1 FROM staff_in_post AS x WHERE x.unit_id = k.unit_id AND x.month = CAST(s.month AS DATE)
        )
        """,
        [import_id],
    )


def _sites(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO sites SELECT site, latitude, longitude FROM _in_sites WHERE true "
        "ON CONFLICT (site) DO UPDATE SET latitude = coalesce(excluded.latitude, latitude), "
        "longitude = coalesce(excluded.longitude, longitude)"
    )


def _interventions(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, import_id: int) -> None:
    # A handful of rows per file: one insert each, to get the new id for the team links.
    for row in frame.itertuples(index=False):
        new_id = con.execute(
            "INSERT INTO interventions (name, domain, start_date, end_date, indicators, notes, import_id, "
            "prevention_level, resources, driver, stage, cost) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING intervention_id",
            [
                row.name,
                row.domain,
                pd.Timestamp(row.start_date).date(),
                None if pd.isna(row.end_date) else pd.Timestamp(row.end_date).date(),
                list(row.indicators),
                None if pd.isna(row.notes) else row.notes,
                import_id,
                *_register_values(row),
            ],
        ).fetchone()[0]
        if row.team_keys:
            con.execute(
                "INSERT INTO intervention_units SELECT DISTINCT ?, unit_id FROM _unit_keys "
                "WHERE list_contains(CAST(? AS VARCHAR[]), team_key)",
                [new_id, list(row.team_keys)],
            )


def _register_values(row) -> list:
    """prevention_level, resources, driver, stage, cost of one prepared row (older prepared
    frames without them load as not recorded); the transform step has checked them."""
    return interventions.RegisterFields.from_row(row).validated().values()


def overlaps(con: duckdb.DuckDBPyConnection, kind: str, tables: dict[str, pd.DataFrame]) -> int:
    """Rows already in the store (same person/team/dates, same team-month); the load skips them."""
    sql = {
        "absence": (
            "episodes",
            "SELECT count(*) FROM _chk AS e JOIN _keys AS k USING (team_key) JOIN absence_episodes AS x "
            "ON x.employee_key = e.employee_key AND x.unit_id = k.unit_id "
            "AND x.start_date = CAST(e.start_date AS DATE) "
            "AND x.end_date IS NOT DISTINCT FROM CAST(e.end_date AS DATE)",
        ),
        "staff_in_post": (
            "staff_in_post",
            "SELECT count(*) FROM _chk AS s JOIN _keys AS k USING (team_key) JOIN staff_in_post AS x "
            "ON x.unit_id = k.unit_id AND x.month = CAST(s.month AS DATE)",
        ),
        "absence_monthly": (
            "absence_monthly",
            "SELECT count(*) FROM _chk AS s JOIN _keys AS k USING (team_key) JOIN absence_monthly AS x "
            "ON x.unit_id = k.unit_id AND x.month = CAST(s.month AS DATE) "
            "AND x.reason_code IS NOT DISTINCT FROM s.reason_code",
        ),
        "survey_aggregate": (
            "aggregates",
            "SELECT count(*) FROM _chk AS a JOIN _keys AS k USING (team_key) "
            "JOIN waves AS w ON w.label = a.wave "
            "JOIN survey_aggregates AS x ON x.unit_id = k.unit_id AND x.wave_id = w.wave_id "
            "AND x.indicator_id = a.indicator_id",
        ),
        "published": (
            "published",
            "SELECT count(*) FROM _chk AS p JOIN waves AS w ON w.label = p.wave "
            "JOIN published_figures AS x ON x.wave_id = w.wave_id AND x.indicator_id = p.indicator_id",
        ),
    }.get("published" if "published" in tables else kind)
    if sql is None or sql[0] not in tables:
        return 0
    _settle(con)
    con.register("_chk", tables[sql[0]])
    try:
        keys = "(SELECT unit_id, lower(regexp_replace(trim(team), '\\s+', ' ', 'g')) AS team_key FROM units)"
        return int(con.execute(sql[1].replace("_keys", keys)).fetchall()[0][0])
    finally:
        _settle(con)
        con.unregister("_chk")


_PRIMARY = {
    "survey": "responses",
    "survey_aggregate": "survey_aggregates",
    "absence": "absence_episodes",
    "absence_monthly": "absence_monthly",
    "staff_in_post": "staff_in_post",
    "structure": "units",
    "interventions": "interventions",
}


def commit(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    tables: dict[str, pd.DataFrame],
    *,
    file_name: str,
    sha256: str,
    user: str,
    profile: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Write everything in one transaction and log it; on any failure nothing at all is written."""
    step = progress or (lambda _f, _m: None)
    frames = _Frames(con)
    try:
        for name, frame in tables.items():
            frames.add(f"_in_{name}", frame)
        with store.transaction(con):
            import_id = con.execute(
                "INSERT INTO imports (kind, file_name, sha256, rows, user_name, profile) "
                "VALUES (?, ?, ?, 0, ?, ?) RETURNING import_id",
                [kind, file_name, sha256, user, profile],
            ).fetchone()[0]
            step(0.1, "teams")
            if "units" in tables:
                _units(con, import_id, update=kind == "structure")
            else:
                con.execute(_UNIT_KEYS)
            if "waves" in tables:
                _waves(con)
            step(0.3, "rows")
            if kind == "survey":
                step(0.4, "answers and scores")
                _survey(con, import_id, tables)
            elif kind == "survey_aggregate" and "published" in tables:
                _published(con, import_id)
            elif kind == "survey_aggregate":
                _aggregates(con, import_id)
            elif kind == "absence":
                _episodes(con, import_id)
            elif kind == "absence_monthly":
                _absence_monthly(con, import_id)
            elif kind == "staff_in_post":
                _staff_in_post(con, import_id)
            elif kind == "structure" and "sites" in tables:
                _sites(con)
            elif kind == "interventions":
                _interventions(con, tables["interventions"], import_id)
            step(0.9, "log")
            table = "published_figures" if "published" in tables else _PRIMARY[kind]
            rows = con.execute(f"SELECT count(*) FROM {table} WHERE import_id = ?", [import_id]).fetchone()[0]
            if kind == "structure":
                rows = len(tables.get("units", ()))
            if rows == 0:
                # Every row was already stored: not an import, so no log entry (rolled back).
                raise NothingNew("nothing new: every row in this file is already in the store")
            con.execute("UPDATE imports SET rows = ? WHERE import_id = ?", [rows, import_id])
            con.execute("DROP TABLE IF EXISTS _unit_keys")
            store.bump_version(con)
    finally:
        frames.close()
    step(1.0, "done")
    return int(import_id)


def undo(con: duckdb.DuckDBPyConnection, import_id: int) -> dict:
    """Remove every row an import added (one transaction); teams and waves it created go if now unused."""
    row = con.execute("SELECT kind, status FROM imports WHERE import_id = ?", [import_id]).fetchone()
    if row is None:
        raise ValueError(f"there is no import #{import_id}")
    if row[1] != "active":
        raise ValueError(f"import #{import_id} was already undone")
    removed: dict[str, int] = {}
    with store.transaction(con):
        con.execute(
            "DELETE FROM answers WHERE response_id IN "
            "(SELECT response_id FROM responses WHERE import_id = ?)",
            [import_id],
        )
        con.execute(
            "DELETE FROM custom_answers WHERE response_id IN "
            "(SELECT response_id FROM responses WHERE import_id = ?)",
            [import_id],
        )
        removed["published_figures"] = con.execute(
            "DELETE FROM published_figures WHERE import_id = ?", [import_id]
        ).fetchone()[0]
        for table in _TABLES_WITH_IMPORT_ID:
            removed[table] = con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id]).fetchone()[
                0
            ]
        con.execute(
            "DELETE FROM intervention_units WHERE intervention_id IN "
            "(SELECT intervention_id FROM interventions WHERE import_id = ?)",
            [import_id],
        )
        removed["interventions"] = con.execute(
            "DELETE FROM interventions WHERE import_id = ?", [import_id]
        ).fetchone()[0]
        removed["units"] = con.execute(
            """
            DELETE FROM units WHERE import_id = ? AND unit_id NOT IN (
                SELECT unit_id FROM responses UNION ALL SELECT unit_id FROM survey_aggregates
                UNION ALL SELECT unit_id FROM absence_episodes UNION ALL SELECT unit_id FROM absence_monthly
                UNION ALL SELECT unit_id FROM staff_in_post UNION ALL SELECT unit_id FROM intervention_units)
            """,
            [import_id],
        ).fetchone()[0]
        con.execute(
            "DELETE FROM waves WHERE wave_id NOT IN "
            "(SELECT wave_id FROM responses UNION ALL SELECT wave_id FROM survey_aggregates "
            "UNION ALL SELECT wave_id FROM published_figures)"
        )
        # A custom indicator goes with the last answers that used it.
        con.execute(
            "DELETE FROM custom_indicators "
            "WHERE indicator_id NOT IN (SELECT indicator_id FROM custom_answers)"
        )
        if row[0] == "survey":
            store.refresh_scores(con)
        con.execute(
            "UPDATE imports SET status = 'undone', undone_at = current_timestamp WHERE import_id = ?",
            [import_id],
        )
        # an undo is how a store holding numbers no import accepts is put right: another
        # import's such numbers must not stop it (its figures keep saying what to undo)
        store.bump_version(con, refuse_bad_numbers=False)
    store.load_custom(con)
    return removed


def import_log(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    return con.execute(
        "SELECT import_id, kind, file_name, rows, user_name, imported_at, profile, status, undone_at, sha256 "
        "FROM imports ORDER BY import_id DESC LIMIT ?",
        [limit],
    ).df()
