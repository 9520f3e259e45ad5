"""The app shell: what one page run reads once for all its parts."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import store
from dashboard.ui import chart_export, shell

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_a_page_run_reads_the_dataset_once_for_its_banner_and_every_chart_footer(
        demo_env_read_only, monkeypatch):
    reads, footers = [], []
    real_info, real_footer = store.dataset_info, chart_export.footer

    def info(con):
        reads.append(1)
        return real_info(con)

    def footer(period, n):
        footers.append(real_footer(period, n))
        return footers[-1]

    monkeypatch.setattr(store, "dataset_info", info)
    monkeypatch.setattr(chart_export, "footer", footer)
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/absence.py")
    reads.clear()
    footers.clear()
    at.run()
    assert not at.exception, at.exception
    assert len(footers) >= 2  # one per chart on the Absence page's open tab
    # the sign-in gate checks the session against the store, the banner reads it for the run
    assert len(reads) == 2
    con = store.connect(demo_env_read_only)  # the page's own configuration (same process)
    try:
        name = real_info(con)["name"]
    finally:
        con.close()
    assert all(name in f for f in footers), footers[:2]
    # outside a page run nothing is held over: the store is read afresh
    assert getattr(shell._RUN, "dataset", None) is None
