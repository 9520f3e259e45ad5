"""Accessibility in one place: the focus and contrast styles, and charts with a text alternative."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.present import plaintext

# The app's styles, drawn by the shell with the dataset banner's Markdown (shell.dataset_banner),
# not in an st.html of their own: each element kind's script loads on first use, and captions
# (Markdown) were often drawn before st.html's came. A style for Markdown content belongs here
# (or in that content's own Markdown), never in an st.html. Even so, HTML Markdown waits for
# its parser (loaded on first use), so plain Markdown drawn first goes unstyled for a moment:
# what must hold from the first paint (link colour) is in the theme instead.
# WCAG 2.4.7 / 2.4.11: a focus indicator that is always visible (3 px, Okabe-Ito blue on white,
# 5.4:1), on every control including the sidebar's page links, which Streamlit draws faintly.
STYLE = """
<style>
a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible,
select:focus-visible, summary:focus-visible, [role="tab"]:focus-visible,
[role="radio"]:focus-visible, [role="checkbox"]:focus-visible, [role="switch"]:focus-visible,
[role="combobox"]:focus-visible, [role="option"]:focus-visible, [tabindex]:focus-visible,
[data-testid="stSidebarNavLink"]:focus-visible {
  outline: 3px solid #0072B2 !important;
  outline-offset: 2px !important;
  box-shadow: 0 0 0 5px #FFFFFF !important;
}
[data-testid="stSidebarNavLink"]:focus-visible span { text-decoration: underline; }
/* WCAG 2.4.3 / 2.1.1: a chart is one tab stop, its "data behind this chart" expander, which holds
   the table (what the tooltips say) and the footed PNG/SVG downloads. Streamlit's own toolbar on a
   chart added four more stops per chart (show data, an unfooted PNG, the Vega-Lite spec,
   fullscreen); display:none takes them out of the tab order for keyboard and mouse alike. */
[data-testid="stFullScreenFrame"]:has([data-testid="stVegaLiteChart"]) [data-testid="stElementToolbar"],
[data-testid="stFullScreenFrame"]:has([data-testid="stDeckGlJsonChart"]) [data-testid="stElementToolbar"] {
  display: none !important;
}
/* WCAG 1.4.3: captions are drawn at 60% opacity. Full opacity with a grey of 7:1 keeps them
   quieter than body text. No caption holds a link (a link in one is 3:1 until these styles
   come, tests/app/test_captions.py); links are the theme's #005A8C (.streamlit/config.toml),
   7.3:1 on white from the first paint. */
[data-testid="stCaptionContainer"] { opacity: 1 !important; color: #595959 !important; }
/* An evaluation's verdict line (its card's one bold paragraph), large enough to read across a
   meeting room: here, with the rest, so it never waits for an st.html (it is plain Markdown, so
   a new tab may draw it at body size until the banner's HTML Markdown is parsed). */
[class*="st-key-verdict_"] p:has(> strong:only-child) { font-size: 1.6rem; }
</style>
"""


# deck.gl makes the map's canvas a tab stop of its own (for keyboard pan and zoom), beside the
# "sites as a table" expander and the "Open a site" box that say and do everything the map does.
# No CSS can take an element out of the tab order, so one observer does, once per browser tab.
_ONE_STOP_JS = """
<script>
(() => {
  if (window.wcOneStopPerChart) return;
  window.wcOneStopPerChart = true;
  const calm = () => document.querySelectorAll(
    '[data-testid="stDeckGlJsonChart"] [tabindex]:not([tabindex="-1"])'
  ).forEach((el) => el.setAttribute("tabindex", "-1"));
  calm();
  new MutationObserver(calm).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["tabindex"],
  });
})();
</script>
"""


def script() -> None:
    """Inject the shared accessibility script (once per page run, from the shell; its styles,
    STYLE, go with the dataset banner)."""
    st.html(_ONE_STOP_JS, unsafe_allow_javascript=True)


def behind(label: str, key: str, draw: Callable[[], None], *, container: Any = None,
           expanded: bool = False) -> bool:
    """An expander whose content is built only while it is open: opening it reruns the page, and
    that run draws it. Every table behind an expander goes through here. A data grid is among the
    heaviest things the browser draws, and a page holds up to ten of them closed (each chart's
    table, each domain's indicators), which a new tab paid for before its first chart showed; and
    figures nobody asked to see are not sent. key: the expander's state (st.session_state[key]
    is True while it is open; tests open it so). Returns whether it is open."""
    box = container if container is not None else st
    panel = box.expander(label, expanded=expanded, key=key, on_change="rerun")
    if panel.open:
        with panel:
            draw()
    return bool(panel.open)


def chart(
    figure: Any,
    summary: str,
    data: pd.DataFrame | None = None,
    *,
    table_key: str,
    container: Any = None,
    table_label: str = "Data behind this chart (table)",
    extra: Callable[[], None] | None = None,
    caption: bool = True,
    **kwargs: Any,
) -> Any:
    """An Altair chart with its text alternative: a one-sentence summary read by screen readers
    (and shown as a caption unless the page already says it) and, behind one expander (`behind`,
    state under table_key), the table it draws, which also holds what the tooltips say, so
    keyboard users reach it too, and then `extra` (the chart's downloads). The expander is the
    chart's only tab stop. Returns st.altair_chart's result."""
    box = container if container is not None else st
    kwargs.setdefault("width", "stretch")
    result = box.altair_chart(figure, alt=summary, **kwargs)
    if caption:
        box.caption(plaintext.md(summary))  # summaries name teams and interventions: user text
    if data is not None or extra is not None:
        label = (table_label if extra is None else f"{table_label} and downloads") \
            if data is not None else "Download this chart (PNG, SVG)"

        def draw() -> None:
            if data is not None:
                st.dataframe(data, hide_index=True, width="stretch")
            if extra is not None:
                extra()

        behind(label, table_key, draw, container=box)
    return result
