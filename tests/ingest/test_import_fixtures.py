"""Each fixture gives its expected outcome: imported with exact counts, or refused, store unchanged."""

from __future__ import annotations

import csv
import hashlib
import hmac

import pytest

from dashboard.config import settings
from dashboard.ingest import pipeline
from dashboard.ingest.validate import render_text
from dashboard.privacy import pseudonym
from tests.ingest.conftest import UPLOADS, snapshot


def _import(con, name, kind, **kw):
    _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind, **kw)
    assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
    pipeline.commit(con, prepared, user="test")
    return prepared.report


def _refused(con, name, kind, **kw):
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind, **kw)
    assert not prepared.report.ok
    with pytest.raises(ValueError, match="nothing was written"):
        pipeline.commit(con, prepared, user="test")
    assert snapshot(con) == before
    return prepared.report


def _key(raw_id: str) -> str:
    return hmac.new(pseudonym.load_key(), raw_id.encode(), hashlib.sha256).hexdigest()


def _one(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()[0]


# --- survey -----------------------------------------------------------------------------------------

# An independent reading of the HSE fixture: the words a person would accept for each answer.
_WORDS = {
    "never": 1,
    "seldom": 2,
    "sometimes": 3,
    "often": 4,
    "always": 5,
    "strongly disagree": 1,
    "disagree": 2,
    "neutral": 3,
    "agree": 4,
    "strongly agree": 5,
    "sd": 1,
    "d": 2,
    "n": 3,
    "a": 4,
    "sa": 5,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
}


def test_hse_survey_q1_to_q35(con):
    report = _import(con, "survey_hse.csv", "survey")
    with open(UPLOADS / "survey_hse.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells = [r[f"Q{q}"].strip().lower() for r in rows for q in range(1, 36)]
    expected = [_WORDS[c] for c in cells if c in _WORDS]
    assert len(expected) == 415  # 420 cells - NA, N/A, -, blank - one unknown label
    assert report.counts["responses"] == 12 and report.counts["answers"] == 415
    assert _one(con, "SELECT count(*), sum(value) FROM answers") == (415, sum(expected))
    # Unknown label listed with its row (file row 6 = 5th respondent), never silently dropped.
    unknown = report.problems[report.problems["value"] == "Sometmes"]
    assert unknown[["row", "column"]].values.tolist() == [[6, "Q6"]]
    # Team spellings merged: 'Ward 7', 'ward 7', 'Ward  7 ' -> one team; 'THEATRES' -> Theatres.
    assert sorted(r[0] for r in con.execute("SELECT team FROM units").fetchall()) == ["Theatres", "Ward 7"]
    assert set(report.merged_teams["team"]) == {"Ward 7", "Theatres"}
    # Hand-computed: R1000 answers (q % 5) + 1 as numbers; Demands items 3,6,9,12,16,18,20,22
    # are 4,2,5,3,2,4,1,3, reverse-scored to 2,4,1,3,4,2,5,3: mean 24/8 = 3.0.
    got = _one(
        con,
        "SELECT s.value FROM respondent_scores s JOIN responses r USING (response_id) "
        "WHERE r.respondent_key = ? AND s.indicator_id = 'hse_demands'",
        [_key("R1000")],
    )
    assert got == (3.0,)
    # Wave from the file; fieldwork date = median of the Excel serials 45566..45568 -> 45567 = 2024-10-02.
    assert _one(con, "SELECT label, CAST(fielded_on AS VARCHAR) FROM waves") == ("HSE 2024", "2024-10-02")


def test_nhs_xlsx_survey(con):
    report = _import(con, "survey_nhs.xlsx", "survey")
    assert report.counts["responses"] == 8 and report.counts["answers"] == 37
    # q11c: Yes, No, yes, N/A (missing), Yes, No, 1 (=Yes), No -> 4 of 7 answering.
    assert _one(con, "SELECT avg(value), count(*) FROM respondent_scores WHERE indicator_id = 'stress'") == (
        pytest.approx(4 / 7),
        7,
    )
    # q6c comes from formula cells' stored results: Agree x5, Disagree, Strongly agree, Neutral.
    assert _one(con, "SELECT sum(value), count(*) FROM answers WHERE item_id = 'q6c'") == (30, 8)
    # q14b: "1-2" and "1 - 2" are the same answer (value 2).
    assert _one(con, "SELECT count(*) FROM answers WHERE item_id = 'q14b' AND value = 2") == (2,)
    rows = report.problems.dropna(subset=["row"])
    assert rows[["row", "column", "value"]].values.tolist() == [[12, "q11d", "Maybe"]]
    ignored = report.problems[report.problems["row"].isna()]
    assert ignored["column"].tolist() == ["Comments", "Comments (2)"]
    assert set(ignored["reason"]) == {"column not used: it is not mapped to anything"}
    assert "Comments" in report.ignored_columns and "Comments (2)" in report.ignored_columns


def test_survey_without_wave_asks_then_uses_the_answer(con, tmp_path):
    f = tmp_path / "pulse.csv"
    f.write_text("Ward,Q11c,Q11d\nWard 7,Yes,No\nWard 7,No,No\nWard 7,Y,Yes\n", encoding="utf-8")
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, f, "survey")
    assert prepared.report.questions == [
        "Which survey wave is this? Give it a name (for example '2024 annual survey'; "
        "on the page, or with --wave NAME)."
    ]
    _raw, prepared = pipeline.prepare(con, f, "survey", wave="Pulse 2025")
    assert prepared.report.questions == [
        "When was survey wave 'Pulse 2025' in the field? Give the middle date of its fieldwork "
        "(on the page, or with --wave-date 'Pulse 2025=YYYY-MM-DD')."
    ]
    assert snapshot(con) == before
    _raw, prepared = pipeline.prepare(con, f, "survey", wave="Pulse 2025", fielded_on="2025-03-01")
    pipeline.commit(con, prepared, user="test")
    assert _one(con, "SELECT label, CAST(fielded_on AS VARCHAR) FROM waves") == ("Pulse 2025", "2025-03-01")
    assert _one(con, "SELECT avg(value) FROM respondent_scores WHERE indicator_id = 'stress'") == (
        pytest.approx(2 / 3),
    )


def test_survey_aggregates_percent_and_means(con):
    _import(con, "structure.ods", "structure")
    report = _import(con, "survey_aggregate_long.csv", "survey_aggregate", fielded_on="2024-10-15")
    rows = con.execute(
        "SELECT u.team, a.indicator_id, a.value, a.n FROM survey_aggregates a JOIN units u USING (unit_id) "
        "ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("Theatres", "hse_demands", 3.1, 30),
        ("Theatres", "stress", pytest.approx(0.38), 8),
        ("Ward 7", "presenteeism", pytest.approx(0.52), 25),
        ("Ward 7", "stress", pytest.approx(0.441), 25),
    ]
    reasons = dict(zip(report.problems["value"], report.problems["reason"], strict=True))
    assert "anonymity threshold" in reasons["8"]
    assert "not an indicator" in reasons["Favourite colour"]
    assert _one(con, "SELECT CAST(fielded_on AS VARCHAR) FROM waves WHERE label = 'NSS 2024'") == (
        "2024-10-15",
    )


def test_survey_aggregate_wave_date_is_asked(con):
    report = _refused(con, "survey_aggregate_long.csv", "survey_aggregate")
    assert report.questions == [
        "When was survey wave 'NSS 2024' in the field? Give the middle date of its fieldwork "
        "(on the page, or with --wave-date 'NSS 2024=YYYY-MM-DD')."
    ]


# --- absence ------------------------------------------------------------------------------------------


def test_absence_semicolon_bom_crlf_decimal_commas(con):
    report = _import(con, "absence_semicolon_bom_crlf.csv", "absence")
    assert report.rows_read == 8 and report.rows_ready == 6
    rows = con.execute(
        "SELECT u.team, CAST(start_date AS VARCHAR), CAST(end_date AS VARCHAR), fte, reason_code, days_lost "
        "FROM absence_episodes e JOIN units u USING (unit_id) ORDER BY start_date"
    ).fetchall()
    assert rows == [
        ("Ward 7", "2024-01-03", "2024-01-05", 0.8, "S10", 3.0),
        ("Ward 7", "2024-01-13", None, 1.0, "S13", None),  # NA end date = still absent
        ("Theatres", "2024-01-15", "2024-01-16", 1.0, "S99", 2.0),  # blank reason = unknown
        ("Ward 7", "2024-01-20", None, 0.6, "S11", None),  # '-' end date, 'back pain' -> S11
        ("Theatres", "2024-01-25", "2024-01-30", 0.5, "S10", 6.0),  # 'Stress' -> S10
        ("Pharmacy", "2024-01-31", None, 1.0, "S99", None),
    ]
    reasons = report.problems.set_index("row")["reason"].to_dict()
    assert reasons[8].startswith("end date before start date")
    assert reasons[9].startswith("duplicate episode")
    assert len(report.problems) == 2  # no unknown-team warnings: the store had no structure yet


def test_absence_utf16_and_cp1252_names(con):
    _import(con, "absence_utf16.txt", "absence")
    _import(con, "absence_cp1252.csv", "absence")
    teams = sorted(r[0] for r in con.execute("SELECT team FROM units").fetchall())
    assert teams == ["Café Team", "Chloë House", "Ward 7"]
    assert _one(con, "SELECT count(*), sum(fte) FROM absence_episodes") == (6, 6.0)


def test_absence_parquet(con):
    _import(con, "absence.parquet", "absence")
    assert _one(con, "SELECT count(*), sum(fte), count(end_date) FROM absence_episodes") == (
        3,
        pytest.approx(2.3),
        2,
    )


def test_ambiguous_dates_asked_then_answered(con):
    report = _refused(con, "absence_ambiguous_dates.csv", "absence")
    assert len(report.questions) == 2 and "03/04/2024" in report.questions[0]
    assert report.problems.empty  # waiting rows are not reported as bad dates
    _import(con, "absence_ambiguous_dates.csv", "absence", day_first=True)
    got = con.execute("SELECT CAST(start_date AS VARCHAR) FROM absence_episodes ORDER BY 1").fetchall()
    assert got == [("2024-04-03",), ("2024-05-06",)]


def test_ambiguous_dates_month_first(con):
    _import(con, "absence_ambiguous_dates.csv", "absence", day_first=False)
    got = con.execute("SELECT CAST(start_date AS VARCHAR) FROM absence_episodes ORDER BY 1").fetchall()
    assert got == [("2024-03-04",), ("2024-06-05",)]


def test_absence_monthly_esr(con):
    report = _import(con, "absence_monthly_esr.csv", "absence_monthly")
    rows = con.execute(
        "SELECT u.team, CAST(month AS VARCHAR), reason_code, fte_days_lost, fte_days_available "
        "FROM absence_monthly JOIN units u USING (unit_id) ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("Theatres", "2024-01-01", None, 3.0, 310.0),  # blank reason = team total
        ("Ward 7", "2024-01-01", "S10", 12.5, 620.0),
        ("Ward 7", "2024-01-01", "S13", 4.0, 620.0),
        ("Ward 7", "2024-02-01", "S10", 6.5, 580.0),
    ]
    assert report.problems[["row", "value"]].values.tolist() == [[6, "-1"]]


def test_staff_in_post_from_mislabelled_ods(con):
    report = _import(con, "staff_in_post_mislabelled.csv", "staff_in_post")
    assert any("really an OpenDocument" in n for n in report.notes)
    assert _one(con, "SELECT count(*), sum(headcount), sum(fte) FROM staff_in_post") == (
        3,
        73,
        pytest.approx(63.9),
    )


def test_structure_then_unknown_team_warning(con):
    _import(con, "structure.ods", "structure")
    units = con.execute("SELECT team, directorate, site FROM units ORDER BY team").fetchall()
    assert units == [
        ("Café Team", "Corporate", "Head Office"),
        ("Theatres", "Surgery", "City Hospital"),
        ("Ward 7", "Medicine", "City Hospital"),
    ]
    assert con.execute("SELECT * FROM sites ORDER BY site").fetchall() == [
        ("City Hospital", 52.95, -1.15),
        ("Head Office", 52.91, -1.18),
    ]
    report = _import(con, "absence_semicolon_bom_crlf.csv", "absence")
    unknown = report.problems[report.problems["reason"].str.startswith("unknown team")]
    assert unknown[["row", "value"]].values.tolist() == [[11, "Pharmacy"]]


def test_interventions_link_existing_teams(con):
    _import(con, "structure.ods", "structure")
    report = _import(con, "interventions.csv", "interventions")
    rows = con.execute(
        "SELECT i.name, i.domain, CAST(i.start_date AS VARCHAR), i.indicators, "
        "list(u.team ORDER BY u.team) FROM interventions i JOIN intervention_units USING (intervention_id) "
        "JOIN units u USING (unit_id) GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("Rest spaces", "environment", "2024-05-01", ["hse_demands"], ["Ward 7"]),
        (
            "Wellbeing huddles",
            "relationships",
            "2024-04-01",
            ["bullying_managers_or_colleagues"],
            ["Theatres", "Ward 7"],
        ),
    ]
    assert report.problems["value"].tolist() == ["no such indicator"]


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("empty.csv", "absence", "is empty (0 bytes)"),
        ("garbage.csv", "absence", "not a readable table"),
        ("no_mappable.csv", "absence", "Nothing in this file could be matched"),
        ("absence_missing_start.csv", "absence", "This file has no dates: absence episodes need"),
        ("structure.ods", "survey", "No survey questions recognised"),
    ],
)
def test_refusals_leave_store_unchanged(con, name, kind, message):
    _import(con, "absence_utf16.txt", "absence")  # a non-empty store, so "unchanged" means something
    report = _refused(con, name, kind)
    assert any(message in e for e in report.errors), report.errors


