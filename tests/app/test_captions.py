"""No caption holds a link: Streamlit draws captions at 60% opacity, which takes a link to 3:1,
and the style that lifts them comes with HTML Markdown, which a new tab may draw after plain
Markdown (tests/e2e/test_accessibility.py). Links go in body text, in the theme's colour."""
from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.ui import shell
from tests.tabs import open_tab

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(|<a\s|https?://")


def _linked(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if LINK.search(c.value)]


def _pages() -> list[str]:
    return [str(ROOT / path) for path, _title, url, _icon in shell.PAGES if url != "admin"]


def test_no_caption_on_any_page_or_tab_holds_a_link(demo_env_read_only):
    seen = 0
    for page in _pages():
        at = AppTest.from_file(page, default_timeout=180).run()
        assert not at.exception, (page, at.exception)
        labels = [t.label for t in at.tabs]
        assert not _linked(at), (page, _linked(at))
        seen += len(at.caption)
        for label in labels[1:]:
            open_tab(at, label)
            assert not at.exception, (page, label, at.exception)
            assert not _linked(at), (page, label, _linked(at))
            seen += len(at.caption)
    assert seen > 40   # the check read the app's captions, not an empty page


def test_a_sites_panel_and_the_register_put_their_links_in_body_text(demo_env_read_only):
    at = AppTest.from_file(str(ROOT / "pages" / "teams.py"), default_timeout=180).run()
    open_tab(at, "Sites map")
    site = at.selectbox(key="site")
    site.set_value(site.options[0]).run()
    assert not at.exception, at.exception
    assert any("Absence at this site](" in m.value for m in at.markdown)
    assert not _linked(at), _linked(at)
    at = AppTest.from_file(str(ROOT / "pages" / "interventions.py"), default_timeout=180)
    at.query_params["tab"] = "Register"
    at.run()
    assert any("[Data page](/data)" in m.value for m in at.markdown)
    assert not _linked(at), _linked(at)
