"""The annual board wellbeing report: a board paper built from the released figures, as DOCX or HTML."""
from __future__ import annotations

import base64
import html
import io
from datetime import date

import duckdb
import pandas as pd

from dashboard.framework import diagnostic, improvement, interventions
from dashboard.metrics import absence, briefing, findings, lenses, scorecard
from dashboard.metrics.briefing import Briefing
from dashboard.present import formatting, screens, slides
from dashboard.present.charts import common

SECTIONS = (
    "Summary",
    "The seven domains against the benchmark and last year",
    "The People Promise and the HSE Management Standards",
    "Self-assessment against the data",
    "Sickness absence",
    "Interventions evaluated",
    "What is planned",
    "The improvement plan",
    "Data quality",
    "Privacy statement",
)


def gather(con: duckdb.DuckDBPyConnection, year: int, threshold: int) -> tuple[Briefing, dict]:
    """The briefing for the year's survey wave, absence over the calendar year, and last year's
    absence for comparison."""
    wave_id = briefing.wave_for_year(con, year)
    period = (date(year, 1, 1), date(year, 12, 31))
    brief = briefing.gather(con, wave_id, threshold, absence_period=period)
    last_year = absence.period_summary(con, date(year - 1, 1, 1), date(year - 1, 12, 31), threshold=threshold)
    return brief, last_year


def records(con: duckdb.DuckDBPyConnection, brief: Briefing, today: date | None = None) -> dict:
    """What the organisation has recorded beside the figures: the improvement plan's actions
    (improvement.list_actions) and each framework element's latest self-rating beside the
    briefing's released domain figures (diagnostic.beside_data, as on the Framework page)."""
    table = brief.table
    beside = diagnostic.beside_data(diagnostic.latest(con), table, lenses.rollup(table, lenses.DEFAULT))
    return {"actions": improvement.list_actions(con, today), "beside": beside}


def _lens_blocks(brief: Briefing) -> list[tuple]:
    out: list[tuple] = [("p", "The same released figures grouped by the NHS People Promise themes and by "
                              "the HSE Management Standards; a group's score is the mean of its "
                              "indicators' 0-10 scores, as the domains are.")]
    for lens_id in lenses.options():
        if lens_id == lenses.DEFAULT:
            continue
        lens = lenses.get(lens_id)
        roll = lenses.rollup(brief.table, lens)
        out.append(("p", f"{lens.title} ({lens.source})." if lens.source else f"{lens.title}."))
        out.append(("table", [lens.name, "Score", "Benchmark", "Against benchmark", "Indicators"],
                    [[r.group, formatting.score(r.score) if pd.notna(r.score) else "–",
                      formatting.score(r.benchmark_score) if pd.notna(r.benchmark_score) else "–",
                      r.status_label if pd.notna(r.score) else "–", r.feeding]
                     for r in roll.itertuples(index=False)]))
    return out


def _diagnostic_blocks(beside: pd.DataFrame | None) -> list[tuple]:
    rated = beside[beside.rating.notna()] if beside is not None else pd.DataFrame()
    if rated.empty:
        return [("p", "No element of the framework's organisational diagnostic has been self-assessed "
                      "yet (the Framework page records assessments).")]
    gaps = rated[rated.flag == "gap"]
    out: list[tuple] = [("p", f"{len(rated)} of the framework's {len(beside)} elements are self-assessed; "
                              f"{len(gaps)} rated well where staff report otherwise.")]
    out += [("li", f"{r.element}: rated {r.rating_label}, but {r.flag_reason}.")
            for r in gaps.itertuples(index=False)]
    rows = []
    for r in beside.itertuples(index=False):
        assessed = ("–" if r.assessed_on is None or pd.isna(r.assessed_on)
                    else f"{pd.Timestamp(r.assessed_on):%d %b %Y} by {r.assessed_by}")
        rows.append([r.element, r.rating_label, assessed,
                     "–" if pd.isna(r.domain_score) else f"{formatting.score(r.domain_score)} "
                     f"({r.domain_status_label})", r.flag_text or "–"])
    out.append(("table", ["Element", "Self-rating", "Assessed", "Domain score", "Flag"], rows))
    return out


