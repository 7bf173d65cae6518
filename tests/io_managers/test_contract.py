"""The contract every IO manager keeps, run against each manager in ``MANAGERS``.

Adding a manager means adding one entry to ``MANAGERS``: its name (the one used in error
messages) and a ``Manager`` that builds it from a test's ``tmp_path``, with the capabilities
where managers legitimately differ. Nothing else in this file names a manager.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import daily, hourly, multi, static
from assets_core.storage.datahash import canonical_schema, data_version, hash_arrow
from assets_core.storage.io import (
    DuckDBHolder,
    InputContext,
    IOManager,
    MemoryIOManager,
    OutputContext,
    fingerprints,
    key_checker,
    location_of,
    stored_version,
)
from assets_core.storage.values import to_arrow, unstorable_message


@dataclass(frozen=True)
class Manager:
    """How to build a manager for a test, and where it legitimately differs from the rest."""

    factory: Callable[[Path], IOManager]
    keeps_object: bool = False  # load returns the very object saved when the kinds match
    persistent: bool = True  # a new manager on the same storage folder sees saved outputs
    exact_types: bool = True  # loads give back the saved Arrow types exactly, not just values
    fingerprints: bool = True  # saves return a fingerprint that tells the output as written
    #: a partition whose columns differ from the stored ones is refused when saved (one
    #: table); otherwise each partition is stored on its own and reading several is refused
    checks_partition_schemas: bool = False
    #: the name its messages give it, when its entry here is a variant of another manager
    #: (the same manager on other storage)
    called: str | None = None


def _builtin(module: str) -> Callable[[Path], IOManager]:
    """The factory of a built-in manager: its module's ``from_storage(tmp_path)``."""

    def factory(tmp: Path) -> IOManager:
        return importlib.import_module(module).from_storage(tmp)  # type: ignore[no-any-return]

    return factory


def _remote(uri: Callable[[Path], str]) -> Callable[[Path], IOManager]:
    """The Parquet manager on the storage URI ``uri(tmp_path)`` (``parquet_storage``)."""

    def factory(tmp: Path) -> IOManager:
        from io_managers.parquet_storage import from_storage

        return from_storage(tmp, uri(tmp))

    return factory


def _s3_uri(tmp: Path) -> str:
    from tests.io_managers import s3server

    return s3server.uri(f"{tmp.parent.name}/{tmp.name}")


MANAGERS: dict[str, Manager] = {
    "memory": Manager(
        lambda tmp: MemoryIOManager(), keeps_object=True, persistent=False, fingerprints=False
    ),
    "parquet": Manager(_builtin("io_managers.parquet")),
    # on a real S3-compatible server on 127.0.0.1 (moto's); file:/// URIs take the same code
    # but for the move (tests/io_managers/test_parquet_remote.py)
    "parquet-s3": Manager(_remote(_s3_uri), called="parquet"),
    "duckdb": Manager(
        _builtin("io_managers.duckdb"), exact_types=False, checks_partition_schemas=True
    ),
}


@pytest.fixture(params=sorted(MANAGERS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def caps(name: str) -> Manager:
    return MANAGERS[name]


@pytest.fixture
def io(caps: Manager, tmp_path: Path) -> IOManager:
    return caps.factory(tmp_path)


class Lazy:
    """The producing asset's connection, opened only by tests that build relations."""

    def __init__(self) -> None:
        self.holder = DuckDBHolder()

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        return self.holder.get().sql(query)

    def from_arrow(self, table: pa.Table) -> duckdb.DuckDBPyRelation:
        return self.holder.get().from_arrow(table)


@pytest.fixture
def con() -> Any:
    c = Lazy()
    yield c
    c.holder.close()


KEY = AssetKey(("sales", "orders"))
SPEC = AssetSpec(key=KEY)


def out(key: AssetKey = KEY) -> OutputContext:
    return OutputContext(key, AssetSpec(key=key))


class Consumer:
    """A consuming asset: its own DuckDB connection, and input contexts bound to it."""

    def __init__(self) -> None:
        self.holder = DuckDBHolder()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.holder.get()

    def ctx(self, expected: object = None, key: AssetKey = KEY) -> InputContext:
        return InputContext(
            key,
            AssetSpec(key=key),
            expected_type=expected,
            consumer=AssetKey(("consumer",)),
            param="up",
            _duckdb=self.holder,
        )


@pytest.fixture
def consumer() -> Any:
    c = Consumer()
    yield c
    c.holder.close()


# --------------------------------------------------------------------------- values

TZ = "Asia/Jakarta"


def pandas_mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, None, 4], dtype="Int64"),
            "x": [1.5, float("nan"), -0.0, 2.25],
            "name": pd.array(["a", None, "ccc", ""], dtype="str"),
            "cat": pd.Categorical(["u", "v", None, "u"]),
            "at": pd.to_datetime(
                ["2024-01-01 10:00:00", None, "2024-03-01 00:00:00.000001", "1999-12-31 23:59:59"],
                format="ISO8601",
            )
            .as_unit("ns")
            .tz_localize(TZ),
            "price": [decimal.Decimal("1.10"), None, decimal.Decimal("-3.25"), None],
            "tags": [[1, 2], None, [], [3]],
            "point": [{"a": 1, "b": "p"}, None, {"a": None, "b": "q"}, {"a": 4, "b": None}],
            "flag": pd.array([True, None, False, True], dtype="boolean"),
        }
    )


