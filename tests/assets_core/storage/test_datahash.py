"""Data versions: deterministic, chunking-independent, sensitive to every value and the schema."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash

from assets_core.errors import IOManagerError
from assets_core.storage import datahash
from assets_core.storage.datahash import (
    DataVersion,
    TableHasher,
    canonical_schema,
    data_version,
    file_digest,
    hash_arrow,
    hash_pandas,
)
from assets_core.storage.datahash.pandas import _pandas_fast
from assets_core.storage.values import to_arrow


def _table() -> pa.Table:
    return pa.table(
        {
            "i": pa.array([1, 2, None, 4, 5, -6, 7], pa.int64()),
            "f": pa.array([1.5, float("nan"), None, -0.0, 0.0, 1e300, 2.0], pa.float64()),
            "s": pa.array(["a", None, "ccc", "", "dddd", "é", "x"], pa.string()),
            "b": pa.array([True, False, None, True, True, False, True]),
            "l": pa.array([[1, 2], None, [], [3], [None], [4, 5, 6], [7]], pa.list_(pa.int32())),
            "st": pa.array(
                [{"x": 1, "y": "a"}, None, {"x": None, "y": "c"}, {"x": 4, "y": None}] * 1
                + [{"x": 5, "y": "e"}, {"x": 6, "y": "f"}, {"x": 7, "y": "g"}]
            ),
        }
    )


GOLDEN_SCHEMA = (
    ("i", "int64"),
    ("f", "float64"),
    ("s", "string"),
    ("b", "bool"),
    ("l", "list<int32>"),
    ("st", 'struct<"x":int64,"y":string>'),
)


def test_golden_digest_is_stable() -> None:
    """The cross-version guarantee: this digest must never change without a format bump."""
    t = _table()
    assert canonical_schema(t.schema) == GOLDEN_SCHEMA
    assert datahash.FORMAT_VERSION == 2
    assert hash_arrow(t) == "5180bb30afee9a6d07ad6ad94c14e6de"


# The encoding of the package docstring, written out independently of the package.


def _h(b: bytes) -> bytes:
    """H: XXH3-128, seed 0, as its 16-byte canonical (big-endian) digest."""
    return xxhash.xxh3_128(b, seed=0).intdigest().to_bytes(16, "big")


def _stream(b: bytes) -> bytes:
    return len(b).to_bytes(8, "little") + _h(b)


def _name(s: str) -> bytes:
    return len(s.encode()).to_bytes(4, "little") + s.encode()


def _counts(rows: int, nulls: int) -> bytes:
    return rows.to_bytes(8, "little") + nulls.to_bytes(8, "little")


def _header(rows: int, columns: int) -> bytes:
    return (
        b"lumbung-datahash"
        + (2).to_bytes(4, "little")
        + rows.to_bytes(8, "little")
        + columns.to_bytes(4, "little")
    )


def test_golden_digest_of_a_simple_table_matches_the_documented_encoding() -> None:
    """Recompute one small table's digest by hand from the package docstring."""
    t = pa.table({"n": pa.array([1, None], pa.int64()), "s": pa.array(["ab", "c"])})
    stream, name, counts = _stream, _name, _counts

    n_node = (
        b"N"
        + name("int64")
        + counts(2, 1)
        + stream(b"\x01\x00")
        + stream((1).to_bytes(8, "little") + bytes(8))
    )
    s_node = (
        b"N"
        + name("string")
        + counts(2, 0)
        + stream(b"")
        + stream((2).to_bytes(4, "little") + (1).to_bytes(4, "little"))
        + stream(b"abc")
    )
    expected = _h(_header(2, 2) + name("n") + n_node + name("s") + s_node).hex()
    assert len(expected) == 32
    assert hash_arrow(t) == expected


def test_deterministic() -> None:
    assert hash_arrow(_table()) == hash_arrow(_table())


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 100])
def test_independent_of_batching(k: int) -> None:
    t = _table()
    expected = hash_arrow(t)
    hasher = TableHasher(t.schema)
    for batch in t.to_batches(max_chunksize=k):
        hasher.update(batch)
    assert hasher.hexdigest() == expected
    pieces = [t.slice(i, k) for i in range(0, t.num_rows, k)]
    assert hash_arrow(pa.concat_tables(pieces)) == expected
    assert hash_arrow(pa.concat_tables(pieces).combine_chunks()) == expected


