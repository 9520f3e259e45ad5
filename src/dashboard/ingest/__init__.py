"""Uploads: read messy HR exports, map them to the canonical model, validate, import atomically, undo."""
