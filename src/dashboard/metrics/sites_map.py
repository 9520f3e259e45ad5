"""The sites map: released site figures placed by latitude/longitude, drawn offline with pydeck."""
from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pydeck as pdk

from dashboard import catalogue
from dashboard.metrics import drilldown, team_absence
from dashboard.present import formatting
from dashboard.store import derived

# Fill colours (RGBA) by status against the organisation: the heatmap's colours, so a site
# reads the same on the map and in the Sites view. Withheld sites are grey and carry no value.
FILL: dict[str, list[int]] = {
    "better": [0, 158, 115, 255],      # #009E73
    "similar": [86, 180, 233, 255],    # #56B4E9 (stronger than the heatmap tint: dots are small)
    "worse": [213, 94, 0, 255],        # #D55E00
    "none": [255, 255, 255, 255],
    "suppressed": [170, 170, 170, 255],
}
STATUS_TEXT: dict[str, str] = {
    "better": "▲ better than the organisation",
    "similar": "● similar to the organisation",
    "worse": "▼ worse than the organisation",
    "none": "no organisation figure to compare with",
    "suppressed": formatting.WITHHELD,
}
# Dot radius in screen pixels: area grows with staff in post between these bounds.
MIN_RADIUS, MAX_RADIUS, UNKNOWN_RADIUS = 9.0, 36.0, 11.0
# The drawing area the initial view is fitted to (pixels, with a margin for labels).
WIDTH, HEIGHT, MARGIN = 700.0, 460.0, 90.0
KM_PER_DEGREE = 111.32


def coordinates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every site that has teams: [site, latitude, longitude] (NaN where the store has none)."""
    return con.execute(
        """
        SELECT DISTINCT u.site, s.latitude, s.longitude
        FROM units AS u LEFT JOIN sites AS s USING (site)
        WHERE u.site IS NOT NULL
        ORDER BY u.site
        """
    ).df()


@derived.reads
def site_figures(
    con: duckdb.DuckDBPyConnection, wave_id: int, threshold: int, indicator_id: str
) -> pd.DataFrame:
    """One row per site for one indicator in one wave, released exactly as in the Teams page's
    Sites view (drilldown.heatmap against the organisation) and sized by staff in post released
    by the Absence page's rule. Columns: see prepare()."""
    heat = drilldown.heatmap(con, ("site",), wave_id, threshold, "organisation", None, [indicator_id])
    staff = team_absence.wave_release(con, wave_id, threshold)[0]["site"]
    ind = catalogue.get().indicators[indicator_id]
    return prepare(heat, staff, coordinates(con), threshold, ind.kind, ind.source == "absence")


def _fmt(kind: str, value: float) -> str:
    if kind == "rate":
        return f"{value:.1%}"
    return f"{value:.0%}" if kind in ("proportion", "share") else f"{value:.2f}"


