"""Column mapping: proposals from headers and content, answer-label maps, reason codes, saved profiles."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd

from dashboard import catalogue
from dashboard.config import DATA_DIR
from dashboard.ingest import dates, kinds

# Cells that mean "no answer": counted as missing, never reported as unknown labels.
MISSING_MARKERS = {
    "",
    "na",
    "n/a",
    "n.a.",
    "-",
    "--",
    "—",
    ".",
    "null",
    "none",
    "missing",
    "nan",
    "#n/a",
    "don't know",
    "dont know",
    "do not know",
    "prefer not to say",
    "not applicable",
    "no response",
    "skipped",
}
MISSING_READING = "(no answer)"  # a recode target: the value means the question was not answered
# Evidence a proposal needs: the share of a column's values that must fit the field.
FIT_SHARE = 0.95
# An answer column may hold a few mistyped labels (reported row by row), so it needs 80 %.
ANSWER_FIT_SHARE = 0.8
# Extra spellings of scale labels seen in exports (after normalise_label).
LABEL_SYNONYMS = {
    "neutral": "neither agree nor disagree",
    "neither": "neither agree nor disagree",
    "neither agree or disagree": "neither agree nor disagree",
    "nand": "neither agree nor disagree",
    "1 to 2": "1-2",
    "3 to 5": "3-5",
    "6 to 10": "6-10",
    "more than ten": "more than 10",
    ">10": "more than 10",
    "10+": "more than 10",
    "over 10": "more than 10",
    "11+": "more than 10",
    "y": "yes",
    "n": "no",
    "true": "yes",
    "false": "no",
}


@dataclass
class Mapping:
    """What the user confirmed: field -> column, item columns, extra labels, answers to questions."""

    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)  # column -> item_id (survey) or indicator_id
    labels: dict[str, int] = field(default_factory=dict)  # extra answer label -> value, for every item
    day_first: bool | None = None
    wave: str | None = None  # wave label when the file has no wave column
    fielded_on: str | None = None  # ISO date of fieldwork when the file has one wave and no dates
    hours_per_day: float | None = None  # hours in one FTE day, when durations are given in hours
    profile: str | None = None
    # Confirmed readings of answer columns whose values are not the item's labels:
    # column -> {value as in the file -> scale label, or MISSING_READING for "no answer"}.
    recodes: dict[str, dict[str, str]] = field(default_factory=dict)
    # Columns read as a custom indicator instead of a catalogue item:
    # column -> {"name", "domain", "favourable" (low|high), "op" (>=|<=), "value"}.
    custom: dict[str, dict] = field(default_factory=dict)
    wave_dates: dict[str, str] = field(default_factory=dict)  # wave label -> ISO fieldwork date
    bases: dict[str, str] = field(default_factory=dict)  # result column -> its own base column
    published: bool = False  # no base anywhere: import as organisation-level published figures
    unpivot: list[str] = field(default_factory=list)  # year columns of a wide layout, confirmed

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("profile")
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, profile: str | None = None) -> Mapping:
        data = json.loads(text)
        data["profile"] = profile
        return cls(**data)

    def aligned(self, columns: list[str]) -> Mapping:
        """The same mapping on another export whose headers differ only in case, spacing or order."""
        actual = {normalise_header(c): c for c in columns}

        def find(col: str) -> str:
            return actual.get(normalise_header(col), col)

        data = asdict(self)
        data["fields"] = {f: find(c) for f, c in self.fields.items()}
        data["items"] = {find(c): i for c, i in self.items.items()}
        data["recodes"] = {find(c): r for c, r in self.recodes.items()}
        data["custom"] = {find(c): d for c, d in self.custom.items()}
        data["bases"] = {find(c): find(b) for c, b in self.bases.items()}
        data["unpivot"] = [find(c) for c in self.unpivot]
        return Mapping(**data)

    def used_columns(self) -> set[str]:
        return (
            set(self.fields.values())
            | set(self.items)
            | set(self.custom)
            | set(self.bases.values())
            | set(self.unpivot)
        )


def normalise_header(text: str) -> str:
    text = str(text).casefold().replace("&", " and ")
    text = re.sub(r"[^0-9a-z%]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def normalise_label(text: str) -> str:
    text = str(text).casefold().replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    text = re.sub(r"\s*-\s*", "-", text.strip())
    return re.sub(r"\s+", " ", text).rstrip(".")


def normalise_team(values: pd.Series) -> pd.Series:
    """Matching key for team names: case and spacing do not make a different team."""
    return values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()


def header_signature(columns: list[str]) -> str:
    """Order-insensitive fingerprint of a file's headers, to recognise the next export of the same report."""
    joined = "\x1f".join(sorted(normalise_header(c) for c in columns))
    return hashlib.sha256(joined.encode()).hexdigest()[:20]


