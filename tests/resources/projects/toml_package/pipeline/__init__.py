"""The pipeline package: re-exports one asset to check that it is collected once."""

from __future__ import annotations

from pipeline.staging.orders import orders

__all__ = ["orders"]
