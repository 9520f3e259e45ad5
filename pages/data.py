"""Data: upload and map files, preview every problem, import or cancel; the import log with undo."""

from dashboard.ui import data_page, shell

if shell.routed():
    data_page.render()
