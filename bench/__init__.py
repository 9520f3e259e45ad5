"""National-scale benchmark: a synthetic store in the real schema and timings of the app's queries."""
