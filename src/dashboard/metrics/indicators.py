"""Survey indicator queries built from the catalogue: values, n and spread by any cut and wave."""
from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from dashboard.store import derived, groups, query

# Respondent-level rows and pre-aggregated rows meet at (cut, wave, indicator) as sums, so both
# kinds of upload feed the same figures. Pre-aggregated rows carry no staff group or spread. Both
# roll up from the derived survey cells (unit x staff group x wave x indicator: n, sum, sum of
# squares), never from the answers themselves.
# The cells' sums are rounded to 1e-9 and added as DECIMAL(38, 9), exactly: DuckDB adds doubles
# in whatever order its threads meet them, so at national scale the same data gave figures that
# differed in the last bit from one run to the next (and a p-value of 0.89 one time, 1.0 the next).
# Both kinds are added in one pass (a union of two passes cost most of a one-indicator query's
# time in planning: 13 ms for the organisation's one row at a tenth of national scale).
_RESULTS_SQL = """
WITH summed AS (
    SELECT {select} r.wave_id, r.indicator_id, {grouping}
           sum(r.n) AS n, sum(CAST(r.sum_v AS DECIMAL(38, 9))) AS sum_v,
           -- a spread only when every contributing row is respondent-level
           CASE WHEN bool_and(r.respondent) THEN sum(CAST(r.sum_v2 AS DECIMAL(38, 9))) END AS sum_v2
    FROM survey_cells AS r
    JOIN units AS u USING (unit_id)
    WHERE (r.respondent OR NOT ?)
      AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), r.indicator_id))
      AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), r.wave_id))
      AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), r.unit_id))
    GROUP BY {group_by}
)
SELECT {group} s.wave_id, w.label AS wave_label, w.fielded_on, s.indicator_id,
       CAST(s.sum_v AS DOUBLE) / s.n AS value,
       CAST(s.n AS BIGINT) AS n,
       CASE WHEN s.n > 1 AND s.sum_v2 IS NOT NULL
            THEN sqrt(greatest(CAST(s.sum_v2 AS DOUBLE)
                               - CAST(s.sum_v AS DOUBLE) * CAST(s.sum_v AS DOUBLE) / s.n, 0)
                      / (s.n - 1)) END AS sd
FROM summed AS s
JOIN waves AS w USING (wave_id)
ORDER BY {order} w.fielded_on, s.indicator_id
"""


def survey_results(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str] = (),
    indicator_ids: Sequence[str] | None = None,
    wave_ids: Sequence[int] | None = None,
    unit_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Indicator value (proportion 0-1 or mean 1-5), n and sd per cut x wave x indicator.

    Unsuppressed: callers that display figures pass the result through privacy.suppress.
    """
    by = groups.validate(by)
    select = groups.select_list(by)
    group = groups.group_list(by)
    sql = _RESULTS_SQL.format(select=select, grouping="", group_by="ALL", group=group, order=group)
    derived.ensure(con, "survey")
    return query.run(con, "survey.results", sql,
                     _results_args("staff_group" in by, indicator_ids, wave_ids, unit_ids))


def _results_args(
    respondent_only: bool,
    indicator_ids: Sequence[str] | None,
    wave_ids: Sequence[int] | None,
    unit_ids: Sequence[int] | None,
) -> list:
    """_RESULTS_SQL's bound parameters. Pre-aggregated rows carry no staff group: a staff-group
    cut reads respondent rows only."""
    lists = [None if v is None else list(v) for v in (indicator_ids, wave_ids, unit_ids)]
    return [respondent_only, *(v for v in lists for _ in (0, 1))]


# survey_results for several cuts in one pass over the cells (_RESULTS_SQL with one grouping set
# per cut, told apart by GROUPING(): a NULL key cannot tell a blank directorate from the
# organisation's row). The funnel and the heatmap need a cut and the organisation: 10.5 ms for
# both at a tenth of national scale, against 14 + 10.5 ms as two queries.
def survey_results_of(
    con: duckdb.DuckDBPyConnection,
    cuts: Sequence[Sequence[str]],
    indicator_ids: Sequence[str] | None = None,
    wave_ids: Sequence[int] | None = None,
) -> list[pd.DataFrame]:
    """survey_results for each of several cuts, the frames those calls give (same columns, rows
    and order), from one query per kind of cut (a staff-group cut reads respondent rows only)."""
    cuts = [groups.validate(by) for by in cuts]
    kinds: dict[bool, list[tuple[str, ...]]] = {}
    for by in dict.fromkeys(cuts):
        kinds.setdefault("staff_group" in by, []).append(by)
    found: dict[tuple[str, ...], pd.DataFrame] = {}
    for respondent_only, mine in kinds.items():
        if len(mine) == 1:
            found[mine[0]] = survey_results(con, mine[0], indicator_ids, wave_ids)
        else:
            found.update(_results_of(con, mine, respondent_only, indicator_ids, wave_ids))
    return [found[by].copy() if cuts.index(by) != k else found[by] for k, by in enumerate(cuts)]


def _results_of(
    con: duckdb.DuckDBPyConnection,
    cuts: list[tuple[str, ...]],
    respondent_only: bool,
    indicator_ids: Sequence[str] | None,
    wave_ids: Sequence[int] | None,
) -> dict[tuple[str, ...], pd.DataFrame]:
    columns = list(dict.fromkeys(c for by in cuts for c in by))
    # GROUPING(a, b, ...) sets the bit of each argument the set leaves out, the first the highest
    mask = {by: sum(1 << (len(columns) - 1 - k) for k, c in enumerate(columns) if c not in by)
            for by in cuts}
    # each set in its own cut's key order (as survey_results orders it), the others' keys NULL
    order = "".join(
        "CASE s.grouping_id " + " ".join(f"WHEN {mask[by]} THEN s.{by[k]}" for by in cuts if len(by) > k)
        + " END, "
        for k in range(max(len(by) for by in cuts)))
    grouping = f"GROUPING({', '.join(groups.CUTS[c] for c in columns)})" if columns else "0"
    sets = ["(" + "".join(f"{groups.CUTS[c]}, " for c in by) + "r.wave_id, r.indicator_id)" for by in cuts]
    sql = _RESULTS_SQL.format(
        select=groups.select_list(columns),
        grouping=f"{grouping} AS grouping_id,",
        group_by=f"GROUPING SETS ({', '.join(sets)})",
        group="s.grouping_id, " + "".join(f"s.{c}, " for c in columns),
        order="s.grouping_id, " + order,
    )
    derived.ensure(con, "survey")
    rows = query.run(con, "survey.results_of", sql,
                     _results_args(respondent_only, indicator_ids, wave_ids, None))
    rest = ["wave_id", "wave_label", "fielded_on", "indicator_id", "value", "n", "sd"]
    return {by: rows.loc[rows.grouping_id == mask[by], [*by, *rest]].reset_index(drop=True) for by in cuts}


# The same figures for several scopes (sets of units, NULL = the whole organisation) in one pass
# over the survey cells: a team profile needs its team, directorate and organisation, Compare up
# to six teams and the organisation. A spread only where no pre-aggregated row contributes.
_SCOPES_SQL = """
WITH scopes AS (
    SELECT unnest(CAST(? AS VARCHAR[])) AS scope, unnest(CAST(? AS INTEGER[][])) AS units
),
member AS (
    SELECT s.scope, u.unit_id
    FROM scopes AS s JOIN units AS u ON s.units IS NULL OR list_contains(s.units, u.unit_id)
),
summed AS (
    SELECT m.scope, c.wave_id, c.indicator_id, sum(c.n) AS n,
           CAST(sum(CAST(c.sum_v AS DECIMAL(38, 9))) AS DOUBLE) AS sum_v,
           CASE WHEN bool_and(c.respondent)
                THEN CAST(sum(CAST(c.sum_v2 AS DECIMAL(38, 9))) AS DOUBLE) END AS sum_v2
    FROM survey_cells AS c JOIN member AS m USING (unit_id)
    WHERE list_contains(CAST(? AS INTEGER[]), c.wave_id)
    GROUP BY ALL
)
SELECT s.scope, s.wave_id, s.indicator_id, s.sum_v / s.n AS value, CAST(s.n AS BIGINT) AS n,
       CASE WHEN s.n > 1 AND s.sum_v2 IS NOT NULL
            THEN sqrt(greatest(s.sum_v2 - s.sum_v * s.sum_v / s.n, 0) / (s.n - 1)) END AS sd
