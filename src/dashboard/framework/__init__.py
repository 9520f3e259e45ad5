"""The framework's own records: interventions, improvement plan, self-assessment."""
