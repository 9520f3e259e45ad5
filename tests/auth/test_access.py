"""Roles and scopes: which figures each role gets, checked in the figures layer, not by hiding pages."""
from __future__ import annotations

import pytest

from dashboard.auth import access
from dashboard.auth.access import Denied, Principal
from dashboard.metrics import absence, drilldown, indicators, scorecard
from tests import teams_org

ADMIN = Principal("a", "admin")
ANALYST = Principal("b", "analyst")
VIEWER = Principal("v", "viewer")
MEDICINE = Principal("m", "manager", directorates=frozenset({"Medicine"}))
CLINIC = Principal("c", "manager", teams=frozenset({"Clinic"}))


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = teams_org.build(tmp_path_factory.mktemp("access") / "store.duckdb")
    yield con
    con.close()


def _call(con, who, fn, *args, **kwargs):
    rule = access.authorise(con, who, fn, args, kwargs)
    return access.filter_result(con, who, rule, fn(con, *args, **kwargs))


def test_actions_by_role():
    for action in ("import", "undo", "remove demo", "settings", "users", "audit", "intervention"):
        assert access.can(ADMIN, action)
        for who in (ANALYST, MEDICINE, VIEWER):
            assert not access.can(who, action)
            with pytest.raises(Denied):
                access.require(who, action)
    assert access.can(ANALYST, "export") and access.can(MEDICINE, "export")
    assert not access.can(VIEWER, "export")
    with pytest.raises(Denied):
        access.require(None, "export")


def test_pages_by_role():
    assert access.can_open(ADMIN, "data") and access.can_open(ADMIN, "admin")
    assert access.can_open(ANALYST, "interventions") and not access.can_open(ANALYST, "data")
    assert not access.can_open(ANALYST, "admin")
    assert {p for p in ("overview", "teams", "absence", "interventions", "data", "admin")
            if access.can_open(MEDICINE, p)} == {"teams", "absence"}
    assert {p for p in ("overview", "teams", "absence", "interventions", "data", "admin")
            if access.can_open(VIEWER, p)} == {"overview"}


def test_a_manager_needs_a_scope_and_roles_are_checked():
    with pytest.raises(ValueError, match="directorate or team"):
        Principal("x", "manager")
    with pytest.raises(ValueError, match="unknown role"):
        Principal("x", "superuser")


def test_cache_keys_separate_scopes():
    keys = {p.scope_key() for p in (ADMIN, ANALYST, VIEWER, MEDICINE, CLINIC)}
    assert ADMIN.scope_key() == ANALYST.scope_key()  # they see exactly the same figures
    assert len(keys) == 4


def test_manager_gets_own_directorate_and_nothing_else(con):
    own = _call(con, MEDICINE, drilldown.groups_overview, ("team",), 2, 10, "Medicine")
    assert set(own.team) == {"Ward A", "Ward B", "Ward C"}
    for other in ("Surgery", None):
        with pytest.raises(Denied, match="outside your scope"):
            _call(con, MEDICINE, drilldown.groups_overview, ("team",), 2, 10, other)
        with pytest.raises(Denied):
            _call(con, MEDICINE, drilldown.heatmap, ("team",), 2, 10, "organisation", other)
        with pytest.raises(Denied):
            _call(con, MEDICINE, drilldown.funnel, ("team",), 2, "stress", 10, other)
    # by keyword too: the check binds arguments the way Python does
    with pytest.raises(Denied):
        access.authorise(con, MEDICINE, drilldown.groups_overview, (("team",), 2, 10),
                         {"directorate": "Surgery"})


def test_manager_unit_figures_only_for_own_units(con):
    ward_a, theatres = teams_org.TEAM_ID["Ward A"], teams_org.TEAM_ID["Theatres"]
    assert _call(con, MEDICINE, drilldown.team_profile, ward_a, 2, 10)["team"] == "Ward A"
    with pytest.raises(Denied):
        _call(con, MEDICINE, drilldown.team_profile, theatres, 2, 10)
    with pytest.raises(Denied):  # a mix of own and other teams is refused whole
        _call(con, MEDICINE, drilldown.compare, (ward_a, theatres), 2, 10)
    with pytest.raises(Denied):  # organisation-wide (no units) is not a manager's figure
        _call(con, MEDICINE, scorecard.indicator_table, 2, 10)
    clinic = teams_org.TEAM_ID["Clinic"]
    assert _call(con, CLINIC, drilldown.team_trend, clinic, 10) is not None
    with pytest.raises(Denied):
        _call(con, CLINIC, drilldown.groups_overview, ("team",), 2, 10, "Surgery")
    with pytest.raises(Denied):
        _call(con, MEDICINE, absence.monthly_rates, None, None, 10, (), None)


def test_structure_lists_are_cut_to_the_scope(con):
    tree = _call(con, MEDICINE, drilldown.unit_tree)
    assert set(tree.directorate) == {"Medicine"} and len(tree) == 3
    assert len(_call(con, ANALYST, drilldown.unit_tree)) == 8
    teams = _call(con, CLINIC, drilldown.reportable_teams, 2, 10)
    assert teams == ["Clinic"]
    assert "Clinic" in _call(con, ANALYST, drilldown.reportable_teams, 2, 10)


def test_viewer_sees_the_organisation_overview_only(con):
    assert len(_call(con, VIEWER, scorecard.indicator_table, 2, 10)) > 0
    assert len(_call(con, VIEWER, indicators.waves)) == 2
    with pytest.raises(Denied):
        _call(con, VIEWER, scorecard.indicator_table, 2, 10, (1,))
    with pytest.raises(Denied):
        _call(con, VIEWER, drilldown.groups_overview, ("directorate",), 2, 10)


def test_unlisted_figures_are_closed_to_managers_and_viewers(con):
    def new_figure(con):
        return 42

    assert _call(con, ANALYST, new_figure) == 42
    for who in (MEDICINE, VIEWER):
        with pytest.raises(Denied):
            _call(con, who, new_figure)
    with pytest.raises(Denied):
        _call(con, None, indicators.waves)


def test_every_figure_rule_names_a_real_function_under_that_name():
    # A rule keyed by a name no function has would close a figure to managers and viewers without
    # anyone noticing (an alias of a function from another module has that module's name).
    import importlib

    for name in access.FIGURES:
        module, _, qualname = name.rpartition(".")
        fn = getattr(importlib.import_module(module), qualname)
        assert access.figure_name(fn) == name
