"""Turn a mapped upload into canonical frames per kind, collecting every problem on the way (vectorised)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue, privacy
from dashboard.config import settings
from dashboard.ingest import dates, kinds, readings
from dashboard.ingest.mapping import Mapping, map_reasons, normalise_header, normalise_team, year_columns
from dashboard.ingest.read import RawTable
from dashboard.ingest.validate import Problems, Report
from dashboard.privacy import pseudonym
from dashboard.store import derived

SAMPLE_ROWS = 10
# Markers HR exports use for "no value" in ordinary (non-answer) columns.
CELL_MISSING = {"", "na", "n/a", "n.a.", "-", "--", ".", "null", "none", "nan", "#n/a", "not known"}


@dataclass
class Prepared:
    """Canonical frames ready to load, and the report the user confirms."""

    kind: str
    report: Report
    mapping: Mapping
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


class _Ctx:
    def __init__(self, raw: RawTable, mapping: Mapping, con: duckdb.DuckDBPyConnection, report: Report):
        self.raw = raw
        self.frame = raw.frame
        self.mapping = mapping
        self.con = con
        self.report = report
        self.problems = Problems(
            raw.row_numbers if raw.row_numbers is not None else pd.Series(range(len(raw.frame))) + 2
        )
        self.skip = pd.Series(False, index=self.frame.index)
        # Rows waiting for an answer (ambiguous dates): not reported as problems until answered.
        self.pending = pd.Series(False, index=self.frame.index)
        self._key: bytes | None = None
        self.existing_teams: set[str] = set()
        self.tables: dict[str, pd.DataFrame] = {}
        self.sample = pd.DataFrame()

    def col(self, name: str) -> pd.Series | None:
        """The mapped column with missing-value markers (NA, N/A, -, blank) as real missing values."""
        column = self.mapping.fields.get(name)
        if column not in self.frame.columns:
            return None
        values = self.frame[column]
        return values.mask(values.str.strip().str.casefold().isin(CELL_MISSING))

    def label(self, name: str) -> str:
        return self.mapping.fields.get(name, name)

    def key(self) -> bytes:
        if self._key is None:
            self._key = pseudonym.load_key()
        return self._key

    def skip_where(self, mask: pd.Series, name: str, reason: str, withhold: bool = False) -> None:
        """Rows that cannot be imported: listed as warnings and left out, never dropped silently."""
        mask = mask.fillna(False).astype(bool) & ~self.skip
        self.skip |= mask
        shown = mask & ~self.pending
        self.problems.add(
            shown, self.label(name), self.col(name), f"{reason}; row skipped", "warning", withhold
        )

    def date(self, name: str, months: bool = False, skip_bad: bool = True) -> pd.Series | None:
        values = self.col(name)
        if values is None:
            return None
        parsed = (dates.parse_months if months else dates.parse_dates)(values, self.mapping.day_first)
        if parsed.ambiguous:
            self.pending |= parsed.pending
            self.report.questions.append(
                f"Dates in column '{self.label(name)}' could be day/month/year or month/day/year "
                f"(for example '{parsed.example}'). Say which order the file uses "
                "(on the page, or with --day-first yes|no)."
            )
        elif parsed.order and self.mapping.day_first is None:
            order = "day/month/year" if parsed.order == "day_first" else "month/day/year (US order)"
            self.report.notes.append(
                f"Dates in '{self.label(name)}' read as {order}: the values only fit that order."
            )
        what = "a month" if months else "a date"
        if skip_bad:
            self.skip_where(parsed.bad, name, f"not {what} that can be read")
        else:
            self.problems.add(parsed.bad, self.label(name), values, f"not {what} that can be read; not used")
        return parsed.values.where(~parsed.bad)

    def number(self, name: str) -> tuple[pd.Series | None, pd.Series]:
        values = self.col(name)
        if values is None:
            return None, pd.Series(False, index=self.frame.index)
        return to_number(values)

    def text(self, name: str) -> pd.Series | None:
        values = self.col(name)
        if values is None:
            return None
        return values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)


# Larger than any count, FTE or number of days a staff survey or absence file holds (the store
# refuses to work figures out from a larger one kept from before this rule: derived.check_numbers).
MAX_NUMBER = derived.LARGEST


def to_number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from text: decimal commas ('7,5'), thousands separators, '%', spaces -> (numbers, bad).
    Infinite values and any beyond MAX_NUMBER are bad."""
    s = values.astype("string").str.strip().str.replace(r"[\s\u00a0]", "", regex=True).str.rstrip("%")
    missing = s.isna() | s.str.casefold().isin(["", "na", "n/a", "-", "--", ".", "null", "none", "#n/a"])
    comma_decimal = s.str.fullmatch(r"-?\d+,\d{1,2}|-?\d+,\d{4,}|-?\d{1,3}(\.\d{3})+,\d+").fillna(False)
    point_decimal = s.str.fullmatch(r"-?\d*\.\d+").fillna(False)
    if comma_decimal.any() and not point_decimal.any():
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.str.replace(r"(?<=\d),(?=\d{3}\b)", "", regex=True)
    out = pd.to_numeric(s.where(~missing), errors="coerce").astype("float64")
    # "inf", "1e400" and the like parse, but no count, FTE or day total is one: figures are added
    # exactly as decimals (metrics/absence.py), which holds any real total and no such value
    out = out.where(out.abs() <= MAX_NUMBER)
    bad = ~missing & out.isna()
    return out, bad


_HOURS = re.compile(r"\b(?:hours?|hrs?)\b")
HOURS_QUESTION = "Durations are in hours, not days, in column(s)"


def _in_days(ctx: _Ctx, name: str) -> tuple[pd.Series | None, pd.Series]:
    """A duration in days; a column counted in hours is divided by the hours in one FTE day (asked)."""
    values, bad = ctx.number(name)
    column = ctx.mapping.fields.get(name, "")
    if values is None or not _HOURS.search(normalise_header(column)):
        return values, bad
    per_day = ctx.mapping.hours_per_day
    if per_day is None:
        # One question for every column in hours: the same answer converts them all.
        asked = [i for i, q in enumerate(ctx.report.questions) if q.startswith(HOURS_QUESTION)]
        columns = [column]
        if asked:
            columns = ctx.report.questions.pop(asked[0]).split("'")[1:-1:2] + columns
        ctx.report.questions.append(
            f"{HOURS_QUESTION} {', '.join(repr(c) for c in columns)}. How many hours make one FTE day "
            "(for example 7.5)? Answer on the page, or with --hours-per-day."
        )
        return values, bad
    if not 0 < per_day <= 24:
        ctx.report.errors.append(f"Hours in one FTE day must be above 0 and at most 24 (got {per_day:g}).")
        return values, bad
    ctx.report.notes.append(f"'{column}' is in hours: divided by {per_day:g} hours per FTE day.")
    return values / per_day, bad


