"""Absence analytics against hand-computed figures and a day-by-day reference on tiny stores."""
from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dashboard import store
from dashboard.metrics import absence
from dashboard.store import derived

UNITS = [
    (1, "Ward A", "Medicine", "North"),
    (2, "Ward B", "Medicine", "North"),
    (3, "Theatres", "Surgery", "South"),
    (4, "Clinic C", "Surgery", "South"),
]


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "s.duckdb")
    c.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", UNITS)
    yield c
    c.close()


def add_sip(con, rows):
    """rows: (unit_id, 'YYYY-MM-01', headcount, fte)."""
    con.executemany("INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)", rows)


_next_id = iter(range(1, 10**6))


def add_episodes(con, rows):
    """rows: (employee, unit_id, start, end or None, fte, reason[, staff_group])."""
    con.executemany(
        "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date, fte,"
        " reason_code, staff_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(next(_next_id), *r[:6], r[6] if len(r) > 6 else "Nursing") for r in rows],
    )


def month_row(frame, month, **group):
    sel = frame[frame.month == pd.Timestamp(month)]
    for k, v in group.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return sel.iloc[0]


JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


# --- rates: hand-computed ----------------------------------------------------------------------

def test_episode_crossing_a_month_end_is_split(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0), (1, "2024-02-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-01-30", "2024-02-02", 1.0, "S10")])
    m = absence.monthly_rates(con, JAN, date(2024, 2, 29), threshold=10)
    jan, feb = month_row(m, JAN), month_row(m, FEB)
    # Jan 30, 31 | Feb 1, 2; available 10 FTE x 31 and x 29 (2024 is a leap year)
    assert (jan.fte_days_lost, jan.fte_days_available) == (2.0, 310.0)
    assert (feb.fte_days_lost, feb.fte_days_available) == (2.0, 290.0)
    assert jan.rate == pytest.approx(2 / 310)
    assert feb.rate == pytest.approx(2 / 290)


def test_episode_crossing_a_year_end_part_time(con):
    add_sip(con, [(1, "2023-12-01", 12, 10.0), (1, "2024-01-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2023-12-30", "2024-01-02", 0.5, "S13")])
    m = absence.monthly_rates(con, date(2023, 12, 1), date(2024, 1, 31), threshold=10)
    # two days each side at 0.5 FTE
    assert month_row(m, date(2023, 12, 1)).fte_days_lost == 1.0
    assert month_row(m, JAN).fte_days_lost == 1.0
    assert month_row(m, JAN).rate == pytest.approx(1 / 310)


def test_open_episode_runs_to_the_end_of_the_data(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0), (1, "2024-02-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-02-20", None, 1.0, "S10"), ("e2", 1, "2024-01-01", None, 0.5, "S11")])
    assert absence.data_end(con) == date(2024, 2, 29)
    m = absence.monthly_rates(con, JAN, date(2024, 2, 29), threshold=10)
    # e1: Feb 20-29 = 10 days; e2: Jan 31 + Feb 29 days at 0.5
    assert month_row(m, JAN).fte_days_lost == 15.5
    assert month_row(m, FEB).fte_days_lost == 10 + 14.5
    p = absence.patterns(con, JAN, date(2024, 2, 29), threshold=10, long_term_days=28)
    row = p.iloc[0]
    # e2 lasts 60 days (> 28): long-term; e1 10 days: short-term
    assert (row.spells_short, row.spells_long) == (1, 1)
    assert (row.days_short, row.days_long) == (10.0, 30.0)
    assert absence.episode_quality(con)["open_episodes"] == 2


def test_overlapping_duplicates_are_merged_and_reported(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0)])
    add_episodes(
        con,
        [
            ("e1", 1, "2024-01-10", "2024-01-14", 1.0, "S10"),
            ("e1", 1, "2024-01-12", "2024-01-20", 1.0, "S10"),  # overlaps: one spell 10-20
            ("e1", 1, "2024-01-12", "2024-01-20", 1.0, "S10"),  # exact duplicate
            ("e1", 1, "2024-01-21", "2024-01-22", 1.0, "S13"),  # adjacent, not overlapping: own spell
            ("e2", 1, "2024-01-12", "2024-01-20", 1.0, "S10"),  # same dates, other person: kept
            ("e3", 1, "2024-01-25", "2024-01-24", 1.0, "S10"),  # ends before it starts: dropped
        ],
    )
    q = absence.episode_quality(con)
    assert q == {"records": 6, "spells": 3, "duplicates_merged": 2, "invalid_dropped": 1, "open_episodes": 0}
    # a scope counts distinct spells touching its units (another path): the same here
    assert absence.episode_quality(con, [1]) == q
    assert absence.episode_quality(con, [2])["spells"] == 0
    m = absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=10)
    assert month_row(m, JAN).fte_days_lost == 11 + 2 + 9
    assert absence.period_summary(con, JAN, date(2024, 1, 31))["episodes"] == 3


