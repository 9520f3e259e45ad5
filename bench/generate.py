"""Fill a real store with a synthetic national-scale organisation, in DuckDB SQL only."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import duckdb

from dashboard import catalogue, store

PERIOD_START, PERIOD_END = date(2023, 1, 1), date(2025, 12, 31)
MONTHS = 36
LAST_WAVE = date(2025, 10, 15)
RESPONSE_RATE = 0.55          # headcount is sized so that each wave's responses are about this share
MISSING_PER_MILLE = 30        # ~3% of answers left blank
LONG_TERM_SHARE = 0.06        # episodes of 29+ days
STAFF_GROUPS = (
    "Nursing and midwifery", "Medical and dental", "Allied health professionals",
    "Healthcare assistants", "Administrative and clerical", "Estates and ancillary",
)
# ESR reason mix (share of episodes); S10 and MSK weighted as in the national statistics.
REASON_WEIGHTS: dict[str, float] = {
    "S10": 0.18, "S11": 0.06, "S12": 0.08, "S13": 0.22, "S15": 0.05, "S16": 0.05, "S17": 0.01,
    "S19": 0.01, "S21": 0.03, "S22": 0.02, "S25": 0.12, "S26": 0.03, "S27": 0.04, "S28": 0.03,
    "S98": 0.03, "S99": 0.04,
}
# name, domain, indicators, start, share of teams targeted
INTERVENTIONS: tuple[tuple[str, str, tuple[str, ...], date, float], ...] = (
    ("Stress risk assessments", "personal_health", ("stress", "burnout", "absence_rate"),
     date(2024, 4, 1), 0.02),
    ("Civility and respect campaign", "relationships",
     ("bullying_managers_or_colleagues", "hse_relationships"), date(2024, 1, 15), 0.03),
    ("Self-rostering pilot", "fulfilment", ("work_life_balance", "hse_control"),
     date(2025, 2, 1), 0.01),
    ("Wellbeing conversations for managers", "managers_leaders",
     ("manager_interest", "hse_manager_support", "absence_rate"), date(2024, 6, 1), 0.02),
)

# A uniform draw in [0, 1) from a deterministic hash of its arguments: equal seeds give equal
# stores, and no Python touches a row. `seed` is a bound parameter in every statement.
_U = "(hash({args}, $seed)::DOUBLE / 18446744073709551616.0)"


def _u(*args: str) -> str:
    return _U.format(args=", ".join(args))


@dataclass
class Generated:
    """What was written, with the seconds each step took."""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _timed(out: Generated, step: str, fn, *args) -> None:
    t0 = time.perf_counter()
    fn(*args)
    out.seconds[step] = out.seconds.get(step, 0.0) + time.perf_counter() - t0


_TEAMS_SQL = f"""
CREATE OR REPLACE TEMP TABLE bench_teams AS
WITH raw AS (
    SELECT k AS unit_id,
           -- lognormal team size (Box-Muller), so some teams fall below the anonymity threshold
           exp(1.1 * sqrt(-2 * ln(1 - {_u("k", "'size1'")})) * cos(2 * pi() * {_u("k", "'size2'")}))
               AS weight,
           0.12 * sqrt(-2 * ln(1 - {_u("k", "'eff1'")})) * cos(2 * pi() * {_u("k", "'eff2'")})
               AS effect,
           1 + CAST(floor({_u("k", "'dir'")} * $n_dir) AS INTEGER) AS dir_no
    FROM range(1, $teams + 1) AS t(k)
),
shares AS (
    SELECT *, weight / sum(weight) OVER () AS share FROM raw
)
SELECT unit_id, effect, dir_no,
       -- each directorate spans a handful of neighbouring sites, and sites are shared
       1 + ((dir_no - 1) * 5 + CAST(floor({_u("unit_id", "'site'")} * 8) AS INTEGER)) % $n_sites
           AS site_no,
       greatest(3, CAST(round(share * $per_wave / {RESPONSE_RATE}) AS INTEGER)) AS headcount,
       coalesce(sum(share) OVER (ORDER BY unit_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                0.0) AS cum_lo
FROM shares
"""

_UNITS_SQL = """
INSERT INTO units (unit_id, team, directorate, site, import_id)
SELECT unit_id,
       printf('Team %05d', unit_id),
       printf('Directorate %02d', dir_no),
       printf('Site %03d', site_no),
       $import_id
FROM bench_teams
"""

_SITES_SQL = f"""
INSERT INTO sites
SELECT printf('Site %03d', s), 50.5 + 4.5 * {_u("s", "'lat'")}, -4.5 + 5.0 * {_u("s", "'lon'")}
FROM range(1, $n_sites + 1) AS t(s)
"""

_STAFF_SQL = f"""
INSERT INTO staff_in_post (unit_id, month, headcount, fte, import_id)
WITH grid AS (
    SELECT t.unit_id, t.headcount, CAST(m.month AS DATE) AS month,
           -- a gentle seasonal swing and month-to-month churn around the team's size
           greatest(1, CAST(round(t.headcount * (1 + 0.03 * sin(2 * pi() * month(m.month) / 12)
                                                 + 0.04 * ({_u("t.unit_id", "m.month")} - 0.5)))
                            AS INTEGER)) AS hc
    FROM bench_teams AS t,
         generate_series(DATE '{PERIOD_START}', DATE '{PERIOD_START}' + INTERVAL {MONTHS - 1} MONTH,
                         INTERVAL 1 MONTH) AS m(month)
)
SELECT unit_id, month, hc, round(hc * (0.78 + 0.12 * {_u("unit_id", "month", "'fte'")}), 2),
       $import_id
FROM grid
"""

# Respondent r of wave w: the team is drawn in proportion to team size (ASOF join on the
# cumulative shares), the staff group and key from hashes.
_RESPONSES_SQL = f"""
INSERT INTO responses (response_id, wave_id, unit_id, staff_group, respondent_key, import_id)
WITH draws AS (
    SELECT r AS response_id,
           1 + CAST((r - 1) * $waves // $responses AS INTEGER) AS wave_id,
           {_u("r", "'team'")} AS u_team,
           {_u("r", "'group'")} AS u_group
    FROM range($lo, $hi + 1) AS t(r)
)
SELECT d.response_id, d.wave_id, t.unit_id,
       CASE WHEN d.u_group < 0.02 THEN NULL   -- some respondents skip the staff-group question
            ELSE $groups[1 + CAST(floor(d.u_group * len($groups)) AS INTEGER)] END,
       sha256('respondent-' || d.response_id),
       $import_id
FROM draws AS d
ASOF JOIN bench_teams AS t ON d.u_team >= t.cum_lo
"""

# One answer per response x item, ~3% missing. A respondent's tendency, the team's effect and
# item noise place the answer on the item's own scale values, so it is valid by construction.
_ANSWERS_SQL = f"""
INSERT INTO answers (response_id, item_id, value)
WITH resp AS (
    SELECT r.response_id, t.effect, {_u("r.response_id", "'mood'")} AS mood
    FROM responses AS r
    JOIN bench_teams AS t USING (unit_id)
    WHERE r.response_id BETWEEN $lo AND $hi
),
cells AS (
    SELECT p.response_id, i.item_id, i.vals,
           least(0.999999, greatest(0.0,
               0.65 * {_u("p.response_id", "i.item_id")} + 0.35 * p.mood + i.sign * p.effect)) AS q
    FROM resp AS p, bench_items AS i
    WHERE hash(p.response_id, i.item_id, 'missing', $seed) % 1000 >= {MISSING_PER_MILLE}
)
SELECT response_id, item_id, CAST(vals[1 + CAST(floor(q * len(vals)) AS INTEGER)] AS TINYINT)
FROM cells
"""

# Episode e: team by size, employee among the team's headcount, start anywhere in the 36 months,
# short (1-7 days) or long-term (29-148 days, likelier in teams with a worse effect); an episode
# still running at the end of the extract has no end date.
_EPISODES_SQL = f"""
INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date, fte,
                              reason_code, days_lost, staff_group, import_id)
WITH draws AS (
    SELECT e AS episode_id,
           {_u("e", "'team'")} AS u_team, {_u("e", "'emp'")} AS u_emp,
           {_u("e", "'start'")} AS u_start, {_u("e", "'long'")} AS u_long,
           {_u("e", "'days'")} AS u_days, {_u("e", "'reason'")} AS u_reason,
           {_u("e", "'fte'")} AS u_fte, {_u("e", "'group'")} AS u_group
    FROM range($lo, $hi + 1) AS t(e)
),
placed AS (
    SELECT d.*, t.unit_id, t.headcount, t.effect,
           DATE '{PERIOD_START}' + CAST(floor(d.u_start * $days) AS INTEGER) AS start_date
    FROM draws AS d
    ASOF JOIN bench_teams AS t ON d.u_team >= t.cum_lo
),
timed AS (
    SELECT p.*,
           CASE WHEN p.u_long < {LONG_TERM_SHARE} * (1 + 2 * p.effect)
                THEN 29 + CAST(floor(p.u_days * 120) AS INTEGER)
                ELSE 1 + CAST(floor(p.u_days * 7) AS INTEGER) END AS duration
    FROM placed AS p
)
SELECT t.episode_id,
       sha256('employee-' || t.unit_id || '-' || CAST(floor(t.u_emp * t.headcount) AS INTEGER)),
       t.unit_id, t.start_date,
       CASE WHEN t.start_date + t.duration - 1 > DATE '{PERIOD_END}' THEN NULL
            ELSE t.start_date + t.duration - 1 END,
       CASE WHEN t.u_fte < 0.7 THEN 1.0 ELSE round(0.4 + 2 * (t.u_fte - 0.7), 2) END,
       r.reason_code, NULL,
       $groups[1 + CAST(floor(t.u_group * len($groups)) AS INTEGER)],
       $import_id
FROM timed AS t
ASOF JOIN bench_reasons AS r ON t.u_reason >= r.cum_lo
"""

_TARGETS_SQL = f"""
INSERT INTO intervention_units
SELECT $iv, unit_id FROM bench_teams
ORDER BY {_u("unit_id", "$iv")}
LIMIT $n
"""


def _items_table(con: duckdb.DuckDBPyConnection, cat: catalogue.Catalogue) -> None:
    """The catalogue's 48 items with their scale values (configuration rows, not data rows)."""
    con.execute("CREATE OR REPLACE TEMP TABLE bench_items (item_id VARCHAR, vals INTEGER[], sign DOUBLE)")
    rows = []
    for item in cat.items.values():
        # a better team answers favourably: higher on normal items, lower on reversed or
        # low-is-favourable ones (the sign only shapes the data; any value on the scale is valid)
        favourable_high = all(cat.indicators[i].higher_is_better for i in item.indicators)
        sign = (1.0 if favourable_high else -1.0) * (-1.0 if item.reverse else 1.0)
        rows.append((item.id, sorted(set(item.scale.labels.values())), sign))
    con.executemany("INSERT INTO bench_items VALUES (?, ?, ?)", rows)


def _reasons_table(con: duckdb.DuckDBPyConnection) -> None:
    total = sum(REASON_WEIGHTS.values())
    cum, rows = 0.0, []
    for code, weight in REASON_WEIGHTS.items():
        rows.append((code, cum))
        cum += weight / total
    con.execute("CREATE OR REPLACE TEMP TABLE bench_reasons (reason_code VARCHAR, cum_lo DOUBLE)")
    con.executemany("INSERT INTO bench_reasons VALUES (?, ?)", rows)


def wave_dates(waves: int) -> list[date]:
    """Fielding dates: yearly each October back from 2025 for up to 3 waves, evenly spaced
    over the last 24 months (fieldwork inside the absence period) beyond that."""
    if waves < 1:
        raise ValueError("at least one wave")
    step = 12 if waves <= 3 else 24 / (waves - 1)
    out = []
    for k in range(waves):
        back = round((waves - 1 - k) * step)
        y, m = divmod(LAST_WAVE.year * 12 + LAST_WAVE.month - 1 - back, 12)
        out.append(date(y, m + 1, 15))
    return out


def _import(con: duckdb.DuckDBPyConnection, kind: str, rows: int) -> int:
    return con.execute(
        "INSERT INTO imports (kind, file_name, rows, user_name, profile) VALUES (?, ?, ?, ?, ?) "
        "RETURNING import_id",
        [kind, f"bench-{kind}.csv", rows, "bench", "synthetic"],
    ).fetchone()[0]


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size - 1, total)) for lo in range(1, total + 1, size)]


