"""Answer columns read against their item's scale: confirmed readings, recode questions, custom rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashboard import catalogue
from dashboard.ingest.mapping import (
    MISSING_MARKERS,
    MISSING_READING,
    _normalise_answer,
    map_answers,
    normalise_header,
    scale_lookup,
)

# Below this share of answers matching the item's labels, a column holds another label set.
LABEL_SHARE = 0.5
OPS = {">=": "or more", "<=": "or less"}


@dataclass
class Reading:
    """How one answer column is read; a question when it is not yet confirmed (structured for the UI)."""

    column: str
    target: str  # catalogue item id, or custom indicator id
    target_label: str
    status: str  # labels | codes | recoded | custom | question
    values: pd.DataFrame  # value, count, reads as
    distribution: pd.DataFrame  # answer, count, share (what would be imported)
    labels: list[str] = field(default_factory=list)  # the item's scale labels, lowest value first
    why: str = ""
    proposed: dict[str, str | None] = field(default_factory=dict)  # value -> label (recode default)
    suggest_custom: dict | None = None  # a default custom definition the user can edit

    @property
    def confirmed(self) -> bool:
        return self.status != "question"

    def describe(self) -> str:
        """One line for the text report: column -> target and how its values read."""
        if self.status == "custom":
            return f"'{self.column}' -> {self.target_label}"
        how = {
            "labels": "answer labels",
            "codes": "the scale's own codes",
            "recoded": "confirmed recode",
            "question": "NOT CONFIRMED",
        }[self.status]
        return f"'{self.column}' -> {self.target} ({self.target_label}), read as {how}"


def _text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string").str.strip()
    missing = text.isna() | text.str.casefold().isin(MISSING_MARKERS)
    return text, missing


def _number(text: str) -> float | None:
    try:
        return float(str(text).replace(",", "."))
    except ValueError:
        return None


def distinct_values(values: pd.Series) -> pd.DataFrame:
    """Distinct non-missing values with counts, numbers in numeric order, else most common first."""
    text, missing = _text(values)
    counts = text[~missing].value_counts()
    frame = pd.DataFrame({"value": counts.index.astype(str), "count": counts.to_numpy()})
    nums = frame["value"].map(_number)
    if len(frame) and nums.notna().all():
        frame = frame.assign(_n=nums).sort_values("_n").drop(columns="_n")
    return frame.reset_index(drop=True)


def _ordered_labels(scale: catalogue.Scale) -> list[str]:
    return [k for k, _ in sorted(scale.labels.items(), key=lambda kv: kv[1])]


def propose_recode(distinct: list[str], scale: catalogue.Scale) -> dict[str, str | None]:
    """A default reading the user confirms: codes by rank, a 4-point scale without its middle,
    labels matched by spelling; None where nothing sensible can be proposed."""
    labels = _ordered_labels(scale)
    nums = [_number(v) for v in distinct]
    if distinct and all(n is not None for n in nums) and any(n != int(n) for n in nums):
        return {v: None for v in distinct}  # decimal scores: no label is proposed for any of them
    if distinct and all(n is not None and n == int(n) for n in nums):
        order = sorted(set(int(n) for n in nums))
        consecutive = order == list(range(order[0], order[0] + len(order)))
        if consecutive and order[0] in (0, 1):
            by_code: dict[int, str] | None = None
            if len(order) == len(labels):
                by_code = dict(zip(order, labels, strict=True))
            elif len(order) == len(labels) - 1 and len(labels) % 2 == 1:
                # A 4-point agree scale has no neutral middle: drop the middle label.
                mid = len(labels) // 2
                by_code = dict(zip(order, labels[:mid] + labels[mid + 1 :], strict=True))
            if by_code:
                return {v: by_code[int(_number(v))] for v in distinct}
        return {v: None for v in distinct}
    lookup = scale_lookup(scale)
    back = {val: lab for lab, val in scale.labels.items()}
    return {v: back.get(lookup.get(_normalise_answer(v), -99)) for v in distinct}


def suggest_custom(column: str, distinct: list[str], item: catalogue.Item | None = None) -> dict | None:
    """A custom indicator for a numeric column: the top 30 % of its range counts, as a start.

    The domain and favourable direction follow the item the column was mapped to, if any.
    """
    nums = [n for n in (_number(v) for v in distinct) if n is not None]
    if not nums or len(nums) < len(distinct):
        return None
    lo, hi = min(nums), max(nums)
    cut = lo + 0.7 * (hi - lo)
    decimals = any(n != int(n) for n in nums)
    cut = round(cut, 1) if decimals else float(round(cut))
    domain, favourable = "personal_health", "low"
    if item is not None:
        ind = catalogue.get().indicators[item.indicators[0]]
        domain, favourable = ind.domain, ind.favourable
    name = re.sub(r"\s*\(.*?\)\s*", " ", str(column)).strip() or str(column)
    name = re.sub(r"^q\d+[a-z]?[.:]?\s*", "", name, flags=re.IGNORECASE)[:40].strip() or str(column)[:40]
    return {"name": name, "domain": domain, "favourable": favourable, "op": ">=", "value": cut}


def _distribution(mapped: pd.Series, missing_count: int, scale: catalogue.Scale) -> pd.DataFrame:
    counts = mapped.dropna().astype(int).value_counts()
    rows = [(lab, int(counts.get(val, 0))) for lab, val in sorted(scale.labels.items(), key=lambda kv: kv[1])]
    total = sum(c for _, c in rows)
    frame = pd.DataFrame(rows, columns=["answer", "count"])
    frame["share"] = (frame["count"] / total).round(3) if total else 0.0
    if missing_count:
        frame.loc[len(frame)] = [MISSING_READING, missing_count, np.nan]
    return frame


def _question(column: str, item: catalogue.Item, distinct: pd.DataFrame, labels: list[str], why: str,
              proposed: dict[str, str | None]) -> Reading:
    """A column that cannot be read yet: each value with its count and proposed reading, and a
    suggested custom indicator in case it is not this question at all."""
    values_list = distinct["value"].tolist()
    return Reading(
        column,
        item.id,
        item.label,
        "question",
        distinct.assign(**{"reads as": [proposed.get(v) or "?" for v in values_list]}),
        pd.DataFrame(columns=["answer", "count", "share"]),
        labels,
        why,
        proposed,
        suggest_custom(column, values_list, item),
    )


def read_item_column(
    column: str,
    values: pd.Series,
    item: catalogue.Item,
    recode: dict[str, str] | None,
    extra_labels: dict[str, int] | None = None,
) -> tuple[Reading, pd.Series | None, pd.Series | None]:
    """Check a column against its item's scale: (reading, Int8 values, unknown mask).

    Values are returned only for a confirmed reading: the item's own labels, its codes where the
    numbers span the scale exactly, or a recode the user confirmed. Anything else is a question.
    """
    scale = item.scale
    labels = _ordered_labels(scale)
    text, missing = _text(values)
    distinct = distinct_values(values)
    values_list = distinct["value"].tolist()
    target_label = item.label
    if recode:
        norm_recode = {_normalise_answer(k): v for k, v in recode.items()}
        bad_targets = sorted({v for v in recode.values() if v not in scale.labels and v != MISSING_READING})
        uncovered = [v for v in values_list if _normalise_answer(v) not in norm_recode]
        if bad_targets or uncovered:
            why = (
                f"not answers of this question: {', '.join(bad_targets)}"
                if bad_targets
                else f"values with no reading yet: {', '.join(uncovered[:12])}"
            )
            return _question(column, item, distinct, labels, why,
                             {v: recode.get(v) for v in values_list}), None, None
        norm = text.map(lambda v: _normalise_answer(v) if pd.notna(v) else None)
        target = norm.map(lambda v: norm_recode.get(v) if v is not None else None)
        as_missing = target == MISSING_READING
        mapped = pd.array(
            target.map(lambda t: scale.labels.get(t) if isinstance(t, str) else None), dtype="Int8"
        )
        mapped = pd.Series(mapped, index=values.index)
        unknown = pd.Series(False, index=values.index)
        reads = [norm_recode[_normalise_answer(v)] for v in values_list]
        reading = Reading(
            column,
            item.id,
            target_label,
            "recoded",
            distinct.assign(**{"reads as": reads}),
            _distribution(mapped, int((missing | as_missing.fillna(False)).sum()), scale),
            labels,
            proposed={v: r for v, r in zip(values_list, reads, strict=True)},
        )
        return reading, mapped, unknown

    lookup = scale_lookup(scale, extra_labels)
    label_keys = {k for k in lookup if _number(k) is None}
    norms = [_normalise_answer(v) for v in values_list]
    counts = distinct["count"].tolist()
    is_label = [n in label_keys for n in norms]
    nums = [_number(v) if not lab else None for v, lab in zip(values_list, is_label, strict=True)]
    label_answers = sum(c for c, lab in zip(counts, is_label, strict=True) if lab)
    total = sum(counts)
    numbers = {n for n in nums if n is not None}
    scale_values = set(scale.labels.values())
    codes_fit = (
        bool(numbers)
        and all(n == int(n) and int(n) in scale_values for n in numbers)
        and (label_answers > 0 or {scale.min, scale.max} <= {int(n) for n in numbers})
    )
    other_text = total - label_answers - sum(c for c, n in zip(counts, nums, strict=True) if n is not None)
    if not numbers and (total == 0 or label_answers / total >= LABEL_SHARE):
        status, why = "labels", ""
    elif numbers and codes_fit and other_text / max(total, 1) < LABEL_SHARE:
        status, why = "codes", ""
    else:
        status = "question"
        if numbers and any(n != int(n) for n in numbers):
            why = "decimal scores, not answers to this question"
        elif numbers:
            shown = sorted(numbers)
            why = (
                f"numbers {shown[0]:g} to {shown[-1]:g}, not this question's answers "
                f"({', '.join(f'{scale.labels[lab]} = {lab}' for lab in labels)})"
            )
        else:
            why = "other labels than this question's answers"
    if status == "question":
        return _question(column, item, distinct, labels, why,
                         propose_recode(values_list, scale)), None, None
    mapped, unknown = map_answers(values, scale, extra_labels)
    back = {val: lab for lab, val in scale.labels.items()}
    reads = [back.get(lookup.get(n, -99), "unknown: not imported") for n in norms]
    reading = Reading(
        column,
        item.id,
        target_label,
        status,
        distinct.assign(**{"reads as": reads}),
        _distribution(mapped, int(missing.sum()), scale),
        labels,
    )
    return reading, mapped, unknown


def custom_id(name: str) -> str:
    return "custom_" + normalise_header(name).replace(" ", "_").replace("%", "pct")[:40]


def check_custom(definition: dict, domains: dict[str, str]) -> tuple[dict | None, str | None]:
    """A complete, valid custom definition (domain id resolved), or the reason it is not."""
    name = " ".join(str(definition.get("name") or "").split())
    if not name:
        return None, "a custom indicator needs a name"
    dom = definition.get("domain")
    dom_id = domains.get(normalise_header(dom or ""))
    if dom_id is None:
        return (
            None,
            f"domain '{dom}' is not one of the seven domains ({', '.join(sorted(set(domains.values())))})",
        )
    fav = str(definition.get("favourable", "")).strip().lower()
    if fav not in ("low", "high"):
        return None, "favourable direction must be 'low' or 'high'"
    op = str(definition.get("op", "")).strip()
    if op not in OPS:
        return None, "the rule must be '>=' (this value or more counts) or '<=' (this value or less)"
    try:
        value = float(definition.get("value"))
    except (TypeError, ValueError):
        return None, "the rule needs a number (for example 7 in '7 or more')"
    return {"name": name, "domain": dom_id, "favourable": fav, "op": op, "value": value}, None


def read_custom_column(
    column: str, values: pd.Series, definition: dict
) -> tuple[Reading, pd.Series, pd.Series]:
    """A column read as a custom indicator: (reading, numbers, not-a-number mask)."""
    text, missing = _text(values)
    nums = pd.to_numeric(text.str.replace(",", ".", regex=False).where(~missing), errors="coerce")
    bad = ~missing & nums.isna()
    op, cut = definition["op"], float(definition["value"])
    meets = (nums >= cut) if op == ">=" else (nums <= cut)
    rule = catalogue.rule_text(op, cut)
    distinct = distinct_values(values)
    reads = []
    for v in distinct["value"]:
        n = _number(v)
        reads.append(
            "not a number: not imported"
            if n is None
            else ("counts" if (n >= cut if op == ">=" else n <= cut) else "does not count")
        )
    counted = int((meets & nums.notna()).sum())
    answered = int(nums.notna().sum())
    dist = pd.DataFrame(
        {
            "answer": [
                f"{rule} (counts)",
                "below the rule" if op == ">=" else "above the rule",
                MISSING_READING,
            ],
            "count": [counted, answered - counted, int(missing.sum())],
        }
    )
    dist["share"] = [
        round(counted / answered, 3) if answered else np.nan,
        round((answered - counted) / answered, 3) if answered else np.nan,
        np.nan,
    ]
    label = f"{definition['name']} (custom: {rule} counts; {definition['favourable']} is favourable)"
    reading = Reading(
        column,
        custom_id(definition["name"]),
        label,
        "custom",
        distinct.assign(**{"reads as": reads}),
        dist,
    )
    return reading, nums, bad
