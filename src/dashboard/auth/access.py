"""Who may see what: roles, a principal's scope, and the check every figure and export goes through."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

ROLES = ("admin", "analyst", "manager", "viewer")
ROLE_TEXT = {
    "admin": "imports, undo, deletions, settings and users, and everything an analyst sees",
    "analyst": "every page and export of released figures",
    "manager": "released figures of their own directorates or teams only",
    "viewer": "the overview and meeting mode",
}

# Actions beyond reading figures. Only the roles listed may do them; every write path checks.
ACTIONS = {
    "import": {"admin"},
    "undo": {"admin"},
    "remove demo": {"admin"},
    "settings": {"admin"},
    "users": {"admin"},
    "audit": {"admin"},
    "intervention": {"admin"},
    "plan": {"admin", "analyst"},  # self-assessments and improvement-plan actions (Framework page)
    "export": {"admin", "analyst", "manager"},
}

# Pages by url path. Admins open every page; analysts every page not listed as admin-only; the
# others only those named. A page missing here is closed to managers and viewers by default.
ADMIN_PAGES = {"data", "admin"}
PAGES = {
    "manager": {"teams", "absence"},
    "viewer": {"overview", "meeting"},
}


class Denied(PermissionError):
    """Raised when a principal asks for a page, figure or action outside their role or scope."""


@dataclass(frozen=True)
class Principal:
    """The signed-in person (or the demo visitor) and the part of the organisation they may see."""

    name: str
    role: str
    directorates: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    how: str = "local"  # local | sso | demo | cli

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        if self.role == "manager" and not (self.directorates or self.teams):
            raise ValueError("a manager needs at least one directorate or team")

    @property
    def scoped(self) -> bool:
        return self.role == "manager"

    def scope_key(self) -> str:
        """Part of every cache key, so one principal's cached figures never serve another scope."""
        if self.role == "manager":
            return "manager:" + "|".join(sorted(self.directorates)) + "#" + "|".join(sorted(self.teams))
        return "viewer" if self.role == "viewer" else "all"  # admins and analysts see the same

    def scope_text(self) -> str:
        if self.role != "manager":
            return "whole organisation" if self.role != "viewer" else "organisation overview"
        parts = [f"directorate {d}" for d in sorted(self.directorates)]
        parts += [f"team {t}" for t in sorted(self.teams)]
        return ", ".join(parts)


DEMO_VISITOR = Principal("demo visitor", "admin", how="demo")


def can(principal: Principal, action: str) -> bool:
    return principal.role in ACTIONS.get(action, set())


def require(principal: Principal | None, action: str) -> Principal:
    """The server-side check before every write or export: raises Denied when not allowed."""
    if principal is None:
        raise Denied("sign in first")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not can(principal, action):
        raise Denied(f"a {principal.role} may not do this ({action})")
    return principal


def can_open(principal: Principal, page: str) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "analyst":
        return page not in ADMIN_PAGES
    return page in PAGES.get(principal.role, set())


def scope_units(con: duckdb.DuckDBPyConnection, principal: Principal) -> frozenset[int] | None:
    """Unit ids a manager may see; None means the whole organisation."""
    if not principal.scoped:
        return None
    rows = con.execute(
        "SELECT unit_id FROM units WHERE list_contains(?, directorate) OR list_contains(?, team)",
        [sorted(principal.directorates), sorted(principal.teams)],
    ).fetchall()
    return frozenset(int(r[0]) for r in rows)


