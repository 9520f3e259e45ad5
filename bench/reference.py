"""Reference pages for the browser benchmark: Streamlit's own cost on this machine, with no figures.

`python -m bench browser` times two of these beside the app's pages, in the same minutes, so a
page's seconds can be read against what the framework alone takes here (the machine's speed
moves by a third between runs):

- "one chart": a title and one small Altair chart, the least a Streamlit page can be;
- "overview elements": the Overview page as a browser receives it from the app (the router's
  sidebar over the same pages, the banner, the shell's styles and scripts, the exports, then
  the Overview's own elements: pickers, "Where to look", five tiles, the domain chart, seven
  closed expanders, the trend chart), with fixed made-up figures and no query, cache or
  release. What the app's Overview takes beyond it is the app's own work.

Run by `streamlit run bench/reference.py` with WELLBEING_BENCH_REFERENCE set to the page's key
(a key of PAGES).
tests/test_bench_browser.py checks that the second draws the Overview's elements.
"""
from __future__ import annotations

import os

import altair as alt
import pandas as pd
import streamlit as st

ONE_CHART = "one_chart"
OVERVIEW = "overview_elements"
# key -> the name the benchmark's table gives it
PAGES = {ONE_CHART: "Reference: one chart", OVERVIEW: "Reference: Overview's elements"}
_DOMAINS = ["Personal health and wellbeing", "Relationships", "Fulfilment at work",
            "Managers and leaders", "Environment", "Data insights", "Professional wellbeing support"]
_HEADLINES = ["Work-related stress", "Presenteeism", "Bullying or harassment", "Work-life balance",
              "Staff engagement"]


def one_chart() -> None:
    st.title("Reference")
    df = pd.DataFrame({"x": list("abcdefg"), "y": range(7)})
    st.altair_chart(alt.Chart(df).mark_bar().encode(x="x", y="y"), width="stretch")


def _domain_chart() -> alt.LayerChart:
    scores = pd.DataFrame({"domain": _DOMAINS, "score": [6.1, 7.2, 5.8, 6.6, 5.1, 6.9, 6.3],
                           "benchmark": [6.0, 7.0, 6.2, 6.4, 5.6, 6.5, 6.1],
                           "status": ["Similar", "Better", "Worse", "Similar", "Worse", "Better",
                                      "Similar"]})
    y = alt.Y("domain:N", sort=_DOMAINS, title=None, axis=alt.Axis(labelLimit=300))
    bars = alt.Chart(scores).mark_bar().encode(
        x=alt.X("score:Q", scale=alt.Scale(domain=[0, 10]), title="Score 0-10"), y=y,
        color=alt.Color("status:N", title="Against benchmark"), tooltip=list(scores.columns))
    ticks = alt.Chart(scores).mark_tick(color="#000000", thickness=3, size=24).encode(x="benchmark:Q", y=y)
    text = alt.Chart(scores).mark_text(align="left", dx=6).encode(
        x="score:Q", y=y, text=alt.Text("score:Q", format=".1f"))
    return alt.layer(bars, ticks, text).properties(height=360)


def _trend_chart() -> alt.Chart:
    trend = pd.DataFrame({"wave": [w for _ in _HEADLINES[:4] for w in ("2023", "2024", "2025")],
                          "indicator": [i for i in _HEADLINES[:4] for _ in range(3)],
                          "value": [0.41, 0.43, 0.40, 0.55, 0.57, 0.56, 0.19, 0.18, 0.20, 0.52,
                                    0.50, 0.53]})
    return alt.Chart(trend).mark_line(point=True).encode(
        x=alt.X("wave:O", title="Survey wave"), y=alt.Y("value:Q", axis=alt.Axis(format="%")),
        color="indicator:N", shape="indicator:N", tooltip=list(trend.columns)).properties(height=320)


