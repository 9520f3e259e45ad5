"""The demo organisation: deterministic, at the documented scale, valid, and its planted effects
recoverable through the app's own survey query and through plain SQL over absence."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr, ndtri

from dashboard import catalogue, demo, store
from dashboard.metrics import indicators

# --- helpers: checksums and an independent absence-rate computation -----------------------------


def _checksums(con) -> dict[str, tuple[int, int]]:
    """Row count and an order-free hash sum of every table (the dataset version excluded, since
    it counts loads rather than describing the contents)."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()]
    out = {}
    for t in tables:  # names come from the catalogue of this very database, not from input
        where = "WHERE key <> 'dataset_version'" if t == "meta" else ""
        # a stored evaluation's statistics sum floats in DuckDB's (parallel) order, so their
        # last bits may differ between equal loads: which evaluations are stored must not
        row = ("(threshold, intervention_id, inputs, record)" if t == "evaluation_store"
               else "x")
        out[t] = con.execute(
            f"SELECT count(*), coalesce(sum(hash({row}::VARCHAR)), 0) FROM {t} AS x {where}"
        ).fetchone()
    return out


# FTE days lost per unit x staff-in-post month: episodes clipped to the month, calendar days x
# FTE, exact duplicate records counted once, open episodes running to the end of 2025.
_UNIT_MONTH_SQL = """
WITH ep AS (
    SELECT DISTINCT employee_key, unit_id, start_date,
           coalesce(end_date, DATE '2025-12-31') AS end_date, fte, reason_code
    FROM absence_episodes
),
sip AS (
    SELECT unit_id, month, CAST(last_day(month) AS DATE) AS month_end, fte FROM staff_in_post
),
clipped AS (
    SELECT s.unit_id, s.month, s.month_end, s.fte AS sip_fte, e.reason_code, e.start_date,
           (date_diff('day', greatest(e.start_date, s.month), least(e.end_date, s.month_end)) + 1)
               * e.fte AS lost
    FROM sip AS s
    LEFT JOIN ep AS e
      ON e.unit_id = s.unit_id AND e.start_date <= s.month_end AND e.end_date >= s.month
)
SELECT u.team, c.unit_id, c.month,
       any_value(c.sip_fte) * (date_diff('day', c.month, any_value(c.month_end)) + 1) AS available,
       coalesce(sum(c.lost), 0) AS lost,
       coalesce(sum(c.lost) FILTER (WHERE c.reason_code = 'S10'), 0) AS s10,
       coalesce(sum(c.lost) FILTER (WHERE c.reason_code IN ('S11', 'S12')), 0) AS msk,
       coalesce(sum(c.lost) FILTER (WHERE c.reason_code = 'S13'), 0) AS s13
FROM clipped AS c
JOIN units AS u USING (unit_id)
GROUP BY u.team, c.unit_id, c.month
ORDER BY c.unit_id, c.month
"""


def _unit_months(con) -> pd.DataFrame:
    frame = con.execute(_UNIT_MONTH_SQL).df()
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def _rate(frame: pd.DataFrame, col: str = "lost") -> float:
    return frame[col].sum() / frame["available"].sum()


def test_unit_month_sql_on_a_hand_example(tmp_path):
    """The test's own absence arithmetic, checked on three episodes worked out by hand."""
    con = store.connect(tmp_path / "hand.duckdb")
    con.execute("INSERT INTO units (unit_id, team) VALUES (1, 'Ward A')")
    con.executemany("INSERT INTO staff_in_post (unit_id, month, headcount, fte) VALUES (1, ?, 2, 2.0)",
                    [[date(2025, 1, 1)], [date(2025, 2, 1)], [date(2025, 12, 1)]])
    episodes = [
        (1, "e1", date(2025, 1, 30), date(2025, 2, 2), 0.5, "S13"),
        (2, "e1", date(2025, 1, 30), date(2025, 2, 2), 0.5, "S13"),   # exact duplicate
        (3, "e2", date(2025, 12, 30), None, 1.0, "S10"),              # still open
    ]
    con.executemany(
        "INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date, end_date,"
        " fte, reason_code) VALUES (?, ?, 1, ?, ?, ?, ?)", episodes)
    got = _unit_months(con).set_index("month")
    # Jan: 30-31 Jan = 2 days x 0.5 FTE; Feb: 1-2 Feb = 2 x 0.5; Dec: 30-31 Dec = 2 x 1.0 (S10)
    assert got["lost"].tolist() == [1.0, 1.0, 2.0]
    assert got["s10"].tolist() == [0.0, 0.0, 2.0]
    assert got["available"].tolist() == [2.0 * 31, 2.0 * 28, 2.0 * 31]
    con.close()


