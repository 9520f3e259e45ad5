"""Survey response rates: responses / headcount in post in the fieldwork month, per team and wave."""
from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd

from dashboard import privacy
from dashboard.present import formatting
from dashboard.store import derived, query

# HSE response-rate guidance (domain.md): above 50% adequate, 60% desirable, 70% good, 80% very
# good. Below 50% the results may not represent the team: read with caution.
BANDS: tuple[tuple[float, str], ...] = (
    (0.80, "very good (80% or more)"),
    (0.70, "good (70-80%)"),
    (0.60, "desirable (60-70%)"),
    (0.50, "adequate (50-60%)"),
    (0.0, "below 50%: read the results with caution"),
)
OVER_CENSUS = "more responses than staff in post: check the staff-in-post figures"


def band(rate: float | None) -> str:
    """The HSE caution band of a response rate ('' when there is no rate)."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return ""
    if rate > 1.0:
        return OVER_CENSUS
    return next(text for floor, text in BANDS if rate >= floor)


def _bands(rates: pd.Series) -> list[str]:
    """band() of every rate, decided column-wise (a page lists thousands)."""
    r = rates.to_numpy(dtype="float64", na_value=np.nan)
    known = ~np.isnan(r)
    texts = np.select([known & (r > 1.0), *[known & (r >= floor) for floor, _ in BANDS]],
                      [OVER_CENSUS, *[text for _, text in BANDS]], default="")
    return texts.tolist()


# {shown}: privacy.SHOWN_TEAMS_CTES, the release's decision read where it is stored.
_SQL = """
WITH w AS (
    SELECT wave_id, label AS wave_label, fielded_on, CAST(date_trunc('month', fielded_on) AS DATE) AS month
    FROM waves
    WHERE CAST(? AS INTEGER[]) IS NULL OR list_contains(CAST(? AS INTEGER[]), wave_id)
),
resp AS (
    SELECT wave_id, unit_id, count(*) AS responses FROM responses GROUP BY ALL
),
head AS (
    SELECT unit_id, month, sum(headcount) AS headcount FROM staff_in_post GROUP BY ALL
),
{shown}
SELECT w.wave_id, w.wave_label, w.fielded_on, w.month, u.unit_id, u.team,
       u.directorate,
       coalesce(r.responses, 0) AS responses, h.headcount,
       s.team IS NOT NULL AS shown, w.wave_id IN (SELECT wave_id FROM stored_waves) AS stored
FROM w
CROSS JOIN units AS u
LEFT JOIN resp AS r ON r.wave_id = w.wave_id AND r.unit_id = u.unit_id
LEFT JOIN head AS h ON h.unit_id = u.unit_id AND h.month = w.month
LEFT JOIN shown_teams AS s ON s.wave_id = w.wave_id AND s.team = u.team
WHERE r.responses IS NOT NULL OR h.headcount IS NOT NULL
ORDER BY w.fielded_on, u.team
"""


@derived.reads(only="survey")
def unit_rates(
    con: duckdb.DuckDBPyConnection, threshold: int, wave_ids: list[int] | None = None
) -> pd.DataFrame:
    """Response rate per team and wave, released with the team's survey figures.

    Columns: [wave_id, wave_label, fielded_on, month, unit_id, team, directorate, responses,
    headcount, rate, band, shown, note]. A team's rate is shown only where the release plan shows
    the team in that wave (privacy.survey_figures, as the Teams page): a withheld team's
    responses, headcount and rate are all blank, since rate x headcount would give its n.
    Headcount is the staff in post in the month that contains the wave's fieldwork date.
    """
    waves = [int(w) for w in wave_ids] if wave_ids is not None else None
    # the release plan's team rows: a team is shown in a wave where any figure of it is
    frame = query.run(con, "survey.response_rates", _SQL.format(shown=privacy.SHOWN_TEAMS_CTES),
                      [waves, waves, int(threshold), int(threshold)])
    # the directorate's group label (a blank and an uploaded "Not recorded" stay two groups)
    frame["directorate"] = privacy.label(frame.directorate).astype(object)
    if frame.empty:
        return frame.drop(columns="stored").assign(
            rate=pd.Series(dtype="float64"), band="", shown=False, note="")
    # by fieldwork date, directorate label and team: one stable sort of the keys' codes (a
    # frame's sort_values on three columns took 2.3 ms of 26 at a tenth of national scale)
    order = np.lexsort([pd.factorize(frame[c].to_numpy(dtype=object), sort=True)[0]
                        for c in ("team", "directorate")] + [frame.fielded_on.to_numpy()])
    frame = frame.take(order).reset_index(drop=True)
    stored = frame.pop("stored").to_numpy(dtype=bool)
    shown = frame.shown.to_numpy(dtype=bool)
    if not stored.all():
        # waves whose plan is not stored (another threshold, or an older store): decided here
        missing = sorted({int(w) for w in frame.wave_id[~stored]})
        decided = pd.MultiIndex.from_arrays([frame.wave_id.astype("int64"), frame.team.astype(object)]
                                            ).isin(pd.MultiIndex.from_frame(
                                                privacy.shown_groups(con, ("team",), threshold, missing)))
        shown = np.where(stored, shown, decided)
    headcount = pd.to_numeric(frame.headcount, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    responses = frame.responses.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(headcount > 0, responses / headcount, np.nan)
    # a withheld team's responses, headcount and rate are all blank
    frame["responses"] = np.where(shown, responses, np.nan)
    frame["headcount"] = np.where(shown, headcount, np.nan)
    frame["shown"] = shown
    frame["rate"] = np.where(shown, rate, np.nan)
    no_staff = np.where(np.isnan(headcount), "no staff in post recorded for the fieldwork month", "")
    frame["note"] = np.where(~shown, formatting.withheld_reason(threshold, group="team"), no_staff).tolist()
    frame["band"] = _bands(frame.rate)
    return frame


def team_rates(con: duckdb.DuckDBPyConnection, unit_id: int, threshold: int) -> pd.DataFrame:
    """unit_rates for one team across every wave (withheld waves keep a row with its note)."""
    frame = unit_rates(con, threshold)
    return frame[frame.unit_id == int(unit_id)].reset_index(drop=True)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """Response rates as a screen table (shown teams with figures; withheld rows say why)."""
    return pd.DataFrame({
        "Wave": frame.wave_label,
        "Team": frame.team,
        "Directorate": frame.directorate,
        "Responses": frame.responses.astype("Int64"),
        "Staff in post (fieldwork month)": frame.headcount.astype("Int64"),
        "Response rate": ["–" if pd.isna(r) else f"{r:.0%}" for r in frame.rate],
        "Reading (HSE guidance)": [b or n for b, n in zip(frame.band, frame.note, strict=True)],
    })
