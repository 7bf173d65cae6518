"""Checks run as write-audit-publish in a step (DESIGN §13): a blocking failure leaves the
previous version stored and skips downstream; a warning publishes; results are recorded."""

from __future__ import annotations

import pytest

from tests.conftest import ProjectDir

ASSETS = """
import pandas as pd
from assets_core import asset, check, CheckResult
from assets_core.checks import (
    accepted_values, expect, not_null, relationships, row_count, schema, unique,
)

IDS = [1, 2, 3]


@asset
def customers() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [10, 20]})


@asset(
    checks=[
        not_null("order_id"),
        unique("order_id"),
        accepted_values("status", ["placed", "shipped"]),
        relationships("customer_id", to="customers", field="customer_id"),
        row_count(min=1),
        schema({"order_id": "BIGINT"}),
        expect("amount >= 0", severity="warn"),
    ]
)
def orders(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": IDS,
            "status": ["placed", "shipped", "placed"],
            "customer_id": [10, 20, 10],
            "amount": [5.0, -1.0, 2.0],
        }
    )


@check(asset="orders")
def few(orders: pd.DataFrame) -> CheckResult:
    return CheckResult(len(orders) < 100, {"rows": len(orders)})


@asset
def revenue(orders: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": [orders["amount"].sum()]})
"""


@pytest.mark.parametrize("manager", ["parquet", "duckdb", "memory"])
def test_a_failing_blocking_check_keeps_the_previous_version(
    project: ProjectDir, manager: str
) -> None:
    project.write("assets.py", ASSETS)
    with project.session(default_io_manager=manager) as s:
        first = s.materialize()
        assert first.success, first.errors
        found = {(str(step), o.name): o for step, o in first.checks}
        assert len(found) == 8
        warn = found[("orders", "expect('amount >= 0')")]
        assert not warn.passed and warn.failing == 1 and warn.severity == "warn"
        assert warn.sample == (
            {"order_id": 2, "status": "shipped", "customer_id": 20, "amount": -1.0},
        )
        assert all(o.passed for k, o in found.items() if o.blocking)
        assert found[("orders", "few")].metadata == {"rows": 3}
        stored = s.state.latest_checks()
        assert len(stored) == 8
    project.edit("assets.py", "IDS = [1, 2, 3]", "IDS = [1, 2, 2]")
    with project.session(default_io_manager=manager) as s:
        second = s.materialize()
        assert not second.success
        assert [str(x) for x in second.failed] == ["orders"]
        assert [str(x) for x in second.skipped] == ["revenue"]
        error = second.errors[second.failed[0]]
        assert error.startswith(
            "orders: check unique(order_id) failed: 2 rows share a value of (order_id) with "
            "another (1 values repeat); the new output was not published and the previous "
            "version stays (check_failed)."
        )
        assert list(s.load("orders")["order_id"]) == [1, 2, 3]  # type: ignore[index]
        latest = s.state.latest_checks()
        result = next(r for (step, name), r in latest.items() if name == "unique(order_id)")
        assert not result.passed and result.failing_rows == 2
        assert result.sample == ({"order_id": 2, "n": 2},)


RETRIED = """
import pandas as pd
from pathlib import Path
from assets_core import asset
from assets_core.checks import unique

CALLS = Path(__file__).with_name("calls.txt")


@asset(retries=2, checks=[unique("id")])
def dupes() -> pd.DataFrame:
    with CALLS.open("a") as f:
        f.write("x")
    return pd.DataFrame({"id": [1, 1]})
"""


def test_a_failing_check_is_not_retried(project: ProjectDir) -> None:
    project.write("assets.py", RETRIED)
    with project.session(default_io_manager="parquet") as s:
        result = s.materialize()
    assert [str(x) for x in result.failed] == ["dupes"]
    assert (project.dir / "calls.txt").read_text() == "x"  # one attempt: same data, same result


PARTITIONED = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import static
from assets_core.checks import unique, row_count

BAD = "eu"


@asset(partitions=static(["eu", "us"]), checks=[unique("id"), row_count(max=2)])
def events(context) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 1] if context.partition == BAD else [1, 2]})
"""


@pytest.mark.parametrize("manager", ["parquet", "duckdb"])
def test_each_partition_is_checked_on_its_own_rows(project: ProjectDir, manager: str) -> None:
    project.write("assets.py", PARTITIONED.replace('BAD = "eu"', "BAD = None"))
    with project.session(default_io_manager=manager) as s:
        assert s.materialize().success
    project.write("assets.py", PARTITIONED)
    with project.session(default_io_manager=manager) as s:
        result = s.materialize()
        assert [str(x) for x in result.failed] == ["events[eu]"]
        assert [str(x) for x in result.materialized] == ["events[us]"]
        stored = s.load("events")
        assert sorted(stored.itertuples(index=False)) == [  # type: ignore[attr-defined]
            ("eu", 1),
            ("eu", 2),
            ("us", 1),
            ("us", 2),
        ]
        found = {(str(step), o.name): o.passed for step, o in result.checks}
        assert found == {
            ("events[eu]", "unique(id)"): False,
            ("events[eu]", "row_count(max=2)"): True,  # its own two rows, not the table's four
            ("events[us]", "unique(id)"): True,
            ("events[us]", "row_count(max=2)"): True,
        }


UNORDERED = """
import time
import pandas as pd
from assets_core import asset
from assets_core.checks import relationships


@asset
def customers() -> pd.DataFrame:
    time.sleep(0.5)  # still running when orders, which does not read it, is done
    return pd.DataFrame({"customer_id": [10, 20]})


@asset(checks=[relationships("customer_id", to="customers", field="customer_id")])
def orders() -> pd.DataFrame:
    return pd.DataFrame({"order_id": [1, 2], "customer_id": [10, 20]})


@asset(checks=[relationships("id", to="derived", field="id")])
def base() -> pd.DataFrame:
    return pd.DataFrame({"id": [1]})


@asset
def derived(base: pd.DataFrame) -> pd.DataFrame:
    return base
"""


@pytest.mark.parametrize("executor", ["in-process", "threads"])
def test_a_relationships_check_waits_for_the_asset_it_reads(
    project: ProjectDir, executor: str
) -> None:
    """On a fresh project, orders (which does not read customers) is checked only once this
    run has stored customers. A check that reads a downstream asset (base -> derived) cannot
    wait for it (a cycle): it reads what is stored, here nothing, and says so."""
    project.write("assets.py", UNORDERED)
    with project.session(default_io_manager="parquet") as s:
        done = s.materialize(select=["customers", "orders"], executor=executor, workers=2)
        assert done.success, done.errors
        assert {(str(step), o.passed) for step, o in done.checks} == {("orders", True)}
        assert not s.plan(select="orders")
        rest = s.materialize(executor=executor, workers=2)
        assert [str(k) for k in rest.failed] == ["base"]
        assert [str(k) for k in rest.skipped] == ["derived"]
        assert "derived: no stored output" in rest.errors[rest.failed[0]]