def test_fte_change_mid_month(con):
    # FTE in post falls from 10 to 9.6 in February; the employee went from 0.6 to 1.0 FTE mid-January
    add_sip(con, [(1, "2024-01-01", 12, 10.0), (1, "2024-02-01", 12, 9.6)])
    add_episodes(
        con,
        [
            ("e1", 1, "2024-01-08", "2024-01-12", 0.6, "S10"),
            ("e1", 1, "2024-01-22", "2024-01-23", 1.0, "S10"),
            ("e1", 1, "2024-02-05", "2024-02-06", 1.0, "S10"),
        ],
    )
    m = absence.monthly_rates(con, JAN, date(2024, 2, 29), threshold=10)
    assert month_row(m, JAN).fte_days_lost == pytest.approx(5 * 0.6 + 2)
    assert month_row(m, JAN).rate == pytest.approx(5 / 310)
    assert month_row(m, FEB).fte_days_available == pytest.approx(9.6 * 29)
    assert month_row(m, FEB).rate == pytest.approx(2 / (9.6 * 29))


def test_zero_denominator_gives_no_figure(con):
    add_sip(con, [(1, "2024-01-01", 12, 0.0), (2, "2024-01-01", 12, 10.0), (2, "2024-02-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-01-03", "2024-01-04", 1.0, "S10")])
    m = absence.monthly_rates(con, JAN, date(2024, 2, 29), threshold=1, by=("team",))
    a = month_row(m, JAN, team="Ward A")
    assert math.isnan(a.rate)  # no FTE in post: no figure, not 0 and not infinity
    assert a.unmatched_days_lost == 2.0
    assert month_row(m, FEB, team="Ward B").rate == 0.0  # staff in post, nobody off: a real zero
    org = absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=1)
    # the organisation rate leaves out the days that have no denominator
    assert month_row(org, JAN).rate == 0.0
    assert month_row(org, JAN).unmatched_days_lost == 2.0
    empty = absence.period_summary(con, date(2025, 1, 1), date(2025, 1, 31))
    assert empty["rate"] is None and empty["fte_days_available"] == 0.0


def test_headcount_fallback_is_flagged(con):
    add_sip(con, [(1, "2024-01-01", 12, None)])
    add_episodes(con, [("e1", 1, "2024-01-03", "2024-01-04", 1.0, "S10")])
    row = month_row(absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=10), JAN)
    assert row.fte_days_available == 12 * 31
    assert bool(row.headcount_fallback)


def test_working_days_against_calendar_days(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-01-05", "2024-01-08", 1.0, "S10")])  # Fri to Mon
    cal = month_row(absence.monthly_rates(con, JAN, date(2024, 1, 31), 10, day_count="calendar"), JAN)
    work = month_row(absence.monthly_rates(con, JAN, date(2024, 1, 31), 10, day_count="working"), JAN)
    assert cal.rate == pytest.approx(4 / 310)
    # January 2024 has 23 weekdays (1 Jan was a Monday); Fri + Mon are 2 working days
    assert np.busday_count("2024-01-01", "2024-02-01") == 23
    assert work.fte_days_available == 230.0
    assert work.rate == pytest.approx(2 / 230)


def test_working_day_formula_matches_numpy(con):
    rng = np.random.default_rng(7)
    starts = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 2000, 300), unit="D")
    ends = starts + pd.to_timedelta(rng.integers(0, 400, 300), unit="D")
    pairs = pd.DataFrame({"a": starts.date, "b": ends.date})  # noqa: F841 (read by DuckDB)
    expr = absence._days_sql("a", "b", "working")
    got = con.execute(f"SELECT {expr} AS n FROM pairs").df()["n"].to_numpy()
    want = np.busday_count(pairs.a.to_numpy("datetime64[D]"), pairs.b.to_numpy("datetime64[D]") + 1)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        absence._days_sql("a", "b", "weekly")


# --- monthly aggregates ------------------------------------------------------------------------

def test_monthly_aggregates_on_the_published_formula(con):
    # NHS: rate = FTE days lost / FTE days available (x 100 for %). ESR repeats available per reason.
    con.executemany(
        "INSERT INTO absence_monthly (unit_id, month, reason_code, fte_days_lost, fte_days_available)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (3, "2024-01-01", "S10", 12.5, 620.0),
            (3, "2024-01-01", "S13", 18.6, 620.0),
            (3, "2024-02-01", None, 20.0, 580.0),
            (1, "2024-01-01", "S10", 99.0, 310.0),  # unit 1 has episodes in January: they win
        ],
    )
    add_sip(con, [(1, "2024-01-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-01-03", "2024-01-04", 1.0, "S12")])
    m = absence.monthly_rates(con, JAN, date(2024, 2, 29), threshold=10, by=("team",))
    th_jan = month_row(m, JAN, team="Theatres")
    assert th_jan.rate == pytest.approx((12.5 + 18.6) / 620)
    assert round(100 * th_jan.rate, 2) == 5.02
    assert th_jan.s10_share == pytest.approx(12.5 / 31.1)
    assert th_jan.source == "monthly"
    # without staff in post the anonymity test uses FTE (620 / 31 = 20) as a floor on headcount
    assert th_jan.headcount == 20
    th_feb = month_row(m, FEB, team="Theatres")
    assert th_feb.rate == pytest.approx(20 / 580)
    assert math.isnan(th_feb.s10_share)  # no reason breakdown: no share
    wa = month_row(m, JAN, team="Ward A")
    assert (wa.fte_days_lost, wa.source) == (2.0, "episodes")
    org = month_row(absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=10), JAN)
    assert org.rate == pytest.approx((31.1 + 2) / (620 + 310))
    assert org.source == "mixed"


