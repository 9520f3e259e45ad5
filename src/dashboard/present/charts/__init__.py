"""Pure chart builders: frames in, Altair charts out (one module per view, shared style here)."""
