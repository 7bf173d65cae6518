"""`lumbung init` (to be written)."""