def test_sliced_arrays_with_offsets() -> None:
    t = _table()
    for start in range(t.num_rows):
        part = t.slice(start)
        assert hash_arrow(part) == hash_arrow(pa.Table.from_pylist(part.to_pylist(), t.schema))


def test_streams_of_several_mib_fed_in_odd_batches_hash_as_one() -> None:
    """A stream's digest is H over all its bytes, however they were fed (here 12 MiB of int64
    values and 15 MiB of string bytes, in batches of odd sizes)."""
    n = (3 << 19) + 12345
    rng = np.random.default_rng(1)
    x = rng.integers(0, 1 << 60, n)
    t = pa.table({"x": x, "s": pc.cast(pa.array(np.arange(n) * 7919), "str")})
    one = pa.table({"x": x})
    by_hand = _h(
        _header(n, 1)
        + _name("x")
        + b"N"
        + _name("int64")
        + _counts(n, 0)
        + _stream(b"")
        + _stream(x.astype("<i8").tobytes())
    ).hex()
    assert hash_arrow(one) == by_hand
    expected = hash_arrow(t)
    sizes = [1, 7, 333_333, 65_537, 1_000_001, 3]
    for data in (t, one):
        hasher = TableHasher(data.schema)
        start, i = 0, 0
        while start < n:
            hasher.update(data.slice(start, sizes[i % len(sizes)]).combine_chunks())
            start += sizes[i % len(sizes)]
            i += 1
        assert hasher.hexdigest() == (expected if data is t else by_hand)
    hasher = TableHasher(t.schema)
    for batch in t.to_batches(max_chunksize=333_333):
        hasher.update(batch)
    assert hasher.hexdigest() == expected


def test_hexdigest_can_be_called_midway() -> None:
    t = _table()
    hasher = TableHasher(t.schema)
    hasher.update(t.slice(0, 3))
    assert hasher.hexdigest() == hash_arrow(t.slice(0, 3))
    hasher.update(t.slice(3))
    assert hasher.hexdigest() == hash_arrow(t)


def _plain_tables() -> dict[str, pa.Table]:
    """Tables whose columns a table hashed whole serializes in one pass, and their neighbours
    that it leaves to nodes (nulls, NaN, long strings, bools, other types, several chunks)."""
    n = 80
    ints = {
        f"{p}int{b}": pa.array(range(n), getattr(pa, f"{p}int{b}")())
        for p in ("", "u")
        for b in (8, 16, 32, 64)
    }
    floats = {
        "f64": pa.array([i / 3 for i in range(n - 2)] + [-0.0, 1e300], pa.float64()),
        "f32": pa.array([i / 7 for i in range(n)], pa.float32()),
        "f16": pa.array(np.arange(n, dtype=np.float16)),
    }
    texts = {
        "s": pa.array([str(i) * (i % 4) for i in range(n)]),
        "ls": pa.array([f"é{i}" for i in range(n)], pa.large_string()),
        "bin": pa.array([bytes([i]) * (i % 3) for i in range(n)], pa.binary()),
    }
    plain = pa.table({**ints, **floats, **texts})
    return {
        "plain": plain,
        "sliced": plain.slice(5, 60),
        "short": plain.slice(70, 3),
        "one row": plain.slice(11, 1),
        "empty": plain.slice(0, 0),
        "chunked": pa.concat_tables([plain.slice(0, 30), plain.slice(30)]),
        "nulls": pa.table({"i": pa.array([1, None, 3] * 4), "s": pa.array(["a", None] * 6)}),
        "nan": pa.table({"f": pa.array([1.0, float("nan")] * 20), "g": [0.5] * 40}),
        "nan, long": pa.table({"f": pa.array([1.0] * 99 + [float("nan")])}),
        "mixed": pa.table(
            {
                "i": pa.array(range(6)),
                "b": pa.array([True, False] * 3),
                "ts": pa.array(range(6), pa.timestamp("us")),
                "d": pa.array(["x", "y"] * 3).dictionary_encode(),
                "l": pa.array([[1], [], [2, 3]] * 2),
            }
        ),
    }


