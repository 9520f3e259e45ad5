"""The framework's organisational diagnostic: self-ratings per element, over time, beside the data."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import catalogue, store
from dashboard.catalogue import CatalogueError
from dashboard.config import DATA_DIR

# Gap flags, strongest first. "gap": rated good, but the domain is worse than the benchmark or
# scores below good_score; "check": rated good, domain fine but some indicator worse than the
# benchmark; "modest": rated low, figures better than the benchmark.
FLAGS = {
    "gap": "Rated well, but staff report otherwise",
    "check": "Rated well; some figures are worse than the benchmark",
    "modest": "Figures look better than the rating",
    "": "",
}
EVIDENCE_MAX = 4000


class DiagnosticError(ValueError):
    """An assessment that cannot be saved as given (the message says why)."""


@dataclass(frozen=True)
class Level:
    level: int
    label: str
    meaning: str


@dataclass(frozen=True)
class Element:
    id: str
    domain: str
    name: str
    good: str


@dataclass(frozen=True)
class Diagnostic:
    scale_name: str
    levels: tuple[Level, ...]
    claims_good_from: int
    modest_up_to: int
    good_score: float
    elements: tuple[Element, ...]

    def level(self, rating: int) -> Level:
        return next(lv for lv in self.levels if lv.level == rating)

    def element(self, element_id: str) -> Element:
        return next(e for e in self.elements if e.id == element_id)


def load(data_dir: Path = DATA_DIR) -> Diagnostic:
    """Read data/diagnostic.toml and check its elements are exactly the framework's sixteen."""
    with open(data_dir / "diagnostic.toml", "rb") as fh:
        raw = tomllib.load(fh)
    cat = catalogue.load(data_dir)
    scale = raw["scale"]
    levels = tuple(Level(int(lv["level"]), lv["label"], lv["meaning"]) for lv in scale["levels"])
    numbers = [lv.level for lv in levels]
    if len(set(numbers)) != len(numbers) or numbers != sorted(numbers):
        raise CatalogueError("diagnostic scale: levels must be distinct and in ascending order")
    elements = tuple(Element(e["id"], e["domain"], e["name"], e["good"]) for e in raw["elements"])
    ids = [e.id for e in elements]
    if len(set(ids)) != len(ids):
        raise CatalogueError("diagnostic: an element id is used twice")
    declared = {(d.id, name) for d in cat.domains for name in d.elements}
    given = {(e.domain, e.name) for e in elements}
    if given != declared:
        missing = sorted(n for _, n in declared - given)
        extra = sorted(n for _, n in given - declared)
        raise CatalogueError(
            "diagnostic elements must be the framework's (data/framework.toml): "
            f"missing {missing or 'none'}, not in the framework {extra or 'none'}"
        )
    claims, modest = int(scale["claims_good_from"]), int(scale["modest_up_to"])
    if claims not in numbers or modest not in numbers or modest >= claims:
        raise CatalogueError("diagnostic scale: modest_up_to must be a level below claims_good_from")
    # the framework's order, so the page reads like the framework
    order = {(d.id, name): k for k, (d, name) in
             enumerate((d, n) for d in cat.domains for n in d.elements)}
    elements = tuple(sorted(elements, key=lambda e: order[(e.domain, e.name)]))
    good_score = float(scale.get("good_score", 6.0))
    if not 0 <= good_score <= 10:
        raise CatalogueError("diagnostic scale: good_score is on the 0-10 scale")
    return Diagnostic(scale.get("name", "Maturity"), levels, claims, modest, good_score, elements)


@lru_cache(maxsize=2)
def get(data_dir: Path = DATA_DIR) -> Diagnostic:
    return load(data_dir)