# --- determinism and loading -------------------------------------------------------------------


def test_same_seed_same_store_and_replace(demo_con, tmp_path):
    # Two builds (each takes seconds): another seed, then the default seed over it. The session's
    # demo store was built from nothing with the default seed, so equal checksums after the
    # replace show both that equal seeds give identical contents and that replacing leaves
    # nothing of the other seed behind.
    expected = _checksums(demo_con)
    con = store.connect(tmp_path / "again.duckdb")
    demo.load_demo(con, seed=7)
    other = _checksums(con)
    assert other["responses"] != expected["responses"]
    assert other["absence_episodes"] != expected["absence_episodes"]

    with pytest.raises(ValueError, match="already holds data"):
        demo.load_demo(con)

    text = demo.load_demo(con, replace=True)
    assert _checksums(con) == expected
    responses = con.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert demo.DATASET_NAME in text and f"{responses:,} responses" in text
    assert "data/demo/README.md" in text
    assert store.dataset_version(con) > store.dataset_version(demo_con)
    # sequences moved past the explicit ids, so a later import cannot collide
    for seq, table, col in [("response_seq", "responses", "response_id"),
                            ("episode_seq", "absence_episodes", "episode_id"),
                            ("unit_seq", "units", "unit_id")]:
        top = con.execute(f"SELECT max({col}) FROM {table}").fetchone()[0]
        assert con.execute("SELECT nextval(?)", [seq]).fetchone()[0] == top + 1
    con.close()


def test_refuses_a_store_with_data_and_leaves_it_untouched(tmp_path):
    con = store.connect(tmp_path / "real.duckdb")
    con.execute("INSERT INTO units (unit_id, team) VALUES (1, 'Real ward')")
    con.execute("INSERT INTO absence_episodes (episode_id, employee_key, unit_id, start_date)"
                " VALUES (1, 'k', 1, DATE '2024-01-01')")
    version = store.dataset_version(con)
    with pytest.raises(ValueError):
        demo.load_demo(con)
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == 1
    assert store.dataset_version(con) == version
    assert store.get_meta(con, "is_demo") is None
    con.close()


def test_meta_names_the_demo(demo_con):
    info = store.dataset_info(demo_con)
    assert info["name"] == demo.DATASET_NAME and info["is_demo"]
    assert store.get_meta(demo_con, "demo_seed") == str(demo.DEFAULT_SEED)


def test_design_is_consistent():
    assert demo.design_problems() == []
    targets = [t for iv in demo.INTERVENTIONS for t in iv.teams]
    assert len(targets) == len(set(targets))
    assert set(demo.MANAGER_TEAMS) == {
        t.name for t in demo.TEAMS if t.directorate == demo.MANAGER_DIRECTORATE}


# --- scale -------------------------------------------------------------------------------------


def test_organisation_shape(demo_con):
    n_teams, n_dirs, n_sites = demo_con.execute(
        "SELECT count(*), count(DISTINCT directorate), count(DISTINCT site) FROM units"
    ).fetchone()
    assert 60 <= n_teams <= 70 and n_dirs == 8 and n_sites == 5
    staff = demo_con.execute(
        "SELECT sum(headcount), sum(fte) FROM staff_in_post WHERE month = DATE '2024-10-01'"
    ).fetchone()
    assert 4700 <= staff[0] <= 5300
    # ~20% part-timers at 0.4-0.8 FTE: FTE per head about 0.8 + 0.2 x 0.6 = 0.92
    assert 0.89 <= staff[1] / staff[0] <= 0.95
    sizes = demo_con.execute(
        "SELECT u.team, s.headcount FROM staff_in_post s JOIN units u USING (unit_id)"
        " WHERE s.month = DATE '2023-01-01'").df().set_index("team").headcount
    assert (sizes.between(5, 15)).sum() >= 6
    assert sizes.max() / sizes.median() > 2  # varied, not uniform
    for team in demo.STRESS_TEAMS:
        assert 110 <= sizes[team] <= 170, team


