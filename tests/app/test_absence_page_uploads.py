"""After importing the absence fixtures, every figure the Absence page shows equals a hand computation."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ingest import pipeline
from dashboard.ui import absence_page
from tests import expanders, signin
from tests.tabs import open_tab

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "absence.py")
UPLOADS = ROOT / "tests" / "fixtures" / "uploads"


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "secret.key"))
    monkeypatch.setenv("WELLBEING_THRESHOLD", "10")
    store.connect(db).close()
    signin.add_user(db, "ana", "analyst")
    return db


def _import(db, name, kind, **kw):
    con = store.connect(db)
    try:
        _raw, prepared = pipeline.prepare(con, UPLOADS / name, kind, **kw)
        assert prepared.report.ok, (prepared.report.errors, prepared.report.questions)
        pipeline.commit(con, prepared, user="test")
        return prepared.report
    finally:
        con.close()


def _page():
    at = expanders.open_all(signin.sign_in(AppTest.from_file(PAGE, default_timeout=120).run(), "ana"))
    assert not at.exception, at.exception
    return at


def _tab(at, label: str):
    """The page on one of its tabs, its tables opened."""
    at = expanders.open_all(open_tab(at, label))
    assert not at.exception, (label, at.exception)
    return at


def _metrics(at) -> dict[str, str]:
    """Every tile on every tab."""
    tiles = {}
    for label in absence_page.TABS:
        tiles |= {m.label: m.value for m in _tab(at, label).metric}
    return tiles


def _pct(x: float, digits: int = 2) -> str:
    return f"{x * 100:.{digits}f}%"


def test_esr_episodes_with_staff_in_post_every_figure_by_hand(env):
    _import(env, "staff_in_post_title_rows.csv", "staff_in_post")
    _import(env, "absence_esr_organisation.csv", "absence")
    at = _page()
    assert not at.warning or all("Bradford" in w.value for w in at.warning)  # no gap to report
    # By hand from the two files (calendar days x episode FTE; available = FTE in post x days):
    #   Ward 7  S10  1.0 FTE  3-12 Jan          -> Jan 10 days        = 10.0
    #   Ward 7  S12  0.5 FTE  29 Jan - 2 Feb    -> Jan 3 x 0.5 = 1.5, Feb 2 x 0.5 = 1.0
    #   Theatres S13 1.0 FTE  15-16 Feb         -> Feb 2.0
    #   Theatres S99 0.8 FTE  20 Feb, open      -> runs to the end of the data (29 Feb): 10 x 0.8 = 8.0
    #   Ward 7  S11  1.0 FTE  13 Feb            -> Feb 1.0
    jan_lost, feb_lost = 10 + 1.5, 1.0 + 2.0 + 8.0 + 1.0
    jan_avail, feb_avail = (16.0 + 10.0) * 31, (18.0 + 10.0) * 29
    table = at.dataframe[0].value  # the rates tab's monthly figures
    m = _metrics(at)
    assert set(m) == {
        "Rate, Feb 2024", "Rolling 12 months", "Feb 2023", "Whole period", "Reason not recorded (S99)",
        "Duplicate records merged", "Open episodes", "Records dropped", "Spells per FTE over the period",
    }
    assert m["Rate, Feb 2024"] == _pct(feb_lost / feb_avail) == "1.48%"
    assert m["Rolling 12 months"] == "–" and m["Feb 2023"] == "–"  # two months of data only
    assert m["Whole period"] == _pct((jan_lost + feb_lost) / (jan_avail + feb_avail)) == "1.45%"
    assert m["Reason not recorded (S99)"] == _pct(8.0 / (jan_lost + feb_lost), 1) == "34.0%"
    assert (m["Duplicate records merged"], m["Open episodes"], m["Records dropped"]) == ("0", "1", "0")
    # 5 spells start in the period; mean monthly FTE in post (26 + 28) / 2 = 27.
    assert m["Spells per FTE over the period"] == f"{5 / 27:.2f}" == "0.19"
    assert table["Month"].tolist() == ["Jan 2024", "Feb 2024"]
    assert table["FTE days lost"].tolist() == [jan_lost, feb_lost]
    assert table["FTE days available"].tolist() == [jan_avail, feb_avail]
    assert table["Rate"].tolist() == [_pct(jan_lost / jan_avail), _pct(feb_lost / feb_avail)]
    assert table["Headcount"].tolist() == [32, 32] and set(table["Source"]) == {"episodes"}
    assert "No survey waves yet." in [i.value for i in _tab(at, "Survey × absence").info]


def test_monthly_hours_converted_every_figure_by_hand(env):
    report = _import(env, "absence_hours.csv", "absence_monthly", hours_per_day=7.5)
    assert "'FTE Hours Lost' is in hours: divided by 7.5 hours per FTE day." in report.notes
    at = _page()
    table = at.dataframe[0].value  # the rates tab's monthly figures
    # Hours / 7.5: Jan lost (90 + 22.5) / 7.5 = 15, available (4650 + 2325) / 7.5 = 930;
    #              Feb lost (60 + 75) / 7.5 = 18, available (4350 + 2175) / 7.5 = 870.
    assert _metrics(at) == {
        "Rate, Feb 2024": _pct(18 / 870),
        "Rolling 12 months": "–",
        "Feb 2023": "–",
        "Whole period": _pct(33 / 1800),
        # monthly totals carry no episodes: nothing merged, dropped or open, no spells, no reasons
        "Duplicate records merged": "0",
        "Open episodes": "0",
        "Records dropped": "0",
        "Reason not recorded (S99)": "–",
        "Spells per FTE over the period": "–",
    }
    assert (_pct(18 / 870), _pct(33 / 1800)) == ("2.07%", "1.83%")
    # the file gives no reasons: its 15 + 18 = 33 days are one row "not broken down", with no share
    reasons = next(d.value for d in _tab(at, "Reasons").dataframe if "Reason" in d.value.columns)
    assert reasons.Reason.tolist() == ["Not broken down by reason (monthly totals)"]
    assert reasons["FTE days lost"].tolist() == [33.0] and reasons.Share.tolist() == ["–"]
    assert table["FTE days lost"].tolist() == [15.0, 18.0]
    assert table["FTE days available"].tolist() == [930.0, 870.0]
    assert table["Rate"].tolist() == [_pct(15 / 930), _pct(18 / 870)]


def test_episodes_without_staff_in_post_say_what_rates_need(env):
    _import(env, "absence_esr_organisation.csv", "absence")
    at = _page()
    assert any(
        w.value.startswith(
            "The absence episodes have no staff in post for their teams and months, so no rate "
            "can be shown: absence rates need staff in post (FTE)"
        )
        for w in at.warning
    )
    assert f"No absence figure to show: {10} or more staff in post are needed." in [i.value for i in at.info]
