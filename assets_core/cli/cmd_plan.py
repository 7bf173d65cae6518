"""`lumbung plan` (to be written)."""
