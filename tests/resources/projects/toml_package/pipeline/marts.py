"""Marts built on the staging models."""

from __future__ import annotations

from typing import Any

from assets_core.model.decorator import asset

from pipeline.staging.orders import customers, orders


@asset(group="marts")
def revenue(orders: Any) -> Any:
    return orders


@asset(group="marts")
def customer_orders(customers: Any, orders: Any) -> Any:
    return customers


# Aliases of objects defined elsewhere: still one asset each.
ORDERS = orders
CUSTOMERS = customers
