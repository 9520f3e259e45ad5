"""Framework: diagnostic self-assessment beside the data, improvement plan and drivers."""
from dashboard.ui import framework_page, shell

if shell.routed():
    framework_page.render()
