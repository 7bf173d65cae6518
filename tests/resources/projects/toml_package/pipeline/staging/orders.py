"""Orders without cancelled rows."""

from __future__ import annotations

from typing import Any

from assets_core.model.decorator import asset
from helpers import CANCELLED


@asset(group="staging")
def orders(raw_orders: Any) -> Any:
    """Orders with cancelled rows removed."""
    return raw_orders[raw_orders.status != CANCELLED]


@asset(group="staging")
def customers(raw_customers: Any) -> Any:
    return raw_customers