# --- rolling 12 months, last year, seasonality, against a day-by-day reference --------------------

def reference_monthly(episodes, sip):
    """Second method: expand every spell into days with pandas, de-duplicate per employee-day."""
    days = []
    for emp, unit, s, e, fte in episodes:
        for d in pd.date_range(s, e):
            days.append((emp, unit, d, fte))
    frame = pd.DataFrame(days, columns=["emp", "unit", "day", "fte"]).drop_duplicates(["emp", "day"])
    frame["month"] = frame.day.dt.to_period("M").dt.to_timestamp()
    lost = frame.groupby("month").fte.sum()
    avail = pd.Series(
        {pd.Timestamp(m): fte * pd.Timestamp(m).days_in_month for _, m, _, fte in sip}
    ).groupby(level=0).sum()
    return pd.DataFrame({"lost": lost, "available": avail}).fillna({"lost": 0.0})


def test_rolling_twelve_months_last_year_and_seasonality(con):
    rng = np.random.default_rng(3)
    months = pd.date_range("2022-01-01", "2024-12-01", freq="MS")
    sip = [(1, m.date(), 12, 10.0 + (i % 3)) for i, m in enumerate(months)]
    add_sip(con, sip)
    eps = []
    for k in range(120):
        s = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 1080)))
        e = s + pd.Timedelta(days=int(rng.integers(0, 40)))
        eps.append((f"e{k % 9}", 1, s.date(), min(e, pd.Timestamp("2024-12-31")).date(), 1.0))
    add_episodes(con, [(*r, "S10") for r in eps])
    ref = reference_monthly(eps, sip)
    ref["rate"] = ref.lost / ref.available
    m = absence.monthly_rates(con, date(2023, 1, 1), date(2024, 12, 31), threshold=10).set_index("month")
    np.testing.assert_allclose(m.rate, ref.rate.loc["2023-01-01":], rtol=1e-12)
    roll = ref.lost.rolling(12).sum() / ref.available.rolling(12).sum()
    np.testing.assert_allclose(m.rate_12m, roll.loc["2023-01-01":], rtol=1e-12)
    np.testing.assert_allclose(m.rate_last_year, ref.rate.shift(12).loc["2023-01-01":], rtol=1e-12)
    # no rolling figure without twelve months of data
    early = absence.monthly_rates(con, date(2022, 1, 1), date(2022, 12, 31), threshold=10)
    assert early.rate_12m.isna().sum() == 11 and early.rate_12m.iloc[-1] == pytest.approx(roll.iloc[11])
    season = absence.seasonality(con, date(2022, 1, 1), date(2024, 12, 31), threshold=10)
    by_moy = ref.groupby(ref.index.month)[["lost", "available"]].sum()
    np.testing.assert_allclose(season.rate, by_moy.lost / by_moy.available, rtol=1e-12)
    assert list(season.years) == [3] * 12
    assert season.month_name.iloc[0] == "Jan"
    # the period summary over a partial-month window agrees with the day-by-day reference
    window = pd.date_range("2023-03-15", "2024-03-14")
    summary = absence.period_summary(con, date(2023, 3, 15), date(2024, 3, 14))
    days = pd.DataFrame(
        [(emp, d) for emp, _, s, e, _ in eps for d in pd.date_range(s, e)], columns=["emp", "day"]
    ).drop_duplicates()
    assert summary["fte_days_lost"] == days.day.isin(window).sum()
    sip_frame = pd.DataFrame(sip, columns=["u", "m", "h", "fte"]).set_index("m")["fte"]
    avail = sum(sip_frame[d.replace(day=1).date()] for d in window)
    assert summary["fte_days_available"] == pytest.approx(avail)


# --- reasons, patterns, Bradford ---------------------------------------------------------------

