"""User-supplied text made inert: escaped for Markdown and HTML on screen, neutralised in CSV files."""
from __future__ import annotations

import re

import pandas as pd

# CommonMark lets a backslash escape any ASCII punctuation. These are the marks that start
# emphasis, code, links, images, HTML, tables, lists, headings, strikethrough, GFM autolinks
# (http://, www., user@host) and Streamlit's $math$ and :emoji:/:colour[...] directives.
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&@/])")
# A spreadsheet treats a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# GFM finds bare URLs and e-mail addresses in the text after escapes are resolved, so escaping
# cannot stop them: an invisible word joiner after the scheme, "www" or "@" does.
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|www|@)(?=[:./\w])")
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    """Text shown literally by st.markdown/caption/info/labels: no bold, links, HTML or math."""
    flat = " ".join(str(text).split())  # a newline could start a list, heading or table
    return _MD_PUNCT.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, flat))


def md_html(text: object) -> str:
    """Text inside HTML rendered by st.markdown(unsafe_allow_html=True): every punctuation mark as a
    numeric character reference, inert both as Markdown and as HTML."""
    flat = " ".join(str(text).split())
    return _MD_PUNCT.sub(lambda m: f"&#{ord(m.group(1))};", flat)


def cell(value: object) -> object:
    """One CSV cell that a spreadsheet will show as text, never run as a formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    # pandas leaves a field with a bare CR unquoted, which a spreadsheet reads as a new row
    return value.replace("\r\n", "\n").replace("\r", "\n")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text cells and column names cannot start a formula."""
    out = frame.copy()
    out.columns = [cell(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(cell, na_action="ignore")
    return out


def csv_bytes(frame: pd.DataFrame, index: bool = False) -> bytes:
    """The one way every download writes CSV: UTF-8, formula cells neutralised."""
    return neutralise(frame).to_csv(index=index).encode("utf-8")
