"""A tiny organisation written row by row, small enough to compute every figure by hand."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from dashboard import store

UNITS = [
    (1, "Ward A", "Medicine", "North"),
    (2, "Ward B", "Medicine", "North"),
    (3, "Clinic C", "Surgery", "South"),
]
WAVES = [(1, "2024", date(2024, 10, 15)), (2, "2025", date(2025, 10, 15)), (3, "2026", date(2026, 10, 15))]

# response_id, wave, unit, staff group, {item: raw value}; missing answers are simply absent.
RESPONSES = [
    (1, 1, 1, "Nursing",
     {"q11c": 1, "q14b": 1, "q14c": 3, "q6b": 4, "q6c": 2, "q6d": 5, "hse03": 5, "hse06": 4}),
    (2, 1, 1, "Nursing", {"q11c": 1, "q14b": 1, "q6b": 5, "q6d": 1, "hse03": 1, "hse06": 2}),
    (3, 1, 1, "Medical", {"q11c": 0}),
    (4, 1, 1, "Medical", {"q6b": 3}),
    (5, 1, 2, "Nursing", {"q11c": 0, "q14b": 2, "q14c": 1}),
    (6, 1, 2, "Nursing", {"q11c": 0, "q14b": 1, "q14c": 1}),
    (7, 2, 1, "Nursing", {"q11c": 1}),
    (8, 2, 3, "Admin", {"q11c": 1, "hse03": 3, "hse06": 3}),
]


def build(path: Path, with_aggregate: bool = False):
    """Write the tiny organisation into a fresh store and derive respondent scores."""
    con = store.connect(path)
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", UNITS)
        con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)", WAVES)
        con.executemany(
            "INSERT INTO responses (response_id, wave_id, unit_id, staff_group) VALUES (?, ?, ?, ?)",
            [r[:4] for r in RESPONSES],
        )
        con.executemany(
            "INSERT INTO answers VALUES (?, ?, ?)",
            [(rid, item, v) for rid, *_, answers in RESPONSES for item, v in answers.items()],
        )
        if with_aggregate:
            # Clinic C, wave 2024: a pre-aggregated 50% stress from 20 respondents.
            con.execute("INSERT INTO survey_aggregates VALUES (3, 1, 'stress', 0.5, 20, NULL)")
        store.refresh_scores(con)
        store.bump_version(con)
    return con
