"""Project-local helpers, imported by the asset modules."""

from __future__ import annotations

CANCELLED = "cancelled"