# --- survey items -----------------------------------------------------------------------------

_HSE = re.compile(r"^(?:q|hse|item)\s*0*(\d{1,2})(?:\b|$)", re.IGNORECASE)
_NHS = re.compile(r"^q\s*0*(\d{1,2})\s*([a-z])(?:\b|$)", re.IGNORECASE)


def item_for_header(header: str) -> str | None:
    """Catalogue item a survey column holds: `q11c`, `Q11c. During the...`, HSE `Q1`..`Q35`, item text."""
    cat = catalogue.get()
    raw = str(header).strip()
    if raw.casefold() in cat.items:
        return raw.casefold()
    m = _NHS.match(raw)
    if m and f"q{int(m.group(1))}{m.group(2).lower()}" in cat.items:
        return f"q{int(m.group(1))}{m.group(2).lower()}"
    m = _HSE.match(raw)
    if m and not _NHS.match(raw) and f"hse{int(m.group(1)):02d}" in cat.items:
        return f"hse{int(m.group(1)):02d}"
    norm = normalise_header(raw)
    for item in cat.items.values():
        for text in (item.text, item.label):
            t = normalise_header(text)
            if norm == t or (len(t) > 20 and t in norm):
                return item.id
    return None


def indicator_for_text(text: str) -> str | None:
    """Indicator named by an id, label or short label (pre-aggregated results, interventions)."""
    cat = catalogue.get()
    norm = normalise_header(text)
    for ind in cat.indicators.values():
        if norm in (normalise_header(ind.id), normalise_header(ind.label), normalise_header(ind.short)):
            return ind.id
    item = item_for_header(text)
    if item and len(cat.items[item].indicators) == 1:
        return cat.items[item].indicators[0]
    return None


def _abbreviation(label: str) -> str:
    words = re.findall(r"[a-z0-9]+", label)
    return "".join(w[0] for w in words)


def scale_lookup(scale: catalogue.Scale, extra: dict[str, int] | None = None) -> dict[str, int]:
    """Normalised answer text -> value: labels, their synonyms, numbers on the scale, unique initials."""
    lookup: dict[str, int] = {}
    for label, value in scale.labels.items():
        lookup[normalise_label(label)] = value
        lookup[str(value)] = value
    for alias, target in LABEL_SYNONYMS.items():
        if target in lookup and alias not in lookup:
            lookup[alias] = lookup[target]
    initials: dict[str, list[int]] = {}
    for label, value in scale.labels.items():
        if not re.fullmatch(r"[a-z' ]+", normalise_label(label)):
            continue  # "1-2", "6-10": initials of numbers would collide with numeric codes
        for abbrev in {_abbreviation(normalise_label(label)), normalise_label(label)[:1]}:
            initials.setdefault(abbrev, []).append(value)
    for abbrev, values in initials.items():
        # Only unambiguous initials (SA, SD, D, A ... but not an S that could be two labels).
        if len(set(values)) == 1 and abbrev and abbrev not in lookup:
            lookup[abbrev] = values[0]
    if extra:
        lookup.update({normalise_label(k): int(v) for k, v in extra.items()})
    return lookup


def map_answers(values: pd.Series, scale: catalogue.Scale, extra: dict[str, int] | None = None):
    """Answer cells -> scale values: (Int8 values, unknown mask); unknowns are never dropped silently.

    A column has a handful of distinct answers, so each distinct text is classified once and the
    result is spread back with the factorised codes (fast on a million rows).
    """
    lookup = scale_lookup(scale, extra)
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    norm = [_normalise_answer(str(u)) for u in uniques]
    value_of = np.array([lookup.get(n, -1) for n in norm] + [-1], dtype="int16")
    is_missing = np.array([n in MISSING_MARKERS for n in norm] + [True])
    got = value_of[codes]  # code -1 (a blank cell) picks the sentinel appended at the end
    mapped = pd.array(np.where(got >= 0, got, 0), dtype="Int8")
    mapped[got < 0] = pd.NA
    unknown = pd.Series(~is_missing[codes] & (got < 0), index=values.index)
    return pd.Series(mapped, index=values.index), unknown