def arrow_mixed() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, None, 3], pa.int64()),
            "u": pa.array([7, 8, None], pa.uint32()),
            "s": pa.array(["x", None, "zz"], pa.string()),
            "d": pa.array(["p", "q", None], pa.string()).dictionary_encode(),
            "ts": pa.array([0, None, 1_700_000_000_123_456], pa.timestamp("us", tz="UTC")),
            "day": pa.array([19000, 19001, None], pa.date32()),
            "dec": pa.array(
                [decimal.Decimal("1.5"), None, decimal.Decimal("-2.0")], pa.decimal128(9, 2)
            ),
            "lst": pa.array([[1, None], None, []], pa.list_(pa.int32())),
            "st": pa.array(
                [{"k": "a", "v": 1.0}, None, {"k": None, "v": None}],
                pa.struct([("k", pa.string()), ("v", pa.float64())]),
            ),
            "ls": pa.array([[{"n": 1}], [], None], pa.list_(pa.struct([("n", pa.int16())]))),
        }
    )


DUCKDB_SQL = """
    select i as id,
           case when i % 3 = 0 then null else 'n' || i end as name,
           (i * 1.25)::decimal(10, 2) as amount,
           timestamptz '2024-01-01 00:00:00+00' + to_seconds(i) as at,
           case when i % 4 = 0 then null else [i, i + 1] end as lst,
           {'a': i, 'b': 'x' || i} as st
    from range(10) t(i)
"""


def make_value(kind: str, con: Any) -> Any:
    if kind == "pandas":
        return pandas_mixed()
    if kind == "arrow":
        return arrow_mixed()
    if kind == "record_batch":
        return arrow_mixed().combine_chunks().to_batches()[0]
    if kind == "duckdb":
        return con.sql(DUCKDB_SQL)
    if kind == "polars":
        pl = pytest.importorskip("polars")
        return pl.from_arrow(arrow_mixed().drop_columns(["u"]))
    if kind == "empty_pandas":
        return pandas_mixed().iloc[:0]
    if kind == "empty_arrow":
        return arrow_mixed().slice(0, 0)
    if kind == "empty_duckdb":
        return con.sql(DUCKDB_SQL + " where false")
    raise AssertionError(kind)


KINDS = [
    "pandas",
    "arrow",
    "record_batch",
    "duckdb",
    "polars",
    "empty_pandas",
    "empty_arrow",
    "empty_duckdb",
]
TARGETS: dict[str, object] = {
    "none": None,
    "pandas": pd.DataFrame,
    "arrow": pa.Table,
    "duckdb": duckdb.DuckDBPyRelation,
    "polars": "pl.DataFrame",
}


def as_arrow(value: Any) -> pa.Table:
    """What a value (or a relation's current result) is as Arrow."""
    if isinstance(value, duckdb.DuckDBPyRelation):
        return value.to_arrow_table()
    return to_arrow(value)


