"""Absence: sickness-absence rates, reasons, patterns and the survey link, on the NHS definitions."""
from dashboard.ui import absence_page, shell

if shell.routed():
    absence_page.render()
