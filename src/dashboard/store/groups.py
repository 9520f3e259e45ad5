"""The cuts a user can choose (organisation, directorate, team, site, staff group) as SQL columns.

Only names from CUTS ever reach SQL text; values from uploads are always bound parameters.
"""
from __future__ import annotations

from collections.abc import Sequence

# cut name -> SQL expression; `u` is the units table, `r` the record (response or episode) table.
CUTS: dict[str, str] = {
    "directorate": "u.directorate",
    "team": "u.team",
    "site": "u.site",
    "staff_group": "r.staff_group",
}

LABELS: dict[str, str] = {
    "organisation": "Organisation",
    "directorate": "Directorate",
    "team": "Team",
    "site": "Site",
    "staff_group": "Staff group",
}

# The cuts with staff in post (the absence-rate denominator, kept per unit), in the release's
# priority order. Staff groups are a property of the person, so absence has no staff-group cut.
ABSENCE_CUTS: tuple[str, ...] = ("organisation", "directorate", "team", "site")


def title(by: Sequence[str], plural: bool = False) -> str:
    """How a cut reads as a heading: 'Team', 'Teams' (plural), 'Directorate × staff group'."""
    if not by:
        return LABELS["organisation"]
    words = [LABELS[b] if i == 0 else LABELS[b].lower() for i, b in enumerate(by)]
    if plural:
        words[-1] += "s"  # every cut's label takes a plain -s
    return " × ".join(words)


def validate(by: Sequence[str]) -> tuple[str, ...]:
    """Reject any cut not in CUTS, so no caller can smuggle text into SQL."""
    by = tuple(by)
    bad = [b for b in by if b not in CUTS]
    if bad:
        raise ValueError(f"unknown cut(s) {bad}; choose from {sorted(CUTS)}")
    if len(set(by)) != len(by):
        raise ValueError(f"repeated cut in {by}")
    return by


def select_list(by: Sequence[str]) -> str:
    """`u.team AS team, ...` for the SELECT list (empty string for the organisation)."""
    return "".join(f"{CUTS[b]} AS {b}, " for b in validate(by))


def group_list(by: Sequence[str]) -> str:
    return "".join(f"{b}, " for b in validate(by))