def logical(table: pa.Table) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and values, whatever the physical types (dictionaries decoded, units)."""
    return table.column_names, table.to_pylist()


def assert_same(loaded: pa.Table, expected: pa.Table, exact: bool) -> None:
    """Same names and values; with ``exact`` the same types too (up to physical variants:
    ``string`` vs ``large_string``, a list's child field name, values under null parents)."""
    if exact:
        assert canonical_schema(loaded.schema) == canonical_schema(expected.schema)
    assert logical(loaded) == logical(expected)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_round_trip(
    io: IOManager, caps: Manager, kind: str, target: str, con: Any, consumer: Consumer
) -> None:
    if target == "polars":
        pytest.importorskip("polars")
    value = make_value(kind, con)
    expected = as_arrow(value)
    stored = io.save(out(), value)
    loaded = io.load(consumer.ctx(TARGETS[target]))
    if target in ("none", "pandas"):
        assert isinstance(loaded, pd.DataFrame)
        if caps.exact_types:
            original = value if kind in ("pandas", "empty_pandas") else expected.to_pandas()
            # Unused categories are not data: stores keep the values, not the category list.
            pd.testing.assert_frame_equal(loaded, original, check_categorical=caps.keeps_object)
        else:
            assert_same(pa.Table.from_pandas(loaded, preserve_index=False), expected, False)
    elif target == "arrow":
        assert isinstance(loaded, pa.Table)
        assert_same(loaded, expected, caps.exact_types)
    elif target == "duckdb":
        assert isinstance(loaded, duckdb.DuckDBPyRelation)
        # bound on the consumer's connection: it combines with the consumer's relations
        joined = loaded.cross(consumer.con.sql("select 1 as one_"))
        assert joined.to_arrow_table().num_rows == expected.num_rows
        assert_same(loaded.to_arrow_table(), expected, False)
    else:
        pl = pytest.importorskip("polars")
        assert isinstance(loaded, pl.DataFrame)
        assert_same(loaded.to_arrow(), expected, False)
    assert stored.rows == expected.num_rows


@pytest.mark.parametrize("kind", KINDS)
def test_stored_output_describes_what_load_returns(
    io: IOManager, caps: Manager, kind: str, con: Any, consumer: Consumer
) -> None:
    value = make_value(kind, con)
    expected = as_arrow(value)
    stored = io.save(out(), value)
    back = io.load(consumer.ctx(pa.Table))
    assert isinstance(back, pa.Table)
    assert re.fullmatch(r"[0-9a-f]{32}", stored.data_version)
    assert stored.data_version == hash_arrow(back)
    assert stored.rows == back.num_rows == expected.num_rows
    assert stored.schema == canonical_schema(back.schema)
    assert isinstance(stored.location, str) and stored.location
    if caps.exact_types:
        assert stored.data_version == data_version(expected).version


def test_memory_kept_object_vs_copies(
    io: IOManager, caps: Manager, con: Any, consumer: Consumer
) -> None:
    df = pandas_mixed()
    t = arrow_mixed()
    io.save(out(), df)
    loaded = io.load(consumer.ctx(pd.DataFrame))
    if caps.keeps_object:
        assert loaded is df
    else:
        assert loaded is not df
    io.save(out(), t)
    loaded = io.load(consumer.ctx(pa.Table))
    assert (loaded is t) == caps.keeps_object


def _nanoseconds(value: object) -> int | None:
    """A duration as loaded (a ``timedelta``, or DuckDB's interval) in nanoseconds."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return (value // datetime.timedelta(microseconds=1)) * 1000
    months, days, nanos = value  # pyarrow's MonthDayNano
    assert months == 0
    return int(days) * 86_400 * 10**9 + int(nanos)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_pandas_durations_with_missing_values_are_stored(
    io: IOManager, consumer: Consumer, unit: str
) -> None:
    # pandas keeps NaT as the smallest int64 under the null, which DuckDB's conversion of a
    # duration overflowed on ("Could not convert Interval to Microsecond").
    frame = pd.DataFrame(
        {"d": pd.Series([pd.Timedelta(1, "s"), pd.NaT, pd.NaT], dtype=f"timedelta64[{unit}]")}
    )
    stored = io.save(out(), frame)
    back = io.load(consumer.ctx(pa.Table))
    assert isinstance(back, pa.Table)
    assert [_nanoseconds(v) for v in back.column("d").to_pylist()] == [10**9, None, None]
    assert hash_arrow(back) == stored.data_version


# --------------------------------------------------------------------------- exists, delete


def test_exists_and_delete(io: IOManager, consumer: Consumer) -> None:
    assert not io.exists(out())
    io.save(out(), pa.table({"a": [1]}))
    assert io.exists(out())
    io.delete(out())
    assert not io.exists(out())
    with pytest.raises(IOManagerError, match=r"^sales/orders: .*; materialize it first\.$"):
        io.load(consumer.ctx(pa.Table))
    io.delete(out())  # deleting what is gone is fine


def test_location_names_where_save_stores_and_tells_keys_apart(io: IOManager) -> None:
    """``location`` (optional; every manager here has one) is what ``save`` records, asked
    before anything is stored, and two keys never share one: planning and ``wipe --orphans``
    tell a step's current place from an old one by it."""
    keys = [AssetKey(("a", "b")), AssetKey(("a_b",)), AssetKey(("a", "b", "c")), KEY]
    places = [location_of(io, k) for k in keys]
    assert None not in places and len(set(places)) == len(keys)
    for key, place in zip(keys, places, strict=True):
        assert io.save(out(key), pa.table({"a": [1]})).location == place
        assert location_of(io, key) == place


def test_load_of_never_saved_output_is_a_clear_error(io: IOManager, consumer: Consumer) -> None:
    with pytest.raises(IOManagerError, match=r"^sales/orders: .*; materialize it first\.$"):
        io.load(consumer.ctx(None))


def test_keys_never_collide(io: IOManager, consumer: Consumer) -> None:
    keys = [
        AssetKey(("x", "a", "b")),
        AssetKey(("y", "a", "b")),
        AssetKey(("a", "b")),
        AssetKey(("a",)),
        AssetKey(("a", "a")),
        AssetKey(("x", "a")),
    ]
    for i, key in enumerate(keys):
        io.save(out(key), pa.table({"i": [i]}))
    for i, key in enumerate(keys):
        back = io.load(consumer.ctx(pa.Table, key))
        assert isinstance(back, pa.Table)
        assert back.column("i").to_pylist() == [i]
    io.delete(out(keys[0]))
    assert not io.exists(out(keys[0]))
    assert all(io.exists(out(k)) for k in keys[1:])


def test_persistence_across_instances(
    io: IOManager, caps: Manager, tmp_path: Path, consumer: Consumer
) -> None:
    io.save(out(), pa.table({"a": [1, 2]}))
    fresh = caps.factory(tmp_path)
    assert fresh.exists(out()) == caps.persistent
    if caps.persistent:
        back = fresh.load(consumer.ctx(pa.Table))
        assert isinstance(back, pa.Table)
        assert back.column("a").to_pylist() == [1, 2]


#: keys that pass the key rule but that some store cannot hold as they are: schema names
#: DuckDB reserves (in any case), the warehouse file's own catalog name, names longer than a
#: file system allows, and paths deeper than it allows
HARD_KEYS = [
    "temp/t",
    "system/t",
    "warehouse/t",
    "pg_catalog/t",
    "information_schema/t",
    "Temp/t",
    "INFORMATION_SCHEMA/t",
    "main/t",
    "temp/a/t",
    "a" * 200,
    "a" * 212,
    "a" * 213,
    "a" * 255,
    "x/" + "b" * 255,
    "b" * 256 + "/x",
    "/".join(["c" * 200] * 21),
]


@pytest.mark.parametrize("text", HARD_KEYS, ids=lambda t: t if len(t) < 30 else f"{len(t)}chars")
def test_every_key_it_does_not_refuse_can_be_stored(
    io: IOManager, consumer: Consumer, text: str
) -> None:
    """A manager refuses a key when the project loads (its ``check_key``: why, and the fix),
    or stores it; it never fails on a valid key only when the asset runs."""
    key = AssetKey.parse(text)
    check = key_checker(io)
    problem = None if check is None else check(key)
    if problem is not None:
        assert problem.endswith(".") and "\n" not in problem
        assert re.search(r"; (rename|shorten)", problem), problem  # says what to do
        return
    io.save(out(key), pa.table({"k": [text]}))
    back = io.load(consumer.ctx(pa.Table, key))
    assert isinstance(back, pa.Table)
    assert back.column("k").to_pylist() == [text]


# --------------------------------------------------------------------------- fingerprints


def _now(io: IOManager, key: AssetKey = KEY) -> str | None:
    """What planning asks: the output's fingerprint as it is now (``None``: nothing stored)."""
    return fingerprints(io, {key: [None]}, {key: AssetSpec(key=key)}).get(key, {}).get(None)


def test_a_fingerprint_tells_the_output_as_written(
    io: IOManager, caps: Manager, tmp_path: Path
) -> None:
    assert _now(io) is None
    first = io.save(out(), pa.table({"a": [1, 2]}))
    if not caps.fingerprints:
        assert first.fingerprint is None
        assert _now(io) == ""  # stored, no fingerprint kept
        return
    assert first.fingerprint
    assert _now(io) == first.fingerprint
    assert _now(caps.factory(tmp_path)) == first.fingerprint  # another instance agrees
    assert stored_version(io, out()) in (None, first.data_version)

    # Replaced by something else (here: another instance writing other data), the output
    # no longer has the fingerprint recorded with the first save; where the manager can read
    # the new data version without reading the data, it says which.
    other = caps.factory(tmp_path)
    second = other.save(out(), pa.table({"a": [1, 2, 3]}))
    close = getattr(other, "close", None)
    if callable(close):
        close()
    assert _now(io) == second.fingerprint != first.fingerprint
    assert stored_version(io, out()) in (None, second.data_version)
    io.delete(out())
    assert _now(io) is None


def test_fingerprints_answer_for_many_outputs_by_asset(io: IOManager, caps: Manager) -> None:
    keys = [AssetKey(("x", "a")), AssetKey(("b",)), AssetKey(("x", "c")), AssetKey(("d",))]
    written = {k: io.save(out(k), pa.table({"v": [i]})) for i, k in enumerate(keys[:2])}
    day = io.save(pout(D2), day_value(D2))
    specs = {k: AssetSpec(key=k) for k in keys} | {KEY: PSPEC}
    asked: dict[AssetKey, list[str | None]] = {k: [None] for k in keys}
    asked[KEY] = [D1, D2, D3]
    answers = fingerprints(io, asked, specs)
    # only what is stored, asset by asset: the outputs not stored are left out
    expected = {k: {None: written[k].fingerprint or ""} for k in keys[:2]}
    expected[KEY] = {D2: day.fingerprint or ""}
    assert {k: dict(found) for k, found in answers.items() if found} == expected


# --------------------------------------------------------------------------- data versions


def test_data_version_ignores_chunking(io: IOManager) -> None:
    t = arrow_mixed().combine_chunks()
    versions = set()
    for size in (1, 2, 3, 1000):
        rechunked = pa.Table.from_batches(t.to_batches(max_chunksize=size), t.schema)
        assert rechunked.column(0).num_chunks == (len(t) + size - 1) // size
        versions.add(io.save(out(), rechunked).data_version)
    versions.add(io.save(out(), t.slice(1).slice(0, 0)).data_version)  # empty: differs
    assert len(versions) == 2


def test_data_version_changes_with_one_value(io: IOManager) -> None:
    base = pandas_mixed()
    first = io.save(out(), base).data_version
    assert io.save(out(), pandas_mixed()).data_version == first  # same data, same version
    changed = pandas_mixed()
    changed.loc[2, "x"] = 99.0
    assert io.save(out(), changed).data_version != first
    renamed = pandas_mixed().rename(columns={"x": "y"})
    assert io.save(out(), renamed).data_version != first


def test_data_version_same_across_value_kinds(io: IOManager, con: Any) -> None:
    t = arrow_mixed()
    v_arrow = io.save(out(), t).data_version
    v_batch = io.save(out(), t.combine_chunks().to_batches()[0]).data_version
    v_rel = io.save(out(), con.from_arrow(pa.table({"a": [1, 2, 3]}))).data_version
    v_tab = io.save(out(), pa.table({"a": [1, 2, 3]})).data_version
    assert v_arrow == v_batch
    assert v_rel == v_tab


# --------------------------------------------------------------------------- failed saves


def _assert_still(io: IOManager, consumer: Consumer, version: str, table: pa.Table) -> None:
    assert io.exists(out())
    back = io.load(consumer.ctx(pa.Table))
    assert isinstance(back, pa.Table)
    assert hash_arrow(back) == version
    assert logical(back) == logical(table)


@pytest.mark.parametrize("bad", [None, {"a": [1]}, [1, 2], "text", pa.array([1])])
def test_unstorable_value_is_rejected_and_previous_kept(
    io: IOManager, name: str, caps: Manager, bad: object, consumer: Consumer
) -> None:
    good = pa.table({"a": [1, 2, 3]})
    version = io.save(out(), good).data_version
    with pytest.raises(IOManagerError) as err:
        io.save(out(), bad)
    assert str(err.value) == unstorable_message("sales/orders", caps.called or name, bad)
    _assert_still(io, consumer, version, good)


def test_conversion_failing_midway_keeps_previous(
    io: IOManager, con: Any, consumer: Consumer
) -> None:
    good = pa.table({"i": pa.array([5, 6], pa.int64())})
    version = io.save(out(), good).data_version
    # a relation that fails after producing millions of rows (raised while streaming)
    failing = con.sql(
        "select case when i < 2200000 then i else error('boom at ' || i) end as i "
        "from range(2500000) t(i)"
    )
    with pytest.raises(Exception, match="boom at"):
        io.save(out(), failing)
    _assert_still(io, consumer, version, good)
    mixed = pd.DataFrame({"i": [1, "a", 2.5]})  # pandas -> Arrow conversion fails
    with pytest.raises((pa.ArrowException, IOManagerError)):
        io.save(out(), mixed)
    _assert_still(io, consumer, version, good)


# --------------------------------------------------------------------------- schema changes


def test_schema_changes_are_ordinary_writes(io: IOManager, consumer: Consumer) -> None:
    steps = [
        pa.table({"a": [1, 2], "b": ["x", "y"]}),
        pa.table({"a": [1, 2], "b": ["x", "y"], "c": [0.5, None]}),  # column added
        pa.table({"a": [1, 2], "c": [0.5, None]}),  # column removed
        pa.table({"a": ["1", "2"], "c": [0.5, None]}),  # column retyped
        pa.table({"a": ["1", "2", "3"], "c": [0.5, None, 1.0]}),  # more rows
        pa.table({"c": [1.0]}),  # fewer columns and rows
    ]
    versions = set()
    for table in steps:
        stored = io.save(out(), table)
        versions.add(stored.data_version)
        back = io.load(consumer.ctx(pa.Table))
        assert isinstance(back, pa.Table)
        assert back.column_names == table.column_names
        assert logical(back) == logical(table)
        assert stored.schema == canonical_schema(back.schema)
    assert len(versions) == len(steps)


# --------------------------------------------------------------------------- handover

ROUND_TRIPPING = {
    "pandas plain types": lambda: pd.DataFrame(
        {
            "i": pd.array([1, 2, 3], dtype="int64"),
            "i8": pd.array([1, 2, 3], dtype="int8"),
            "u32": pd.array([1, 2, 3], dtype="uint32"),
            "f": [0.5, None, 2.0],
            "f32": pd.array([0.5, 1.5, 2.0], dtype="float32"),
            "b": [True, False, True],
            "s": ["x", None, "z"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "tus": pd.to_datetime(["2024-01-01", "2024-01-02", None]).astype("datetime64[us]"),
        }
    ),
    "pandas empty": lambda: pd.DataFrame({"i": pd.array([], dtype="int64")}),
    "arrow plain types": lambda: pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "i16": pa.array([1, 2, 3], pa.int16()),
            "f": pa.array([0.5, 1.0, None], pa.float64()),
            "b": pa.array([True, None, False]),
            "s": pa.array(["x", "y", None], pa.string()),
            "d": pa.array([1, 2, None], pa.date32()),
            "t": pa.array([1, 2, 3], pa.timestamp("us")),
            "tns": pa.array([1, 2, 3], pa.timestamp("ns")),
        }
    ),
}


