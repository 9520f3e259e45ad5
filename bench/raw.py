"""Hand-written DuckDB queries for the same numbers the app's operations compute, read straight
from the raw tables (no release, no formatting): the floor each operation is compared with."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Context:
    wave: int
    start: date
    end: date
    unit: int
    fielded_on: date
    teams: tuple[int, ...] = ()


_SURVEY = """
SELECT {cols} s.indicator_id, r.wave_id, count(*) AS n, avg(s.value) AS value, stddev_samp(s.value) AS sd
FROM respondent_scores AS s JOIN responses AS r USING (response_id) JOIN units AS u USING (unit_id)
{where}
GROUP BY ALL
"""

_CELLS = """
SELECT r.wave_id, s.indicator_id, r.unit_id, r.staff_group, count(*) AS n
FROM respondent_scores AS s JOIN responses AS r USING (response_id)
WHERE r.wave_id = ?
GROUP BY ALL
"""

# Days lost per unit and month from episodes as they are (no spell merging), FTE days available
# from staff in post: the plain calendar-day rate.
_ABSENCE = """
WITH ep AS (
    SELECT unit_id, fte, greatest(start_date, CAST(? AS DATE)) AS a,
           least(coalesce(end_date, CAST(? AS DATE)), CAST(? AS DATE)) AS b
    FROM absence_episodes
    WHERE start_date <= CAST(? AS DATE) AND coalesce(end_date, CAST(? AS DATE)) >= CAST(? AS DATE)
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
    FROM staff_in_post WHERE month BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
)
SELECT {cols} {month} sum(l.lost) AS lost, sum(a.available) AS available,
       sum(l.lost) / sum(a.available) AS rate
FROM avail AS a LEFT JOIN lost AS l USING (unit_id, month) JOIN units AS u USING (unit_id)
GROUP BY ALL
"""


def _absence(ctx: Context, cols: str = "", month: str = "") -> tuple[str, list]:
    s, e = ctx.start, ctx.end
    return _ABSENCE.format(cols=cols, month=month), [s, e, e, e, e, s, s, e]


def queries(ctx: Context) -> dict[str, tuple[str, list]]:
    """Operation name (as in measure.operations) -> (SQL, parameters) for the same figures."""
    wave = "WHERE r.wave_id = ?"
    survey_team = _SURVEY.format(cols="u.team,", where=wave)
    heat_abs, heat_params = _absence(ctx, "u.team,")
    return {
        "indicators.survey_results organisation": (_SURVEY.format(cols="", where=""), []),
        "indicators.survey_results directorate": (_SURVEY.format(cols="u.directorate,", where=""), []),
        "indicators.survey_results team": (_SURVEY.format(cols="u.team,", where=""), []),
        "scorecard.indicator_table": (_SURVEY.format(cols="", where=wave), [ctx.wave]),
        "privacy.plan (1 wave)": (_CELLS, [ctx.wave]),
        "privacy.survey_figures team (1 wave)": (survey_team, [ctx.wave]),
        "drilldown.heatmap team": (
            f"SELECT * FROM ({survey_team}) AS s FULL JOIN ({heat_abs}) AS a USING (team)",
            [ctx.wave, *heat_params]),
        "drilldown.team_profile": (_SURVEY.format(cols="", where="WHERE r.wave_id = ? AND r.unit_id = ?"),
                                   [ctx.wave, ctx.unit]),
        "drilldown.funnel team": (
            _SURVEY.format(cols="u.team,", where="WHERE r.wave_id = ? AND s.indicator_id = 'stress'"),
            [ctx.wave]),
        "drilldown.compare (3 teams)": (
            _SURVEY.format(cols="u.team,", where="WHERE r.wave_id = ? AND list_contains(?, r.unit_id)"),
            [ctx.wave, list(ctx.teams)]),
        "compare.indicators (3 teams)": (
            _SURVEY.format(cols="u.team,", where="WHERE r.wave_id = ? AND list_contains(?, r.unit_id)"),
            [ctx.wave, list(ctx.teams)]),
        "response_rates.unit_rates": (
            "SELECT r.wave_id, r.unit_id, count(*) AS n, any_value(p.headcount) AS headcount"
            " FROM responses AS r JOIN waves AS w USING (wave_id) LEFT JOIN staff_in_post AS p"
            " ON p.unit_id = r.unit_id AND p.month = date_trunc('month', w.fielded_on) GROUP BY ALL", []),
        "absence.period_summary (24 months)": _absence(ctx),
        "absence.monthly_rates directorate": _absence(ctx, "u.directorate,", "a.month,"),
        "absence.period_rates directorate+team": _absence(ctx, "u.directorate, u.team,"),
        "absence.episode_quality": (
            "SELECT count(*), count(*) FILTER (WHERE end_date IS NULL),"
            " count(*) FILTER (WHERE end_date < start_date) FROM absence_episodes", []),
    }
