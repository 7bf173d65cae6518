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