@pytest.mark.parametrize("value", sorted(ROUND_TRIPPING))
def test_what_round_trips_loads_back_equal(
    name: str, io: IOManager, consumer: Consumer, value: str
) -> None:
    """A run hands a stored value over in memory instead of loading it back only when
    ``values.round_trips`` says so, through a manager that sets ``round_trips``: then loading
    it back must give an equal value of the same kind, to the dtype and the index."""
    from assets_core.storage.values import kind_of, round_trips

    made = ROUND_TRIPPING[value]()
    assert round_trips(made)
    if not getattr(io, "round_trips", False):
        pytest.skip(f"{name} does not promise round trips")
    io.save(out(), made)
    expected = pd.DataFrame if kind_of(made) == "pandas" else pa.Table
    back = io.load(consumer.ctx(expected))
    if isinstance(made, pd.DataFrame):
        assert isinstance(back, pd.DataFrame)
        pd.testing.assert_frame_equal(back, made, check_dtype=True, check_index_type=True)
    else:
        assert isinstance(back, pa.Table)
        assert back.schema.remove_metadata() == made.schema
        assert back.equals(made)


# --------------------------------------------------------------------------- partitions

DAYS = daily(start="2024-01-01")
SALES = multi(date=daily(start="2024-01-01"), region=static(["us", "eu"]))
PSPEC = AssetSpec(key=KEY, partitions=DAYS)
D1, D2, D3 = "2024-01-01", "2024-01-02", "2024-01-03"


