"""Property-based fuzzing of the readers and the mapping step: random bytes, truncated or damaged
workbooks, random delimiters, encodings and headers. Every file gets a report (refused or ready),
never an unhandled exception, and the store is unchanged by reading, mapping and validating.

The suite runs a short seeded version; `make fuzz` runs 10,000 cases (WELLBEING_FUZZ=1)."""
from __future__ import annotations

import os
import random
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dashboard import store
from dashboard.ingest import kinds, pipeline

UPLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"
LONG = bool(os.environ.get("WELLBEING_FUZZ"))
CASES = 2_500 if LONG else 15  # four properties: 10,000 cases in the long run
settings.register_profile(
    "ingest-fuzz", max_examples=CASES, deadline=None, derandomize=not LONG, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("ingest-fuzz")
KINDS = list(kinds.KIND_LABELS)
EXTENSIONS = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "ods", "parquet"]
HEADERS = ["Employee Number", "Staff ID", "Team", "Ward", "Dept", "Org L6", "Directorate", "Site",
           "Absence Start Date", "Start date", "End date", "Date To", "FTE", "Absence Reason",
           "Reason", "Days Lost", "Month", "Headcount", "Wave", "q11c", "hse07", "Q6b", "Respondent",
           "Staff group", "Intervention", "Domain", "Target teams", "Indicators", ""]
CELLS = st.one_of(
    st.sampled_from(["", "NA", "-", "Ward 7", "Theatres", "S10", "S99 Unknown", "Yes", "No",
                     "Often", "Strongly agree", "03/04/2024", "2024-13-45", "31/02/2024", "Jan-24",
                     "0,8", "1e309", "-1", "=HYPERLINK(\"x\")", "@SUM(1)", "\u0000", "💥", "NaN"]),
    st.text(max_size=12),
    st.integers(-10**12, 10**12).map(str),
)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    old = os.environ.get("WELLBEING_SECRET")
    os.environ["WELLBEING_SECRET"] = str(folder / "secret.key")
    con = store.connect(folder / "store.duckdb")
    yield con, folder
    con.close()
    if old is None:
        os.environ.pop("WELLBEING_SECRET", None)
    else:
        os.environ["WELLBEING_SECRET"] = old


def _state(con) -> tuple:
    tables = (*store.DATA_TABLES, "respondent_scores", "imports", "audit_log", "users")
    counts = tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
    return counts, store.dataset_version(con)


def _check(fuzz_store, data: bytes, ext: str, kind: str) -> None:
    con, folder = fuzz_store
    before = _state(con)
    path = folder / f"upload.{ext}"
    path.write_bytes(data)
    raw, prepared = pipeline.prepare(con, path, kind)  # must not raise, whatever the bytes
    report = prepared.report
    assert report.ok or report.errors or report.questions
    if raw is None:
        assert report.errors and not prepared.tables
    assert _state(con) == before


@FUZZ
@given(data=st.binary(max_size=4096), ext=st.sampled_from(EXTENSIONS), kind=st.sampled_from(KINDS))
@example(data=b'"!', ext="csv", kind="survey")  # found by make fuzz: an unclosed quote
def test_random_bytes(fuzz_store, data, ext, kind):
    _check(fuzz_store, data, ext, kind)


@FUZZ
@given(
    name=st.sampled_from(["survey_nhs.xlsx", "structure.ods", "staff_in_post.xls", "absence.parquet"]),
    cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6),
    kind=st.sampled_from(KINDS),
)
@example(name="structure.ods", cut=1.0, flips=[(0.99609375, 1)], kind="survey")  # bad zip offset
def test_truncated_and_damaged_workbooks(fuzz_store, name, cut, flips, kind):
    data = bytearray((UPLOADS / name).read_bytes())
    data = data[: max(1, int(len(data) * cut))] if cut < 0.98 else data
    for where, value in flips:
        data[min(len(data) - 1, int(len(data) * where))] = value
    _check(fuzz_store, bytes(data), name.rsplit(".", 1)[1], kind)


@FUZZ
@given(
    headers=st.lists(st.one_of(st.sampled_from(HEADERS), st.text(max_size=15)), min_size=1, max_size=8),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=9), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t", "|", " ", ":"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le",
                              "ascii"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    quote=st.booleans(),
    kind=st.sampled_from(KINDS),
    ext=st.sampled_from(["csv", "tsv", "txt"]),
)
def test_random_delimited_text(fuzz_store, headers, rows, delimiter, encoding, newline, quote, kind, ext):
    def line(cells):
        return delimiter.join(f'"{c}"' if quote else c for c in cells)

    text = newline.join([line(headers), *(line(r) for r in rows)]) + newline
    data = text.encode(encoding, errors="replace")
    _check(fuzz_store, data, ext, kind)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
@example(seed=2331, kind="absence")  # found by make fuzz: an all-blank reason column
def test_real_headers_with_noise(fuzz_store, seed, kind):
    """Files close to real exports (fixture headers, shuffled, cells mutated): the mapping step
    proposes, asks or refuses, and validation names rows and columns, without crashing."""
    rng = random.Random(seed)
    source = rng.choice([p for p in UPLOADS.glob("*.csv") if p.name != "garbage.csv"])
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    out = []
    for ln in lines:
        cells = ln.split(",")
        for _ in range(rng.randrange(3)):
            i = rng.randrange(len(cells))
            cells[i] = "".join(rng.choice(string.printable) for _ in range(rng.randrange(8)))
        if rng.random() < 0.2:
            rng.shuffle(cells)
        out.append(",".join(cells[: rng.randrange(1, len(cells) + 1)]))
    _check(fuzz_store, "\n".join(out).encode(), "csv", kind)
