"""Teams: drill from the organisation to a directorate and a team, heatmap, funnel plot, compare."""
from dashboard.ui import shell, teams_page

if shell.routed():
    teams_page.render()