def record_assessment(
    con: duckdb.DuckDBPyConnection,
    element_id: str,
    rating: int,
    assessed_on: date,
    assessed_by: str,
    evidence: str | None = None,
    today: date | None = None,
) -> int:
    """Save one self-rating of one element; returns its id. Earlier ratings are kept (history).

    A record, not data: no figure changes, so the dataset version (and every cached figure)
    stays as it is; pages read assessments uncached.
    """
    diag = get()
    if element_id not in {e.id for e in diag.elements}:
        raise DiagnosticError(f"unknown element {element_id!r}")
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        raise DiagnosticError(f"the rating {rating!r} is not a level of the scale") from None
    if rating not in {lv.level for lv in diag.levels}:
        raise DiagnosticError(
            f"the rating {rating} is not a level of the scale "
            f"({', '.join(f'{lv.level} {lv.label}' for lv in diag.levels)})"
        )
    if assessed_on is None:
        raise DiagnosticError("give the date of the assessment")
    if assessed_on > (today or date.today()):
        raise DiagnosticError(f"the assessment date {assessed_on} is in the future")
    who = " ".join((assessed_by or "").split())
    if not who:
        raise DiagnosticError("say who assessed (a name or a group, e.g. 'Wellbeing steering group')")
    text = (evidence or "").strip()
    if len(text) > EVIDENCE_MAX:
        raise DiagnosticError(f"the evidence note is longer than {EVIDENCE_MAX} characters")
    with store.transaction(con):
        new_id = con.execute(
            "INSERT INTO diagnostic_assessments (element_id, rating, evidence, assessed_on, assessed_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING assessment_id",
            [element_id, rating, text or None, assessed_on, who[:200]],
        ).fetchone()[0]
    return int(new_id)


def delete_assessment(con: duckdb.DuckDBPyConnection, assessment_id: int) -> None:
    with store.transaction(con):
        gone = con.execute(
            "DELETE FROM diagnostic_assessments WHERE assessment_id = ? RETURNING assessment_id",
            [int(assessment_id)],
        ).fetchall()
        if not gone:
            raise DiagnosticError(f"there is no assessment {assessment_id}")


def history(con: duckdb.DuckDBPyConnection, element_id: str | None = None) -> pd.DataFrame:
    """Every assessment, newest first: [assessment_id, element_id, element, domain_id, rating,
    rating_label, evidence, assessed_on, assessed_by]."""
    frame = con.execute(
        """
        SELECT assessment_id, element_id, rating, evidence, assessed_on, assessed_by
        FROM diagnostic_assessments
        WHERE CAST(? AS VARCHAR) IS NULL OR element_id = CAST(? AS VARCHAR)
        ORDER BY assessed_on DESC, assessment_id DESC
        """,
        [element_id, element_id],
    ).df()
    diag = get()
    names = {e.id: e.name for e in diag.elements}
    domains = {e.id: e.domain for e in diag.elements}
    labels = {lv.level: lv.label for lv in diag.levels}
    frame.insert(2, "element", frame.element_id.map(names))
    frame.insert(3, "domain_id", frame.element_id.map(domains))
    frame.insert(5, "rating_label", frame.rating.map(labels))
    return frame


