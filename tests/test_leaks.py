"""The four privacy leaks of issue 10, each on a small synthetic organisation (threshold 10).

Written as an adversary would try them: collect what the functions behind the pages show, then
difference. Each test failed before the fix it names.
"""
from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import periods, privacy, store
from dashboard.metrics import absence, drilldown, response_rates, team_absence

T = 10


# ---- 1. a blank directorate next to a directorate literally named "Not recorded" --------------

@pytest.fixture
def collision(tmp_path):
    con = store.connect(tmp_path / "c.duckdb")
    units = [(1, "Ward P", "Medicine", "North"), (2, "Ward Q", None, "North"),
             (3, "Ward R", privacy.NOT_RECORDED, "North")]
    sizes = {1: 30, 2: 4, 3: 20}   # Ward Q (4, blank directorate) all answer yes to stress
    rows, answers, rid = [], [], 0
    for uid, n in sizes.items():
        for k in range(n):
            rid += 1
            rows.append((rid, 1, uid, "Nursing"))
            answers.append((rid, "q11c", 1 if uid == 2 or k % 2 else 0))
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", units)
        con.execute("INSERT INTO waves (wave_id, label, fielded_on) VALUES (1, '2025', DATE '2025-10-15')")
        con.executemany("INSERT INTO responses (response_id, wave_id, unit_id, staff_group)"
                        " VALUES (?, ?, ?, ?)", rows)
        con.executemany("INSERT INTO answers VALUES (?, ?, ?)", answers)
        store.refresh_scores(con)
        store.bump_version(con)
    yield con
    con.close()


def test_blank_and_literal_not_recorded_are_two_groups(collision):
    figs = privacy.survey_figures(collision, ("directorate",), T, indicator_ids=["stress"])
    shown = figs[~figs.suppressed]
    assert (shown.n >= T).all(), shown
    # the 4-respondent blank directorate is never shown, under either name
    assert not ((shown.value == 1.0) & (shown.n == 4)).any()
    assert len(figs) == 3 and figs.directorate.is_unique


def test_an_uploaded_value_that_is_already_a_label_stays_its_own_group(tmp_path):
    """A directorate uploaded as "Not recorded (as uploaded)" would share its name with the
    literal "Not recorded" once that is marked: the plan then released the two as one group
    and the 6-respondent one was shown under the shared name."""
    con = store.connect(tmp_path / "m.duckdb")
    literal = privacy.UPLOADED_AS.format(value=privacy.NOT_RECORDED)
    units = [(1, "Ward P", "Medicine", "North"), (2, "Ward Q", None, "North"),
             (3, "Ward R", privacy.NOT_RECORDED, "North"), (4, "Ward S", literal, "North")]
    sizes = {1: 30, 2: 4, 3: 6, 4: 20}   # Ward Q and Ward R all answer yes to stress
    rows, answers, rid = [], [], 0
    for uid, n in sizes.items():
        for k in range(n):
            rid += 1
            rows.append((rid, 1, uid, "Nursing"))
            answers.append((rid, "q11c", 1 if uid in (2, 3) or k % 2 else 0))
    try:
        with store.transaction(con):
            con.executemany("INSERT INTO units (unit_id, team, directorate, site)"
                            " VALUES (?, ?, ?, ?)", units)
            con.execute("INSERT INTO waves (wave_id, label, fielded_on)"
                        " VALUES (1, '2025', DATE '2025-10-15')")
            con.executemany("INSERT INTO responses (response_id, wave_id, unit_id, staff_group)"
                            " VALUES (?, ?, ?, ?)", rows)
            con.executemany("INSERT INTO answers VALUES (?, ?, ?)", answers)
            store.refresh_scores(con)
            store.bump_version(con)
        for figs in (privacy.survey_figures(con, ("directorate",), T, indicator_ids=["stress"]),
                     drilldown.heatmap(con, ("directorate",), 1, T, indicator_ids=["stress"])):
            assert len(figs) == 4 and figs.directorate.is_unique, figs
            shown = figs[~figs.suppressed]
            assert (shown.n >= T).all() and not (shown.value == 1.0).any(), shown
            assert set(shown.directorate) == {"Medicine", privacy.UPLOADED_AS.format(value=literal)}
        plan = privacy.plan(con, T, [1], ["stress"])
        directorates = plan[plan.cut == "directorate"]
        assert directorates.directorate.is_unique and len(directorates) == 4
        assert set(directorates.n) == {30, 4, 6, 20}
    finally:
        con.close()


