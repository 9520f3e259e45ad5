"""Teams: drill from the organisation to a directorate and a team, heatmap, funnel plot, compare."""
from dashboard.ui import teams_page

teams_page.render()
