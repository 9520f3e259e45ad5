"""Absence charts: rate series, reasons, short/long split, seasonality, Bradford bands, survey x absence."""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.present.charts.common import PALETTE, base_config

# Each series has its own colour AND dash or marker shape, so none relies on colour alone.
SERIES = {
    "Monthly rate": (PALETTE[0], [1, 0], "circle"),
    "Rolling 12 months": (PALETTE[1], [8, 4], "square"),
    "Same month last year": (PALETTE[5], [2, 2], "triangle-up"),
}
SHARES = {
    "s10_share": ("Anxiety/stress/depression (S10)", PALETTE[3], [1, 0], "circle"),
    "msk_share": ("Musculoskeletal (S11/S12)", PALETTE[2], [8, 4], "square"),
    "s99_share": ("Reason not recorded (S99)", PALETTE[7], [2, 2], "triangle-up"),
}
TERM_COLOURS = {"Short-term": PALETTE[5], "Long-term": PALETTE[0]}


def _long_series(monthly: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    """Wide monthly columns -> one row per month and series, in percent, missing values dropped."""
    frame = monthly.assign(month=pd.to_datetime(monthly["month"]))
    long = frame.melt(id_vars=["month"], value_vars=list(cols), var_name="key", value_name="value")
    long["series"] = long["key"].map(cols)
    long["percent"] = long["value"].astype("float64") * 100
    return long[long["percent"].notna()]


def rate_series(monthly: pd.DataFrame, events: pd.DataFrame | None = None, title: str = "") -> alt.Chart:
    """Monthly absence rate, rolling 12-month rate and the same month last year (percent).

    monthly: month, rate, rate_12m, rate_last_year. events: date, label (vertical rules, e.g. an
    intervention's start). Months without a figure leave a gap, never a zero.
    """
    cols = {"rate": "Monthly rate", "rate_12m": "Rolling 12 months", "rate_last_year": "Same month last year"}
    data = _long_series(monthly, cols)
    names = list(SERIES)
    colour = alt.Color("series:N", title=None, sort=names,
                       scale=alt.Scale(domain=names, range=[v[0] for v in SERIES.values()]))
    dash = alt.StrokeDash("series:N", title=None, sort=names,
                          scale=alt.Scale(domain=names, range=[v[1] for v in SERIES.values()]))
    shape = alt.Shape("series:N", title=None, sort=names,
                      scale=alt.Scale(domain=names, range=[v[2] for v in SERIES.values()]))
    base = alt.Chart(data).encode(
        x=alt.X("month:T", title="Month", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("percent:Q", title="Sickness absence rate (%)", scale=alt.Scale(zero=True)),
        color=colour,
        detail="series:N",
        tooltip=[
            alt.Tooltip("month:T", title="Month", format="%B %Y"),
            alt.Tooltip("series:N", title="Series"),
            alt.Tooltip("percent:Q", title="Rate %", format=".2f"),
        ],
    )
    layers = [
        base.mark_line(strokeWidth=2.5).encode(strokeDash=dash),
        base.mark_point(size=45, filled=True).encode(shape=shape),
    ]
    if events is not None and not events.empty:
        ev = events.assign(date=pd.to_datetime(events["date"]))
        rule = alt.Chart(ev).mark_rule(color="#000000", strokeDash=[4, 3]).encode(
            x="date:T", tooltip=[alt.Tooltip("label:N", title="Event"), alt.Tooltip("date:T", title="From")]
        )
        text = alt.Chart(ev).mark_text(align="left", dx=4, dy=-6, fontSize=12, color="#000000").encode(
            x="date:T", y=alt.value(8), text="label:N"
        )
        layers += [rule, text]
    return base_config(
        alt.layer(*layers).properties(title=title or "Sickness absence rate by month", height=320)
    )


def group_rates(period: pd.DataFrame, group: str, title: str = "") -> alt.Chart:
    """Horizontal bars of the period absence rate per group (suppressed groups already removed).

    period: <group>, rate, fte_days_lost, fte_days_available, headcount.
    """
    data = period[period["rate"].notna()].assign(
        percent=lambda d: d["rate"] * 100, text=lambda d: d["rate"].map("{:.1%}".format)
    )
    order = list(data.sort_values("percent", ascending=False)[group])
    y = alt.Y(f"{group}:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    bars = alt.Chart(data).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("percent:Q", title="Sickness absence rate (%)"),
        y=y,
        tooltip=[
            alt.Tooltip(f"{group}:N"),
            alt.Tooltip("percent:Q", title="Rate %", format=".2f"),
            alt.Tooltip("fte_days_lost:Q", title="FTE days lost", format=",.1f"),
            alt.Tooltip("fte_days_available:Q", title="FTE days available", format=",.0f"),
            alt.Tooltip("headcount:Q", title="Smallest monthly headcount", format=",.0f"),
        ],
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=12, color="#1A1A1A").encode(text="text:N")
    return base_config(
        alt.layer(bars, labels).properties(title=title or "Absence rate by group", height=alt.Step(22))
    )


def reasons_bar(reasons: pd.DataFrame, top: int = 12) -> alt.Chart:
    """FTE days lost by ESR reason, largest first, labelled with code, reason and share.

    reasons: reason_code, reason, fte_days_lost, share (one group).
    """
    data = reasons[reasons["fte_days_lost"].notna()].copy()
    data["name"] = [
        f"{c} {r}" if isinstance(c, str) else r
        for c, r in zip(data["reason_code"], data["reason"], strict=True)
    ]
    data = data.sort_values("fte_days_lost", ascending=False).head(top)
    data["text"] = data["share"].map(lambda s: "" if pd.isna(s) else f"{s:.0%}")
    order = list(data["name"])
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=360))
    bars = alt.Chart(data).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("fte_days_lost:Q", title="FTE days lost"),
        y=y,
        tooltip=[
            alt.Tooltip("reason_code:N", title="Code"),
            alt.Tooltip("reason:N", title="Reason"),
            alt.Tooltip("fte_days_lost:Q", title="FTE days lost", format=",.1f"),
            alt.Tooltip("share:Q", title="Share of days with a reason", format=".1%"),
        ],
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=12, color="#1A1A1A").encode(text="text:N")
    return base_config(
        alt.layer(bars, labels).properties(title="Days lost by reason (ESR codes)", height=alt.Step(24))
    )