def _mostly_dates(values: pd.Series) -> bool:
    sample = values.dropna().head(200)
    if sample.empty:
        return False
    parsed = dates.parse_dates(sample)
    return bool(parsed.values.notna().mean() >= 0.95 or (parsed.ambiguous and not parsed.bad.any()))


def _no_start_dates(ctx: _Ctx) -> str:
    used = ctx.mapping.used_columns()
    datey = [c for c in ctx.frame.columns if c not in used and _mostly_dates(ctx.frame[c])]
    if datey:
        return (
            "Required column not mapped: Start date. Choose which column holds the date each absence "
            f"started (perhaps '{datey[0]}')."
        )
    return (
        "This file has no dates: absence episodes need the date each absence started (a column such "
        "as 'Absence Start Date'), and none of its columns holds dates. If it gives days lost per team "
        "and month, import it as 'Monthly absence totals' instead."
    )


def _teams(ctx: _Ctx) -> pd.DataFrame | None:
    """Team key and display name per row; merges case/spacing variants and says which were merged."""
    raw = ctx.text("team")
    if raw is None:
        return None
    ctx.skip_where(raw.isna(), "team", "team is blank")
    key = normalise_team(raw).str.lower()
    existing = ctx.con.execute(
        "SELECT lower(regexp_replace(trim(team), '\\s+', ' ', 'g')) AS team_key, team FROM units"
    ).df()
    ctx.existing_teams = set(existing["team_key"])
    counts = pd.DataFrame({"team_key": key, "variant": raw}).dropna().value_counts().reset_index(name="rows")
    # The display name of a new team is its most common spelling in the file.
    display = counts.sort_values(
        ["team_key", "rows", "variant"], ascending=[True, False, True]
    ).drop_duplicates("team_key")
    display = display.set_index("team_key")["variant"]
    if len(existing):
        display.update(existing.set_index("team_key")["team"])
    # Variants as typed (only trimmed), so "Ward  7" with two spaces shows up as merged too.
    typed = pd.DataFrame({"team_key": key, "variant": ctx.col("team").str.strip()}).dropna()
    variants = typed.drop_duplicates().groupby("team_key")["variant"].agg(lambda v: sorted(set(v)))
    merged = [
        {"team": display[k], "variants": " | ".join(f"'{x}'" for x in v)}
        for k, v in variants.items()
        if len(v) > 1 or v[0] != display[k]
    ]
    ctx.report.merged_teams = pd.DataFrame(merged, columns=["team", "variants"])
    new_keys = sorted(set(display.index) - ctx.existing_teams)
    ctx.report.counts["teams in file"] = len(display)
    if len(existing) and ctx.mapping.kind != "structure" and new_keys:
        first = pd.Series(np.arange(len(key)), index=key.index).groupby(key).min()
        for k in new_keys:
            ctx.problems.add_one(
                int(ctx.raw.row_numbers.iloc[first[k]]),
                ctx.label("team"),
                display[k],
                f"unknown team ({int((key == k).sum())} rows): not in the organisation structure; "
                "it will be created",
            )
    return pd.DataFrame({"team_key": key, "team": key.map(display)})


def _units_frame(ctx: _Ctx, teams: pd.DataFrame) -> pd.DataFrame:
    parts = {"team_key": teams["team_key"], "team": teams["team"]}
    for name in ("directorate", "site"):
        values = ctx.text(name)
        parts[name] = values if values is not None else pd.Series(pd.NA, index=teams.index, dtype="string")
    units = pd.DataFrame(parts)[~ctx.skip].dropna(subset=["team_key"])
    units = units.groupby("team_key", as_index=False).agg(
        team=("team", "first"), directorate=("directorate", "first"), site=("site", "first")
    )
    ctx.report.counts["new teams"] = int((~units["team_key"].isin(ctx.existing_teams)).sum())
    return units


def _require(ctx: _Ctx, names: list[str]) -> bool:
    missing = [n for n in names if ctx.col(n) is None]
    if missing:
        labels = ", ".join(kinds.field(ctx.mapping.kind, n).label for n in missing)
        flags = " ".join(f"--map {n}=COLUMN" for n in missing)
        ctx.report.errors.append(
            f"Required column(s) not mapped: {labels}. Choose which column holds each one "
            f"(on the page, or with {flags})."
        )
    return not missing


def _wave_question(label: str) -> str:
    return (
        f"When was survey wave '{label}' in the field? Give the middle date of its fieldwork "
        f"(on the page, or with --wave-date '{label}=YYYY-MM-DD')."
    )