@pytest.mark.parametrize("name", list(_plain_tables()))
def test_a_table_hashed_whole_equals_the_same_rows_streamed(name: str) -> None:
    """The one-pass serialization of a table fed whole gives the bytes the nodes give when
    the same rows arrive in batches (over many types, slices, several chunks, nulls, NaN)."""
    t = _plain_tables()[name]
    whole = TableHasher(t.schema)
    whole.update(t)
    for k in (1, 2, 7):
        streamed = TableHasher(t.schema)
        for batch in t.to_batches(max_chunksize=k):
            streamed.update(batch)
        assert streamed.rows == whole.rows == t.num_rows
        assert streamed.hexdigest() == whole.hexdigest(), k
    for batch in t.to_batches():  # a record batch fed whole
        one = TableHasher(t.schema)
        one.update(batch)
        assert one.hexdigest() == hash_arrow(pa.Table.from_batches([batch]))


def test_plain_tables_keep_their_digests() -> None:
    """Digests computed before tables fed whole were hashed in one pass: unchanged."""
    tables = {
        "91d966e50b14224afed89bff88e43988": pa.table(
            {"v": pa.array(range(10), pa.int64()), "w": pa.array(range(10), pa.uint8())}
        ),
        "bab774d6ac77e20e85592b726c105b67": pa.table(
            {
                "f": pa.array([1.5, -0.0, 0.0, 1e300], pa.float64()),
                "g": pa.array([0.5, 2.0, -1.0, 3.0], pa.float32()),
            }
        ),
        "e8a4fdbd807c9de895da82b684c486ed": pa.table(
            {"s": ["a", "", "ccc", "é"], "b": pa.array([b"x", b"", b"yz", b"\0"], pa.binary())}
        ),
        "6ee00d53d3ee05d1ea0837422ac3d573": pa.table(
            {"v": pa.array(range(100), pa.int32()), "s": [str(i) for i in range(100)]}
        ).slice(37, 20),
    }
    for digest, t in tables.items():
        assert hash_arrow(t) == digest


def test_a_held_table_is_streamed_when_more_rows_follow() -> None:
    t = _plain_tables()["plain"]
    hasher = TableHasher(t.schema)
    hasher.update(t.slice(0, 40))
    assert hasher.hexdigest() == hash_arrow(t.slice(0, 40))
    hasher.update(t.slice(40))
    assert hasher.hexdigest() == hash_arrow(t)


def test_update_rejects_another_schema() -> None:
    hasher = TableHasher(pa.schema([("a", pa.int64())]))
    with pytest.raises(ValueError, match="cannot hash rows with schema"):
        hasher.update(pa.table({"a": pa.array([1.0])}))


def test_every_kind_of_change_changes_the_hash() -> None:
    base = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    h = hash_arrow(base)
    changed = [
        pa.table({"a": [1, 2, 4], "b": ["x", "y", "z"]}),  # one value
        pa.table({"a": [1, 2, 3], "b": ["x", "y", "zz"]}),  # one string
        pa.table({"A": [1, 2, 3], "b": ["x", "y", "z"]}),  # rename
        pa.table({"a": pa.array([1, 2, 3], pa.int32()), "b": ["x", "y", "z"]}),  # type
        pa.table({"a": [1, 3, 2], "b": ["x", "z", "y"]}),  # row order
        pa.table({"b": ["x", "y", "z"], "a": [1, 2, 3]}),  # column order
        pa.table({"a": [1, 2], "b": ["x", "y"]}),  # fewer rows
        pa.table({"a": [1, 2, 3], "b": ["xy", "", "z"]}),  # same bytes, other split
    ]
    digests = [hash_arrow(t) for t in changed]
    assert h not in digests
    assert len(set(digests)) == len(digests)


def test_nulls_differ_from_zeros_and_empties() -> None:
    assert hash_arrow(pa.table({"a": [0, 1]})) != hash_arrow(pa.table({"a": [None, 1]}))
    assert hash_arrow(pa.table({"s": ["", "a"]})) != hash_arrow(pa.table({"s": [None, "a"]}))
    assert hash_arrow(pa.table({"b": [False]})) != hash_arrow(
        pa.table({"b": pa.array([None], pa.bool_())})
    )
    assert hash_arrow(pa.table({"l": [[]]})) != hash_arrow(
        pa.table({"l": pa.array([None], pa.list_(pa.int64()))})
    )