def _register_blocks(brief: Briefing) -> list[tuple]:
    reg = brief.register
    ahead = reg[reg.status.isin(["planned", "running"])]
    out: list[tuple] = []
    if ahead.empty:
        out.append(("p", "No intervention is registered as planned or still awaiting data."))
    for iv in ahead.itertuples(index=False):
        out.append(("li", f"{iv.name} ({iv.domain_name}): {iv.status}, from "
                          f"{pd.Timestamp(iv.start_date):%d %B %Y}, {iv.n_units} team(s)."))
    if reg.empty:
        return out
    out.append(("p", "Every intervention in the register, with what evaluation reviews ask of it "
                     "(prevention level, the resources it works on, who drives it, its stage and cost)."))
    rows = []
    for iv in reg.itertuples(index=False):
        fields = interventions.RegisterFields.from_row(iv)
        rows.append([iv.name, iv.status.capitalize(),
                     interventions.short_label("prevention_level", fields.prevention_level) or "–",
                     ", ".join(interventions.short_label("resources", r) for r in fields.resources) or "–",
                     interventions.register_options()["driver"].get(fields.driver, "–")
                     if fields.driver else "–",
                     interventions.short_label("stage", fields.stage) or "–",
                     "–" if fields.cost is None else f"£{fields.cost:,.0f}"])
    out.append(("table", ["Intervention", "Status", "Prevention", "Resources", "Who drives it", "Stage",
                          "Cost"], rows))
    return out


def _plan_blocks(actions: pd.DataFrame) -> list[tuple]:
    if actions.empty:
        return [("p", "No action is in the improvement plan yet (the Framework page records them).")]
    summary = improvement.summary(actions)
    counts = ", ".join(f"{n} {status}" for status, n in summary["by_status"].items() if n)
    out: list[tuple] = [("p", f"{summary['total']} action(s) in the plan ({counts}); "
                              f"{summary['overdue']} overdue; {summary['in_register']} became "
                              "evaluated interventions.")]
    rows = [[a.title, a.gap, a.owner, f"{pd.Timestamp(a.due_date):%d %b %Y}",
             a.status + (" (overdue)" if a.overdue else ""),
             a.intervention if isinstance(a.intervention, str) else "–"]
            for a in actions.itertuples(index=False)]
    out.append(("table", ["Action", "Gap it addresses", "Owner", "Due", "Status", "In the register as"],
                rows))
    return out


