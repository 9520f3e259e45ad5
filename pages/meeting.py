"""Meeting mode: one message per screen for a shared screen, keyboard next/previous, no sidebar."""
from dashboard.ui import meeting_page, shell

if shell.routed():
    meeting_page.render()
