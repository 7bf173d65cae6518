"""``lumbung lineage --columns`` and the ``columns`` field of lineage JSON, run as a user runs
them: SQL assets over a Python asset (Parquet) and a CSV source, traced before anything is
materialized (the source's columns from its reader, a SQL upstream's from its own trace) and
after (the Python asset's stored schema expands ``select *``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.assets_core.cli.conftest import Result

ASSETS = """
import pandas as pd

from assets_core import asset, source

customers = source("customers", path="customers.csv")


@asset(io_manager="parquet")
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {"order_id": [1, 2, 3], "customer_id": [10, 20, 10], "amount": [5.0, 7.5, 2.5]}
    )
"""
TOTALS = """-- group: marts
with big as (select customer_id, amount * 2 as doubled from orders where amount > 1)
select c.name, sum(big.doubled) as total, count(*) as n
from customers c join big using (customer_id)
group by c.name
"""


def project(root: Path) -> Path:
    (root / "models" / "marts").mkdir(parents=True)
    (root / "lumbung.toml").write_text('modules = ["assets"]\nsql = ["models"]\n')
    (root / "assets.py").write_text(ASSETS)
    (root / "customers.csv").write_text("customer_id,name\n10,Ani\n20,Budi\n")
    (root / "models" / "customer_totals.sql").write_text(TOTALS)
    (root / "models" / "marts" / "report.sql").write_text("select * from customer_totals\n")
    (root / "models" / "marts" / "raw_orders.sql").write_text("select * from orders\n")
    return root


def test_columns_before_and_after_materializing(
    tmp_path: Path, lumbung: Callable[..., Result]
) -> None:
    root = project(tmp_path / "p")
    before = lumbung("lineage", "customer_totals", "marts/", "orders", "--columns", cwd=root)
    assert before.code == 0, before.err
    assert before.out.splitlines() == [
        "orders: a python asset; column lineage covers SQL assets only",
        "customer_totals",
        "  name   <- customers.name",
        "  total  <- orders.amount",
        "  n      <- (no input column)",
        "marts/raw_orders",
        "  *  <- orders.*",
        "  (the columns of orders are not known until it is materialized)",
        "marts/report",  # a SQL upstream never materialized: its traced columns
        "  name   <- customer_totals.name",
        "  total  <- customer_totals.total",
        "  n      <- customer_totals.n",
    ]
    assert lumbung("materialize", cwd=root).code == 0
    after = lumbung("lineage", "marts/raw_orders", "--columns", cwd=root)
    assert after.out.splitlines() == [
        "marts/raw_orders",
        "  order_id     <- orders.order_id",
        "  customer_id  <- orders.customer_id",
        "  amount       <- orders.amount",
    ]
    doc = json.loads(lumbung("lineage", "marts/raw_orders", "-f", "json", cwd=root).out)
    nodes = {n["key"]: n for n in doc["nodes"]}
    assert nodes["marts/raw_orders"]["columns"][0] == {
        "name": "order_id",
        "from": [{"asset": "orders", "column": "order_id"}],
    }
    assert nodes["marts/raw_orders"]["columns_note"] is None
    assert nodes["orders"]["columns"] is None and nodes["orders"]["columns_note"] is None
    doc = json.loads(lumbung("lineage", "customer_totals", "-f", "json", cwd=root).out)
    totals = next(n for n in doc["nodes"] if n["key"] == "customer_totals")
    assert totals["columns"][2] == {"name": "n", "from": []}
    # an edited SQL upstream counts as it is now written, not as it was last stored
    totals_sql = root / "models" / "customer_totals.sql"
    totals_sql.write_text(TOTALS.replace("count(*) as n", "max(big.customer_id) as top"))
    edited = lumbung("lineage", "marts/report", "--columns", cwd=root)
    assert edited.out.splitlines()[-1] == "  top    <- customer_totals.top"


def test_columns_is_text_only(tmp_path: Path, lumbung: Callable[..., Result]) -> None:
    root = project(tmp_path / "p")
    bad = lumbung("lineage", "--columns", "-f", "json", cwd=root)
    assert bad.code == 2, bad.err
    assert bad.err_lines == [
        "error: --columns prints text: drop --format json (json and html include the "
        "columns already)."
    ]
