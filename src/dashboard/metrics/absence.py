"""Sickness-absence analytics on the NHS definition: FTE days lost / FTE days available."""
from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd

from dashboard import periods, privacy
from dashboard.config import DATA_DIR
from dashboard.privacy import release
from dashboard.store import derived, groups, query

DAY_COUNTS: dict[str, str] = {
    "calendar": "Calendar days (NHS convention, 365-day year)",
    "working": "Working days (Monday to Friday)",
}

BRADFORD_CAVEAT = (
    "The Bradford Factor (S\u00b2 \u00d7 D: spells squared times days, rolling 52 weeks) is widely "
    "used and widely criticised: it penalises disabled staff and people with chronic conditions. "
    "It is shown here only as a distribution for a group, never to rank or single out individuals."
)
# Common HR trigger points (51, 125, 400, 650) as bands; only counts per group are ever shown.
BRADFORD_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-50", 0, 50),
    ("51-124", 51, 124),
    ("125-399", 125, 399),
    ("400-649", 400, 649),
    ("650+", 650, math.inf),
)

MEASURES: dict[str, str] = {
    "rate": "Sickness absence rate",
    "s10_share": "Share of days lost to anxiety/stress/depression (S10)",
    "msk_share": "Share of days lost to musculoskeletal problems (S11/S12)",
}


@lru_cache(maxsize=1)
def _reasons_file() -> dict:
    with open(DATA_DIR / "absence_reasons.toml", "rb") as fh:
        return tomllib.load(fh)


def reason_labels() -> dict[str, str]:
    """ESR reason code -> label (S10-S99), from data/absence_reasons.toml."""
    return dict(_reasons_file()["reasons"])


def reason_groups() -> dict[str, list[str]]:
    """Named reason groups: mental_health (S10), musculoskeletal (S11/S12), unknown (S99)."""
    return {k: list(v) for k, v in _reasons_file()["groups"].items()}


def _ready(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The connection, once the derived absence tables match their sources."""
    derived.ensure(con, "absence")
    return con


def _check_day_count(day_count: str) -> str:
    if day_count not in DAY_COUNTS:
        raise ValueError(f"unknown day count {day_count!r}; choose from {sorted(DAY_COUNTS)}")
    return day_count


def _days_sql(a: str, b: str, day_count: str) -> str:
    """SQL for the number of counted days in [a, b] (a <= b); a and b are fixed SQL expressions."""
    if _check_day_count(day_count) == "calendar":
        return f"(date_diff('day', {a}, {b}) + 1)"

    # Weekdays in [1900-01-01 (a Monday), d] is 5 per whole week plus min(rest, 5): closed form,
    # so a five-year episode costs the same as a one-day one.
    def upto(d: str, shift: int) -> str:
        k = f"(date_diff('day', DATE '1900-01-01', {d}) + {shift})"
        return f"(5 * ({k} // 7) + least({k} % 7, 5))"

    return f"({upto(b, 1)} - {upto(a, 0)})"


def _in_list(col: str, values: Sequence[str]) -> str:
    # Codes come from our own TOML (validated as S + digits), never from uploads.
    codes = [c for c in values if c[:1] == "S" and c[1:].isdigit()]
    return f"{col} IN ({', '.join(repr(c) for c in codes)})" if codes else "FALSE"


# The core CTE chain, bound parameters: period start, period end, unit ids (NULL = all).
# scoped   -> pieces of spells from the derived table absence_spells (overlapping records of one
#             employee merged once per import, FTE, team and reason kept per assignment)
# pieces   -> each piece split at month ends and clipped to the period; days by the day count
# unit_month -> numerator from episodes, or from absence_monthly where a unit-month has no
#             episodes; denominator = staff-in-post FTE x counted days (headcount when FTE is
#             missing, flagged), or the monthly aggregate's own FTE days available
_CORE_SQL = """
WITH params AS (
    SELECT CAST(? AS DATE) AS p_start, CAST(? AS DATE) AS p_end, CAST(? AS INTEGER[]) AS scope_ids
),
scoped AS (
    SELECT s.*
    FROM absence_spells AS s, params AS p
    WHERE p.scope_ids IS NULL OR list_contains(p.scope_ids, s.unit_id)
),
months AS (
    SELECT s.*,
           CAST(unnest(generate_series(date_trunc('month', greatest(s.start_date, p.p_start)),
                                       date_trunc('month', least(s.end_date, p.p_end)),
                                       INTERVAL 1 MONTH)) AS DATE) AS month
    FROM scoped AS s, params AS p
    WHERE s.start_date <= p.p_end AND s.end_date >= p.p_start
),
pieces AS (
    SELECT m.*,
           greatest(m.start_date, m.month, p.p_start) AS a,
           least(m.end_date, last_day(m.month), p.p_end) AS b
    FROM months AS m, params AS p
),
piece_days AS (
    SELECT *, {piece_days} AS days FROM pieces
),
ep_umr AS (
    SELECT unit_id, month, reason_code, sum(days * fte) AS lost
    FROM piece_days
    GROUP BY ALL
),
ep_um AS (
    SELECT DISTINCT unit_id, month FROM ep_umr
),
agg AS (
    -- a month only partly inside the period counts pro rata by calendar days (rate unchanged)
    SELECT m.unit_id, CAST(date_trunc('month', m.month) AS DATE) AS month, m.reason_code,
           m.fte_days_lost * f.frac AS lost, m.fte_days_available * f.frac AS available,
           m.fte_days_available / (date_diff('day', date_trunc('month', m.month), last_day(m.month)) + 1)
               AS fte_equiv
    FROM absence_monthly AS m, params AS p,
         LATERAL (
             SELECT (date_diff('day', greatest(m.month, p.p_start), least(last_day(m.month), p.p_end)) + 1)
                    / (date_diff('day', date_trunc('month', m.month), last_day(m.month)) + 1) AS frac
         ) AS f
    WHERE m.month <= p.p_end AND last_day(m.month) >= p.p_start
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, m.unit_id))
),
agg_only AS (
    SELECT a.* FROM agg AS a ANTI JOIN ep_um AS e USING (unit_id, month)
),
umr AS (
    SELECT unit_id, month, reason_code, lost, 'episodes' AS source FROM ep_umr
    UNION ALL
    SELECT unit_id, month, reason_code, lost, 'monthly' AS source FROM agg_only
),
um_lost AS (
    SELECT unit_id, month, sum(lost) AS lost,
           -- monthly totals without a reason breakdown count in days lost, not in reason shares
           coalesce(sum(lost) FILTER (WHERE reason_code IS NOT NULL), 0) AS reason_days,
           coalesce(sum(lost) FILTER (WHERE {s10}), 0) AS s10_days,
           coalesce(sum(lost) FILTER (WHERE {msk}), 0) AS msk_days,
           coalesce(sum(lost) FILTER (WHERE {s99}), 0) AS s99_days,
           any_value(source) AS source
    FROM umr
    GROUP BY unit_id, month
),
agg_um AS (
    -- ESR repeats FTE days available on each reason row of a unit-month: take it once
    SELECT unit_id, month, max(available) AS available, max(fte_equiv) AS fte_equiv
    FROM agg_only GROUP BY unit_id, month
),
sip AS (
    SELECT s.unit_id, s.month, s.headcount, s.fte,
           coalesce(s.fte, s.headcount)
               * {sip_days} AS available,
           s.fte IS NULL AND s.headcount IS NOT NULL AS fallback
    FROM staff_in_post AS s, params AS p
    WHERE s.month <= p.p_end AND last_day(s.month) >= p.p_start
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, s.unit_id))
),
unit_month AS (
    SELECT k.unit_id, k.month,
           coalesce(l.lost, 0) AS lost,
           coalesce(l.reason_days, 0) AS reason_days,
           coalesce(l.s10_days, 0) AS s10_days,
           coalesce(l.msk_days, 0) AS msk_days,
           coalesce(l.s99_days, 0) AS s99_days,
           coalesce(l.source, 'episodes') AS source,
           CASE WHEN l.source = 'monthly' THEN coalesce(a.available, s.available)
                ELSE s.available END AS available,
           -- without staff in post, FTE (days available / days in month) is a lower bound on
           -- headcount, so the anonymity test stays on the safe side
           coalesce(s.headcount, floor(a.fte_equiv)) AS headcount, s.fte,
           coalesce(s.fallback AND NOT (l.source = 'monthly' AND a.available IS NOT NULL), FALSE)
               AS fallback
    FROM (SELECT unit_id, month FROM um_lost UNION SELECT unit_id, month FROM sip) AS k
    LEFT JOIN um_lost AS l USING (unit_id, month)
    LEFT JOIN sip AS s USING (unit_id, month)
    LEFT JOIN agg_um AS a USING (unit_id, month)
)
"""


# Whole months only: unit-months and reason days straight from the derived tables.
_WHOLE_MONTHS = """
,
unit_month AS (
    SELECT d.* EXCLUDE (day_count) FROM absence_unit_month AS d, params AS p
    WHERE d.day_count = '{day_count}' AND d.month BETWEEN p.p_start AND p.p_end
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, d.unit_id))
),
umr AS (
    SELECT d.unit_id, d.month, d.reason_code, d.lost, d.source
    FROM absence_unit_month_reason AS d, params AS p
    WHERE d.day_count = '{day_count}' AND d.month BETWEEN p.p_start AND p.p_end
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, d.unit_id))
)
"""


# Edge months only: a period that starts or ends part-way through a month splits spells for those
# one or two months and reads every whole month in between from the derived tables.
_EDGE_PARAMS = """
WITH params AS (
    SELECT *,
           CASE WHEN day(p_start) = 1 THEN p_start
                ELSE CAST(date_trunc('month', p_start) + INTERVAL 1 MONTH AS DATE) END AS w_start,
           CASE WHEN p_end = last_day(p_end) THEN p_end
                ELSE CAST(date_trunc('month', p_end) - INTERVAL 1 DAY AS DATE) END AS w_end
    FROM (SELECT CAST(? AS DATE) AS p_start, CAST(? AS DATE) AS p_end, CAST(? AS INTEGER[]) AS scope_ids)
),"""

_EDGE_TAIL = """
,
unit_month AS (
    SELECT * FROM unit_month_edge
    UNION ALL BY NAME
    SELECT d.* EXCLUDE (day_count) FROM absence_unit_month AS d, params AS p
    WHERE d.day_count = '{day_count}' AND d.month BETWEEN p.w_start AND p.w_end
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, d.unit_id))
),
umr AS (
    SELECT * FROM umr_edge
    UNION ALL BY NAME
    SELECT d.unit_id, d.month, d.reason_code, d.lost, d.source
    FROM absence_unit_month_reason AS d, params AS p
    WHERE d.day_count = '{day_count}' AND d.month BETWEEN p.w_start AND p.w_end
      AND (p.scope_ids IS NULL OR list_contains(p.scope_ids, d.unit_id))
)
"""


def _edges(sql: str, day_count: str) -> str:
    """The core chain computing only a period's part-months (see _EDGE_PARAMS)."""
    head = sql.index("scoped AS (")
    sql = _EDGE_PARAMS + "\n" + sql[head:]
    edge = "(x.month < p.w_start OR x.month > p.w_end)"
    swaps = [
        ("""    FROM scoped AS s, params AS p
    WHERE s.start_date <= p.p_end AND s.end_date >= p.p_start
),
pieces AS (""", f"""    FROM scoped AS s, params AS p
    WHERE s.start_date <= p.p_end AND s.end_date >= p.p_start
      AND (s.start_date < p.w_start OR s.end_date > p.w_end)
),
edge_months AS (
    SELECT x.* FROM months AS x, params AS p WHERE {edge}
),
pieces AS ("""),
        ("    FROM months AS m, params AS p\n", "    FROM edge_months AS m, params AS p\n"),
        ("""    WHERE m.month <= p.p_end AND last_day(m.month) >= p.p_start
      AND (p.scope_ids""", """    WHERE m.month <= p.p_end AND last_day(m.month) >= p.p_start
      AND (date_trunc('month', m.month) < p.w_start OR date_trunc('month', m.month) > p.w_end)
      AND (p.scope_ids"""),
        ("""    WHERE s.month <= p.p_end AND last_day(s.month) >= p.p_start
      AND (p.scope_ids""", """    WHERE s.month <= p.p_end AND last_day(s.month) >= p.p_start
      AND (s.month < p.w_start OR s.month > p.w_end)
      AND (p.scope_ids"""),
        ("),\numr AS (\n", "),\numr_edge AS (\n"),
        ("    FROM umr\n", "    FROM umr_edge\n"),
        ("),\nunit_month AS (\n", "),\nunit_month_edge AS (\n"),
    ]
    for old, new in swaps:
        assert sql.count(old) == 1, old
        sql = sql.replace(old, new)
    return sql + _EDGE_TAIL.format(day_count=_check_day_count(day_count))


