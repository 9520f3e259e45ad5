"""Date and month parsing: ISO, dd/mm/yyyy (order asked when ambiguous), Excel serials, month names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}
# Excel's day zero is 1899-12-30 (it counts the non-existent 29 Feb 1900). Serials are only
# believed between 1950 and 2100 so that an ordinary number is not read as a date.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
SERIAL_MIN, SERIAL_MAX = 18264, 73051

_ISO = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_DMY = r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
_TEXT_DMY = r"^(?P<d>\d{1,2})(?:st|nd|rd|th)?[ \-/]+(?P<mon>[A-Za-z]{3,9})\.?[ \-/,]+(?P<y>\d{4}|\d{2})$"
_TEXT_MDY = r"^(?P<mon>[A-Za-z]{3,9})\.? (?P<d>\d{1,2}),? (?P<y>\d{4})$"
_SERIAL = r"^(?P<n>\d{5})(?:\.\d+)?$"
_MONTH_ONLY = [
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})$",
    r"^(?P<m>\d{1,2})[-/.](?P<y>\d{4})$",
    r"^(?P<mon>[A-Za-z]{3,9})\.?[ \-/,]+(?P<y>\d{4}|\d{2})$",
    r"^(?P<y>\d{4})[ \-/](?P<mon>[A-Za-z]{3,9})$",
]


@dataclass
class ParsedDates:
    """Parsed dates (NaT where missing or unreadable) and what the parser had to decide."""

    values: pd.Series
    bad: pd.Series  # present but unreadable
    ambiguous: bool = False  # dd/mm vs mm/dd cannot be told from the data and nobody said
    order: str | None = None  # "day_first" | "month_first" when slash dates were seen
    example: str | None = None  # an ambiguous value, to show when asking
    pending: pd.Series | None = None  # rows that wait for the day/month answer


def _year(y: pd.Series) -> pd.Series:
    y = pd.to_numeric(y, errors="coerce").astype("float64")
    # Two-digit years: 00-69 are 2000s, 70-99 are 1900s (staff data rarely predates 1970).
    return pd.Series(np.where(y >= 100, y, np.where(y < 70, 2000 + y, 1900 + y)), index=y.index)


def _build(y: pd.Series, m: pd.Series, d: pd.Series) -> pd.Series:
    parts = pd.DataFrame(
        {
            "year": pd.to_numeric(y, errors="coerce").astype("float64"),
            "month": pd.to_numeric(m, errors="coerce").astype("float64"),
            "day": pd.to_numeric(d, errors="coerce").astype("float64"),
        }
    )
    ok = parts.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=y.index, dtype="datetime64[s]")
    if ok.any():
        out[ok] = pd.to_datetime(parts[ok].astype("int64"), errors="coerce")
    return out


def _month_number(names: pd.Series) -> pd.Series:
    return names.str.lower().map(MONTHS)


def decide_order(first: pd.Series, second: pd.Series) -> str | None:
    """day_first / month_first when the numbers force it, None when both readings work."""
    first = pd.to_numeric(first, errors="coerce").dropna()
    second = pd.to_numeric(second, errors="coerce").dropna()
    if first.empty:
        return None
    day_first_ok = bool((second <= 12).all())
    month_first_ok = bool((first <= 12).all())
    if day_first_ok and not month_first_ok:
        return "day_first"
    if month_first_ok and not day_first_ok:
        return "month_first"
    if day_first_ok and month_first_ok and bool((first == second).all()):
        return "day_first"  # 01/01, 02/02 ...: both readings give the same date
    return None


def parse_dates(values: pd.Series, day_first: bool | None = None) -> ParsedDates:
    """Parse a column of text dates; never guesses dd/mm vs mm/dd (sets ambiguous instead).

    Parses each distinct text once (a column of 5M absences has a few thousand distinct dates).
    """
    codes, uniques = pd.factorize(values.astype("string").str.strip(), use_na_sentinel=True)
    if len(uniques) * 2 > len(values):
        return _parse_dates(values, day_first)
    parsed = _parse_dates(pd.Series(uniques, dtype="string"), day_first)

    def spread(series: pd.Series, fill: object) -> pd.Series:
        arr = np.append(series.to_numpy(), np.array([fill], dtype=series.to_numpy().dtype))
        return pd.Series(arr[codes], index=values.index)

    return ParsedDates(
        values=spread(parsed.values, np.datetime64("NaT")).astype("datetime64[s]"),
        bad=spread(parsed.bad, False).astype(bool),
        ambiguous=parsed.ambiguous,
        order=parsed.order,
        example=parsed.example,
        pending=spread(parsed.pending, False).astype(bool),
    )


def _parse_dates(values: pd.Series, day_first: bool | None) -> ParsedDates:
    s = values.astype("string").str.strip()
    present = s.notna() & (s != "")
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")

    iso = s.str.extract(_ISO)
    hit = iso["y"].notna()
    out[hit] = _build(iso["y"], iso["m"], iso["d"])[hit]

    dmy = s.str.extract(_DMY)
    slash = dmy["a"].notna() & out.isna()
    order = None
    ambiguous = False
    example = None
    if slash.any():
        if day_first is not None:
            order = "day_first" if day_first else "month_first"
        else:
            order = decide_order(dmy.loc[slash, "a"], dmy.loc[slash, "b"])
            if order is None:
                a = pd.to_numeric(dmy.loc[slash, "a"])
                b = pd.to_numeric(dmy.loc[slash, "b"])
                if bool(((a > 12) & (b > 12)).any()) or not (bool((a <= 12).all()) or bool((b <= 12).all())):
                    order = "day_first"  # mixed orders: read as UK and flag what does not fit
                else:
                    ambiguous = True
                    example = str(
                        s[
                            slash
                            & (
                                pd.to_numeric(dmy["a"], errors="coerce")
                                != pd.to_numeric(dmy["b"], errors="coerce")
                            )
                        ].iloc[0]
                    )
        if order is not None:
            d, m = (dmy["a"], dmy["b"]) if order == "day_first" else (dmy["b"], dmy["a"])
            out[slash] = _build(_year(dmy["y"]), m, d)[slash]

    for pattern in (_TEXT_DMY, _TEXT_MDY):
        txt = s.str.extract(pattern)
        hit = txt["d"].notna() & out.isna()
        if hit.any():
            out[hit] = _build(_year(txt["y"]), _month_number(txt["mon"]), txt["d"])[hit]

    serial = s.str.extract(_SERIAL)["n"]
    n = pd.to_numeric(serial, errors="coerce")
    hit = n.between(SERIAL_MIN, SERIAL_MAX) & out.isna()
    if hit.any():
        out[hit] = (EXCEL_EPOCH + pd.to_timedelta(n[hit], unit="D")).astype("datetime64[s]")

    pending = slash & ambiguous
    bad = present & out.isna() & ~pending
    return ParsedDates(
        values=out, bad=bad, ambiguous=ambiguous, order=order, example=example, pending=pending
    )


def parse_months(values: pd.Series, day_first: bool | None = None) -> ParsedDates:
    """Parse a month column ('2024-01', 'Jan 2024', '01/2024' or any full date) to its first day."""
    s = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    for pattern in _MONTH_ONLY:
        got = s.str.extract(pattern)
        month = _month_number(got["mon"]) if "mon" in got else got["m"]
        hit = got["y"].notna() & out.isna()
        if hit.any():
            out[hit] = _build(_year(got["y"]), month, pd.Series(1, index=s.index))[hit]
    rest = out.isna()
    full = parse_dates(s.where(rest), day_first)
    out[rest] = full.values[rest].dt.to_period("M").dt.start_time.astype("datetime64[s]")
    return ParsedDates(
        values=out,
        bad=full.bad & rest,
        ambiguous=full.ambiguous,
        order=full.order,
        example=full.example,
        pending=full.pending & rest,
    )
