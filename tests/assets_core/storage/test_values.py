"""Value kinds, annotations and conversions between pandas, Arrow and DuckDB."""

from __future__ import annotations

import inspect
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from assets_core.errors import IOManagerError
from assets_core.storage.values import convert, kind_of, target_of, to_arrow, unstorable_message


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        (inspect.Parameter.empty, "pandas"),
        (None, "pandas"),
        (Any, "pandas"),
        (pd.DataFrame, "pandas"),
        (pa.Table, "arrow"),
        (duckdb.DuckDBPyRelation, "duckdb"),
        ("pd.DataFrame", "pandas"),
        ("pandas.DataFrame", "pandas"),
        ("DataFrame", "pandas"),
        ("pa.Table", "arrow"),
        ("pyarrow.Table", "arrow"),
        ("duckdb.DuckDBPyRelation", "duckdb"),
        ("pl.DataFrame", "polars"),
        ("polars.DataFrame", "polars"),
    ],
)
def test_target_of(annotation: object, kind: str) -> None:
    assert target_of(annotation) == kind


@pytest.mark.parametrize("annotation", [int, "list[int]", dict, pd.Series])
def test_target_of_unsupported(annotation: object) -> None:
    with pytest.raises(IOManagerError) as err:
        target_of(annotation)
    assert str(err.value) == (
        f"unsupported annotation {annotation!r}; annotate inputs as pandas.DataFrame, "
        "pyarrow.Table, duckdb.DuckDBPyRelation or polars.DataFrame"
    )


def test_kind_of() -> None:
    t = pa.table({"a": [1]})
    assert kind_of(pd.DataFrame({"a": [1]})) == "pandas"
    assert kind_of(t) == "arrow"
    assert kind_of(t.to_batches()[0]) == "arrow"
    assert kind_of(duckdb.sql("select 1")) == "duckdb"
    assert kind_of(pd.Series([1])) is None
    assert kind_of(None) is None
    assert kind_of([1]) is None


def test_to_arrow_drops_a_positional_index_and_keeps_a_named_one() -> None:
    df = pd.DataFrame({"a": [1, 2, 3]}).iloc[[2, 0]]
    assert to_arrow(df).column_names == ["a"]
    named = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="k"))
    t = to_arrow(named)
    assert set(t.column_names) == {"a", "k"}
    back = convert(t, pd.DataFrame)
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, named)


def test_convert_between_kinds() -> None:
    df = pd.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    con = duckdb.connect()
    try:
        t = convert(df, pa.Table)
        assert isinstance(t, pa.Table)
        assert t.to_pydict() == {"a": [1, 2], "s": ["x", "y"]}
        rel = convert(t, duckdb.DuckDBPyRelation, con)
        assert isinstance(rel, duckdb.DuckDBPyRelation)
        assert rel.fetchall() == [(1, "x"), (2, "y")]
        back = convert(rel, "pd.DataFrame")
        assert isinstance(back, pd.DataFrame)
        assert back.to_dict("list") == {"a": [1, 2], "s": ["x", "y"]}
        assert convert(df, None) is df
        assert convert(t, "pa.Table") is t
        batch = t.to_batches()[0]
        assert isinstance(convert(batch, pa.Table), pa.Table)
        other = duckdb.connect()
        try:
            foreign = other.sql("select 42 as x")
            rebound = convert(foreign, duckdb.DuckDBPyRelation, con)
            other.close()
            assert rebound.fetchall() == [(42,)]  # type: ignore[attr-defined]
        finally:
            other.close()
    finally:
        con.close()


def test_convert_to_relation_needs_a_connection() -> None:
    with pytest.raises(IOManagerError, match="needs the asset's DuckDB connection"):
        convert(pa.table({"a": [1]}), duckdb.DuckDBPyRelation)


def test_unstorable_message() -> None:
    assert unstorable_message("orders", "parquet", [1]) == (
        "orders: the parquet IO manager cannot store a value of type list; "
        "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )
    assert unstorable_message("orders", "duckdb", pd.Series([1])) == (
        "orders: the duckdb IO manager cannot store a value of type pandas.Series; "
        "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )
    assert unstorable_message("orders", "memory", None) == (
        "orders returned None; return the asset's data "
        "(a pandas.DataFrame, pyarrow.Table or duckdb relation)."
    )


def _plain_frames() -> list[pd.DataFrame]:
    import numpy as np

    strings = ["a", None, "c", np.nan, "e", "f", "g", "h", "i", "j"]
    times = pd.to_datetime(["2020-01-01", None] * 5)
    wide = pd.DataFrame(np.arange(30.0).reshape(10, 3), columns=["a", "b", "c"])
    wide.iloc[2, 1] = np.nan
    mixed = pd.DataFrame(
        {
            "i8": np.arange(10, dtype="int8"),
            "u32": np.arange(10, dtype="uint32"),
            "f32": np.r_[np.nan, np.arange(9.0)].astype("float32"),
            "f64": np.r_[np.nan, np.arange(9.0)],
            "b": [True, False] * 5,
            "s": strings,
            "t_us": times,
            "t_ns": pd.Series(times).astype("datetime64[ns]"),
        }
    )
    long = pd.DataFrame({"n": range(5000), "s": [str(i) for i in range(5000)]})
    named = pd.DataFrame({"v": range(10)})
    named.columns.name = "metric"  # after a frame of the same shape without the name
    return [
        pd.DataFrame({"v": range(10)}),
        named,
        wide,  # one 2-D block: each column is a strided view of it
        mixed,
        mixed[["s", "b", "i8"]],  # columns out of their blocks' order
        pd.concat([long, long], ignore_index=True),  # strings in more than one chunk
        pd.DataFrame({"v": pd.Series([], dtype="int64"), "s": pd.Series([], dtype="str")}),
    ]


@pytest.mark.parametrize("frame", _plain_frames(), ids=lambda f: ",".join(map(str, f.dtypes)))
def test_to_arrow_of_a_plain_frame_is_from_pandas_table(frame: pd.DataFrame) -> None:
    # the shortcut for plain frames gives exactly what pyarrow gives, metadata included, for
    # the first frame of its shape and for the next (whose schema comes from the cache)
    expected = pa.Table.from_pandas(frame, preserve_index=False)
    for _ in range(2):
        got = to_arrow(frame)
        assert got.equals(expected, check_metadata=True)
        assert got.schema.metadata == expected.schema.metadata
    assert got.to_pandas().equals(frame)


def test_to_arrow_of_frames_that_are_not_plain_is_from_pandas_table() -> None:
    frames = [
        pd.DataFrame({"o": [object(), 1]}).astype({"o": "str"}),
        pd.DataFrame({"c": pd.Categorical(["x", "y"])}),
        pd.DataFrame({"t": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")}),
        pd.DataFrame({"v": [1, 2]}, index=[5, 7]),
        pd.DataFrame({1: [1, 2]}),
    ]
    frames[0].attrs["note"] = "kept in the metadata"
    for frame in frames:
        expected = pa.Table.from_pandas(frame, preserve_index=False)
        assert to_arrow(frame).equals(expected, check_metadata=True)
