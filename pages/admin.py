"""Admin: the audit trail (see and download) and user accounts (add, reset, remove)."""
from dashboard.ui import admin_page, shell

if shell.routed():
    admin_page.render()
