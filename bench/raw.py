"""Hand-written DuckDB queries for the same numbers the app's operations compute, read straight
from the raw tables (no release, no formatting): the floor each operation is compared with."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Context:
    wave: int
    start: date
    end: date
    unit: int
    fielded_on: date
    teams: tuple[int, ...] = ()
    directorate: str | None = None          # the profiled unit's directorate
    prev_wave: int | None = None            # the wave before `wave`, when there is one
    # the 12 months to fieldwork and the 12 before
    wave_periods: tuple[tuple[date, date], tuple[date, date]] | None = None


_SURVEY = """
SELECT {cols} s.indicator_id, r.wave_id, count(*) AS n, avg(s.value) AS value, stddev_samp(s.value) AS sd
FROM respondent_scores AS s JOIN responses AS r USING (response_id) JOIN units AS u USING (unit_id)
{where}
GROUP BY ALL
"""

# A funnel's teams and the organisation around which its limits are drawn, in one scan.
_FUNNEL = """
SELECT u.team, s.indicator_id, r.wave_id, count(*) AS n, avg(s.value) AS value, stddev_samp(s.value) AS sd
FROM respondent_scores AS s JOIN responses AS r USING (response_id) JOIN units AS u USING (unit_id)
WHERE r.wave_id = ? AND s.indicator_id = 'stress'
GROUP BY GROUPING SETS ((u.team, s.indicator_id, r.wave_id), (s.indicator_id, r.wave_id))
"""

_CELLS = """
SELECT r.wave_id, s.indicator_id, r.unit_id, r.staff_group, count(*) AS n
FROM respondent_scores AS s JOIN responses AS r USING (response_id)
WHERE r.wave_id = ?
GROUP BY ALL
"""

# Days lost per unit and month from episodes as they are (no spell merging), FTE days available
# from staff in post: the plain calendar-day rate.
# Episodes clipped to [start, end] and split into months, and staff in post in those months;
# start and end are how the query binds its bounds (? in order, or $names).
_ABSENCE_CTES = """
WITH ep AS (
    SELECT unit_id, fte, greatest(start_date, CAST({start} AS DATE)) AS a,
           least(coalesce(end_date, CAST({end} AS DATE)), CAST({end} AS DATE)) AS b
    FROM absence_episodes
    WHERE start_date <= CAST({end} AS DATE)
      AND coalesce(end_date, CAST({end} AS DATE)) >= CAST({start} AS DATE)
),
months AS (
    SELECT unit_id, fte, a, b,
           CAST(unnest(generate_series(date_trunc('month', a), date_trunc('month', b), INTERVAL 1 MONTH))
                AS DATE) AS month
    FROM ep
),
lost AS (
    SELECT unit_id, month,
           sum(fte * (date_diff('day', greatest(a, month), least(b, last_day(month))) + 1)) AS lost
    FROM months GROUP BY ALL
),
avail AS (
    SELECT unit_id, month, fte * (date_diff('day', month, last_day(month)) + 1) AS available, headcount
    FROM staff_in_post WHERE month BETWEEN CAST({start} AS DATE) AND CAST({end} AS DATE)
)
"""

_ABSENCE = _ABSENCE_CTES.format(start="?", end="?") + """
SELECT {cols} {month} sum(l.lost) AS lost, sum(a.available) AS available,
       sum(l.lost) / sum(a.available) AS rate
FROM avail AS a LEFT JOIN lost AS l USING (unit_id, month) JOIN units AS u USING (unit_id)
GROUP BY ALL
"""


def _absence(ctx: Context, cols: str = "", month: str = "") -> tuple[str, list]:
    s, e = ctx.start, ctx.end
    return _ABSENCE.format(cols=cols, month=month), [s, e, e, e, e, s, s, e]


def _filters(scopes: list[tuple[str, str | None, object]], params: dict) -> list[tuple[str, str]]:
    """(name, WHERE condition) of each scope, its value bound as $name in params (a scope
    without a condition, the organisation, is every row)."""
    out = []
    for name, condition, value in scopes:
        if condition is not None:
            params[name] = value
        out.append((name, "TRUE" if condition is None else condition.format(p=f"${name}")))
    return out


# Several scopes' survey figures over the wave and the one before, in one scan: each scope's
# count, mean and SD by a FILTER on its rows (the organisation: every row).
def _scoped_survey(ctx: Context, scopes: list[tuple[str, str, object]]) -> tuple[str, dict]:
    params: dict = {"waves": [w for w in (ctx.wave, ctx.prev_wave) if w is not None]}
    cols = [f"count(*) FILTER (WHERE {where}) AS n_{name},"
            f" avg(s.value) FILTER (WHERE {where}) AS v_{name},"
            f" stddev_samp(s.value) FILTER (WHERE {where}) AS sd_{name}"
            for name, where in _filters(scopes, params)]
    sql = f"""
