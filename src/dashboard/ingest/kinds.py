"""What each upload kind contains: canonical fields, their types, whether required, and header synonyms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str  # team | text | date | month | number | integer | key | reason | list
    required: bool = False
    synonyms: tuple[str, ...] = ()


_TEAM = Field(
    "team",
    "Team",
    "team",
    True,
    (
        "team",
        "team name",
        "dept",
        "department",
        "department name",
        "ward",
        "ward name",
        "unit",
        "unit name",
        "service",
        "cost centre",
        "cost center",
        "org unit",
        "organisation unit",
        "work area",
        "team unit",
        "org l6",
        "organisation l6",
        "location team",
        # ESR: "Organisation" is the lowest level of the hierarchy (the team); Org L3-L8 the levels.
        "organisation",
        "organisation name",
        "org l7",
        "organisation l7",
        "org l8",
        "organisation l8",
        "org level 6",
        "org level 7",
        "org level 8",
    ),
)
_DIRECTORATE = Field(
    "directorate",
    "Directorate",
    "text",
    False,
    ("directorate", "division", "care group", "business unit", "org l4", "organisation l4", "division name"),
)
_SITE = Field(
    "site", "Site", "text", False, ("site", "location", "base", "hospital", "site name", "building")
)
_STAFF_GROUP = Field(
    "staff_group",
    "Staff group",
    "text",
    False,
    (
        "staff group",
        "occupation group",
        "occupational group",
        "role group",
        "job family",
        "profession",
        "staff type",
        "job role group",
    ),
)
_MONTH = Field(
    "month",
    "Month",
    "month",
    True,
    ("month", "period", "month start", "reporting month", "date", "month year"),
)
_WAVE = Field(
    "wave",
    "Survey wave",
    "text",
    False,
    ("wave", "survey", "survey wave", "survey name", "survey year", "year", "wave label", "round"),
)
_FIELDED = Field(
    "fielded_on",
    "Survey date",
    "date",
    False,
    (
        "date",
        "survey date",
        "response date",
        "completed",
        "completion date",
        "completed at",
        "submitted",
        "submission date",
        "end date",
        "timestamp",
        "completion time",
        "end time",
        "fieldwork date",
        "fielded on",
    ),
)

KINDS: dict[str, tuple[Field, ...]] = {
    "survey": (
        _TEAM,
        _WAVE,
        _FIELDED,
        _DIRECTORATE,
        _SITE,
        _STAFF_GROUP,
        Field(
            "respondent_id",
            "Respondent ID",
            "key",
            False,
            (
                "respondent id",
                "respondent",
                "response id",
                "respondentid",
                "responseid",
                "participant id",
                "id",
                "record id",
                "employee number",
                "staff number",
            ),
        ),
    ),
    "survey_aggregate": (
        _TEAM,
        _WAVE,
        _FIELDED,
        Field(
            "indicator",
            "Indicator or question",
            "text",
            False,
            ("indicator", "question", "measure", "item", "theme", "question number", "question code"),
        ),
        Field(
            "value",
            "Result (% or mean)",
            "number",
            False,
            (
                "value",
                "result",
                "score",
                "percent",
                "percentage",
                "pct",
                "mean",
                "mean score",
                "% positive",
                "organisation result",
                "your organisation",
            ),
        ),
        Field(
            "n",
            "Base (number of responses)",
            "integer",
            True,
            (
                "n",
                "base",
                "base n",
                "base size",
                "responses",
                "respondents",
                "number of responses",
                "count",
                "response count",
                "no of responses",
            ),
        ),
    ),
    "absence": (
        Field(
            "employee_id",
            "Employee ID",
            "key",
            True,
            (
                "employee id",
                "employee number",
                "employee no",
                "emp no",
                "assignment number",
                "staff number",
                "staff id",
                "person id",
                "payroll number",
                "employee",
                "id",
                "esr number",
            ),
        ),
        _TEAM,
        Field(
            "start_date",
            "Start date",
            "date",
            True,
            (
                "start date",
                "start",
                "absence start",
                "absence start date",
                "first day",
                "first day of absence",
                "date from",
                "from",
                "from date",
                "sickness start",
                "episode start",
            ),
        ),
        Field(
            "end_date",
            "End date",
            "date",
            False,
            (
                "end date",
                "end",
                "absence end",
                "absence end date",
                "last day",
                "last day of absence",
                "date to",
                "to",
                "to date",
                "sickness end",
                "episode end",
            ),
        ),
        Field(
            "days_lost",
            "Days lost",
            "number",
            False,
            (
                "days lost",
                "fte days lost",
                "calendar days lost",
                "duration",
                "days",
                "total days",
                "working days lost",
                "calendar days",
                "days absent",
                # hours are converted with the hours in one FTE day (asked)
                "hours lost",
                "fte hours lost",
                "hours",
                "hours absent",
                "sickness hours",
                "duration hours",
            ),
        ),
        Field(
            "fte",
            "FTE",
            "number",
            False,
            ("fte", "wte", "contracted fte", "assignment fte", "fte contracted"),
        ),
        Field(
            "reason",
            "Reason",
            "reason",
            False,
            (
                "reason",
                "absence reason",
                "reason code",
                "sickness reason",
                "cause",
                "category",
                "absence category",
                "reason description",
                "sickness category",
            ),
        ),
        _STAFF_GROUP,
        _DIRECTORATE,
        _SITE,
    ),
    "absence_monthly": (
        _TEAM,
        _MONTH,
        Field(
            "fte_days_lost",
            "FTE days lost",
            "number",
            True,
            (
                "fte days lost",
                "days lost",
                "fte days sick",
                "fte days lost to sickness",
                "sickness fte days",
                "fte days absent",
                "fte hours lost",
                "hours lost",
                "sickness hours",
                "fte sickness hours",
            ),
        ),
        Field(
            "fte_days_available",
            "FTE days available",
            "number",
            False,
            (
                "fte days available",
                "available fte days",
                "fte days",
                "fte available days",
                "days available",
                "fte hours available",
                "hours available",
                "available hours",
                "contracted hours",
            ),
        ),
        Field(
            "reason",
            "Reason",
            "reason",
            False,
            ("reason", "absence reason", "reason code", "sickness reason"),
        ),
    ),
    "staff_in_post": (
        _TEAM,
        _MONTH,
        Field(
            "headcount",
            "Headcount",
            "integer",
            False,
            ("headcount", "head count", "staff count", "hc", "staff in post", "number of staff", "employees"),
        ),
        Field("fte", "FTE", "number", False, ("fte", "wte", "contracted fte", "fte in post", "total fte")),
    ),
    "structure": (
        _TEAM,
        _DIRECTORATE,
        _SITE,
        Field("latitude", "Latitude", "number", False, ("latitude", "lat")),
        Field("longitude", "Longitude", "number", False, ("longitude", "lon", "lng", "long")),
    ),
    "interventions": (
        Field(
            "name",
            "Name",
            "text",
            True,
            ("name", "intervention", "intervention name", "title", "programme", "initiative", "action"),
        ),
        Field("domain", "Domain", "text", True, ("domain", "framework domain", "wellbeing domain", "area")),
        Field(
            "teams",
            "Target teams",
            "list",
            False,
            ("teams", "target teams", "units", "wards", "departments", "team", "target team", "targets"),
        ),
        Field("start_date", "Start date", "date", True, ("start date", "start", "launched", "began", "from")),
        Field("end_date", "End date", "date", False, ("end date", "end", "finished", "to")),
        Field(
            "indicators",
            "Indicators",
            "list",
            True,
            ("indicators", "indicator", "measures", "outcomes", "target indicators", "aims to move"),
        ),
        Field("notes", "Notes", "text", False, ("notes", "description", "comments", "details")),
        # Register fields (data/improvement.toml): keys or labels, e.g. "primary" or "Primary".
        Field(
            "prevention_level",
            "Prevention level",
            "text",
            False,
            ("prevention level", "prevention", "level of prevention", "prevention type"),
        ),
        Field(
            "resources",
            "Resources targeted",
            "list",
            False,
            ("resources", "resources targeted", "resource", "targets resources", "resource level"),
        ),
        Field(
            "driver",
            "Who drives it",
            "text",
            False,
            ("driver", "who drives it", "driven by", "led by", "owner"),
        ),
        Field("stage", "Stage", "text", False, ("stage", "phase", "cycle stage")),
        Field("cost", "Cost", "number", False, ("cost", "cost gbp", "cost (£)", "budget", "cost £")),
    ),
}

KIND_LABELS = {
    "survey": "Survey responses (one row per respondent)",
    "survey_aggregate": "Survey results already aggregated (one row per team and wave)",
    "absence": "Absence episodes (one row per absence)",
    "absence_monthly": "Monthly absence totals (team, month, FTE days lost)",
    "staff_in_post": "Staff in post (team, month, headcount, FTE)",
    "structure": "Organisation structure (team, directorate, site)",
    "interventions": "Interventions",
}


def fields(kind: str) -> tuple[Field, ...]:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    return KINDS[kind]


def field(kind: str, name: str) -> Field:
    return next(f for f in fields(kind) if f.name == name)
