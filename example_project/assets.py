"""A small shop's pipeline: raw CSV files -> staging -> marts.

Sources are observed by content hash; assets are stored as Parquet by default and in DuckDB
where they say so.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from assets_core import asset, source

raw_customers = source("raw_customers", path="data/raw_customers.csv")
raw_orders = source("raw_orders", path="data/raw_orders.csv")
raw_payments = source("raw_payments", path="data/raw_payments.csv")

CENTS = 100


def to_dollars(amount: pd.Series) -> pd.Series:
    """Payments are recorded in cents."""
    return amount / CENTS


@asset(group="staging", tags={"daily"})
def stg_customers(raw_customers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer."""
    return raw_customers.rename(columns={"id": "customer_id"})


@asset(group="staging", tags={"daily"})
def stg_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order, with its date parsed."""
    df = raw_orders.rename(columns={"id": "order_id", "user_id": "customer_id"})
    return df.assign(order_date=pd.to_datetime(df.order_date))


@asset(group="staging", tags={"daily"})
def stg_payments(raw_payments: pd.DataFrame) -> pd.DataFrame:
    """One row per payment, amounts in dollars."""
    df = raw_payments.rename(columns={"id": "payment_id"})
    return df.assign(amount=to_dollars(df.amount))


@asset(group="marts", io_manager="duckdb", owners=["finance@shop.test"])
def orders(
    context, stg_orders: duckdb.DuckDBPyRelation, stg_payments: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Completed and shipped orders with what was paid, computed in DuckDB."""
    return context.duckdb.sql(
        """
        select o.order_id, o.customer_id, o.order_date, o.status,
               coalesce(sum(p.amount), 0) as amount
        from stg_orders o left join stg_payments p using (order_id)
        group by all
        order by o.order_id
        """
    )


@asset(group="marts", owners=["growth@shop.test"])
def customers(stg_customers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Customers with their number of orders and lifetime value."""
    per_customer = orders.groupby("customer_id", as_index=False).agg(
        number_of_orders=("order_id", "count"), lifetime_value=("amount", "sum")
    )
    merged = stg_customers.merge(per_customer, on="customer_id", how="left")
    return merged.fillna({"number_of_orders": 0, "lifetime_value": 0.0}).astype(
        {"number_of_orders": "int64"}
    )


@asset(group="marts", tags={"daily"})
def revenue_by_day(orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue per day, excluding returns."""
    kept = orders[~orders.status.isin(["returned", "return_pending"])]
    return kept.groupby("order_date", as_index=False).amount.sum()