FROM summed AS s
ORDER BY s.scope, s.wave_id, s.indicator_id
"""


def scope_results(
    con: duckdb.DuckDBPyConnection,
    scopes: dict[str, Sequence[int] | None],
    wave_ids: Sequence[int],
) -> pd.DataFrame:
    """survey_results for several scopes at once: [scope, wave_id, indicator_id, value, n, sd].

    scopes: name -> unit ids (None: the organisation). Unsuppressed, like survey_results.
    """
    names = list(scopes)
    units = [None if u is None else [int(x) for x in u] for u in scopes.values()]
    derived.ensure(con, "survey")
    return query.run(con, "survey.scope_results", _SCOPES_SQL,
                     [names, units, [int(w) for w in wave_ids]])


def wave_dates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Survey waves in date order: [wave_id, label, fielded_on] (waves() without counting)."""
    return query.run(con, "survey.waves",
                     "SELECT wave_id, label, fielded_on FROM waves ORDER BY fielded_on, wave_id")


def waves(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Survey waves in date order, with respondents per wave."""
    return con.execute(
        """
        SELECT w.wave_id, w.label, w.fielded_on, count(r.response_id) AS respondents
        FROM waves AS w
        LEFT JOIN responses AS r USING (wave_id)
        GROUP BY ALL
        ORDER BY w.fielded_on
        """
    ).df()


def respondent_values(
    con: duckdb.DuckDBPyConnection,
    indicator_id: str,
    wave_ids: Sequence[int],
    unit_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Respondent-level values (for intervals, effect sizes and the bootstrap), never displayed."""
    return con.execute(
        """
        SELECT r.wave_id, r.unit_id, s.value
        FROM respondent_scores AS s
        JOIN responses AS r USING (response_id)
        WHERE s.indicator_id = ?
          AND list_contains(CAST(? AS INTEGER[]), r.wave_id)
          AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), r.unit_id))
        ORDER BY s.response_id
        """,
        [indicator_id, list(wave_ids), unit_ids and list(unit_ids), unit_ids and list(unit_ids)],
    ).df()


def published_results(
    con: duckdb.DuckDBPyConnection,
    indicator_ids: Sequence[str] | None = None,
    wave_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Published organisation-level figures imported without a base (n not given).

    Organisation level only: no n, so no interval, no threshold check and never a team comparison;
    callers show them only where the organisation has no respondent-level or based figure.
    """
    inds = list(indicator_ids) if indicator_ids is not None else None
    waves_ = list(wave_ids) if wave_ids is not None else None
    return con.execute(
        """
        SELECT p.wave_id, w.label AS wave_label, w.fielded_on, p.indicator_id, p.value
        FROM published_figures AS p JOIN waves AS w USING (wave_id)
        WHERE (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), p.indicator_id))
          AND (CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), p.wave_id))
        ORDER BY w.fielded_on, p.indicator_id
        """,
        [inds, inds, waves_, waves_],
    ).df()