def whole_months(start: date, end: date) -> bool:
    """True when [start, end] runs from a first of the month to a last of the month."""
    return start.day == 1 and end == periods.month_end(end)


def _core(day_count: str, whole: bool = False, edges: bool = False) -> str:
    """The CTE chain; whole=True (a period of whole months) reads unit-months from the derived
    tables instead of splitting spells (the same numbers: they were built with this SQL);
    edges=True splits spells only for the part-months at either end. Both leave piece_days
    undefined or partial: only for queries of unit_month, umr and scoped."""
    if whole:
        cut = _CORE_SQL.index(",\nmonths AS (")
        return _CORE_SQL[:cut] + _WHOLE_MONTHS.format(day_count=_check_day_count(day_count))
    if edges:
        return _edges(_core(day_count), day_count)
    groups_ = reason_groups()
    return _CORE_SQL.format(
        piece_days=_days_sql("a", "b", day_count),
        sip_days=_days_sql("greatest(s.month, p.p_start)", "least(last_day(s.month), p.p_end)", day_count),
        s10=_in_list("reason_code", groups_["mental_health"]),
        msk=_in_list("reason_code", groups_["musculoskeletal"]),
        s99=_in_list("reason_code", groups_["unknown"]),
    )


# Spells split at month ends once, with both day counts side by side (the import-time refresh):
# the expensive part of the chain runs one time, not once per day count and table.
_EP_TABLE = "_absence_ep"


def _episode_months_sql() -> str:
    """SQL creating the temp table of episode days per unit x month x reason, for both day counts."""
    days = ", ".join(f"sum({_days_sql('a', 'b', dc)} * fte) AS lost_{dc}" for dc in DAY_COUNTS)
    return f"""
CREATE OR REPLACE TEMP TABLE {_EP_TABLE} AS
WITH months AS (
    SELECT s.unit_id, s.reason_code, s.fte, s.start_date, s.end_date,
           CAST(unnest(generate_series(date_trunc('month', s.start_date), date_trunc('month', s.end_date),
                                       INTERVAL 1 MONTH)) AS DATE) AS month
    FROM absence_spells AS s
),
pieces AS (
    SELECT unit_id, reason_code, fte, month,
           greatest(start_date, month) AS a, least(end_date, last_day(month)) AS b
    FROM months
)
SELECT unit_id, month, reason_code, {days}
FROM pieces
GROUP BY ALL
"""