def blocks(brief: Briefing, last_year: dict, year: int, recorded: dict | None = None) -> list[tuple]:
    """The paper as a list of blocks: ("h1"|"h2"|"p"|"li", text), ("table", header, rows),
    ("img", png, caption). Both renderers read the same blocks, so DOCX and HTML agree.
    recorded: records() (the plan and the self-assessment); None reads as nothing recorded."""
    recorded = recorded or {}
    actions = recorded.get("actions")
    beside = recorded.get("beside")
    out: list[tuple] = [("title", f"Staff wellbeing: annual report to the board, {year}"),
                        ("p", f"{brief.dataset}. Survey wave {brief.wave_label}; sickness absence "
                              f"{brief.absence_period[0]:%d %B %Y} to {brief.absence_period[1]:%d %B %Y}. "
                              f"Produced {brief.produced:%d %B %Y} from the data, with no figures typed "
                              "by hand.")]
    counts = brief.domains.status.value_counts()
    s = brief.absence_summary
    out += [("h1", SECTIONS[0]),
            ("p", f"Of the seven wellbeing domains, {counts.get('better', 0)} are better than the "
                  f"benchmark, {counts.get('similar', 0)} similar and {counts.get('worse', 0)} worse."),
            ("p", f"Sickness absence in {year} was {formatting.value('rate', s['rate'])} of working days "
                  f"({formatting.whole(s['fte_days_lost'])} FTE days), against "
                  f"{formatting.value('rate', last_year['rate'])} in {year - 1}."),
            ("p", findings.summary_sentence(brief.ranked))]
    out += [("li", f.text) for f in brief.ranked]

    out.append(("h1", SECTIONS[1]))
    rows = []
    for dom in brief.domains.itertuples(index=False):
        rows.append([dom.domain, formatting.score(dom.score),
                     formatting.score(dom.benchmark_score) if pd.notna(dom.benchmark_score) else "–",
                     scorecard.STATUS_LABELS[dom.status]])
    out.append(("table", ["Domain", "Score", "Benchmark", "Against benchmark"], rows))
    overview = screens.makers(brief)[0]()
    out.append(("img", slides.chart_png(common.base_config(overview.chart), brief.footer),
                "Seven-domain scores (0-10, higher is better); black tick: the benchmark."))
    rows = []
    for r in brief.table[brief.table.value.notna()].itertuples(index=False):
        rows.append([r.indicator, formatting.value(r.kind, r.value),
                     "–" if pd.isna(r.n) else f"{int(r.n):,}",
                     formatting.value(r.kind, r.benchmark) if pd.notna(r.benchmark) else "–",
                     formatting.change(r.kind, r.change) or "–", scorecard.STATUS_LABELS[r.status]])
    header = ["Indicator", "Value", "n", "Benchmark", "Change since last year", "Against benchmark"]
    out.append(("table", header, rows))

    out.append(("h1", SECTIONS[2]))
    out += _lens_blocks(brief)

    out.append(("h1", SECTIONS[3]))
    out += _diagnostic_blocks(beside)

    out.append(("h1", SECTIONS[4]))
    whole = formatting.whole
    out.append(("p", f"Rate {formatting.value('rate', s['rate'])} ({year - 1}: "
                     f"{formatting.value('rate', last_year['rate'])}). Cost: {whole(s['fte_days_lost'])} "
                     f"FTE days lost out of {whole(s['fte_days_available'])} available ({year - 1}: "
                     f"{whole(last_year['fte_days_lost'])}). {whole(s['episodes'])} "
                     "episodes; calendar days, NHS definition."))
    if s.get("suppressed") or last_year.get("suppressed"):
        out.append(("p", "Figures shown as – are withheld: "
                         f"{formatting.fewer_than(brief.threshold, formatting.STAFF)} in some month."))
    all_reasons = brief.absence_reasons
    reasons = all_reasons[~all_reasons.suppressed & all_reasons.reason_code.notna()]
    out.append(("table", ["Reason", "FTE days lost", "Share of days with a reason"],
                [[r.reason, f"{r.fte_days_lost:,.0f}", formatting.value("share", r.share)]
                 for r in reasons.head(10).itertuples(index=False)]))

    out.append(("h1", SECTIONS[5]))
    if not brief.evaluations:
        out.append(("p", "No intervention has survey or absence data on both sides of its start yet."))
    rows = []
    for ev in brief.evaluations:
        for r in ev.results:
            level = {2: "Level 2: before and after only", 3: "Level 3: compared with teams without it"}
            rows.append([ev.intervention["name"], r.label, r.verdict.capitalize(),
                         findings.change_sentence(r, ev.n_target_units), level.get(r.level, "–")])
    if rows:
        header = ["Intervention", "Indicator", "Verdict", "What changed", "Evidence (Magenta Book)"]
        out.append(("table", header, rows))
        out.append(("p", "“Likely” means the change is unlikely to be chance; it does not prove that the "
                         "intervention caused it."))

    out.append(("h1", SECTIONS[6]))
    out += _register_blocks(brief)

    out.append(("h1", SECTIONS[7]))
    out += _plan_blocks(actions if actions is not None else pd.DataFrame(columns=["status"]))

    out.append(("h1", SECTIONS[8]))
    quality = brief.table[brief.table.domain_id == "data_insights"]
    out += [("li", f"{r.indicator}: {formatting.value(r.kind, r.value)}")
            for r in quality.itertuples(index=False)]

    out.append(("h1", SECTIONS[9]))
    out.append(("p", "No figure in this report describes a group with "
                     f"{formatting.fewer_than(brief.threshold, formatting.RESPONSES_OR_STAFF)}, and no "
                     "figure lets such a group be worked out by subtraction. Staff identifiers are "
                     "replaced by a keyed hash when data is imported. The data is special-category "
                     "health data and is held on the organisation's own systems."))
    return out


