"""Each built-in check as DuckDB SQL over rows where they are (DESIGN §13): the failing rows
counted, up to 20 sampled; a check that cannot run fails and says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_core import CheckResult, check
from assets_core.checks import (
    accepted_values,
    expect,
    freshness,
    not_null,
    relationships,
    row_count,
    schema,
    unique,
)
from assets_core.model.checks import CheckSpec
from assets_core.model.keys import AssetKey
from assets_core.storage.checks import (
    SAMPLE,
    CheckOutcome,
    _distinct_integers,
    all_distinct,
    run_builtin,
    run_custom,
)

CUSTOMERS = pa.table({"id": [10, 20]})


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def run(con: duckdb.DuckDBPyConnection, table: pa.Table, spec: CheckSpec) -> CheckOutcome:
    con.register("t", table)

    def reference(key: AssetKey) -> pa.Table:
        assert key == AssetKey(["customers"])
        return CUSTOMERS

    return run_builtin(con, "t", spec, reference)


def test_not_null_counts_and_samples_at_most_20(con: duckdb.DuckDBPyConnection) -> None:
    table = pa.table({"id": [None] * 25 + [1], "n": list(range(26))})
    found = run(con, table, not_null("id"))
    assert (found.passed, found.failing, found.message) == (False, 25, "25 rows have id null")
    assert len(found.sample) == SAMPLE == 20
    assert found.sample[0] == {"id": None, "n": 0}
    assert run(con, pa.table({"id": [1]}), not_null("id")).passed


@pytest.mark.parametrize(
    ("ids", "passed", "failing"),
    [
        ([1, 2, 3, 4], True, 0),  # increasing: proven in one pass
        ([3, 1, 4, 2], True, 0),  # shuffled: the hash way
        ([3, 1, 3, 2], False, 2),
        ([1, 1, 2, 3], False, 2),
        ([1, None, None, 2], True, 0),  # nulls are not_null's business
    ],
)
def test_unique(con: duckdb.DuckDBPyConnection, ids: list[int], passed: bool, failing: int) -> None:
    found = run(con, pa.table({"id": pa.array(ids, pa.int64())}), unique("id"))
    assert (found.passed, found.failing) == (passed, failing)


def test_unique_of_several_columns(con: duckdb.DuckDBPyConnection) -> None:
    table = pa.table({"a": [1, 1, 2, 1], "b": ["x", "y", "x", "x"]})
    found = run(con, table, unique("a", "b"))
    assert (found.passed, found.failing) == (False, 2)
    assert found.sample == ({"a": 1, "b": "x", "n": 2},)
    ordered = pa.table({"a": [1, 1, 2], "b": ["x", "y", "a"]})
    assert run(con, ordered, unique("a", "b")).passed


def test_accepted_values_relationships_expect(con: duckdb.DuckDBPyConnection) -> None:
    table = pa.table({"status": ["placed", "lost", None], "cid": [10, 30, None], "v": [1, -2, 3]})
    bad = run(con, table, accepted_values("status", ["placed", "shipped"]))
    assert (bad.failing, bad.message) == (1, "1 rows have status not in ['placed', 'shipped']")
    ref = run(con, table, relationships("cid", to="customers", field="id"))
    assert (ref.failing, ref.sample) == (1, ({"status": "lost", "cid": 30, "v": -2},))
    assert ref.message == "1 rows have a cid that customers.id does not hold"
    neg = run(con, table, expect("v >= 0", severity="warn"))
    assert (neg.passed, neg.failing, neg.blocking) == (False, 1, False)


def test_row_count_schema_freshness(con: duckdb.DuckDBPyConnection) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "at": [now - timedelta(days=3), now]})
    assert run(con, table, row_count(min=1, max=2)).passed
    many = run(con, table, row_count(max=1))
    assert (many.passed, many.message, many.metadata) == (
        False,
        "2 rows, at most 1 expected",
        {"rows": 2},
    )
    wrong = run(con, table, schema({"id": "INTEGER", "name": "VARCHAR"}))
    assert wrong.message == "id is BIGINT, not INTEGER; name is missing"
    assert run(con, table, schema({"id": "bigint"})).passed
    assert run(con, table, freshness("at", "1h")).passed
    old = pa.table({"at": [now - timedelta(days=3)]})
    stale = run(con, old, freshness("at", "2d"))
    assert not stale.passed and stale.message is not None
    assert stale.message.endswith("older than 2 days, 0:00:00")


def test_a_check_that_cannot_run_fails_saying_why(con: duckdb.DuckDBPyConnection) -> None:
    found = run(con, pa.table({"id": [1]}), not_null("idd"))
    assert not found.passed and found.message is not None
    assert found.message.startswith(
        'could not run: BinderException: Binder Error: Referenced column "idd" not found'
    )


def test_custom_checks_get_the_rows_as_annotated(con: duckdb.DuckDBPyConnection) -> None:
    con.register("t", pa.table({"v": [1, 2, 3]}))

    @check(asset="orders")
    def small(orders: pd.DataFrame) -> CheckResult:
        return CheckResult(len(orders) < 3, {"rows": len(orders), "at": datetime(2024, 1, 1)})

    @check(asset="orders", severity="warn")
    def arrow(orders: pa.Table) -> bool:
        return orders.num_rows == 3

    @check(asset="orders")
    def confused(orders: duckdb.DuckDBPyRelation) -> int:
        return 1

    @check(asset="orders")
    def broken(orders: pd.DataFrame) -> bool:
        raise KeyError("v2")

    found = run_custom(con, "t", small)
    assert (found.passed, found.metadata) == (False, {"rows": 3, "at": "2024-01-01T00:00:00"})
    assert run_custom(con, "t", arrow).passed
    assert run_custom(con, "t", confused).message == (
        "returned int; return a bool or CheckResult(passed, metadata)"
    )
    assert run_custom(con, "t", broken).message == "raised KeyError: 'v2'"


def test_unique_past_the_first_rows(con: duckdb.DuckDBPyConnection) -> None:
    ids = list(range(70_000))
    assert run(con, pa.table({"id": ids}), unique("id")).passed  # probe, then the whole scan
    late = run(con, pa.table({"id": [*ids, 69_999]}), unique("id"))  # increasing until the end
    assert (late.passed, late.failing, late.sample) == (False, 2, ({"id": 69_999, "n": 2},))


@pytest.mark.parametrize(
    ("values", "passed"),
    [
        (["b", "a", "c"], True),  # text: the hash aggregate
        (["b", "a", "b"], False),
        ([datetime(2024, 1, 2), datetime(2024, 1, 1), datetime(2024, 1, 3)], True),  # sorted
        ([datetime(2024, 1, 2), datetime(2024, 1, 1), datetime(2024, 1, 2)], False),
        ([2.5, 1.5, float("nan"), float("nan")], False),  # floats: never numpy's (NaN == NaN)
    ],
)
def test_unique_of_other_types(
    con: duckdb.DuckDBPyConnection, values: list[object], passed: bool
) -> None:
    assert run(con, pa.table({"v": values}), unique("v")).passed is passed


def _ints(*chunks: list[int]) -> list[np.ndarray]:
    return [np.array(c, dtype=np.int64) for c in chunks]


@pytest.mark.parametrize(
    ("chunks", "distinct"),
    [
        (_ints([4, 0, 2], [1, 3]), True),  # dense, in no order, over two chunks
        (_ints([4, 0, 2], [1, 2]), False),  # dense: a repeat in another chunk
        (_ints([5, 5]), False),
        (_ints([-3, -7, -5, -4]), True),  # negative: marked from the lowest
        (_ints([-3, -7, -5, -3]), False),
        (_ints([0, 15]), True),  # a span of 16 for 2 values: 8 each, marked
        (_ints([0, 15, 15]), False),
        (_ints([0, 16]), True),  # a span of 17: just past 8 each, sorted
        (_ints([16, 0, 16]), False),
        (_ints([-(2**63), 2**63 - 1, 7]), True),  # the widest span: sorted, no overflow
        (_ints([2**63 - 1, -(2**63), 2**63 - 1]), False),
        (_ints([7]), True),
        ([], True),
    ],
)
def test_all_distinct(chunks: list[np.ndarray], distinct: bool) -> None:
    assert all_distinct(chunks) is distinct


@pytest.mark.parametrize(
    ("values", "distinct"),
    [
        (pa.array([3, None, 1, 2, None], pa.int64()), True),  # nulls are not_null's business
        (pa.array([3, None, 1, 3, None], pa.int64()), False),
        (pa.array([127, -128, 0], pa.int8()), True),  # a span past int8's range
        (pa.array([127, -128, 127], pa.int8()), False),
        (pa.array([2**64 - 1, 0, 2**63], pa.uint64()), True),  # past int64's range
        (pa.array([2**64 - 1, 0, 2**64 - 1], pa.uint64()), False),
        (pa.array([date(2024, 1, 3), date(2024, 1, 1), date(2024, 1, 2)]), True),
        (pa.array([date(2024, 1, 3), date(2024, 1, 1), date(2024, 1, 3)]), False),
    ],
)
def test_integer_and_temporal_columns_in_memory(
    con: duckdb.DuckDBPyConnection, values: pa.Array, distinct: bool
) -> None:
    con.register("t", pa.table({"v": values}))
    assert _distinct_integers(con, "t", ("v",)) is distinct


def test_unique_of_dense_ids_in_no_order_in_parquet(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Shuffled ids in a Parquet file, as the Parquet manager stores them: marked in one pass;
    a repeat still counted and sampled by the hash aggregate."""
    ids = np.random.default_rng(1).permutation(100_000) - 50_000
    file = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": ids, "n": np.arange(100_000)}), file)
    source = f"read_parquet('{file}')"
    assert run_builtin(con, source, unique("id"), lambda k: pa.table({})).passed
    ids[7] = ids[99_000]
    pq.write_table(pa.table({"id": ids, "n": np.arange(100_000)}), file)
    assert _distinct_integers(con, source, ("id",)) is False
    found = run_builtin(con, source, unique("id"), lambda k: pa.table({}))
    assert (found.passed, found.failing, found.sample) == (
        False,
        2,
        ({"id": int(ids[7]), "n": 2},),
    )
    assert found.message == "2 rows share a value of (id) with another (1 values repeat)"