def _core_from_episode_months(day_count: str) -> str:
    """The core chain over every date, reading episode days from the temp table of
    _episode_months_sql instead of splitting spells (same sums: the same pieces and days)."""
    sql = _core(day_count)
    cut, stop = sql.index(",\nmonths AS ("), sql.index(",\nep_um AS (")
    return (sql[:cut] + f""",
ep_umr AS (
    SELECT unit_id, month, reason_code, lost_{_check_day_count(day_count)} AS lost FROM {_EP_TABLE}
)""" + sql[stop:])


def _args(start: date, end: date, unit_ids: Sequence[int] | None) -> list:
    return [start, end, [int(u) for u in unit_ids] if unit_ids is not None else None]




# --- rates -------------------------------------------------------------------------------------

# Group-level monthly figures from unit-months. Unit-months with no denominator stay out of the
# rate (their days are reported as unmatched) so a missing staff-in-post row cannot inflate it.
_GROUP_MONTH_SQL = """
, grouped AS (
    SELECT {select} um.month,
           coalesce(sum(um.lost) FILTER (WHERE um.available > 0), 0) AS fte_days_lost,
           sum(um.available) FILTER (WHERE um.available > 0) AS fte_days_available,
           -- days of team-months with staff but no FTE days available; days of team-months with
           -- nobody in post belong to no group that can be released and are in no figure at all
           coalesce(sum(um.lost) FILTER (WHERE (um.available IS NULL OR um.available <= 0)
                                         AND um.headcount > 0), 0) AS unmatched_days_lost,
           sum(um.reason_days) AS reason_days, sum(um.s10_days) AS s10_days,
           sum(um.msk_days) AS msk_days, sum(um.s99_days) AS s99_days,
           sum(um.headcount) AS headcount, sum(um.fte) AS fte,
           CASE WHEN count(DISTINCT um.source) > 1 THEN 'mixed' ELSE any_value(um.source) END AS source,
           bool_or(um.fallback) AS headcount_fallback
    FROM unit_month AS um
    JOIN units AS u USING (unit_id)
    GROUP BY ALL
)
"""

# Staff groups have no staff in post, so no denominator: days lost only, and the group size for
# the anonymity rule is the number of distinct absent employees (a lower bound on headcount).
_STAFF_GROUP_MONTH_SQL = """
, grouped AS (
    SELECT {select} r.month,
           sum(r.days * r.fte) AS fte_days_lost,
           CAST(NULL AS DOUBLE) AS fte_days_available,
           0.0 AS unmatched_days_lost,
           sum(r.days * r.fte) AS reason_days,
           coalesce(sum(r.days * r.fte) FILTER (WHERE {s10}), 0) AS s10_days,
           coalesce(sum(r.days * r.fte) FILTER (WHERE {msk}), 0) AS msk_days,
           coalesce(sum(r.days * r.fte) FILTER (WHERE {s99}), 0) AS s99_days,
           count(DISTINCT r.employee_key) AS headcount, CAST(NULL AS DOUBLE) AS fte,
           'episodes' AS source, FALSE AS headcount_fallback
    FROM piece_days AS r
    JOIN units AS u USING (unit_id)
    GROUP BY ALL
)
"""


def _grouped_sql(by: tuple[str, ...], day_count: str, whole: bool = False, ordered: bool = False,
                 scopes: bool = False, more: Sequence[tuple[tuple[str, ...], str]] = ()) -> str:
    """The core chain and `grouped` (group x month); ordered=True adds each group-month's units
    exactly (_exact_sums), and a part-month's pieces and reasons too, so the sums are the same
    bit for bit on every run (a parallel aggregate adds doubles in no fixed order). scopes=True
    groups by `u.scope` of a CTE scope_unit (unit ids per scope, see period_summaries) instead of
    columns of units. more: other cuts, (by, CTE name), grouped from the same core, each its own
    CTE beside `grouped` (see team_periods)."""
    select = "u.scope, " if scopes else groups.select_list(by)
    if "staff_group" in by:
        g = reason_groups()
        tail = _STAFF_GROUP_MONTH_SQL.format(
            select=select,
            s10=_in_list("r.reason_code", g["mental_health"]),
            msk=_in_list("r.reason_code", g["musculoskeletal"]),
            s99=_in_list("r.reason_code", g["unknown"]),
        )
        return _core(day_count) + tail
    grouped = _GROUP_MONTH_SQL.format(select=select) + "".join(
        _GROUP_MONTH_SQL.format(select=groups.select_list(b)).replace(", grouped AS (", f", {name} AS (")
        for b, name in more)
    core = _core(day_count, whole, edges=not whole)
    if scopes:
        grouped = grouped.replace("JOIN units AS u USING (unit_id)", "JOIN scope_unit AS u USING (unit_id)")
    if ordered:
        grouped = _exact_sums(grouped)
        # part-months: a unit-month's pieces and reasons, too
        core = core if whole else _reasons_exactly(_pieces_exactly(core))
    return core + grouped


# A unit-month column's sum over a group-month, optionally with its FILTER clause.
_UNIT_SUM = re.compile(r"sum\(um\.(\w+)\)( FILTER \(WHERE (?:[^()]|\([^()]*\))*\))?")
# Columns the derived unit-months hold rounded to 1e-9 (derived.py), added exactly at that scale;
# the others (staff in post's headcount and FTE) at 1e-18, a rounding far below a double's own.
_ON_THE_NINTH_PLACE = {"lost", "available", "reason_days", "s10_days", "msk_days", "s99_days"}


def _exact_sums(grouped: str) -> str:
    """`grouped` adding each group-month's unit-months as DECIMAL, exactly, so the sums are the
    same bit for bit on every run whatever order a parallel aggregate meets them in.

    They were added as doubles in unit order (sum ... ORDER BY), which sorts every group: at
    national scale that was 0.21 of the 0.28 s of a period's rates for 2,000 teams; exactly, the
    query takes 0.08-0.11 s, with 6 of 7 columns identical and the seventh within 2e-16."""
    def exact(m: re.Match) -> str:
        scale = 9 if m.group(1) in _ON_THE_NINTH_PLACE else 18
        return f"CAST(sum(CAST(um.{m.group(1)} AS DECIMAL(38, {scale}))){m.group(2) or ''} AS DOUBLE)"

    out = _UNIT_SUM.sub(exact, grouped)
    assert "sum(um." not in out, out
    return out


def _pieces_exactly(core: str) -> str:
    """The core chain adding each unit-month's spell pieces as DECIMAL, exactly, so part-months
    give the same sums bit for bit on every run (a parallel aggregate adds doubles as its threads
    meet them). At 1e-18 a piece's days x FTE (at most 46.5) keeps all a double's digits but the
    last few of a tiny FTE's. They were added in a fixed order (sum ... ORDER BY), which sorted
    each unit-month's pieces: a quarter of a second of Where to look's reasons at national scale."""
    old = "sum(days * fte) AS lost"
    assert core.count(old) == 1, old
    return core.replace(old, "CAST(sum(CAST(days * fte AS DECIMAL(38, 18))) AS DOUBLE) AS lost")


# A unit-month's days by reason, optionally with a FILTER clause (the core chain's um_lost).
_REASON_SUM = re.compile(r"sum\(lost\)( FILTER \(WHERE (?:[^()]|\([^()]*\))*\))?")


