"""How tests switch a page's tabs (ui.links.tabs): as a click would, then rerun."""
from __future__ import annotations


def open_tab(at, label: str):
    """Open the tab `label` (bound to the URL's `tab`: a link's value gives way to the click) and
    rerun; returns at. Only the open tab is drawn."""
    if "tab" in at.query_params:
        del at.query_params["tab"]
    at.session_state["tab"] = label
    return at.run()