def test_heatmap_table_with_a_label_collision_does_not_crash(collision):
    heat = drilldown.heatmap(collision, ("directorate",), 1, T, indicator_ids=["stress"])
    table = drilldown.heatmap_table(heat, T)
    assert len(table) == 3
    assert (heat.loc[~heat.suppressed, "n"] >= T).all()


def test_team_profile_reads_each_directorate_by_its_own_label(collision):
    """The profile reads a few groups' plan rows by label (privacy.plan_rows): the blank
    directorate and the literal "Not recorded" stay two groups there too."""
    literal = privacy.UPLOADED_AS.format(value=privacy.NOT_RECORDED)
    whole = privacy.plan(collision, T, [1])
    for label in (privacy.NOT_RECORDED, literal):
        rows = privacy.plan_rows(collision, T, [1], [("directorate", label)])
        mine = whole[(whole.cut == "directorate") & (whole.directorate == label).fillna(False)]
        assert sorted(zip(rows.indicator_id, rows.n, rows.released, strict=True)) == sorted(
            zip(mine.indicator_id, mine.n, mine.released, strict=True)) and len(rows)
    blank = privacy.plan_rows(collision, T, [1], [("directorate", privacy.NOT_RECORDED)])
    assert set(blank.n) == {4} and not blank.released.any()
    reportable = 0
    for uid in (1, 2, 3):
        profile = drilldown.team_profile(collision, uid, 1, T)
        if not profile["reportable"]:
            assert profile["indicators"] is None
            continue
        reportable += 1
        ind = profile["indicators"]
        for col in ("value", "directorate_value", "organisation_value"):
            shown = ind[ind[col].notna() & (ind.kind == "proportion")]
            n_col = "n" if col == "value" else col.replace("value", "n")
            assert (shown[n_col] >= T).all() and not (shown[n_col] == 4).any(), (uid, col, shown)
    assert reportable >= 1 and not drilldown.team_profile(collision, 2, 1, T)["reportable"]


def test_response_rates_keep_blank_and_literal_not_recorded_apart(collision):
    rates = response_rates.unit_rates(collision, T).set_index("team")
    # the Teams page lists a directorate's rates by the label its tree uses
    assert rates.at["Ward Q", "directorate"] == privacy.NOT_RECORDED
    assert rates.at["Ward R", "directorate"] == privacy.UPLOADED_AS.format(value=privacy.NOT_RECORDED)
    assert not rates.at["Ward Q", "shown"] and pd.isna(rates.at["Ward Q", "responses"])


# ---- absence: a small organisation whose team sizes change from month to month ---------------
# D1 Medicine: X (5 staff), Y (12 in Jan 2024, 20 in Feb 2024), Z (15);
# D2 Surgery: V (5 in 2023, 12 in 2024), W (30), S (12); Ghost (Surgery) has absence, no staff.
MONTHS = [date(2023 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 15)]   # Jan 2023 - Feb 2024
UNITS = [(1, "X", "Medicine", "North"), (2, "Y", "Medicine", "North"), (3, "Z", "Medicine", "North"),
         (4, "V", "Surgery", "South"), (5, "W", "Surgery", "South"), (6, "S", "Surgery", "South"),
         (7, "Ghost", "Surgery", "South")]


def headcount(uid: int, month: date) -> int:
    if uid == 1:
        return 5
    if uid == 2:
        return 20 if month == date(2024, 2, 1) else 12
    if uid == 3:
        return 15
    if uid == 4:
        return 5 if month.year == 2023 else 12
    return {5: 30, 6: 12, 7: 0}[uid]


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    con = store.connect(tmp_path_factory.mktemp("leaks") / "a.duckdb")
    sip = [(uid, m, headcount(uid, m), float(headcount(uid, m)))
           for uid, *_ in UNITS for m in MONTHS if headcount(uid, m)]
    episodes, eid = [], 0
    for uid, *_ in UNITS[:-1]:
        for m in MONTHS:
            # every team has someone off 3-9 days in every month (distinct employees per team)
            eid += 1
            days = 3 + (uid * 7 + m.month) % 7
            episodes.append((eid, f"e{uid}-{m.month % 3}", uid, m, m.replace(day=days), "S10"))
    episodes.append((eid + 1, "ghost", 7, date(2024, 2, 1), date(2024, 2, 10), "S10"))
    with store.transaction(con):
        con.executemany("INSERT INTO units (unit_id, team, directorate, site) VALUES (?, ?, ?, ?)", UNITS)
        con.executemany("INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (?, ?, ?, ?)", sip)
        con.executemany("INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date,"
                        " end_date, reason_code) VALUES (?, ?, ?, ?, ?, ?)", episodes)
        store.bump_version(con)
    yield con
    con.close()