def test_staff_in_post_months_and_drift(demo_con):
    frame = demo_con.execute("SELECT unit_id, month, headcount FROM staff_in_post").df()
    months = sorted(frame.month.unique())
    assert len(months) == 36
    assert pd.Timestamp(months[0]) == pd.Timestamp("2023-01-01")
    assert pd.Timestamp(months[-1]) == pd.Timestamp("2025-12-01")
    assert frame.groupby("unit_id").size().eq(36).all()
    spread = frame.groupby("unit_id").headcount.agg(["min", "max"])
    big = spread[spread["min"] >= 50]
    assert (big["max"] > big["min"]).mean() > 0.8          # it moves ...
    assert (big["max"] <= big["min"] * 1.12).all()          # ... but only a little


def test_survey_waves_and_response_rates(demo_con):
    waves = demo_con.execute("SELECT label, fielded_on FROM waves ORDER BY fielded_on").fetchall()
    assert waves == [(k, v) for k, v in demo.WAVES.items()]
    rates = demo_con.execute(
        """
        SELECT w.label, u.team, count(r.response_id) AS n, any_value(s.headcount) AS headcount
        FROM responses r
        JOIN waves w USING (wave_id)
        JOIN units u USING (unit_id)
        JOIN staff_in_post s ON s.unit_id = r.unit_id
             AND s.month = date_trunc('month', w.fielded_on)
        GROUP BY ALL
        """
    ).df()
    by_wave = rates.groupby("label")[["n", "headcount"]].sum()
    assert ((by_wave.n / by_wave.headcount).between(0.50, 0.60)).all()
    big = rates[rates.headcount >= 40]
    # team rates are drawn in 30-80%, and who answers is then a coin flip per person
    assert (big.n / big.headcount).between(0.20, 0.90).all()
    assert (big.n / big.headcount).std() > 0.07            # teams differ
    # the stress programme's four teams (~570 staff) give some 300-450 respondents a wave
    target = rates[rates.team.isin(demo.STRESS_TEAMS)].groupby("label").n.sum()
    assert target.between(250, 480).all()
    # some team-waves fall below the anonymity threshold of 10 responses
    assert (rates.n < 10).sum() >= 6


def test_absence_rate_seasonality_and_reasons(demo_con):
    um = _unit_months(demo_con)
    assert 0.045 <= _rate(um) <= 0.055
    month = um.month.dt.month
    winter, summer = um[month.isin([12, 1, 2])], um[month.isin([6, 7, 8])]
    assert _rate(winter) > 1.15 * _rate(summer)
    assert _rate(winter, "s13") > 3 * _rate(summer, "s13")  # cold and flu is a winter thing
    assert 0.20 <= um.s10.sum() / um.lost.sum() <= 0.35
    assert 0.10 <= um.msk.sum() / um.lost.sum() <= 0.20


def test_episode_mix(demo_con):
    ep = demo_con.execute(
        """
        SELECT reason_code, fte, end_date IS NULL AS open,
               date_diff('day', start_date, coalesce(end_date, DATE '2025-12-31')) + 1 AS days
        FROM absence_episodes
        """
    ).df()
    assert 0.03 <= (ep.reason_code == "S99").mean() <= 0.07
    long = ep.days > 28
    assert 0.05 <= long.mean() <= 0.20 and (ep.days <= 3).mean() > 0.3
    s10 = ep[ep.reason_code == "S10"]
    assert s10.days[s10.days > 28].sum() / s10.days.sum() > 0.7   # S10 days are long episodes
    assert ep.reason_code.str.fullmatch(r"S\d\d").all() and ep.reason_code.nunique() >= 15
    assert 0 < ep.open.sum() < 0.02 * len(ep)
    assert set(ep.fte.unique()) <= {0.4, 0.5, 0.6, 0.7, 0.8, 1.0}


# --- validity ----------------------------------------------------------------------------------


