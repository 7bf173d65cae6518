"""``lumbung wipe``: the selection is required, it lists what it would delete, asks (or refuses
without a terminal), deletes outputs through their IO managers and forgets their records,
never touches sources, and waits for no one: assets a run holds are refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from assets_core.model.keys import AssetKey, StepKey
from tests.assets_core.cli.conftest import Result, run, run_many, run_sequence


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """A copy of the built example this test may wipe."""
    dest = tmp_path / "example_project"
    shutil.copytree(built, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_refusals_delete_nothing(project: Path) -> None:
    r = run_many(
        {
            "no_select": (["wipe", "--yes"], project),
            "no_tty": (["wipe", "-s", "stg_*"], project),
            "sources": (["wipe", "-s", "raw_orders", "--yes"], project),
            "bad": (["wipe", "-s", "foo:x", "--yes"], project),
        }
    )
    res = r["no_select"]
    assert (res.code, res.out) == (2, "")
    assert res.err == (
        "error: wipe needs -s SELECTION ('*' for every asset), --io NAME (every asset one IO "
        "manager stores) or --orphans (see `lumbung wipe -h`).\n"
    )

    res = r["no_tty"]
    assert res.code == 2
    lines = res.out.splitlines()
    assert lines[0] == "5 assets would be wiped:"
    assert [line.split()[0] for line in lines[1:]] == [
        "stg_customers",
        "stg_order_items",
        "stg_orders",
        "stg_payments",
        "stg_products",
    ]
    for line in lines[1:]:  # where each was written (in the copied-from project: a copy)
        assert line.endswith(f"/.lumbung/parquet/{line.split()[0]}.parquet")
    assert res.err_lines == [
        "error: wipe needs confirmation; pass --yes to delete 5 assets' outputs and records."
    ]

    res = r["sources"]
    assert (res.code, res.out) == (
        0,
        "Nothing to wipe: the selection holds no assets (sources are never wiped).\n",
    )
    assert r["bad"].code == 2
    assert r["bad"].err_lines[0].startswith("error: Unknown selection method 'foo' in 'foo:x'")

    stored = (project / ".lumbung" / "parquet").glob("*.parquet")
    assert sorted(p.name for p in stored) == [
        "customers.parquet",
        "product_sales.parquet",
        "revenue_by_day.parquet",
        "shop_report.parquet",
        "stg_customers.parquet",
        "stg_order_items.parquet",
        "stg_orders.parquet",
        "stg_payments.parquet",
        "stg_products.parquet",
    ]


def test_wipe_with_yes_deletes_outputs_and_records(project: Path) -> None:
    res, listed, history = run_sequence(
        [
            (["wipe", "-s", "orders+", "--exclude", "customers", "--yes"], project),
            (["list", "-o", "json"], project),
            (["history", "orders", "--json"], project),
        ]
    )
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "4 assets would be wiped:"
    assert lines[1].split()[0] == "orders" and lines[1].endswith("warehouse.duckdb::main.orders")
    assert [line.split()[0] for line in lines[2:5]] == [
        "product_sales",
        "revenue_by_day",
        "shop_report",
    ]
    assert lines[3].endswith("parquet/revenue_by_day.parquet")
    assert lines[5] == "Wiped 4 assets."
    assert not (project / ".lumbung" / "parquet" / "revenue_by_day.parquet").exists()
    assert (project / ".lumbung" / "parquet" / "customers.parquet").exists()
    assert (project / "data" / "raw_orders.csv").exists()

    status = {row["key"]: row["status"] for row in json.loads(listed.out)}
    assert (status["orders"], status["revenue_by_day"], status["customers"]) == (
        "missing",
        "missing",
        "stale",
    )
    assert status["stg_orders"] == "fresh"
    assert json.loads(history.out) == {"runs": [], "materializations": []}


def test_assets_a_run_holds_are_refused(project: Path) -> None:
    from assets_core.storage.sqlite import open_state_store

    store = open_state_store(project / ".lumbung")
    try:
        assert store.acquire_locks("r1", [StepKey(AssetKey(["stg_orders"]))], os.getpid()) == []
        res = run(["wipe", "-s", "stg_orders", "--yes"], project)
    finally:
        store.release_locks("r1")
        store.close()
    assert res.code == 2
    assert res.err_lines == [
        f"error: another run holds stg_orders (run r1, pid {os.getpid()}); wait for it to "
        "finish, then wipe again."
    ]
    assert (project / ".lumbung" / "parquet" / "stg_orders.parquet").exists()


def _on_a_terminal(project: Path, answer: str) -> Result:
    pty = pytest.importorskip("pty")
    try:
        controller, terminal = pty.openpty()
    except OSError:  # pragma: no cover - no pseudo-terminals here
        pytest.skip("no pseudo-terminal available")
    try:
        os.write(controller, answer.encode() + b"\n")
        return run(["wipe", "-s", "stg_customers"], project, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def test_on_a_terminal_it_asks_first(project: Path) -> None:
    no = _on_a_terminal(project, "n")
    assert no.code == 0, no.err
    assert no.out.splitlines()[-1].endswith("Nothing was deleted.")
    assert "Delete the outputs and records of 1 asset? [y/N]: " in no.out
    assert (project / ".lumbung" / "parquet" / "stg_customers.parquet").exists()
    yes = _on_a_terminal(project, "y")
    assert yes.code == 0, yes.err
    assert yes.out.endswith("[y/N]: Wiped 1 asset.\n")
    assert not (project / ".lumbung" / "parquet" / "stg_customers.parquet").exists()
