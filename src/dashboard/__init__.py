"""Wellbeing Compass: staff wellbeing indicators on the NHS seven-domain model."""