def _reasons_exactly(core: str) -> str:
    """The core chain adding a part-month's reasons into its unit-month's days as DECIMAL,
    exactly (see _pieces_exactly), rather than in one order."""
    out = _REASON_SUM.sub(lambda m: f"CAST(sum(CAST(lost AS DECIMAL(38, 18))){m.group(1) or ''} AS DOUBLE)",
                          core)
    assert "sum(lost)" not in out, out
    return out


def _same_group(by: tuple[str, ...], left: str, right: str) -> str:
    return "".join(f" AND {left}.{b} IS NOT DISTINCT FROM {right}.{b}" for b in by)


def _monthly_raw(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    by: tuple[str, ...],
    unit_ids: Sequence[int] | None,
    day_count: str,
) -> pd.DataFrame:
    """Unsuppressed monthly figures per group for the months of [start, end], with rolling 12
    months and the same month a year earlier (computed from the 12 months before start)."""
    first, last = periods.month_start(start), periods.month_end(end)
    partition = ", ".join(by) if by else "1"
    cols = "".join(f"g.{b}, " for b in by)
    sql = (
        _grouped_sql(by, day_count, whole=True)
        + f"""
, rolled AS (
    SELECT *,
           sum(fte_days_lost) OVER w12 AS lost_12m,
           sum(fte_days_available) OVER w12 AS available_12m,
           count(fte_days_available) OVER w12 AS months_12m
    FROM grouped
    WINDOW w12 AS (PARTITION BY {partition} ORDER BY month
                   RANGE BETWEEN INTERVAL 11 MONTH PRECEDING AND CURRENT ROW)
)
SELECT {cols} g.month, g.fte_days_lost, g.fte_days_available,
       g.fte_days_lost / nullif(g.fte_days_available, 0) AS rate,
       g.unmatched_days_lost, g.reason_days, g.s10_days, g.msk_days, g.s99_days,
       g.s10_days / nullif(g.reason_days, 0) AS s10_share,
       g.msk_days / nullif(g.reason_days, 0) AS msk_share,
       g.s99_days / nullif(g.reason_days, 0) AS s99_share,
       -- a rolling figure only with all twelve months present
       CASE WHEN g.months_12m = 12 THEN g.lost_12m / nullif(g.available_12m, 0) END AS rate_12m,
       y.fte_days_lost / nullif(y.fte_days_available, 0) AS rate_last_year,
       g.headcount, g.fte, g.source, g.headcount_fallback
FROM rolled AS g
LEFT JOIN rolled AS y ON y.month = CAST(g.month - INTERVAL 12 MONTH AS DATE){_same_group(by, "y", "g")}
WHERE g.month >= ?
ORDER BY {cols} g.month
"""
    )
    frame = query.run(_ready(con), "absence.monthly", sql,
                      [*_args(periods.add_months(first, -12), last, unit_ids), first])
    frame["month"] = pd.to_datetime(frame["month"])
    for col in ("rate", "rate_12m", "rate_last_year", "s10_share", "msk_share", "s99_share"):
        frame[col] = frame[col].astype("float64")
    return frame


MONTHLY_VALUES = (
    "fte_days_lost", "fte_days_available", "rate", "unmatched_days_lost", "reason_days", "s10_days",
    "msk_days", "s99_days", "s10_share", "msk_share", "s99_share", "rate_12m", "rate_last_year", "fte",
)


@derived.reads(only="absence")
def monthly_rates(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    by: Sequence[str] = (),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
    windows: bool = True,
) -> pd.DataFrame:
    """Monthly absence rate per group for the months touching [start, end].

    Columns: [*by, month, fte_days_lost, fte_days_available, rate, unmatched_days_lost,
    reason_days, s10_days, msk_days, s99_days, s10_share, msk_share, s99_share, rate_12m,
    rate_last_year, headcount, fte, source, headcount_fallback, suppressed]. rate is NaN when no
    FTE days are available. A group-month with headcount below the threshold is blanked, and a
    sibling too where the parent total would give it away (privacy.suppress). windows=False
    leaves rate_12m and rate_last_year blank for callers that read neither (no release decided).
    """
    by = groups.validate(by)
    frame = _monthly_raw(con, start, end, by, unit_ids, day_count)
    if "staff_group" in by:
        return release.release_counts(frame, by, threshold, n_col="headcount", keys=("month",),
                                      value_cols=MONTHLY_VALUES)
    # Each figure is released on the months its days come from: the month itself, the twelve
    # months of the rolling rate, the month a year earlier (release.release).
    sets = release.members(con, frame, by, unit_ids)
    months = [pd.Timestamp(m).date() for m in frame["month"]]
    shown = release.release(con, threshold, [(g, (m,)) for g, m in zip(sets, months, strict=True)])
    rolling = last_year = np.zeros(len(frame), dtype=bool)
    if windows:
        rolling = release.release(con, threshold, [
            (g, periods.rolling_months(m, 12)) for g, m in zip(sets, months, strict=True)])
        last_year = release.release(con, threshold, [
            (g, (periods.same_month_last_year(m),)) for g, m in zip(sets, months, strict=True)])
    frame["rate_12m"] = frame["rate_12m"].where(rolling)
    frame["rate_last_year"] = frame["rate_last_year"].where(last_year)
    frame["suppressed"] = ~shown
    return privacy.blank(frame, ["headcount", *MONTHLY_VALUES])


@derived.reads(only="absence")
def period_summary(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
    threshold: int | None = None,
) -> dict:
    """FTE days lost and available, rate and reason shares over [start, end] inclusive.

    rate is None when no FTE days are available (no figure, never zero or infinity). episodes
    counts the de-duplicated spells touching the period. With a threshold, every figure is None
    unless the release shows the scope in every month of the period, and days lost in team-months
    without staff in post are never given; without one, unsuppressed (for internal use).
    """
    return period_summaries(con, start, end, {"scope": unit_ids}, day_count, threshold)["scope"]


# period_summary for several scopes in one statement. Each scope's units (NULL: every unit) are
# joined to the unit-months; sums run in unit order within a month and in month order over the
# months, so a scope's figures are the same bit for bit whichever other scopes share the
# statement (they are stored per wave and scope at import: team_absence.scope_release).
_SCOPES_SQL = """
, scope_list AS (
    SELECT unnest(CAST(? AS INTEGER[])) AS scope, unnest(CAST(? AS INTEGER[][])) AS units
),
listed AS (
    SELECT DISTINCT scope, unit_id FROM (SELECT scope, unnest(units) AS unit_id FROM scope_list
                                         WHERE units IS NOT NULL)
),
scope_unit AS (
    -- the units a figure adds up: those of the scope that are in units (the figures join units)
    SELECT sc.scope, u.unit_id FROM scope_list AS sc, units AS u WHERE sc.units IS NULL
    UNION ALL
    SELECT l.scope, l.unit_id FROM listed AS l SEMI JOIN units AS u USING (unit_id)
)
{grouped}
, sums AS (
    SELECT scope, coalesce(sum(fte_days_lost ORDER BY month), 0) AS lost,
           sum(fte_days_available ORDER BY month) AS available,
           sum(reason_days ORDER BY month) AS reason_days,
           sum(s10_days ORDER BY month) AS s10, sum(msk_days ORDER BY month) AS msk,
           sum(s99_days ORDER BY month) AS s99, sum(unmatched_days_lost ORDER BY month) AS unmatched
    FROM grouped GROUP BY scope
),
touching AS (
    SELECT s.spell_id, s.unit_id FROM scoped AS s, params AS p
    WHERE s.start_date <= p.p_end AND s.end_date >= p.p_start
),
spells AS (
    -- the organisation, every spell (period_summaries then reads every unit): a spell's pieces
    -- cover its days without a gap (only overlapping records merge), so it touches the period
    -- exactly when its span does, and it is counted once, from its one first piece. Counting
    -- distinct spell ids of the touching pieces hashed 3.2M at national scale, 0.46 CPU s.
    SELECT sc.scope, count(*) AS episodes
    FROM scope_list AS sc, absence_spells AS s, params AS p
    WHERE sc.units IS NULL AND s.first_piece AND s.spell_start <= p.p_end AND s.spell_end >= p.p_start
    GROUP BY sc.scope
    UNION ALL
    -- spells in the scope's units as listed (a spell's pieces can sit in several units)
    SELECT l.scope, count(DISTINCT t.spell_id) AS episodes
    FROM listed AS l JOIN touching AS t USING (unit_id) GROUP BY l.scope
)
SELECT sc.scope, coalesce(s.lost, 0), s.available, s.reason_days, s.s10, s.msk, s.s99, s.unmatched,
       coalesce(e.episodes, 0)
FROM scope_list AS sc LEFT JOIN sums AS s USING (scope) LEFT JOIN spells AS e USING (scope)
"""