def prepare(
    heat: pd.DataFrame,
    staff: pd.DataFrame,
    coords: pd.DataFrame,
    threshold: int,
    kind: str,
    absence: bool = False,
) -> pd.DataFrame:
    """Map rows from released figures; pure (no store access).

    heat: drilldown.heatmap rows by site for one indicator ([site, value, n, reference_value,
    status, suppressed]); staff: team_absence released site frame ([site, headcount,
    suppressed]); coords: coordinates(). Returns one row per site: [site, latitude, longitude,
    on_map, x, y, value, n, reference_value, status, status_text, withheld, staff, radius, fill,
    value_text, n_text, staff_text, tip]. A withheld site has no value, no n and no staff figure
    and is drawn grey at a fixed size, so neither its result nor its size is given away.
    """
    sites = coords[["site", "latitude", "longitude"]].copy()
    cells = heat[["site", "value", "n", "reference_value", "status", "suppressed"]] if len(heat) else \
        pd.DataFrame(columns=["site", "value", "n", "reference_value", "status", "suppressed"])
    out = sites.merge(cells, on="site", how="left")
    # a site with no figure at all for this indicator (nobody answered) reads as withheld-free "none"
    out["status"] = out.status.fillna("none")
    out["withheld"] = out.suppressed.astype("boolean").fillna(False).astype(bool)
    for col in ("value", "n", "reference_value"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        out.loc[out.withheld, col] = np.nan
    shown_staff = staff.loc[~staff.suppressed.astype(bool), ["site", "headcount"]] if len(staff) else \
        pd.DataFrame(columns=["site", "headcount"])
    out = out.merge(shown_staff.rename(columns={"headcount": "staff"}), on="site", how="left")
    out["staff"] = pd.to_numeric(out.staff, errors="coerce").astype("float64")
    out.loc[out.withheld, "staff"] = np.nan
    out["status_text"] = out.status.map(STATUS_TEXT)
    out["radius"] = radii(out.staff)
    out["fill"] = [FILL.get(s, FILL["none"]) for s in out.status]
    base = formatting.STAFF if absence else formatting.RESPONSES
    out["value_text"] = [
        formatting.WITHHELD if w else ("no figure" if pd.isna(v) else _fmt(kind, v))
        for v, w in zip(out.value, out.withheld, strict=True)
    ]
    out["n_text"] = [
        formatting.withheld_reason(threshold, base) if w
        else ("–" if pd.isna(n) else f"{int(n)} {base}")
        for n, w in zip(out.n, out.withheld, strict=True)
    ]
    out["staff_text"] = ["not shown" if pd.isna(s) else f"{int(s)}" for s in out.staff]
    out["tip"] = [
        f"{s}\nValue: {v}\nn: {n}\nStaff in post: {p}\n{t}"
        for s, v, n, p, t in zip(out.site, out.value_text, out.n_text, out.staff_text, out.status_text,
                                 strict=True)
    ]
    out["on_map"] = out.latitude.notna() & out.longitude.notna()
    out["x"], out["y"] = project(out.latitude, out.longitude)
    return out.reset_index(drop=True)


def radii(staff: pd.Series) -> np.ndarray:
    """Dot radius in pixels, area proportional to staff in post; fixed where staff is not shown."""
    values = pd.to_numeric(staff, errors="coerce").to_numpy(dtype=np.float64)
    known = ~np.isnan(values)
    out = np.full(len(values), UNKNOWN_RADIUS)
    if known.any():
        top = float(np.nanmax(values)) or 1.0
        out[known] = np.maximum(MIN_RADIUS, MAX_RADIUS * np.sqrt(values[known] / top))
    return out


def project(latitude: pd.Series, longitude: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Kilometres east and south of the sites' centre (equirectangular: exact enough within a
    region, and needs no map tiles). South is positive because the flat view draws y downwards."""
    lat = pd.to_numeric(latitude, errors="coerce").to_numpy(dtype=np.float64)
    lon = pd.to_numeric(longitude, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(lat).all():
        return np.full(len(lat), np.nan), np.full(len(lat), np.nan)
    lat0, lon0 = np.nanmean(lat), np.nanmean(lon)
    x = (lon - lon0) * KM_PER_DEGREE * math.cos(math.radians(lat0))
    y = -(lat - lat0) * KM_PER_DEGREE
    return x, y


def view(frame: pd.DataFrame) -> dict:
    """Initial view (target in km, zoom as log2 pixels per km) fitting every mapped site."""
    placed = frame[frame.on_map]
    if placed.empty:
        return {"target": [0.0, 0.0, 0.0], "zoom": 0.0}
    x0, x1 = float(placed.x.min()), float(placed.x.max())
    y0, y1 = float(placed.y.min()), float(placed.y.max())
    span_x, span_y = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    scale = min(scale, 200.0)  # a single site (or sites on one spot): about 2 km across the view
    return {"target": [(x0 + x1) / 2, (y0 + y1) / 2, 0.0], "zoom": math.log2(scale)}


def deck(frame: pd.DataFrame) -> pdk.Deck:
    """The map: a flat (orthographic) view with no basemap, so nothing is fetched from the
    internet; dots by site, labels, and a tooltip with value, n and staff in post."""
    # large dots first, so a small site next to a large one stays visible (and clickable)
    placed = frame[frame.on_map].sort_values("radius", ascending=False, kind="stable")
    placed = placed[["site", "x", "y", "radius", "fill", "tip", "withheld"]].copy()
    placed["line"] = [[90, 90, 90, 255] if w else [26, 26, 26, 255] for w in placed.withheld]
    # names sit to the right of each dot, clear of it whatever its size
    placed["offset"] = [[float(r) + 5.0, 0.0] for r in placed.radius]
    placed = placed.drop(columns="withheld")
    # string props are expressions in pydeck's JSON: constants are quoted
    dots = pdk.Layer(
        "ScatterplotLayer", placed, id="sites", get_position=["x", "y"], get_radius="radius",
        radius_units="'pixels'", get_fill_color="fill", get_line_color="line", stroked=True,
        line_width_units="'pixels'", get_line_width=1.5, pickable=True,
    )
    labels = pdk.Layer(
        "TextLayer", placed, id="site-names", get_position=["x", "y"], get_text="site", get_size=13,
        get_color=[26, 26, 26, 255], get_pixel_offset="offset", get_text_anchor="'start'",
        get_alignment_baseline="'center'",
    )
    state = view(frame)
    return pdk.Deck(
        layers=[dots, labels],
        views=[pdk.View(type="OrthographicView", controller=True)],
        initial_view_state=pdk.ViewState(target=state["target"], zoom=state["zoom"],
                                         latitude=None, longitude=None),
        map_provider=None,
        map_style=None,
        tooltip={"text": "{tip}"},
    )


def summary(frame: pd.DataFrame, indicator: str) -> str:
    """One sentence for screen readers: how many sites are shown, better, worse, withheld."""
    counts = frame.status.value_counts()
    shown = int((~frame.withheld).sum())
    text = (f"Map of {len(frame)} sites for {indicator}: {shown} shown "
            f"({int(counts.get('better', 0))} better than the organisation, "
            f"{int(counts.get('similar', 0))} similar, {int(counts.get('worse', 0))} worse), "
            f"{int(frame.withheld.sum())} withheld")
    missing = int((~frame.on_map).sum())
    return text + (f"; {missing} without coordinates, listed in the table only." if missing else ".")


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The map as a table (the text alternative, and the tooltips for keyboard users)."""
    return pd.DataFrame({
        "Site": frame.site,
        "Value": frame.value_text,
        "n": frame.n_text,
        "Staff in post": frame.staff_text,
        "Against the organisation": frame.status_text,
        "On the map": frame.on_map.map({True: "yes", False: "no: no coordinates"}),
    })


def released_sites(frame: pd.DataFrame) -> Sequence[str]:
    """Sites that can be opened (not withheld)."""
    return list(frame.loc[~frame.withheld, "site"])
