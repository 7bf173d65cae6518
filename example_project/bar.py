"""The shop's coffee bar, partitioned by day: its till exports one CSV file of orders per day
(``data/daily_orders/{date}.csv``). Each day is cleaned on its own, a month adds up its days,
and a 7-day rolling window sums each day with the six before it. A changed day re-runs exactly
that day, its month and the seven windows holding it (``lumbung plan`` shows which).
"""

from __future__ import annotations

import pandas as pd

from assets_core import asset, source
from assets_core.partitions import daily, monthly, window

# The bar's files cover 2026-01-01 .. 2026-02-14. ``end`` (the first key *not* included) pins
# the partitions there: without it, every day the clock passes would add a partition with no
# file yet, and the example would plan differently from one day to the next.
DAYS = daily(start="2026-01-01", end="2026-02-15")
MONTHS = monthly(start="2026-01-01", end="2026-03-01")

daily_orders = source("daily_orders", path="data/daily_orders/{date}.csv", partitions=DAYS)


@asset(partitions=DAYS, group="staging", tags={"daily"}, owners=["data@shop.test"])
def stg_bar_orders(daily_orders: pd.DataFrame) -> pd.DataFrame:
    """One day's completed bar orders, with their line totals in dollars."""
    kept = daily_orders[daily_orders.status == "completed"]
    return kept.assign(total=(kept.quantity * kept.price).round(2)).drop(columns=["status"])


@asset(
    partitions=MONTHS,
    group="marts",
    io_manager="duckdb",
    tags={"finance"},
    owners=["finance@shop.test"],
)
def bar_monthly(stg_bar_orders: pd.DataFrame) -> pd.DataFrame:
    """The bar's orders, items sold and revenue in one month (the month's days)."""
    return pd.DataFrame(
        {
            "days": [stg_bar_orders["partition"].nunique()],
            "orders": [len(stg_bar_orders)],
            "items": [int(stg_bar_orders.quantity.sum())],
            "revenue": [round(float(stg_bar_orders.total.sum()), 2)],
        }
    )


@asset(
    partitions=DAYS,
    ins={"stg_bar_orders": window(-6, 0)},
    group="marts",
    tags={"daily"},
    owners=["finance@shop.test"],
)
def bar_revenue_7d(stg_bar_orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue of the day and the six before it (fewer at the start of the data)."""
    return pd.DataFrame(
        {
            "days": [stg_bar_orders["partition"].nunique()],
            "orders": [len(stg_bar_orders)],
            "revenue": [round(float(stg_bar_orders.total.sum()), 2)],
        }
    )