def test_reasons_with_labels_and_shares(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0)])
    add_episodes(
        con,
        [
            ("e1", 1, "2024-01-01", "2024-01-06", 1.0, "S10"),
            ("e2", 1, "2024-01-01", "2024-01-03", 1.0, "S11"),
            ("e3", 1, "2024-01-01", "2024-01-01", 1.0, "S12"),
            ("e4", 1, "2024-01-01", "2024-01-02", 1.0, "S99"),
        ],
    )
    r = absence.reasons(con, JAN, date(2024, 1, 31), threshold=10).set_index("reason_code")
    assert r.loc["S10", "reason"] == "Anxiety/stress/depression/other psychiatric illnesses"
    assert r.loc["S10", "fte_days_lost"] == 6 and r.loc["S10", "share"] == pytest.approx(6 / 12)
    assert r.loc["S99", "reason"] == "Unknown causes/not specified"
    assert list(r.index) == ["S10", "S11", "S99", "S12"]  # by days lost, largest first
    s = absence.period_summary(con, JAN, date(2024, 1, 31))
    assert s["s10_share"] == pytest.approx(0.5)
    assert s["msk_share"] == pytest.approx(4 / 12)  # S11 + S12
    assert s["s99_share"] == pytest.approx(2 / 12)
    labels = absence.reason_labels()
    assert len(labels) == 25 and labels["S98"].startswith("Other known causes")


def test_reason_days_are_the_exact_sums_of_the_unit_months_every_time(demo_con):
    """Whole months read the derived unit-months (rounded to 1e-9) and add them as decimals:
    each reason's days are their exact sum, bit for bit, and a second call gives the same frame
    (adding doubles in no fixed order once gave a share differing in its last bit)."""
    from decimal import Decimal

    from dashboard import periods

    wave = int(demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0])
    around = periods.wave_periods(demo_con, wave)[0]   # 16 October to 15 October: part-months
    start = (around[0].replace(day=1) + timedelta(days=32)).replace(day=1)
    end = around[1].replace(day=1) - timedelta(days=1)
    assert absence.whole_months(start, end) and not absence.whole_months(*around)
    rows = demo_con.execute(
        "SELECT u.directorate, r.reason_code, r.lost FROM absence_unit_month_reason AS r"
        " JOIN units AS u USING (unit_id) WHERE r.day_count = 'calendar' AND r.month BETWEEN ? AND ?",
        [start, end]).fetchall()
    for by in ((), ("directorate",)):
        exact: dict[tuple, Decimal] = {}
        for directorate, reason, lost in rows:
            key = (directorate if by else None, reason)
            exact[key] = exact.get(key, Decimal(0)) + Decimal(repr(lost)).quantize(Decimal("1e-9"))
        got = absence.reasons(demo_con, start, end, threshold=10, by=by)
        shown = got[~got.suppressed]
        assert len(shown) > 5
        for row in shown.itertuples(index=False):
            key = (row.directorate if by else None, None if pd.isna(row.reason_code) else row.reason_code)
            assert row.fte_days_lost == float(exact[key])
        for period in ((start, end), around):
            pd.testing.assert_frame_equal(absence.reasons(demo_con, *period, threshold=10, by=by),
                                          absence.reasons(demo_con, *period, threshold=10, by=by),
                                          check_exact=True)


def test_several_cuts_in_one_query_equal_each_cut_on_its_own(demo_con):
    """period_rates_of splits a period's spells once for several cuts (the import stores four
    cuts over two periods per wave): each frame equals period_rates for that cut alone, bit for
    bit, over part-months, whole months, a scope and a period without data."""
    from dashboard import periods

    wave = int(demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0])
    cuts = [(), ("directorate",), ("directorate", "team"), ("site",)]
    spans = [*periods.wave_periods(demo_con, wave), (date(2024, 1, 1), date(2024, 12, 31)),
             (date(2031, 1, 1), date(2031, 3, 31))]
    for start, end in spans:
        for unit_ids in (None, [1, 2, 3, 9]):
            together = absence.period_rates_of(demo_con, start, end, 10, cuts, unit_ids)
            for by, frame in zip(cuts, together, strict=True):
                alone = absence.period_rates(demo_con, start, end, 10, by, unit_ids)
                order = list(by)
                pd.testing.assert_frame_equal(
                    frame.sort_values(order).reset_index(drop=True) if order else frame,
                    alone.sort_values(order).reset_index(drop=True) if order else alone,
                    check_exact=True)
            assert len(together[0]) == 1   # the organisation: one row, withheld when there is no data
            shown = together[2][~together[2].suppressed]
            if start.year < 2030 and unit_ids is None:
                assert len(shown) > 5 and shown.rate.between(0, 1).all()
    assert absence.period_rates_of(demo_con, *spans[0], 10, []) == []


def test_spells_per_fte(con):
    add_sip(con, [(1, "2024-01-01", 12, 8.0), (1, "2024-02-01", 12, 12.0)])
    add_episodes(
        con,
        [
            ("e1", 1, "2023-12-20", "2024-01-05", 1.0, "S10"),  # started before the period: days only
            ("e2", 1, "2024-01-10", "2024-01-10", 1.0, "S13"),
            ("e3", 1, "2024-02-01", "2024-03-31", 1.0, "S10"),  # 60 days: long-term
        ],
    )
    p = absence.patterns(con, JAN, date(2024, 2, 29), threshold=10).iloc[0]
    assert (p.spells_short, p.spells_long) == (1, 1)
    assert p.days_short == 5 + 1 and p.days_long == 29
    assert p.mean_fte == 10.0
    assert p.spells_per_fte == pytest.approx(2 / 10)


