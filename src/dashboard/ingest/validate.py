"""The preview report: counts, sample rows, and every problem as (row, column, value, reason, severity)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashboard.present import plaintext

PROBLEM_COLUMNS = ["row", "column", "value", "reason", "severity"]
WITHHELD = "(identifier withheld)"
MAX_VALUE_CHARS = 80


class Problems:
    """Collects problems vectorised: one call per (mask, column, reason), never one per row."""

    def __init__(self, row_numbers: pd.Series):
        self._rows = row_numbers.reset_index(drop=True)
        self._parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: pd.Series,
        column: str,
        values: pd.Series | None,
        reason: str,
        severity: str = "warning",
        withhold: bool = False,
    ) -> int:
        """Record a problem for every row where mask is true; identifier values are never echoed."""
        mask = mask.fillna(False).astype(bool).reset_index(drop=True)
        count = int(mask.sum())
        if not count:
            return 0
        if withhold or values is None:
            shown = pd.Series(WITHHELD if withhold else "", index=range(count), dtype="string")
        else:
            shown = values.reset_index(drop=True)[mask].astype("string").str.slice(0, MAX_VALUE_CHARS)
        self._parts.append(
            pd.DataFrame(
                {
                    "row": self._rows[mask].to_numpy(),
                    "column": column,
                    "value": shown.fillna("").to_numpy(),
                    "reason": reason,
                    "severity": severity,
                }
            )
        )
        return count

    def add_one(
        self, row: int | None, column: str, value: str, reason: str, severity: str = "warning"
    ) -> None:
        self._parts.append(
            pd.DataFrame(
                [{"row": row, "column": column, "value": value, "reason": reason, "severity": severity}]
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in PROBLEM_COLUMNS})
        out = pd.concat(self._parts, ignore_index=True)
        out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
        return out.sort_values(["row", "column"], na_position="first", kind="stable").reset_index(drop=True)


@dataclass
class Report:
    """Everything the user sees before committing; identical for the page and the CLI."""

    kind: str
    file_name: str
    sha256: str = ""
    source: str = ""  # format, encoding, delimiter, sheet
    rows_read: int = 0
    rows_ready: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: pd.DataFrame = field(default_factory=lambda: Problems(pd.Series(dtype="int64")).frame())
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    merged_teams: pd.DataFrame = field(default_factory=pd.DataFrame)
    reasons: pd.DataFrame = field(default_factory=pd.DataFrame)
    ignored_columns: list[str] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)  # uploaded column -> what it was read as
    can_show: list[str] = field(default_factory=list)  # what the pages can show once this is imported
    cannot_show: list[str] = field(default_factory=list)  # ... and what still needs another file
    import_id: int | None = None
    committed: bool = False
    # Structured questions and what was decided, read by the page (never by matching sentences).
    readings: list = field(default_factory=list)  # readings.Reading per answer column
    waves_without_date: list[str] = field(default_factory=list)  # waves asking for a fieldwork date
    wave_dates: dict[str, str] = field(default_factory=dict)  # wave -> date used, and where it came from
    pairing: pd.DataFrame = field(default_factory=pd.DataFrame)  # result column, indicator, base column
    wide_layout: list[str] = field(default_factory=list)  # year columns awaiting the unpivot answer
    year_columns: list[str] = field(default_factory=list)  # year columns seen, confirmed or not
    no_base: bool = False  # results without any base: asks whether to import as published figures
    mapping_lines: list[str] = field(default_factory=list)  # final mapping, column -> field
    nothing_new: bool = False  # every row is already in the store

    @property
    def ok(self) -> bool:
        return not self.errors and not self.questions

    @property
    def warnings(self) -> int:
        return int((self.problems["severity"] == "warning").sum()) if len(self.problems) else 0

    def problems_csv(self) -> bytes:
        return plaintext.csv_bytes(self.problems)  # formula-like cells neutralised


def render_text(report: Report, max_problems: int = 20) -> str:
    """The report as plain text (stdout of the CLI; the page shows the same sections)."""
    lines = [f"Import of '{report.file_name}' as {report.kind}"]
    if report.source:
        lines.append(f"  read as: {report.source}")
    lines.append(f"  rows read: {report.rows_read}; rows ready to import: {report.rows_ready}")
    for name, value in report.counts.items():
        lines.append(f"  {name}: {value}")
    for r in report.readings:
        if r.status in ("recoded", "codes"):
            pairs = ", ".join(
                f"{v} = {t}" for v, t in zip(r.values["value"], r.values["reads as"], strict=True)
            )
            what = "recode" if r.status == "recoded" else "codes of the question's own scale"
            lines.append(f"  {what} '{r.column}': {pairs}")
        elif r.status == "custom":
            dist = r.distribution
            pairs = ", ".join(f"{a}: {c}" for a, c in zip(dist["answer"], dist["count"], strict=True))
            lines.append(f"  custom indicator from '{r.column}': {pairs}")
    if len(report.pairing):
        lines.append("  rates and their bases:")
        for _, p in report.pairing.iterrows():
            lines.append(f"    '{p['result column']}' ({p['indicator']}) with base {p['base']}")
    for wave, how in report.wave_dates.items():
        lines.append(f"  wave '{wave}': {how}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    if report.mapped:
        lines.append("  mapping used (column -> field):")
        lines.extend(f"    '{column}' -> {target}" for column, target in report.mapped.items())
    elif report.errors and not report.source:
        lines.append("  mapping used: none (the file was not read)")
    if report.ignored_columns:
        lines.append(f"  columns ignored: {', '.join(report.ignored_columns)}")
    for what in report.can_show:
        lines.append(f"  can show: {what}")
    for what in report.cannot_show:
        lines.append(f"  cannot show yet: {what}")
    if len(report.merged_teams):
        lines.append("  team names merged:")
        for _, r in report.merged_teams.iterrows():
            lines.append(f"    {r['variants']} -> {r['team']}")
    if len(report.reasons):
        lines.append("  absence reasons:")
        for _, r in report.reasons.iterrows():
            lines.append(f"    {r['uploaded']} -> {r['code']} ({r['rows']} rows)")
    for q in report.questions:
        lines.append(f"QUESTION: {q}")
    for e in report.errors:
        lines.append(f"ERROR: {e}")
    n = len(report.problems)
    if n:
        lines.append(f"  problems: {n} ({report.warnings} warnings)")
        for _, p in report.problems.head(max_problems).iterrows():
            row = "" if pd.isna(p["row"]) else f"row {p['row']}"
            lines.append(f"    {p['severity']}: {row} [{p['column']}] '{p['value']}': {p['reason']}")
        if n > max_problems:
            lines.append(f"    ... and {n - max_problems} more (download the full list)")
    if report.committed:
        lines.append(f"IMPORTED as import #{report.import_id}")
    elif report.ok:
        lines.append("READY: nothing has been written yet")
    else:
        lines.append("REFUSED: the store was not changed")
    return "\n".join(lines)
