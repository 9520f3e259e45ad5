"""The page shell: page config, dataset banner, shared formatting of suppressed figures."""
from __future__ import annotations

import inspect
import threading
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from dashboard import store
from dashboard.auth import access
from dashboard.config import settings
from dashboard.metrics import indicators
from dashboard.present import formatting, plaintext
from dashboard.store import derived, query
from dashboard.ui import a11y, auth, cache, links

# What "a group" is counted in on each page, for the banner (survey pages count responses).
_BOTH = f"{formatting.RESPONSES} (survey figures) or {{t}} {formatting.STAFF} (absence figures)"
BANNER_UNIT: dict[str, str] = {"absence": formatting.STAFF, "teams": _BOTH, "interventions": _BOTH}


def banner_rule(url_path: str | None, threshold: int) -> str:
    """The banner's privacy sentence for a page, in the page's own unit."""
    unit = BANNER_UNIT.get(url_path or "", formatting.RESPONSES).format(t=threshold)
    return formatting.not_shown_rule(threshold, unit)


def dataset() -> dict:
    """The dataset's name, whether it is the demo and its version (store.dataset_info): read once
    per page run, by the banner, for every chart footer after it; outside a run, from the store."""
    info = getattr(_RUN, "dataset", None)
    if info is not None:
        return info
    cur = cache.cursor()
    try:
        return store.dataset_info(cur)
    finally:
        cur.close()


def dataset_banner(url_path: str | None = None) -> dict:
    """Name the dataset on every page; say plainly when it is the demo organisation. The app's
    styles (a11y.STYLE, print) are drawn with it."""
    info = dataset()
    threshold = settings().anonymity_threshold
    label = "Demo organisation" if info["is_demo"] else "Dataset"
    # the first Markdown of every page: the styles never wait for an st.html (see a11y.STYLE)
    st.markdown(
        a11y.STYLE + _PRINT_CSS +
        f"<div data-testid='dataset-banner' role='status' style='padding:0.4rem 0.8rem;"
        f"border-left:6px solid #0072B2;background:#F2F4F7;margin-bottom:0.6rem'>"
        f"<strong>{label}:</strong> {plaintext.md_html(info['name'])} &nbsp;·&nbsp; "
        f"{banner_rule(url_path, threshold)}</div>",
        unsafe_allow_html=True,
    )
    return info


def threshold() -> int:
    return settings().anonymity_threshold


# (file, title, url path, icon). Every page is declared here once, so the router, the sidebar and
# the browser tests agree on what exists.
PAGES: list[tuple[str, str, str, str]] = [
    ("pages/overview.py", "Overview", "overview", ":material/dashboard:"),
    ("pages/teams.py", "Teams", "teams", ":material/account_tree:"),
    ("pages/absence.py", "Absence", "absence", ":material/sick:"),
    ("pages/interventions.py", "Interventions", "interventions", ":material/science:"),
    ("pages/framework.py", "Framework", "framework", ":material/checklist:"),
    ("pages/data.py", "Data", "data", ":material/upload_file:"),
    ("pages/meeting.py", "Meeting mode", "meeting", ":material/co_present:"),
    ("pages/admin.py", "Admin", "admin", ":material/admin_panel_settings:"),
]


def pages(principal: access.Principal | None = None) -> list:
    """The st.Page objects this principal may open (all of them when principal is None)."""
    root = Path(__file__).resolve().parents[3]
    allowed = [p for p in PAGES if principal is None or access.can_open(principal, p[2])]
    return [
        st.Page(str(root / path), title=title, url_path=url, icon=icon, default=(i == 0))
        for i, (path, title, url, icon) in enumerate(allowed)
    ]


_ROUTER = threading.local()
# What one page run reads once for all its parts (set and cleared by main, in the run's thread):
# the dataset's name for the banner and each chart's footer (five queries a read).
_RUN = threading.local()

# Printing any page gives a clean document: no sidebar, header or buttons, charts kept whole,
# words never broken mid-word.
_PRINT_CSS = """
<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
  .stDownloadButton, .stButton {display: none !important;}
  [data-testid="stMain"], .block-container {margin: 0 !important; padding: 0 !important;
    max-width: 100% !important;}
  .vega-embed, [data-testid="stVegaLiteChart"], [data-testid="stMetric"], table {break-inside: avoid;}
  * {word-break: normal !important; overflow-wrap: normal !important; hyphens: manual !important;}
}
</style>
"""


def _current_wave() -> int | None:
    from dashboard.metrics import briefing

    raw = st.query_params.get("wave")
    cur = cache.cursor()
    try:
        waves = [int(w) for w in indicators.waves(cur).wave_id]
        if raw and raw.isdigit() and int(raw) in waves:
            return int(raw)
        return briefing.latest_wave(cur)
    finally:
        cur.close()


