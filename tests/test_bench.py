"""Smoke test of the benchmark at a tiny scale: the generated store is valid and every timed
operation returns rows (no timing assertions)."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bench import __main__ as cli
from bench import generate, measure
from dashboard import catalogue, store
from dashboard.metrics import absence

# bench_db (a generated store) is built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("bench_db")

RESPONSES, EPISODES, TEAMS, WAVES = 2_000, 5_000, 20, 3


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory) -> tuple[Path, generate.Generated]:
    path = tmp_path_factory.mktemp("bench") / "bench.duckdb"
    con = store.connect(path)
    try:
        built = generate.generate(con, RESPONSES, EPISODES, TEAMS, WAVES, seed=7,
                                  chunk_responses=700, chunk_episodes=1_500)  # several chunks
    finally:
        con.close()
    return path, built


@pytest.fixture()
def con(bench_db):
    con = store.connect(bench_db[0], read_only=True)
    yield con
    con.close()


def _frame(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def test_counts_are_as_asked(bench_db, con):
    _, built = bench_db
    assert built.counts["responses"] == RESPONSES
    assert built.counts["absence_episodes"] == EPISODES
    assert built.counts["units"] == TEAMS
    assert built.counts["waves"] == WAVES
    assert built.counts["staff_in_post"] == TEAMS * 36
    assert built.counts["interventions"] == len(generate.INTERVENTIONS)
    # ids run 1..N with no gaps or repeats across chunks
    for table, column, n in (("responses", "response_id", RESPONSES),
                             ("absence_episodes", "episode_id", EPISODES)):
        lo, hi, distinct = con.execute(
            f"SELECT min({column}), max({column}), count(DISTINCT {column}) FROM {table}"
        ).fetchone()
        assert (lo, hi, distinct) == (1, n, n)
    # waves are contiguous thirds of the response ids
    per_wave = _frame(con, "SELECT wave_id, count(*) AS n FROM responses GROUP BY 1 ORDER BY 1")
    assert per_wave.n.tolist() == [667, 667, 666]
    assert set(built.seconds) >= {"responses + answers", "absence episodes", "refresh_scores"}


def test_structure_and_staff_in_post(con):
    units = _frame(con, "SELECT * FROM units")
    assert units.team.is_unique and units.directorate.notna().all() and units.site.notna().all()
    sites = set(_frame(con, "SELECT site FROM sites").site)
    assert set(units.site) <= sites
    sip = _frame(con, "SELECT unit_id, count(DISTINCT month) AS months, min(month) AS first, "
                      "max(month) AS last, min(headcount) AS hc, min(fte / headcount) AS lo, "
                      "max(fte / headcount) AS hi FROM staff_in_post GROUP BY unit_id")
    assert len(sip) == TEAMS and (sip.months == 36).all()
    assert (pd.to_datetime(sip["first"]) == pd.Timestamp(2023, 1, 1)).all()
    assert (pd.to_datetime(sip["last"]) == pd.Timestamp(2025, 12, 1)).all()
    assert (sip.hc >= 1).all() and (sip.lo > 0).all() and (sip.hi <= 1).all()
    fielded = [d for (d,) in con.execute("SELECT fielded_on FROM waves ORDER BY wave_id").fetchall()]
    assert fielded == [date(2023, 10, 15), date(2024, 10, 15), date(2025, 10, 15)]


def test_answers_are_on_each_items_scale_with_about_3_percent_missing(con):
    cat = catalogue.get()
    answers = _frame(con, "SELECT response_id, item_id, value FROM answers")
    assert not answers.duplicated(["response_id", "item_id"]).any()
    assert set(answers.item_id) == set(cat.items)
    for item_id, values in answers.groupby("item_id").value:
        allowed = set(cat.items[item_id].scale.labels.values())
        assert set(values.unique()) <= allowed, item_id
        assert len(set(values.unique())) == len(allowed), f"{item_id} never uses part of its scale"
    cells = RESPONSES * len(cat.items)
    missing = 1 - len(answers) / cells
    assert 0.02 < missing < 0.04
    assert set(answers.response_id) <= set(_frame(con, "SELECT response_id FROM responses").response_id)


def test_respondent_scores_cover_every_answered_indicator(con):
    # Independently: a respondent has a score for each indicator fed by at least one answered item.
    cat = catalogue.get()
    feeds = pd.DataFrame([(i.id, ind) for i in cat.items.values() for ind in i.indicators],
                         columns=["item_id", "indicator_id"])
    answers = _frame(con, "SELECT a.response_id, a.item_id, a.value, r.wave_id FROM answers AS a "
                          "JOIN responses AS r USING (response_id)")
    fed = answers.merge(feeds, on="item_id")
    expected = fed[["response_id", "indicator_id"]].drop_duplicates()
    # ... except "any of" indicators (issue 11): a respondent who skipped an item asked in
    # their wave and said no to the rest has no score (missing, not "no")
    anyof = {i.id: i.event_min for i in cat.indicators.values()
             if i.kind == "proportion" and i.combine == "any" and len(i.items) > 1}
    multi = fed[fed.indicator_id.isin(list(anyof))].copy()
    multi["yes"] = multi.value >= multi.indicator_id.map(anyof)
    asked = multi.groupby(["wave_id", "indicator_id"]).item_id.nunique().rename("asked")
    per = multi.groupby(["response_id", "wave_id", "indicator_id"]).agg(
        answered=("item_id", "nunique"), yes=("yes", "any")).join(asked, on=["wave_id", "indicator_id"])
    missing = int(((per.answered < per.asked) & ~per.yes).sum())
    scores = _frame(con, "SELECT response_id, indicator_id, value FROM respondent_scores")
    assert missing > 0 and len(scores) == len(expected) - missing
    # one hand-checkable case: a yes/no proportion is 1 exactly when the answer is Yes (1)
    stress = scores[scores.indicator_id == "stress"].merge(
        _frame(con, "SELECT response_id, value AS answer FROM answers WHERE item_id = 'q11c'"),
        on="response_id")
    assert len(stress) > 0 and (stress.value == stress.answer.astype(float)).all()


def test_responses_and_episodes_are_valid(con):
    responses = _frame(con, "SELECT * FROM responses")
    assert set(responses.unit_id) <= set(range(1, TEAMS + 1))
    assert set(responses.staff_group.dropna()) <= set(generate.STAFF_GROUPS)
    assert responses.respondent_key.str.fullmatch(r"[0-9a-f]{64}").all()
    # team sizes differ, so some teams have many more respondents than others
    per_team = responses.groupby("unit_id").size()
    assert per_team.max() > 3 * per_team.min()

    ep = _frame(con, "SELECT * FROM absence_episodes")
    assert set(ep.reason_code) <= set(absence.reason_labels())
    assert {"S10", "S99"} <= set(ep.reason_code)
    start = pd.to_datetime(ep.start_date)
    end = pd.to_datetime(ep.end_date)
    assert start.min() >= pd.Timestamp(2023, 1, 1) and start.max() <= pd.Timestamp(2025, 12, 31)
    closed = end.notna()
    assert (end[closed] >= start[closed]).all() and end.max() <= pd.Timestamp(2025, 12, 31)
    assert 0 < (~closed).sum() < 0.05 * EPISODES          # some still open at the extract date
    days = (end[closed] - start[closed]).dt.days + 1
    assert ((days >= 1) & (days <= 7)).mean() > 0.85 and (days > 28).any()
    assert ((ep.fte > 0) & (ep.fte <= 1)).all()
    assert set(ep.unit_id) <= set(range(1, TEAMS + 1))
    assert ep.employee_key.str.fullmatch(r"[0-9a-f]{64}").all()


def test_interventions_have_targets_and_sequences_moved_on(con):
    ivs = _frame(con, "SELECT i.intervention_id, count(u.unit_id) AS n FROM interventions AS i "
                      "LEFT JOIN intervention_units AS u USING (intervention_id) GROUP BY 1")
    assert (ivs.n >= 3).all()
    assert con.execute("SELECT currval('response_seq')").fetchone()[0] == RESPONSES
    assert store.get_meta(con, "is_demo") == "false"


def test_same_seed_same_store(tmp_path, bench_db):
    path = tmp_path / "again.duckdb"
    con = store.connect(path)
    try:
        generate.generate(con, RESPONSES, EPISODES, TEAMS, WAVES, seed=7)
        sql = ("SELECT sum(hash(response_id, item_id, value)) FROM answers UNION ALL "
               "SELECT sum(hash(episode_id, employee_key, start_date, end_date, reason_code)) "
               "FROM absence_episodes")
        again = con.execute(sql).fetchall()
    finally:
        con.close()
    first = store.connect(bench_db[0], read_only=True)
    try:
        assert first.execute(sql).fetchall() == again
    finally:
        first.close()


def test_generate_refuses_a_store_with_data(tmp_path, bench_db):
    con = store.connect(bench_db[0], read_only=True)
    try:
        with pytest.raises(ValueError, match="already holds data"):
            generate.generate(con, 10, 10, 2)
    finally:
        con.close()


def test_wave_dates():
    assert generate.wave_dates(1) == [date(2025, 10, 15)]
    assert generate.wave_dates(5) == [date(2023, 10, 15), date(2024, 4, 15), date(2024, 10, 15),
                                      date(2025, 4, 15), date(2025, 10, 15)]


@pytest.mark.slow
def test_every_measured_operation_returns_rows(bench_db):
    path, built = bench_db
    seen: list[str] = []
    timings = measure.measure(path, repeat=1, report=lambda t: seen.append(t.name))
    con = store.connect(path, read_only=True)
    try:
        names = [op.name for op in measure.operations(con)]
    finally:
        con.close()
    assert [t.name for t in timings] == names == seen
    for t in timings:
        assert t.rows > 0, t.name
        assert len(t.runs) == 2 and t.cold == t.runs[0]
        assert t.repeated is not None and t.as_json()["repeated_s"] is not None
    refresh = measure.time_refresh(path, repeat=1)
    assert refresh.rows == built.counts["respondent_scores"]   # rolled back: store unchanged


def test_raw_baselines_compute_the_scopes_the_page_shows(con):
    """The team profile's raw baseline gives the team's, its directorate's and the organisation's
    figures in both waves and both absence periods: checked against plain per-scope queries."""
    from bench import raw

    ctx = measure.context(con)
    assert ctx.prev_wave is not None and ctx.directorate is not None
    (survey_sql, survey_params), (absence_sql, absence_params) = raw.queries(ctx)["drilldown.team_profile"]
    survey = con.execute(survey_sql, survey_params).df().set_index(["wave_id", "indicator_id"])
    assert set(survey.index.get_level_values(0)) == {ctx.wave, ctx.prev_wave}
    for name, where, value in (("team", "r.unit_id = ?", ctx.unit),
                               ("directorate", "u.directorate = ?", ctx.directorate),
                               ("organisation", "TRUE OR ? IS NULL", None)):
        plain = con.execute(
            "SELECT r.wave_id, s.indicator_id, count(*) AS n, avg(s.value) AS v"
            " FROM respondent_scores AS s JOIN responses AS r USING (response_id)"
            f" JOIN units AS u USING (unit_id) WHERE r.wave_id IN (?, ?) AND ({where}) GROUP BY ALL",
            [ctx.wave, ctx.prev_wave, value]).df().set_index(["wave_id", "indicator_id"])
        both = plain.join(survey[[f"n_{name}", f"v_{name}"]])
        assert len(both) == len(plain) > 0
        assert (both.n == both[f"n_{name}"]).all()
        assert both.v.to_numpy() == pytest.approx(both[f"v_{name}"].to_numpy())
    absence_rows = con.execute(absence_sql, absence_params).df().set_index("period")
    assert set(absence_rows.index) == {"wave", "previous"}
    # the organisation's days available: every unit-month of staff in post in the 24 months
    (s1, e1), (s0, _) = ctx.wave_periods
    total = con.execute(
        "SELECT sum(fte * (date_diff('day', month, last_day(month)) + 1)) FROM staff_in_post"
        " WHERE month BETWEEN ? AND ?", [s0, e1]).fetchone()[0]
    assert absence_rows.available_organisation.sum() == pytest.approx(total)
    assert (absence_rows.available_team < absence_rows.available_directorate).all()
    assert len(raw.as_list(raw.queries(ctx)["compare.indicators (3 teams)"])) == 2


def test_raw_scorecard_gives_the_organisations_indicators_change_and_data_counts(con):
    """The scorecard's raw baseline computes what the Overview's table shows for the organisation:
    each survey indicator this wave and the wave before, and the Data insights counts."""
    from bench import raw
    from dashboard.metrics import scorecard

    ctx = measure.context(con)
    (survey_sql, survey_params), absence, (quality_sql, quality_params) = (
        raw.queries(ctx)["scorecard.indicator_table"])
    survey = con.execute(survey_sql, survey_params).df().set_index(["wave_id", "indicator_id"])
    table = scorecard.indicator_table(con, ctx.wave, 1).set_index("indicator_id")
    shown = table[table.n.notna() & table.kind.isin(["proportion", "mean"])]
    assert len(shown) > 0
    for ind, row in shown.iterrows():
        assert survey.at[(ctx.wave, ind), "n_organisation"] == row.n
        assert survey.at[(ctx.wave, ind), "v_organisation"] == pytest.approx(row.value)
        assert survey.at[(ctx.prev_wave, ind), "v_organisation"] == pytest.approx(row.previous)
    assert set(con.execute(*absence).df().period) == {"wave", "previous"}
    respondents, headcount, recorded, episodes, teams = con.execute(quality_sql, quality_params).fetchone()
    assert table.at["response_rate", "value"] == pytest.approx(respondents / headcount)
    assert table.at["response_rate", "n"] == headcount
    assert table.at["reason_recorded", "value"] == pytest.approx(recorded / episodes)
    assert table.at["reason_recorded", "n"] == episodes
    assert table.at["teams_reportable", "n"] == teams > 0


def test_raw_funnel_gives_each_shown_team_and_the_centre_line(con):
    """The funnel's raw baseline: each team's n and value, and the organisation's value, n and
    spread the limits are drawn around, as drilldown.funnel gives them."""
    from bench import raw
    from dashboard.metrics import drilldown

    ctx = measure.context(con)
    ((sql, params),) = raw.as_list(raw.queries(ctx)["drilldown.funnel team"])
    rows = con.execute(sql, params).df()
    points, centre = drilldown.funnel(con, ("team",), ctx.wave, "stress", 1)
    org = rows[rows.team.isna()]
    assert len(org) == 1 and len(points) > 0
    assert org.n.iloc[0] == centre["n"]
    assert org.value.iloc[0] == pytest.approx(centre["value"])
    assert org.sd.iloc[0] == pytest.approx(centre["sd"])
    teams = rows.dropna(subset=["team"]).set_index("team")
    assert (teams.loc[points.team, "n"].to_numpy() == points.n.to_numpy()).all()
    assert teams.loc[points.team, "value"].to_numpy() == pytest.approx(points.value.to_numpy())


def test_raw_episode_quality_gives_the_pages_numbers(con):
    """The raw baseline merges overlapping records into spells itself, from the raw episodes:
    the same five numbers as the page's figure, which reads the spells derived at import."""
    from bench import raw
    from dashboard.metrics import absence

    ((sql, params),) = raw.as_list(raw.queries(measure.context(con))["absence.episode_quality"])
    records, spells, merged, invalid, open_ = con.execute(sql, params).fetchone()
    page = absence.episode_quality(con)
    assert (records, spells, merged, invalid, open_) == (
        page["records"], page["spells"], page["duplicates_merged"], page["invalid_dropped"],
        page["open_episodes"])
    assert merged > 0 and open_ > 0 and spells < records  # (the generator writes no invalid record)