def test_same_file_twice_is_recognised(con):
    _import(con, "absence_utf16.txt", "absence")
    report = _refused(con, "absence_utf16.txt", "absence")
    assert "already imported as import #1" in report.errors[0]


def test_unknown_profile_is_refused(con):
    report = _refused(con, "absence_utf16.txt", "absence", profile="nope")
    assert report.errors == ["There is no saved mapping profile called 'nope'."]


def test_raw_identifiers_never_reach_the_store(con, env):
    _import(con, "absence_semicolon_bom_crlf.csv", "absence")
    _import(con, "survey_hse.csv", "survey")
    _import(con, "absence_utf16.txt", "absence")
    raw_ids = {f"E00{i}" for i in range(1, 8)} | {f"R{1000 + i}" for i in range(12)} | {"A-1", "A-2", "A-3"}
    con.execute("CHECKPOINT")
    blob = env.read_bytes()
    assert not [r for r in raw_ids if r.encode() in blob]
    keys = {r[0] for r in con.execute("SELECT employee_key FROM absence_episodes").fetchall()}
    assert _key("E001") in keys and _key("A-2") in keys
    assert settings().secret_path.stat().st_mode & 0o777 == 0o600


def test_survey_aggregates_wide_layout(con, tmp_path):
    f = tmp_path / "breakdown.csv"
    f.write_text(
        "Team,Survey year,Base,Work-related stress,Presenteeism (came to work when unwell),HSE Demands\n"
        "Ward 7,NSS 2024,20,41%,0.5,3.25\n"
        "Theatres,NSS 2024,12,38.5,55%,6\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(con, f, "survey_aggregate", fielded_on="2024-10-15")
    assert prepared.mapping.items == {
        "Work-related stress": "stress",
        "Presenteeism (came to work when unwell)": "presenteeism",
        "HSE Demands": "hse_demands",
    }
    pipeline.commit(con, prepared, user="t")
    rows = con.execute(
        "SELECT u.team, a.indicator_id, a.value, a.n FROM survey_aggregates a JOIN units u USING (unit_id) "
        "ORDER BY ALL"
    ).fetchall()
    # 41% and 38.5 (a column over 1 is in percent) -> 0.41, 0.385; 0.5 and 55% -> 0.5, 0.55;
    # a Demands mean of 6 is outside 1-5 and is listed, not stored.
    assert rows == [
        ("Theatres", "presenteeism", pytest.approx(0.55), 12),
        ("Theatres", "stress", pytest.approx(0.385), 12),
        ("Ward 7", "hse_demands", 3.25, 20),
        ("Ward 7", "presenteeism", pytest.approx(0.5), 20),
        ("Ward 7", "stress", pytest.approx(0.41), 20),
    ]
    assert prepared.report.problems.dropna(subset=["row"])[["row", "reason"]].values.tolist() == [
        [3, "result out of range (0-100% or a 1-5 mean); not imported"]
    ]


def test_duplicate_respondent_is_skipped_and_its_id_withheld(con, tmp_path):
    f = tmp_path / "dups.csv"
    f.write_text(
        "Respondent ID,Wave,Team,q11c\n"
        "SECRET-7,W1,Ward 7,Yes\nSECRET-8,W1,Ward 7,No\nSECRET-7,W1,Ward 7,No\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(con, f, "survey", fielded_on="2024-01-15")
    problems = prepared.report.problems
    assert problems[["row", "value"]].values.tolist() == [[4, "(identifier withheld)"]]
    assert (
        "SECRET" not in render_text(prepared.report)
        and "SECRET" not in prepared.report.problems_csv().decode()
    )
    pipeline.commit(con, prepared, user="t")
    assert _one(con, "SELECT count(*), avg(value) FROM respondent_scores WHERE indicator_id = 'stress'") == (
        2,
        0.5,
    )


def test_staff_in_post_rows_per_staff_group_are_added_and_existing_months_kept(con, tmp_path):
    f = tmp_path / "sip.csv"
    f.write_text(
        "Team,Month,Staff group,Headcount,FTE\n"
        "Ward 7,2024-01,Nursing,20,18.5\nWard 7,2024-01,Admin,4,3\nWard 7,2024-01,Admin,4,3\n"
        "Ward 7,2024-02,Nursing,21,19\n",
        encoding="utf-8",
    )
    _raw, prepared = pipeline.prepare(con, f, "staff_in_post")
    # The exact repeat (row 4) is dropped and listed; the two staff groups are added together.
    assert prepared.report.problems.dropna(subset=["row"])["row"].tolist() == [4]
    pipeline.commit(con, prepared, user="t")
    got = con.execute(
        "SELECT CAST(month AS VARCHAR), headcount, fte FROM staff_in_post ORDER BY 1"
    ).fetchall()
    assert got == [("2024-01-01", 24, 21.5), ("2024-02-01", 21, 19.0)]
    g = tmp_path / "sip2.csv"
    g.write_text("Team,Month,Headcount,FTE\nWard 7,2024-02,99,99\nWard 7,2024-03,22,20\n", encoding="utf-8")
    _raw, prepared = pipeline.prepare(con, g, "staff_in_post")
    assert "1 rows are already in the store" in " ".join(prepared.report.notes)
    pipeline.commit(con, prepared, user="t")
    got = con.execute("SELECT CAST(month AS VARCHAR), headcount FROM staff_in_post ORDER BY 1").fetchall()
    assert got == [("2024-01-01", 24), ("2024-02-01", 21), ("2024-03-01", 22)]


def test_staff_in_post_from_old_style_xls(con):
    # BIFF8 .xls written by xlwt (tests/fixtures/uploads/make_fixtures.py), read by calamine;
    # the Period column holds real Excel date cells.
    raw, _ = pipeline.prepare(con, UPLOADS / "staff_in_post.xls", "staff_in_post")
    assert raw.format == "xls"
    report = _import(con, "staff_in_post.xls", "staff_in_post")
    assert report.counts["team-months"] == 2 and report.counts["new teams"] == 2
    rows = con.execute(
        "SELECT u.team, s.month, s.headcount, s.fte FROM staff_in_post AS s JOIN units AS u USING (unit_id)"
        " ORDER BY u.team"
    ).fetchall()
    assert [(t, str(m), h, round(f, 1)) for t, m, h, f in rows] == [
        ("Theatres", "2024-03-01", 13, 11.2),
        ("Ward 7", "2024-03-01", 29, 25.8),
    ]


def test_import_into_the_demo_store_is_refused_and_changes_nothing(demo_db, tmp_path):
    import shutil

    from dashboard import store as store_mod

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    con = store_mod.connect(db)
    before = snapshot(con)
    _raw, prepared = pipeline.prepare(con, UPLOADS / "absence_utf16.txt", "absence")
    assert not prepared.report.ok
    assert any("demo organisation" in e for e in prepared.report.errors)
    with pytest.raises(ValueError, match="nothing was written"):
        pipeline.commit(con, prepared, user="test")
    assert snapshot(con) == before
