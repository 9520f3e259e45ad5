"""The diagnostic self-assessment: the framework's sixteen elements, ratings over time, gap flags."""
from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import catalogue, config, store
from dashboard.catalogue import CatalogueError
from dashboard.framework import diagnostic
from dashboard.framework.diagnostic import DiagnosticError
from dashboard.metrics import lenses, scorecard


def test_sixteen_elements_in_framework_order_and_a_four_level_scale():
    diag = diagnostic.get()
    cat = catalogue.get()
    assert [(e.domain, e.name) for e in diag.elements] == [
        (d.id, name) for d in cat.domains for name in d.elements
    ]
    assert len(diag.elements) == 16
    assert [lv.label for lv in diag.levels] == ["Not started", "Developing", "Established", "Embedded"]
    assert all(e.good for e in diag.elements)


def test_elements_must_be_the_frameworks(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(config.DATA_DIR, root, ignore=shutil.ignore_patterns("*.duckdb*", "demo"))
    path = root / "diagnostic.toml"
    path.write_text(path.read_text().replace('name = "Healthy lifestyle"', 'name = "Healthy living"'))
    with pytest.raises(CatalogueError, match="missing \\['Healthy lifestyle'\\]"):
        diagnostic.load(root)


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "s.duckdb")
    yield c
    c.close()


def test_assessments_are_kept_over_time_and_the_latest_is_by_date(con):
    v0 = store.dataset_version(con)
    diagnostic.record_assessment(con, "life_balance", 3, date(2025, 6, 1), "Steering group", "Policy agreed")
    # recorded later, but assessed earlier: history, not the latest
    diagnostic.record_assessment(con, "life_balance", 1, date(2024, 6, 1), "HR director")
    diagnostic.record_assessment(con, "skilled_managers", 2, date(2025, 1, 1), "  Board  ")
    # a record, not data: no figure changed, so cached figures stay valid
    assert store.dataset_version(con) == v0
    hist = diagnostic.history(con, "life_balance")
    assert hist.rating.tolist() == [3, 1]
    assert hist.rating_label.tolist() == ["Established", "Not started"]
    latest = diagnostic.latest(con).set_index("element_id")
    assert len(latest) == 16
    assert latest.at["life_balance", "rating"] == 3
    assert latest.at["life_balance", "previous_rating"] == 1
    assert latest.at["life_balance", "evidence"] == "Policy agreed"
    assert latest.at["life_balance", "assessments"] == 2
    assert latest.at["skilled_managers", "assessed_by"] == "Board"
    assert pd.isna(latest.at["physical", "rating"])
    assert latest.at["physical", "rating_label"] == "Not yet assessed"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"element_id": "astrology"}, "unknown element"),
        ({"rating": 5}, "not a level of the scale"),
        ({"rating": "high"}, "not a level"),
        ({"assessed_by": "   "}, "say who assessed"),
        ({"assessed_on": date(2030, 1, 1)}, "in the future"),
        ({"evidence": "x" * 5000}, "longer than"),
    ],
)
def test_bad_assessments_are_refused_and_nothing_is_written(con, kwargs, message):
    args = {"element_id": "physical", "rating": 2, "assessed_on": date(2025, 1, 1),
            "assessed_by": "Me", "evidence": None, "today": date(2026, 1, 1)} | kwargs
    with pytest.raises(DiagnosticError, match=message):
        diagnostic.record_assessment(con, **args)
    assert con.execute("SELECT count(*) FROM diagnostic_assessments").fetchone()[0] == 0


def test_delete(con):
    aid = diagnostic.record_assessment(con, "physical", 2, date(2025, 1, 1), "Me")
    diagnostic.delete_assessment(con, aid)
    assert diagnostic.history(con).empty
    with pytest.raises(DiagnosticError):
        diagnostic.delete_assessment(con, aid)


@pytest.mark.parametrize(
    ("rating", "status", "worse", "score", "flag"),
    [
        (3, "worse", 0, 7.0, "gap"),      # established, domain worse than benchmark
        (4, "worse", 2, 7.0, "gap"),
        (3, "similar", 0, 5.9, "gap"),    # established, but below the 6.0 good looks like
        (3, "none", 0, 5.5, "gap"),       # no benchmark: the score alone
        (3, "similar", 0, 6.0, ""),       # exactly 6.0 is not below it
        (3, "similar", 1, 7.0, "check"),  # established, one indicator worse
        (4, "better", 0, 8.0, ""),
        (2, "better", 0, 8.0, "modest"),  # developing, data better
        (2, "better", 0, 5.0, ""),        # better than an average that is itself not good
        (1, "worse", 3, 3.0, ""),         # a low rating agrees with poor data
        (None, "worse", 1, 3.0, ""),      # not assessed: nothing to flag
    ],
)
def test_gap_flag_rules(rating, status, worse, score, flag):
    assert diagnostic.gap_flag(rating, status, worse, score) == flag


def test_beside_data_by_hand():
    assessed = pd.DataFrame({
        "element_id": ["a", "b", "c"], "element": ["A", "B", "C"], "domain_id": ["d1", "d1", "d2"],
        "rating": pd.array([3, 2, pd.NA], dtype="Int64"),
    })
    table = pd.DataFrame({
        "domain_id": ["d1", "d1", "d1", "d2"], "short": ["S", "T", "U", "V"],
        "kind": ["proportion", "mean", "proportion", "proportion"],
        "value": [0.5, 3.2, np.nan, 0.1], "status": ["worse", "similar", "none", "better"],
        "scored": [True, True, True, True],
    })
    domains = pd.DataFrame({
        "domain_id": ["d1", "d2"], "domain": ["D1", "D2"], "score": [7.0, 9.0],
        "benchmark_gap": [-1.0, 1.0], "status": ["worse", "better"],
        "status_label": ["Worse than benchmark", "Better than benchmark"],
    })
    out = diagnostic.beside_data(assessed, table, domains).set_index("element_id")
    assert out.at["a", "flag"] == "gap" and out.at["a", "flag_text"] == diagnostic.FLAGS["gap"]
    assert out.at["a", "flag_reason"] == "the domain is worse than the benchmark"
    assert out.at["b", "flag"] == ""
    assert out.at["c", "flag"] == ""
    assert out.at["a", "measured"] == "S 50.0% ▼; T 3.20 ●"   # the withheld U is not listed
    assert out.at["a", "worse"] == "S"
    assert out.at["c", "domain_score"] == 9.0


def test_beside_the_demo_organisations_figures(demo_db, tmp_path):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    con = store.connect(db)
    diagnostic.record_assessment(con, "mental_emotional", 4, date(2025, 11, 1), "Steering group")
    table = scorecard.indicator_table(con, 3, 10)   # the Overview's figures, as the page uses
    domains = lenses.rollup(table, "domains")
    out = diagnostic.beside_data(diagnostic.latest(con), table, domains).set_index("element_id")
    dom = domains.set_index("domain_id")
    assert out.at["mental_emotional", "domain_score"] == pytest.approx(dom.at["personal_health", "score"])
    # personal health scores about 5.5 / 10 in the demo's 2025 wave: below the 6.0 good looks like
    score = dom.at["personal_health", "score"]
    assert score < 6.0
    assert out.at["mental_emotional", "flag"] == "gap"
    assert out.at["mental_emotional", "flag_reason"] == (
        f"the domain scores {score:.1f} / 10, below the 6 that good looks like"
    )
    con.close()
