"""Sickness-absence rates on the NHS definition: FTE days lost / FTE days available."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

# Calendar days (the NHS convention). Exact duplicate episodes are counted once; an open
# episode (no end date) runs to the end of the data, the last month with staff in post.
_PERIOD_SQL = """
WITH bounds AS (
    SELECT CAST(? AS DATE) AS p_start, CAST(? AS DATE) AS p_end
),
data_end AS (
    SELECT max(last_day(month)) AS d FROM staff_in_post
),
episodes AS (
    SELECT DISTINCT employee_key, unit_id, start_date,
           coalesce(end_date, (SELECT d FROM data_end)) AS end_date, fte, reason_code
    FROM absence_episodes
    WHERE CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), unit_id)
),
clipped AS (
    SELECT e.reason_code, e.fte,
           date_diff('day', greatest(e.start_date, b.p_start), least(e.end_date, b.p_end)) + 1 AS days
    FROM episodes AS e, bounds AS b
    WHERE e.start_date <= b.p_end AND e.end_date >= b.p_start
),
lost AS (
    SELECT coalesce(sum(days * fte), 0) AS fte_days_lost,
           coalesce(sum(CASE WHEN reason_code = 'S10' THEN days * fte END), 0) AS s10_days,
           count(*) AS episodes
    FROM clipped
),
available AS (
    SELECT sum(s.fte * (date_diff('day', greatest(s.month, b.p_start),
                                  least(last_day(s.month), b.p_end)) + 1)) AS fte_days_available,
           max(s.headcount) AS max_headcount
    FROM staff_in_post AS s, bounds AS b
    WHERE s.month <= b.p_end AND last_day(s.month) >= b.p_start
      AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), s.unit_id))
)
SELECT l.fte_days_lost, a.fte_days_available, l.s10_days, l.episodes
FROM lost AS l, available AS a
"""


def period_summary(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    unit_ids: Sequence[int] | None = None,
) -> dict:
    """FTE days lost and available, rate and S10 share over [start, end] inclusive.

    rate is None when no FTE days are available (no figure, never zero or infinity).
    """
    units = list(unit_ids) if unit_ids is not None else None
    lost, available, s10, episodes = con.execute(
        _PERIOD_SQL, [start, end, units, units, units, units]
    ).fetchone()
    available = float(available) if available else 0.0
    return {
        "fte_days_lost": float(lost),
        "fte_days_available": available,
        "rate": float(lost) / available if available > 0 else None,
        "s10_share": float(s10) / float(lost) if lost else None,
        "episodes": int(episodes),
    }