def test_row_count_and_table():
    assert measure.row_count(pd.DataFrame({"a": [1, 2, 3]})) == 3
    assert measure.row_count((pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1, 2]}))) == 3
    assert measure.row_count({}) == 0 and measure.row_count({"rate": 0.05}) == 1
    text = measure.format_table([("op", "1,000", "0.50", "0.25")])
    lines = text.splitlines()
    assert lines[0].split() == ["operation", "rows", "cold", "s", "median", "s"]
    assert lines[2].split() == ["op", "1,000", "0.50", "0.25"]


def test_cli_runs_end_to_end_and_removes_its_store(tmp_path, capsys):
    path = tmp_path / "cli.duckdb"
    assert cli.main(["--responses", "300", "--episodes", "400", "--teams", "6", "--repeat", "1",
                     "--db", str(path), "--only", "survey_results organisation"]) == 0
    out = capsys.readouterr().out
    assert "indicators.survey_results organisation" in out and "median s" in out
    assert "drilldown.heatmap" not in out
    assert not path.exists()
    with pytest.raises(SystemExit):
        cli.parse_args(["--reuse"])



def test_a_reused_store_is_reported_at_the_scale_it_holds(bench_db, tmp_path):
    # --reuse times a store made earlier: the JSON names what it holds, not the defaults
    path = tmp_path / "reused.duckdb"
    shutil.copy(bench_db[0], path)
    out = tmp_path / "timings.json"
    assert cli.main(["--db", str(path), "--reuse", "--repeat", "1", "--only", "survey_results organisation",
                     "--json", str(out)]) == 0
    held = json.loads(out.read_text())
    con = store.connect(path, read_only=True)
    try:
        teams = con.execute("SELECT count(*) FROM units").fetchone()[0]
    finally:
        con.close()
    assert (held["responses"], held["episodes"], held["teams"]) == (RESPONSES, EPISODES, teams)
    assert [t["operation"] for t in held["timings"]] == ["indicators.survey_results organisation"]


def test_bench_imports_every_statistics_library_a_figure_imports_on_first_use():
    """Cold timings must not include a first import: every scipy or statsmodels module a function
    in src/dashboard imports is one measure.import_lazy loads before timing."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "dashboard"
    wanted = set()
    for path in src.rglob("*.py"):
        functions = [f for f in ast.walk(ast.parse(path.read_text()))
                     if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in (n for f in functions for n in ast.walk(f)):
            # a relative import (`from . import x`) has no module
            top = (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else ""
            if top in ("scipy", "statsmodels"):
                # `from scipy import stats` imports the module scipy.stats
                wanted |= {f"{node.module}.{a.name}" if _is_module(f"{node.module}.{a.name}") else node.module
                           for a in node.names}
    assert {"scipy.stats", "statsmodels.stats.proportion"} <= wanted
    assert wanted <= set(measure.LAZY_IMPORTS)


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:   # the parent is a module, not a package
        return False