def _scope_summaries_sql(day_count: str, whole: bool) -> str:
    sql = _grouped_sql((), day_count, whole, ordered=True, scopes=True)
    head = sql.index("\n, grouped AS (")
    # scope_unit goes before `grouped`, which reads it
    return sql[:head] + _SCOPES_SQL.format(grouped=sql[head:])


@derived.reads(only="absence")
def period_summaries(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    scopes: Mapping[str, Sequence[int] | None],
    day_count: str = "calendar",
    threshold: int | None = None,
) -> dict[str, dict]:
    """period_summary for several scopes (name -> unit ids, None: the organisation) at once:
    one statement and one release call for all of them; name -> period_summary's dict."""
    names = list(scopes)
    if not names:
        return {}
    lists = [None if u is None else sorted({int(x) for x in u}) for u in scopes.values()]
    # the chain reads only the units some scope needs (all of them when one is the organisation)
    needed = None if any(u is None for u in lists) else sorted({u for ids in lists for u in ids})
    # scopes by position: grouping by a short integer, not by a name
    rows = query.run_rows(
        _ready(con), "absence.period_summaries", _scope_summaries_sql(day_count, whole_months(start, end)),
        [*_args(start, end, needed), list(range(len(names))), lists])
    found = {names[r[0]]: r[1:] for r in rows}
    out = {}
    for name in names:
        lost, available, reason_days, s10, msk, s99, unmatched, episodes = found[name]
        available = float(available) if available else 0.0
        reason_days = float(reason_days or 0)

        def share(part, reason_days=reason_days) -> float | None:
            return float(part) / reason_days if reason_days > 0 else None

        out[name] = {
            "fte_days_lost": float(lost),
            "fte_days_available": available,
            "rate": float(lost) / available if available > 0 else None,
            "s10_share": share(s10),
            "msk_share": share(msk),
            "s99_share": share(s99),
            "unmatched_days_lost": float(unmatched or 0),
            "episodes": int(episodes),
        }
    if threshold is not None:
        withheld = _withheld_scopes(con, threshold, periods.months_of(start, end), lists)
        for name, hide in zip(names, withheld, strict=True):
            out[name] = {k: (None if hide else v) for k, v in out[name].items()}
            out[name]["suppressed"] = bool(hide)
    return out


@derived.reads(only="absence")
def data_end(con: duckdb.DuckDBPyConnection) -> date | None:
    """Where open episodes end: the last day of the latest staff-in-post month, or the latest
    episode date if later."""
    row = _ready(con).execute(
        """
        SELECT greatest(
            (SELECT max(last_day(month)) FROM staff_in_post),
            (SELECT max(greatest(start_date, end_date)) FROM absence_episodes))
        """
    ).fetchone()
    return row[0]


