"""What a kind of data can and cannot show, for an upload about to join the store and for the store itself."""

from __future__ import annotations

import duckdb
import pandas as pd

STAFF_IN_POST_NEXT = (
    "absence rates need staff in post (FTE) for the same teams and months: import it next "
    "(Data page, 'Staff in post'), or import monthly totals that include FTE days available"
)

# Shown before import for the kinds whose reach does not depend on what is already stored.
_ALWAYS = {
    "survey": (
        ["indicator results (% and means) by team, directorate, site and staff group, per wave, with "
         "intervals; the Overview, Teams and framework views; intervention before/after comparisons"],
        [],
    ),
    "survey_aggregate": (
        ["published results by team and wave as given (no respondent-level breakdowns)"],
        ["breakdowns the file does not hold (staff group, items behind an indicator)"],
    ),
    "structure": (
        ["directorate and site roll-ups, and the map where sites have coordinates"],
        ["any figure on its own: it only groups the teams of the other files"],
    ),
    "interventions": (
        ["intervention timelines and before/after evaluations against the survey and absence data"],
        [],
    ),
}

_SIP_KEYS = """
SELECT lower(regexp_replace(trim(u.team), '\\s+', ' ', 'g')) AS team_key, s.month
FROM staff_in_post AS s JOIN units AS u USING (unit_id)
WHERE coalesce(s.fte, s.headcount) IS NOT NULL
"""


def _months(start: pd.Series, end: pd.Series) -> pd.Series:
    """Every month an episode touches (an open episode: its first month)."""
    first = start.dt.to_period("M")
    last = end.fillna(start).dt.to_period("M")
    return pd.Series(
        [pd.period_range(a, b, freq="M") for a, b in zip(first, last, strict=True)], index=start.index
    )


def upload(con: duckdb.DuckDBPyConnection, kind: str, tables: dict[str, pd.DataFrame]) -> tuple[list, list]:
    """(can show, cannot show yet) for an upload of `kind`, given what the store already holds."""
    if kind in _ALWAYS:
        can, cannot = _ALWAYS[kind]
        return list(can), list(cannot)
    if kind == "absence":
        return _episodes(con, tables.get("episodes"))
    if kind == "absence_monthly":
        return _monthly(con, tables.get("absence_monthly"))
    if kind == "staff_in_post":
        return _staff(con)
    return [], []


def _episodes(con, episodes: pd.DataFrame | None) -> tuple[list, list]:
    if episodes is None or episodes.empty:
        return [], []
    can = ["days lost, spells, reasons (S10 stress, MSK...), open episodes and patterns by team and month"]
    sip = con.execute(_SIP_KEYS).df()
    touched = (
        pd.DataFrame({"team_key": episodes["team_key"], "month": _months(
            pd.to_datetime(episodes["start_date"]), pd.to_datetime(episodes["end_date"])
        )})
        .explode("month")
        .drop_duplicates()
    )
    have = set(zip(sip["team_key"], pd.to_datetime(sip["month"]).dt.to_period("M"), strict=True))
    covered = sum((k, m) in have for k, m in zip(touched["team_key"], touched["month"], strict=True))
    if covered == 0:
        return can, [STAFF_IN_POST_NEXT]
    can.append("sickness absence rates (FTE days lost ÷ FTE days available) and the Bradford distribution")
    if covered < len(touched):
        return can, [
            f"rates for {len(touched) - covered} of {len(touched)} team-months with absence: no staff in "
            "post is stored for them yet, so their days lost are left out of the rates"
        ]
    return can, []


def _monthly(con, rows: pd.DataFrame | None) -> tuple[list, list]:
    if rows is None or rows.empty:
        return [], []
    can = ["FTE days lost by team and month, and by reason where the file gives one"]
    if rows["fte_days_available"].notna().all():
        can.append("sickness absence rates by team and month (with the file's own FTE days available)")
        return can, ["spells, open episodes, patterns and the Bradford distribution: they need episodes"]
    sip = con.execute(_SIP_KEYS).df()
    have = set(zip(sip["team_key"], pd.to_datetime(sip["month"]).dt.to_period("M"), strict=True))
    missing = rows[rows["fte_days_available"].isna()]
    months = pd.to_datetime(missing["month"]).dt.to_period("M")
    if all((k, m) in have for k, m in zip(missing["team_key"], months, strict=True)):
        can.append("sickness absence rates by team and month (with the staff in post already stored)")
        return can, []
    return can, [STAFF_IN_POST_NEXT.replace("import monthly totals that include", "include")]


def _staff(con) -> tuple[list, list]:
    can = ["headcount and FTE by team and month: the denominator of every absence rate"]
    has_absence = con.execute(
        "SELECT (SELECT count(*) FROM absence_episodes) + (SELECT count(*) FROM absence_monthly)"
    ).fetchone()[0]
    if not has_absence:
        return can, ["absence rates until absence episodes or monthly totals are imported"]
    return can + ["absence rates for the absence already stored"], []


def absence_gaps(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the stored absence data lacks for any rate (said again on the Absence page).

    Partial gaps (some team-months without staff in post) are left to the page's own note on the
    days lost left out of the rate.
    """
    episodes, monthly_no_avail = con.execute(
        "SELECT (SELECT count(*) FROM absence_episodes),"
        " (SELECT count(*) FROM absence_monthly WHERE fte_days_available IS NULL)"
    ).fetchone()
    gaps: list[str] = []
    if episodes:
        total, covered = con.execute(
            """
            WITH em AS (
                SELECT DISTINCT unit_id,
                       CAST(unnest(generate_series(date_trunc('month', start_date),
                                                   date_trunc('month', coalesce(end_date, start_date)),
                                                   INTERVAL 1 MONTH)) AS DATE) AS month
                FROM absence_episodes
            ),
            sip AS (
                SELECT DISTINCT unit_id, month FROM staff_in_post
                WHERE coalesce(fte, headcount) IS NOT NULL
            )
            SELECT count(*), count(sip.unit_id) FROM em LEFT JOIN sip USING (unit_id, month)
            """
        ).fetchone()
        if covered == 0:
            gaps.append(
                "The absence episodes have no staff in post for their teams and months, so no rate can be "
                "shown: " + STAFF_IN_POST_NEXT + "."
            )
    if monthly_no_avail:
        uncovered = con.execute(
            """
            SELECT count(*) FROM absence_monthly AS m
            WHERE m.fte_days_available IS NULL AND NOT EXISTS (
                SELECT 1 FROM staff_in_post AS s
                WHERE s.unit_id = m.unit_id AND s.month = m.month
                  AND coalesce(s.fte, s.headcount) IS NOT NULL)
            """
        ).fetchone()[0]
        if uncovered:
            gaps.append(
                f"{uncovered} monthly absence row(s) have neither FTE days available nor staff in post: "
                "rates need staff in post: import it next, or include FTE days available."
            )
    return gaps