def test_bradford_distribution_is_group_level(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0), (2, "2024-01-01", 12, 10.0)])
    ten_single = [("a", 1, f"2024-01-{d:02d}", f"2024-01-{d:02d}", 1.0, "S13") for d in range(1, 20, 2)]
    add_episodes(
        con,
        ten_single
        + [
            ("b", 1, "2024-01-01", "2024-01-10", 1.0, "S10"),  # one 10-day spell: 1^2 x 10 = 10
            ("c", 1, "2024-01-01", "2024-01-03", 1.0, "S10"),
            ("c", 1, "2024-01-20", "2024-01-22", 1.0, "S10"),  # 2^2 x 6 = 24
            ("d", 1, "2022-01-01", "2022-01-03", 1.0, "S10"),  # outside the 52 weeks
        ],
    )
    summary, bands = absence.bradford(con, date(2024, 1, 31), threshold=3)
    row = summary.iloc[0]
    assert row.employees == 3  # a: ten 1-day spells = 10^2 x 10 = 1000
    assert row["median"] == 24
    assert row["p75"] == pytest.approx(24 + 0.5 * (1000 - 24))
    assert row["p90"] == pytest.approx(np.quantile([10, 24, 1000], 0.9))
    got = dict(zip(bands.band, bands.employees, strict=True))
    assert got == {"0-50": 2.0, "650+": 1.0}
    assert "employee_key" not in bands.columns and "employee_key" not in summary.columns
    # fewer absent employees than the threshold: the distribution is not shown at all
    small, small_bands = absence.bradford(con, date(2024, 1, 31), threshold=4)
    assert small.suppressed.all() and small_bands.employees.isna().all()
    assert "criticised" in absence.BRADFORD_CAVEAT and "disabled" in absence.BRADFORD_CAVEAT


# --- privacy -----------------------------------------------------------------------------------

def test_small_team_and_a_sibling_are_suppressed(con):
    add_sip(con, [(1, "2024-01-01", 30, 25.0), (2, "2024-01-01", 14, 12.0),
                  (3, "2024-01-01", 20, 18.0), (4, "2024-01-01", 6, 5.0)])
    add_episodes(con, [("e1", 4, "2024-01-03", "2024-01-04", 1.0, "S10"),
                       ("e2", 3, "2024-01-03", "2024-01-09", 1.0, "S10")])
    m = absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=10, by=("directorate", "team"))
    flags = dict(zip(m.team, m.suppressed, strict=True))
    # Clinic C (6) is below 10; Theatres, its only sibling, would give it away via Surgery's total
    assert flags == {"Ward A": False, "Ward B": False, "Theatres": True, "Clinic C": True}
    assert m[m.suppressed].rate.isna().all() and m[m.suppressed].fte_days_lost.isna().all()
    r = absence.reasons(con, JAN, date(2024, 1, 31), threshold=10, by=("team",))
    assert r[r.team == "Clinic C"].fte_days_lost.isna().all()
    p = absence.patterns(con, JAN, date(2024, 1, 31), threshold=10, by=("team",))
    assert p[p.team == "Clinic C"].days.isna().all()


def test_staff_group_has_no_rate_and_uses_absent_employees_as_size(con):
    add_sip(con, [(1, "2024-01-01", 30, 25.0)])
    add_episodes(con, [(f"e{i}", 1, "2024-01-03", "2024-01-04", 1.0, "S10", "Nursing") for i in range(10)]
                 + [("x", 1, "2024-01-03", "2024-01-04", 1.0, "S10", "Medical")])
    m = absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=1, by=("staff_group",))
    nursing = month_row(m, JAN, staff_group="Nursing")
    assert nursing.fte_days_lost == 20 and math.isnan(nursing.rate)
    assert nursing.headcount == 10  # distinct absent employees: a floor on the group's headcount
    m = absence.monthly_rates(con, JAN, date(2024, 1, 31), threshold=10, by=("staff_group",))
    # Medical (1 absent employee) is below 10, and Nursing would reveal it from the total
    assert m.suppressed.all()


# --- survey x absence --------------------------------------------------------------------------