def test_null_slots_are_canonical() -> None:
    """Whatever bytes sit under a null, the hash is the same."""
    values = pa.array([7, 8, 9], pa.int64())
    mask = pa.array([False, True, False])
    a = pc.if_else(mask, pa.scalar(None, pa.int64()), values)
    bufs = a.buffers()
    garbage = pa.Array.from_buffers(
        pa.int64(), 3, [bufs[0], pa.py_buffer(np.array([7, 12345, 9]).tobytes())], 1
    )
    assert hash_arrow(pa.table({"a": a})) == hash_arrow(pa.table({"a": garbage}))
    s = pa.array(["a", "bb", "c"])
    sb = s.buffers()
    s_garbage = pa.Array.from_buffers(pa.string(), 3, [a.buffers()[0], sb[1], sb[2]], 1)
    assert hash_arrow(pa.table({"s": s_garbage})) == hash_arrow(
        pa.table({"s": pa.array(["a", None, "c"])})
    )


def test_nan_is_canonical_and_negative_zero_kept() -> None:
    bits = np.array([0x7FF8000000000000, 0xFFF8000000000001, 0x7FF0000000000001], np.uint64)
    nans = pa.array(bits.view(np.float64))
    assert hash_arrow(pa.table({"f": nans})) == hash_arrow(pa.table({"f": [float("nan")] * 3}))
    assert hash_arrow(pa.table({"f": [0.0]})) != hash_arrow(pa.table({"f": [-0.0]}))


def test_physical_variants_hash_alike() -> None:
    s = ["a", None, "ccc"]
    assert hash_arrow(pa.table({"s": pa.array(s, pa.string())})) == hash_arrow(
        pa.table({"s": pa.array(s, pa.large_string())})
    )
    assert hash_arrow(pa.table({"s": pa.array(s, pa.string())})) == hash_arrow(
        pa.table({"s": pa.array(s, pa.string_view())})
    )
    assert hash_arrow(pa.table({"s": pa.array(s).dictionary_encode()})) == hash_arrow(
        pa.table({"s": pa.array(s)})
    )
    assert hash_arrow(pa.table({"b": pa.array([b"x"], pa.binary())})) == hash_arrow(
        pa.table({"b": pa.array([b"x"], pa.large_binary())})
    )
    lists = [[1], None, [2, 3]]
    plain = hash_arrow(pa.table({"l": pa.array(lists, pa.list_(pa.int64()))}))
    assert plain == hash_arrow(pa.table({"l": pa.array(lists, pa.large_list(pa.int64()))}))
    assert plain == hash_arrow(pa.table({"l": pa.array(lists, pa.list_view(pa.int64()))}))
    named = pa.list_(pa.field("element", pa.int64()))
    assert plain == hash_arrow(pa.table({"l": pa.array(lists, named)}))


def test_nested_columns() -> None:
    t = pa.table(
        {
            "ll": pa.array([[[1], []], None, [[2, 3]]], pa.list_(pa.list_(pa.int64()))),
            "ls": pa.array([[{"a": 1}], [], [{"a": None}, None]]),
            "m": pa.array(
                [[("k", 1)], None, [("a", 2), ("b", 3)]], pa.map_(pa.string(), pa.int64())
            ),
            "fl": pa.array([[1, 2], None, [3, 4]], pa.list_(pa.int64(), 2)),
        }
    )
    schema = dict(canonical_schema(t.schema))
    assert schema == {
        "ll": "list<list<int64>>",
        "ls": 'list<struct<"a":int64>>',
        "m": "map<string,int64>",
        "fl": "list<int64>[2]",
    }
    expected = hash_arrow(t)
    for k in (1, 2):
        assert hash_arrow(pa.concat_tables([t.slice(i, k) for i in range(0, 3, k)])) == expected
    other = t.set_column(
        0, "ll", pa.array([[[1], []], None, [[2], [3]]], pa.list_(pa.list_(pa.int64())))
    )
    assert hash_arrow(other) != expected


def test_list_children_under_null_lists_are_ignored() -> None:
    values = pa.array([1, 2, 99, 3])
    offsets = pa.array([0, 2, 3, 4], pa.int32())
    with_hidden = pa.ListArray.from_arrays(offsets, values, mask=pa.array([False, True, False]))
    clean = pa.array([[1, 2], None, [3]], pa.list_(pa.int64()))
    assert hash_arrow(pa.table({"l": with_hidden})) == hash_arrow(pa.table({"l": clean}))