def _unit_months(con) -> pd.DataFrame:
    """Truth per (unit, month): days lost and available, computed day by day in Python."""
    eps = con.execute("SELECT unit_id, start_date, end_date FROM absence_episodes").fetchall()
    rows = []
    for uid, *_ in UNITS:
        for m in MONTHS:
            lost = sum((e - s).days + 1 for u, s, e in eps if u == uid and s.replace(day=1) == m)
            rows.append({"unit_id": uid, "month": m, "lost": float(lost), "hc": headcount(uid, m)})
    return pd.DataFrame(rows)


def _as_vector(truth: pd.DataFrame, units: set[int], months: set[date]) -> np.ndarray:
    # a team-month without staff in post has no days available: no figure holds its days
    return (truth.unit_id.isin(units) & truth.month.isin(months) & (truth.hc > 0)).to_numpy(dtype=float)


def _small_sets(truth: pd.DataFrame):
    """Every non-empty set of teams in one month with fewer than T staff (or none in post)."""
    ids = [u for u, *_ in UNITS]
    for m in MONTHS:
        hc = {u: headcount(u, m) for u in ids}
        for k in range(1, 4):
            for combo in itertools.combinations(ids, k):
                if sum(hc[u] for u in combo) < T:
                    yield set(combo), m


def _derivable(figures: list[np.ndarray], truth: pd.DataFrame) -> list:
    """Small sets whose totals lie in the span of the shown figures (each figure a 0/1 vector)."""
    if not figures:
        return []
    # the same figure shown on several views spans nothing more: one row each keeps every rank
    # below the same while each one costs a fraction (an SVD per small set)
    a = np.unique(np.vstack(figures), axis=0)
    rank = np.linalg.matrix_rank(a)
    leaks = []
    for units, m in _small_sets(truth):
        v = _as_vector(truth, units, {m})
        if not v.any():
            continue
        if np.linalg.matrix_rank(np.vstack([a, v])) == rank:
            leaks.append((sorted(units), m))
    return leaks


TEAMS_OF = {"Medicine": {1, 2, 3}, "Surgery": {4, 5, 6, 7}, "North": {1, 2, 3}, "South": {4, 5, 6, 7}}
UNIT_OF = {team: uid for uid, team, *_ in UNITS}


def _members(cut: str, key) -> set[int]:
    if cut == "organisation":
        return set(UNIT_OF.values())
    return TEAMS_OF[key] if cut in ("directorate", "site") else {UNIT_OF[key]}


def _month_set(start: date, end: date) -> set[date]:
    return {m for m in MONTHS if start <= m <= end}


# Each month on its own and together: a team's size changes between them (Y: 12 then 20 staff).
PERIODS = [(MONTHS[i], periods.month_end(MONTHS[j])) for i, j in ((-2, -2), (-1, -1), (-2, -1), (-3, -1))]