def test_pearson_interval_matches_scipy():
    rng = np.random.default_rng(11)
    x = rng.normal(size=15)
    y = 0.6 * x + rng.normal(size=15)
    got = absence.pearson_ci(x, y)
    want = stats.pearsonr(x, y)
    ci = want.confidence_interval(0.95)
    assert got["r"] == pytest.approx(want.statistic)
    assert (got["lo"], got["hi"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert got["slope"] == pytest.approx(stats.linregress(x, y).slope)
    assert absence.pearson_ci([1, 2, 3], [2, 1, 3])["lo"] is None  # no interval with n = 3
    assert absence.pearson_ci([1, 2], [1, 2])["r"] is None
    assert absence.pearson_ci([1, 1, 1, 1], [1, 2, 3, 4])["r"] is None  # no spread


def test_survey_vs_absence_by_team(con):
    extra = [(5, "Ward E", "Medicine", "North"), (6, "Ward F", "Medicine", "North"),
             (7, "Tiny", "Surgery", "South")]
    con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", extra)
    con.execute("INSERT INTO waves (wave_id, label, fielded_on) VALUES (1, '2024', '2024-06-30')")
    teams = {1: (12, 3), 2: (15, 6), 3: (11, 4), 4: (20, 12), 5: (10, 7), 6: (14, 9), 7: (4, 2)}
    rid = 0
    lost_days = {1: 10, 2: 40, 3: 15, 4: 70, 5: 30, 6: 55, 7: 30}
    for unit, (n, yes) in teams.items():
        for i in range(n):
            rid += 1
            con.execute("INSERT INTO responses (response_id, wave_id, unit_id) VALUES (?, 1, ?)", [rid, unit])
            score = 1.0 if i < yes else 0.0
            con.execute("INSERT INTO respondent_scores VALUES (?, 'stress', ?)", [rid, score])
        for m in pd.date_range("2023-07-01", "2024-06-01", freq="MS"):
            add_sip(con, [(unit, m.date(), max(n, 4), 10.0)])
        add_episodes(con, [(f"u{unit}", unit, "2024-01-01",
                            (date(2024, 1, 1) + timedelta(days=lost_days[unit] - 1)).isoformat(), 1.0,
                            "S10" if unit % 2 else "S11")])
    teams_frame, result = absence.survey_vs_absence(con, "stress", 1, threshold=10)
    assert "Tiny" not in set(teams_frame.team)  # 4 respondents and 4 staff: removed
    assert result["n"] == len(teams_frame) == 5  # and one sibling, so the total cannot reveal Tiny
    assert result["teams_removed"] == 2
    available = 10.0 * 365  # 365 days to the wave: 2 Jul 2023 - 30 Jun 2024
    row = teams_frame.set_index("team").loc["Ward B"]
    assert row.value == pytest.approx(6 / 15) and row.absence == pytest.approx(40 / available)
    want = stats.pearsonr(teams_frame.value, teams_frame.absence)
    assert result["r"] == pytest.approx(want.statistic)
    # weighted by respondents: numpy's weighted covariance matrix, an independent route
    cov = np.cov(teams_frame.value, teams_frame.absence, aweights=teams_frame.n)
    assert result["r_weighted"] == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))
    assert result["r_weighted"] != pytest.approx(result["r"], abs=1e-3)
    assert (result["start"], result["end"]) == (date(2023, 7, 2), date(2024, 6, 30))
    s10, _ = absence.survey_vs_absence(con, "stress", 1, threshold=10, measure="s10_share")
    assert set(s10.absence) <= {0.0, 1.0}
    with pytest.raises(ValueError):
        absence.survey_vs_absence(con, "stress", 1, threshold=10, measure="bogus")


# --- the demo organisation ---------------------------------------------------------------------

def test_demo_rota_redesign_and_winter_are_visible(demo_con):
    from dashboard import demo

    rota = [r[0] for r in demo_con.execute(
        "SELECT unit_id FROM units WHERE list_contains(?, team)", [list(demo.ROTA_TEAMS)]).fetchall()]
    others = [r[0] for r in demo_con.execute(
        "SELECT unit_id FROM units WHERE NOT list_contains(?, team)", [list(demo.ROTA_TEAMS)]).fetchall()]
    start = date(2024, 7, 1)

    def ratio(units):
        before = absence.period_summary(demo_con, date(2023, 7, 1), start - timedelta(days=1), units)
        after = absence.period_summary(demo_con, start, date(2025, 6, 30), units)
        return after["rate"] / before["rate"]

    # planted: 0.7x from July 2024 in the five rota teams, nothing elsewhere
    assert ratio(rota) == pytest.approx(demo.ROTA_RATIO, abs=0.08)
    assert ratio(others) == pytest.approx(1.0, abs=0.08)
    series = absence.monthly_rates(demo_con, date(2023, 1, 1), date(2025, 12, 31), 10, unit_ids=rota)
    assert not series.suppressed.any()
    pre = series[(series.month >= "2023-07-01") & (series.month < "2024-07-01")].rate.mean()
    post = series[(series.month >= "2024-07-01") & (series.month < "2025-07-01")].rate.mean()
    assert post < 0.8 * pre
    assert absence.absence_events(demo_con, rota).label.tolist() == ["Rota redesign"]
    # winter seasonality: December-February above June-August in the month-of-year profile
    season = absence.seasonality(demo_con, date(2023, 1, 1), date(2025, 12, 31), 10)
    season = season.set_index("month_of_year")
    assert season.loc[[12, 1, 2], "rate"].mean() > 1.15 * season.loc[[6, 7, 8], "rate"].mean()
    # the survey link works on the demo: most teams shown, a positive stress-absence correlation
    wave = demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0]
    teams, result = absence.survey_vs_absence(demo_con, "stress", wave, 10)
    assert result["n"] == len(teams) >= 40 and result["teams_removed"] > 0
    assert result["lo"] < result["r"] < result["hi"]
    assert result["r"] > 0


