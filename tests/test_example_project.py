"""The example project runs end to end, in a pristine copy, the way the README runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core import load_project
from tests.conftest import copy_example


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example_project")


def test_materialize_then_nothing_to_do(example: Path) -> None:
    defs = load_project(example)
    result = defs.materialize()
    assert result.success, result.errors
    assert sorted(str(k) for k in result.materialized) == [
        "customers",
        "order_items",
        "orders",
        "payment_methods",
        "product_sales",
        "revenue_by_day",
        "shop_report",
        "stg_customers",
        "stg_order_items",
        "stg_orders",
        "stg_payments",
        "stg_products",
    ]
    assert (example / ".lumbung" / "parquet" / "customers.parquet").exists()
    assert (example / ".lumbung" / "warehouse.duckdb").exists()
    customers = defs.load("customers")
    assert customers.number_of_orders.sum() == 1826  # type: ignore[union-attr]
    defs.close()
    again = load_project(example)
    assert again.plan().steps == ()


def test_editing_a_helper_replans_its_callers(example: Path) -> None:
    load_project(example).materialize()
    path = example / "assets.py"
    path.write_text(path.read_text().replace("CENTS = 100", "CENTS = 100.0"))
    plan = load_project(example).plan()
    assert [(str(s.key), s.status) for s in plan.steps] == [
        ("stg_order_items", "stale"),
        ("stg_payments", "stale"),
        ("payment_methods", "pending"),
        ("order_items", "pending"),
        ("orders", "pending"),
        ("customers", "pending"),
        ("product_sales", "pending"),
        ("revenue_by_day", "pending"),
        ("shop_report", "pending"),
    ]
    assert plan.steps[0].reasons[0].message == "code changed (assets:CENTS)"
