"""Every view is a link: widgets bound to URL query parameters, fall-back notes and a copy-link control.

Pages create their choice widgets through the functions here, so each choice lives in the URL
(Streamlit's `bind="query-params"`: the widget key is the parameter name, the value its label)
and a link opened in a fresh browser restores it. A URL value the widget does not offer (a
renamed indicator, a group withheld in this period) is dropped by Streamlit; the functions here
say so on screen first, so nobody is silently shown another view than the one they were sent.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

LINK_OFF = ":material/link_off:"


def note(text: str) -> None:
    """Tell the user that part of the link could not be restored (shown where the choice is)."""
    st.info(text, icon=LINK_OFF)


def raw(key: str) -> str | None:
    """The URL's value for a parameter, or None."""
    return st.query_params.get(key)


_BOOLEANS = ("true", "false", "True", "False")


def check(key: str, allowed: Iterable[str], what: str, fallback: str = "the default",
          many: bool = False, message: str | None = None) -> bool:
    """Before a bound widget is drawn: True if the URL's value (every value, for a widget with
    many) is one it offers, or absent; otherwise a note names the part of the link that falls
    back (`message`, or "The <what> in the link is not available here; showing <fallback>.")."""
    values = st.query_params.get_all(key) if many else [raw(key)]
    offered = {str(a) for a in allowed}
    if all(v in offered for v in values if v not in (None, "")):
        return True
    note(message or f"The {what} in the link is not available here; showing {fallback}.")
    return False


def _bound(widget: Callable[..., Any], label: str, options: Sequence[Any], key: str, what: str,
           format_func: Callable[[Any], Any], many: bool = False, message: str | None = None,
           **kwargs: Any) -> Any:
    """A choice widget bound to the URL parameter `key`, after checking the link's value(s)."""
    check(key, [str(format_func(o)) for o in options], what, many=many, message=message)
    return widget(label, options, key=key, format_func=format_func, bind="query-params", **kwargs)


def write(key: str, value: str | None) -> None:
    """Set (or, for None, remove) a URL parameter no widget is bound to: a kept widget's choice
    (see _kept) made elsewhere, e.g. by a click on a chart."""
    try:
        if value is None:
            st.query_params.pop(key, None)
        else:
            st.query_params[key] = value
    except StreamlitAPIException:
        # on the first run after arriving from another page, a parameter of the same name is
        # still bound to that page's widget; the binding ends with this run
        pass


def _kept(key: str, what: str, offered: dict[str, Any], default: Any,
          draw: Callable[[Callable[[], None]], Any]) -> Any:
    """A choice widget (drawn by draw(on_change) under `key`) whose value lives in the URL
    parameter `key` as one of the labels `offered`, written by the page rather than bound: a
    bound parameter leaves the URL as soon as its widget is not drawn, and a tab that is not
    open is not drawn (see tabs), so a link copied there would lose the choice."""
    if not check(key, offered, what):
        write(key, None)
    st.session_state[key] = offered.get(raw(key) or "", default)
    label_of = {value: text for text, value in offered.items()}

    def changed() -> None:
        chosen = st.session_state.get(key)
        write(key, None if chosen == default else label_of.get(chosen))

    return draw(changed)


def _kept_choice(widget: Callable[..., Any], label: str, options: Sequence[Any], key: str, what: str,
                 format_func: Callable[[Any], Any], **kwargs: Any) -> Any:
    """A one-choice widget (selectbox, radio) kept in the URL by the page (see _kept)."""
    index = kwargs.get("index", 0)
    default = None if index is None or not options else options[index]
    if index is not None:
        # the value is set through the session state; a default index as well makes Streamlit
        # warn on screen (index=None stays: it is what lets a selectbox show no choice)
        kwargs.pop("index", None)
    return _kept(key, what, {str(format_func(o)): o for o in options}, default,
                 lambda changed: widget(label, options, key=key, format_func=format_func,
                                        on_change=changed, **kwargs))


def held(key: str, draw: Callable[[], Any]) -> Any:
    """A widget that is not in the URL (drawn by draw() under `key`) and keeps its value while
    its tab is closed: Streamlit forgets a widget a run does not draw, so its value is copied
    aside each run and put back when it is drawn again. The URL-bound widgets take keep=True."""
    kept = f"{key}_kept"
    if key not in st.session_state and kept in st.session_state:
        st.session_state[key] = st.session_state[kept]
    value = draw()
    st.session_state[kept] = value
    return value


def selectbox(container, label: str, options: Sequence[Any], key: str, what: str,
              format_func: Callable[[Any], Any] = str, keep: bool = False, **kwargs: Any) -> Any:
    """st.selectbox bound to the URL parameter `key` (value: the option's label). keep=True for
    a widget in a tab: the parameter stays in the URL while the tab is closed."""
    if keep:
        return _kept_choice(container.selectbox, label, options, key, what, format_func, **kwargs)
    return _bound(container.selectbox, label, options, key, what, format_func, **kwargs)