def reason_shares(monthly: pd.DataFrame) -> alt.Chart:
    """Monthly shares of days lost to S10, MSK (S11/S12) and unknown reason (S99), percent."""
    cols = {k: v[0] for k, v in SHARES.items()}
    data = _long_series(monthly, cols)
    names = [v[0] for v in SHARES.values()]
    enc = {
        "color": alt.Color("series:N", title=None, sort=names,
                           scale=alt.Scale(domain=names, range=[v[1] for v in SHARES.values()])),
    }
    base = alt.Chart(data).encode(
        x=alt.X("month:T", title="Month", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("percent:Q", title="% of days lost with a reason"),
        detail="series:N",
        tooltip=[
            alt.Tooltip("month:T", title="Month", format="%B %Y"),
            alt.Tooltip("series:N", title="Reason"),
            alt.Tooltip("percent:Q", title="%", format=".1f"),
        ],
        **enc,
    )
    lines = base.mark_line(strokeWidth=2.5).encode(
        strokeDash=alt.StrokeDash("series:N", title=None, sort=names,
                                  scale=alt.Scale(domain=names, range=[v[2] for v in SHARES.values()]))
    )
    points = base.mark_point(size=40, filled=True).encode(
        shape=alt.Shape("series:N", title=None, sort=names,
                        scale=alt.Scale(domain=names, range=[v[3] for v in SHARES.values()]))
    )
    return base_config(alt.layer(lines, points).properties(title="Reason shares by month", height=300))


def short_long(patterns: pd.DataFrame) -> alt.Chart:
    """Short- vs long-term split as percent of spells and of FTE days lost (organisation or one group).

    patterns: one row with spells_short, spells_long, days_short, days_long.
    """
    row = patterns.iloc[0]
    data = pd.DataFrame(
        {
            "measure": ["Spells", "Spells", "FTE days lost", "FTE days lost"],
            "term": ["Short-term", "Long-term", "Short-term", "Long-term"],
            "count": [row.spells_short, row.spells_long, row.days_short, row.days_long],
        }
    )
    totals = data.groupby("measure")["count"].transform("sum")
    data["percent"] = 100 * data["count"] / totals.where(totals > 0)
    data["text"] = [
        f"{t}: {p:.0f}%" if pd.notna(p) else "" for t, p in zip(data.term, data.percent, strict=True)
    ]
    # short-term segments start at 0, long-term ones where short-term ends
    data["start"] = data["percent"].where(data.term == "Long-term", 0.0)
    data.loc[data.term == "Long-term", "start"] = data.loc[data.term == "Short-term", "percent"].to_numpy()
    data["term_order"] = (data.term == "Long-term").astype(int)
    names = list(TERM_COLOURS)
    tooltip = [
        alt.Tooltip("measure:N"), alt.Tooltip("term:N", title="Type"),
        alt.Tooltip("count:Q", title="Count", format=",.1f"),
        alt.Tooltip("percent:Q", title="%", format=".1f"),
    ]
    y = alt.Y("measure:N", title=None, sort=["Spells", "FTE days lost"])
    bars = alt.Chart(data).mark_bar(height=34, stroke="#FFFFFF", strokeWidth=2).encode(
        y=y,
        x=alt.X("percent:Q", title="% of total", stack="zero", scale=alt.Scale(domain=[0, 100])),
        order=alt.Order("term_order:Q"),
        color=alt.Color("term:N", title=None, sort=names,
                        scale=alt.Scale(domain=names, range=list(TERM_COLOURS.values()))),
        tooltip=tooltip,
    )
    # the text inside each segment names it, so the split does not depend on colour
    labels = alt.Chart(data).mark_text(align="left", dx=6, fontSize=13, color="#000000").encode(
        y=y, x="start:Q", text="text:N", tooltip=tooltip
    )
    return base_config(
        alt.layer(bars, labels).properties(title="Short-term and long-term absence", height=alt.Step(50))
    )


def seasonality_chart(season: pd.DataFrame) -> alt.Chart:
    """Month-of-year profile of the absence rate (percent), January to December."""
    data = season[season["rate"].notna()].assign(percent=lambda d: d["rate"] * 100)
    order = [pd.Timestamp(2000, m, 1).strftime("%b") for m in range(1, 13)]
    bars = alt.Chart(data).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("month_name:O", title="Month of year", sort=order),
        y=alt.Y("percent:Q", title="Sickness absence rate (%)"),
        tooltip=[
            alt.Tooltip("month_name:O", title="Month"),
            alt.Tooltip("percent:Q", title="Rate %", format=".2f"),
            alt.Tooltip("years:Q", title="Years of data"),
        ],
    )
    return base_config(bars.properties(title="Seasonality: absence rate by month of year", height=280))


