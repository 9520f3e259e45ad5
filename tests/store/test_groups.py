"""store/groups.py: the one list of cuts, their SQL columns and how they read."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard import privacy
from dashboard.metrics import drilldown, team_absence
from dashboard.store import groups


def test_cuts_read_as_headings():
    assert groups.title(()) == "Organisation"
    assert groups.title(("team",)) == "Team"
    assert groups.title(("team",), plural=True) == "Teams"
    assert groups.title(("staff_group",), plural=True) == "Staff groups"
    assert groups.title(("directorate", "staff_group")) == "Directorate × staff group"


def test_other_modules_read_the_one_list():
    assert drilldown.VIEW_LABELS == {
        "team": "Teams", "directorate": "Directorates", "site": "Sites", "staff_group": "Staff groups",
        "directorate_staff_group": "Directorate × staff group", "site_staff_group": "Site × staff group",
    }
    assert privacy.KEY_COLUMNS == ("directorate", "team", "site", "staff_group")
    assert set(drilldown.ABSENCE_VIEWS.values()) == set(groups.ABSENCE_CUTS) - {"organisation"}
    # every survey cut the release plan offers is a whitelisted cut; absence has no staff groups
    assert {c for by in privacy.RELEASE_ORDER for c in by} == set(groups.CUTS)
    assert "staff_group" not in groups.ABSENCE_CUTS and groups.ABSENCE_CUTS[0] == "organisation"
    assert team_absence.CUTS is groups.ABSENCE_CUTS


def test_no_module_retypes_the_absence_cuts():
    # the list written out (any quotes, spacing or order of the three named cuts) stands only in
    # groups.py; every other module reads groups.ABSENCE_CUTS
    cut = r"""['"](directorate|team|site)['"]\s*,?\s*"""
    written = re.compile(r"""\(\s*['"]organisation['"]\s*,\s*""" + f"({cut}){{3}}" + r"\)")
    src = Path(groups.__file__).resolve().parents[1]
    found = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if written.search(p.read_text("utf-8")))
    assert found == ["store/groups.py"]


def test_only_whitelisted_cuts_reach_sql():
    assert groups.select_list(("team", "staff_group")) == "u.team AS team, r.staff_group AS staff_group, "
    with pytest.raises(ValueError, match="unknown cut"):
        groups.select_list(("team; DROP TABLE units",))
    with pytest.raises(ValueError, match="repeated cut"):
        groups.validate(("team", "team"))
