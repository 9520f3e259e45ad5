"""Figures from named queries over derived tables, released by the privacy layer."""
