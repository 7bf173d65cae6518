"""`lumbung show` (to be written)."""
