"""Meeting mode page: one screen at a time, large type, arrow keys move on (streamlit only here)."""
from __future__ import annotations

import html

import streamlit as st

from dashboard.framework import improvement
from dashboard.metrics import briefing, drilldown, indicators, lenses
from dashboard.present import screens, slides
from dashboard.present.charts import common
from dashboard.ui import cache, chart_export, lens, shell

# Sizes at 1920x1080: headline numbers well above 48 px, chart text from the meeting theme.
_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stSidebarCollapseButton"], header[data-testid="stHeader"] {display: none !important;}
.block-container {padding-top: 1.2rem; max-width: 100%;}
.meeting-title {font-size: 48px; font-weight: 700; line-height: 1.15; margin: 0 0 0.4rem 0; color: #1A1A1A;}
.meeting-message {font-size: 32px; line-height: 1.3; margin: 0 0 1rem 0; color: #1A1A1A;}
.meeting-figures {display: flex; gap: 1.2rem; flex-wrap: wrap; margin-bottom: 1rem;}
.meeting-figure {border: 2px solid #3D3D3D; border-radius: 10px; padding: 0.6rem 1rem; min-width: 14rem;}
.meeting-figure .label {font-size: 24px; color: #1A1A1A;}
.meeting-figure .value {font-size: 60px; font-weight: 700; line-height: 1.1; color: #1A1A1A;}
.meeting-figure .context {font-size: 20px; color: #3D3D3D;}
.meeting-bullets li {font-size: 26px; line-height: 1.35; margin-bottom: 0.4rem; color: #1A1A1A;}
.meeting-notes {font-size: 20px; color: #3D3D3D; border-top: 1px solid #3D3D3D; padding-top: 0.4rem;}
.meeting-counter {font-size: 22px; color: #3D3D3D;}
.st-key-meeting_lens {max-width: 22rem;}
</style>
"""

# Arrow keys, Page Up/Down and space press the Previous / Next buttons (a remote clicker sends
# Page Up/Down). Registered once per browser tab.
_KEYS = """
<script>
if (!window.__meetingKeys) {
  window.__meetingKeys = true;
  document.addEventListener('keydown', function (e) {
    if (!document.querySelector('.st-key-meeting_next')) return;
    const tag = (e.target && e.target.tagName) || '';
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag)) return;
    let which = null;
    if (['ArrowRight', 'PageDown', ' '].includes(e.key)) which = 'next';
    if (['ArrowLeft', 'PageUp'].includes(e.key)) which = 'prev';
    if (!which) return;
    const button = document.querySelector('.st-key-meeting_' + which + ' button');
    if (button && !button.disabled) { e.preventDefault(); button.click(); }
  });
}
</script>
"""


def _screen_number(count: int) -> int:
    raw = st.query_params.get("screen", "1")
    number = int(raw) if raw.isdigit() else 1
    return min(max(number, 1), count)


def _go(number: int) -> None:
    st.query_params["screen"] = str(number)


def _wave(waves) -> int:
    raw = st.query_params.get("wave")
    ids = [int(w) for w in waves.wave_id]
    return int(raw) if raw and raw.isdigit() and int(raw) in ids else ids[-1]


def _profiles(wave_id: int, threshold: int, lens_id: str) -> tuple[dict, ...]:
    """Profiles of the teams chosen in the link (?teams=Ward 1,Ward 2), in that order, grouped by
    the lens."""
    raw = st.query_params.get("teams", "")
    names = [t.strip() for t in raw.split(",") if t.strip()]
    if not names:
        return ()
    tree = cache.query(drilldown.unit_tree)
    ids = dict(zip(tree.team, tree.unit_id.astype(int), strict=True))
    return tuple(cache.query(drilldown.team_profile, ids[name], wave_id, threshold, lens_id)
                 for name in dict.fromkeys(names) if name in ids)


def _figures(figs: tuple[screens.Figure, ...]) -> str:
    cards = "".join(
        f"<div class='meeting-figure' data-testid='meeting-figure'>"
        f"<div class='label'>{html.escape(f.label)}</div>"
        f"<div class='value' data-testid='meeting-number'>{html.escape(f.value)}</div>"
        f"<div class='context'>{html.escape(f.context)}</div></div>"
        for f in figs
    )
    return f"<div class='meeting-figures'>{cards}</div>" if cards else ""


def render() -> None:
    st.html(_KEYS, unsafe_allow_javascript=True)
    threshold = shell.threshold()
    waves = cache.query(indicators.waves)
    if waves.empty:
        st.info("No survey data yet. Load the demo organisation or upload a survey on the Data page.")
        return
    wave_id = _wave(waves)
    with st.spinner("Preparing the meeting…"):
        brief = cache.query(briefing.gather, wave_id, threshold)
    # the lens regroups the domain screens and team profiles (?lens=, as on the Overview and Teams);
    # its selector sits below the screen, out of the presenter's way
    lens_id, _ = lenses.resolve(st.query_params.get(lens.PARAM))
    profiles = _profiles(wave_id, threshold, lens_id)
    # the plan is a record (no dataset version), so it is read fresh, after the same access check
    actions = cache.fresh(improvement.list_actions)
    deck = screens.makers(brief, profiles, lenses.get(lens_id), actions)
    number = _screen_number(len(deck))
    screen = deck[number - 1]()

    left, mid, right = st.columns([1, 4, 1])
    left.button("← Previous", key="meeting_prev", disabled=number == 1, on_click=_go, args=(number - 1,),
                width="stretch")
    # the styles go with the screen's first Markdown, never an st.html (see a11y.STYLE: a new tab
    # showed the title at 16 px and the sidebar until one loaded); a Markdown of their own would
    # add a row's gap above the screen
    mid.markdown(_CSS + f"<div class='meeting-counter' data-testid='meeting-counter'>Screen {number} of "
                 f"{len(deck)} · {html.escape(screen.title)} · use ← → to move</div>",
                 unsafe_allow_html=True)
    right.button("Next →", key="meeting_next", disabled=number == len(deck), on_click=_go,
                 args=(number + 1,), width="stretch")

    body = [f"<div class='meeting-title' data-testid='meeting-title'>{html.escape(screen.title)}</div>",
            f"<div class='meeting-message' data-testid='meeting-message'>{html.escape(screen.message)}</div>",
            _figures(screen.figures)]
    if screen.bullets:
        items = "".join(f"<li>{html.escape(b)}</li>" for b in screen.bullets)
        body.append(f"<ul class='meeting-bullets' data-testid='meeting-bullets'>{items}</ul>")
    st.markdown("".join(body), unsafe_allow_html=True)
    if screen.chart is not None:
        chart_export.show(common.meeting(screen.chart), brief.footer, f"meeting-{screen.key}",
                          screen.message)
    notes = " ".join(screen.notes)
    st.markdown(f"<div class='meeting-notes' data-testid='meeting-notes'>{html.escape(notes)}<br>"
                f"{html.escape(brief.footer)}</div>", unsafe_allow_html=True)
    lens.picker("meeting_lens")
    # the sidebar is hidden here, so the pack of these very screens is offered on the page (to
    # roles that may export; viewers only watch)
    chart_export.file_download(
        st, "Slide pack of these screens (PowerPoint)",
        lambda: slides.build(brief, profiles, lens_id, actions), "wellbeing-meeting.pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation", "meeting_slides",
        f"meeting slide pack, wave {brief.wave_label}, lens {lens_id}, {len(profiles)} team slide(s)",
        ":material/slideshow:")