def _normalise_answer(text: str) -> str:
    norm = normalise_label(text)
    norm = re.sub(r"\s*-\s*", "-", norm)
    # "4.0" from a spreadsheet is the number 4
    return re.sub(r"^(\d+)\.0+$", r"\1", norm)


# --- absence reasons ----------------------------------------------------------------------------

_REASON_WORDS = [
    ("S10", r"anxiety|stress|depress|psychiatr|mental"),
    ("S11", r"\bback\b"),
    ("S12", r"musculo|\bmsk\b"),
    ("S13", r"\bcold\b|cough|\bflu\b|influenza"),
    ("S14", r"asthma"),
    ("S15", r"chest|respirat"),
    ("S16", r"headache|migraine"),
    ("S17", r"cancer|tumour|tumor"),
    ("S18", r"blood"),
    ("S19", r"heart|cardiac|circulat"),
    ("S20", r"burn|poison|frostbite|hypotherm"),
    ("S21", r"\bear\b|\bnose\b|throat|\bent\b"),
    ("S22", r"dental|tooth|teeth|oral"),
    ("S23", r"\beye"),
    ("S24", r"endocrine|gland|diabet"),
    ("S25", r"gastro|stomach|vomit|diarrh|bowel"),
    ("S26", r"genito|gynae|urinar"),
    ("S27", r"infect|covid|norovirus"),
    ("S28", r"injur|fracture"),
    ("S29", r"nervous|neuro"),
    ("S30", r"pregnan"),
    ("S31", r"\bskin\b|dermat"),
    ("S32", r"substance|alcohol|\bdrug"),
    ("S98", r"other known"),
    ("S99", r"unknown|not specified|not known"),
]


@lru_cache(maxsize=1)
def reason_labels() -> dict[str, str]:
    path = DATA_DIR / "absence_reasons.toml"
    if not path.exists():
        return {code: code for code, _ in _REASON_WORDS}
    with open(path, "rb") as fh:
        return dict(tomllib.load(fh)["reasons"])


def reason_code(text: str | None) -> str:
    """ESR code for a code, an ESR label, or free text; S99 when nothing fits (shown to the user)."""
    if text is None or pd.isna(text) or normalise_label(text) in MISSING_MARKERS:
        return "S99"
    raw = str(text).strip()
    m = re.match(r"^\s*(S\d{2})\b", raw, re.IGNORECASE)
    codes = reason_labels()
    if m and m.group(1).upper() in codes:
        return m.group(1).upper()
    norm = normalise_label(raw)
    for code, label in codes.items():
        if norm == normalise_label(label):
            return code
    for code, pattern in _REASON_WORDS:
        if re.search(pattern, norm):
            return code
    return "S99"


