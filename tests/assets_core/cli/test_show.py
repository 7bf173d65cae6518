"""``lumbung show KEY``: definition, storage, last materialization and current status; sources;
an asset whose upstream was never built; unknown and invalid keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import Result, edit, run_many

SHOW_FIELDS = {
    "key",
    "kind",
    "description",
    "file",
    "group",
    "tags",
    "owners",
    "upstream",
    "downstream",
    "io_manager",
    "location",
    "last_materialization",
    "last_outcome",
    "status",
    "reasons",
    "with_upstream",
    "upstream_stale",
    "hint",
    "checks",
}
RECORD_FIELDS = {
    "run_id",
    "started_at",
    "ended_at",
    "duration",
    "rows",
    "bytes",
    "data_version",
    "code_version",
    "schema",
}


@pytest.fixture(scope="module")
def r(built: Path, unbuilt: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    edited = tmp_path_factory.mktemp("show_edited") / "example_project"
    shutil.copytree(built, edited, ignore=shutil.ignore_patterns("__pycache__"))
    edit(edited / "assets.py", "CENTS = 100\n", "CENTS = 100.0\n")
    return run_many(
        {
            "text": (["show", "orders"], built),
            "json": (["show", "orders", "--json"], built),
            "source": (["show", "raw_orders", "--json"], built),
            "source_text": (["show", "raw_orders"], built),
            "unknown": (["show", "ordrs"], built),
            "invalid": (["show", "a-b"], built),
            "never_built": (["show", "revenue_by_day", "--json"], unbuilt),
            "never_built_text": (["show", "revenue_by_day"], unbuilt),
            "stale_up": (["show", "orders"], edited),
            "stale_up_json": (["show", "customers", "--json"], edited),
        }
    )


def test_text_shows_definition_storage_and_last_run(r: dict[str, Result], built: Path) -> None:
    res = r["text"]
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[:2] == [
        "orders  (python)",
        "  One row per order with its item count, order total and what was paid.",
    ]
    assert lines[2].startswith("  defined in:     assets.py:")
    assert lines[3:12] == [
        "  group:          intermediate",
        "  tags:           -",
        "  owners:         finance@shop.test",
        "  upstream:       order_items, stg_orders, stg_payments",
        "  downstream:     customers, product_sales, revenue_by_day",
        "  io manager:     duckdb",
        f"  location:       {built / '.lumbung' / 'warehouse.duckdb'}::main.orders",
        "  status:         fresh",
        "  checks:",
    ]
    assert [" ".join(line.split()) for line in lines[12:18]] == [  # columns aligned
        "not_null(order_id) pass",
        "unique(order_id) pass",
        "accepted_values(status, ['placed', 'shipped', 'completed', 'returned', 'cancelled']) pass",
        "relationships(customer_id -> stg_customers.customer_id) pass",
        "expect('amount_paid >= order_total') warn 75 rows fail amount_paid >= order_total",
        "last materialization:",
    ]
    assert "    rows:         2000" in lines
    assert lines[-8:] == [
        "  columns:",
        "    order_id     int64",
        "    customer_id  int64",
        "    order_date   timestamp[us]",
        "    status       string",
        "    items        int64",
        "    order_total  float64",
        "    amount_paid  float64",
    ]


def test_json_has_the_documented_fields(r: dict[str, Result]) -> None:
    data = json.loads(r["json"].out)
    assert set(data) == SHOW_FIELDS
    assert (data["status"], data["reasons"], data["with_upstream"]) == (
        "fresh",
        [],
        {"status": "fresh", "explain": None},
    )
    assert (data["upstream"], data["downstream"]) == (
        ["order_items", "stg_orders", "stg_payments"],
        ["customers", "product_sales", "revenue_by_day"],
    )
    last = data["last_materialization"]
    assert set(last) == RECORD_FIELDS
    assert last["rows"] == 2000 and last["bytes"] > 0 and last["duration"] >= 0
    assert len(last["data_version"]) >= 16 and last["code_version"]
    assert last["started_at"].endswith("+00:00")
    assert [c["name"] for c in last["schema"]] == [
        "order_id",
        "customer_id",
        "order_date",
        "status",
        "items",
        "order_total",
        "amount_paid",
    ]
    assert data["last_outcome"] == "materialized"


def test_a_source(r: dict[str, Result], built: Path) -> None:
    data = json.loads(r["source"].out)
    assert (data["kind"], data["status"], data["io_manager"]) == ("source", None, None)
    assert data["source"]["path"] == "data/raw_orders.csv"
    assert len(data["source"]["data_version"]) >= 16
    assert data["location"] == str(built / "data" / "raw_orders.csv")
    text = r["source_text"].out.splitlines()
    assert text[0] == "raw_orders  (source)"
    assert f"  path:           {built / 'data' / 'raw_orders.csv'}" in text


def test_an_upstream_never_built_shows_status_instead_of_failing(r: dict[str, Result]) -> None:
    res = r["never_built"]
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["status"] == "missing"
    assert [x["code"] for x in data["reasons"]] == ["never_materialized", "waits_on"]
    assert data["last_materialization"] is None
    lines = r["never_built_text"].out.splitlines()
    assert "  status:         missing (never materialized; waits on orders)" in lines
    assert lines[-1] == "  last run:       never materialized"


def test_an_asset_fresh_alone_but_stale_upstream(r: dict[str, Result]) -> None:
    lines = r["stale_up"].out.splitlines()
    assert "  status:         fresh (upstream stale)" in lines
    assert (
        "  hint:           stg_order_items is not fresh; select +orders to rebuild it too" in lines
    )
    assert (
        "  with upstream:  pending: orders ← order_items ← stg_order_items: "
        "code changed (assets:CENTS)"
    ) in lines
    data = json.loads(r["stale_up_json"].out)
    assert (data["status"], data["upstream_stale"]) == ("fresh", "stg_order_items")
    assert data["with_upstream"] == {
        "status": "pending",
        "explain": "customers ← orders ← order_items ← stg_order_items: "
        "code changed (assets:CENTS)",
    }


def test_unknown_and_invalid_keys_exit_2(r: dict[str, Result]) -> None:
    assert (r["unknown"].code, r["unknown"].out, r["unknown"].err_lines) == (
        2,
        "",
        ["error: no asset 'ordrs'. Did you mean 'orders'?"],
    )
    assert (r["invalid"].code, r["invalid"].err_lines) == (
        2,
        [
            "error: Invalid key segment 'a-b' in 'a-b': a segment starts with a letter or '_' "
            "and holds only letters, digits and '_'."
        ],
    )