def overview_elements() -> None:
    """The Overview's elements in its order, as the shell and overview_page draw them."""
    # the shell's own styles, scripts and copy link (none reads the store)
    from dashboard.ui import a11y, links, shell

    # the shell's part, in its order: sign-in line, script, banner with the styles, copy link, exports
    st.sidebar.caption("Demo organisation: open without sign-in. Real data always needs sign-in.")
    a11y.script()
    st.markdown(a11y.STYLE + shell._PRINT_CSS +
                "<div data-testid='dataset-banner' role='status' style='padding:0.4rem 0.8rem;"
                "border-left:6px solid #0072B2;background:#F2F4F7;margin-bottom:0.6rem'>"
                "<strong>Demo organisation:</strong> Reference &nbsp;·&nbsp; groups with fewer than "
                "10 responses are not shown</div>", unsafe_allow_html=True)
    links.copy_link()
    with st.sidebar:
        st.caption("Take it to the meeting")
        st.multiselect("Team slides in the pack", [f"Team {k}" for k in range(80)], key="teams",
                       placeholder="The teams Where to look flags")
        st.download_button("Slide pack (PowerPoint)", b"-", "reference.pptx", on_click="ignore",
                           icon=":material/slideshow:")
        st.download_button("Board report (Word)", b"-", "reference.docx", on_click="ignore",
                           icon=":material/description:")

    st.title("Overview")
    left, right = st.columns(2)
    left.selectbox("Survey wave", ["2023", "2024", "2025"], index=2)
    right.selectbox("Lens", ["Seven-domain model", "HSE Management Standards", "People Promise"])
    where = st.container()  # first on the page, filled last, as the Overview does
    st.subheader("Headline indicators")
    for k, (col, name) in enumerate(zip(st.columns(len(_HEADLINES)), _HEADLINES, strict=True)):
        col.metric(name, f"{40 + k}.{k}%", delta=f"{k - 2}.1 pts", border=True,
                   help=f"{name}. n = 8,512. Change since the previous wave.")
        col.markdown(f"<div data-testid='tile-context' style='font-size:0.95rem;color:#31333F'>"
                     f"benchmark {38 + k}.0% · n = 8,512</div>", unsafe_allow_html=True)
    st.subheader("Seven-domain scorecard")
    st.altair_chart(_domain_chart(), width="stretch")
    st.caption("Seven domains scored, two worse than the benchmark, two better.")
    st.expander("Data behind this chart (table)", key="t0", on_change="rerun")
    st.caption("Each domain scores the mean of its indicators on a 0-10 favourable scale.")
    for k, domain in enumerate(_DOMAINS):
        st.expander(f"{domain} — 6.{k} ● Similar to benchmark", key=f"d{k}", on_change="rerun")
    st.subheader("Trends")
    st.altair_chart(_trend_chart(), width="stretch")
    st.caption("Headline indicators over 3 survey waves.")
    st.expander("Data behind this chart (table)", key="t1", on_change="rerun")
    st.expander("Benchmark sources", key="sources", on_change="rerun")
    with where, st.container(border=True, key="where_to_look"):
        st.subheader("Where to look")
        st.markdown("Three teams stand out, one intervention moved stress, two domains are below "
                    "the benchmark.")
        st.markdown("\n".join(f"{k}. **Team outside its funnel.** Team {k} reports more stress "
                              f"than chance would give (n = {40 + k} responses) [Show me →](/teams)"
                              for k in range(1, 6)))
        st.caption("Ranked: teams far outside the range chance would give first, then "
                   "intervention results, domains below the benchmark and absence hotspots.")


def main() -> None:
    which = os.environ.get("WELLBEING_BENCH_REFERENCE", ONE_CHART)
    if which not in PAGES:
        raise ValueError(f"unknown reference {which!r}; choose from {sorted(PAGES)}")
    st.set_page_config(page_title="Wellbeing Compass", page_icon="🧭", layout="wide")
    if which == ONE_CHART:
        one_chart()
        return
    from dashboard.ui import shell

    # the router's sidebar over the app's pages: the reference is the default one
    pages = [st.Page(overview_elements, title=title, url_path=url, icon=icon, default=True)
             if k == 0 else st.Page(lambda: None, title=title, url_path=url, icon=icon)
             for k, (_, title, url, icon) in enumerate(shell.PAGES) if url != "admin"]
    st.navigation(pages, position="sidebar").run()


if __name__ == "__main__":  # as `streamlit run` runs it; the benchmark imports the names
    main()
