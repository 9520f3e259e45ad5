"""Overview chart specs: the right fields, scales and a benchmark tick per benchmarked domain."""
from __future__ import annotations

import pandas as pd

from dashboard.present.charts import common, overview


def _domains():
    return pd.DataFrame(
        {
            "domain": ["Relationships", "Environment", "Data insights"],
            "score": [6.5, 4.0, None],
            "status_label": ["Better than benchmark", "Worse than benchmark", "No benchmark"],
            "feeding": ["A, B", "C", ""],
            "benchmark_score": [5.5, 5.0, None],
        }
    )


def test_domain_scores_spec():
    spec = overview.domain_scores(_domains()).to_dict()
    bars, labels, ticks = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 10]
    assert bars["encoding"]["color"]["scale"]["range"] == common.STATUS_COLOURS
    assert labels["encoding"]["text"]["field"] == "score_text"
    assert ticks["mark"]["type"] == "tick"
    # domains without a score are left out rather than drawn at zero
    data = spec["datasets"]
    rows = [r for rows in data.values() for r in rows]
    assert {r["domain"] for r in rows} == {"Relationships", "Environment"}


def test_headline_trends_in_percent():
    trend = pd.DataFrame(
        {
            "wave_label": ["2024", "2025"],
            "fielded_on": pd.to_datetime(["2024-10-15", "2025-10-15"]),
            "indicator_id": ["stress", "stress"],
            "indicator": ["Stress", "Stress"],
            "value": [0.42, 0.40],
            "n": [100, 120],
        }
    )
    spec = overview.headline_trends(trend).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [round(r["percent"], 6) for r in rows] == [42.0, 40.0]
    assert spec["layer"][1]["encoding"]["shape"]["field"] == "indicator"
