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
    fielded_on: str | None = None  # ISO date of fieldwork when the file has none
    hours_per_day: float | None = None  # hours in one FTE day, when durations are given in hours
    profile: str | None = None

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
        return Mapping(**data)

    def used_columns(self) -> set[str]:
        return set(self.fields.values()) | set(self.items)


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


def _content_kind(values: pd.Series) -> str | None:
    sample = values.dropna().head(200)
    if sample.empty:
        return None
    if sample.astype("string").str.match(r"^\s*S\d{2}\b").mean() > 0.8:
        return "reason"
    parsed = dates.parse_dates(sample)
    if (parsed.values.notna().mean() > 0.9) or (parsed.ambiguous and not parsed.bad.any()):
        return "date"
    return None


def _esr_level(header: str) -> int:
    """ESR hierarchy depth named by a header (Org L7 -> 7; 'Organisation' is the lowest, 9)."""
    norm = normalise_header(header)
    if norm in ("organisation", "organisation name"):
        return 9
    m = re.fullmatch(r"org(?:anisation)?(?: level)? l?(\d)", norm)
    return int(m.group(1)) if m else 0


def propose(kind: str, frame: pd.DataFrame) -> Mapping:
    """A first mapping from header synonyms, then content (dates, reason codes), then survey item ids."""
    mapping = Mapping(kind=kind)
    taken: set[str] = set()
    columns = list(frame.columns)
    if kind == "survey":
        for col in columns:
            item = item_for_header(col)
            if item and item not in mapping.items.values():
                mapping.items[col] = item
                taken.add(col)
    for f in kinds.fields(kind):
        scored = sorted(
            # Among equal scores the deepest ESR level is the team (Org L7 over Org L6).
            (
                (_header_score(c, f.synonyms), _esr_level(c) if f.name == "team" else 0, -i, c)
                for i, c in enumerate(columns)
                if c not in taken
            ),
            reverse=True,
        )
        if scored and scored[0][0] > 0:
            mapping.fields[f.name] = scored[0][-1]
            taken.add(scored[0][-1])
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
            ind = indicator_for_text(col)
            if col not in taken and ind:
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