def _window(m: date, k: int) -> set[date]:
    return {date(m.year + (m.month - 1 - j) // 12, (m.month - 1 - j) % 12 + 1, 1) for j in range(k)}


def _shown_figures(con, truth) -> list[np.ndarray]:
    """Every absence figure the Absence and Teams pages can show over the periods above: the
    comparison by directorate, team and site; the organisation and every offered scope's monthly
    rate, rolling 12 months, same month last year and whole-period figure; monthly rows by cut."""
    figures = []
    for start, end in PERIODS:
        months = _month_set(start, end)
        for cut in ("directorate", "team", "site"):
            frame = team_absence.compare_rates(con, start, end, T, cut)
            shown = frame.loc[~frame.suppressed, cut]
            figures += [_as_vector(truth, _members(cut, k), months) for k in shown]
        scopes = [(None, "organisation", None)]
        for cut in ("directorate", "team", "site"):
            opts = team_absence.scope_options(con, start, end, T, cut)
            scopes += [(tuple(ids), cut, k) for ids, k in zip(opts.unit_ids, opts[cut], strict=True)]
        for unit_ids, cut, key in scopes:
            members = _members(cut, key)
            summary = absence.period_summary(con, start, end, unit_ids, threshold=T)
            if summary["rate"] is not None:
                figures.append(_as_vector(truth, members, months))
            monthly = absence.monthly_rates(con, start, end, T, (), unit_ids)
            for _, row in monthly[~monthly.suppressed].iterrows():
                m = row.month.date()
                figures.append(_as_vector(truth, members, {m}))
                if not np.isnan(row.rate_12m):
                    figures.append(_as_vector(truth, members, _window(m, 12)))
                if not np.isnan(row.rate_last_year):
                    figures.append(_as_vector(truth, members, {min(_window(m, 13))}))
    for by in (("directorate", "team"), ("directorate",), ("site",)):
        cut = by[-1]
        frame = absence.monthly_rates(con, MONTHS[0], periods.month_end(MONTHS[-1]), T, by)
        for _, row in frame[~frame.suppressed].iterrows():
            m = row.month.date()
            figures.append(_as_vector(truth, _members(cut, row[cut]), {m}))
            if not np.isnan(row.rate_12m):
                figures.append(_as_vector(truth, _members(cut, row[cut]), _window(m, 12)))
    return figures


def test_leak2_no_small_team_from_any_period_window_or_scope(org):
    """The adversarial audit for absence: every figure above, differenced in every way."""
    truth = _unit_months(org)
    assert _derivable(_shown_figures(org, truth), truth) == []


def test_the_absence_audit_catches_release_decided_per_period(org):
    """Per-period suppression (the rule before issue 10) gives the 5-person team X away."""
    truth = _unit_months(org)
    figures = []
    for start, end in PERIODS:
        for by in (("directorate",), ("directorate", "team")):
            raw = absence.team_period(org, start, end, by)
            flags = privacy.suppress(raw, by, T, n_col="headcount", keys=(), value_cols=())
            figures += [_as_vector(truth, _members(by[-1], k), _month_set(start, end))
                        for k in flags.loc[~flags.suppressed, by[-1]]]
    assert ([1], date(2024, 2, 1)) in _derivable(figures, truth)


def test_leak3_last_year_and_rolling_figures_only_from_released_months(org):
    """V had 5 staff throughout 2023: its January 2024 row must not carry 2023 figures."""
    frame = absence.monthly_rates(org, date(2024, 1, 1), date(2024, 2, 29), T, ("directorate", "team"))
    v = frame[frame.team == "V"]
    assert not v.suppressed.all()   # V is shown in 2024 (12 staff)
    assert v.rate_last_year.isna().all(), v[["month", "rate_last_year"]]
    assert v.rate_12m.isna().all(), v[["month", "rate_12m"]]


def test_leak3_rolling_and_last_year_survive_where_every_month_is_released(org):
    frame = absence.monthly_rates(org, date(2024, 1, 1), date(2024, 2, 29), T, ("directorate", "team"))
    w = frame[(frame.team == "W") & (frame.month == pd.Timestamp(2024, 2, 1))].iloc[0]
    truth = _unit_months(org)
    window = truth[(truth.unit_id == 5) & (truth.month >= date(2023, 3, 1))]
    assert w.rate_12m == pytest.approx(window.lost.sum() / (30 * sum(
        (periods.month_end(m) - m).days + 1 for m in window.month)))
    assert not np.isnan(w.rate_last_year)


def test_leak4_no_figure_from_a_team_without_staff_in_post(org):
    monthly = absence.monthly_rates(org, date(2024, 2, 1), date(2024, 2, 29), T)
    shown = monthly[~monthly.suppressed]
    assert not (shown.unmatched_days_lost.fillna(0) > 0).any(), shown.unmatched_days_lost
    summary = absence.period_summary(org, date(2024, 2, 1), date(2024, 2, 29), threshold=T)
    assert not summary["unmatched_days_lost"]


def test_scorecard_absence_for_a_small_scope_goes_through_the_release(org):
    """The Overview card for a scope showed its absence unreleased: X has 5 staff."""
    from dashboard.metrics import scorecard

    with store.transaction(org):
        org.execute("INSERT INTO waves (wave_id, label, fielded_on)"
                    " VALUES (9, 'Feb 2024', DATE '2024-02-29')")
    try:
        small = scorecard.indicator_table(org, 9, T, unit_ids=[1]).set_index("indicator_id")
        whole = scorecard.indicator_table(org, 9, T).set_index("indicator_id")
    finally:
        with store.transaction(org):
            org.execute("DELETE FROM waves WHERE wave_id = 9")
    assert small.loc["absence_rate", "value"] is None or np.isnan(small.loc["absence_rate", "value"])
    assert whole.loc["absence_rate", "value"] > 0