def test_temporal_and_decimal_types() -> None:
    t = pa.table(
        {
            "d": pa.array([dt.date(2024, 1, 2), None]),
            "ts": pa.array([dt.datetime(2024, 1, 2, 3), None], pa.timestamp("us", tz="UTC")),
            "t": pa.array([dt.time(1, 2), None], pa.time64("us")),
            "du": pa.array([dt.timedelta(seconds=3), None], pa.duration("s")),
            "dec": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2)),
            "fb": pa.array([b"ab", None], pa.binary(2)),
        }
    )
    assert canonical_schema(t.schema) == (
        ("d", "date[day]"),
        ("ts", "timestamp[us, tz=UTC]"),
        ("t", "time[us]"),
        ("du", "duration[s]"),
        ("dec", "decimal128(5,2)"),
        ("fb", "fixed_binary[2]"),
    )
    assert hash_arrow(t) == hash_arrow(pa.concat_tables([t.slice(0, 1), t.slice(1)]))
    naive = t.set_column(1, "ts", pa.array([dt.datetime(2024, 1, 2, 3), None], pa.timestamp("us")))
    assert hash_arrow(naive) != hash_arrow(t)


def test_empty_tables() -> None:
    empty = pa.table({"a": pa.array([], pa.int64())})
    assert hash_arrow(empty) == hash_arrow(pa.table({"a": pa.array([1], pa.int64())}).slice(1))
    assert hash_arrow(empty) != hash_arrow(pa.table({"b": pa.array([], pa.int64())}))
    assert hash_arrow(pa.table({})) == hash_arrow(pa.table({}))
    hasher = TableHasher(empty.schema)
    assert hasher.hexdigest() == hash_arrow(empty)


def test_null_type_column() -> None:
    t = pa.table({"n": pa.nulls(3)})
    assert canonical_schema(t.schema) == (("n", "null"),)
    assert hash_arrow(t) != hash_arrow(pa.table({"n": pa.nulls(2)}))


def test_unsupported_type() -> None:
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
    )
    with pytest.raises(IOManagerError, match="cannot compute a data version of a column"):
        hash_arrow(pa.table({"u": union}))


# --------------------------------------------------------------------------- pandas


