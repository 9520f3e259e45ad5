"""Interventions: the register and the before/after evaluation of each programme."""
from dashboard.ui import interventions_page, shell

if shell.routed():
    interventions_page.render()
