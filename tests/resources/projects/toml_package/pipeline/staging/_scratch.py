"""A private module: never scanned, so this asset is not part of the project."""

from __future__ import annotations

from typing import Any

from assets_core.model.decorator import asset


@asset
def scratch(orders: Any) -> Any:
    return orders
