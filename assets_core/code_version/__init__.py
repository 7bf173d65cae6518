"""Code versions: a stable hash of what an asset's code computes (DESIGN §4)."""
