"""periods: months, windows and wave lookups, checked against dates worked out by hand."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard import periods, store


def test_months_and_month_ends():
    assert periods.add_months(date(2024, 1, 31), 1) == date(2024, 2, 1)
    assert periods.add_months(date(2024, 1, 15), -13) == date(2022, 12, 1)
    assert periods.month_end(date(2024, 2, 10)) == date(2024, 2, 29)     # leap year
    assert periods.month_end(date(2023, 12, 1)) == date(2023, 12, 31)
    assert periods.months_of(date(2023, 11, 20), date(2024, 2, 1)) == (
        date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1))
    assert periods.months_of(date(2024, 3, 1), date(2024, 2, 1)) == ()


def test_rolling_windows_and_last_year():
    window = periods.rolling_months(date(2024, 2, 17))
    assert len(window) == 12 and window[0] == date(2024, 2, 1) and window[-1] == date(2023, 3, 1)
    assert periods.same_month_last_year(date(2024, 2, 29)) == date(2023, 2, 1)
    # 365 days ending on the fieldwork date, and the 365 before
    assert periods.twelve_months_to(date(2025, 10, 15)) == (date(2024, 10, 16), date(2025, 10, 15))
    assert periods.fieldwork_periods(date(2025, 10, 15)) == (
        (date(2024, 10, 16), date(2025, 10, 15)), (date(2023, 10, 17), date(2024, 10, 15)))
    assert periods.weeks_to(date(2025, 3, 31)) == (date(2024, 4, 2), date(2025, 3, 31))  # 364 days


def test_absence_window_either_side_of_a_start():
    mid = periods.absence_window(date(2024, 5, 15), 6)
    assert (mid["pre_start"], mid["pre_end"], mid["post_start"], mid["post_end"], mid["transition"]) == (
        date(2023, 11, 1), date(2024, 4, 1), date(2024, 6, 1), date(2024, 11, 1), date(2024, 5, 1))
    first = periods.absence_window(date(2024, 5, 1), 12)
    assert first["post_start"] == date(2024, 5, 1) and first["transition"] is None
    assert first["pre_start"] == date(2023, 5, 1) and first["post_end"] == date(2025, 4, 1)


def test_wave_lookups(tmp_path):
    con = store.connect(tmp_path / "w.duckdb")
    con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)",
                    [(2, "2025", date(2025, 10, 15)), (1, "2024", date(2024, 10, 15))])
    assert list(periods.waves(con).wave_id) == [1, 2]
    assert periods.fielded_on(con, 2) == date(2025, 10, 15)
    assert periods.wave_periods(con, 1)[0] == (date(2023, 10, 17), date(2024, 10, 15))  # 29 Feb inside
    with pytest.raises(ValueError, match="unknown wave 9"):
        periods.fielded_on(con, 9)
    con.close()