def pout(partition: str, spec: AssetSpec = PSPEC) -> OutputContext:
    return OutputContext(KEY, spec, partition=partition)


def pin(
    consumer: Consumer,
    partitions: tuple[str, ...] | None,
    expected: object = pa.Table,
    spec: AssetSpec = PSPEC,
) -> InputContext:
    return InputContext(
        KEY,
        spec,
        expected_type=expected,
        consumer=AssetKey(("consumer",)),
        param="up",
        partitions=partitions,
        _duckdb=consumer.holder,
    )


def day_value(day: str) -> pa.Table:
    n = int(day[-2:])
    return pa.table({"v": pa.array(range(n * 10, n * 10 + n), pa.int64()), "s": ["x"] * n})


def rows(table: Any) -> list[tuple[Any, ...]]:
    t = as_arrow(table)
    return [tuple(r.values()) for r in t.to_pylist()]


def test_partitions_load_one_several_and_all_in_key_order(
    io: IOManager, consumer: Consumer
) -> None:
    for day in (D3, D1, D2):  # saved out of order
        io.save(pout(day), day_value(day))
    one = io.load(pin(consumer, (D2,)))
    assert isinstance(one, pa.Table)
    assert one.column_names == ["partition", "v", "s"]
    assert one.schema.field("partition").type == pa.string()
    assert rows(one) == [(D2, 20, "x"), (D2, 21, "x")]
    several = io.load(pin(consumer, (D1, D3)))
    assert rows(several) == [(D1, 10, "x"), (D3, 30, "x"), (D3, 31, "x"), (D3, 32, "x")]
    everything = io.load(pin(consumer, None))
    assert [r[0] for r in rows(everything)] == [D1, D2, D2, D3, D3, D3]
    assert [r[1] for r in rows(everything)] == [10, 20, 21, 30, 31, 32]