def _waves(ctx: _Ctx, fielded: pd.Series | None) -> pd.Series | None:
    """Wave label per row, and the waves to create, each with its own fieldwork date.

    The date comes from the file's completion dates (their middle), else the date given for that
    wave, else one date given for a file holding a single wave, else a month in the wave's name;
    otherwise it is asked for, wave by wave. A year alone ('2024') is never turned into a date.
    """
    labels = ctx.text("wave")
    if labels is None:
        if not ctx.mapping.wave:
            ctx.report.questions.append(
                "Which survey wave is this? Give it a name (for example '2024 annual survey'; "
                "on the page, or with --wave NAME)."
            )
            return None
        labels = pd.Series(ctx.mapping.wave, index=ctx.frame.index, dtype="string")
    else:
        ctx.skip_where(labels.isna(), "wave", "survey wave is blank")
    existing = ctx.con.execute("SELECT label, fielded_on FROM waves").df()
    known = dict(zip(existing["label"], existing["fielded_on"], strict=True))
    in_file = sorted(labels[~ctx.skip].dropna().unique())
    new_labels = [w for w in in_file if w not in known]
    given = ctx.mapping.wave_dates
    single = ctx.mapping.fielded_on if len(new_labels) == 1 else None
    if ctx.mapping.fielded_on and len(new_labels) > 1:
        ctx.report.notes.append(
            f"One fieldwork date was given for {len(new_labels)} waves; each wave needs its own "
            "(--wave-date WAVE=YYYY-MM-DD), so it was not used."
        )
    rows = []
    for label in in_file:
        if label in known:
            stored = pd.Timestamp(known[label])
            ctx.report.wave_dates[label] = f"already in the store, fielded on {stored:%Y-%m-%d}"
            if label in given:
                ctx.report.notes.append(
                    f"Wave '{label}' is already stored with its date; the date given was not used."
                )
            continue
        on, how = None, ""
        if fielded is not None:
            in_wave = fielded[(labels == label) & ~ctx.skip].dropna()
            if len(in_wave):
                # The middle of fieldwork decides before/after an intervention.
                on = in_wave.sort_values().iloc[len(in_wave) // 2]
                how = f"middle of {len(in_wave)} completion dates in the file"
        if on is None and label in given:
            try:
                on, how = pd.Timestamp(date.fromisoformat(str(given[label]))), "date given"
            except ValueError:
                ctx.report.errors.append(
                    f"The fieldwork date for wave '{label}' is not a date (YYYY-MM-DD): '{given[label]}'."
                )
                continue
        if on is None and single:
            on, how = pd.Timestamp(single), "date given"
        if on is None:
            guess = dates.parse_months(pd.Series([label], dtype="string"))
            if guess.values.notna().iloc[0] and not re.fullmatch(r"\d{4}", label):
                on, how = guess.values.iloc[0], "month in the wave's name"
        if on is None:
            ctx.report.questions.append(_wave_question(label))
            ctx.report.waves_without_date.append(label)
            continue
        rows.append({"label": label, "fielded_on": pd.Timestamp(on).date()})
        ctx.report.wave_dates[label] = f"fielded on {pd.Timestamp(on):%Y-%m-%d} ({how})"
    rows.sort(key=lambda r: r["fielded_on"])
    ctx.report.counts["new survey waves"] = len(rows)
    ctx.tables["waves"] = pd.DataFrame(rows, columns=["label", "fielded_on"])
    return labels


def _reading_question(r: readings.Reading) -> str:
    proposal = [f"{v}={t}" for v, t in r.proposed.items() if t]
    hint = (
        f"proposed: {', '.join(proposal)}"
        if proposal and len(proposal) == len(r.proposed)
        else "no reading can be proposed"
    )
    custom = ""
    if r.suggest_custom:
        c = r.suggest_custom
        custom = (
            f", or read it as a custom indicator with --custom "
            f"'{r.column}={c['name']};{c['domain']};{c['favourable']};{c['op']}{c['value']:g}'"
        )
    return (
        f"Column '{r.column}' is mapped to {r.target} ({r.target_label}) but holds {r.why}. "
        f"Confirm how each value reads ({hint}): on the page, or with "
        f"--recode '{r.column}:VALUE=LABEL' for every value{custom}."
    )


def _domains() -> dict[str, str]:
    cat = catalogue.get()
    by_id = {normalise_header(d.id): d.id for d in cat.domains}
    return by_id | {normalise_header(d.name): d.id for d in cat.domains}


def _customs(ctx: _Ctx) -> tuple[dict[str, pd.Series], list[dict]]:
    """Columns the user reads as custom indicators: values per indicator id, and the definitions."""
    values: dict[str, pd.Series] = {}
    defs: list[dict] = []
    stored = {
        r[0]: r[1:]
        for r in ctx.con.execute(
            "SELECT indicator_id, label, domain, favourable, rule_op, rule_value FROM custom_indicators"
        ).fetchall()
    }
    cat = catalogue.get()
    for column, definition in ctx.mapping.custom.items():
        if column not in ctx.frame.columns:
            continue
        checked, why = readings.check_custom(definition, _domains())
        if why:
            ctx.report.errors.append(f"Custom indicator for column '{column}': {why}.")
            continue
        ind_id = readings.custom_id(checked["name"])
        mine = (checked["name"], checked["domain"], checked["favourable"], checked["op"], checked["value"])
        if ind_id in stored and tuple(stored[ind_id]) != mine:
            ctx.report.errors.append(
                f"A custom indicator called '{checked['name']}' already exists with another rule or domain; "
                "give this one another name, or use exactly the same definition."
            )
            continue
        if ind_id in cat.indicators and not cat.indicators[ind_id].custom or ind_id in values:
            ctx.report.errors.append(f"The name '{checked['name']}' is already used by another indicator.")
            continue
        reading, nums, bad = readings.read_custom_column(column, ctx.frame[column], checked)
        ctx.report.readings.append(reading)
        ctx.problems.add(
            bad,
            column,
            ctx.frame[column],
            f"not a number for custom indicator '{checked['name']}'; not imported",
        )
        values[ind_id] = nums
        defs.append(
            {
                "indicator_id": ind_id,
                "label": checked["name"],
                "domain": checked["domain"],
                "favourable": checked["favourable"],
                "rule_op": checked["op"],
                "rule_value": checked["value"],
                "source_column": column,
            }
        )
    return values, defs


def _survey(ctx: _Ctx) -> None:
    cat = catalogue.get()
    items = {
        c: i
        for c, i in ctx.mapping.items.items()
        if c in ctx.frame.columns and i in cat.items and c not in ctx.mapping.custom
    }
    if not items and not ctx.mapping.custom:
        ctx.report.errors.append(
            "No survey questions recognised. Map at least one column to a question (for example q11c or Q1; "
            "on the page, or with --map q11c=COLUMN), or read a column as a custom indicator (--custom)."
        )
    if not _require(ctx, ["team"]) or not (items or ctx.mapping.custom):
        return
    teams = _teams(ctx)
    fielded = ctx.date("fielded_on", skip_bad=False)
    waves = _waves(ctx, fielded)
    answers = {}
    unknown_labels: dict[str, set[str]] = {}
    for column, item_id in items.items():
        scale = cat.items[item_id].scale
        reading, values, unknown = readings.read_item_column(
            column, ctx.frame[column], cat.items[item_id], ctx.mapping.recodes.get(column), ctx.mapping.labels
        )
        ctx.report.readings.append(reading)
        if not reading.confirmed:
            ctx.report.questions.append(_reading_question(reading))
            continue
        allowed = ", ".join(scale.labels)
        ctx.problems.add(
            unknown,
            column,
            ctx.frame[column],
            f"unknown answer for {item_id} (expected: {allowed}); not imported",
        )
        if unknown.any():
            unknown_labels[item_id] = set(ctx.frame[column][unknown].astype(str))
        answers[item_id] = values
    custom_values, custom_defs = _customs(ctx)
    wide = pd.DataFrame(answers, index=ctx.frame.index)
    custom_wide = pd.DataFrame(custom_values, index=ctx.frame.index)
    nothing = wide.isna().all(axis=1) & custom_wide.isna().all(axis=1)
    ctx.skip_where(nothing, "team", "no answer to any mapped question")
    resp_key = None
    if ctx.col("respondent_id") is not None:
        resp_key = pseudonym.pseudonymise(ctx.col("respondent_id"), ctx.key())
        if waves is not None:
            dup = resp_key.notna() & pd.DataFrame({"k": resp_key, "w": waves}).duplicated(keep="first")
            ctx.skip_where(dup, "respondent_id", "same respondent twice in one wave", withhold=True)
    for item_id, labels in unknown_labels.items():
        ctx.report.notes.append(f"Unknown answers for {item_id}: {', '.join(sorted(labels)[:10])}")
    if waves is None:
        return
    keep = ~ctx.skip
    responses = pd.DataFrame(
        {
            "row_no": np.arange(len(ctx.frame)),
            "team_key": teams["team_key"],
            "wave": waves,
            "staff_group": ctx.text("staff_group") if ctx.col("staff_group") is not None else pd.NA,
            "respondent_key": resp_key if resp_key is not None else pd.NA,
        }
    )[keep]
    wide = wide[keep]
    wide.insert(0, "row_no", responses["row_no"])
    custom_wide = custom_wide[keep]
    custom_wide.insert(0, "row_no", responses["row_no"])
    ctx.tables["units"] = _units_frame(ctx, teams)
    ctx.tables["responses"] = responses.astype({"staff_group": "string", "respondent_key": "string"})
    ctx.tables["answers"] = wide
    if custom_defs:
        ctx.tables["custom_answers"] = custom_wide
        ctx.tables["custom_indicators"] = pd.DataFrame(custom_defs)
        ctx.report.counts["custom answers"] = int(custom_wide.drop(columns="row_no").notna().sum().sum())
    ctx.report.counts["responses"] = len(responses)
    ctx.report.counts["answers"] = int(wide.drop(columns="row_no").notna().sum().sum())
    ctx.sample = responses.assign(team=teams["team"][keep]).join(wide.drop(columns="row_no")).join(
        custom_wide.drop(columns="row_no")
    )


def _base_question() -> str:
    return (
        "This file gives no base (number of responses) for its results. Without a base the anonymity "
        "threshold cannot be checked and no interval can be drawn, so no team figure can be imported "
        "and no n is ever invented from another column. Import the results as published "
        "organisation-level figures ('n not given: no intervals, not used for team comparisons')? "
        "Say so on the page, or with --published; or map each result's base "
        "(--base RESULT=BASE, or one base for all with --map n=COLUMN)."
    )


def _survey_aggregate(ctx: _Ctx) -> None:
    cat = catalogue.get()
    m = ctx.mapping
    long_layout = ctx.col("indicator") is not None
    if not long_layout and not m.items:
        ctx.report.errors.append(
            "No indicator found. Map a column holding the indicator or question (--map indicator=COLUMN), "
            "or columns named after indicators."
        )
        return
    if long_layout and not _require(ctx, ["value"]):
        return
    n_all = m.fields.get("n") if ctx.col("n") is not None else None
    # Each result with its own base (X_rate / X_base), else the one base column, else none.
    if long_layout:
        sources = [(m.fields["value"], None, n_all)]
    else:
        sources = [(c, i, m.bases.get(c) or n_all) for c, i in m.items.items() if c in ctx.frame.columns]
    pairing = pd.DataFrame(
        {
            "result column": [s[0] for s in sources],
            "indicator": [
                cat.indicators[s[1]].short if s[1] in cat.indicators else "per row, from the indicator column"
                for s in sources
            ],
            "base": [
                (f"'{s[2]}' (its own)" if s[2] and s[2] != n_all else f"'{s[2]}' (one base for all)")
                if s[2]
                else "none"
                for s in sources
            ],
        }
    )
    ctx.report.pairing = pairing
    # Every wave's date is asked together with the base question, so one round answers both.
    waves = _waves(ctx, ctx.date("fielded_on", skip_bad=False))
    has_base = any(s[2] for s in sources)
    published = False
    if not has_base:
        ctx.report.no_base = True
        if not m.published:
            ctx.report.questions.append(_base_question())
            return
        published = True
        team_text = ctx.text("team")
        if team_text is not None and team_text.dropna().str.casefold().nunique() > 1:
            ctx.report.errors.append(
                f"Results without a base can only be imported as organisation-level figures, but column "
                f"'{ctx.label('team')}' names {team_text.dropna().str.casefold().nunique()} teams. "
                "Add each result's base, or upload the organisation's rows only."
            )
            return
    else:
        missing = [s[0] for s in sources if not s[2]]
        if missing:
            ctx.report.errors.append(
                f"No base for result column(s) {', '.join(repr(c) for c in missing)}: pair each with its own "
                "base column (on the page, or --base RESULT=BASE) or leave it out; no n is ever borrowed "
                "from another result."
            )
            return
        if not _require(ctx, ["team"]):
            return
    teams = None if published else _teams(ctx)
    parts = []
    rows_idx = np.arange(len(ctx.frame))
    for column, ind_id, base_col in sources:
        values = ctx.frame[column]
        value, bad_value = to_number(values.mask(values.str.strip().str.casefold().isin(CELL_MISSING)))
        ctx.problems.add(bad_value, column, values, "result is not a number; not imported")
        if long_layout:
            ind_text = ctx.text("indicator")
            distinct = {t: _indicator(t) for t in ind_text.dropna().unique()}
            ind = ind_text.map(distinct)
            ctx.skip_where(ind_text.notna() & ind.isna(), "indicator", "not an indicator in the catalogue")
        else:
            ind = pd.Series(ind_id, index=ctx.frame.index, dtype="string")
        n = pd.Series(np.nan, index=ctx.frame.index)
        if base_col:
            raw_n = ctx.frame[base_col]
            n, bad_n = to_number(raw_n.mask(raw_n.str.strip().str.casefold().isin(CELL_MISSING)))
            unusable = value.notna() & (bad_n | n.isna() | (n < 0) | (n != n.round()))
            ctx.problems.add(
                unusable,
                base_col,
                raw_n,
                f"base for '{column}' is missing or not a whole number of responses "
                "(needed to apply the anonymity threshold); result not imported",
            )
            value = value.where(~unusable)
        pct = values.astype("string").str.contains("%", regex=False).fillna(False)
        parts.append(
            pd.DataFrame(
                {
                    "row_no": rows_idx,
                    "indicator_id": ind,
                    "value": value,
                    "pct": pct,
                    "n": n,
                    "column": column,
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    long = long.dropna(subset=["indicator_id", "value"])
    long = long[~ctx.skip.to_numpy()[long["row_no"].to_numpy()]]
    kinds_of = {i.id: i.kind for i in cat.indicators.values()}
    long["kind"] = long["indicator_id"].map(kinds_of)
    # A proportion is stored as 0-1. A value with "%" is a percentage; a bare number is one when
    # the indicator's other bare numbers go above 1 (a 0-100 column), else it is already 0-1.
    bare_max = long["value"].where(~long["pct"]).groupby(long["indicator_id"]).transform("max")
    percent_style = long["pct"] | bare_max.gt(1)
    is_prop = long["kind"] == "proportion"
    long.loc[is_prop & percent_style, "value"] = long.loc[is_prop & percent_style, "value"] / 100
    out_of_range = (is_prop & ~long["value"].between(0, 1)) | (
        (long["kind"] == "mean") & ~long["value"].between(1, 5)
    )
    for column, bad in long[out_of_range].groupby("column")["row_no"]:
        ctx.problems.add(
            pd.Series(np.isin(rows_idx, bad.to_numpy())),
            column,
            ctx.frame[column],
            "result out of range (0-100% or a 1-5 mean); not imported",
        )
    long = long[~out_of_range]
    if waves is None:
        return
    wave_of = waves.reset_index(drop=True)
    long["wave"] = wave_of.iloc[long["row_no"]].to_numpy()
    if published:
        dup = long.duplicated(subset=["wave", "indicator_id"], keep="first")
        for column, rows in long[dup].groupby("column")["row_no"]:
            ctx.problems.add(
                pd.Series(np.isin(rows_idx, rows.to_numpy())),
                column,
                ctx.frame[column],
                "a second result for the same wave and indicator; not imported",
            )
        out = long[~dup][["wave", "indicator_id", "value"]].reset_index(drop=True)
        ctx.tables["published"] = out
        ctx.report.counts["published organisation-level results (n not given)"] = len(out)
        ctx.report.notes.append(
            "n not given: these are published organisation-level figures. They are shown with "
            "'n not given', have no intervals, are never compared with a benchmark by interval and are "
            "not used for team comparisons, funnels or intervention evaluation."
        )
        ctx.sample = out.rename(columns={"indicator_id": "indicator"}).assign(n="not given")
        return
    team_of = teams["team_key"].reset_index(drop=True)
    long["team_key"] = team_of.iloc[long["row_no"]].to_numpy()
    dup = long.duplicated(subset=["team_key", "wave", "indicator_id"], keep="first")
    for column, rows in long[dup].groupby("column")["row_no"]:
        ctx.problems.add(
            pd.Series(np.isin(rows_idx, rows.to_numpy())),
            column,
            ctx.frame[column],
            "a second result for the same team, wave and indicator; not imported",
        )
    long = long[~dup]
    threshold = settings().anonymity_threshold
    below = long["n"].notna() & ~privacy.releasable(long["n"], threshold)
    for column, rows in long[below].groupby("column")["row_no"]:
        base_col = next(s[2] for s in sources if s[0] == column)
        ctx.problems.add(
            pd.Series(np.isin(rows_idx, rows.to_numpy())),
            base_col,
            ctx.frame[base_col],
            f"base below the anonymity threshold ({threshold}): stored but never shown",
        )
    aggs = long[["team_key", "wave", "indicator_id", "value", "n"]].reset_index(drop=True)
    ctx.tables["units"] = _units_frame(ctx, teams)
    ctx.tables["aggregates"] = aggs.astype({"n": "int64"})
    ctx.report.counts["results"] = len(aggs)
    ctx.sample = aggs.assign(
        team=aggs["team_key"].map(teams.drop_duplicates("team_key").set_index("team_key")["team"])
    )


def _indicator(text: str) -> str | None:
    from dashboard.ingest.mapping import indicator_for_text

    return indicator_for_text(text)


def _absence(ctx: _Ctx) -> None:
    if ctx.col("start_date") is None:
        ctx.report.errors.append(_no_start_dates(ctx))
    if not _require(ctx, ["employee_id", "team"]) or ctx.col("start_date") is None:
        return
    teams = _teams(ctx)
    ids = ctx.col("employee_id")
    ctx.skip_where(ids.isna(), "employee_id", "employee identifier is blank", withhold=True)
    start = ctx.date("start_date")
    given = ctx.col("start_date").notna()
    if given.any() and not (start.notna() | ctx.pending)[given].any():
        ctx.report.errors.append(
            f"Column '{ctx.label('start_date')}' holds no real dates: none of its {int(given.sum()):,} "
            f"values reads as a date (for example '{ctx.col('start_date')[given].iloc[0]}'). Absence "
            "episodes need the date each absence started, such as 03/01/2024. If the file gives totals "
            "per team and month, import it as 'Monthly absence totals' instead."
        )
        return
    end = ctx.date("end_date")
    ctx.skip_where(start.isna(), "start_date", "start date is blank")
    if end is not None:
        ctx.skip_where(end.notna() & start.notna() & (end < start), "end_date", "end date before start date")
    else:
        end = pd.Series(pd.NaT, index=ctx.frame.index, dtype="datetime64[s]")
    fte, bad_fte = ctx.number("fte")
    if fte is None:
        fte = pd.Series(1.0, index=ctx.frame.index)
        ctx.report.notes.append("No FTE column: each absence counted at 1.0 FTE.")
    else:
        ctx.skip_where(
            bad_fte | (fte.notna() & ~fte.between(0, 1.5, inclusive="right")),
            "fte",
            "FTE must be above 0 and at most 1.5",
        )
        ctx.report.counts["rows with blank FTE (1.0 used)"] = int((fte.isna() & ~ctx.skip).sum())
        fte = fte.fillna(1.0)
    days, bad_days = _in_days(ctx, "days_lost")
    if days is not None:
        ctx.problems.add(
            bad_days | (days < 0),
            ctx.label("days_lost"),
            ctx.col("days_lost"),
            "days lost not a number of days; left blank",
        )
        days = days.where(days >= 0)
    if ctx.col("reason") is not None:
        reason, table = map_reasons(ctx.col("reason"))
        ctx.report.reasons = table
    else:
        reason = pd.Series("S99", index=ctx.frame.index, dtype="string")
        ctx.report.notes.append("No reason column: every absence recorded as S99 (unknown).")
    key = pseudonym.pseudonymise(ids, ctx.key())
    episodes = pd.DataFrame(
        {
            "employee_key": key,
            "team_key": teams["team_key"],
            "start_date": start,
            "end_date": end,
            "fte": fte,
            "reason_code": reason,
            "days_lost": days if days is not None else np.nan,
            "staff_group": ctx.text("staff_group") if ctx.col("staff_group") is not None else pd.NA,
        }
    )
    dup = episodes.duplicated(subset=["employee_key", "team_key", "start_date", "end_date"]) & ~ctx.skip
    ctx.skip_where(dup, "start_date", "duplicate episode (same person, team and dates as an earlier row)")
    episodes = episodes[~ctx.skip]
    ctx.tables["units"] = _units_frame(ctx, teams)
    ctx.tables["episodes"] = episodes.astype({"staff_group": "string", "days_lost": "float64"})
    ctx.report.counts["absence episodes"] = len(episodes)
    ctx.report.counts["open episodes (no end date)"] = int(episodes["end_date"].isna().sum())
    ctx.sample = episodes.assign(team=teams["team"][~ctx.skip])


def _monthly_common(ctx: _Ctx, required: list[str]) -> tuple[pd.DataFrame, pd.Series] | None:
    if not _require(ctx, required):
        return None
    teams = _teams(ctx)
    month = ctx.date("month", months=True)
    ctx.skip_where(month.isna(), "month", "month is blank")
    return teams, month


def _absence_monthly(ctx: _Ctx) -> None:
    got = _monthly_common(ctx, ["team", "month", "fte_days_lost"])
    if got is None:
        return
    teams, month = got
    lost, bad_lost = _in_days(ctx, "fte_days_lost")
    ctx.skip_where(
        bad_lost | lost.isna() | (lost < 0), "fte_days_lost", "FTE days lost must be a number of 0 or more"
    )
    avail, bad_avail = _in_days(ctx, "fte_days_available")
    if avail is None:
        avail = pd.Series(np.nan, index=ctx.frame.index)
    else:
        ctx.skip_where(
            bad_avail | (avail < 0), "fte_days_available", "FTE days available must be a number of 0 or more"
        )
        ctx.problems.add(
            lost > avail,
            ctx.label("fte_days_lost"),
            ctx.col("fte_days_lost"),
            "more FTE days lost than available",
        )
    reason = pd.Series(pd.NA, index=ctx.frame.index, dtype="string")
    if ctx.col("reason") is not None:
        codes, table = map_reasons(ctx.col("reason"))
        reason = codes.where(ctx.col("reason").notna())  # blank reason = the team's total
        table.loc[table["uploaded"] == "(blank)", ["code", "label"]] = ["(all reasons)", "team total"]
        ctx.report.reasons = table
    rows = pd.DataFrame(
        {
            "team_key": teams["team_key"],
            "month": month,
            "reason_code": reason,
            "fte_days_lost": lost,
            "fte_days_available": avail,
        }
    )
    dup = rows.duplicated(subset=["team_key", "month", "reason_code"]) & ~ctx.skip
    ctx.skip_where(dup, "month", "same team, month and reason as an earlier row")
    rows = rows[~ctx.skip]
    ctx.tables["units"] = _units_frame(ctx, teams)
    ctx.tables["absence_monthly"] = rows
    ctx.report.counts["team-months"] = len(rows)
    ctx.sample = rows.assign(team=teams["team"][~ctx.skip])


def _staff_in_post(ctx: _Ctx) -> None:
    got = _monthly_common(ctx, ["team", "month"])
    if got is None:
        return
    if ctx.col("headcount") is None and ctx.col("fte") is None:
        ctx.report.errors.append(
            "Map a headcount or an FTE column: staff in post needs at least one "
            "(on the page, or with --map headcount=COLUMN or --map fte=COLUMN)."
        )
        return
    teams, month = got
    head, bad_head = ctx.number("headcount")
    fte, bad_fte = ctx.number("fte")
    if head is not None:
        ctx.skip_where(
            bad_head | (head < 0) | (head != head.round()),
            "headcount",
            "headcount must be a whole number of 0 or more",
        )
    if fte is not None:
        ctx.skip_where(bad_fte | (fte < 0), "fte", "FTE must be a number of 0 or more")
    rows = pd.DataFrame(
        {
            "team_key": teams["team_key"],
            "month": month,
            "headcount": head if head is not None else np.nan,
            "fte": fte if fte is not None else np.nan,
        }
    )
    exact = rows.duplicated() & ~ctx.skip
    ctx.skip_where(exact, "month", "exact repeat of an earlier row")
    rows = rows[~ctx.skip]
    several = rows.duplicated(subset=["team_key", "month"], keep=False)
    if several.any():
        ctx.report.notes.append(
            f"{int(several.sum())} rows share a team and month (e.g. one per staff group); "
            "they were added together."
        )
    rows = rows.groupby(["team_key", "month"], as_index=False).agg(
        headcount=("headcount", lambda v: v.sum(min_count=1)), fte=("fte", lambda v: v.sum(min_count=1))
    )
    ctx.tables["units"] = _units_frame(ctx, teams)
    ctx.tables["staff_in_post"] = rows
    ctx.report.counts["team-months"] = len(rows)
    ctx.sample = rows.assign(
        team=rows["team_key"].map(teams.drop_duplicates("team_key").set_index("team_key")["team"])
    )


def _structure(ctx: _Ctx) -> None:
    if not _require(ctx, ["team"]):
        return
    teams = _teams(ctx)
    lat, bad_lat = ctx.number("latitude")
    lon, bad_lon = ctx.number("longitude")
    units = _units_frame(ctx, teams)
    ctx.tables["units"] = units
    if lat is not None and lon is not None and ctx.col("site") is not None:
        ctx.problems.add(
            bad_lat | ~lat.between(-90, 90) & lat.notna(),
            ctx.label("latitude"),
            ctx.col("latitude"),
            "not a latitude; ignored",
        )
        ctx.problems.add(
            bad_lon | ~lon.between(-180, 180) & lon.notna(),
            ctx.label("longitude"),
            ctx.col("longitude"),
            "not a longitude; ignored",
        )
        sites = pd.DataFrame(
            {
                "site": ctx.text("site"),
                "latitude": lat.where(lat.between(-90, 90)),
                "longitude": lon.where(lon.between(-180, 180)),
            }
        )[~ctx.skip].dropna(subset=["site"])
        ctx.tables["sites"] = sites.groupby("site", as_index=False).first()
    ctx.report.counts["teams"] = len(units)
    ctx.sample = units


def _split_list(values: pd.Series) -> pd.Series:
    return values.astype("string").str.split(r"\s*[;|\n]\s*|\s*,\s*", regex=True)


def _interventions(ctx: _Ctx) -> None:
    if not _require(ctx, ["name", "domain", "start_date", "indicators"]):
        return
    cat = catalogue.get()
    names = ctx.text("name")
    ctx.skip_where(names.isna(), "name", "name is blank")
    domains = {normalise_header(d.id): d.id for d in cat.domains} | {
        normalise_header(d.name): d.id for d in cat.domains
    }
    domain = ctx.text("domain").map(lambda v: domains.get(normalise_header(v)) if pd.notna(v) else None)
    ctx.skip_where(
        domain.isna(), "domain", f"not one of the seven domains ({', '.join(d.name for d in cat.domains)})"
    )
    start = ctx.date("start_date")
    end = ctx.date("end_date")
    ctx.skip_where(start.isna(), "start_date", "start date is blank")
    if end is None:
        end = pd.Series(pd.NaT, index=ctx.frame.index, dtype="datetime64[s]")
    ctx.skip_where(end.notna() & (end < start), "end_date", "end date before start date")
    from dashboard.ingest.mapping import indicator_for_text

    ind_lists = _split_list(ctx.col("indicators")).map(
        lambda xs: [indicator_for_text(x) for x in xs if x] if isinstance(xs, list) else []
    )
    unknown = _split_list(ctx.col("indicators")).map(
        lambda xs: [x for x in xs if x and not indicator_for_text(x)] if isinstance(xs, list) else []
    )
    ctx.problems.add(
        unknown.map(len) > 0, ctx.label("indicators"), unknown.map(", ".join), "unknown indicator(s) ignored"
    )
    ind_lists = ind_lists.map(lambda xs: sorted({x for x in xs if x}))
    ctx.skip_where(ind_lists.map(len) == 0, "indicators", "no known indicator")
    existing = ctx.con.execute(
        "SELECT lower(regexp_replace(trim(team), '\\s+', ' ', 'g')) AS team_key FROM units"
    ).df()["team_key"]
    team_lists = (
        _split_list(ctx.col("teams")).map(
            lambda xs: (
                [normalise_team(pd.Series([x])).str.lower().iloc[0] for x in xs if x]
                if isinstance(xs, list)
                else []
            )
        )
        if ctx.col("teams") is not None
        else pd.Series([[]] * len(ctx.frame), index=ctx.frame.index)
    )
    missing_teams = team_lists.map(lambda xs: [x for x in xs if x not in set(existing)])
    ctx.problems.add(
        missing_teams.map(len) > 0,
        ctx.label("teams"),
        missing_teams.map(", ".join),
        "team(s) not in the store; not linked (import the organisation structure first)",
    )
    extra = _register_fields(ctx)
    rows = pd.DataFrame(
        {
            "row_no": np.arange(len(ctx.frame)),
            "name": names,
            "domain": domain,
            "start_date": start,
            "end_date": end,
            "indicators": ind_lists,
            "notes": ctx.text("notes") if ctx.col("notes") is not None else pd.NA,
            "team_keys": team_lists.map(lambda xs: [x for x in xs if x in set(existing)]),
            **extra,
        }
    )[~ctx.skip]
    ctx.tables["interventions"] = rows
    ctx.report.counts["interventions"] = len(rows)
    ctx.sample = rows.drop(columns=["row_no", "team_keys"])


def _register_fields(ctx: _Ctx) -> dict[str, pd.Series]:
    """Prevention level, resources, driver, stage and cost: keys or labels from
    data/improvement.toml; an unknown value skips its row, naming the values allowed."""
    from dashboard.framework import interventions

    opts = interventions.register_options()
    index = ctx.frame.index
    out: dict[str, pd.Series] = {}
    for name in interventions.CHOICE_FIELDS:
        text = ctx.text(name)
        if text is None:
            out[name] = pd.Series([None] * len(index), index=index, dtype="object")
            continue
        keys = text.map(lambda v, n=name: interventions.parse_option(n, v) if pd.notna(v) else None)
        allowed = ", ".join(interventions.short_label(name, k) for k in opts[name])
        ctx.skip_where(text.notna() & keys.isna(), name, f"not a known value (choose {allowed})")
        out[name] = keys.astype("object")
    raw = _split_list(ctx.col("resources")) if ctx.col("resources") is not None else None
    if raw is None:
        out["resources"] = pd.Series([[]] * len(index), index=index, dtype="object")
    else:
        lists = raw.map(lambda xs: [x for x in xs if x] if isinstance(xs, list) else [])
        parsed = lists.map(lambda xs: [interventions.parse_option("resources", x) for x in xs])
        allowed = ", ".join(interventions.short_label("resources", k) for k in opts["resources"])
        ctx.skip_where(parsed.map(lambda ks: any(k is None for k in ks)), "resources",
                       f"not a known resource (choose from {allowed})")
        order = list(opts["resources"])
        out["resources"] = parsed.map(lambda ks: [k for k in order if k in ks])
    cost, bad = ctx.number("cost")
    if cost is None:
        out["cost"] = pd.Series(np.nan, index=index)
    else:
        ctx.skip_where(bad, "cost", "not a number")
        ctx.skip_where(cost < 0, "cost", "a cost cannot be negative")
        out["cost"] = cost.astype("float64")
    return out


_KIND_FUNCS = {
    "survey": _survey,
    "survey_aggregate": _survey_aggregate,
    "absence": _absence,
    "absence_monthly": _absence_monthly,
    "staff_in_post": _staff_in_post,
    "structure": _structure,
    "interventions": _interventions,
}


# The table that holds what an import of each kind adds: empty means nothing to import.
PRIMARY_TABLES = {
    "survey": ("responses",),
    "survey_aggregate": ("aggregates", "published"),
    "absence": ("episodes",),
    "absence_monthly": ("absence_monthly",),
    "staff_in_post": ("staff_in_post",),
    "structure": ("units",),
    "interventions": ("interventions",),
}
WAVE_COLUMN = "(year column)"
RESULT_COLUMN = "(value in the year column)"


def unpivot(raw: RawTable, years: list[str]) -> RawTable:
    """A wide layout (one row per measure, one column per year) as one row per measure and year."""
    keep = [c for c in raw.columns if c not in years]
    numbers = raw.row_numbers if raw.row_numbers is not None else pd.Series(range(len(raw.frame))) + 2
    parts, rows = [], []
    for year in years:
        part = raw.frame[keep].copy()
        part[WAVE_COLUMN] = str(year).strip()
        part[RESULT_COLUMN] = raw.frame[year]
        parts.append(part)
        rows.append(numbers.reset_index(drop=True))
    frame = pd.concat(parts, ignore_index=True).astype("string")
    blank = frame[RESULT_COLUMN].isna() | frame[RESULT_COLUMN].str.strip().eq("")
    row_numbers = pd.concat(rows, ignore_index=True)[~blank.to_numpy()].reset_index(drop=True)
    return replace(raw, frame=frame[~blank].reset_index(drop=True), row_numbers=row_numbers)


def mapping_lines(kind: str, mapping: Mapping) -> list[str]:
    """The final mapping as the report states it: one 'column -> field' line each."""
    cat = catalogue.get()
    lines = [f"'{c}' -> {kinds.field(kind, f).label}" for f, c in mapping.fields.items()]
    for c, target in mapping.items.items():
        if c in mapping.custom:
            continue
        what = cat.items[target].label if target in cat.items else (
            cat.indicators[target].short if target in cat.indicators else "unknown"
        )
        base = f", base '{mapping.bases[c]}'" if c in mapping.bases else ""
        lines.append(f"'{c}' -> {target} ({what}){base}")
    for c, d in mapping.custom.items():
        lines.append(f"'{c}' -> custom indicator '{d.get('name')}'")
    if mapping.unpivot:
        lines.append(f"{', '.join(repr(c) for c in mapping.unpivot)} -> survey waves (one column per year)")
    return lines


def prepare_table(
    raw: RawTable, mapping: Mapping, con: duckdb.DuckDBPyConnection, report: Report
) -> Prepared:
    """Validate and convert; nothing is written. Problems go to report.problems, blockers to errors."""
    source = raw
    work = mapping
    if mapping.kind == "survey_aggregate":
        years = year_columns(raw.columns)
        report.year_columns = years if len(years) >= 2 else []
        confirmed = [c for c in mapping.unpivot if c in raw.columns]
        if confirmed:
            raw = unpivot(raw, confirmed)
            work = replace(mapping, fields={**mapping.fields, "wave": WAVE_COLUMN, "value": RESULT_COLUMN})
            blanks = len(source.frame) * len(confirmed) - len(raw.frame)
            if blanks:
                report.notes.append(f"{blanks} blank year cells (not measured that year) were left out.")
        elif len(years) >= 2 and "value" not in mapping.fields and "wave" not in mapping.fields:
            report.wide_layout = years
            report.questions.append(
                f"This file has one column per year ({', '.join(years)}) and one row per measure. Read "
                "each year column as a survey wave? Confirm on the page, or with --unpivot."
            )
    report.mapping_lines = mapping_lines(mapping.kind, mapping)
    ctx = _Ctx(raw, work, con, report)
    if not mapping.used_columns() & set(source.columns):
        report.errors.append(
            "Nothing in this file could be matched to a "
            f"{kinds.KIND_LABELS[mapping.kind].split(' (')[0].lower()} column. "
            "Check you chose the right kind of data, or map the columns by hand (--map FIELD=COLUMN)."
        )
    elif not report.wide_layout:
        _KIND_FUNCS[mapping.kind](ctx)
    for line, reason in raw.rejected:
        ctx.problems.add_one(line, "", "", reason)
    report.ignored_columns = [c for c in source.columns if c not in mapping.used_columns()]
    if not report.errors and not report.wide_layout:
        for column in report.ignored_columns:
            ctx.problems.add_one(None, column, "", "column not used: it is not mapped to anything")
    ready = sum(len(ctx.tables[t]) for t in PRIMARY_TABLES[mapping.kind] if t in ctx.tables)
    if not report.errors and not report.questions and ready == 0:
        report.errors.append(
            "Nothing to import: 0 rows are ready. The problems listed say why each row was left out; "
            "nothing was written."
        )
    report.problems = ctx.problems.frame()
    report.rows_read = len(source.frame) + len(source.rejected)
    # Rows of the file (an unpivoted row is one measure in one year: count its file row once).
    kept = ctx.raw.row_numbers[~ctx.skip.to_numpy()] if ctx.raw.row_numbers is not None else None
    ready_rows = int(kept.nunique()) if kept is not None else int((~ctx.skip).sum())
    report.rows_ready = 0 if report.errors or not ready else ready_rows
    report.sample = _safe_sample(ctx.sample)
    return Prepared(kind=mapping.kind, report=report, mapping=mapping, tables=ctx.tables)


def _safe_sample(sample: pd.DataFrame) -> pd.DataFrame:
    """The first mapped rows, with pseudonyms shortened and internal columns dropped."""
    sample = sample.head(SAMPLE_ROWS).drop(columns=["row_no", "team_key"], errors="ignore").copy()
    for col in ("employee_key", "respondent_key"):
        if col in sample:
            sample[col] = sample[col].astype("string").str.slice(0, 10) + "…"
    for col in sample.columns:
        if pd.api.types.is_datetime64_any_dtype(sample[col]):
            sample[col] = sample[col].dt.date
    if "team" in sample:
        sample = sample[["team"] + [c for c in sample.columns if c != "team"]]
    return sample.reset_index(drop=True)
