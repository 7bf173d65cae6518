"""``lumbung check`` and the acceptance scenarios of data checks (DESIGN §13), each through
the ``lumbung`` command: a clean run, a duplicate key blocked, the fix published, a warning
shown, nothing re-checked after a run, only an edited check re-run, and one bad partition
blocked alone."""

from __future__ import annotations

import json
from pathlib import Path

from assets_core.session import load_project
from tests.assets_core.cli.conftest import edit, run

ASSETS = """
import pandas as pd
from assets_core import asset, check
from assets_core.checks import expect, not_null, relationships, row_count, unique

IDS = [1, 2, 3]


@asset
def customers() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [10, 20]})


@asset(
    checks=[
        not_null("order_id"),
        unique("order_id"),
        relationships("customer_id", to="customers", field="customer_id"),
        row_count(min=1),
        expect("amount >= 0", severity="warn"),
    ]
)
def orders(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"order_id": IDS, "customer_id": [10, 20, 10], "amount": [5.0, -1.0, 2.0]}
    )


@check(asset="orders")
def small(orders: pd.DataFrame) -> bool:
    return len(orders) < 100


@asset
def revenue(orders: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": [orders["amount"].sum()]})
"""


def _project(path: Path, text: str = ASSETS) -> Path:
    (path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (path / "assets.py").write_text(text)
    return path


def test_checks_block_warn_and_rerun_only_what_changed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    # a clean run: every check passes but the warning, which is shown; all recorded
    first = run(["materialize"], root)
    assert first.code == 0, first.err
    assert (
        "warning: orders: check expect('amount >= 0') failed: 1 rows fail amount >= 0 "
        "(severity warn: published anyway)" in first.err_lines
    )
    # right after a run: nothing to re-check
    again = run(["check", "--json"], root)
    assert again.code == 0, again.err
    found = json.loads(again.out)
    assert (found["ran"], found["unchanged"], found["failed"]) == (0, 6, 0)
    assert {c["check"]: c["result"] for c in found["checks"]} == {
        "not_null(order_id)": "pass",
        "unique(order_id)": "pass",
        "relationships(customer_id -> customers.customer_id)": "pass",
        "row_count(min=1)": "pass",
        "expect('amount >= 0')": "warn",
        "small": "pass",
    }
    # a duplicate key: unique fails, the old version stays, downstream is skipped
    edit(root / "assets.py", "IDS = [1, 2, 3]", "IDS = [1, 2, 2]")
    bad = run(["materialize", "--json"], root)
    assert bad.code == 1
    result = json.loads(bad.out)
    assert (result["failed"], result["skipped"]) == (["orders"], ["revenue"])
    assert result["errors"]["orders"].startswith(
        "orders: check unique(order_id) failed: 2 rows share a value of (order_id) with another"
    )
    assert [(c["check"], c["severity"], c["failing_rows"]) for c in result["failed_checks"]] == [
        ("unique(order_id)", "error", 2),
        ("expect('amount >= 0')", "warn", 1),
    ]
    with load_project(root) as s:
        assert list(s.load("orders")["order_id"]) == [1, 2, 3]  # type: ignore[index]
    # the bug fixed: the asset publishes and downstream runs
    edit(root / "assets.py", "IDS = [1, 2, 2]", "IDS = [1, 2, 4]")
    fixed = run(["materialize", "--json"], root)
    assert fixed.code == 0, fixed.err
    assert json.loads(fixed.out)["materialized"] == ["orders", "revenue"]
    # a check's code edited: only that check runs again
    edit(root / "assets.py", "len(orders) < 100", "len(orders) < 1000")
    edited = run(["check"], root)
    assert edited.code == 0, edited.err
    assert edited.out.splitlines()[-1] == "6 checks: 1 ran, 5 unchanged; 0 failed, 1 warned."
    assert "  pass orders  small" in edited.out
    # --force runs them all; a custom check failing on stored data exits 1
    edit(root / "assets.py", "len(orders) < 1000", "len(orders) < 2")
    forced = run(["check", "--force", "-s", "orders"], root)
    assert forced.code == 1
    assert forced.out.splitlines()[-1] == "6 checks: 6 ran, 0 unchanged; 1 failed, 1 warned."
    assert "  fail orders  small" in forced.out
    # the stored output fails a blocking check: plan says it is stale, and why
    planned = run(["plan", "--json", "-s", "orders"], root)
    (step,) = json.loads(planned.out)["steps"]
    assert (step["key"], step["status"]) == ("orders", "stale")
    assert step["reasons"] == [
        {"code": "check_failed", "message": "stored output fails check small: returned False"}
    ]


def test_a_relationships_check_reruns_when_the_other_side_changes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert run(["materialize"], root).code == 0
    edit(root / "assets.py", '"customer_id": [10, 20]}', '"customer_id": [10, 30]}')
    assert run(["materialize", "-s", "customers"], root).code == 0
    found = run(["check", "--json"], root)
    assert found.code == 1
    ran = [c for c in json.loads(found.out)["checks"] if c["ran"]]
    assert [(c["check"], c["result"], c["failing_rows"]) for c in ran] == [
        ("relationships(customer_id -> customers.customer_id)", "fail", 1)
    ]


PARTITIONED = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily
from assets_core.checks import unique


@asset(partitions=daily(start="2024-01-01", end="2024-01-04"), checks=[unique("id")])
def events(context) -> pd.DataFrame:
    day = context.partition
    ids = [1, 1] if day == "2024-01-02" else [1, 2]
    return pd.DataFrame({"id": ids})


@asset(partitions=daily(start="2024-01-01", end="2024-01-04"))
def counts(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"n": [len(events)]})
"""


def test_one_bad_partition_blocks_only_itself(tmp_path: Path) -> None:
    root = _project(tmp_path, PARTITIONED)
    done = run(["materialize", "--json"], root)
    assert done.code == 1
    result = json.loads(done.out)
    assert result["failed"] == ["events[2024-01-02]"]
    assert result["skipped"] == ["counts[2024-01-02]"]
    assert sorted(result["materialized"]) == [
        "counts[2024-01-01]",
        "counts[2024-01-03]",
        "events[2024-01-01]",
        "events[2024-01-03]",
    ]
    checked = run(["check", "--partitions", "2024-01-01..2024-01-03"], root)
    assert checked.code == 0, checked.err
    assert checked.out.splitlines() == [
        "  pass events[2024-01-01]  unique(id)  (unchanged)",
        "  pass events[2024-01-03]  unique(id)  (unchanged)",
        "  none events[2024-01-02]  not materialized yet: nothing to check",
        "2 checks: 0 ran, 2 unchanged; 0 failed, 0 warned.",
    ]