def latest(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per element (all sixteen, in framework order) with its latest and previous rating:
    [element_id, element, domain_id, good, rating, rating_label, previous_rating, evidence,
    assessed_on, assessed_by, assessments]. Unrated elements have NA ratings."""
    diag = get()
    hist = history(con)
    rows = []
    for el in diag.elements:
        mine = hist[hist.element_id == el.id]
        last = mine.iloc[0] if not mine.empty else None
        rows.append(
            {
                "element_id": el.id,
                "element": el.name,
                "domain_id": el.domain,
                "good": el.good,
                "rating": None if last is None else int(last.rating),
                "rating_label": "Not yet assessed" if last is None else last.rating_label,
                "previous_rating": int(mine.iloc[1].rating) if len(mine) > 1 else None,
                "evidence": None if last is None or pd.isna(last.evidence) else last.evidence,
                "assessed_on": None if last is None else pd.Timestamp(last.assessed_on).date(),
                "assessed_by": None if last is None else last.assessed_by,
                "assessments": len(mine),
            }
        )
    frame = pd.DataFrame(rows)
    for col in ("rating", "previous_rating"):
        frame[col] = frame[col].astype("Int64")
    return frame


def gap_flag(rating: int | None, domain_status: str, worse_indicators: int,
             domain_score: float | None = None, diag: Diagnostic | None = None) -> str:
    """The flag key (FLAGS) for a self-rating against its domain's measured figures."""
    diag = diag or get()
    if rating is None or pd.isna(rating):
        return ""
    low = domain_score is not None and not pd.isna(domain_score) and domain_score < diag.good_score
    if rating >= diag.claims_good_from:
        if domain_status == "worse" or low:
            return "gap"
        if worse_indicators > 0:
            return "check"
        return ""
    if rating <= diag.modest_up_to and domain_status == "better" and not low:
        return "modest"
    return ""


def flag_reason(flag: str, domain_status: str, domain_score: float | None, worse: str,
                diag: Diagnostic | None = None) -> str:
    """Why a flag was raised, in the figures' own terms."""
    diag = diag or get()
    if flag == "gap":
        reasons = []
        if domain_status == "worse":
            reasons.append("the domain is worse than the benchmark")
        if domain_score is not None and not pd.isna(domain_score) and domain_score < diag.good_score:
            reasons.append(f"the domain scores {domain_score:.1f} / 10, below the {diag.good_score:g} "
                           "that good looks like")
        return "; ".join(reasons)
    if flag == "check":
        return f"worse than the benchmark: {worse}"
    if flag == "modest":
        return "the domain is better than the benchmark"
    return ""


def beside_data(
    assessed: pd.DataFrame, table: pd.DataFrame, domains: pd.DataFrame
) -> pd.DataFrame:
    """Each element's latest self-rating beside the measured figures of its domain.

    assessed: from latest(); table: a released indicator table (scorecard.indicator_table or
    drilldown.scope_table); domains: its domain roll-up (lenses.rollup(table, 'domains')).
    Adds [domain, domain_score, benchmark_gap, domain_status, domain_status_label, measured
    (indicator: value, status), worse (shorts of indicators worse than benchmark), flag,
    flag_text, flag_reason]. Nothing is computed here that the Overview does not already show.
    """
    from dashboard.present import formatting

    dom = domains.set_index("domain_id")
    out = assessed.copy()
    out["domain"] = out.domain_id.map(dom["domain"])
    out["domain_score"] = out.domain_id.map(dom["score"]).astype("float64")
    out["benchmark_gap"] = out.domain_id.map(dom["benchmark_gap"]).astype("float64")
    out["domain_status"] = out.domain_id.map(dom["status"]).fillna("none")
    out["domain_status_label"] = out.domain_id.map(dom["status_label"])
    measured, worse = [], []
    for domain_id in out.domain_id:
        part = table[(table.domain_id == domain_id) & table.scored.astype(bool) & table.value.notna()]
        measured.append("; ".join(
            f"{r.short} {formatting.value(r.kind, r.value)}"
            + {"better": " ▲", "worse": " ▼", "similar": " ●"}.get(r.status, "")
            for r in part.itertuples()
        ) or "no figure shown")
        worse.append(", ".join(part.loc[part.status == "worse", "short"]))
    out["measured"] = measured
    out["worse"] = worse
    diag = get()
    out["flag"] = [
        gap_flag(None if pd.isna(r) else int(r), s, len([w for w in ws.split(", ") if w]), sc, diag)
        for r, s, ws, sc in zip(out.rating, out.domain_status, out.worse, out.domain_score, strict=True)
    ]
    out["flag_text"] = out.flag.map(FLAGS)
    out["flag_reason"] = [
        flag_reason(f, s, sc, ws, diag)
        for f, s, sc, ws in zip(out.flag, out.domain_status, out.domain_score, out.worse, strict=True)
    ]
    return out
