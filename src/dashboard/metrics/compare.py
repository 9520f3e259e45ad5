"""Compare 2-6 teams on every indicator, with n and the organisation and benchmark beside them."""
from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from dashboard import privacy
from dashboard.metrics import drilldown
from dashboard.present import formatting
from dashboard.store import derived

COLUMNS = ["team", "indicator_id", "indicator", "short", "domain", "kind", "favourable", "value", "n",
           "organisation_value", "organisation_n", "benchmark", "status_label", "note"]


@derived.reads
def indicators(
    con: duckdb.DuckDBPyConnection, unit_ids: Sequence[int], wave_id: int, threshold: int
) -> tuple[pd.DataFrame, list[str]]:
    """Every catalogue indicator for 2-6 teams side by side, each released as in its team profile.

    Returns (long frame with COLUMNS, names of teams left out because they are not reportable in
    the wave). Each team's figures come from drilldown.scope_table with one release plan for the
    wave (survey figures) and the Absence page's staff-in-post rule (absence figures), so a figure
    shown here is one the team profile shows; a withheld figure is blank with its reason in note.
    No figure pools the chosen teams.
    """
    unit_ids = list(dict.fromkeys(int(u) for u in unit_ids))
    if not 2 <= len(unit_ids) <= 6:
        raise ValueError("compare 2 to 6 teams")
    tree = drilldown.unit_tree(con).set_index("unit_id")
    unknown = [u for u in unit_ids if u not in tree.index]
    if unknown:
        raise ValueError(f"unknown unit {unknown[0]}")
    release = privacy.plan_rows(con, threshold, _waves(con, wave_id),
                                [("organisation", None)] + [("team", tree.at[u, "team"]) for u in unit_ids])
    now = release[(release.wave_id == wave_id) & (release.cut == "team") & release.released]
    reportable = set(now.team)
    shown = [u for u in unit_ids if tree.at[u, "team"] in reportable]
    left_out = [tree.at[u, "team"] for u in unit_ids if u not in shown]
    tables = drilldown.scope_tables(
        con, wave_id, threshold, {"organisation": {}, **{str(u): {"unit_id": u} for u in shown}},
        release, tree=tree.reset_index())
    org = tables["organisation"].set_index("indicator_id")
    frames = []
    for uid in shown:
        table = tables[str(uid)].assign(team=tree.at[uid, "team"])
        table["organisation_value"] = table.indicator_id.map(org["value"])
        table["organisation_n"] = table.indicator_id.map(org["n"])
        table["status_label"] = table.status.map(
            lambda s: {"better": "▲ better than benchmark", "similar": "● similar to benchmark",
                       "worse": "▼ worse than benchmark"}.get(s, "")
        )
        table["note"] = [b or n for b, n in zip(table.band, table.note, strict=True)]
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=COLUMNS), left_out
    return pd.concat(frames, ignore_index=True)[COLUMNS], left_out


def _waves(con: duckdb.DuckDBPyConnection, wave_id: int) -> list[int]:
    """The wave and the one before it (scope_table shows the change since the previous wave)."""
    rows = con.execute(
        """
        SELECT wave_id FROM waves
        WHERE fielded_on <= (SELECT fielded_on FROM waves WHERE wave_id = ?)
        ORDER BY fielded_on DESC LIMIT 2
        """,
        [int(wave_id)],
    ).fetchall()
    return [int(r[0]) for r in rows]


def n_text(kind: str, n: float | None, value: float | None, note: str) -> str:
    """n for a survey figure; '–' with the reason where there is none (never a bare None)."""
    if kind not in ("proportion", "mean"):
        return "–"   # absence and data-quality rows: n would count episodes or teams, not people
    if n is None or pd.isna(n) or value is None or pd.isna(value):
        return f"– ({note})" if note else "–"
    return f"{int(n)}"


def wide(frame: pd.DataFrame, teams: Sequence[str]) -> pd.DataFrame:
    """The comparison as a table: one row per indicator; per team its value and n; then the
    organisation and the benchmark."""
    rows = []
    for _iid, part in frame.groupby("indicator_id", sort=False):
        first = part.iloc[0]
        row = {"Domain": first.domain, "Indicator": first.indicator}
        for team in teams:
            mine = part[part.team == team]
            if mine.empty:
                continue
            r = mine.iloc[0]
            row[team] = formatting.value(r.kind, r.value) if pd.notna(r.value) else "–"
            row[f"{team}: n"] = n_text(r.kind, r.n, r.value, r.note)
        row["Organisation"] = formatting.value(first.kind, first.organisation_value)
        row["Benchmark"] = formatting.value(first.kind, first.benchmark)
        rows.append(row)
    return pd.DataFrame(rows)
