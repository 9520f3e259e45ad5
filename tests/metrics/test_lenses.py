"""Lenses: declared (never inferred) places for every indicator, and roll-ups checked by hand."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dashboard import catalogue, config
from dashboard.catalogue import CatalogueError
from dashboard.metrics import lenses, scorecard
from dashboard.metrics.lenses import Lens, LensGroup

PEOPLE_PROMISE = [
    "We are compassionate and inclusive", "We are recognised and rewarded",
    "We each have a voice that counts", "We are safe and healthy", "We are always learning",
    "We work flexibly", "We are a team",
]
HSE = ["Demands", "Control", "Manager support", "Peer support", "Relationships", "Role", "Change"]


def test_three_lenses_in_order_with_their_groups():
    all_ = lenses.all_lenses()
    assert list(all_) == ["domains", "people_promise", "hse"]
    cat = catalogue.get()
    assert [g.name for g in all_["domains"].groups] == [d.name for d in cat.domains]
    assert [g.name for g in all_["people_promise"].groups] == PEOPLE_PROMISE
    assert [g.name for g in all_["hse"].groups] == HSE


@pytest.mark.parametrize("lens_id", ["domains", "people_promise", "hse"])
def test_every_indicator_has_exactly_one_declared_place(lens_id):
    lens = lenses.get(lens_id)
    placed = [i for g in lens.groups for i in g.indicators] + list(lens.absent)
    assert sorted(placed) == sorted(catalogue.get().indicators)


def test_domains_lens_is_the_catalogue_domain_of_each_indicator():
    lens = lenses.get("domains")
    for ind in catalogue.get().indicators.values():
        assert lens.group_of(ind.id).id == ind.domain


def test_hse_lens_places_each_scale_in_its_own_standard_and_leaves_outcomes_out():
    lens = lenses.get("hse")
    assert lens.group_of("hse_demands").name == "Demands"
    assert lens.group_of("hse_manager_support").name == "Manager support"
    assert lens.group_of("stress") is None and "stress" in lens.absent
    assert lenses.get("people_promise").group_of("work_life_balance").name == "We work flexibly"


def _copy_data(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(config.DATA_DIR, root, ignore=shutil.ignore_patterns("*.duckdb*", "demo"))
    return root


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('indicators = ["work_life_balance"]', "indicators = []", "no place declared for work_life_balance"),
        ('indicators = ["work_life_balance"]', 'indicators = ["work_life_balance", "hse_role"]',
         "'hse_role' is in both"),
        ('indicators = ["work_life_balance"]', 'indicators = ["work_life_balance", "wellness"]',
         "unknown indicator 'wellness'"),
        ('indicators = ["hse_relationships"]', 'indicators = ["hse_relationships", "response_rate"]',
         "both in"),
    ],
)
def test_lens_files_are_checked(tmp_path, old, new, message):
    root = _copy_data(tmp_path)
    path = root / "lenses" / "people_promise.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogueError, match=message):
        lenses.load(root)


def test_a_lens_resolves_from_a_link_or_falls_back_with_a_note():
    assert lenses.resolve(None) == ("domains", None)
    assert lenses.resolve("hse") == ("hse", None)
    lens_id, note = lenses.resolve("astrology")
    assert lens_id == "domains" and "not offered" in note


def _table(rows):
    return pd.DataFrame(rows, columns=["indicator_id", "short", "scored", "score", "benchmark_score"])


def test_rollup_by_hand():
    lens = Lens("t", "Test", "Test", "", 1, (
        LensGroup("a", "A", ("x", "y", "z")),
        LensGroup("b", "B", ("w",)),
        LensGroup("c", "C", ()),
    ), ())
    table = _table([
        ("x", "X", True, 6.0, 5.0),
        ("y", "Y", True, 8.0, np.nan),
        ("z", "Z", False, 2.0, 1.0),     # a breakdown: shown, never in the score
        ("w", "W", True, np.nan, 4.0),   # withheld: no figure
        ("v", "V", True, 9.0, 9.0),      # not in the lens
    ])
    out = lenses.rollup(table, lens).set_index("group_id")
    # A: mean(6, 8) = 7; benchmarked subset {x}: gap 6 - 5 = +1 > 0.5 -> better; tick at 7 - 1 = 6
    assert out.at["a", "score"] == pytest.approx(7.0)
    assert out.at["a", "benchmark_gap"] == pytest.approx(1.0)
    assert out.at["a", "benchmark_score"] == pytest.approx(6.0)
    assert out.at["a", "status"] == "better"
    assert out.at["a", "feeding"] == "X, Y"
    assert out.at["a", "indicators"] == 2
    assert out.at["b", "score"] is None or np.isnan(out.at["b", "score"])
    assert out.at["b", "feeding"] == "no figure shown" and out.at["b", "status"] == "none"
    assert out.at["c", "feeding"] == lenses.NO_INDICATOR
    # a gap of exactly the margin is "similar" (strictly greater is needed)
    edge = lenses.rollup(_table([("x", "X", True, 5.5, 5.0)]), lens).set_index("group_id")
    assert edge.at["a", "status"] == "similar"


def test_domains_lens_rollup_equals_the_scorecard(demo_con):
    table = scorecard.indicator_table(demo_con, 3, 10)
    mine = lenses.rollup(table, "domains")
    theirs = scorecard.domain_table(table)
    for col in ("domain_id", "domain", "indicators", "feeding", "status", "status_label"):
        assert mine[col].tolist() == theirs[col].tolist(), col
    for col in ("score", "benchmark_score", "benchmark_gap"):
        np.testing.assert_allclose(mine[col].astype(float), theirs[col].astype(float))


def test_people_promise_rollup_by_hand_from_raw_values(demo_con):
    table = scorecard.indicator_table(demo_con, 3, 10).set_index("indicator_id")
    value = table["value"].astype(float)
    out = lenses.rollup(table.reset_index(), "people_promise").set_index("group_id")
    # We work flexibly: only work-life balance, a proportion where high is good: 10 p
    assert out.at["flexibly", "score"] == pytest.approx(10 * value["work_life_balance"])
    # We are a team: three 1-5 scales, (m - 1) x 2.5, and manager interest 10 p
    team = np.mean([
        (value["hse_peer_support"] - 1) * 2.5, (value["hse_role"] - 1) * 2.5,
        10 * value["manager_interest"], (value["hse_manager_support"] - 1) * 2.5,
    ])
    assert out.at["team", "score"] == pytest.approx(team)
    # We each have a voice that counts: control and change
    voice = np.mean([(value["hse_control"] - 1) * 2.5, (value["hse_change"] - 1) * 2.5])
    assert out.at["voice", "score"] == pytest.approx(voice)
    # no indicator measures recognition: no score, said so
    assert pd.isna(out.at["recognised_rewarded", "score"])
    assert out.at["recognised_rewarded", "feeding"] == lenses.NO_INDICATOR


def test_compare_and_profile_roll_up_by_the_chosen_lens_by_hand(tmp_path):
    from dashboard.metrics import drilldown
    from tests import teams_org

    con = teams_org.build(tmp_path / "teams.duckdb")
    # wave 2025: Ward A 20 respondents, 10 stressed (p = 0.5 -> 10 x (1 - 0.5) = 5.0), peer
    # support answers 4, 3 cycled (mean 3.5 -> (3.5 - 1) x 2.5 = 6.25); Theatres 25 respondents,
    # 5 stressed (p = 0.2 -> 8.0), peer support 4, 5 cycled (13 fours, 12 fives: mean 4.48 -> 8.7)
    frame, left_out = drilldown.compare(con, [1, 4], 2, 10, lens="people_promise")
    assert left_out == []
    got = frame.set_index(["team", "domain"]).score
    assert got[("Ward A", "We are safe and healthy")] == pytest.approx(5.0)
    assert got[("Ward A", "We are a team")] == pytest.approx(6.25)
    assert got[("Theatres", "We are safe and healthy")] == pytest.approx(8.0)
    assert got[("Theatres", "We are a team")] == pytest.approx(8.7)
    assert pd.isna(got[("Ward A", "We work flexibly")])   # nobody answered the q6 items
    prof = drilldown.team_profile(con, 1, 2, 10, lens="hse")
    dots = prof["domains"].set_index(["series", "domain"]).score
    assert dots[("Team", "Peer support")] == pytest.approx(6.25)
    assert list(prof["domains"].domain.unique()) == HSE
    con.close()


def test_readme_shows_every_lens_as_declared():
    readme = (config.DATA_DIR.parent / "README.md").read_text()
    cat = catalogue.get()
    for lens in lenses.all_lenses().values():
        assert f"**{lens.name}**" in readme
        for group in lens.groups:
            shorts = ", ".join(cat.indicators[i].short for i in group.indicators)
            cell = shorts if shorts else "*none measured yet*"
            assert f"| {group.name} | {cell}" in readme, group.name


def test_members_follow_the_lens_order_and_drop_absent_ones():
    assert lenses.members("hse", ["stress", "hse_change", "hse_demands", "manager_interest"]) == [
        "hse_demands", "manager_interest", "hse_change"
    ]


def test_get_is_memoised_per_catalogue_and_follows_custom_indicators():
    assert lenses.get("domains") is lenses.get("domains")  # not rebuilt per call
    custom = catalogue.custom_indicator("custom_rest", "Breaks taken", "environment", "high", ">=", 4)
    catalogue.set_custom([custom])
    try:
        domains = lenses.get("domains")
        assert domains.group_of("custom_rest").id == "environment"
        # a declared lens cannot know a store's custom indicator: it is listed as not in the lens
        hse = lenses.get("hse")
        assert "custom_rest" in hse.absent and hse.group_of("custom_rest") is None
        assert "custom_rest" in set(lenses.membership(hse).indicator_id)
    finally:
        catalogue.set_custom([])
    assert lenses.get("domains").group_of("custom_rest") is None
    assert "custom_rest" not in lenses.get("hse").absent
