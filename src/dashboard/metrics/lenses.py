"""Lenses from data/lenses/*.toml: declared groupings of the indicators and their 0-10 roll-ups."""
from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import catalogue
from dashboard.catalogue import Catalogue, CatalogueError
from dashboard.config import DATA_DIR

DEFAULT = "domains"
NO_INDICATOR = "no indicator measures this yet"


@dataclass(frozen=True)
class LensGroup:
    id: str
    name: str
    indicators: tuple[str, ...]


@dataclass(frozen=True)
class Lens:
    id: str
    name: str
    title: str
    source: str
    order: int
    groups: tuple[LensGroup, ...]
    absent: tuple[str, ...]

    def group_of(self, indicator_id: str) -> LensGroup | None:
        """The group an indicator is declared in, or None when it is declared absent."""
        return next((g for g in self.groups if indicator_id in g.indicators), None)


def _from_framework(head: dict, cat: Catalogue) -> tuple[tuple[LensGroup, ...], tuple[str, ...]]:
    # The domain each indicator declares in indicators.toml is its place: every one has one.
    groups = tuple(
        LensGroup(d.id, d.name, tuple(i.id for i in cat.indicators_in(d.id))) for d in cat.domains
    )
    return groups, ()


def _declared(raw: dict, name: str, cat: Catalogue) -> tuple[tuple[LensGroup, ...], tuple[str, ...]]:
    groups = []
    seen_groups: set[str] = set()
    placed: dict[str, str] = {}
    for g in raw.get("groups", []):
        gid = g["id"]
        if gid in seen_groups:
            raise CatalogueError(f"lens {name}: group {gid!r} is declared twice")
        seen_groups.add(gid)
        for ind in g.get("indicators", []):
            if ind not in cat.indicators:
                raise CatalogueError(f"lens {name}, group {gid}: unknown indicator {ind!r}")
            if ind in placed:
                raise CatalogueError(
                    f"lens {name}: indicator {ind!r} is in both {placed[ind]!r} and {gid!r}"
                )
            placed[ind] = gid
        groups.append(LensGroup(gid, g["name"], tuple(g.get("indicators", []))))
    absent = tuple(raw.get("absent", {}).get("indicators", []))
    for ind in absent:
        if ind not in cat.indicators:
            raise CatalogueError(f"lens {name}, absent: unknown indicator {ind!r}")
        if ind in placed:
            raise CatalogueError(f"lens {name}: indicator {ind!r} is both in {placed[ind]!r} and absent")
    undeclared = [i for i in cat.indicators if i not in placed and i not in absent]
    if undeclared:
        # never inferred: a new indicator must be placed (or declared absent) in every lens
        raise CatalogueError(
            f"lens {name}: no place declared for {', '.join(undeclared)} "
            "(list it in a group, or under [absent])"
        )
    if not groups:
        raise CatalogueError(f"lens {name} has no groups")
    return tuple(groups), absent


def load(data_dir: Path = DATA_DIR, cat: Catalogue | None = None) -> dict[str, Lens]:
    """Every lens in data/lenses, in their declared order; CatalogueError names a bad entry."""
    cat = cat or catalogue.load(data_dir)
    lenses: dict[str, Lens] = {}
    for path in sorted((data_dir / "lenses").glob("*.toml")):
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        head = raw["lens"]
        lid = head["id"]
        if lid in lenses:
            raise CatalogueError(f"lens {lid!r} is defined twice ({path.name})")
        if head.get("groups_from") == "framework":
            groups, absent = _from_framework(head, cat)
        else:
            groups, absent = _declared(raw, path.name, cat)
        lenses[lid] = Lens(lid, head["name"], head.get("title", head["name"]), head.get("source", ""),
                           int(head.get("order", 99)), groups, absent)
    if DEFAULT not in lenses:
        raise CatalogueError(f"the default lens {DEFAULT!r} is missing from data/lenses")
    return dict(sorted(lenses.items(), key=lambda kv: (kv[1].order, kv[0])))


@lru_cache(maxsize=4)
def all_lenses(data_dir: Path = DATA_DIR) -> dict[str, Lens]:
    """The lenses as declared in TOML, against the TOML catalogue (custom indicators live in the
    store and are joined per call by get())."""
    return load(data_dir, catalogue.load(data_dir))


# get() per catalogue: the store's custom indicators join the catalogue at connect, import and
# undo, so the key is the catalogue fingerprint plus the custom indicators and their domains.
_MEMO: dict[tuple, Lens] = {}
_MEMO_MAX = 64


def _catalogue_key(cat: Catalogue) -> tuple:
    return cat.fingerprint, tuple(sorted((i.id, i.domain) for i in cat.indicators.values() if i.custom))


