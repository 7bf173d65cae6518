"""A small shop's orders: a CSV source, staging in Parquet, marts in Parquet and DuckDB.

The state under ``.lumbung/`` was written by Lumbung at state schema 1 (see ../README.md);
tests/assets_core/storage/test_migrations.py upgrades it.
"""

from __future__ import annotations

import pandas as pd

from assets_core import asset, source

raw_orders = source("raw_orders", path="data/orders.csv")


@asset(group="staging")
def orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders that were not cancelled."""
    kept = raw_orders.query("status != 'cancelled'")
    return kept.reset_index(drop=True)


@asset(key="marts/revenue_by_day", io_manager="duckdb", group="marts")
def revenue_by_day(orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue per day, in the warehouse."""
    return orders.groupby("day", as_index=False).amount.sum()


@asset(key="marts/top_customers", group="marts")
def top_customers(orders: pd.DataFrame) -> pd.DataFrame:
    """Customers by what they spent, most first."""
    spent = orders.groupby("customer", as_index=False).amount.sum()
    return spent.sort_values(["amount", "customer"], ascending=[False, True])


@asset(key="marts/customer_report", group="marts")
def customer_report(top_customers: pd.DataFrame) -> pd.DataFrame:
    """The three best customers."""
    return top_customers.head(3).reset_index(drop=True)
