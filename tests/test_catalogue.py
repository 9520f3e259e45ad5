"""The TOML catalogue: complete instruments, one domain per indicator, edits need no code."""
from __future__ import annotations

import shutil

import pytest

from dashboard import catalogue
from dashboard.config import DATA_DIR

HSE_SCALES = {
    "hse_demands": [3, 6, 9, 12, 16, 18, 20, 22],
    "hse_control": [2, 10, 15, 19, 25, 30],
    "hse_manager_support": [8, 23, 29, 33, 35],
    "hse_peer_support": [7, 24, 27, 31],
    "hse_relationships": [5, 14, 21, 34],
    "hse_role": [1, 4, 11, 13, 17],
    "hse_change": [26, 28, 32],
}
HSE_REVERSED = {3, 5, 6, 9, 12, 14, 16, 18, 20, 21, 22, 34}


def test_seven_domains_in_framework_order():
    cat = catalogue.load()
    assert [d.id for d in cat.domains] == [
        "personal_health", "relationships", "fulfilment", "managers_leaders",
        "environment", "data_insights", "professional_support",
    ]
    assert sum(len(d.elements) for d in cat.domains) == 16


def test_hse_indicator_tool_matches_the_published_key():
    cat = catalogue.load()
    hse = {k: v for k, v in cat.items.items() if v.instrument == "hse_indicator_tool"}
    assert len(hse) == 35
    for scale, numbers in HSE_SCALES.items():
        assert sorted(int(i[3:]) for i in cat.indicators[scale].items) == numbers
    assert {int(k[3:]) for k, v in hse.items() if v.reverse} == HSE_REVERSED
    assert all(v.scale.id == ("hse_frequency" if int(k[3:]) <= 23 else "hse_agree") for k, v in hse.items())


def test_required_wellbeing_items_present():
    cat = catalogue.load()
    for ind in ["stress", "presenteeism", "bullying_public", "bullying_managers", "bullying_colleagues",
                "work_life_balance", "burnout", "manager_interest", "org_positive_action"]:
        assert cat.indicators[ind].items, ind
    # every indicator sits in exactly one known domain
    assert {i.domain for i in cat.indicators.values()} <= {d.id for d in cat.domains}


def test_benchmarks_carry_source_and_year():
    cat = catalogue.load()
    for ind in cat.indicators.values():
        if ind.benchmark:
            assert ind.benchmark.source and ind.benchmark.year > 2000 - 1


def _copy_data(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target, ignore=shutil.ignore_patterns("*.duckdb*", ".secret*", "demo"))
    return target


def test_moving_an_indicator_is_a_toml_edit(tmp_path):
    data = _copy_data(tmp_path)
    path = data / "indicators.toml"
    text = path.read_text()
    block = text.index("[indicators.burnout]")
    edited = text[:block] + text[block:].replace('domain = "personal_health"', 'domain = "environment"', 1)
    path.write_text(edited)
    cat = catalogue.load(data)
    assert cat.indicators["burnout"].domain == "environment"
    assert cat.fingerprint != catalogue.load().fingerprint


def test_contradictions_are_named(tmp_path):
    data = _copy_data(tmp_path)
    path = data / "indicators.toml"
    path.write_text(path.read_text().replace('domain = "relationships"', 'domain = "nowhere"', 1))
    with pytest.raises(catalogue.CatalogueError, match="unknown domain 'nowhere'"):
        catalogue.load(data)
