"""A project folder copied or moved elsewhere keeps working: its state stores locations relative
to the storage folder, so nothing is rebuilt and every path printed is the new one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.assets_core.cli.conftest import copy_example, python_materialize, run, run_sequence


def test_a_moved_project_plans_nothing_and_prints_its_new_paths(tmp_path: Path) -> None:
    first = copy_example(tmp_path / "first" / "example_project")
    assert python_materialize(first) == "12 materialized, 0 up to date, 0 failed, 0 skipped"
    moved = tmp_path / "second" / "shop"
    moved.parent.mkdir()
    shutil.move(str(first), moved)
    assert not first.exists()

    plan, shown, in_warehouse, listed = run_sequence(
        [
            (["plan"], moved),
            (["show", "shop_report", "--json"], moved),
            (["show", "payment_methods", "--json"], moved),
            (["list", "--output", "json"], moved),
        ]
    )
    assert plan.out.strip() == "Nothing to do: 12 selected assets are fresh."
    storage = moved / ".lumbung"
    assert json.loads(shown.out)["location"] == str(storage / "parquet" / "shop_report.parquet")
    warehouse = json.loads(in_warehouse.out)["location"]
    assert warehouse == f"{storage / 'warehouse.duckdb'}::main.payment_methods"
    assert all(row["status"] in (None, "fresh") for row in json.loads(listed.out))

    wiped = run(["wipe", "-s", "stg_orders", "--yes"], moved)
    assert wiped.code == 0, wiped.err
    assert str(storage / "parquet" / "stg_orders.parquet") in wiped.out
    assert str(tmp_path / "first") not in wiped.out + shown.out + in_warehouse.out + listed.out
    assert not (storage / "parquet" / "stg_orders.parquet").exists()