@derived.reads(only="absence")
def data_range(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First and last month (first days) with absence data: episodes or monthly aggregates."""
    row = _ready(con).execute(
        """
        SELECT least((SELECT min(month) FROM absence_monthly),
                     (SELECT min(start_date) FROM absence_episodes)),
               greatest((SELECT max(month) FROM absence_monthly),
                        (SELECT max(greatest(start_date, end_date)) FROM absence_episodes),
                        -- open episodes run on to the end of the staff-in-post data
                        CASE WHEN (SELECT count(*) FROM absence_episodes WHERE end_date IS NULL) > 0
                             THEN (SELECT max(month) FROM staff_in_post) END)
        """
    ).fetchone()
    if row[0] is None:
        return None
    return periods.month_start(row[0]), periods.month_start(row[1])


@derived.reads(only="absence")
def episode_quality(con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int] | None = None) -> dict:
    """Episode records, spells after merging overlapping records of one employee, duplicates
    merged, records dropped for ending before they start, and open episodes."""
    units = [int(u) for u in unit_ids] if unit_ids is not None else None
    con, found = _ready(con), None
    if units is None:   # the organisation's, kept by the absence refresh (none in an older store)
        stored = query.run_one(con, "absence.episode_quality_stored",
                               "SELECT (SELECT value FROM meta WHERE key = ?)", [derived.QUALITY_KEY])[0]
        found = json.loads(stored) if stored else None
    if found is None:
        found = query.run_one(con, "absence.episode_quality", derived.quality_sql(units is not None),
                              [] if units is None else [units, units])
    return {name: int(v) for name, v in zip(derived.QUALITY_FIELDS, found, strict=True)}


# --- group-level suppression for period figures ------------------------------------------------

def _group_sizes(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    by: tuple[str, ...],
    unit_ids: Sequence[int] | None,
) -> pd.DataFrame:
    """Per group: the smallest monthly headcount over the period (the anonymity test), or for
    staff groups the number of distinct absent employees."""
    if "staff_group" in by:
        sql = _core("calendar") + f"""
SELECT {groups.select_list(by)} count(DISTINCT r.employee_key) AS headcount
FROM piece_days AS r JOIN units AS u USING (unit_id)
GROUP BY ALL
"""
    else:
        sql = _core("calendar") + f"""
, monthly AS (
    SELECT {groups.select_list(by)} s.month, sum(s.headcount) AS headcount
    FROM sip AS s JOIN units AS u USING (unit_id)
    GROUP BY ALL
)
SELECT {groups.group_list(by)} min(headcount) AS headcount FROM monthly GROUP BY ALL
"""
    return query.run(_ready(con), "absence.group_sizes", sql, _args(start, end, unit_ids))


def _withheld(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    by: tuple[str, ...],
    threshold: int,
    months: Sequence[date],
    unit_ids: Sequence[int] | None,
) -> np.ndarray:
    """For each row of a frame grouped by `by` (within the scope unit_ids): whether the release
    withholds the group's units over `months` (release.release decides)."""
    sets = release.members(con, frame, by, unit_ids)
    return ~release.release(con, threshold, [(g, months) for g in sets])


def _withheld_scopes(
    con: duckdb.DuckDBPyConnection,
    threshold: int,
    months: Sequence[date],
    scopes: Sequence[Sequence[int] | None],
) -> np.ndarray:
    """_withheld for several whole scopes (unit ids, None: the organisation): each scope's units
    as release.members gives them (those in units), one release.release call for all."""
    units = {int(u) for (u,) in con.execute("SELECT unit_id FROM units").fetchall()}
    sets = [frozenset(units) if ids is None else frozenset(int(u) for u in ids if int(u) in units)
            for ids in scopes]
    return ~release.release(con, threshold, [(g, months) for g in sets])


def _release_groups(
    con: duckdb.DuckDBPyConnection,
    detail: pd.DataFrame,
    start: date,
    end: date,
    by: tuple[str, ...],
    threshold: int,
    value_cols: Sequence[str],
    unit_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Blank detail rows of every group the release withholds over the months of [start, end]
    (_withheld); staff groups, which have no staff in post, by their absent employees
    (release.release_counts). Adds each group's headcount (_group_sizes) and `suppressed`."""
    sizes = _group_sizes(con, start, end, by, unit_ids)
    if "staff_group" in by:
        flags = release.release_counts(sizes, by, threshold, n_col="headcount", keys=(), value_cols=())
    else:
        flags = sizes.copy()
        flags["suppressed"] = _withheld(con, flags, by, threshold, periods.months_of(start, end), unit_ids)
    if by:
        out = detail.merge(flags[[*by, "suppressed", "headcount"]], on=list(by), how="left")
    else:
        out = detail.assign(
            suppressed=bool(flags["suppressed"].iloc[0]) if len(flags) else True,
            headcount=flags["headcount"].iloc[0] if len(flags) else np.nan,
        )
    out["suppressed"] = out["suppressed"].fillna(True).astype(bool)
    return privacy.blank(out, value_cols).reset_index(drop=True)


# --- reasons -----------------------------------------------------------------------------------

@derived.reads(only="absence")
def reasons(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    by: Sequence[str] = (),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> pd.DataFrame:
    """FTE days lost by ESR reason per group over [start, end], with its share of days with a
    reason record. Columns: [*by, reason_code, reason, fte_days_lost, share, suppressed].
    Monthly totals without a reason breakdown appear as reason_code NA ("Not broken down")."""
    by = groups.validate(by)
    select = groups.select_list(by)
    # added as DECIMAL(38, 9), exactly (the derived unit-months are rounded to 1e-9): DuckDB adds
    # doubles in whatever order its threads meet them, and the same period gave a reason share
    # differing in the last bit from one call to the next, even on the demo. A part-month's
    # spell pieces are added exactly first (_pieces_exactly), before the decimal sum.
    if "staff_group" in by:
        body = f"""
SELECT {select} r.reason_code,
       CAST(sum(CAST(r.days * r.fte AS DECIMAL(38, 9))) AS DOUBLE) AS fte_days_lost
FROM piece_days AS r JOIN units AS u USING (unit_id)
GROUP BY ALL
"""
    else:
        body = f"""
SELECT {select} r.reason_code, CAST(sum(CAST(r.lost AS DECIMAL(38, 9))) AS DOUBLE) AS fte_days_lost
FROM umr AS r JOIN units AS u USING (unit_id)
GROUP BY ALL
"""
    whole = "staff_group" not in by and whole_months(start, end)
    edges = "staff_group" not in by and not whole
    core = _core(day_count, whole, edges)
    frame = query.run(_ready(con), "absence.reasons", (_pieces_exactly(core) if edges else core) + body,
                      _args(start, end, unit_ids))
    # rows in one order whatever order they came in, so each group's total (and every share)
    # is added the same way every time
    frame = frame.sort_values([*by, "reason_code"], kind="stable", na_position="last")
    keyed = frame[frame.reason_code.notna()]
    totals = keyed.groupby(list(by), dropna=False)["fte_days_lost"].transform("sum") if by else (
        keyed["fte_days_lost"].sum()
    )
    frame["share"] = (keyed["fte_days_lost"] / totals).reindex(frame.index)
    labels = reason_labels()
    frame["reason"] = frame["reason_code"].map(
        lambda c: "Not broken down by reason (monthly totals)" if pd.isna(c) else labels.get(c, c)
    )
    frame = frame.sort_values([*by, "fte_days_lost"], ascending=[True] * len(by) + [False], kind="stable")
    return _release_groups(con, frame, start, end, by, threshold, ("fte_days_lost", "share"), unit_ids)


# --- patterns ----------------------------------------------------------------------------------

@derived.reads(only="absence")
def patterns(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    by: Sequence[str] = (),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
    long_term_days: int = 28,
) -> pd.DataFrame:
    """Short- vs long-term split and spells per FTE per group over [start, end] (episodes only).

    A spell is long-term when it lasts long_term_days calendar days or more (data/settings.toml;
    open spells run to the end of the data). Spells count in the period they start; days are the
    FTE days lost inside the period. spells_per_fte = spells starting in the period / mean
    monthly FTE in post (none for staff groups, which have no staff in post).
    """
    by = groups.validate(by)
    select = groups.select_list(by)
    group = groups.group_list(by)
    sql = _core(day_count) + f"""
, starts AS (
    SELECT {select} count(*) FILTER (WHERE s.spell_days < ?) AS spells_short,
           count(*) FILTER (WHERE s.spell_days >= ?) AS spells_long
    FROM scoped AS s JOIN units AS u USING (unit_id), params AS p
    WHERE s.first_piece AND s.spell_start BETWEEN p.p_start AND p.p_end
    GROUP BY ALL
),
days AS (
    SELECT {select} coalesce(sum(r.days * r.fte) FILTER (WHERE r.spell_days < ?), 0) AS days_short,
           coalesce(sum(r.days * r.fte) FILTER (WHERE r.spell_days >= ?), 0) AS days_long
    FROM piece_days AS r JOIN units AS u USING (unit_id)
    GROUP BY ALL
),
keys AS (SELECT {group} 1 AS k FROM starts UNION SELECT {group} 1 AS k FROM days)
SELECT {"".join(f"k.{b}, " for b in by)}
       coalesce(st.spells_short, 0) AS spells_short, coalesce(st.spells_long, 0) AS spells_long,
       coalesce(d.days_short, 0) AS days_short, coalesce(d.days_long, 0) AS days_long
FROM keys AS k
LEFT JOIN starts AS st ON TRUE{_same_group(by, "st", "k")}
LEFT JOIN days AS d ON TRUE{_same_group(by, "d", "k")}
"""
    args = _args(start, end, unit_ids)
    frame = query.run(_ready(con), "absence.patterns", sql, [*args, *([long_term_days] * 4)])
    if "staff_group" in by:
        frame["mean_fte"] = np.nan
    else:
        fte = query.run(
            _ready(con), "absence.mean_fte",
            _core(day_count)
            + f"""
, monthly AS (
    SELECT {select} s.month, sum(s.fte) AS fte FROM sip AS s JOIN units AS u USING (unit_id)
    GROUP BY ALL
)
SELECT {group} avg(fte) AS mean_fte FROM monthly GROUP BY ALL
""",
            args,
        )
        if by:
            frame = frame.merge(fte, on=list(by), how="left")
        else:
            frame["mean_fte"] = fte["mean_fte"].iloc[0] if len(fte) else np.nan
            if frame.empty:
                frame = pd.DataFrame(
                    [{"spells_short": 0, "spells_long": 0, "days_short": 0.0, "days_long": 0.0,
                      "mean_fte": fte["mean_fte"].iloc[0] if len(fte) else np.nan}]
                )
    frame["mean_fte"] = frame["mean_fte"].astype("float64")
    frame["spells"] = frame.spells_short + frame.spells_long
    frame["days"] = frame.days_short + frame.days_long
    frame["long_share_spells"] = frame.spells_long / frame.spells.where(frame.spells > 0)
    frame["long_share_days"] = frame.days_long / frame.days.where(frame.days > 0)
    frame["spells_per_fte"] = frame.spells / frame.mean_fte.where(frame.mean_fte > 0)
    values = ("spells_short", "spells_long", "days_short", "days_long", "mean_fte", "spells", "days",
              "long_share_spells", "long_share_days", "spells_per_fte")
    return _release_groups(con, frame, start, end, by, threshold, values, unit_ids)


# --- seasonality -------------------------------------------------------------------------------

@derived.reads(only="absence")
def seasonality(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    by: Sequence[str] = (),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> pd.DataFrame:
    """Month-of-year profile: for each calendar month, FTE days lost / available summed over every
    year of [start, end]. Columns: [*by, month_of_year, month_name, fte_days_lost,
    fte_days_available, rate, years, suppressed]."""
    by = groups.validate(by)
    if "staff_group" in by:
        raise ValueError("no absence rate by staff group: staff in post has no staff group")
    group = groups.group_list(by)
    sql = _grouped_sql(by, day_count, whole=True) + f"""
SELECT {group} month(month) AS month_of_year,
       coalesce(sum(fte_days_lost), 0) AS fte_days_lost,
       sum(fte_days_available) AS fte_days_available,
       sum(fte_days_lost) / nullif(sum(fte_days_available), 0) AS rate,
       count(fte_days_available) AS years
FROM grouped
GROUP BY ALL
ORDER BY {group} month_of_year
"""
    frame = query.run(_ready(con), "absence.seasonality", sql,
                      _args(periods.month_start(start), periods.month_end(end), unit_ids))
    frame["rate"] = frame["rate"].astype("float64")
    frame["month_name"] = frame["month_of_year"].map(lambda m: date(2000, int(m), 1).strftime("%b"))
    return _release_groups(con, frame, periods.month_start(start), periods.month_end(end), by, threshold,
                           ("fte_days_lost", "fte_days_available", "rate"), unit_ids)


# --- Bradford Factor ---------------------------------------------------------------------------

@derived.reads(only="absence")
def bradford(
    con: duckdb.DuckDBPyConnection,
    end: date,
    threshold: int,
    by: Sequence[str] = (),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bradford Factor distribution per group over the 52 weeks (364 days) to `end`.

    Per employee S = spells touching the window, D = days absent inside it (day count as chosen),
    B = S^2 x D; an employee belongs to the group of their latest spell. Only group figures leave
    this function: (summary [*by, employees, headcount, median, p75, p90, suppressed],
    bands [*by, band, employees, share, suppressed]). A group is shown only when both its headcount
    and its absent employees reach the threshold, with complementary suppression.
    """
    by = groups.validate(by)
    start, end = periods.weeks_to(end, 52)
    select = groups.select_list(by)
    group = groups.group_list(by)
    spell_days = _days_sql("a", "b", day_count)
    per_employee = f"""
, employee AS (
    SELECT r.employee_key, count(DISTINCT r.spell_id) AS s, any_value(sd.d) AS d,
           arg_max(r.unit_id, r.start_date) AS unit_id,
           arg_max(r.staff_group, r.start_date) AS staff_group
    FROM piece_days AS r
    JOIN (
        SELECT employee_key, sum({spell_days}) AS d
        FROM (SELECT DISTINCT s.employee_key, s.spell_id,
                     greatest(s.spell_start, p.p_start) AS a, least(s.spell_end, p.p_end) AS b
              FROM scoped AS s, params AS p
              WHERE s.spell_start <= p.p_end AND s.spell_end >= p.p_start)
        GROUP BY employee_key
    ) AS sd USING (employee_key)
    GROUP BY r.employee_key
),
scored AS (
    SELECT {select} r.s * r.s * r.d AS b
    FROM employee AS r JOIN units AS u USING (unit_id)
)
"""
    # Band edges are our own constants (BRADFORD_BANDS), never user input.
    band_sql = " ".join(
        f"WHEN b >= {lo}" + (f" AND b <= {hi}" if math.isfinite(hi) else "") + f" THEN '{name}'"
        for name, lo, hi in BRADFORD_BANDS
    )
    args = _args(start, end, unit_ids)
    summary = query.run(
        _ready(con), "absence.bradford_summary",
        _core(day_count) + per_employee + f"""
SELECT {group} count(*) AS employees,
       quantile_cont(b, 0.5) AS median, quantile_cont(b, 0.75) AS p75, quantile_cont(b, 0.9) AS p90
FROM scored GROUP BY ALL
""",
        args,
    )
    bands = query.run(
        _ready(con), "absence.bradford_bands",
        _core(day_count) + per_employee + f"""
SELECT {group} CASE {band_sql} ELSE '0' END AS band, count(*) AS employees
FROM scored GROUP BY ALL
""",
        args,
    )
    sizes = _group_sizes(con, periods.month_start(start), end, by, unit_ids)
    if by:
        summary = summary.merge(sizes, on=list(by), how="left")
    else:
        summary["headcount"] = sizes["headcount"].iloc[0] if len(sizes) else np.nan
    # quantiles of a handful of people are close to individual figures: both counts must pass
    summary["n_check"] = np.fmin(summary["employees"].astype("float64"),
                                 summary["headcount"].astype("float64"))
    flagged = release.release_counts(summary, by, threshold, n_col="n_check", keys=(),
                       value_cols=("employees", "median", "p75", "p90"))
    flagged = flagged.drop(columns="n_check")
    if "staff_group" not in by:
        withheld = _withheld(con, flagged, by, threshold, periods.months_of(start, end), unit_ids)
        flagged["suppressed"] = flagged["suppressed"].astype(bool) | withheld
        privacy.blank(flagged, ("employees", "median", "p75", "p90", "headcount"))
    order = {name: i for i, (name, _, _) in enumerate(BRADFORD_BANDS)}
    if by:
        bands = bands.merge(flagged[[*by, "suppressed"]], on=list(by), how="left")
        totals = bands.groupby(list(by), dropna=False)["employees"].transform("sum")
    else:
        bands["suppressed"] = bool(flagged["suppressed"].iloc[0]) if len(flagged) else True
        totals = bands["employees"].sum()
    bands["share"] = bands["employees"] / totals
    bands["suppressed"] = bands["suppressed"].fillna(True).astype(bool)
    privacy.blank(bands, ("employees", "share"))
    bands["order"] = bands["band"].map(order)
    bands = bands.sort_values([*by, "order"]).drop(columns="order").reset_index(drop=True)
    return flagged.reset_index(drop=True), bands


# --- survey x absence --------------------------------------------------------------------------

def pearson_ci(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> dict:
    """Pearson r with its Fisher-z interval, p-value, and the least-squares line y = a + b x.

    r needs 3+ points with spread; the interval needs 4+ (se = 1 / sqrt(n - 3)).
    """
    from scipy import stats

    xs = np.asarray(x, dtype="float64")
    ys = np.asarray(y, dtype="float64")
    n = len(xs)
    out = {"n": n, "r": None, "lo": None, "hi": None, "p": None, "slope": None, "intercept": None,
           "level": level}
    if n < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return out
    res = stats.pearsonr(xs, ys)
    r = float(res.statistic)
    slope, intercept = np.polyfit(xs, ys, 1)
    out.update(r=r, p=float(res.pvalue), slope=float(slope), intercept=float(intercept))
    if n > 3:
        z = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15))
        half = stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
        out.update(lo=math.tanh(z - half), hi=math.tanh(z + half))
    return out


@derived.reads(only="absence")
def team_period(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    by: Sequence[str] = ("team",),
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> pd.DataFrame:
    """Unsuppressed per-group absence over [start, end]: fte_days_lost, fte_days_available, rate,
    s10_share, msk_share, s99_share and the smallest monthly headcount. For callers that suppress
    (survey x absence, drill-down)."""
    return team_periods(con, start, end, [by], unit_ids, day_count)[0]


# A period's figures per group from a group x month CTE. Months are added in month order: a
# parallel aggregate adds doubles in no fixed order, and the same period must give the same
# figures bit for bit (they are stored per wave at import).
_PERIOD_SELECT = """
SELECT {cut} AS cut, * FROM (
SELECT {group} coalesce(sum(fte_days_lost ORDER BY month), 0) AS fte_days_lost,
       sum(fte_days_available ORDER BY month) AS fte_days_available,
       sum(fte_days_lost ORDER BY month) / nullif(sum(fte_days_available ORDER BY month), 0) AS rate,
       sum(s10_days ORDER BY month) / nullif(sum(reason_days ORDER BY month), 0) AS s10_share,
       sum(msk_days ORDER BY month) / nullif(sum(reason_days ORDER BY month), 0) AS msk_share,
       sum(s99_days ORDER BY month) / nullif(sum(reason_days ORDER BY month), 0) AS s99_share,
       min(headcount) AS headcount
FROM {name}
GROUP BY ALL
)
"""
_PERIOD_COLUMNS = ["fte_days_lost", "fte_days_available", "rate", "s10_share", "msk_share", "s99_share",
                   "headcount"]


@derived.reads(only="absence")
def team_periods(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    cuts: Sequence[Sequence[str]],
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> list[pd.DataFrame]:
    """team_period for each of several cuts over one period, in one query: the period's spells
    are split and its unit-months read once, not once per cut (the release of each wave at import
    asks for four cuts over two periods). Each frame is the one team_period gives for its cut."""
    cuts = [groups.validate(by) for by in cuts]
    if not cuts:
        return []
    if any("staff_group" in by for by in cuts):
        raise ValueError("no absence rate by staff group: staff in post has no staff group")
    names = ["grouped", *(f"grouped_{k}" for k in range(1, len(cuts)))]
    sql = _grouped_sql(cuts[0], day_count, whole_months(start, end), ordered=True,
                       more=list(zip(cuts[1:], names[1:], strict=True)))
    sql += "\nUNION ALL BY NAME\n".join(
        _PERIOD_SELECT.format(cut=k, group=groups.group_list(by), name=name)
        for k, (by, name) in enumerate(zip(cuts, names, strict=True)))
    rows = query.run(_ready(con), "absence.period", sql, _args(start, end, unit_ids))
    frames = []
    for k, by in enumerate(cuts):
        frame = rows.loc[rows.cut == k, [*by, *_PERIOD_COLUMNS]]
        # groups in key order, not in the order a parallel aggregate happened to finish them
        frame = (frame.sort_values(list(by), kind="stable", na_position="last") if by else frame
                 ).reset_index(drop=True)
        frame[_PERIOD_COLUMNS] = frame[_PERIOD_COLUMNS].astype("float64")
        frames.append(frame)
    return frames


@derived.reads
def survey_vs_absence(
    con: duckdb.DuckDBPyConnection,
    indicator_id: str,
    wave_id: int,
    threshold: int,
    measure: str = "rate",
    day_count: str = "calendar",
) -> tuple[pd.DataFrame, dict]:
    """Team-level survey indicator (x) against absence (y) over the 12 months to the wave.

    Teams with fewer respondents or staff in post than the threshold are removed (and a sibling
    where needed, so the organisation figure cannot reveal them). Returns (teams [team, value, n,
    absence, headcount], stats from pearson_ci plus start, end, teams_removed).
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {sorted(MEASURES)}")
    start, end = periods.twelve_months_to(periods.fielded_on(_ready(con), wave_id))
    # Team survey figures only as the drill-down's release plan shows them, so the scatter can
    # never reveal a team the Teams page withholds (and through it a small sibling).
    survey = privacy.survey_figures(
        con, ("team",), threshold, wave_ids=[wave_id], indicator_ids=[indicator_id]
    )
    survey = survey.loc[~survey.suppressed, ["team", "value", "n"]]
    absent = period_rates(con, start, end, threshold, ("team",), day_count=day_count)
    # withheld teams keep their row with blank figures, so they count as removed below
    absent = absent[["team", measure, "headcount"]].rename(columns={measure: "absence"})
    frame = survey.merge(absent, on="team", how="outer")
    frame["n_check"] = np.fmin(frame["n"].astype("float64").fillna(0), frame["headcount"].fillna(0))
    flagged = release.release_counts(frame, ("team",), threshold, n_col="n_check", keys=(),
                       value_cols=("value", "n", "absence", "headcount"))
    kept = flagged[~flagged.suppressed & flagged.value.notna() & flagged.absence.notna()]
    kept = kept.drop(columns=["n_check", "suppressed"]).sort_values("team").reset_index(drop=True)
    result = pearson_ci(kept["value"], kept["absence"])
    # Each team counts once in r; weighted by respondents, large teams count for more. The two
    # differ when small teams sit at the extremes (issue 11: 0.35 against 0.22 on the demo).
    from dashboard.stats import weighted_pearson

    result.update(r_weighted=weighted_pearson(kept["value"], kept["absence"], kept["n"]),
                  start=start, end=end, teams_removed=int(len(frame) - len(kept)), measure=measure)
    return kept, result


@derived.reads(only="absence")
def period_rates(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    by: Sequence[str],
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> pd.DataFrame:
    """team_period with the anonymity rule applied: a group whose smallest monthly headcount is
    below the threshold is blanked, and a sibling where the parent total would reveal it."""
    return period_rates_of(con, start, end, threshold, [by], unit_ids, day_count)[0]


@derived.reads(only="absence")
def period_rates_of(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    threshold: int,
    cuts: Sequence[Sequence[str]],
    unit_ids: Sequence[int] | None = None,
    day_count: str = "calendar",
) -> list[pd.DataFrame]:
    """period_rates for each of several cuts over one period, from one query (team_periods)."""
    cuts = [groups.validate(by) for by in cuts]
    months = periods.months_of(start, end)
    out = []
    for by, frame in zip(cuts, team_periods(con, start, end, cuts, unit_ids, day_count), strict=True):
        frame["suppressed"] = _withheld(con, frame, by, threshold, months, unit_ids)
        out.append(privacy.blank(frame, _PERIOD_COLUMNS))
    return out


@derived.reads(only="absence")
def scope_options(
    con: duckdb.DuckDBPyConnection, start: date, end: date, threshold: int, cut: str
) -> pd.DataFrame:
    """The groups of one cut (directorate, team or site) a user may pick as the page's scope, with
    their unit ids: only groups shown under the anonymity rule over [start, end] (teams are
    checked within their directorate, so a picked team cannot be differenced from its parent)."""
    if cut not in groups.ABSENCE_CUTS[1:]:
        raise ValueError(f"no absence scope by {cut!r}")
    by = ("directorate", "team") if cut == "team" else (cut,)
    shown = period_rates(con, start, end, threshold, by)
    shown = shown.loc[~shown["suppressed"], [cut]]
    members = _ready(con).execute(
        f"SELECT {groups.CUTS[cut]} AS {cut}, list(u.unit_id ORDER BY u.unit_id) AS unit_ids"
        " FROM units AS u GROUP BY ALL"
    ).df()
    return members.merge(shown, on=cut, how="inner").sort_values(cut).reset_index(drop=True)


@derived.reads(only="absence")
def absence_events(con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Interventions aiming to move the absence rate that touch the scope: [date, label]."""
    units = list(unit_ids) if unit_ids is not None else None
    return _ready(con).execute(
        """
        SELECT DISTINCT i.start_date AS date, i.name AS label
        FROM interventions AS i
        JOIN intervention_units AS iu USING (intervention_id)
        WHERE list_contains(i.indicators, 'absence_rate')
          AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), iu.unit_id))
        ORDER BY date
        """,
        [units, units],
    ).df()
