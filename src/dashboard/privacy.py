"""Anonymity: threshold and complementary suppression, applied to every group figure shown."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SUPPRESSED_TEXT = "fewer than {threshold} responses"


def suppress(
    frame: pd.DataFrame,
    by: Sequence[str],
    threshold: int,
    n_col: str = "n",
    keys: Sequence[str] = ("wave_id", "indicator_id"),
    value_cols: Sequence[str] = ("value", "sd"),
) -> pd.DataFrame:
    """Blank every figure of a group below the threshold, and of a sibling where needed.

    Primary: n < threshold. Complementary: among siblings (same parent in `by`, same keys), a lone
    suppressed group could be recovered as parent minus the others, so the next smallest sibling
    is suppressed as well. Returns a copy with a boolean `suppressed` column; n and value columns
    are NA where suppressed.
    """
    out = frame.copy()
    if out.empty:
        out["suppressed"] = pd.Series(dtype=bool)
        return out
    n = out[n_col].fillna(0)
    out["suppressed"] = n < threshold
    by = list(by)
    if by:
        parent = [k for k in keys if k in out.columns] + by[:-1]
        out["_n"] = n
        if parent:
            grouped = out.groupby(parent, dropna=False, sort=False)
            sizes = grouped["suppressed"].transform("size")
            lone = grouped["suppressed"].transform("sum") == 1
        else:
            sizes = pd.Series(len(out), index=out.index)
            lone = pd.Series(out["suppressed"].sum() == 1, index=out.index)
        candidates = out[lone & (sizes > 1) & ~out["suppressed"]]
        if not candidates.empty:
            key = parent if parent else None
            pick = (
                candidates.sort_values("_n", kind="stable").groupby(key, dropna=False, sort=False).head(1)
                if key
                else candidates.sort_values("_n", kind="stable").head(1)
            )
            out.loc[pick.index, "suppressed"] = True
        out = out.drop(columns="_n")
    for col in [n_col, *value_cols]:
        if col in out.columns:
            out[col] = out[col].astype("float64").where(~out["suppressed"], np.nan)
    return out
