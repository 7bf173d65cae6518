"""``lumbung materialize`` on copies of the example: ``--json`` is exactly ``RunResult.to_dict()``,
``--dry-run`` runs nothing, plain progress lines without a terminal, every executor, and the
option errors (pinned)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import EXAMPLE_ASSETS, copy_example, edit, run

RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
SUMMARY = re.compile(r"^(\d+) materialized, (\d+) up to date, (\d+) failed, (\d+) skipped in \S+s$")
STALE_WARNINGS = [
    f"warning: {name} is stale (code changed (assets:CENTS)) but not selected; its stored "
    "output will be read. Select +orders to rebuild it too."
    for name in ("stg_order_items", "stg_payments")  # stg_order_items feeds orders via order_items
]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example_project")


def test_json_is_the_run_result_then_plain_lines(example: Path) -> None:
    first = run(["materialize", "--json"], example)
    assert first.code == 0, first.err
    data = json.loads(first.out)  # stdout holds the JSON document and nothing else
    assert list(data) == [
        "run_id",
        "materialized",
        "up_to_date",
        "failed",
        "skipped",
        "errors",
        "failed_checks",
    ]
    assert RUN_ID.match(data["run_id"])
    assert sorted(data["materialized"]) == sorted(EXAMPLE_ASSETS)
    assert all(isinstance(k, str) for k in data["materialized"])
    assert data["up_to_date"] == data["failed"] == data["skipped"] == []
    (warned,) = data["failed_checks"]  # the example's one warning: unpaid placed orders
    assert (warned["asset"], warned["severity"], warned["failing_rows"]) == ("orders", "warn", 75)
    assert data["errors"] == {}
    assert first.err == ""

    again = run(["materialize"], example)
    assert (again.code, again.out, again.err) == (
        0,
        "Nothing to do: 12 selected assets are fresh.\n",
        "",
    )

    # Output is not a terminal here: one plain line per finished step, then the summary.
    forced = run(["materialize", "--force", "-s", "stg_orders+"], example)
    assert forced.code == 0, forced.err
    lines = forced.out.splitlines()
    assert "\x1b" not in forced.out
    steps = [line for line in lines if line.startswith("materialized  ")]
    order = [line.split()[1] for line in steps]
    assert order[:2] == ["stg_orders", "orders"]  # dependency order; the next three may swap
    assert sorted(order[2:5]) == ["customers", "product_sales", "revenue_by_day"]
    assert order[5:] == ["shop_report"]
    assert all(re.fullmatch(r"materialized  \S+  \d+\.\d\ds", line) for line in steps)
    summary = SUMMARY.match(lines[-2])
    assert summary is not None and summary.groups() == ("6", "0", "0", "0")
    assert re.fullmatch(r"slowest: (\S+ \d+\.\d\ds, ){2}\S+ \d+\.\d\ds", lines[-1])
    assert len(lines) == 8


def test_dry_run_runs_nothing(example: Path) -> None:
    text = run(["materialize", "--dry-run"], example)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == "Would materialize 12 assets:"
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(EXAMPLE_ASSETS)
    for line in lines[1:]:
        assert re.fullmatch(r"  \S+ +missing  never materialized(; waits on \S+)*", line), line
    orders = "orders".ljust(len("stg_order_items"))
    assert (
        f"  {orders}  missing  never materialized; waits on stg_orders; waits on order_items; "
        "waits on stg_payments" in (lines)
    )

    storage = example / ".lumbung"
    assert not (storage / "parquet").exists() and not (storage / "warehouse.duckdb").exists()

    # Nothing ran, so everything is still to do.
    real = run(["materialize", "--json"], example)
    assert real.code == 0, real.err
    assert sorted(json.loads(real.out)["materialized"]) == sorted(EXAMPLE_ASSETS)

    # Warnings (the selection's and the plan's) go to stderr, each once.
    edit(example / "assets.py", "CENTS = 100\n", "CENTS = 1000\n")
    warned = run(
        ["materialize", "-s", "orders tag:nope", "--force", "--dry-run", "--json"], example
    )
    assert warned.code == 0
    assert warned.err_lines == [
        "warning: Selection criterion 'tag:nope' matches no asset.",
        *STALE_WARNINGS,
    ]
    plan = json.loads(warned.out)  # exactly what `lumbung plan --json` prints
    assert [(s["key"], s["status"]) for s in plan["steps"]] == [("orders", "forced")]
    assert ["warning: " + w for w in plan["warnings"]] == warned.err_lines


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("executors") / "example_project")


@pytest.mark.parametrize("executor", ["threads", "in-process", "processes"])
def test_every_executor_runs_the_example(shared: Path, executor: str) -> None:
    res = run(["materialize", "--force", "--json", "--executor", executor, "-w", "2"], shared)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert sorted(data["materialized"]) == sorted(EXAMPLE_ASSETS)
    assert data["failed"] == data["skipped"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "error: workers must be 1 or more, got 0.\n"),
        (
            ["--executor", "spark"],
            "error: unknown executor 'spark'; use one of threads, in-process, processes, dask.\n",
        ),
    ],
)
def test_option_errors(tmp_path: Path, args: list[str], message: str) -> None:
    # Rejected before the project is even looked for.
    res = run(["materialize", *args], tmp_path)
    assert (res.code, res.out, res.err) == (2, "", message)
