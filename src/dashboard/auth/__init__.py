"""Who may see and change what: roles and scope, accounts, the audit trail."""
