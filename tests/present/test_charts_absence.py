"""Absence chart specs: data, encodings, palette, and meaning carried by more than colour."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dashboard.metrics import absence
from dashboard.present.charts import absence as charts
from dashboard.present.charts.common import PALETTE


def rows(spec: dict) -> list[dict]:
    return [r for data in spec["datasets"].values() for r in data]


def layer_marks(spec: dict) -> list[str]:
    return [(lyr["mark"]["type"] if isinstance(lyr["mark"], dict) else lyr["mark"]) for lyr in spec["layer"]]


MONTHLY = pd.DataFrame(
    {
        "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        "rate": [0.05, np.nan, 0.04],
        "rate_12m": [np.nan, np.nan, 0.045],
        "rate_last_year": [0.055, 0.05, np.nan],
        "s10_share": [0.3, 0.25, np.nan],
        "msk_share": [0.1, 0.2, 0.15],
        "s99_share": [0.02, 0.0, 0.05],
    }
)


def test_rate_series_percent_gaps_and_styles():
    events = pd.DataFrame({"date": [pd.Timestamp("2024-02-01")], "label": ["Rota redesign"]})
    spec = charts.rate_series(MONTHLY, events).to_dict()
    data = [r for r in rows(spec) if "series" in r]
    monthly = {r["month"][:10]: r["percent"] for r in data if r["series"] == "Monthly rate"}
    # a month with no figure is a gap, never a zero
    assert monthly == {"2024-01-01": pytest.approx(5.0), "2024-03-01": pytest.approx(4.0)}
    assert len(data) == 2 + 1 + 2
    line = spec["layer"][0]["encoding"]
    assert line["color"]["scale"]["range"] == [PALETTE[0], PALETTE[1], PALETTE[5]]
    # series differ by dash and marker shape as well as colour
    assert len({str(d) for d in line["strokeDash"]["scale"]["range"]}) == 3
    assert len(set(spec["layer"][1]["encoding"]["shape"]["scale"]["range"])) == 3
    assert layer_marks(spec) == ["line", "point", "rule", "text"]
    assert any(r.get("label") == "Rota redesign" for r in rows(spec))
    assert spec["layer"][0]["encoding"]["y"]["title"] == "Sickness absence rate (%)"


def test_rate_series_without_events():
    spec = charts.rate_series(MONTHLY).to_dict()
    assert layer_marks(spec) == ["line", "point"]


def test_reason_shares_three_series_in_percent():
    spec = charts.reason_shares(MONTHLY).to_dict()
    data = rows(spec)
    s10 = [r["percent"] for r in data if r["series"].startswith("Anxiety")]
    assert s10 == [pytest.approx(30.0), pytest.approx(25.0)]
    assert {r["series"] for r in data} == {v[0] for v in charts.SHARES.values()}
    assert len(set(spec["layer"][1]["encoding"]["shape"]["scale"]["range"])) == 3


def test_reasons_bar_orders_and_labels():
    frame = pd.DataFrame(
        {
            "reason_code": ["S13", "S10", "S99", None],
            "reason": [
                "Cold, cough, flu - influenza", "Anxiety/stress/depression/other psychiatric illnesses",
                "Unknown causes/not specified", "Not broken down by reason (monthly totals)",
            ],
            "fte_days_lost": [20.0, 50.0, 5.0, 7.0],
            "share": [0.2667, 0.6667, 0.0667, np.nan],
        }
    )
    spec = charts.reasons_bar(frame).to_dict()
    y = spec["layer"][0]["encoding"]["y"]
    assert y["sort"][0].startswith("S10 Anxiety")
    assert y["sort"][-1] == "S99 Unknown causes/not specified"
    texts = {r["name"]: r["text"] for r in rows(spec)}
    assert texts["S10 Anxiety/stress/depression/other psychiatric illnesses"] == "67%"
    assert texts["Not broken down by reason (monthly totals)"] == ""


def test_short_long_split_labels_segments():
    pat = pd.DataFrame(
        {"spells_short": [30], "spells_long": [10], "days_short": [60.0], "days_long": [140.0]}
    )
    spec = charts.short_long(pat).to_dict()
    data = {(r["measure"], r["term"]): r for r in rows(spec)}
    assert data[("Spells", "Short-term")]["percent"] == pytest.approx(75.0)
    assert data[("FTE days lost", "Long-term")]["percent"] == pytest.approx(70.0)
    # the long-term label starts where the short-term segment ends, and names the segment
    assert data[("FTE days lost", "Long-term")]["start"] == pytest.approx(30.0)
    assert data[("Spells", "Long-term")]["text"] == "Long-term: 25%"
    empty = charts.short_long(pat.assign(spells_short=0, spells_long=0)).to_dict()
    # no spells: no percentages (not 0% / 0%), and no labels
    spells = [r for r in rows(empty) if r["measure"] == "Spells"]
    assert all(r["percent"] is None or math.isnan(r["percent"]) for r in spells)
    assert all(r["text"] == "" for r in rows(empty) if r["measure"] == "Spells")


def test_seasonality_calendar_order():
    season = pd.DataFrame({"month_of_year": [2, 1], "month_name": ["Feb", "Jan"], "rate": [0.05, 0.06],
                           "years": [2, 2]})
    spec = charts.seasonality_chart(season).to_dict()
    assert spec["encoding"]["x"]["sort"][:3] == ["Jan", "Feb", "Mar"]
    assert sorted(r["percent"] for r in rows(spec)) == [pytest.approx(5.0), pytest.approx(6.0)]


def test_bradford_bands_facet_and_single():
    order = [b[0] for b in absence.BRADFORD_BANDS]
    bands = pd.DataFrame({"directorate": ["A", "A", "B"], "band": ["0-50", "650+", "0-50"],
                          "employees": [8.0, 2.0, 12.0], "share": [0.8, 0.2, 1.0]})
    spec = charts.bradford_bands(bands, "directorate", order).to_dict()
    assert spec["facet"]["field"] == "directorate"
    assert spec["spec"]["encoding"]["x"]["sort"] == order
    assert {r["percent"] for r in rows(spec)} == {80.0, 20.0, 100.0}
    single = charts.bradford_bands(bands[bands.directorate == "B"].drop(columns="directorate"), None, order)
    assert "facet" not in single.to_dict()
    assert "employee_key" not in str(spec)


def test_group_rates_sorted_and_labelled():
    period = pd.DataFrame({"site": ["North", "South", "East"], "rate": [0.04, 0.06, np.nan],
                           "fte_days_lost": [40.0, 60.0, np.nan],
                           "fte_days_available": [1000.0, 1000.0, np.nan],
                           "headcount": [40.0, 35.0, np.nan]})
    spec = charts.group_rates(period, "site").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["South", "North"]
    assert {r["text"] for r in rows(spec)} == {"4.0%", "6.0%"}


def test_survey_scatter_line_and_subtitle():
    teams = pd.DataFrame({"team": list("ABCDE"), "value": [0.2, 0.3, 0.4, 0.5, 0.6],
                          "absence": [0.03, 0.035, 0.05, 0.045, 0.06], "n": [10, 12, 15, 11, 20],
                          "headcount": [12, 14, 18, 13, 22]})
    result = absence.pearson_ci(teams.value, teams.absence)
    spec = charts.survey_scatter(teams, result, "Stress (%)", "Absence rate (%)").to_dict()
    subtitle = spec["title"]["subtitle"][0]
    assert subtitle.startswith(f"r = {result['r']:.2f} (95% CI {result['lo']:.2f} to {result['hi']:.2f})")
    assert "n = 5 teams" in subtitle
    fit = [r for r in rows(spec) if "fit" in r]
    # the fitted line passes through intercept + slope * x, in percent
    assert fit[0]["fit"] == pytest.approx((result["intercept"] + result["slope"] * 0.2) * 100)
    assert fit[1]["x"] == pytest.approx(60.0)
    points = [r for r in rows(spec) if "team" in r]
    assert sorted(r["y"] for r in points) == pytest.approx(sorted(teams.absence * 100))
    few = charts.survey_scatter(teams.head(2), absence.pearson_ci(teams.value[:2], teams.absence[:2]),
                                "Stress (%)", "Absence rate (%)").to_dict()
    assert few["title"]["subtitle"] == ["n = 2 teams"]
    assert layer_marks(few) == ["point"]
