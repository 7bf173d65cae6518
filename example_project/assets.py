"""A small online coffee shop's analytics: raw CSV exports -> staging -> intermediate -> marts.

Sources are observed by content hash. Assets are stored as Parquet by default and as DuckDB
tables where they say ``io_manager="duckdb"``. ``data/generate.py`` made the CSV files.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets_core import asset, source
from assets_core.checks import accepted_values, expect, not_null, relationships, unique

raw_customers = source("raw_customers", path="data/raw_customers.csv")
raw_products = source("raw_products", path="data/raw_products.csv")
raw_orders = source("raw_orders", path="data/raw_orders.csv")
raw_order_items = source("raw_order_items", path="data/raw_order_items.csv")
raw_payments = source("raw_payments", path="data/raw_payments.csv")

CENTS = 100
NOT_REVENUE = ("cancelled", "returned")


def to_dollars(amount: pd.Series) -> pd.Series:
    """The payment system records amounts in cents."""
    return amount / CENTS


# --- staging: one cleaned table per source --------------------------------------------------


@asset(group="staging", tags={"daily", "pii"}, owners=["data@shop.test"])
def stg_customers(raw_customers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer, with the signup date parsed."""
    df = raw_customers.rename(columns={"id": "customer_id"})
    return df.assign(signup_date=pd.to_datetime(df.signup_date))


@asset(group="staging", tags={"daily"}, owners=["data@shop.test"])
def stg_products(raw_products: pa.Table) -> pa.Table:
    """One row per product of the catalogue, prices in dollars."""
    return raw_products.rename_columns(["product_id", "sku", "product_name", "category", "price"])


@asset(group="staging", tags={"daily"}, owners=["data@shop.test"])
def stg_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order, with its date parsed."""
    df = raw_orders.rename(columns={"id": "order_id", "user_id": "customer_id"})
    return df.assign(order_date=pd.to_datetime(df.order_date))


@asset(group="staging", tags={"daily"}, owners=["data@shop.test"])
def stg_order_items(raw_order_items: pd.DataFrame) -> pd.DataFrame:
    """One row per order line, unit prices in dollars."""
    df = raw_order_items.rename(columns={"id": "order_item_id"})
    df = df.assign(unit_price=to_dollars(df.unit_price_cents))
    return df.drop(columns=["unit_price_cents"])


@asset(group="staging", tags={"daily", "finance"}, owners=["data@shop.test"])
def stg_payments(raw_payments: pd.DataFrame) -> pd.DataFrame:
    """One row per payment, amounts in dollars."""
    df = raw_payments.rename(columns={"id": "payment_id"})
    return df.assign(amount=to_dollars(df.amount))


# --- intermediate: joined in DuckDB --------------------------------------------------------


@asset(group="intermediate", io_manager="duckdb", owners=["data@shop.test"])
def order_items(
    context, stg_order_items: duckdb.DuckDBPyRelation, stg_products: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Order lines with their product and line total, computed in DuckDB."""
    return context.duckdb.sql(
        """
        select i.order_item_id, i.order_id, i.product_id, p.product_name, p.category,
               i.quantity, i.unit_price, i.quantity * i.unit_price as line_total
        from stg_order_items i join stg_products p using (product_id)
        order by i.order_item_id
        """
    )


@asset(
    group="intermediate",
    io_manager="duckdb",
    owners=["finance@shop.test"],
    checks=[
        not_null("order_id"),
        unique("order_id"),
        accepted_values("status", ["placed", "shipped", "completed", "returned", "cancelled"]),
        relationships("customer_id", to="stg_customers", field="customer_id"),
        expect("amount_paid >= order_total", severity="warn"),  # placed orders are unpaid
    ],
)
def orders(
    context,
    stg_orders: duckdb.DuckDBPyRelation,
    order_items: duckdb.DuckDBPyRelation,
    stg_payments: duckdb.DuckDBPyRelation,
) -> duckdb.DuckDBPyRelation:
    """One row per order with its item count, order total and what was paid."""
    return context.duckdb.sql(
        """
        with items as (
            select order_id, sum(quantity)::bigint as items, sum(line_total) as order_total
            from order_items group by order_id
        ), paid as (
            select order_id, sum(amount) as amount_paid from stg_payments group by order_id
        )
        select o.order_id, o.customer_id, o.order_date, o.status,
               coalesce(items.items, 0) as items,
               round(coalesce(items.order_total, 0), 2) as order_total,
               round(coalesce(paid.amount_paid, 0), 2) as amount_paid
        from stg_orders o left join items using (order_id) left join paid using (order_id)
        order by o.order_id
        """
    )


