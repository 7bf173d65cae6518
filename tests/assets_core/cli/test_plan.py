"""``lumbung plan``: steps in dependency order with reasons, ``--explain`` chains, ``--json``
exactly ``Plan.to_dict()``, warnings on stderr, plan errors as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import EXAMPLE_ASSETS, Result, edit, run_many

REASON_CODES = {
    "never_materialized",
    "output_missing",
    "code_changed",
    "deps_changed",
    "upstream_changed",
    "source_changed",
    "waits_on",
    "forced",
}
STALE_WARNINGS = [
    f"{name} is stale (code changed (assets:CENTS)) but not selected; its stored output "
    "will be read. Select +orders to rebuild it too."
    for name in ("stg_order_items", "stg_payments")  # stg_order_items feeds orders via order_items
]


@pytest.fixture(scope="module")
def edited(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built example whose helper constant changed (stg_payments is stale)."""
    dest = tmp_path_factory.mktemp("edited") / "example_project"
    shutil.copytree(built, dest, ignore=shutil.ignore_patterns("__pycache__"))
    edit(dest / "assets.py", "CENTS = 100\n", "CENTS = 100.0\n")
    return dest


@pytest.fixture(scope="module")
def r(built: Path, unbuilt: Path, edited: Path) -> dict[str, Result]:
    return run_many(
        {
            "fresh": (["plan"], built),
            "fresh_json": (["plan", "--json"], built),
            "fresh_one": (["plan", "-s", "orders"], built),
            "forced_json": (["plan", "--force", "--json", "-s", "tag:daily"], built),
            "missing": (["plan"], unbuilt),
            "never_built": (["plan", "-s", "revenue_by_day"], unbuilt),
            "stale": (["plan"], edited),
            "explain": (["plan", "--explain", "-s", "+revenue_by_day"], edited),
            "stale_json": (["plan", "--json"], edited),
            "warn": (["plan", "--force", "-s", "orders"], edited),
            "warn_json": (["plan", "--force", "--json", "-s", "orders", "-s", "tag:x"], edited),
            "debug": (["--debug", "plan", "-s", "nope"], built),
        }
    )


def test_nothing_to_do(r: dict[str, Result]) -> None:
    assert (r["fresh"].code, r["fresh"].out, r["fresh"].err) == (
        0,
        "Nothing to do: 12 selected assets are fresh.\n",
        "",
    )
    assert r["fresh_one"].out == "Nothing to do: 1 selected asset is fresh.\n"
    assert json.loads(r["fresh_json"].out) == {"steps": [], "warnings": []}


def test_missing_assets_in_dependency_order(r: dict[str, Result]) -> None:
    res = r["missing"]
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "12 of 12 selected assets would run:"
    assert [line.split()[:2] for line in lines[1:]] == [["missing", k] for k in EXAMPLE_ASSETS]
    assert lines[8] == "  missing  orders           never materialized; waits on stg_orders; " + (
        "waits on order_items; waits on stg_payments"
    )


def test_stale_steps_with_reasons(r: dict[str, Result]) -> None:
    res = r["stale"]
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "9 of 12 selected assets would run:",
        "  stale    stg_order_items  code changed (assets:CENTS)",
        "  stale    stg_payments     code changed (assets:CENTS)",
        "  pending  payment_methods  waits on stg_payments",
        "  pending  order_items      waits on stg_order_items",
        "  pending  orders           waits on order_items; waits on stg_payments",
        "  pending  customers        waits on orders",
        "  pending  product_sales    waits on order_items; waits on orders",
        "  pending  revenue_by_day   waits on orders",
        "  pending  shop_report      waits on revenue_by_day; waits on customers; "
        "waits on product_sales",
    ]


def test_explain_prints_the_chain_to_the_root_cause(r: dict[str, Result]) -> None:
    res = r["explain"]
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "5 of 7 selected assets would run:",
        "  stale    stg_order_items  code changed (assets:CENTS)",
        "           why: stg_order_items: code changed (assets:CENTS)",
        "  stale    stg_payments     code changed (assets:CENTS)",
        "           why: stg_payments: code changed (assets:CENTS)",
        "  pending  order_items      waits on stg_order_items",
        "           why: order_items ← stg_order_items: code changed (assets:CENTS)",
        "  pending  orders           waits on order_items; waits on stg_payments",
        "           why: orders ← order_items ← stg_order_items: code changed (assets:CENTS)",
        "  pending  revenue_by_day   waits on orders",
        "           why: revenue_by_day ← orders ← order_items ← stg_order_items: "
        "code changed (assets:CENTS)",
    ]


def test_json_is_plan_to_dict(r: dict[str, Result]) -> None:
    data = json.loads(r["stale_json"].out)
    assert set(data) == {"steps", "warnings"}
    assert [(s["key"], s["status"]) for s in data["steps"]] == [
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
    for step in data["steps"]:
        assert set(step) == {"key", "partition", "status", "reasons"}
        assert step["partition"] is None
        assert all(reason["code"] in REASON_CODES for reason in step["reasons"])
        assert all(isinstance(reason["message"], str) for reason in step["reasons"])
    first = data["steps"][0]["reasons"][0]
    assert (first["code"], first["message"], first["changed"]) == (
        "code_changed",
        "code changed (assets:CENTS)",
        ["assets:CENTS"],
    )
    assert data["steps"][2]["reasons"] == [
        {"code": "waits_on", "message": "waits on stg_payments", "upstream": "stg_payments"}
    ]
    forced = json.loads(r["forced_json"].out)["steps"]
    assert [(s["key"], s["status"]) for s in forced] == [
        ("stg_customers", "forced"),
        ("stg_order_items", "forced"),
        ("stg_orders", "forced"),
        ("stg_payments", "forced"),
        ("stg_products", "forced"),
        ("product_sales", "forced"),
        ("revenue_by_day", "forced"),
        ("shop_report", "forced"),
    ]
    assert r["forced_json"].err_lines == [
        "warning: order_items is pending (waits on stg_order_items) but not selected; its stored "
        "output will be read. Select +product_sales to rebuild it too.",
        "warning: orders is pending (waits on stg_orders) but not selected; its stored output "
        "will be read. Select +product_sales to rebuild it too.",
        "warning: customers is pending (waits on stg_customers) but not selected; its stored "
        "output will be read. Select +shop_report to rebuild it too.",
    ]


def test_warnings_go_to_stderr_and_into_json(r: dict[str, Result]) -> None:
    res = r["warn"]
    assert res.out.splitlines() == ["1 of 1 selected asset would run:", "  forced   orders  forced"]
    assert res.err_lines == [f"warning: {w}" for w in STALE_WARNINGS]
    res = r["warn_json"]
    selection_warning = "Selection criterion 'tag:x' matches no asset."
    assert json.loads(res.out)["warnings"] == [selection_warning, *STALE_WARNINGS]
    assert res.err_lines == [f"warning: {w}" for w in [selection_warning, *STALE_WARNINGS]]


def test_an_upstream_never_built_is_one_line_exit_2(r: dict[str, Result]) -> None:
    res = r["never_built"]
    assert (res.code, res.out) == (2, "")
    assert res.err_lines == [
        "error: orders has never been materialized and is not selected, but revenue_by_day "
        "needs it; select +revenue_by_day to build it too."
    ]


def test_debug_adds_the_traceback(r: dict[str, Result]) -> None:
    res = r["debug"]
    assert res.code == 2
    assert res.err_lines[0] == "Traceback (most recent call last):"
    assert res.err_lines[-1] == "error: No asset matches 'nope'; 'lumbung list' shows every asset."