def test_survey_scatter_shows_only_teams_the_release_plan_shows(demo_con):
    from dashboard import privacy

    wave = demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0]
    teams, _ = absence.survey_vs_absence(demo_con, "stress", wave, 10)
    released = privacy.survey_figures(demo_con, ("team",), 10, wave_ids=[wave], indicator_ids=["stress"])
    shown = set(released.loc[~released.suppressed, "team"])
    withheld_but_large = set(released.loc[released.suppressed & (released.n.isna()), "team"])
    assert set(teams.team) <= shown
    assert withheld_but_large, "the demo has teams the plan withholds"
    assert not set(teams.team) & withheld_but_large


# --- the Absence page shares the Teams page's release (tests/teams_org.py) ---------------------

@pytest.fixture(scope="module")
def teams_abs(tmp_path_factory):
    from tests import teams_org

    con = teams_org.build(tmp_path_factory.mktemp("abs_release") / "s.duckdb")
    teams_org.add_absence(con)
    yield con
    con.close()


PERIOD = (date(2024, 10, 16), date(2025, 10, 15))


def test_compare_by_site_never_shows_a_site_that_exposes_a_withheld_team(teams_abs):
    from dashboard.metrics import team_absence

    # Per table both sites would pass (73 and 42 staff), but North - Medicine - HR - Finance =
    # Clinic (8). Since issue 10 period_rates itself applies the one release, which withholds them.
    assert absence.period_rates(teams_abs, *PERIOD, 10, ("site",)).suppressed.all()
    sites = team_absence.compare_rates(teams_abs, *PERIOD, 10, "site")
    assert sites.suppressed.all() and sites.rate.isna().all()
    assert team_absence.scope_options(teams_abs, *PERIOD, 10, "site").empty


def test_compare_within_a_scope_lists_organisation_wide_figures_only(teams_abs):
    from dashboard.metrics import team_absence
    from tests import teams_org

    medicine = [teams_org.TEAM_ID[t] for t, d in teams_org.DIRECTORATE.items() if d == "Medicine"]
    teams = team_absence.compare_rates(teams_abs, *PERIOD, 10, "team", unit_ids=medicine)
    assert set(teams.team) == {t for t, d in teams_org.DIRECTORATE.items() if d == "Medicine"}
    shown = teams[~teams.suppressed].set_index("team")
    everywhere = team_absence.compare_rates(teams_abs, *PERIOD, 10, "team").set_index("team")
    for team, row in shown.iterrows():
        assert row.rate == pytest.approx(everywhere.loc[team, "rate"])
        assert row.rate == pytest.approx(teams_org.absence_by_hand([team], *PERIOD)["rate"])
    assert {"Ward B", "Ward C"} <= set(teams[teams.suppressed].team)


def test_bradford_by_group_keeps_only_released_groups(teams_abs):
    from dashboard.metrics import team_absence

    summary, bands = team_absence.bradford(teams_abs, PERIOD[1], 10, "team")
    released = team_absence.released_groups(teams_abs, *PERIOD, 10, "team")
    assert set(summary.loc[~summary.suppressed, "team"]) <= released
    assert set(bands.loc[~bands.suppressed, "team"]) <= released
    # withheld groups carry no figures at all, not just a flag
    assert bands.loc[bands.suppressed, "employees"].isna().all()
    assert summary.loc[summary.suppressed, "employees"].isna().all()


# --- spells touching a period: the organisation's count against merging by hand -------------------

def _spells_by_hand(records, data_end):
    """Second method: merge each employee's valid records that overlap (a record starting after
    every earlier one has ended starts a new spell; abutting ones do not merge) and return each
    spell's (first day, last day)."""
    spans = []
    by_employee = {}
    for emp, _unit, s, e in records:
        end = data_end if e is None else e
        if e is not None and e < s:
            continue  # ends before it starts: dropped
        by_employee.setdefault(emp, []).append((s, max(end, s)))
    for rows in by_employee.values():
        rows.sort(key=lambda r: (r[0], -r[1].toordinal()))
        first, last = rows[0]
        for s, e in rows[1:]:
            if s > last:
                spans.append((first, last))
                first, last = s, e
            else:
                last = max(last, e)
        spans.append((first, last))
    return spans


