"""MemoryIOManager: save, load (as-is or converted), exists, delete."""

from __future__ import annotations

import threading

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import daily
from assets_core.storage.datahash import hash_arrow, hash_pandas
from assets_core.storage.io import InputContext, IOManager, MemoryIOManager, OutputContext

KEY = AssetKey(("marts", "orders"))
SPEC = AssetSpec(key=KEY)
OUT = OutputContext(KEY, SPEC)


def _in(expected: object = None) -> InputContext:
    return InputContext(KEY, SPEC, expected_type=expected)


def test_protocol() -> None:
    assert isinstance(MemoryIOManager(), IOManager)


def test_save_load_exists_delete() -> None:
    io = MemoryIOManager()
    df = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]})
    assert not io.exists(OUT)
    stored = io.save(OUT, df)
    assert stored.location == "memory://marts/orders"
    assert stored.data_version == hash_pandas(df)
    assert stored.rows == 3
    assert stored.schema == (("a", "int64"), ("s", "string"))
    assert stored.bytes and stored.bytes > 0
    assert io.exists(OUT)
    assert io.load(_in()) is df  # no copy
    assert io.load(_in(pd.DataFrame)) is df
    io.delete(OUT)
    assert not io.exists(OUT)
    io.delete(OUT)  # deleting twice is fine


def test_load_converts_to_the_annotation() -> None:
    io = MemoryIOManager()
    t = pa.table({"a": [1, 2]})
    io.save(OUT, t)
    assert io.load(_in("pa.Table")) is t
    df = io.load(_in(None))
    assert isinstance(df, pd.DataFrame)
    assert df.to_dict("list") == {"a": [1, 2]}
    ctx = _in(duckdb.DuckDBPyRelation)
    rel = io.load(ctx)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert rel.fetchall() == [(1,), (2,)]
    ctx.duckdb.close()


def test_relations_are_stored_as_arrow() -> None:
    io = MemoryIOManager()
    con = duckdb.connect()
    rel = con.sql("select * from range(3) r(a)")
    stored = io.save(OUT, rel)
    con.close()  # the asset's connection is gone; the value must survive
    assert stored.rows == 3
    t = io.load(_in(pa.Table))
    assert isinstance(t, pa.Table)
    assert stored.data_version == hash_arrow(t)


def test_partitions_are_kept_apart() -> None:
    io = MemoryIOManager()
    spec = AssetSpec(key=KEY, partitions=daily(start="2024-01-01"))
    p1 = OutputContext(KEY, spec, partition="2024-01-01")
    table = pa.table({"a": [1]})
    stored = io.save(p1, table)
    assert stored.location == "memory://marts/orders/2024-01-01" == io.location(KEY, "2024-01-01")
    assert io.exists(p1)
    assert not io.exists(OUT)
    one = InputContext(KEY, spec, expected_type=pa.Table, partitions=("2024-01-01",))
    assert io.load(one).column_names == ["partition", "a"]  # type: ignore[attr-defined]


def test_unstorable_values() -> None:
    io = MemoryIOManager()
    with pytest.raises(IOManagerError) as err:
        io.save(OUT, [1, 2])
    assert str(err.value) == (
        "marts/orders: the memory IO manager cannot store a value of type list; "
        "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )
    with pytest.raises(IOManagerError) as err:
        io.save(OUT, None)
    assert str(err.value) == (
        "marts/orders returned None; return the asset's data "
        "(a pandas.DataFrame, pyarrow.Table or duckdb relation)."
    )


def test_load_missing() -> None:
    with pytest.raises(IOManagerError) as err:
        MemoryIOManager().load(_in())
    assert str(err.value) == (
        "marts/orders: nothing stored at memory://marts/orders; materialize it first."
    )


def test_thread_safe() -> None:
    io = MemoryIOManager()

    def work(i: int) -> None:
        ctx = OutputContext(AssetKey((f"a{i}",)), SPEC)
        for _ in range(20):
            io.save(ctx, pa.table({"i": [i]}))
            assert io.exists(ctx)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(io.exists(OutputContext(AssetKey((f"a{i}",)), SPEC)) for i in range(8))