def _frames() -> dict[str, pd.DataFrame]:
    n = 6
    return {
        "int": pd.DataFrame({"a": np.arange(n), "b": np.arange(n, dtype=np.int8)}),
        "uint": pd.DataFrame({"a": np.arange(n, dtype=np.uint32)}),
        "float_nan": pd.DataFrame({"f": [1.0, np.nan, -0.0, 2.5, np.nan, 0.0]}),
        "float32": pd.DataFrame({"f": np.array([1.0, np.nan, 3, 4, 5, 6], np.float32)}),
        "str": pd.DataFrame({"s": ["a", None, "ccc", "", "é", "x"]}),
        "bool": pd.DataFrame({"b": [True, False, True, True, False, False]}),
        "datetime": pd.DataFrame({"t": pd.to_datetime(["2024-01-01", None] * 3)}),
        "datetime_ns": pd.DataFrame(
            {"t": pd.date_range("2024-01-01", periods=n, freq="h", unit="ns")}
        ),
        "datetime_tz": pd.DataFrame(
            {"t": pd.date_range("2024-01-01", periods=n, tz="Europe/Paris")}
        ),
        "categorical": pd.DataFrame({"c": pd.Categorical(["x", "y", None, "x", "y", "x"])}),
        "nullable_int": pd.DataFrame({"a": pd.array([1, None, 3, 4, None, 6], "Int64")}),
        "decimal": pd.DataFrame({"d": [decimal.Decimal("1.10"), None] * 3}),
        "object_str": pd.DataFrame({"s": pd.Series(["a", "b", None] * 2, dtype=object)}),
        "arrow_dtype": pd.DataFrame({"a": pd.array([1, None, 3] * 2, "int64[pyarrow]")}),
        "named_index": pd.DataFrame({"a": range(n)}, index=pd.Index(list("abcdef"), name="k")),
        "filtered": pd.DataFrame({"a": range(n), "s": list("abcdef")}).iloc[[5, 1, 3]],
        "mixed": pd.DataFrame(
            {"i": range(n), "f": np.linspace(0, 1, n), "s": list("abcdef"), "j": range(n)}
        ),
        "from_2d": pd.DataFrame(np.arange(12).reshape(6, 2), columns=["x", "y"]),
        "empty": pd.DataFrame({"a": pd.Series([], dtype="int64")}),
        "int_names": pd.DataFrame({0: [1, 2], 1: [3, 4]}),
        "big": pd.DataFrame(
            {
                "i": np.arange(20_000),
                "f": np.where(np.arange(20_000) % 7 == 0, np.nan, np.arange(20_000) / 3),
                "b": np.arange(20_000) % 3 == 0,
                "s": [None if i % 11 == 0 else f"v{i}" for i in range(20_000)],
                "t": pd.date_range("2024-01-01", periods=20_000, freq="s"),
            }
        ),
        "multiindex": pd.DataFrame(
            {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
        ),
    }


@pytest.mark.parametrize("name", sorted(_frames()))
def test_hash_pandas_equals_hash_arrow(name: str) -> None:
    df = _frames()[name]
    expected = hash_arrow(to_arrow(df))
    assert hash_pandas(df) == expected
    dv = data_version(df)
    assert dv.version == expected
    assert dv.rows == len(df)
    assert dv.schema == canonical_schema(to_arrow(df).schema)


def test_hash_pandas_fast_path_is_taken_for_common_frames() -> None:
    names = ("int", "float_nan", "str", "bool", "mixed", "from_2d", "filtered", "datetime", "big")
    for name in names:
        assert _pandas_fast(_frames()[name]) is not None, name
    assert _pandas_fast(_frames()["named_index"]) is None


def test_pandas_positional_index_is_not_part_of_the_hash() -> None:
    df = pd.DataFrame({"a": [1, 2]})
    assert hash_pandas(df) == hash_pandas(df.set_axis([10, 20]))


# --------------------------------------------------------------------------- dispatch


def test_data_version_kinds() -> None:
    import duckdb

    t = pa.table({"a": [1, 2, 3], "s": ["x", "y", "z"]})
    dv = data_version(t)
    assert isinstance(dv, DataVersion)
    assert (dv.rows, dv.schema) == (3, (("a", "int64"), ("s", "string")))
    assert dv.nbytes and dv.nbytes > 0
    assert data_version(t.to_batches()[0]).version == dv.version
    con = duckdb.connect()
    try:
        rel = con.sql("select * from range(1, 4) r(a), (select 'x' as s) order by a")
        rel_dv = data_version(rel)
        assert rel_dv.version == hash_arrow(rel.to_arrow_table())
        assert rel_dv.rows == 3
    finally:
        con.close()


def test_data_version_unsupported() -> None:
    with pytest.raises(IOManagerError) as err:
        data_version([1, 2])
    assert str(err.value) == (
        "cannot compute a data version of a value of type list; "
        "use a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )
    with pytest.raises(IOManagerError) as err:
        data_version({"a": 1}, asset="orders", manager="parquet")
    assert str(err.value) == (
        "orders: the parquet IO manager cannot store a value of type dict; "
        "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )


def test_file_digest(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    data = bytes(range(256)) * 10_000  # spans several 1 MiB chunks
    p.write_bytes(data)
    assert file_digest(p) == hashlib.sha256(data).hexdigest()
    (tmp_path / "e").write_bytes(b"")
    assert file_digest(tmp_path / "e") == hashlib.sha256(b"").hexdigest()


def test_hashers_of_one_schema_after_another_each_hash_their_own_shape() -> None:
    # a hasher made for the schema of the hasher before it reuses that one's canonical
    # schema; each must still hash as a fresh one does, whatever the order
    ints = pa.table({"a": [1, 2]})
    same = pa.table({"a": [3, 4]})
    text = pa.table({"a": ["1", "2"]})
    for table in (ints, same, text, ints, text, text):
        hasher = TableHasher(table.schema)
        hasher.update(table.slice(0, 1))
        hasher.update(table.slice(1))  # streamed: the nodes are made for this hasher
        assert hasher.hexdigest() == hash_arrow(table)
        whole = TableHasher(table.schema)
        whole.update(table)
        assert whole.hexdigest() == hash_arrow(table)
        assert whole.schema == canonical_schema(table.schema)