# --- marts: what people read ---------------------------------------------------------------


@asset(group="marts", tags={"pii"}, owners=["growth@shop.test"])
def customers(stg_customers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Customers with their number of orders, first and last order, and lifetime value."""
    kept = orders[~orders.status.isin(NOT_REVENUE)]
    per_customer = kept.groupby("customer_id", as_index=False).agg(
        number_of_orders=("order_id", "count"),
        first_order=("order_date", "min"),
        last_order=("order_date", "max"),
        lifetime_value=("amount_paid", "sum"),
    )
    merged = stg_customers.merge(per_customer, on="customer_id", how="left")
    return merged.fillna({"number_of_orders": 0, "lifetime_value": 0.0}).astype(
        {"number_of_orders": "int64"}
    )


@asset(group="marts", tags={"daily", "finance"}, owners=["finance@shop.test"])
def revenue_by_day(orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue and number of orders per day, excluding cancelled and returned orders."""
    kept = orders[~orders.status.isin(NOT_REVENUE)]
    daily = kept.groupby("order_date", as_index=False).agg(
        orders=("order_id", "count"), revenue=("amount_paid", "sum")
    )
    return daily.assign(revenue=daily.revenue.round(2))


@asset(group="marts", tags={"daily"}, owners=["merch@shop.test"])
def product_sales(order_items: pa.Table, orders: pa.Table) -> pa.Table:
    """Units sold and revenue per product, with pyarrow compute (no pandas)."""
    kept = orders.filter(pc.invert(pc.is_in(orders["status"], pa.array(NOT_REVENUE))))
    lines = order_items.join(kept.select(["order_id"]), "order_id", join_type="inner")
    sales = lines.group_by(["product_id", "product_name", "category"]).aggregate(
        [("quantity", "sum"), ("line_total", "sum")]
    )
    sales = sales.rename_columns(["product_id", "product_name", "category", "units", "revenue"])
    return sales.sort_by([("revenue", "descending"), ("product_id", "ascending")])


@asset(group="marts", io_manager="duckdb", owners=["finance@shop.test"])
def payment_methods(stg_payments: pd.DataFrame) -> pd.DataFrame:
    """How customers pay: number of payments and amount per payment method."""
    return (
        stg_payments.groupby("payment_method", as_index=False)
        .agg(payments=("payment_id", "count"), amount=("amount", "sum"))
        .sort_values("amount", ascending=False, ignore_index=True)
    )


@asset(group="marts", tags={"daily"}, owners=["finance@shop.test"])
def shop_report(
    revenue_by_day: pd.DataFrame, customers: pd.DataFrame, product_sales: pd.DataFrame
) -> pd.DataFrame:
    """The headline numbers of the half year, one row per metric."""
    active = customers[customers.number_of_orders > 0]
    best = product_sales.iloc[0]
    metrics = {
        "revenue": round(float(revenue_by_day.revenue.sum()), 2),
        "orders": float(revenue_by_day.orders.sum()),
        "active_customers": float(len(active)),
        "average_order_value": round(
            float(revenue_by_day.revenue.sum() / revenue_by_day.orders.sum()), 2
        ),
        "best_day_revenue": round(float(revenue_by_day.revenue.max()), 2),
        "top_product_revenue": round(float(best.revenue), 2),
    }
    return pd.DataFrame({"metric": list(metrics), "value": list(metrics.values())})
