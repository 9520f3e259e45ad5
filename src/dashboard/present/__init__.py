"""How figures read: formats, plain text, charts, meeting screens, slides, reports."""
