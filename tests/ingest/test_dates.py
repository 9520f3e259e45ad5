"""Date parsing: ISO, UK order, US order only when forced, Excel serials, month names, ambiguity asked."""

from __future__ import annotations

import pandas as pd

from dashboard.ingest.dates import decide_order, parse_dates, parse_months


def _d(values, **kw):
    return parse_dates(pd.Series(values, dtype="string"), **kw)


def test_iso_uk_serial_and_text_forms():
    got = _d(
        ["2024-01-05", "05/01/2024", "45296", "5 Jan 2024", "Jan 5, 2024", "2024-01-05 13:45:00", "13/01/24"]
    )
    assert [str(v.date()) for v in got.values] == ["2024-01-05"] * 6 + ["2024-01-13"]
    assert not got.bad.any() and got.order == "day_first" and not got.ambiguous


def test_excel_serial_day_zero_is_1899_12_30():
    # 45292 is 1 Jan 2024 in Excel (days since 1899-12-30); 60 is Excel's phantom 29 Feb 1900, not believed.
    got = _d(["45292", "60"])
    assert str(got.values[0].date()) == "2024-01-01"
    assert got.bad.tolist() == [False, True]


def test_ambiguous_order_is_asked_not_guessed():
    got = _d(["03/04/2024", "05/06/2024"])
    assert got.ambiguous and got.example == "03/04/2024"
    assert got.values.isna().all() and not got.bad.any() and got.pending.all()
    assert str(_d(["03/04/2024"], day_first=True).values[0].date()) == "2024-04-03"
    assert str(_d(["03/04/2024"], day_first=False).values[0].date()) == "2024-03-04"


def test_order_forced_by_the_data():
    assert decide_order(pd.Series(["03", "13"]), pd.Series(["04", "01"])) == "day_first"
    assert decide_order(pd.Series(["03", "01"]), pd.Series(["14", "02"])) == "month_first"
    assert decide_order(pd.Series(["01", "02"]), pd.Series(["01", "02"])) == "day_first"  # same either way
    assert decide_order(pd.Series(["03"]), pd.Series(["04"])) is None
    us = _d(["03/14/2024", "05/06/2024"])
    assert us.order == "month_first" and str(us.values[1].date()) == "2024-05-06"


def test_bad_and_missing_values():
    got = _d(["31/02/2024", "not a date", None, "", "2024-13-01", "15/01/2024"])
    assert got.bad.tolist() == [True, True, False, False, True, False]


def test_two_digit_years():
    got = _d(["01/02/69", "01/02/70", "13/02/24"])
    assert [v.year for v in got.values] == [2069, 1970, 2024]


def test_months_in_many_forms():
    got = parse_months(
        pd.Series(["2024-01", "Jan 2024", "01/2024", "Feb-24", "2024-03-15", "March 2024", "x", None])
    )
    assert [None if pd.isna(v) else str(v.date()) for v in got.values] == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-03-01",
        None,
        None,
    ]
    assert got.bad.tolist() == [False] * 6 + [True, False]