def radio(container, label: str, options: Sequence[Any], key: str, what: str,
          format_func: Callable[[Any], Any] = str, keep: bool = False, **kwargs: Any) -> Any:
    """st.radio bound to the URL parameter `key`; keep as for selectbox."""
    if keep:
        return _kept_choice(container.radio, label, options, key, what, format_func, **kwargs)
    return _bound(container.radio, label, options, key, what, format_func, **kwargs)


def toggle(container, label: str, key: str, keep: bool = False, **kwargs: Any) -> bool:
    """st.toggle bound to the URL parameter `key` (true/false); keep as for selectbox."""
    if keep:
        return _kept(key, f"setting “{label}”", {"True": True, "False": False, "true": True,
                                                   "false": False}, False,
            lambda changed: container.toggle(label, key=key, on_change=changed, **kwargs))
    check(key, _BOOLEANS, f"setting “{label}”")
    return container.toggle(label, key=key, bind="query-params", **kwargs)


def checkbox(container, label: str, key: str, **kwargs: Any) -> bool:
    """st.checkbox bound to the URL parameter `key` (true/false)."""
    check(key, _BOOLEANS, f"setting “{label}”")
    return container.checkbox(label, key=key, bind="query-params", **kwargs)


def multiselect(container, label: str, options: Sequence[Any], key: str, what: str,
                format_func: Callable[[Any], Any] = str, **kwargs: Any) -> list:
    """st.multiselect bound to the URL parameter `key` (one value per choice)."""
    return _bound(container.multiselect, label, options, key, what, format_func, many=True,
                  message=f"Some {what} in the link are not available here and were left out.",
                  **kwargs)


def select_slider(container, label: str, options: Sequence[Any], key: str, what: str,
                  format_func: Callable[[Any], Any] = str, **kwargs: Any) -> Any:
    """st.select_slider bound to the URL parameter `key`."""
    return _bound(container.select_slider, label, options, key, what, format_func, many=True,
                  **kwargs)


def tabs(labels: Sequence[str], key: str = "tab") -> Sequence:
    """st.tabs whose open tab is in the URL (`tab=<label>`). Switching tabs reruns the page and
    each tab's `.open` says whether it is the one shown, so a page may draw only that one; the
    choice widgets in such a tab take keep=True."""
    check(key, labels, "tab", f"the {labels[0]} tab")
    return st.tabs(list(labels), key=key, bind="query-params")


def tabbed(views: Mapping[str, Callable[[], Any]], key: str = "tab") -> None:
    """Tabs (see tabs) of label -> draw(), where only the open tab's draw() runs: a switch
    reruns the page, so the other tabs' figures and charts cost a view nothing."""
    for tab, draw in zip(tabs(list(views), key), views.values(), strict=True):
        with tab:
            if tab.open is not False:  # None: Streamlit not tracking the open tab, draw them all
                draw()


# The link is read in the browser at the moment of the click, so it always holds every choice
# the page has made, including ones Python has not seen yet.
_COPY_HTML = """
<style>
.wc-copy-link { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin: 0 0 0.4rem 0; }
.wc-copy-link-button {
  border: 1px solid #0072B2; background: #FFFFFF; color: #005A8C; border-radius: 0.4rem;
  padding: 0.25rem 0.7rem; font: inherit; cursor: pointer;
}
.wc-copy-link-button:hover { background: #E8F1F8; }
.wc-copy-link-label { color: #1A1A1A; font-size: 0.85rem; }
.wc-copy-link-text {
  flex: 1 1 18rem; min-width: 12rem; border: 1px solid #6B6B6B; border-radius: 0.3rem;
  padding: 0.2rem 0.4rem; font-size: 0.85rem; color: #1A1A1A; background: #FFFFFF;
}
.wc-copy-link-status { color: #1A1A1A; font-size: 0.85rem; }
</style>
<div class="wc-copy-link">
  <button type="button" class="wc-copy-link-button" id="wc-copy-link-button">Copy link to this view</button>
  <label class="wc-copy-link-label" for="wc-copy-link-text">Link</label>
  <input id="wc-copy-link-text" class="wc-copy-link-text" type="text" readonly value="">
  <span class="wc-copy-link-status" id="wc-copy-link-status" role="status" aria-live="polite"></span>
</div>
<script>
(() => {
  const button = document.getElementById("wc-copy-link-button");
  const field = document.getElementById("wc-copy-link-text");
  const status = document.getElementById("wc-copy-link-status");
  if (!button || button.dataset.bound) return;
  button.dataset.bound = "1";
  const refresh = () => { field.value = window.location.href; };
  refresh();
  button.addEventListener("click", async () => {
    refresh();
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = "Copied. Anyone with access who opens it sees this view.";
    } catch (e) {
      status.textContent = "Select the link and copy it (Ctrl+C).";
    }
  });
  field.addEventListener("focus", refresh);
})();
</script>
"""


def copy_link() -> None:
    """A "Copy link to this view" button with the link in a text field beside it."""
    st.html(_COPY_HTML, unsafe_allow_javascript=True)