def test_spells_touching_a_period_counted_once_for_the_organisation_and_a_listed_scope(con):
    # overlapping records of one employee across teams and FTEs, abutting records (two spells),
    # exact duplicates, open records and records ending before they start
    rng = np.random.default_rng(11)
    months = pd.date_range("2023-01-01", "2024-12-01", freq="MS")
    add_sip(con, [(u, m.date(), 20, 18.0) for u in (1, 2, 3, 4) for m in months])
    records = []
    for _ in range(400):
        emp = f"p{int(rng.integers(0, 40))}"
        s = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
        kind = rng.random()
        e = (None if kind < 0.04 else s - timedelta(days=2) if kind < 0.08
             else s + timedelta(days=int(rng.integers(0, 30))))
        records.append((emp, int(rng.integers(1, 5)), s, e))
        if rng.random() < 0.1 and e is not None and e >= s:
            records.append((emp, int(rng.integers(1, 5)), e + timedelta(days=1), e + timedelta(days=3)))
        if rng.random() < 0.05:
            records.append(records[-1])
    add_episodes(con, [(emp, u, s, e, float(rng.choice([0.5, 1.0])), "S10") for emp, u, s, e in records])
    spans = _spells_by_hand(records, absence.data_end(con))
    assert len(spans) == absence.episode_quality(con)["spells"]
    # a spell's pieces reach from its first day to its last (and leave no gap: the scope that
    # lists every unit counts from the pieces, below, and must agree on every period)
    ends = con.execute(
        "SELECT count(*) FROM (SELECT spell_id, any_value(spell_start) AS a, any_value(spell_end) AS b,"
        " min(start_date) AS lo, max(end_date) AS hi FROM absence_spells GROUP BY spell_id)"
        " WHERE lo <> a OR hi <> b").fetchone()[0]
    assert ends == 0
    periods_ = [(date(2023, 1, 1), date(2024, 12, 31)), (date(2023, 6, 10), date(2023, 6, 10)),
                (date(2024, 2, 1), date(2024, 2, 29)), (date(2022, 1, 1), date(2022, 12, 31))]
    periods_ += [(a, a + timedelta(days=int(rng.integers(0, 90))))
                 for a in (date(2023, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 700, 12))]
    for start, end in periods_:
        expected = sum(1 for a, b in spans if a <= end and b >= start)
        found = absence.period_summaries(con, start, end, {"org": None})
        assert found["org"]["episodes"] == expected, (start, end)
        # the same units listed as a scope, alone and beside the organisation in one statement:
        # counted from the spells' pieces in them
        listed = absence.period_summaries(con, start, end, {"all": [1, 2, 3, 4]})
        both = absence.period_summaries(con, start, end, {"org": None, "all": [1, 2, 3, 4]})
        assert listed["all"]["episodes"] == both["all"]["episodes"] == both["org"]["episodes"] == expected


def test_organisation_episode_quality_is_stored_with_the_spells_and_equals_the_count(con):
    add_sip(con, [(1, "2024-01-01", 12, 10.0)])
    add_episodes(con, [("e1", 1, "2024-01-02", "2024-01-05", 1.0, "S10"),
                       ("e1", 2, "2024-01-04", "2024-01-09", 1.0, "S10"),   # overlaps: merged
                       ("e2", 3, "2024-01-10", None, 0.5, "S11"),           # open
                       ("e3", 4, "2024-01-10", "2024-01-08", 1.0, "S12")])  # ends before it starts
    by_hand = {"records": 4, "spells": 2, "duplicates_merged": 1, "invalid_dropped": 1, "open_episodes": 1}
    assert absence.episode_quality(con) == by_hand   # the refresh this asks for stores it
    assert json.loads(store.get_meta(con, derived.QUALITY_KEY)) == list(by_hand.values())
    # what is read is what is stored: a tampered value shows (so the read is not worked out)
    store.set_meta(con, derived.QUALITY_KEY, json.dumps([9, 9, 9, 9, 9]))
    assert absence.episode_quality(con)["records"] == 9
    # rows written since are found by the refresh, which stores the new counts
    add_episodes(con, [("e4", 1, "2024-01-20", "2024-01-21", 1.0, "S10")])
    assert absence.episode_quality(con) == {**by_hand, "records": 5, "spells": 3}
    # a store made before the counts were kept works them out
    con.execute("DELETE FROM meta WHERE key = ?", [derived.QUALITY_KEY])
    assert absence.episode_quality(con) == {**by_hand, "records": 5, "spells": 3}
    assert absence.episode_quality(con, [1, 2]) == {"records": 3, "spells": 2, "duplicates_merged": 1,
                                                    "invalid_dropped": 0, "open_episodes": 0}


def test_an_absence_figure_checks_the_derived_tables_once(demo_con, signature_checks):
    # Each query inside a figure used to check the derived tables' signatures again (one scan of
    # every source table each): period_rates_of checked five times, period_summaries twice.
    from dashboard import periods
    from dashboard.metrics import team_absence

    checks = signature_checks
    wave = int(demo_con.execute("SELECT max(wave_id) FROM waves").fetchone()[0])
    start, end = periods.wave_periods(demo_con, wave)[0]
    figures = [
        lambda: absence.period_rates_of(demo_con, start, end, 10, list(team_absence.KEYS.values())),
        lambda: absence.period_summaries(demo_con, start, end, {"o": None, "two": [1, 2]}, threshold=10),
        lambda: absence.monthly_rates(demo_con, start, end, 10, ("directorate",)),
        lambda: absence.survey_vs_absence(demo_con, "stress", wave, 10),
    ]
    for figure in figures:
        checks.clear()
        figure()
        assert len(checks) == 1, checks
