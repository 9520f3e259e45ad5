"""What the store holds: one line per kind of data, with counts and the period it covers."""
from __future__ import annotations

import duckdb
import pandas as pd

# (what, SQL returning (count, first, last)); organisation-wide totals only, never by group.
_QUERIES: tuple[tuple[str, str], ...] = (
    ("Survey waves", "SELECT count(*), min(fielded_on), max(fielded_on) FROM waves"),
    ("Survey responses", "SELECT count(*), min(w.fielded_on), max(w.fielded_on) "
                         "FROM responses AS r JOIN waves AS w USING (wave_id)"),
    ("Survey results (pre-aggregated rows)",
     "SELECT count(*), min(w.fielded_on), max(w.fielded_on) "
     "FROM survey_aggregates AS a JOIN waves AS w USING (wave_id)"),
    ("Teams", "SELECT count(*), NULL, NULL FROM units"),
    ("Sites (with map coordinates)",
     "SELECT count(*) FILTER (WHERE latitude IS NOT NULL AND longitude IS NOT NULL), NULL, NULL FROM sites"),
    ("Staff-in-post rows (team x month)", "SELECT count(*), min(month), max(month) FROM staff_in_post"),
    ("Absence episodes", "SELECT count(*), min(start_date), max(coalesce(end_date, start_date)) "
                         "FROM absence_episodes"),
    ("Monthly absence rows", "SELECT count(*), min(month), max(month) FROM absence_monthly"),
    ("Interventions", "SELECT count(*), min(start_date), max(start_date) FROM interventions"),
)


def summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """[what, count, first, last]: every kind of data in the store and the dates it spans."""
    rows = []
    for what, sql in _QUERIES:
        count, first, last = con.execute(sql).fetchone()
        rows.append({"what": what, "count": int(count or 0), "first": first, "last": last})
    return pd.DataFrame(rows)


def waves(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """[wave, fielded_on, responses]: each survey wave with its organisation-wide responses."""
    return con.execute(
        """
        SELECT w.label AS wave, w.fielded_on, count(r.response_id) AS responses
        FROM waves AS w LEFT JOIN responses AS r USING (wave_id)
        GROUP BY ALL ORDER BY w.fielded_on
        """
    ).df()
