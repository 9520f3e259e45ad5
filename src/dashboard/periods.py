"""Waves, months and windows, defined once: wave lookups, 12-month and rolling windows, fieldwork periods.

Every date window the product uses is built here, so "the 12 months to a wave" or "the same month
last year" means the same days on every page, chart and release decision:

- months are identified by their first day; `add_months`, `month_end`, `months_of`;
- a **12-month period** to a date is the 365 days ending on it (`twelve_months_to`), and the one
  before is the 365 days before that (`fieldwork_periods`): the scorecard, the Teams page and the
  survey x absence scatter all compare a wave with these;
- a **rolling window** of k months ending at a month (`rolling_months`), and the **same month last
  year** (`same_month_last_year`): the months an absence release must hold for them;
- the **rolling 52 weeks** of the Bradford Factor (`weeks_to`);
- an intervention's **absence window** (`absence_window`): whole months either side of a start;
- **wave lookups** (`waves`, `fielded_on`, `wave_periods`).
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

# A 12-month period is 365 days ending on its last day (the NHS counts a 365-day year).
YEAR_DAYS = 365


def month_start(d: date) -> date:
    """First day of the month of d."""
    return d.replace(day=1)


def add_months(d: date, months: int) -> date:
    """First day of the month `months` after (negative: before) the month of d."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, 1)


def month_end(d: date) -> date:
    """Last day of the month of d."""
    return add_months(d, 1) - timedelta(days=1)


def months_of(start: date, end: date) -> tuple[date, ...]:
    """First days of every month that [start, end] touches (empty when end < start)."""
    out, first = [], month_start(start)
    while first <= end:
        out.append(first)
        first = add_months(first, 1)
    return tuple(out)


def rolling_months(month: date, k: int = 12) -> tuple[date, ...]:
    """The k months ending with the month of `month`, latest first (a rolling k-month window)."""
    first = month_start(month)
    return tuple(add_months(first, -i) for i in range(k))


def same_month_last_year(month: date) -> date:
    """First day of the same month a year earlier."""
    return add_months(month, -12)


def twelve_months_to(end: date) -> tuple[date, date]:
    """The 12-month period (365 days) ending on `end`, inclusive."""
    return end - timedelta(days=YEAR_DAYS - 1), end


def weeks_to(end: date, weeks: int = 52) -> tuple[date, date]:
    """The `weeks` whole weeks ending on `end`, inclusive (the Bradford Factor's rolling 52 weeks)."""
    return end - timedelta(days=7 * weeks - 1), end


def fieldwork_periods(fielded_on: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The 12 months to a wave's fieldwork date and the 12 months before them."""
    return twelve_months_to(fielded_on), twelve_months_to(fielded_on - timedelta(days=YEAR_DAYS))


def absence_window(start_date: date, months: int) -> dict:
    """`months` whole months before the start month and from the first whole month after it.

    Every bound is the first day of a month; pre_end and post_end are the last months included.
    A start on the 1st makes that month the first "after" month; a mid-month start leaves its
    month out of both sides (a transition month).
    """
    first = month_start(start_date)
    first_post = first if start_date.day == 1 else add_months(first, 1)
    return {
        "pre_start": add_months(first, -months),
        "pre_end": add_months(first, -1),
        "post_start": first_post,
        "post_end": add_months(first_post, months - 1),
        "months": months,
        "transition": None if start_date.day == 1 else first,
    }


def waves(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Survey waves in fieldwork order: [wave_id, label, fielded_on (date)]."""
    frame = con.execute("SELECT wave_id, label, fielded_on FROM waves ORDER BY fielded_on, wave_id").df()
    frame["fielded_on"] = pd.to_datetime(frame["fielded_on"]).dt.date
    return frame


def fielded_on(con: duckdb.DuckDBPyConnection, wave_id: int) -> date:
    """A wave's fieldwork date; ValueError for an unknown wave."""
    row = con.execute("SELECT fielded_on FROM waves WHERE wave_id = ?", [int(wave_id)]).fetchone()
    if row is None:
        raise ValueError(f"unknown wave {wave_id}")
    return pd.Timestamp(row[0]).date()


def wave_periods(con: duckdb.DuckDBPyConnection, wave_id: int) -> tuple[tuple[date, date], tuple[date, date]]:
    """fieldwork_periods for a wave id."""
    return fieldwork_periods(fielded_on(con, wave_id))