def test_a_partition_stores_what_the_asset_returned(io: IOManager, consumer: Consumer) -> None:
    value = day_value(D2)
    stored = io.save(pout(D2), value)
    assert stored.data_version == data_version(value).version  # without the dimension column
    assert stored.rows == 2
    assert stored.schema == canonical_schema(value.schema)
    back = io.load(pin(consumer, (D2,)))
    assert isinstance(back, pa.Table)
    assert hash_arrow(back.drop_columns(["partition"])) == stored.data_version


def _days(io: IOManager) -> list[str | None]:
    """The fingerprints of ``KEY``'s partitions D1, D2 and D3 as they are now (``None``: not
    stored), asked at once."""
    found = fingerprints(io, {KEY: [D1, D2, D3]}, {KEY: PSPEC}).get(KEY, {})
    return [found.get(d) for d in (D1, D2, D3)]


def test_replacing_one_partition_leaves_the_others(
    io: IOManager, caps: Manager, consumer: Consumer
) -> None:
    saved = {day: io.save(pout(day), day_value(day)) for day in (D1, D2, D3)}
    before = _days(io)
    replaced = io.save(pout(D2), pa.table({"v": pa.array([7], pa.int64()), "s": ["y"]}))
    assert replaced.data_version != saved[D2].data_version
    after = _days(io)
    assert (after[0], after[2]) == (before[0], before[2])
    if caps.fingerprints:
        assert after[1] == replaced.fingerprint != before[1]
    assert rows(io.load(pin(consumer, None))) == [
        (D1, 10, "x"),
        (D2, 7, "y"),
        (D3, 30, "x"),
        (D3, 31, "x"),
        (D3, 32, "x"),
    ]