def map_reasons(values: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Codes for a reason column (each distinct text classified once) and the table of what mapped to what."""
    text = values.astype("string").str.strip()
    distinct = pd.Series(text.dropna().unique(), dtype="string")
    table = {v: reason_code(v) for v in distinct}
    # string before fillna: an all-blank column maps to a numeric NA column (found by fuzzing)
    codes = text.map(table).astype("string").fillna("S99")
    counts = text.value_counts(dropna=False)
    shown = pd.DataFrame(
        {
            "uploaded": [("(blank)" if pd.isna(k) else k) for k in counts.index],
            "code": [table.get(k, "S99") if not pd.isna(k) else "S99" for k in counts.index],
            "rows": counts.to_numpy(),
        }
    )
    shown["label"] = shown["code"].map(reason_labels())
    return codes, shown


# --- proposals ----------------------------------------------------------------------------------


def _header_score(header: str, synonyms: tuple[str, ...]) -> int:
    norm = normalise_header(header)
    if norm in synonyms:
        return 3
    words = f" {norm} "
    if any(len(s) > 3 and f" {s} " in words for s in synonyms):
        return 2
    return 0


def _sample(values: pd.Series, size: int = 500) -> pd.Series:
    text = values.dropna().astype("string").str.strip()
    text = text[~text.str.casefold().isin(MISSING_MARKERS)]
    return text.head(size)


def numeric_share(values: pd.Series) -> tuple[float, pd.Series]:
    """Share of the non-missing values that are numbers, and those numbers."""
    sample = _sample(values)
    if sample.empty:
        return 0.0, pd.Series(dtype="float64")
    nums = pd.to_numeric(sample.str.replace(",", ".", regex=False).str.rstrip("%"), errors="coerce")
    return float(nums.notna().mean()), nums.dropna()


def date_share(values: pd.Series, months: bool = False) -> float:
    """Share of the non-missing values that read as dates (either day order)."""
    sample = _sample(values)
    if sample.empty:
        return 0.0
    parsed = (dates.parse_months if months else dates.parse_dates)(sample)
    if parsed.ambiguous:
        return float((~parsed.bad).mean())
    return float(parsed.values.notna().mean())


def fits(f: kinds.Field, values: pd.Series, header_score: int) -> bool:
    """Evidence that a column can hold a field: a header alone is not enough.

    Dates must parse for at least 95 % of values, numbers be numbers, and a team is never a
    continuous number (a length-of-service or distance column whose header mentions 'service').
    """
    if _sample(values).empty:
        return header_score >= 3
    if f.type in ("date", "month"):
        return date_share(values, months=f.type == "month") >= FIT_SHARE
    if f.type in ("number", "integer"):
        return numeric_share(values)[0] >= FIT_SHARE
    if f.type == "team":
        share, nums = numeric_share(values)
        if share >= FIT_SHARE and (bool((nums != nums.round()).any()) or header_score < 3):
            return False
    return True


def _content_kind(values: pd.Series) -> str | None:
    sample = _sample(values, 200)
    if sample.empty:
        return None
    if sample.str.match(r"^\s*S\d{2}\b").mean() > 0.8:
        return "reason"
    if numeric_share(sample)[0] >= FIT_SHARE and not sample.str.contains(r"[/\-.]", regex=True).any():
        return None  # plain numbers (ids, counts) are never read as Excel serial dates by content
    if date_share(sample) >= FIT_SHARE:
        return "date"
    return None


def _esr_level(header: str) -> int:
    """ESR hierarchy depth named by a header (Org L7 -> 7; 'Organisation' is the lowest, 9)."""
    norm = normalise_header(header)
    if norm in ("organisation", "organisation name"):
        return 9
    m = re.fullmatch(r"org(?:anisation)?(?: level)? l?(\d)", norm)
    return int(m.group(1)) if m else 0


def answers_fit(values: pd.Series, scale: catalogue.Scale) -> bool:
    """An answer column fits an item when its values are the scale's labels or codes (>= 95 %)."""
    sample = _sample(values)
    if sample.empty:
        return True
    lookup = scale_lookup(scale)
    norm = sample.map(_normalise_answer)
    return float(norm.isin(lookup.keys()).mean()) >= ANSWER_FIT_SHARE


_YEAR_HEADER = re.compile(r"(?:19|20)\d{2}(?:\s*[/-]\s*\d{2,4})?")
_RESULT_SUFFIX = re.compile(r"(?:\s+(?:rate|pct|percent|percentage|mean|score|result|value)|\s*%)$")
_BASE_SUFFIX = re.compile(r"\s+(?:base n|base size|base|n|count|responses|respondents)$")


def year_columns(columns: list[str]) -> list[str]:
    """Headers that are years ('2021', '2021/22'): a wide layout with one column per wave."""
    return [c for c in columns if _YEAR_HEADER.fullmatch(str(c).strip())]


def result_stem(column: str) -> str:
    """'stress_rate', 'Stress %', 'Stress' -> 'stress' (the name a base column shares)."""
    return _RESULT_SUFFIX.sub("", normalise_header(column).replace(" %", "%").replace("%", " %")).strip()


def base_stem(column: str) -> str | None:
    """'stress_base', 'Stress n', 'Stress base' -> 'stress'; None when it is not a base column."""
    norm = normalise_header(column)
    stem = _BASE_SUFFIX.sub("", norm)
    return stem.strip() if stem != norm and stem.strip() else None


def pair_bases(columns: list[str], results: list[str]) -> dict[str, str]:
    """Each result column with its own base column by name (X_rate/X_base, X %/X n, X/X base)."""
    stems: dict[str, str] = {}
    for c in columns:
        stem = base_stem(c)
        if stem and c not in results:
            stems.setdefault(stem, c)
    return {r: stems[result_stem(r)] for r in results if result_stem(r) in stems}


def _best_column(
    f: kinds.Field, frame: pd.DataFrame, columns: list[str], taken: set[str]
) -> str | None:
    scored = sorted(
        # Among equal scores the deepest ESR level is the team (Org L7 over Org L6).
        (
            (_header_score(c, f.synonyms), _esr_level(c) if f.name == "team" else 0, -i, c)
            for i, c in enumerate(columns)
            if c not in taken
        ),
        reverse=True,
    )
    for score, _level, _i, col in scored:
        if score <= 0:
            break
        if fits(f, frame[col], score):
            return col
    return None


def propose(kind: str, frame: pd.DataFrame) -> Mapping:
    """A first mapping from header synonyms, then content (dates, reason codes), then survey item ids.

    Every proposal needs evidence from the column's values; without it the field stays empty.
    """
    mapping = Mapping(kind=kind)
    taken: set[str] = set()
    skip: set[str] = set()
    columns = list(frame.columns)
    cat = catalogue.get()
    if kind == "survey":
        for col in columns:
            item = item_for_header(col)
            if item and item not in mapping.items.values() and answers_fit(frame[col], cat.items[item].scale):
                mapping.items[col] = item
                taken.add(col)
    if kind == "survey_aggregate":
        years = year_columns(columns)
        if len(years) >= 2:
            # A wide layout (one row per measure, one column per year): proposed, not applied,
            # until the user confirms the unpivot.
            taken.update(years)
        results = [c for c in columns if c not in taken and indicator_for_text(result_stem(c))]
        mapping.bases = pair_bases(columns, results)
        taken.update(mapping.bases.values())
        if results and len(mapping.bases) == len(results):
            # Every result has its own base: a respondents total is never proposed as their n.
            skip.add("n")
    for f in kinds.fields(kind):
        if f.name in skip:
            continue
        col = _best_column(f, frame, columns, taken)
        if col is not None:
            mapping.fields[f.name] = col
            taken.add(col)
    for f in kinds.fields(kind):
        if f.name in mapping.fields or f.type not in ("date", "reason"):
            continue
        for col in columns:
            if col not in taken and _content_kind(frame[col]) == f.type:
                mapping.fields[f.name] = col
                taken.add(col)
                break
    if kind == "survey_aggregate" and "indicator" not in mapping.fields:
        for col in columns:
            ind = indicator_for_text(result_stem(col))
            if col not in taken and ind and ind not in mapping.items.values():
                mapping.items[col] = ind
                taken.add(col)
    return mapping


# --- saved profiles -------------------------------------------------------------------------------


def save_profile(con: duckdb.DuckDBPyConnection, name: str, columns: list[str], mapping: Mapping) -> None:
    """Store a confirmed mapping under a name; the same headers next time pick it up automatically."""
    name = name.strip()
    if not name:
        raise ValueError("a profile needs a name")
    con.execute(
        "INSERT INTO mapping_profiles (name, kind, header_signature, mapping_json) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, "
        "header_signature = excluded.header_signature, "
        "mapping_json = excluded.mapping_json, created_at = now()",
        [name, mapping.kind, header_signature(columns), mapping.to_json()],
    )


def load_profile(con: duckdb.DuckDBPyConnection, name: str) -> Mapping | None:
    row = con.execute("SELECT mapping_json FROM mapping_profiles WHERE name = ?", [name]).fetchone()
    return Mapping.from_json(row[0], profile=name) if row else None


def find_profile(con: duckdb.DuckDBPyConnection, kind: str, columns: list[str]) -> Mapping | None:
    """The most recent profile saved for a file of this kind with exactly these headers."""
    row = con.execute(
        "SELECT name, mapping_json FROM mapping_profiles WHERE kind = ? AND header_signature = ? "
        "ORDER BY created_at DESC LIMIT 1",
        [kind, header_signature(columns)],
    ).fetchone()
    return Mapping.from_json(row[1], profile=row[0]) if row else None


def list_profiles(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT name, kind, created_at FROM mapping_profiles ORDER BY kind, name").df()