SELECT r.wave_id, s.indicator_id, {", ".join(cols)}
FROM respondent_scores AS s JOIN responses AS r USING (response_id) JOIN units AS u USING (unit_id)
WHERE list_contains($waves, r.wave_id)
GROUP BY ALL
"""
    return sql, params


# The same scopes' calendar-day absence rate over the wave's 12 months and the 12 before, in one
# pass over the episodes of those 24 months.
def _scoped_absence(ctx: Context, scopes: list[tuple[str, str, object]]) -> tuple[str, dict]:
    (s1, e1), (s0, _e0) = ctx.wave_periods
    params: dict = {"s0": s0, "s1": s1, "e1": e1}
    cols = [f"sum(l.lost) FILTER (WHERE {where}) AS lost_{name},"
            f" sum(a.available) FILTER (WHERE {where}) AS available_{name}"
            for name, where in _filters(scopes, params)]
    sql = _ABSENCE_CTES.format(start="$s0", end="$e1") + f"""
SELECT CASE WHEN a.month >= CAST($s1 AS DATE) THEN 'wave' ELSE 'previous' END AS period, {", ".join(cols)}
FROM avail AS a LEFT JOIN lost AS l USING (unit_id, month) JOIN units AS u USING (unit_id)
GROUP BY ALL
"""
    return sql, params


def _scoped(ctx: Context, scopes: list[tuple[str, str, object]]) -> list[tuple[str, dict]]:
    """A page's survey and absence figures for several scopes: two queries, timed together."""
    return [_scoped_survey(ctx, scopes), _scoped_absence(ctx, scopes)]


# The episode-quality figures from the raw episodes: records, spells (one employee's records that
# overlap, merged: a record starts a spell when it starts after every earlier one has ended; an
# open record runs to the end of the data), records merged into another's spell, records that
# end before they start, open records.
_EPISODE_QUALITY = """
WITH data_end AS (
    SELECT greatest((SELECT max(last_day(month)) FROM staff_in_post),
                    (SELECT max(greatest(start_date, end_date)) FROM absence_episodes)) AS d
),
valid AS (
    SELECT e.employee_key, e.episode_id, e.start_date,
           coalesce(e.end_date, greatest(d.d, e.start_date)) AS end_date
    FROM absence_episodes AS e, data_end AS d
    WHERE e.end_date IS NULL OR e.end_date >= e.start_date
),
starts AS (
    SELECT (start_date > max(end_date) OVER (
                PARTITION BY employee_key ORDER BY start_date, end_date DESC, episode_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) IS NOT FALSE AS first
    FROM valid
)
SELECT (SELECT count(*) FROM absence_episodes) AS records,
       count(*) FILTER (WHERE first) AS spells,
       count(*) - count(*) FILTER (WHERE first) AS merged,
       (SELECT count(*) FROM absence_episodes WHERE end_date < start_date) AS invalid,
       (SELECT count(*) FROM absence_episodes WHERE end_date IS NULL) AS open_
FROM starts
"""