def test_exists_fingerprints_and_delete_per_partition(
    io: IOManager, caps: Manager, consumer: Consumer
) -> None:
    assert _days(io) == [None, None, None]
    saved = {day: io.save(pout(day), day_value(day)) for day in (D1, D2)}
    assert [io.exists(pout(d)) for d in (D1, D2, D3)] == [True, True, False]
    expected = [saved[D1].fingerprint or "", saved[D2].fingerprint or "", None]
    assert _days(io) == expected
    assert stored_version(io, pout(D1)) in (None, saved[D1].data_version)
    assert saved[D1].location != saved[D2].location
    io.delete(pout(D1))
    assert [io.exists(pout(d)) for d in (D1, D2, D3)] == [False, True, False]
    assert _days(io) == [None, expected[1], None]
    with pytest.raises(
        IOManagerError, match=r"^sales/orders\[2024-01-01\]: .*; materialize it first\.$"
    ):
        io.load(pin(consumer, (D1, D2)))
    assert rows(io.load(pin(consumer, None))) == [(D2, 20, "x"), (D2, 21, "x")]
    io.delete(pout(D1))  # deleting what is gone is fine
    io.delete(pout(D2))
    with pytest.raises(IOManagerError, match=r"^sales/orders: .*; materialize it first\.$"):
        io.load(pin(consumer, None))


def test_a_multi_key_has_a_column_per_dimension(io: IOManager, consumer: Consumer) -> None:
    spec = AssetSpec(key=KEY, partitions=SALES)
    keys = [
        "date=2024-01-02,region=eu",
        "date=2024-01-01,region=eu",
        "date=2024-01-01,region=us",
    ]
    for i, k in enumerate(keys):
        io.save(pout(k, spec), pa.table({"n": pa.array([i], pa.int64())}))
    back = io.load(pin(consumer, None, spec=spec))
    assert isinstance(back, pa.Table)
    assert back.column_names == ["date", "region", "n"]
    # key order: by date, then region in the order declared (us before eu)
    assert rows(back) == [(D1, "us", 2), (D1, "eu", 1), (D2, "eu", 0)]
    one = io.load(pin(consumer, ("date=2024-01-01,region=eu",), spec=spec))
    assert rows(one) == [(D1, "eu", 1)]
    assert io.exists(pout(keys[0], spec)) and not io.exists(pout("date=2024-01-02,region=us", spec))


