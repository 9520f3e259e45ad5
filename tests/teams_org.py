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
