"""Overview: the seven-domain scorecard and headline indicators for a survey wave."""
from dashboard.ui import overview_page, shell

if shell.routed():
    overview_page.render()