def get(lens_id: str = DEFAULT) -> Lens:
    """One lens by id; ValueError for an unknown one (callers fall back to DEFAULT).

    The domains lens places the store's custom indicators in their own domain; a declared lens
    cannot know them, so it lists them as not in the lens."""
    lenses = all_lenses()
    if lens_id not in lenses:
        raise ValueError(f"unknown lens {lens_id!r}; choose from {', '.join(lenses)}")
    cat = catalogue.get()
    key = (_catalogue_key(cat), lens_id)
    found = _MEMO.get(key)
    if found is None:
        found = _with_custom(lenses[lens_id], cat)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = found
    return found


def _with_custom(lens: Lens, cat: Catalogue) -> Lens:
    if lens.id == DEFAULT:
        groups, _ = _from_framework({}, cat)
        return dataclasses.replace(lens, groups=groups)
    custom = tuple(i.id for i in cat.indicators.values() if i.custom and i.id not in lens.absent
                   and lens.group_of(i.id) is None)
    return dataclasses.replace(lens, absent=lens.absent + custom) if custom else lens


def options() -> dict[str, str]:
    """lens id -> name, in display order (for selectors)."""
    return {lid: lens.name for lid, lens in all_lenses().items()}


def resolve(raw: str | None) -> tuple[str, str | None]:
    """A lens id from a URL parameter: (id, note); unknown ids fall back to the default, with a note."""
    if raw is None or raw in all_lenses():
        return (raw or DEFAULT), None
    return DEFAULT, "The lens in the link is not offered; showing the seven domains."


def members(lens: Lens | str, among: Sequence[str]) -> list[str]:
    """The indicators of `among` that sit in the lens, in its group order (absent ones dropped)."""
    lens = get(lens) if isinstance(lens, str) else lens
    wanted = set(among)
    return [i for g in lens.groups for i in g.indicators if i in wanted]


def membership(lens: Lens, cat: Catalogue | None = None) -> pd.DataFrame:
    """Where each indicator sits: [group_id, group, indicator_id, indicator, scored]; absent
    indicators have group_id None and group 'not in this lens'."""
    cat = cat or catalogue.get()
    rows = [
        {"group_id": g.id, "group": g.name, "indicator_id": i, "indicator": cat.indicators[i].short,
         "scored": cat.indicators[i].scored}
        for g in lens.groups for i in g.indicators
    ]
    rows += [
        {"group_id": None, "group": "not in this lens", "indicator_id": i,
         "indicator": cat.indicators[i].short, "scored": cat.indicators[i].scored}
        for i in lens.absent
    ]
    return pd.DataFrame(rows, columns=["group_id", "group", "indicator_id", "indicator", "scored"])


def rollup(table: pd.DataFrame, lens: Lens | str = DEFAULT, cat: Catalogue | None = None) -> pd.DataFrame:
    """Each lens group's 0-10 score, the mean of the scores of its scored indicators with a figure,
    rated against the benchmark as domain scores are (scorecard.domain_table).

    table: an indicator table whose figures were already released (scorecard.indicator_table,
    drilldown.scope_table): the roll-up only averages what is shown. Columns: group_id, group,
    score, indicators, feeding, benchmark_score, benchmark_gap, status, status_label, and
    domain_id / domain copies of the group, so domain charts draw any lens.
    """
    from dashboard.metrics.scorecard import STATUS_LABELS  # scorecard imports nothing from here

    cat = cat or catalogue.get()
    lens = get(lens) if isinstance(lens, str) else lens
    # Plain lists, not a pandas filter per group: a team profile rolls up three 25-row tables,
    # and seven filtered frames each cost more than the figures they average (bench/README.md).
    # np.sum(...) / len is pandas' mean exactly, so scores are equal to the last bit.
    score_of = pd.to_numeric(table.score, errors="coerce").to_numpy(dtype=np.float64)
    bench_of = pd.to_numeric(table.benchmark_score, errors="coerce").to_numpy(dtype=np.float64)
    scored = table.scored.astype(bool).to_numpy()
    ids, shorts = list(table.indicator_id), list(table.short)
    rows = []
    for group in lens.groups:
        wanted = set(group.indicators)
        part = [k for k, i in enumerate(ids) if i in wanted and scored[k] and not np.isnan(score_of[k])]
        benched = [k for k in part if not np.isnan(bench_of[k])]
        score = float(np.sum(score_of[part]) / len(part)) if part else None
        status, gap, bench_score = "none", None, None
        if benched:
            gap = float(np.sum(score_of[benched]) / len(benched)
                        - np.sum(bench_of[benched]) / len(benched))
            bench_score = score - gap
            status = ("better" if gap > cat.domain_margin
                      else "worse" if gap < -cat.domain_margin else "similar")
        rows.append(
            {
                "group_id": group.id,
                "group": group.name,
                "score": score,
                "indicators": len(part),
                "feeding": ", ".join(shorts[k] for k in part) if part else (
                    NO_INDICATOR if not group.indicators else "no figure shown"),
                "benchmark_score": bench_score,
                "benchmark_gap": gap,
                "status": status,
                "status_label": STATUS_LABELS[status],
            }
        )
    out = pd.DataFrame(rows)
    out["domain_id"] = out.group_id
    out["domain"] = out.group
    out["lens"] = lens.id
    return out