def test_answers_are_on_their_scales(demo_con):
    cat = catalogue.get()
    pairs = demo_con.execute("SELECT DISTINCT item_id, value FROM answers").fetchall()
    assert {i for i, _ in pairs} == set(cat.items)
    for item_id, value in pairs:
        assert value in cat.items[item_id].scale.labels.values(), (item_id, value)
    # every item uses its whole scale somewhere (no stuck generator)
    for item in cat.items.values():
        used = {v for i, v in pairs if i == item.id}
        assert used == set(item.scale.labels.values()), item.id


def test_every_respondent_answers_both_instruments_with_a_few_gaps(demo_con):
    n_items = len(catalogue.get().items)
    answered, responses, least = demo_con.execute(
        """
        SELECT sum(k), count(*), min(k) FROM (
            SELECT r.response_id, count(a.item_id) AS k
            FROM responses r LEFT JOIN answers a USING (response_id) GROUP BY r.response_id)
        """
    ).fetchone()
    assert 0.96 <= answered / (responses * n_items) <= 0.98
    assert least >= n_items - 10
    keys = demo_con.execute("SELECT respondent_key FROM responses").df().respondent_key
    assert keys.is_unique and keys.str.fullmatch(r"[0-9a-f]{64}").all()


def test_structure_is_complete(demo_con):
    assert demo_con.execute(
        "SELECT count(*) FROM units u LEFT JOIN sites s USING (site)"
        " WHERE s.site IS NULL OR u.directorate IS NULL").fetchone()[0] == 0
    for lat, lon in demo_con.execute("SELECT latitude, longitude FROM sites").fetchall():
        assert 50.0 <= lat <= 55.8 and -5.7 <= lon <= 1.8  # England
    groups = {r[0] for r in demo_con.execute(
        "SELECT staff_group FROM responses UNION SELECT staff_group FROM absence_episodes"
    ).fetchall()}
    assert groups == set(demo.STAFF_GROUPS)
    # one employee, one team, one staff group, one FTE
    assert demo_con.execute(
        "SELECT count(*) FROM (SELECT employee_key FROM absence_episodes GROUP BY 1"
        " HAVING count(DISTINCT (unit_id, staff_group, fte)) > 1)").fetchone()[0] == 0
    keys = demo_con.execute("SELECT DISTINCT employee_key FROM absence_episodes").df()
    assert keys.employee_key.str.fullmatch(r"[0-9a-f]{64}").all()


def test_episode_dates(demo_con):
    bad = demo_con.execute(
        """
        SELECT count(*) FILTER (WHERE end_date < start_date),
               count(*) FILTER (WHERE start_date > DATE '2025-12-31'),
               count(*) FILTER (WHERE end_date > DATE '2025-12-31'),
               count(*) FILTER (WHERE coalesce(end_date, DATE '2025-12-31') < DATE '2023-01-01'),
               count(*) FILTER (WHERE start_date < DATE '2022-01-01')
        FROM absence_episodes
        """
    ).fetchone()
    assert bad == (0, 0, 0, 0, 0)
    # open episodes are the ones still running on the extract date
    assert demo_con.execute(
        "SELECT count(*) FROM absence_episodes WHERE end_date IS NULL"
        " AND start_date < DATE '2024-12-31'").fetchone()[0] == 0


def test_duplicates_are_exact_and_counted_and_nothing_else_overlaps(demo_con):
    total, distinct = demo_con.execute(
        """
        SELECT count(*), (SELECT count(*) FROM (
            SELECT DISTINCT employee_key, unit_id, start_date, end_date, fte, reason_code,
                            staff_group, days_lost FROM absence_episodes))
        FROM absence_episodes
        """
    ).fetchone()
    assert total - distinct == demo.DUPLICATE_EPISODES
    overlaps = demo_con.execute(
        """
        WITH ep AS (SELECT DISTINCT employee_key, start_date,
                           coalesce(end_date, DATE '2025-12-31') AS end_date
                    FROM absence_episodes),
        ordered AS (SELECT *, lag(end_date) OVER (PARTITION BY employee_key ORDER BY start_date)
                              AS prev_end FROM ep)
        SELECT count(*) FROM ordered WHERE start_date <= prev_end
        """
    ).fetchone()[0]
    assert overlaps == 0


