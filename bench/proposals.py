"""Proposed faster drop-ins for hot spots the benchmark found, kept here for their owners to adopt."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from dashboard import privacy


def plan_one_fast(
    n: np.ndarray,
    codes: list[np.ndarray],
    threshold: int,
    last: list[np.ndarray | None] | None = None,
) -> list[np.ndarray]:
    """Same decisions as `privacy._plan_one`, with per-group work proportional to the group's cells.

    privacy._plan_one rebuilds the class weights over every cell for every candidate group and
    relabels the classes with np.unique (a sort of all cells) after each release, so one plan
    costs O(groups x cells log cells): ~3,000 groups x ~12,000 cells per wave and indicator at
    2,000 teams. Here each cut's member cells are found once (one argsort), class weights are
    kept up to date as classes split, and a release only relabels the group's own cells.
    """
    cls = np.zeros(len(n), dtype=np.int64)
    weight = np.array([float(n.sum())])      # respondents in each class of the partition so far
    out = []
    for i, code in enumerate(codes):
        valid = code >= 0
        groups_n = np.bincount(code[valid], weights=n[valid]) if valid.any() else np.zeros(0)
        released = np.zeros(len(groups_n), dtype=bool)
        late = last[i] if last is not None and last[i] is not None else np.zeros(len(groups_n), bool)
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(groups_n) + 1))
        for g in np.lexsort((-groups_n, late)):
            if groups_n[g] < threshold:
                continue
            idx = order[bounds[g]:bounds[g + 1]]
            touched, inv = np.unique(cls[idx], return_inverse=True)
            inside = np.bincount(inv, weights=n[idx])
            hit = inside > 0
            rest = weight[touched] - inside
            if np.all(inside[hit] >= threshold) and np.all(((rest == 0) | (rest >= threshold))[hit]):
                released[g] = True
                # a class partly inside the group splits in two; one wholly inside stays as it is
                split = hit & (rest > 0)
                relabel = touched.copy()
                relabel[split] = np.arange(len(weight), len(weight) + int(split.sum()))
                cls[idx] = relabel[inv]
                weight[touched[split]] -= inside[split]
                weight = np.concatenate([weight, inside[split]])
        out.append(released)
    return out


def compare_release_plans(
    cell_frame: pd.DataFrame, threshold: int, fast: Callable = plan_one_fast
) -> dict:
    """Run privacy.release_plan with its own _plan_one and with `fast`; report seconds and
    whether the two plans are identical."""
    own = privacy._plan_one
    seconds, plans = {}, {}
    try:
        for name, fn in (("current", own), ("proposed", fast)):
            privacy._plan_one = fn
            t0 = time.perf_counter()
            plans[name] = privacy.release_plan(cell_frame, threshold)
            seconds[name] = time.perf_counter() - t0
    finally:
        privacy._plan_one = own
    return {"seconds": seconds, "identical": plans["current"].equals(plans["proposed"]),
            "released": int(plans["current"].released.sum()), "rows": len(plans["current"])}
