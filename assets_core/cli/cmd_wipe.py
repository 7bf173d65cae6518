"""`lumbung wipe` (to be written)."""