def test_interventions_register(demo_con):
    cat = catalogue.get()
    frame = demo_con.execute(
        """
        SELECT i.name, i.domain, i.start_date, i.indicators, list(u.team ORDER BY u.team) AS teams
        FROM interventions i JOIN intervention_units USING (intervention_id)
        JOIN units u USING (unit_id) GROUP BY ALL
        """
    ).df().set_index("name")
    assert len(frame) == 4
    for iv in demo.INTERVENTIONS:
        row = frame.loc[iv.name]
        assert row.domain == iv.domain and row.domain in {d.id for d in cat.domains}
        assert row.start_date == pd.Timestamp(iv.start)
        assert list(row.indicators) == list(iv.indicators)
        assert set(row.indicators) <= set(cat.indicators)
        assert list(row.teams) == sorted(iv.teams)


# --- recovery of the planted survey effects (the app's own query, n-weighted here) -------------


@pytest.fixture(scope="module")
def by_team(demo_con) -> pd.DataFrame:
    ids = ["stress", "hse_manager_support", "manager_interest", "work_life_balance",
           "bullying_colleagues"]
    return indicators.survey_results(demo_con, by=("team",), indicator_ids=ids)


@pytest.fixture(scope="module")
def org(demo_con) -> pd.Series:
    return indicators.survey_results(demo_con).set_index(["indicator_id", "wave_label"]).value


def _weighted(frame: pd.DataFrame, teams, waves, inside: bool = True) -> float:
    rows = frame[frame.team.isin(teams) == inside]
    rows = rows[rows.wave_label.isin(waves)]
    # mean over waves of the n-weighted mean within each wave
    return float(np.mean([np.average(g.value, weights=g.n) for _, g in rows.groupby("wave_label")]))


def _did(frame: pd.DataFrame, indicator: str, teams, before, after) -> float:
    f = frame[frame.indicator_id == indicator]
    target = _weighted(f, teams, after) - _weighted(f, teams, before)
    others = _weighted(f, teams, after, False) - _weighted(f, teams, before, False)
    return target - others


def _effect(effect_id: str) -> demo.PlantedEffect:
    return next(e for e in demo.PLANTED_EFFECTS if e.id == effect_id)


def test_stress_programme_recovered(by_team):
    e = _effect("stress_programme")
    did = _did(by_team, "stress", e.teams, e.before, e.after)
    assert did == pytest.approx(-0.12, abs=0.05)
    # before/after alone is biased by the trust-wide drift: its DiD differs from the raw change
    raw = (_weighted(by_team[by_team.indicator_id == "stress"], e.teams, e.after)
           - _weighted(by_team[by_team.indicator_id == "stress"], e.teams, e.before))
    assert raw != pytest.approx(did, abs=1e-6)


def test_manager_programme_recovered(by_team):
    e = _effect("manager_support")
    assert _did(by_team, "hse_manager_support", e.teams, e.before, e.after) == pytest.approx(
        0.35, abs=0.15)
    e = _effect("manager_interest")
    assert _did(by_team, "manager_interest", e.teams, e.before, e.after) == pytest.approx(
        0.08, abs=0.05)


@pytest.mark.parametrize("effect_id", ["app_stress_null", "app_balance_null"])
def test_wellbeing_app_has_no_effect(by_team, effect_id):
    e = _effect(effect_id)
    assert _did(by_team, e.indicator, e.teams, e.before, e.after) == pytest.approx(0, abs=0.05)


def test_trust_wide_drift(by_team):
    stress = by_team[by_team.indicator_id == "stress"]
    untouched = demo.STRESS_TEAMS  # the only intervention that moves stress
    change = (_weighted(stress, untouched, ["2025"], False)
              - _weighted(stress, untouched, ["2023"], False))
    assert change == pytest.approx(2 * demo.STRESS_DRIFT, abs=0.015)


def test_worse_teams_stand_out(by_team, org):
    stress = by_team[by_team.indicator_id == "stress"]
    for team in demo.WORSE_STRESS_TEAMS:
        for wave in demo.WAVES:
            value = stress[(stress.team == team) & (stress.wave_label == wave)].value.item()
            assert value > org["stress", wave] + 0.12, (team, wave)
    bully = by_team[(by_team.indicator_id == "bullying_colleagues")
                    & (by_team.team == demo.WORSE_BULLYING_TEAM)].set_index("wave_label").value
    for wave in demo.WAVES:
        assert bully[wave] > org["bullying_colleagues", wave] + 0.08, wave