# --- the rules for figure functions -------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """How a figure function is scoped.

    kind: "meta" (no figures: wave labels, date ranges), "structure" (names of teams and
    directorates), "figures" (released health figures) or "register" (interventions).
    units / directorate: the argument naming the units or directorate the figures are for.
    rows: for structure lists, the output column whose rows a manager sees only within scope.
    viewer: "org" for organisation-wide figures a viewer sees (overview, meeting mode), "any" when
    a viewer may have them for any released unit (meeting mode's team profiles).
    """

    kind: str
    units: str | None = None
    directorate: str | None = None
    rows: str | None = None
    viewer: str | None = None


META, REGISTER = Rule("meta"), Rule("register")
_UNITS = Rule("figures", units="unit_ids")

# Functions not listed are open to admins and analysts only: a new figure is closed to managers
# and viewers until someone decides how it is scoped.
FIGURES: dict[str, Rule] = {
    "dashboard.metrics.indicators.waves": META,
    "dashboard.metrics.absence.data_range": META,
    "dashboard.periods.wave_periods": META,
    "dashboard.stats.evaluation.waves_around": META,
    "dashboard.metrics.drilldown.unit_tree": Rule("structure", rows="unit_id", viewer="any"),
    "dashboard.framework.interventions.unit_choices": Rule("structure", rows="unit_id"),
    "dashboard.metrics.team_absence.scope_options": Rule("structure", rows="unit_ids"),
    "dashboard.metrics.drilldown.reportable_teams": Rule("structure", rows="team"),
    "dashboard.metrics.scorecard.indicator_table": Rule("figures", units="unit_ids", viewer="org"),
    "dashboard.metrics.scorecard.trend": Rule("figures", units="unit_ids", viewer="org"),
    "dashboard.metrics.briefing.gather": Rule("figures", viewer="org"),
    "dashboard.metrics.drilldown.groups_overview": Rule("figures", directorate="directorate"),
    "dashboard.metrics.drilldown.heatmap": Rule("figures", directorate="directorate"),
    "dashboard.metrics.drilldown.funnel": Rule("figures", directorate="directorate"),
    "dashboard.metrics.drilldown.team_profile": Rule("figures", units="unit_id", viewer="any"),
    "dashboard.metrics.drilldown.team_trend": Rule("figures", units="unit_id"),
    "dashboard.metrics.drilldown.compare": _UNITS,
    "dashboard.metrics.drilldown.small_n_teams": _UNITS,
    "dashboard.metrics.compare.indicators": _UNITS,
    "dashboard.metrics.response_rates.team_rates": Rule("figures", units="unit_id"),
    # per-team released rates, cut to the manager's own teams
    "dashboard.metrics.response_rates.unit_rates": Rule("structure", rows="unit_id"),
    "dashboard.metrics.coverage.absence_gaps": META,
    "dashboard.metrics.absence.monthly_rates": _UNITS,
    "dashboard.metrics.absence.period_summary": _UNITS,
    "dashboard.metrics.absence.absence_events": _UNITS,
    "dashboard.metrics.absence.episode_quality": _UNITS,
    "dashboard.metrics.absence.reasons": _UNITS,
    "dashboard.metrics.absence.patterns": _UNITS,
    "dashboard.metrics.absence.seasonality": _UNITS,
    "dashboard.metrics.team_absence.compare_rates": _UNITS,
    "dashboard.metrics.team_absence.bradford": _UNITS,
    "dashboard.framework.interventions.list_interventions": REGISTER,
    # the plan names gaps, owners and dates, no health figure: part of meeting mode for viewers
    "dashboard.framework.improvement.list_actions": Rule("register", viewer="org"),
    "dashboard.stats.evaluation.evaluate": REGISTER,
}


def figure_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _as_ids(value: object) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int | str):
        return [int(value)]
    return [int(v) for v in value]  # type: ignore[union-attr]


def authorise(
    con: duckdb.DuckDBPyConnection, principal: Principal | None, fn: Callable, args: Sequence,
    kwargs: dict,
) -> Rule | None:
    """Check that principal may have fn(con, *args, **kwargs); raises Denied otherwise.

    Returns the rule when the result must still be cut to the principal's scope (filter()).
    """
    if principal is None:
        raise Denied("sign in first")
    name = figure_name(fn)
    rule = FIGURES.get(name)
    if principal.role in ("admin", "analyst"):
        return None
    if rule is None:
        raise Denied(f"this figure is not open to a {principal.role}")
    if rule.kind == "meta":
        return None
    if principal.role == "viewer":
        bound = _bind(fn, args, kwargs)
        org_wide = rule.units is None or bound.get(rule.units) is None
        if rule.viewer == "any" or (rule.viewer == "org" and org_wide):
            return None
        raise Denied("a viewer sees the organisation overview only")
    # a manager
    if rule.kind == "register":
        raise Denied("the intervention register is not open to a manager")
    if rule.kind == "structure":
        return rule
    bound = _bind(fn, args, kwargs)
    if rule.directorate is not None:
        directorate = bound.get(rule.directorate)
        if directorate is None or directorate not in principal.directorates:
            raise Denied(f"outside your scope ({principal.scope_text()})")
        return None
    ids = _as_ids(bound.get(rule.units)) if rule.units else None
    allowed = scope_units(con, principal) or frozenset()
    if not ids or not set(ids) <= allowed:
        raise Denied(f"outside your scope ({principal.scope_text()})")
    return None


def _bind(fn: Callable, args: Sequence, kwargs: dict) -> dict:
    bound = inspect.signature(fn).bind(None, *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def filter_result(
    con: duckdb.DuckDBPyConnection, principal: Principal, rule: Rule | None, result: object
) -> object:
    """Cut a structure list down to a manager's scope (rows outside it are dropped)."""
    if rule is None or rule.rows is None:
        return result
    allowed = scope_units(con, principal) or frozenset()
    if isinstance(result, list):  # a list of team names
        names = {r[0] for r in con.execute(
            "SELECT team FROM units WHERE list_contains(?, unit_id)", [sorted(allowed)]).fetchall()}
        return [t for t in result if t in names]
    if isinstance(result, pd.DataFrame):
        col = result[rule.rows]
        if rule.rows == "unit_ids":
            keep = col.map(lambda ids: bool(len(ids)) and set(int(i) for i in ids) <= allowed)
        elif rule.rows == "team":
            names = {r[0] for r in con.execute(
                "SELECT team FROM units WHERE list_contains(?, unit_id)", [sorted(allowed)]).fetchall()}
            keep = col.isin(names)
        else:
            keep = col.astype(int).isin(allowed)
        return result[keep.astype(bool)].reset_index(drop=True)
    raise Denied("this result cannot be cut to your scope")


def parse_names(text: str | Iterable[str] | None) -> frozenset[str]:
    """'A, B' or ['A', 'B'] -> frozenset of trimmed names."""
    if text is None:
        return frozenset()
    items = text.split(",") if isinstance(text, str) else list(text)
    return frozenset(" ".join(str(i).split()) for i in items if str(i).strip())
