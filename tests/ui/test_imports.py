"""A fresh server's first page imports no statistics or document libraries until it needs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Heavy to import (scipy.stats ~0.6 s, statsmodels more, on the 2-core machine) and needed only
# when a page computes a test or builds a file: never at import.
HEAVY = ("scipy.stats", "statsmodels", "statsmodels.api", "pptx", "docx", "vl_convert")
PAGES = ("overview", "teams", "absence", "interventions", "framework", "data", "admin")

_CHILD = f"""
import json, sys
import dashboard.ui.shell
{chr(10).join(f"import dashboard.ui.{p}_page" for p in PAGES)}
from dashboard.auth import accounts
print(json.dumps({{"loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "decoy_hashed": accounts.decoy_hash.cache_info().currsize}}))
"""


def test_page_modules_import_no_statistics_or_document_libraries():
    # a fresh interpreter, as a fresh server is: this test process has imported them all already
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["loaded"] == []
    assert found["decoy_hashed"] == 0  # the sign-in decoy is hashed when a sign-in screen shows