def test_trust_sits_near_the_benchmarks(org):
    cat = catalogue.get()
    for ind_id, tol in [("stress", 0.03), ("presenteeism", 0.03), ("bullying_public", 0.03),
                        ("bullying_managers", 0.02), ("bullying_colleagues", 0.03),
                        ("violence_public", 0.03)]:
        assert org[ind_id, "2023"] == pytest.approx(cat.indicators[ind_id].benchmark.value,
                                                    abs=tol), ind_id
    for ind_id in ["hse_demands", "hse_control", "hse_peer_support", "hse_relationships",
                   "hse_role", "hse_change", "hse_manager_support"]:
        p20, p50, p80 = cat.indicators[ind_id].benchmark.percentiles
        assert org[ind_id, "2023"] == pytest.approx(p50, abs=0.1), ind_id


def test_items_correlate_through_the_latent_factor(demo_con):
    frame = demo_con.execute(
        """
        SELECT s.response_id, s.indicator_id, s.value FROM respondent_scores s
        WHERE s.indicator_id IN ('stress', 'hse_demands', 'hse_control', 'burnout')
        """
    ).df().pivot(index="response_id", columns="indicator_id", values="value").dropna()
    corr = frame.corr()
    assert corr.loc["hse_demands", "hse_control"] > 0.15       # favourable goes with favourable
    assert corr.loc["stress", "hse_demands"] < -0.15           # stress goes with poor demands
    assert corr.loc["stress", "burnout"] > 0.15


# --- recovery of the planted absence effect (plain SQL above, no app code) ---------------------


def test_rota_redesign_recovered(demo_con):
    e = _effect("rota_redesign")
    um = _unit_months(demo_con)
    um["target"] = um.team.isin(e.teams)
    um["post"] = um.month >= pd.Timestamp(e.start)
    g = um.groupby(["target", "post"])[["lost", "available"]].sum()
    rate = g.lost / g.available
    ratio = (rate[True, True] / rate[True, False]) / (rate[False, True] / rate[False, False])
    assert ratio == pytest.approx(e.change, abs=0.1)


# --- generator internals against closed forms --------------------------------------------------


def test_stratified_uniforms_fill_every_stratum():
    rng = np.random.default_rng(1)
    groups = np.repeat([0, 1, 2], [7, 1, 40])
    u = demo._stratified_uniform(groups, rng)
    for g, n in [(0, 7), (1, 1), (2, 40)]:
        strata = np.floor(np.sort(u[groups == g]) * n)
        assert strata.tolist() == list(range(n))


def test_latent_shift_moves_an_item_by_the_asked_amount():
    cat = catalogue.get()
    models = {m.id: m for m in demo._item_models(cat)}
    # q9d "agree or strongly agree": P(fav >= 4) = 1 - Phi(tau_3 - shift), tau_3 from the raw mix
    probs = demo._RAW_PROBS["q9d"]
    shift = demo._latent_shift(models["q9d"], cat.items["q9d"], cat.indicators["manager_interest"],
                               0.08)
    after = 1 - ndtr(ndtri(sum(probs[:3])) - shift)
    assert after == pytest.approx(sum(probs[3:]) + 0.08, abs=1e-9)
    # an HSE mean item: the mean of the shifted distribution, summed by hand
    m = models["hse08"]
    shift = demo._latent_shift(m, cat.items["hse08"], cat.indicators["hse_manager_support"], 0.35)
    cdf = np.append(ndtr(ndtri(np.cumsum(m.fav_probs)[:-1]) - shift), 1.0)
    shifted = np.diff(np.concatenate([[0.0], cdf]))
    assert shifted @ np.arange(1, 6) == pytest.approx(m.fav_probs @ np.arange(1, 6) + 0.35)


def test_durations_split_at_the_long_term_boundary():
    u = (np.arange(1000) + 0.5) / 1000
    days = demo._durations(u, np.full(1000, 0.3), np.full(1000, 5.0), np.full(1000, 60.0))
    assert ((days > 28) == (u >= 0.7)).all()
    assert days.min() >= 1 and days.max() <= 365
    assert np.median(days[u < 0.7]) == pytest.approx(5, abs=1)
