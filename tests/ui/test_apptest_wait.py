"""The suite's AppTest wait (tests/conftest.py): a finished run returns, a slow one times out."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def test_a_run_returns_when_it_finishes_with_what_it_drew():
    at = AppTest.from_string("import streamlit as st\nst.write('drawn')", default_timeout=30).run()
    assert [m.value for m in at.markdown] == ["drawn"] and not at.exception


def test_a_run_that_does_not_finish_in_time_fails_with_apptests_own_error():
    at = AppTest.from_string("import time\ntime.sleep(1.5)", default_timeout=0.3)
    with pytest.raises(RuntimeError, match="timed out after"):
        at.run()
