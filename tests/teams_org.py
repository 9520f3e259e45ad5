"""A small organisation for the team drill-down: eight teams, three of them below the threshold.

Every figure the tests check is computable by hand from the tables below. Respondents are
written row by row (answers q11c for stress and hse07 for HSE peer support).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from dashboard import store

# unit_id, team, directorate, site
UNITS = [
    (1, "Ward A", "Medicine", "North"),
    (2, "Ward B", "Medicine", "North"),
    (3, "Ward C", "Medicine", "North"),
    (4, "Theatres", "Surgery", "South"),
    (5, "Day Unit", "Surgery", "South"),
    (6, "Clinic", "Surgery", "North"),
    (7, "HR", "Corporate", "North"),
    (8, "Finance", "Corporate", "North"),
]
WAVES = [(1, "2024", date(2024, 10, 15)), (2, "2025", date(2025, 10, 15))]

# wave -> team -> ([(staff group, respondents)], stressed, peer-support answers cycled in order).
# The first `stressed` respondents of a team (in staff-group order) answer Yes to q11c.
TEAMS: dict[int, dict[str, tuple[list[tuple[str, int]], int, tuple[int, ...]]]] = {
    2: {
        "Ward A": ([("Nursing", 12), ("Medical", 8)], 10, (4, 3)),
        "Ward B": ([("Nursing", 14)], 7, (3,)),
        "Ward C": ([("Nursing", 4)], 4, (1,)),
        "Theatres": ([("Nursing", 10), ("Medical", 10), ("AHP", 5)], 5, (4, 5)),
        "Day Unit": ([("Nursing", 12)], 6, (4,)),
        "Clinic": ([("Medical", 6), ("Admin", 5)], 10, (2,)),
        "HR": ([("Admin", 6)], 3, (4,)),
        "Finance": ([("Admin", 7)], 2, (5,)),
    },
    1: {
        "Ward A": ([("Nursing", 10), ("Medical", 8)], 6, (4,)),
        "Ward B": ([("Nursing", 9)], 3, (3,)),
        "Ward C": ([("Nursing", 5)], 1, (2,)),
        "Theatres": ([("Nursing", 10), ("Medical", 8), ("AHP", 4)], 8, (4,)),
        "Day Unit": ([("Nursing", 12)], 6, (3,)),
        "Clinic": ([("Medical", 5), ("Admin", 5)], 4, (3,)),
        "HR": ([("Admin", 5)], 1, (4,)),
        "Finance": ([("Admin", 6)], 2, (4,)),
    },
}

TEAM_ID = {team: uid for uid, team, _, _ in UNITS}
DIRECTORATE = {team: d for _, team, d, _ in UNITS}
SITE = {team: s for _, team, _, s in UNITS}


def respondents() -> list[dict]:
    """One dict per respondent: wave, team, directorate, site, staff_group, stress, peer."""
    rows = []
    for wave_id, teams in TEAMS.items():
        for team, (mix, stressed, peer) in teams.items():
            i = 0
            for group, count in mix:
                for _ in range(count):
                    rows.append(
                        {
                            "wave_id": wave_id,
                            "team": team,
                            "directorate": DIRECTORATE[team],
                            "site": SITE[team],
                            "staff_group": group,
                            "stress": 1 if i < stressed else 0,
                            "peer": peer[i % len(peer)],
                        }
                    )
                    i += 1
    return rows


def build(path: Path):
    """Write the organisation into a fresh store at `path` and derive respondent scores."""
    con = store.connect(path)
    people = respondents()
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", UNITS)
        con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)", WAVES)
        con.executemany(
            "INSERT INTO responses (response_id, wave_id, unit_id, staff_group) VALUES (?, ?, ?, ?)",
            [(i, p["wave_id"], TEAM_ID[p["team"]], p["staff_group"]) for i, p in enumerate(people, 1)],
        )
        answers = [(i, "q11c", p["stress"]) for i, p in enumerate(people, 1)]
        answers += [(i, "hse07", p["peer"]) for i, p in enumerate(people, 1)]
        con.executemany("INSERT INTO answers VALUES (?, ?, ?)", answers)
        store.refresh_scores(con)
        store.set_meta(con, "dataset_name", "Teams test organisation")
        store.bump_version(con)
    return con


# ---- sickness absence (added only by add_absence, so survey-only tests keep their store) ------
# team -> (headcount, FTE) in post every month from October 2022 to October 2025. Ward C (6) and
# Clinic (8) are below the threshold; Ward B and Day Unit are then withheld as their siblings.
STAFF_IN_POST: dict[str, tuple[int, float]] = {
    "Ward A": (25, 20.0),
    "Ward B": (14, 10.0),
    "Ward C": (6, 5.0),
    "Theatres": (30, 25.0),
    "Day Unit": (12, 10.0),
    "Clinic": (8, 8.0),
    "HR": (10, 10.0),
    "Finance": (10, 10.0),
}
SIP_MONTHS = [date(2022 + (9 + k) // 12, (9 + k) % 12 + 1, 1) for k in range(37)]  # Oct 2022 - Oct 2025
DATA_END = date(2025, 10, 31)   # open episodes run to the end of the staff-in-post data

# One employee per episode (full-time absences, FTE 1): (team, start, end or None = open, reason).
# Wave 2025 covers 16 Oct 2024 - 15 Oct 2025 (365 days), the year before 17 Oct 2023 - 15 Oct 2024.
EPISODES: list[tuple[str, date, date | None, str]] = [
    # Ward A, 2025 year: 120 + 122 + 196 = 438 days of 20 x 365 = 7,300 -> 6.0%
    ("Ward A", date(2025, 1, 1), date(2025, 4, 30), "S10"),
    ("Ward A", date(2025, 6, 1), date(2025, 9, 30), "S11"),
    ("Ward A", date(2024, 11, 1), date(2025, 5, 15), "S13"),
    # Ward A, year before: 182 + 110 = 292 days -> 4.0%
    ("Ward A", date(2023, 11, 1), date(2024, 4, 30), "S10"),
    ("Ward A", date(2024, 5, 1), date(2024, 8, 18), "S12"),
    ("Ward B", date(2025, 2, 1), date(2025, 5, 11), "S10"),        # 100 days
    ("Ward C", date(2025, 1, 1), date(2025, 5, 30), "S12"),        # 150 days
    # Theatres: 1-31 Oct 2024 splits 15 days (year before) / 16 days (2025 year); the open S10
    # spell from 1 Jul 2025 counts 107 days to 15 Oct 2025; 2025 year 16 + 107 + 59 = 182
    ("Theatres", date(2024, 10, 1), date(2024, 10, 31), "S13"),
    ("Theatres", date(2025, 7, 1), None, "S10"),
    ("Theatres", date(2025, 2, 1), date(2025, 3, 31), "S11"),
    ("Theatres", date(2024, 3, 1), date(2024, 8, 14), "S11"),      # 167 days: year before 182
    ("Day Unit", date(2025, 3, 1), date(2025, 9, 16), "S10"),      # 200 days
    ("Clinic", date(2024, 11, 1), date(2025, 8, 27), "S10"),       # 300 days
    ("HR", date(2025, 1, 1), date(2025, 5, 30), "S10"),            # 150 days
    ("HR", date(2023, 11, 1), date(2024, 8, 26), "S10"),           # 300 days, year before
    ("Finance", date(2025, 4, 1), date(2025, 6, 12), "S13"),       # 73 days
]


def add_absence(con) -> None:
    """Add STAFF_IN_POST and EPISODES to a store from build()."""
    with store.transaction(con):
        con.executemany(
            "INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)",
            [(TEAM_ID[t], m, h, f) for t, (h, f) in STAFF_IN_POST.items() for m in SIP_MONTHS],
        )
        con.executemany(
            "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date,"
            " reason_code) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"e{i}", TEAM_ID[t], s, e, r) for i, (t, s, e, r) in enumerate(EPISODES, 1)],
        )
        store.bump_version(con)


def absence_by_hand(teams, start: date, end: date) -> dict[str, float]:
    """FTE days lost and available, rate and S10 share for a set of teams over [start, end],
    counted day by day in Python from the tables above (calendar days)."""
    teams = set(teams)
    lost = s10 = 0.0
    for team, first, last, reason in EPISODES:
        if team not in teams:
            continue
        last = last or DATA_END
        days = max(0, (min(last, end) - max(first, start)).days + 1)
        lost += days
        s10 += days if reason == "S10" else 0
    available = sum(STAFF_IN_POST[t][1] for t in teams) * ((end - start).days + 1)
    return {"lost": lost, "available": available, "rate": lost / available,
            "s10_share": s10 / lost if lost else float("nan")}
