"""Overview page: headline tiles, seven-domain scorecard, trends (streamlit only here)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import periods
from dashboard.metrics import briefing, findings, indicators, lenses, scorecard
from dashboard.present import formatting
from dashboard.present.charts import overview as charts
from dashboard.ui import a11y, cache, chart_export, lens, links, shell

ARROWS = {"better": "▲", "similar": "●", "worse": "▼", "none": ""}


def _wave_picker(waves: pd.DataFrame, container=None) -> int | None:
    if waves.empty:
        return None
    labels = list(waves.label)
    choice = links.selectbox(container or st, "Survey wave", labels, "wave", "survey wave",
                             index=len(labels) - 1)
    return int(waves.loc[waves.label == choice, "wave_id"].iloc[0])


def where_to_look(brief: briefing.Briefing) -> None:
    """The ranked short list, each finding a link to the view that shows it."""
    with st.container(border=True, key="where_to_look"):
        st.subheader("Where to look")
        st.markdown(findings.summary_sentence(brief.ranked))
        lines = []
        for k, f in enumerate(brief.ranked, start=1):
            n = f" (n = {f.n} {f.n_label})" if f.n is not None else ""
            lines.append(f"{k}. **{findings.KIND_TITLES[f.kind]}.** {_md(f.text)}{n} "
                         f"[Show me →]({f.link})")
        if lines:
            st.markdown("\n".join(lines))
        st.caption(
            "Ranked: teams far outside the range chance would give (beyond the 99.8% funnel limit) "
            "first, then intervention results unlikely to be chance, domains below the benchmark "
            "and absence hotspots; within each, the largest first. Every figure here is the one "
            f"the linked page shows; {formatting.not_shown_rule(brief.threshold)}."
        )


def _md(text: str) -> str:
    # team names are data: keep them from being read as markdown
    return text.replace("*", "\\*").replace("_", "\\_").replace("[", "\\[").replace("]", "\\]")


def _tiles(table: pd.DataFrame) -> None:
    heads = table[table.headline]
    cols = st.columns(len(heads))
    for col, row in zip(cols, heads.itertuples(), strict=True):
        delta = formatting.change(row.kind, row.change)
        clear = bool(getattr(row, "change_clear", False))
        col.metric(
            row.short,
            formatting.value(row.kind, row.value),
            delta=delta,
            # for "low is favourable" indicators a fall is good news; "no change" is neither,
            # and a change that could well be chance is shown grey, not red or green
            delta_color=("off" if delta == "no change" or not clear
                         else "inverse" if row.favourable == "low" else "normal"),
            delta_arrow="off" if delta == "no change" else "auto",
            help=(
                f"{row.indicator}. n = {'–' if pd.isna(row.n) else int(row.n)}. "
                f"Change since the previous wave"
                + (" (coloured: unlikely to be chance, p < 0.05)." if clear else
                   " (grey: could be chance variation)." if delta and delta != "no change"
                   else ".")
                + f" {row.note}"
            ).strip(),
            border=True,
        )
        bench = ("no benchmark" if pd.isna(row.benchmark)
                 else f"benchmark {formatting.value(row.kind, row.benchmark)}")
        n = "n –" if pd.isna(row.n) else f"n = {int(row.n):,}"
        col.markdown(f"<div data-testid='tile-context' style='font-size:0.95rem;color:#31333F'>"
                     f"{bench} · {n}</div>", unsafe_allow_html=True)


def _domain_details(table: pd.DataFrame, domains: pd.DataFrame, chosen: lenses.Lens) -> None:
    for dom, group in zip(domains.itertuples(), chosen.groups, strict=True):
        part = table[table.indicator_id.isin(group.indicators)]
        present = set(part.indicator_id)
        part = part.set_index("indicator_id").loc[[i for i in group.indicators if i in present]]
        if part.empty:
            st.caption(f"{dom.domain}: {lenses.NO_INDICATOR} (see data/lenses).")
            continue
        title = f"{dom.domain} — {formatting.score(dom.score)} {ARROWS[dom.status]} {dom.status_label}"
        a11y.behind(title, f"domain_table_{dom.domain_id}",
                    lambda part=part: _domain_table(part, chosen))


def _domain_table(part: pd.DataFrame, chosen: lenses.Lens) -> None:
    """A domain's (or lens group's) indicators: raw value, n, score, benchmark and status."""
    view = pd.DataFrame(
        {
            "Indicator": part.indicator,
            "Value": [formatting.value(k, v) for k, v in zip(part.kind, part.value, strict=True)],
            "n": part.n.astype("Int64"),
            "Score 0-10": part.score.round(1),
            "Benchmark": [
                formatting.value(k, v) for k, v in zip(part.kind, part.benchmark, strict=True)
            ],
            "Against benchmark": [
                f"{ARROWS[s]} {scorecard.STATUS_LABELS[s]}" for s in part.status
            ],
            "Detail": [b or note for b, note in zip(part.band, part.note, strict=True)],
            ("In domain score" if chosen.id == lenses.DEFAULT else "In the score"):
                part.scored.map({True: "yes", False: "no (breakdown)"}),
        }
    )
    st.dataframe(view, hide_index=True, width="stretch")


def render() -> None:
    st.title("Overview")
    threshold = shell.threshold()
    waves = cache.query(indicators.waves)
    left, right = st.columns(2)
    wave_id = _wave_picker(waves, left)
    if wave_id is None:
        st.info("No survey data yet. Load the demo organisation or upload a survey on the Data page.")
        return
    lens_id = lens.picker("overview_lens", right)
    chosen = lenses.get(lens_id)
    table = cache.query(scorecard.indicator_table, wave_id, threshold)
    domains = lenses.rollup(table, chosen)
    # Where to look stays first on the page but is filled in last: it needs the whole briefing
    # (evaluations, funnels, heatmap), the tiles and scorecard below need only the table.
    where = st.container()
    label = str(waves.loc[waves.wave_id == wave_id, "label"].iloc[0])
    footer = chart_export.footer(
        briefing.period_text(label, cache.query(periods.wave_periods, wave_id)[0]),
        briefing.respondents_text(table))

    st.subheader("Headline indicators")
    _tiles(table)

    st.subheader("Seven-domain scorecard" if lens_id == lenses.DEFAULT else chosen.title)
    title = None if lens_id == lenses.DEFAULT else f"{chosen.name} scores (black tick: benchmark)"
    what = "domain" if lens_id == lenses.DEFAULT else "group"
    name = "seven-domain-scores" if lens_id == lenses.DEFAULT else f"{lens_id}-scores"
    scored = domains[domains.score.notna()]
    chart_export.chart(
        charts.domain_scores(domains, title=title),
        f"{chosen.name} scores on a 0-10 scale: {len(scored)} {what}s scored, "
        f"{int((scored.status == 'worse').sum())} worse than the benchmark, "
        f"{int((scored.status == 'better').sum())} better.",
        pd.DataFrame({"Group": domains.domain, "Score 0-10": domains.score.round(1),
                      "Benchmark score": domains.benchmark_score.round(1),
                      "Against benchmark": domains.status_label, "Indicators": domains.feeding}),
        footer=footer, name=name,
    )
    st.caption(
        f"Each {what} scores the mean of its indicators on a 0-10 favourable scale (10 is best). "
        f"Open a {what} for the raw values, n and the benchmark each indicator is rated against."
        + ("" if lens_id == lenses.DEFAULT else f" Lens source: {chosen.source}.")
    )
    _domain_details(table, domains, chosen)
    if chosen.absent:
        cat_short = dict(zip(table.indicator_id, table.short, strict=True))
        st.caption("Not in this lens: " + ", ".join(cat_short.get(i, i) for i in chosen.absent) + ".")

    st.subheader("Trends")
    heads = table[table.headline & (table.kind == "proportion")].indicator_id.tolist()
    trend = cache.query(scorecard.trend, tuple(heads), threshold)
    if trend.wave_label.nunique() > 1:
        chart_export.chart(
            charts.headline_trends(trend),
            f"Headline indicators over {trend.wave_label.nunique()} survey waves.",
            pd.DataFrame({"Wave": trend.wave_label, "Indicator": trend.indicator,
                          "Value": trend.value.map(lambda v: formatting.value("proportion", v)),
                          "n": trend.n.astype("Int64")}),
            footer=chart_export.footer(
                f"survey waves {', '.join(dict.fromkeys(trend.wave_label))}",
                chart_export.n_range(trend.n)),
            name="headline-trends",
        )
    else:
        st.caption("Trends appear once there are two or more survey waves.")

    sources = table[table.benchmark_source != ""][["indicator", "benchmark_source"]]
    a11y.behind("Benchmark sources", "benchmark_sources", lambda: st.dataframe(
        sources.rename(columns={"indicator": "Indicator", "benchmark_source": "Source"}),
        hide_index=True, width="stretch"))

    with where:
        with st.spinner("Finding where to look…"):
            brief = cache.query(briefing.gather, wave_id, threshold)
        where_to_look(brief)