def exports() -> None:
    """The slide pack and the board report for the current wave, on every page (built on click,
    through the figures cache: a briefing the page already gathered is not gathered again)."""
    from dashboard.metrics import briefing, drilldown, lenses
    from dashboard.ui import chart_export

    wave = _current_wave()
    if wave is None:
        return
    # Neither file can be built from a store holding numbers no import accepts: say so here, as
    # the page does, instead of offering a button whose click fails in Streamlit's own words.
    # Asked once per dataset version (a scan of the numeric columns: up to 0.5 s nationally).
    problem = cache.query(derived.numbers_problem)
    if problem is not None:
        st.sidebar.warning("No slide pack or board report: " + plaintext.md(problem),
                           icon=":material/error:")
        return
    lens_id, _ = lenses.resolve(st.query_params.get("lens"))
    # the same calls, arguments and principal as the page's, run when the button is clicked
    call = cache.detached()
    who = auth.current()

    # the packs' writers (python-pptx, python-docx) are imported when a file is built
    def pack(chosen: tuple[str, ...] = ()) -> bytes:
        from dashboard.framework import improvement
        from dashboard.present import slides

        brief = call(briefing.gather, wave, threshold())
        teams = chosen or briefing.flagged_teams(brief)
        tree = call(drilldown.unit_tree)
        ids = dict(zip(tree.team, tree.unit_id.astype(int), strict=True))
        profiles = tuple(call(drilldown.team_profile, ids[t], wave, threshold(), lens_id)
                         for t in teams if t in ids)
        return slides.build(brief, profiles, lens_id, cache.fresh(improvement.list_actions, who=who))

    def report() -> bytes:
        from dashboard.present import board_report

        cur = cache.cursor()
        try:
            fielded = indicators.waves(cur).set_index("wave_id").fielded_on[wave]
            year = int(pd.Timestamp(fielded).year)
            brief, last_year = call(board_report.gather, year, threshold())
            return board_report.render(brief, last_year, year, board_report.records(cur, brief), "docx")
        finally:
            cur.close()

    with st.sidebar:
        st.caption("Take it to the meeting")
        tree = cache.query(drilldown.unit_tree)
        st.multiselect("Team slides in the pack", sorted(tree.team), key="export_teams",
                       placeholder="The teams Where to look flags",
                       help="A slide for each team picked (only teams shown for this wave get "
                            "figures); none picked: the teams flagged in Where to look.")
        chosen = tuple(st.session_state.get("export_teams") or ())
        picked = len(chosen)
        chart_export.file_download(
            st, "Slide pack (PowerPoint)", lambda: pack(chosen), "wellbeing-slides.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation", "export_slides",
            f"slide pack, wave id {wave}, lens {lens_id}, "
            + (f"{picked} team(s) picked" if picked else "flagged teams"), ":material/slideshow:")
        chart_export.file_download(
            st, "Board report (Word)", report, "wellbeing-board-report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "export_report",
            f"board report, wave id {wave}", ":material/description:")


def main() -> None:
    """The app: page config, sign-in, navigation over the principal's pages, banner, the page."""
    st.set_page_config(page_title="Wellbeing Compass", page_icon="🧭", layout="wide")
    # Declared (hidden) before the sign-in screen too, so the URL asked for survives signing in.
    principal = auth.gate(before_screen=lambda: st.navigation(pages(), position="hidden"))
    if principal is None:
        st.stop()
    cache.pin_version()
    page = st.navigation(pages(principal), position="sidebar")
    auth.sidebar(principal)
    a11y.script()
    try:
        _RUN.dataset = dataset_banner(getattr(page, "url_path", None))
        links.copy_link()
        if principal.role in ("admin", "analyst"):  # organisation-wide packs: not a manager's scope
            exports()
        _ROUTER.active = True
        try:
            with query.trace() as ran:
                _run(page.url_path, page.run)
        finally:
            _ROUTER.active = False
    finally:
        _RUN.dataset = None
    if st.query_params.get("trace") == "1":
        trace_panel(ran)


def trace_panel(ran: list) -> None:
    """For developers (?trace=1): the functions and named queries this page run used."""
    with st.sidebar.expander("Queries this page ran", expanded=True):
        st.caption("Functions served from the cache run no query; named queries show rows and ms.")
        st.dataframe(query.summary(ran), hide_index=True)


def _run(url: str, run) -> None:
    """Run a page for the signed-in principal; a figure outside their role or scope is refused."""
    auth.viewed(url)
    try:
        run()
    except access.Denied as exc:
        auth.record("refused", f"{url}: {exc}")
        st.error(f"Refused: {plaintext.md(str(exc))}. Your role is {auth.current().role}.",
                 icon=":material/lock:")
    except derived.BadNumbers as exc:  # a store from before uploads refused them: what to undo
        st.error(plaintext.md(str(exc)), icon=":material/error:")


def _caller_page() -> str:
    """The url path of the pages/*.py script that called routed()."""
    caller = Path(inspect.stack()[2].filename).resolve()
    for path, _title, url, _icon in PAGES:
        if caller.name == Path(path).name and caller.parent.name == "pages":
            return url
    raise RuntimeError(f"{caller} is not declared in shell.PAGES")


def routed() -> bool:
    """True when this page runs under the router; otherwise run the whole app instead.

    A fresh server whose first request is a deep link (e.g. /teams) runs pages/teams.py on its
    own, because Streamlit still treats the pages/ folder as an old-style multipage app until
    st.navigation has been called once. The page then hands over to main(), which routes back
    to the same page with the full navigation and banner. Run on its own by AppTest, the page
    still passes the sign-in gate and the page check here (a figure outside the principal's scope
    then raises access.Denied).
    """
    if getattr(_ROUTER, "active", False):
        return True
    if PagesManager.uses_pages_directory:
        main()
        return False
    url = _caller_page()
    principal = auth.gate()
    if principal is None:
        return False
    if not access.can_open(principal, url):
        auth.record("refused", f"page {url}")
        st.error(f"Refused: the {url} page is not open to a {principal.role}.", icon=":material/lock:")
        return False
    cache.pin_version()
    auth.viewed(url)
    return True
