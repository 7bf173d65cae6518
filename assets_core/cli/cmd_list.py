"""`lumbung list` (to be written)."""
