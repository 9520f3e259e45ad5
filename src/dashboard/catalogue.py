"""The indicator catalogue from data/*.toml: the one place that knows items, indicators, domains."""
from __future__ import annotations

import dataclasses
import hashlib
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dashboard.config import DATA_DIR


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    elements: tuple[str, ...]


@dataclass(frozen=True)
class Scale:
    id: str
    labels: dict[str, int]

    @property
    def min(self) -> int:
        return min(self.labels.values())

    @property
    def max(self) -> int:
        return max(self.labels.values())


@dataclass(frozen=True)
class Item:
    id: str
    instrument: str
    label: str
    text: str
    scale: Scale
    reverse: bool
    indicators: tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    value: float
    source: str
    year: int
    percentiles: tuple[float, ...] = ()


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    short: str
    domain: str
    source: str
    kind: str
    favourable: str
    event_min: int | None = None
    combine: str = "any"
    scored: bool = True
    headline: bool = False
    score_zero_at: float | None = None
    items: tuple[str, ...] = ()
    benchmark: Benchmark | None = None
    custom: bool = False  # defined by the user at import (store table custom_indicators)
    rule: str = ""  # a custom indicator's rule in words, e.g. "7 or more"

    @property
    def higher_is_better(self) -> bool:
        return self.favourable == "high"

    @property
    def is_percent(self) -> bool:
        return self.kind in ("proportion", "rate", "share")


@dataclass(frozen=True)
class Catalogue:
    domains: tuple[Domain, ...]
    items: dict[str, Item]
    indicators: dict[str, Indicator]
    scales: dict[str, Scale]
    domain_margin: float
    fingerprint: str
    instruments: dict[str, str] = field(default_factory=dict)

    def domain(self, domain_id: str) -> Domain:
        return next(d for d in self.domains if d.id == domain_id)

    def indicators_in(self, domain_id: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.domain == domain_id]

    def survey_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.source == "survey"]


class CatalogueError(ValueError):
    """The TOML catalogue contradicts itself (unknown domain, scale or indicator)."""


def _load(path: Path) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def load(data_dir: Path = DATA_DIR) -> Catalogue:
    """Read and cross-check the catalogue; raise CatalogueError naming the bad entry."""
    digest = hashlib.sha256()
    files = [data_dir / "framework.toml", data_dir / "indicators.toml", data_dir / "benchmarks.toml"]
    files += sorted((data_dir / "instruments").glob("*.toml"))
    for f in files:
        digest.update(f.read_bytes())

    fw = _load(data_dir / "framework.toml")
    domains = tuple(Domain(d["id"], d["name"], tuple(d["elements"])) for d in fw["domains"])
    domain_ids = {d.id for d in domains}

    scales: dict[str, Scale] = {}
    items: dict[str, Item] = {}
    instruments: dict[str, str] = {}
    for f in sorted((data_dir / "instruments").glob("*.toml")):
        raw = _load(f)
        inst = raw["instrument"]["id"]
        instruments[inst] = raw["instrument"]["name"]
        for sid, s in raw.get("scales", {}).items():
            scales[sid] = Scale(sid, {str(k): int(v) for k, v in s["labels"].items()})
        for it in raw["items"]:
            if it["scale"] not in scales:
                raise CatalogueError(f"item {it['id']} in {f.name}: unknown scale {it['scale']!r}")
            if it["id"] in items:
                raise CatalogueError(f"item {it['id']} is defined twice")
            items[it["id"]] = Item(
                id=it["id"],
                instrument=inst,
                label=it["label"],
                text=it.get("text", it["label"]),
                scale=scales[it["scale"]],
                reverse=bool(it.get("reverse", False)),
                indicators=tuple(it["indicators"]),
            )

    bench_raw = _load(data_dir / "benchmarks.toml")
    benchmarks = {
        k: Benchmark(float(v["value"]), v["source"], int(v["year"]), tuple(v.get("percentiles", ())))
        for k, v in bench_raw.get("benchmarks", {}).items()
    }

    indicators: dict[str, Indicator] = {}
    for iid, raw in _load(data_dir / "indicators.toml")["indicators"].items():
        if raw["domain"] not in domain_ids:
            raise CatalogueError(f"indicator {iid}: unknown domain {raw['domain']!r}")
        feeding = tuple(i.id for i in items.values() if iid in i.indicators)
        if raw["source"] == "survey" and not feeding:
            raise CatalogueError(f"survey indicator {iid} has no items")
        if raw["kind"] == "proportion" and "event_min" not in raw:
            raise CatalogueError(f"proportion indicator {iid} needs event_min")
        indicators[iid] = Indicator(
            id=iid,
            label=raw["label"],
            short=raw.get("short", raw["label"]),
            domain=raw["domain"],
            source=raw["source"],
            kind=raw["kind"],
            favourable=raw["favourable"],
            event_min=raw.get("event_min"),
            combine=raw.get("combine", "any"),
            scored=bool(raw.get("scored", True)),
            headline=bool(raw.get("headline", False)),
            score_zero_at=raw.get("score_zero_at"),
            items=feeding,
            benchmark=benchmarks.get(iid),
        )
    for it in items.values():
        for ind in it.indicators:
            if ind not in indicators:
                raise CatalogueError(f"item {it.id} feeds unknown indicator {ind!r}")
    for bid in benchmarks:
        if bid not in indicators:
            raise CatalogueError(f"benchmark for unknown indicator {bid!r}")

    return Catalogue(
        domains=domains,
        items=items,
        indicators=indicators,
        scales=scales,
        domain_margin=float(bench_raw.get("rag", {}).get("domain_margin", 0.5)),
        fingerprint=digest.hexdigest()[:16],
        instruments=instruments,
    )


@lru_cache(maxsize=4)
def _base(data_dir: Path) -> Catalogue:
    return load(data_dir)


# Custom indicators live in the store (defined with an import), not in TOML: store.connect and
# every import or undo hand them here, so every page that asks the catalogue sees them.
_CUSTOM: dict[str, Indicator] = {}
_CUSTOM_LOCK = threading.Lock()


def rule_text(op: str, value: float) -> str:
    """'7 or more' / '0.3 or less': how a custom rule reads on screen."""
    shown = f"{value:g}"
    return f"{shown} or more" if op == ">=" else f"{shown} or less"


def custom_indicator(
    indicator_id: str, name: str, domain: str, favourable: str, op: str, value: float
) -> Indicator:
    """A user-defined proportion indicator: the share of respondents whose value meets the rule."""
    rule = rule_text(op, value)
    return Indicator(
        id=indicator_id,
        label=f"{name} (custom: {rule})",
        short=f"{name} (custom)",
        domain=domain,
        source="survey",
        kind="proportion",
        favourable=favourable,
        scored=True,
        custom=True,
        rule=rule,
    )


def set_custom(indicators: Iterable[Indicator]) -> None:
    """Replace the custom indicators joined to the TOML catalogue (called with the store's rows)."""
    with _CUSTOM_LOCK:
        _CUSTOM.clear()
        _CUSTOM.update({i.id: i for i in indicators})


def get(data_dir: Path = DATA_DIR) -> Catalogue:
    """The TOML catalogue plus the store's custom indicators (marked custom wherever shown)."""
    base = _base(data_dir)
    with _CUSTOM_LOCK:
        extra = {k: v for k, v in _CUSTOM.items() if k not in base.indicators and v.domain in
                 {d.id for d in base.domains}}
    if not extra:
        return base
    return dataclasses.replace(base, indicators={**base.indicators, **extra})
