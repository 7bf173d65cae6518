"""`lumbung materialize` (to be written)."""