def test_hourly_keys_are_stored_exactly(io: IOManager, consumer: Consumer) -> None:
    spec = AssetSpec(key=KEY, partitions=hourly(start="2024-10-27T00:00", timezone="Europe/Berlin"))
    keys = ("2024-10-27T02:00", "2024-10-27T02:00+01:00", "2024-10-27T03:00")
    for i, k in enumerate(keys):
        io.save(pout(k, spec), pa.table({"n": [i]}))
    back = io.load(pin(consumer, None, spec=spec))
    assert rows(back) == [(k, i) for i, k in enumerate(keys)]
    assert all(io.exists(pout(k, spec)) for k in keys)


def test_a_returned_dimension_column_is_checked_and_not_duplicated(
    io: IOManager, consumer: Consumer, con: Any
) -> None:
    plain = day_value(D2)
    carrying = plain.append_column("partition", pa.array([D2, D2]))
    stored = io.save(pout(D2), carrying)
    assert stored.data_version == data_version(plain).version
    assert io.load(pin(consumer, (D2,))).column_names == ["partition", "v", "s"]
    rel = con.sql("select 5::bigint as v, 'q' as s, '2024-01-03' as partition")
    io.save(pout(D3), rel)
    assert rows(io.load(pin(consumer, (D3,)))) == [(D3, 5, "q")]
    wrong = plain.append_column("partition", pa.array([D2, D3]))
    with pytest.raises(IOManagerError) as err:
        io.save(pout(D2), wrong)
    assert str(err.value) == (
        "sales/orders[2024-01-02]: column 'partition' holds values other than this "
        "partition's partition '2024-01-02'; return only this partition's rows with "
        "partition = '2024-01-02' as text, or drop the column (the IO manager stores it)."
    )
    assert rows(io.load(pin(consumer, (D2,)))) == [(D2, 20, "x"), (D2, 21, "x")]  # kept


@pytest.mark.parametrize("target", ["pandas", "arrow", "duckdb", "polars", "none"])
def test_every_kind_of_consumer_gets_the_same_partitions(
    io: IOManager, consumer: Consumer, target: str
) -> None:
    if target == "polars":
        pytest.importorskip("polars")
    for day in (D1, D2, D3):
        io.save(pout(day), day_value(day).to_pandas())
    loaded = io.load(pin(consumer, (D2, D3), TARGETS[target]))
    if target in ("none", "pandas"):
        assert isinstance(loaded, pd.DataFrame)
        assert list(loaded.columns) == ["partition", "v", "s"]
    if target == "duckdb":
        assert isinstance(loaded, duckdb.DuckDBPyRelation)
        assert loaded.filter("partition = '2024-01-03'").count("*").fetchall() == [(3,)]
    got = as_arrow(loaded)
    assert got.column_names == ["partition", "v", "s"]
    assert rows(got) == [(D2, 20, "x"), (D2, 21, "x"), (D3, 30, "x"), (D3, 31, "x"), (D3, 32, "x")]


def test_partitions_with_other_columns_are_a_clear_error(
    io: IOManager, caps: Manager, consumer: Consumer
) -> None:
    io.save(pout(D1), pa.table({"a": pa.array([1], pa.int64())}))
    retyped = pa.table({"a": ["1"]})
    message = (
        "sales/orders: partition 2024-01-02 has other columns than partition 2024-01-01 "
        "(column 'a' is {new}, was {old}); make the columns agree in every partition, or "
        "rebuild them all: lumbung wipe -s sales/orders, then lumbung materialize -s sales/orders."
    )
    if caps.checks_partition_schemas:  # refused when the second partition is saved
        with pytest.raises(IOManagerError) as err:
            io.save(pout(D2), retyped)
        assert str(err.value) == message.format(new="VARCHAR", old="BIGINT")
        assert not io.exists(pout(D2))
        assert rows(io.load(pin(consumer, None))) == [(D1, 1)]
        return
    io.save(pout(D2), retyped)  # each partition is stored on its own...
    assert rows(io.load(pin(consumer, (D2,)))) == [(D2, "1")]
    for target in ("arrow", "duckdb", "pandas"):  # ...but they cannot be read as one value
        with pytest.raises(IOManagerError) as err:
            io.load(pin(consumer, None, TARGETS[target]))
        assert str(err.value) == message.format(new="string", old="int64")


def test_a_partition_of_an_unpartitioned_asset_is_refused(io: IOManager) -> None:
    with pytest.raises(IOManagerError, match=r"^sales/orders: partition '2024-01-01' was asked"):
        io.save(OutputContext(KEY, SPEC, partition=D1), day_value(D1))
