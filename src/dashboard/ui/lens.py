"""The lens selector shared by the Overview, Teams and meeting mode; the choice lives in the URL (?lens=)."""
from __future__ import annotations

import streamlit as st

from dashboard.metrics import lenses

PARAM = "lens"


def _changed(key: str) -> None:
    value = st.session_state.get(key) or lenses.DEFAULT
    if value == lenses.DEFAULT:
        if PARAM in st.query_params:
            del st.query_params[PARAM]
    else:
        st.query_params[PARAM] = value


def picker(key: str, container=None) -> str:
    """Draw the selector and return the chosen lens id (the default keeps the URL clean)."""
    lens_id, note = lenses.resolve(st.query_params.get(PARAM))
    if note:
        st.info(note, icon=":material/link_off:")
        del st.query_params[PARAM]
    elif lens_id == lenses.DEFAULT and PARAM in st.query_params:
        del st.query_params[PARAM]
    options = lenses.options()
    st.session_state[key] = lens_id  # the URL is the source of truth, so a shared link reopens it
    (container or st).selectbox(
        "Lens", list(options), format_func=options.get, key=key, on_change=_changed, args=(key,),
        help="The same released figures grouped another way: the framework's seven domains, the "
        "NHS People Promise themes or the HSE Management Standards. Where each indicator sits in "
        "each lens is declared in data/lenses/*.toml.",
    )
    return lens_id