def generate(
    con: duckdb.DuckDBPyConnection,
    responses: int,
    episodes: int,
    teams: int,
    waves: int = 3,
    seed: int = 1,
    chunk_responses: int = 200_000,
    chunk_episodes: int = 1_000_000,
) -> Generated:
    """Write the synthetic organisation into an empty store from `dashboard.store.connect`.

    Rows are made by SQL in chunks (answers 200k respondents at a time, ~10M rows; episodes 1M),
    so memory stays bounded. Ends with `store.refresh_scores` (timed separately as the import-time
    derivation), a dataset-version bump and a checkpoint.
    """
    if min(responses, episodes, teams, waves) < 1:
        raise ValueError("responses, episodes, teams and waves must all be at least 1")
    if not store.is_empty(con):
        raise ValueError("the store already holds data; the benchmark needs an empty one")
    cat = catalogue.get()
    out = Generated()
    n_dir = max(2, min(40, teams // 50))
    n_sites = max(2, min(100, teams // 20))
    base = {"seed": seed}

    def setup() -> None:
        _items_table(con, cat)
        _reasons_table(con)
        con.execute(_TEAMS_SQL, {**base, "teams": teams, "n_dir": n_dir, "n_sites": n_sites,
                                 "per_wave": responses / waves})
        structure = _import(con, "structure", teams)
        con.execute(_SITES_SQL, {**base, "n_sites": n_sites})
        con.execute(_UNITS_SQL, {"import_id": structure})
        sip = _import(con, "staff_in_post", teams * MONTHS)
        con.execute(_STAFF_SQL, {**base, "import_id": sip})
        con.executemany("INSERT INTO waves (wave_id, label, fielded_on) VALUES (?, ?, ?)",
                        [(k, f"{d.year} wave {k}", d) for k, d in enumerate(wave_dates(waves), 1)])

    def survey() -> None:
        import_id = _import(con, "survey", responses)
        params = {**base, "waves": waves, "responses": responses, "groups": list(STAFF_GROUPS),
                  "import_id": import_id}
        for lo, hi in _chunks(responses, chunk_responses):
            con.execute(_RESPONSES_SQL, {**params, "lo": lo, "hi": hi})
        for lo, hi in _chunks(responses, chunk_responses):
            con.execute(_ANSWERS_SQL, {**base, "lo": lo, "hi": hi})

    def absence() -> None:
        import_id = _import(con, "absence", episodes)
        days = (PERIOD_END - PERIOD_START).days + 1
        for lo, hi in _chunks(episodes, chunk_episodes):
            con.execute(_EPISODES_SQL, {**base, "lo": lo, "hi": hi, "days": days,
                                        "groups": list(STAFF_GROUPS), "import_id": import_id})

    def register() -> None:
        for iv, (name, domain, inds, start, share) in enumerate(INTERVENTIONS, 1):
            con.execute(
                "INSERT INTO interventions (intervention_id, name, domain, start_date, indicators, notes)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [iv, name, domain, start, list(inds), "synthetic benchmark programme"],
            )
            con.execute(_TARGETS_SQL, {**base, "iv": iv, "n": max(3, round(share * teams))})

    def scores() -> None:
        with store.transaction(con):
            store.refresh_scores(con)
            _advance_sequences(con)
            store.set_meta(con, "dataset_name", f"Benchmark ({responses:,} responses, synthetic)")
            store.set_meta(con, "is_demo", "false")

    def derive() -> None:
        # what an import adds to its own transaction: the derived tables (bump_version refreshes
        # whatever is out of date, here all of them)
        with store.transaction(con):
            store.bump_version(con)

    _timed(out, "structure, staff in post, waves", setup)
    _timed(out, "responses + answers", survey)
    _timed(out, "absence episodes", absence)
    _timed(out, "interventions", register)
    _timed(out, "refresh_scores", scores)
    _timed(out, "derived tables", derive)
    _timed(out, "checkpoint", con.execute, "CHECKPOINT")
    for table in ("units", "sites", "staff_in_post", "waves", "responses", "answers",
                  "respondent_scores", "absence_episodes", "interventions", "intervention_units"):
        out.counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # our names
    return out


_SEQUENCES = {
    "unit_seq": ("units", "unit_id"), "wave_seq": ("waves", "wave_id"),
    "response_seq": ("responses", "response_id"), "episode_seq": ("absence_episodes", "episode_id"),
    "intervention_seq": ("interventions", "intervention_id"),
}


def _advance_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Ids were written explicitly; move each sequence past them so later imports cannot collide."""
    for seq, (table, column) in _SEQUENCES.items():
        top = con.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]  # names from this module
        if top:
            con.execute("SELECT setval(?, ?)", [seq, int(top)])
