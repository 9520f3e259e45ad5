"""How tests read what sits behind a page's lazy expanders (ui.a11y.behind): open them, as a
person would, and rerun."""
from __future__ import annotations

_ROUNDS = 3  # opening one can show another (a chart drawn only once a table's run has happened)


def keys(at) -> dict[str, bool]:
    """Each lazy expander on the page by its key: True when open. (An expander with state has
    a widget id ending in its key; the eager ones have none.)"""
    found = {}
    for panel in at.expander:
        wid = panel.proto.id
        if wid:
            key = wid.split("-", 2)[2]
            found[key] = bool(at.session_state[key]) if key in at.session_state else False
    return found


def open_all(at, containing: str = ""):
    """Open every closed lazy expander whose label contains `containing` (all by default), then
    rerun, until none is left closed; returns at."""
    for _ in range(_ROUNDS):
        closed = [p.proto.id.split("-", 2)[2] for p in at.expander
                  if p.proto.id and containing in p.label
                  and not keys(at)[p.proto.id.split("-", 2)[2]]]
        if not closed:
            return at
        for key in closed:
            at.session_state[key] = True
        at.run()
    return at
