"""`lumbung lineage` (to be written)."""