# The organisation's Data insights counts as the scorecard shows them (metrics/scorecard.py
# _data_quality): respondents in the wave against staff in post in the fieldwork month, episodes
# starting in the year to fieldwork with a recorded reason, and the teams with staff or responses.
_ORG_QUALITY = """
SELECT (SELECT count(*) FROM responses WHERE wave_id = $wave) AS respondents,
       (SELECT sum(headcount) FROM staff_in_post WHERE month = $month) AS headcount,
       (SELECT count(*) FILTER (WHERE reason_code <> 'S99') FROM absence_episodes
        WHERE start_date > $year_ago AND start_date <= $fielded) AS recorded,
       (SELECT count(*) FROM absence_episodes
        WHERE start_date > $year_ago AND start_date <= $fielded) AS episodes,
       (SELECT count(DISTINCT u.team) FROM units AS u
        WHERE u.unit_id IN (SELECT unit_id FROM staff_in_post WHERE month = $month)
           OR u.unit_id IN (SELECT unit_id FROM responses WHERE wave_id = $wave)) AS teams
"""


def _org_quality(ctx: Context) -> tuple[str, dict]:
    return _ORG_QUALITY, {"wave": ctx.wave, "month": ctx.fielded_on.replace(day=1),
                          "year_ago": ctx.fielded_on - timedelta(days=365), "fielded": ctx.fielded_on}


def queries(ctx: Context) -> dict[str, tuple[str, list | dict] | list[tuple[str, list | dict]]]:
    """Operation name (as in measure.operations) -> (SQL, parameters) for the same figures, or a
    list of such queries that together give them (timed as one)."""
    wave = "WHERE r.wave_id = ?"
    survey_team = _SURVEY.format(cols="u.team,", where=wave)
    heat_abs, heat_params = _absence(ctx, "u.team,")
    teams = [(f"t{i}", "u.unit_id = {p}", t) for i, t in enumerate(ctx.teams)]
    return {
        "indicators.survey_results organisation": (_SURVEY.format(cols="", where=""), []),
        "indicators.survey_results directorate": (_SURVEY.format(cols="u.directorate,", where=""), []),
        "indicators.survey_results team": (_SURVEY.format(cols="u.team,", where=""), []),
        # the scorecard shows the organisation's indicators this wave against the one before
        # (survey), the wave's 12 months against the 12 before (absence) and its data counts
        "scorecard.indicator_table": [*_scoped(ctx, [("organisation", None, None)]), _org_quality(ctx)],
        "privacy.plan (1 wave)": (_CELLS, [ctx.wave]),
        "privacy.survey_figures team (1 wave)": (survey_team, [ctx.wave]),
        "drilldown.heatmap team": (
            f"SELECT * FROM ({survey_team}) AS s FULL JOIN ({heat_abs}) AS a USING (team)",
            [ctx.wave, *heat_params]),
        # the profile shows the team, its directorate and the organisation, this wave against
        # the one before (survey) and the wave's 12 months against the 12 before (absence)
        "drilldown.team_profile": _scoped(ctx, [("team", "u.unit_id = {p}", ctx.unit),
                                                ("directorate", "u.directorate = {p}", ctx.directorate),
                                                ("organisation", None, None)]),
        # each team's point and the organisation's centre line (its value, n and spread)
        "drilldown.funnel team": (_FUNNEL, [ctx.wave]),
        # each team's domain scores and their change: survey and absence, now and before
        "drilldown.compare (3 teams)": _scoped(ctx, teams),
        # each team beside the organisation, now and before
        "compare.indicators (3 teams)": _scoped(ctx, [*teams, ("organisation", None, None)]),
        "response_rates.unit_rates": (
            "SELECT r.wave_id, r.unit_id, count(*) AS n, any_value(p.headcount) AS headcount"
            " FROM responses AS r JOIN waves AS w USING (wave_id) LEFT JOIN staff_in_post AS p"
            " ON p.unit_id = r.unit_id AND p.month = date_trunc('month', w.fielded_on) GROUP BY ALL", []),
        "absence.period_summary (24 months)": _absence(ctx),
        "absence.monthly_rates directorate": _absence(ctx, "u.directorate,", "a.month,"),
        "absence.period_rates directorate+team": _absence(ctx, "u.directorate, u.team,"),
        "absence.episode_quality": (_EPISODE_QUALITY, []),
    }


def as_list(entry: tuple[str, list | dict] | list[tuple[str, list | dict]]) -> list[tuple[str, list | dict]]:
    """A queries() entry as a list of (SQL, parameters)."""
    return entry if isinstance(entry, list) else [entry]
