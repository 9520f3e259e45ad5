"""Wellbeing Compass: the router. Page config, dataset banner, navigation; pages do the rest."""
from __future__ import annotations

import sys
from pathlib import Path

# Pages import the dashboard package from src/ (the Makefile also installs a .pth for this).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from dashboard.ui import shell  # noqa: E402

shell.main()
