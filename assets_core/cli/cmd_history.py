"""`lumbung history` (to be written)."""
