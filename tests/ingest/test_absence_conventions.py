"""ESR absence conventions: names proposed, hours asked, files without dates refused, reach stated."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.ingest import mapping, pipeline
from dashboard.metrics import coverage
from tests.ingest.conftest import UPLOADS, snapshot


def _prepare(con, name, kind, **kw):
    return pipeline.prepare(con, UPLOADS / name, kind, **kw)[1]


def test_esr_episode_export_mapped_by_its_own_names(con):
    prepared = _prepare(con, "absence_esr_organisation.csv", "absence")
    report = prepared.report
    assert report.ok and report.rows_ready == 5
    assert report.mapped == {
        "Assignment Number": "employee_id",
        "Organisation": "team",
        "Absence Start Date": "start_date",
        "Absence End Date": "end_date",
        "FTE Days Lost": "days_lost",
        "FTE": "fte",
        "Absence Reason": "reason",
        "Staff Group": "staff_group",
        "Org L4": "directorate",
    }
    assert report.reasons[["uploaded", "code"]].values.tolist() == [
        ["S10 Anxiety/stress/depression/other psychiatric illnesses", "S10"],
        ["S12 Other musculoskeletal problems", "S12"],
        ["S13 Cold Cough Flu - Influenza", "S13"],
        ["(blank)", "S99"],
        ["S11 Back Problems", "S11"],
    ]
    pipeline.commit(con, prepared, user="t")
    got = con.execute(
        "SELECT u.team, u.directorate, e.start_date::VARCHAR, e.end_date::VARCHAR, e.fte, e.reason_code, "
        "e.days_lost FROM absence_episodes e JOIN units u USING (unit_id) ORDER BY e.start_date"
    ).fetchall()
    assert got == [
        ("Ward 7", "Medicine", "2024-01-03", "2024-01-12", 1.0, "S10", 10.0),
        ("Ward 7", "Medicine", "2024-01-29", "2024-02-02", 0.5, "S12", 2.5),
        ("Ward 7", "Medicine", "2024-02-13", "2024-02-13", 1.0, "S11", 1.0),
        ("Theatres", "Surgery", "2024-02-15", "2024-02-16", 1.0, "S13", 2.0),
        ("Theatres", "Surgery", "2024-02-20", None, 0.8, "S99", None),
    ]


def test_deepest_esr_level_is_the_team():
    headers = ["Org L3", "Org L4", "Org L6", "Org L7", "Assignment Number"]
    frame = pd.DataFrame(columns=headers, dtype="string")
    proposed = mapping.propose("absence", frame)
    assert proposed.fields["team"] == "Org L7" and proposed.fields["directorate"] == "Org L4"
    frame = pd.DataFrame(columns=["Org L6", "Organisation", "Employee Number"], dtype="string")
    assert mapping.propose("absence", frame).fields["team"] == "Organisation"


def test_hours_need_the_hours_in_an_fte_day(con):
    report = _prepare(con, "absence_hours.csv", "absence_monthly").report
    assert report.questions == [
        "Durations are in hours, not days, in column(s) 'FTE Hours Lost', 'FTE Hours Available'. How many "
        "hours make one FTE day (for example 7.5)? Answer on the page, or with --hours-per-day."
    ]
    assert not report.ok
    bad = _prepare(con, "absence_hours.csv", "absence_monthly", hours_per_day=30).report
    assert "Hours in one FTE day must be above 0 and at most 24 (got 30)." in bad.errors
    prepared = _prepare(con, "absence_hours.csv", "absence_monthly", hours_per_day=7.5)
    assert prepared.report.ok
    rows = prepared.tables["absence_monthly"]
    assert rows["fte_days_lost"].tolist() == [90 / 7.5, 60 / 7.5, 22.5 / 7.5, 75 / 7.5]
    assert rows["fte_days_available"].tolist() == [620.0, 580.0, 310.0, 290.0]


def test_episode_hours_converted(con, tmp_path):
    f = tmp_path / "roster.csv"
    f.write_text(
        "Employee Number,Team,Start Date,End Date,Hours Lost\n"
        "E1,Ward 7,2024-03-04,2024-03-05,15\nE2,Ward 7,2024-03-06,2024-03-06,7.5\n"
    )
    _raw, asked = pipeline.prepare(con, f, "absence")
    assert asked.report.questions[0].startswith(
        "Durations are in hours, not days, in column(s) 'Hours Lost'."
    )
    _raw, prepared = pipeline.prepare(con, f, "absence", hours_per_day=7.5)
    assert prepared.tables["episodes"]["days_lost"].tolist() == [2.0, 1.0]


def test_absence_without_dates_refused_with_that_reason(con):
    before = snapshot(con)
    report = _prepare(con, "absence_no_dates.csv", "absence").report
    assert report.errors == [
        "This file has no dates: absence episodes need the date each absence started (a column such as "
        "'Absence Start Date'), and none of its columns holds dates. If it gives days lost per team and "
        "month, import it as 'Monthly absence totals' instead."
    ]
    assert snapshot(con) == before


def test_a_column_of_months_is_not_real_dates(con):
    raw = pipeline.read(UPLOADS / "absence_no_dates.csv")
    chosen = mapping.propose("absence", raw.frame)
    chosen.fields["start_date"] = "Absence Month"
    report = pipeline.validate(con, raw, chosen).report
    assert report.errors == [
        "Column 'Absence Month' holds no real dates: none of its 3 values reads as a date (for example "
        "'Jan-24'). Absence episodes need the date each absence started, such as 03/01/2024. If the file "
        "gives totals per team and month, import it as 'Monthly absence totals' instead."
    ]


def test_unmapped_date_column_is_named(con, tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("Employee Number,Team,Went off\nE1,Ward 7,2024-03-04\n")
    raw = pipeline.read(f)
    chosen = mapping.Mapping(kind="absence", fields={"employee_id": "Employee Number", "team": "Team"})
    report = pipeline.validate(con, raw, chosen).report
    assert report.errors == [
        "Required column not mapped: Start date. Choose which column holds the date each absence started "
        "(perhaps 'Went off')."
    ]


ESR = ("absence_esr_organisation.csv", "absence")
SIP = ("staff_in_post_title_rows.csv", "staff_in_post")


@pytest.mark.parametrize(
    ("first", "then", "can", "cannot"),
    [
        # Episodes alone: no rate until staff in post arrives; with it, rates.
        (None, ESR, 1, [coverage.STAFF_IN_POST_NEXT]),
        (SIP, ESR, 2, []),
        # Staff in post alone shows no rate; after absence it completes them.
        (None, SIP, 1, ["absence rates until absence episodes or monthly totals are imported"]),
        (ESR, SIP, 2, []),
    ],
)
def test_what_an_upload_can_show_depends_on_the_store(con, first, then, can, cannot):
    if first:
        prepared = _prepare(con, *first)
        pipeline.commit(con, prepared, user="t")
    report = _prepare(con, *then).report
    assert len(report.can_show) == can and report.cannot_show == cannot


def test_monthly_totals_without_days_available(con, tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("Org L6,Month,FTE Days Lost\nWard 7,2024-01,12\nWard 7,2024-02,6\n")
    report = pipeline.prepare(con, f, "absence_monthly")[1].report
    assert report.cannot_show == [
        "absence rates need staff in post (FTE) for the same teams and months: import it next (Data page, "
        "'Staff in post'), or include FTE days available"
    ]
    pipeline.commit(con, pipeline.prepare(con, f, "absence_monthly")[1], user="t")
    assert coverage.absence_gaps(con) == [
        "2 monthly absence row(s) have neither FTE days available nor staff in post: rates need staff in "
        "post: import it next, or include FTE days available."
    ]
