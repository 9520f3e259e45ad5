"""AppTest of the overview page on the demo organisation."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import catalogue

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_overview_renders_scorecard(demo_env_read_only):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Overview"
    labels = [m.label for m in at.metric]
    heads = [i.short for i in catalogue.get().indicators.values() if i.headline]
    assert labels == heads
    # every tile shows a figure (the organisation is far above the threshold)
    assert all(m.value not in ("", "–") for m in at.metric)
    expanders = [e.label for e in at.expander]
    for dom in catalogue.get().domains:
        assert any(label.startswith(dom.name) for label in expanders), dom.name
    # Where to look is gathered last but still shown first, with its ranked findings
    assert at.subheader[0].value == "Where to look"
    assert any("Show me" in m.value for m in at.markdown)


def test_overview_switches_wave(demo_env_read_only):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    first = at.selectbox(key="wave").options[0]
    at.selectbox(key="wave").select(first).run()
    assert not at.exception
    # the first wave has no previous one: no deltas on survey tiles
    stress = next(m for m in at.metric if m.label == "Stress")
    assert stress.delta in (None, "")
