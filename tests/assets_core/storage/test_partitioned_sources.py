"""Loading partitioned sources (storage/partitioned_sources.py): the files of the partitions a
consumer reads, as one value of its kind, dimension columns first (text), partitions in key
order; CSV in one DuckDB read over the files; the errors, one line each."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_core import CsvOptions
from assets_core.errors import IOManagerError
from assets_core.model.decorator import source
from assets_core.model.spec import SourceAsset
from assets_core.partitions import daily, multi, static
from assets_core.storage import csv_read
from assets_core.storage.datahash import canonical_schema
from assets_core.storage.io import InputContext
from assets_core.storage.loading import load_input
from assets_core.storage.partitioned_sources import load_partitioned_source
from assets_core.storage.registry import IOManagers
from assets_core.storage.sources import load_source
from tests.conftest import ProjectDir

KINDS: list[object] = [None, pd.DataFrame, pa.Table, pl.DataFrame, duckdb.DuckDBPyRelation]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _arrow(value: object) -> pa.Table:
    if isinstance(value, pd.DataFrame):
        return pa.Table.from_pandas(value, preserve_index=False)  # as a manager stores it
    if isinstance(value, pl.DataFrame):
        return value.to_arrow()
    if isinstance(value, duckdb.DuckDBPyRelation):
        return value.to_arrow_table()
    assert isinstance(value, pa.Table)
    return value


def _load(
    src: SourceAsset,
    root: Path,
    kind: object,
    con: duckdb.DuckDBPyConnection,
    keys: Sequence[str] | None,
) -> object:
    return load_partitioned_source(src, root, kind, lambda: con, keys)


def _every_kind(
    src: SourceAsset, root: Path, con: duckdb.DuckDBPyConnection, keys: Sequence[str] | None
) -> list[pa.Table]:
    return [_arrow(_load(src, root, kind, con, keys)) for kind in KINDS]


def _agree(tables: list[pa.Table]) -> pa.Table:
    """Every kind gave the same columns, types and rows; that table."""
    schemas = {canonical_schema(t.schema) for t in tables}
    assert len(schemas) == 1, schemas
    rows = [t.to_pylist() for t in tables]
    assert all(r == rows[0] for r in rows), rows
    return tables[0]


def _daily(root: Path, **kwargs: object) -> SourceAsset:
    _write(root / "data/events/2024-01-01.csv", "id,amount,at\n1,2.5,2024-01-01 10:00:00\n2,NA,\n")
    _write(root / "data/events/2024-01-02.csv", "amount,id,at\n7,3,2024-01-02 00:00:00\n")
    _write(root / "data/events/2024-01-03.csv", "id,amount,at\n4,1.25,2024-01-03 23:59:59\n")
    return source(
        "events",
        path="data/events/{date}.csv",
        partitions=daily(start="2024-01-01"),
        **kwargs,  # type: ignore[arg-type]
    )


# ---- the shape: every kind alike, dimension columns first, key order ---------------------------


def test_daily_csv_reads_alike_for_every_kind_in_key_order(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    keys = ["2024-01-03", "2024-01-01", "2024-01-02"]  # asked out of order: read in key order
    table = _agree(_every_kind(src, tmp_path, con, keys))
    assert canonical_schema(table.schema) == (
        ("partition", "string"),
        ("id", "int64"),
        ("amount", "float64"),
        ("at", "timestamp[us]"),
    )
    assert [(r["partition"], r["id"], r["amount"]) for r in table.to_pylist()] == [
        ("2024-01-01", 1, 2.5),
        ("2024-01-01", 2, None),
        ("2024-01-02", 3, 7.0),
        ("2024-01-03", 4, 1.25),
    ]
    df = _load(src, tmp_path, None, con, ["2024-01-02"])
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["partition", "amount", "id", "at"]
    assert str(df["id"].dtype) == "int64"


def test_multi_template_has_a_column_per_dimension_in_key_order(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    for day in ("2024-01-01", "2024-01-02"):
        for region in ("us", "eu"):
            _write(tmp_path / f"data/{region}/{day}.csv", f"n\n{day[-1]}{region}\n")
    src = source(
        "sales",
        path="data/{region}/{date}.csv",
        partitions=multi(date=daily(start="2024-01-01"), region=static(["us", "eu"])),
    )
    keys = [
        "date=2024-01-02,region=eu",
        "date=2024-01-01,region=eu",
        "date=2024-01-02,region=us",
        "date=2024-01-01,region=us",
    ]
    table = _agree(_every_kind(src, tmp_path, con, keys))
    assert table.column_names == ["date", "region", "n"]
    assert table.to_pylist() == [  # by date, then region in its declared order
        {"date": "2024-01-01", "region": "us", "n": "1us"},
        {"date": "2024-01-01", "region": "eu", "n": "1eu"},
        {"date": "2024-01-02", "region": "us", "n": "2us"},
        {"date": "2024-01-02", "region": "eu", "n": "2eu"},
    ]


@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_parquet_and_json_templates_read_alike_for_every_kind(
    tmp_path: Path, fmt: str, con: duckdb.DuckDBPyConnection
) -> None:
    rows = {"2024-01-01": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "2024-01-02": [{"id": 3}]}
    for day, records in rows.items():
        path = tmp_path / f"data/{day}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            full = [{"id": r["id"], "v": r.get("v")} for r in records]
            schema = pa.schema([("id", pa.int64()), ("v", pa.string())])
            pq.write_table(pa.Table.from_pylist(full, schema), path)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
    src = source("raw", path=f"data/{{day}}.{fmt}", partitions=daily(start="2024-01-01"))
    table = _agree(_every_kind(src, tmp_path, con, ["2024-01-02", "2024-01-01"]))
    assert table.to_pylist() == [
        {"partition": "2024-01-01", "id": 1, "v": "a"},
        {"partition": "2024-01-01", "id": 2, "v": "b"},
        {"partition": "2024-01-02", "id": 3, "v": None},
    ]


def test_a_relation_scans_the_files_in_place(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    rel = _load(src, tmp_path, duckdb.DuckDBPyRelation, con, ["2024-01-01", "2024-01-02"])
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert "READ_CSV" in rel.explain().upper()  # a scan of the files, not of a copy in memory
    assert rel.filter("id = 3").aggregate("count(*)").fetchall() == [(1,)]


def test_glob_templates_read_every_file_of_a_partition(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "logs/2024-01-01/b.csv", "n\n2\n")
    _write(tmp_path / "logs/2024-01-01/a.csv", "n\n1\n")
    _write(tmp_path / "logs/2024-01-02/a.csv", "n\n3\n")
    src = source("logs", path="logs/{day}/*.csv", partitions=daily(start="2024-01-01"))
    table = _agree(_every_kind(src, tmp_path, con, ["2024-01-01", "2024-01-02"]))
    assert table.to_pydict() == {
        "partition": ["2024-01-01", "2024-01-01", "2024-01-02"],
        "n": [1, 2, 3],  # a partition's files in sorted order
    }


def test_no_partitions_is_the_dimension_columns_alone(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    for table in _every_kind(src, tmp_path, con, []):
        assert table.num_rows == 0
        assert canonical_schema(table.schema) == (("partition", "string"),)


# ---- through load_input: InputContext.partitions, None = every existing partition --------------


def test_load_input_reads_the_partitions_the_context_names(
    project: ProjectDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    _daily(project.dir)
    project.write(
        "assets.py",
        """
        from assets_core import source
        from assets_core.partitions import daily

        events = source("events", path="data/events/{date}.csv", partitions=daily(start="2024-01-01"))
        """,  # noqa: E501
    )
    defs = project.definitions()
    events = defs.sources[next(k for k in defs.sources if str(k) == "events")]
    io = IOManagers({})

    def ids(partitions: tuple[str, ...] | None) -> list[tuple[str, int]]:
        ctx = InputContext(events.key, events.spec, expected_type=pa.Table, partitions=partitions)
        table = load_input(defs, io, ctx)
        assert isinstance(table, pa.Table)
        return list(zip(table["partition"].to_pylist(), table["id"].to_pylist(), strict=True))

    assert ids(("2024-01-02",)) == [("2024-01-02", 3)]
    # None: every partition that exists now (LUMBUNG_NOW) and whose file is there
    monkeypatch.setenv("LUMBUNG_NOW", "2024-01-03")
    assert ids(None) == [("2024-01-01", 1), ("2024-01-01", 2), ("2024-01-02", 3)]
    monkeypatch.setenv("LUMBUNG_NOW", "2024-01-10")
    assert [p for p, _ in ids(None)][-1] == "2024-01-03"  # 01-04.. have no file: not read


def test_load_source_refuses_a_partitioned_source(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(IOManagerError) as err:
        load_source(_daily(tmp_path), tmp_path, None, lambda: con)
    assert str(err.value) == (
        "source events is partitioned; load it through loading.load_input, which reads the "
        "partitions InputContext.partitions names (partitioned_sources)."
    )


# ---- CSV: one read, one inference, the source's options -----------------------------------------


def test_csv_options_apply_to_every_partition(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "d/2024-01-01.txt", "id;code;day\n1;007;05/01/2024\n")
    _write(tmp_path / "d/2024-01-02.txt", "id;code;day\n-;010;06/01/2024\n")
    options = CsvOptions(
        delimiter=";", null_values=["-"], types={"code": "string"}, date_format="%d/%m/%Y"
    )
    src = source("d", path="d/{day}.txt", csv=options, partitions=daily(start="2024-01-01"))
    table = _agree(_every_kind(src, tmp_path, con, ["2024-01-01", "2024-01-02"]))
    assert canonical_schema(table.schema) == (
        ("partition", "string"),
        ("id", "int64"),
        ("code", "string"),
        ("day", "date[day]"),
    )
    assert table.column("code").to_pylist() == ["007", "010"]
    assert table.column("id").to_pylist() == [1, None]


def test_types_are_inferred_over_the_files_read_together_unless_pinned(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "d/2024-01-01.csv", "id,ref\n1,10\n")
    _write(tmp_path / "d/2024-01-02.csv", "id,ref\n2,x-20\n")
    inferred = source("d", path="d/{day}.csv", partitions=daily(start="2024-01-01"))

    def ref_type(src: SourceAsset, keys: list[str]) -> set[str]:
        tables = _every_kind(src, tmp_path, con, keys)
        return {dict(canonical_schema(t.schema))["ref"] for t in tables}

    assert ref_type(inferred, ["2024-01-01"]) == {"int64"}  # the day alone holds numbers
    assert ref_type(inferred, ["2024-01-01", "2024-01-02"]) == {"string"}  # read with text
    pinned = source(
        "d",
        path="d/{day}.csv",
        partitions=daily(start="2024-01-01"),
        csv=CsvOptions(types={"ref": "string"}),
    )
    assert ref_type(pinned, ["2024-01-01"]) == {"string"}
    assert ref_type(pinned, ["2024-01-01", "2024-01-02"]) == {"string"}


def test_365_daily_files_are_one_duckdb_read(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = daily(start="2024-01-01", end="2024-12-31")
    keys = definition.keys(pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime())
    assert len(keys) == 365
    body = "id,amount\n" + "".join(f"{i},{i / 4}\n" for i in range(1000))
    for key in keys:
        _write(tmp_path / f"ev/{key}.csv", body)
    src = source("ev", path="ev/{date}.csv", partitions=definition)
    reads: list[list[str]] = []
    real = csv_read.read_csv_sql

    def counted(options: CsvOptions | None, files: Sequence[str], *args: str | None) -> str:
        reads.append(list(files))
        return real(options, files, *args)

    monkeypatch.setattr(csv_read, "read_csv_sql", counted)
    for kind in (pa.Table, duckdb.DuckDBPyRelation):
        reads.clear()
        table = _arrow(_load(src, tmp_path, kind, con, list(reversed(keys))))
        assert len(reads) == 1  # one read_csv over every file, not one per partition
        assert reads[0] == [str(tmp_path / f"ev/{key}.csv") for key in keys]
        assert table.num_rows == 365_000
        assert table.column("partition").to_pylist()[::1000] == keys
        assert table.column("id").to_pylist()[:3] == [0, 1, 2]


# ---- errors, one line each ----------------------------------------------------------------------


def test_a_missing_partition_file_names_the_partition_and_the_fix(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, pa.Table, con, ["2024-01-01", "2024-01-05"])
    assert str(err.value) == (
        f"events[2024-01-05]: data/events/2024-01-05.csv does not exist (looked in {tmp_path}); "
        "create it, or fix the source's path= template."
    )
    glob = source("logs", path="logs/{day}/*.csv", partitions=daily(start="2024-01-01"))
    with pytest.raises(IOManagerError) as err:
        _load(glob, tmp_path, duckdb.DuckDBPyRelation, con, ["2024-01-05"])
    assert str(err.value) == (
        f"logs[2024-01-05]: no file matches logs/2024-01-05/*.csv (looked in {tmp_path}); "
        "create it, or fix the source's path= template."
    )


def test_a_bad_value_in_a_csv_partition_names_the_partition_and_the_line(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path, csv=CsvOptions(types={"id": "int64"}))
    _write(tmp_path / "data/events/2024-01-02.csv", "id,amount,at\n3,1,\nthree,2,\n")
    bad = tmp_path / "data/events/2024-01-02.csv"
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, pa.Table, con, ["2024-01-01", "2024-01-02", "2024-01-03"])
    assert str(err.value) == (
        f"events[2024-01-02]: cannot read {bad} as CSV: line 3, column 'id' holds 'three', "
        "which is not int64 (its type in csv=); fix the file, or the column's type in "
        "CsvOptions(types=...)."
    )
    # a relation is a lazy scan: such a value fails the consumer's query, as DuckDB says
    rel = _load(src, tmp_path, duckdb.DuckDBPyRelation, con, ["2024-01-01", "2024-01-02"])
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    with pytest.raises(duckdb.ConversionException):
        rel.to_arrow_table()


@pytest.mark.parametrize("kind", [pa.Table, duckdb.DuckDBPyRelation])
def test_an_unreadable_csv_partition_is_named(
    tmp_path: Path, kind: object, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    bad = tmp_path / "data/events/2024-01-02.csv"
    bad.write_bytes(b"id,amount,at\n\xff\xfe\x00,1,\n")
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, kind, con, ["2024-01-01", "2024-01-02"])
    assert str(err.value).startswith(f"events[2024-01-02]: cannot read {bad} as CSV (")
    assert str(err.value).endswith(
        "); fix the file, or say how to read it with csv=CsvOptions(delimiter=..., header=..., "
        "types=...)."
    )
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", [pa.Table, duckdb.DuckDBPyRelation])
def test_a_corrupt_parquet_partition_is_named(
    tmp_path: Path, kind: object, con: duckdb.DuckDBPyConnection
) -> None:
    (tmp_path / "p").mkdir()
    pq.write_table(pa.table({"n": [1]}), tmp_path / "p/2024-01-01.parquet")
    (tmp_path / "p/2024-01-02.parquet").write_bytes(b"PAR1 not really")
    src = source("p", path="p/{day}.parquet", partitions=daily(start="2024-01-01"))
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, kind, con, ["2024-01-01", "2024-01-02"])
    assert str(err.value) == (
        f"p[2024-01-02]: cannot read {tmp_path / 'p/2024-01-02.parquet'} as parquet (truncated "
        "or not Parquet); fix the file, or pass format= if it is not parquet."
    )


@pytest.mark.parametrize("kind", KINDS)
def test_partitions_with_other_columns_are_refused(
    tmp_path: Path, kind: object, con: duckdb.DuckDBPyConnection
) -> None:
    src = _daily(tmp_path)
    _write(tmp_path / "data/events/2024-01-03.csv", "id,total,at\n4,1.25,\n")
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, kind, con, ["2024-01-01", "2024-01-02", "2024-01-03"])
    assert str(err.value) == (
        f"events[2024-01-03]: {tmp_path}/data/events/2024-01-03.csv has other columns than "
        f"{tmp_path}/data/events/2024-01-01.csv of partition 2024-01-01 (column 'total' added; "
        "column 'amount' removed); make the columns of the source's files agree."
    )


@pytest.mark.parametrize("kind", [pa.Table, duckdb.DuckDBPyRelation])
def test_parquet_partitions_whose_types_do_not_combine_are_refused(
    tmp_path: Path, kind: object, con: duckdb.DuckDBPyConnection
) -> None:
    (tmp_path / "p").mkdir()
    pq.write_table(pa.table({"n": [1]}), tmp_path / "p/2024-01-01.parquet")
    pq.write_table(pa.table({"n": [{"a": 1}]}), tmp_path / "p/2024-01-02.parquet")
    src = source("p", path="p/{day}.parquet", partitions=daily(start="2024-01-01"))
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, kind, con, ["2024-01-01", "2024-01-02"])
    message = str(err.value)
    assert message.startswith(
        f"p[2024-01-02]: {tmp_path}/p/2024-01-02.parquet has columns whose types do not "
        "combine with those of partition 2024-01-01 and before ("
    )
    assert message.endswith("); make the columns of the source's files agree.")
    assert "\n" not in message


@pytest.mark.parametrize("kind", [pa.Table, duckdb.DuckDBPyRelation])
def test_a_column_named_like_a_dimension_is_refused(
    tmp_path: Path, kind: object, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "d/2024-01-01.csv", "partition,n\nx,1\n")
    src = source("d", path="d/{day}.csv", partitions=daily(start="2024-01-01"))
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, kind, con, ["2024-01-01"])
    assert str(err.value) == (
        "source d: its files have a column 'partition', the name of its partition dimension "
        "column; rename the column in the files (or with csv=CsvOptions(names=...))."
    )


def test_a_file_two_partitions_match_is_refused(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "d/eu.csv", "n\n1\n")
    _write(tmp_path / "d/eu2.csv", "n\n2\n")
    src = source("d", path="d/{region}*.csv", partitions=static(["eu", "eu2"]))
    with pytest.raises(IOManagerError) as err:
        _load(src, tmp_path, pa.Table, con, ["eu", "eu2"])
    assert str(err.value) == (
        f"source d: {tmp_path / 'd/eu2.csv'} matches the path of partitions eu and eu2; "
        "make the template 'd/{region}*.csv' tell them apart."
    )
