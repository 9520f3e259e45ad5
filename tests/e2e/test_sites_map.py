"""Browser test: the sites map draws with no internet, withheld sites grey and without figures."""
from __future__ import annotations

import re

import pytest

from tests import teams_org
from tests.e2e.conftest import close_tab, sign_in, wait_for_app

pytestmark = pytest.mark.e2e

# Okabe-Ito fills of sites_map.FILL: grey for withheld, green better, blue similar.
GREY, GREEN, BLUE = (170, 170, 170), (0, 158, 115), (86, 180, 233)


@pytest.fixture(scope="module")
def sites_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sites_e2e") / "store.duckdb"
    con = teams_org.build(path)
    teams_org.add_absence(con)
    con.execute("INSERT INTO sites VALUES ('North', 53.80, -1.55), ('South', 53.62, -1.38)")
    con.close()
    return path


def _offline(page) -> list[str]:
    """Refuse every request that leaves the machine; return the list of those attempted."""
    outside: list[str] = []

    def handle(route):
        url = route.request.url
        if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", url) or url.startswith("data:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", handle)
    return outside


def _colours(png: bytes) -> dict[tuple[int, int, int], int]:
    """Pixel count of every colour in a screenshot."""
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(png)).convert("RGB")
    return {c: n for n, c in img.getcolors(maxcolors=1_000_000)}


def _has(colours: dict, target: tuple[int, int, int], pixels: int = 150) -> bool:
    """A filled dot of this colour is drawn: a radius-9 dot covers about 250 pixels, while
    anti-aliased edges and text only touch a colour in a few scattered pixels."""
    return sum(n for c, n in colours.items()
               if all(abs(a - b) <= 2 for a, b in zip(c, target, strict=True))) >= pixels


def _drawn(page, deck, colour: tuple[int, int, int]) -> dict[tuple[int, int, int], int]:
    """The map's colours once a dot of this colour is drawn (deck.gl draws after the script run;
    all dots of a layer come in one frame), or after 20 s, so the caller's check then fails."""
    colours = _colours(deck.screenshot())
    for _ in range(80):
        if _has(colours, colour):
            break
        page.wait_for_timeout(250)
        colours = _colours(deck.screenshot())
    return colours


def _screen_position(db, deck, site: str) -> tuple[float, float]:
    """Where a site's dot is drawn: the view centres its target and scales by 2^zoom."""
    from dashboard import store
    from dashboard.metrics import sites_map

    con = store.connect(db, read_only=True)
    try:
        frame = sites_map.site_figures(con, 2, 10, "stress")
    finally:
        con.close()
    view = sites_map.view(frame)
    row = frame.set_index("site").loc[site]
    box = deck.bounding_box()
    scale = 2 ** view["zoom"]
    return (box["x"] + box["width"] / 2 + (row.x - view["target"][0]) * scale,
            box["y"] + box["height"] / 2 + (row.y - view["target"][1]) * scale)


def _tooltip(page, db, deck, site: str) -> str:
    """The map's tooltip while the pointer rests on a site's dot."""
    page.mouse.move(*_screen_position(db, deck, site))
    tip = page.locator(".deck-tooltip")
    page.wait_for_function(
        "s => [...document.querySelectorAll('.deck-tooltip')].some("
        "t => t.innerText.startsWith(s) && getComputedStyle(t).display !== 'none')", arg=site)
    return tip.inner_text()


def test_map_draws_offline_with_withheld_sites_withheld(server_factory, sites_db, new_page):
    base = server_factory(sites_db, users=[("ana", "analyst")])
    page = new_page()
    outside = _offline(page)
    try:
        # absence: both sites are withheld (a site would expose Ward C or Clinic by differencing)
        sign_in(page, base, "ana", path="teams?tab=Sites+map&map=Sickness+absence+rate")
        deck = page.locator("[data-testid='stDeckGlJsonChart']")
        deck.wait_for()
        page.get_by_text("Map of 2 sites for Absence rate: 0 shown").first.wait_for()
        page.get_by_text("Sites as a table").click()
        table = page.locator("[data-testid='stDataFrame']").last
        table.wait_for()
        colours = _drawn(page, deck, GREY)
        assert _has(colours, GREY) and not _has(colours, GREEN) and not _has(colours, BLUE)
        tip = _tooltip(page, sites_db, deck, "North")
        assert "Value: withheld" in tip and "Staff in post: not shown" in tip, tip
        assert ("n: fewer than 10 staff in post, or withheld so that a smaller group cannot be "
                "worked out") in tip, tip
        # stress: both sites are released, both similar to the organisation (false-discovery control)
        sign_in(page, base, "ana", path="teams?tab=Sites+map")  # a new page load signs in again
        page.get_by_text("Map of 2 sites for Stress: 2 shown").first.wait_for()
        deck.wait_for()
        colours = _drawn(page, deck, BLUE)
        assert _has(colours, BLUE) and not _has(colours, GREY) and not _has(colours, GREEN)
        # the tooltip gives value and n, by hand from tests/teams_org.py (wave 2025):
        # North = Ward A 10/20, Ward B 7/14, Ward C 4/4, Clinic 10/11, HR 3/6, Finance 2/7 = 36/62
        # (58.1%, shown to whole points); South = Theatres 5/25, Day Unit 6/12 = 11/37 (29.7%)
        tip = _tooltip(page, sites_db, deck, "North")
        assert "Value: 58%" in tip and "n: 62 responses" in tip, tip
        tip = _tooltip(page, sites_db, deck, "South")
        assert "Value: 30%" in tip and "n: 37 responses" in tip, tip
        assert page.locator("[data-testid='stException']").count() == 0
        # clicking a site opens its cut: every indicator for the site against the organisation
        x, y = _screen_position(sites_db, deck, "North")
        page.mouse.click(x, y)
        wait_for_app(page)
        page.get_by_text("North: every indicator against the organisation").wait_for()
        assert page.get_by_role("combobox", name="Open a site").input_value() == "North"
        # nothing was fetched from the internet (no map tiles, no fonts)
        assert [u for u in outside if "metrics.json" not in u] == []
    finally:
        close_tab(page)