def bradford_bands(bands: pd.DataFrame, group: str | None, band_order: list[str]) -> alt.Chart:
    """Share of absent employees per Bradford Factor band, one panel per group (never individuals).

    bands: [group], band, employees, share; suppressed groups already removed.
    """
    data = bands[bands["share"].notna()].assign(percent=lambda d: d["share"] * 100)
    bar = alt.Chart(data).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("band:O", title="Bradford Factor band", sort=band_order),
        y=alt.Y("percent:Q", title="% of employees with absence"),
        tooltip=[
            *([alt.Tooltip(f"{group}:N")] if group else []),
            alt.Tooltip("band:O", title="Band"),
            alt.Tooltip("employees:Q", title="Employees", format=",.0f"),
            alt.Tooltip("percent:Q", title="%", format=".1f"),
        ],
    ).properties(width=220, height=180)
    chart = bar.facet(facet=alt.Facet(f"{group}:N", title=None), columns=3) if group else bar
    return base_config(chart.properties(title="Bradford Factor distribution (group level only)"))


def survey_scatter(
    teams: pd.DataFrame, result: dict, x_title: str, y_title: str, x_percent: bool = True
) -> alt.Chart:
    """Team-level scatter of a survey indicator against absence, with the least-squares line.

    teams: team, value, n, absence, headcount. result: pearson_ci output (slope, intercept, r, lo,
    hi, n). The title carries r with its 95% interval and the number of teams.
    """
    xs = 100 if x_percent else 1
    data = teams.assign(x=teams["value"] * xs, y=teams["absence"] * 100)
    points = alt.Chart(data).mark_point(size=80, filled=True, color=PALETTE[0], shape="circle").encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False)),
        tooltip=[
            alt.Tooltip("team:N", title="Team"),
            alt.Tooltip("x:Q", title=x_title, format=".1f"),
            alt.Tooltip("y:Q", title=y_title, format=".2f"),
            alt.Tooltip("n:Q", title="Respondents", format=",.0f"),
            alt.Tooltip("headcount:Q", title="Staff in post", format=",.0f"),
        ],
    )
    layers = [points]
    subtitle = f"n = {result.get('n', len(teams))} teams"
    if result.get("slope") is not None and not data.empty:
        lo, hi = float(data["value"].min()), float(data["value"].max())
        line = pd.DataFrame({"value": [lo, hi]})
        line["fit"] = (result["intercept"] + result["slope"] * line["value"]) * 100
        line["x"] = line["value"] * xs
        layers.append(
            alt.Chart(line).mark_line(color=PALETTE[3], strokeWidth=2.5, strokeDash=[6, 3]).encode(
                x="x:Q", y="fit:Q"
            )
        )
    if result.get("r") is not None:
        subtitle = f"r = {result['r']:.2f}"
        if result.get("lo") is not None:
            subtitle += f" (95% CI {result['lo']:.2f} to {result['hi']:.2f})"
        subtitle += f", n = {result['n']} teams; dashed line: least-squares fit"
    return base_config(
        alt.layer(*layers).properties(
            title=alt.TitleParams("Survey and absence by team", subtitle=[subtitle]), height=380
        )
    )
