"""External data the pipeline reads."""

from __future__ import annotations

from assets_core.model.decorator import source

raw_orders = source("raw_orders", path="data/orders.csv")
raw_customers = source("raw_customers", path="data/customers.csv")