def to_docx(blocks_: list[tuple], footer: str) -> bytes:
    """An editable Word document with the footer on every page."""
    from docx import Document
    from docx.shared import Inches

    doc = Document()
    doc.sections[0].footer.paragraphs[0].text = footer
    for block in blocks_:
        kind = block[0]
        if kind == "title":
            doc.add_heading(block[1], level=0)
        elif kind == "h1":
            doc.add_heading(block[1], level=1)
        elif kind == "p":
            doc.add_paragraph(block[1])
        elif kind == "li":
            doc.add_paragraph(block[1], style="List Bullet")
        elif kind == "table":
            header, rows = block[1], block[2]
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Light Grid Accent 1"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = text
            for row in rows:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = str(text)
        elif kind == "img":
            doc.add_picture(io.BytesIO(block[1]), width=Inches(6.3))
            doc.add_paragraph(block[2], style="Caption")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


_PRINT_CSS = """
body {font-family: Arial, sans-serif; font-size: 12pt; color: #1A1A1A; max-width: 60rem; margin: 2rem auto;}
h1 {font-size: 16pt; border-bottom: 1px solid #3D3D3D; page-break-after: avoid;}
table {border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; page-break-inside: avoid;}
th, td {border: 1px solid #3D3D3D; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top;}
img {max-width: 100%;} figcaption, footer {font-size: 10pt; color: #3D3D3D;}
footer {border-top: 1px solid #3D3D3D; margin-top: 2rem; padding-top: 0.4rem;}
@media print { body {margin: 0; max-width: none;} footer {position: fixed; bottom: 0;} }
"""


def to_html(blocks_: list[tuple], footer: str) -> str:
    """A self-contained printable page: styles and images inline, nothing fetched."""
    parts = []
    items: list[str] = []

    def flush() -> None:
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items.clear()

    for block in blocks_:
        kind = block[0]
        if kind == "li":
            items.append(f"<li>{html.escape(block[1])}</li>")
            continue
        flush()
        if kind == "title":
            parts.append(f"<h1 class='title'>{html.escape(block[1])}</h1>")
        elif kind == "h1":
            parts.append(f"<h1>{html.escape(block[1])}</h1>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                           for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(block[1]).decode()
            parts.append(f"<figure><img alt='{html.escape(block[2])}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
    flush()
    title = html.escape(blocks_[0][1]) if blocks_ else "Report"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_PRINT_CSS}</style></head><body>{''.join(parts)}"
            f"<footer>{html.escape(footer)}</footer></body></html>")


def build(con: duckdb.DuckDBPyConnection, year: int, threshold: int, fmt: str) -> bytes:
    """The board report for a year as DOCX or HTML bytes."""
    if fmt not in ("docx", "html"):
        raise ValueError("format must be docx or html")
    brief, last_year = gather(con, year, threshold)
    return render(brief, last_year, year, records(con, brief), fmt)


def render(brief: Briefing, last_year: dict, year: int, recorded: dict, fmt: str) -> bytes:
    """The paper from gathered figures and records, as DOCX or HTML bytes."""
    if fmt not in ("docx", "html"):
        raise ValueError("format must be docx or html")
    parts = blocks(brief, last_year, year, recorded)
    if fmt == "docx":
        return to_docx(parts, brief.footer)
    return to_html(parts, brief.footer).encode("utf-8")
