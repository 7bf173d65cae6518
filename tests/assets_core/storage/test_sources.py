"""Sources: file expansion, observed versions with the size+mtime fast path, and loading;
CSV read alike for every kind of consumer, with its reader options counted in its version."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_core import CsvOptions
from assets_core.errors import IOManagerError, ProjectError
from assets_core.model.decorator import source
from assets_core.model.spec import SourceAsset
from assets_core.storage.datahash import canonical_schema
from assets_core.storage.sources import (
    describe_change,
    load_source,
    observe_source,
    scan_sql,
    source_files,
)
from assets_core.storage.state import FileObservation
from tests.conftest import ProjectDir

OLD = 1_600_000_000_000_000_000  # an mtime well outside the racy window


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(OLD, OLD))
    return path


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def test_source_files_plain_and_glob(tmp_path: Path) -> None:
    _write(tmp_path / "data" / "b.csv", "x\n2\n")
    _write(tmp_path / "data" / "a.csv", "x\n1\n")
    assert source_files(source("one", path="data/a.csv"), tmp_path) == [tmp_path / "data/a.csv"]
    assert source_files(source("many", path="data/*.csv"), tmp_path) == [
        tmp_path / "data/a.csv",
        tmp_path / "data/b.csv",
    ]
    absolute = source("abs", path=str(tmp_path / "data" / "*.csv"))
    assert len(source_files(absolute, Path("/nonexistent"))) == 2


def test_source_files_errors(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as err:
        source_files(source("raw", path="data/*.csv"), tmp_path)
    assert str(err.value) == (
        f"source raw: no file matches 'data/*.csv' (looked in {tmp_path}); create it or fix path=."
    )
    with pytest.raises(ProjectError) as err:
        source_files(source("raw", path="data/orders.csv"), tmp_path)
    assert str(err.value) == (
        f"source raw: file 'data/orders.csv' not found (looked in {tmp_path}); "
        "create it or fix path=."
    )


def test_file_version_is_the_content_hash(tmp_path: Path) -> None:
    p = _write(tmp_path / "orders.csv", "x\n1\n")
    src = source("orders", path="orders.csv")
    version, fresh = observe_source(src, tmp_path, {})
    assert version == hashlib.sha256(b"x\n1\n").hexdigest()
    assert fresh == [FileObservation(str(p), 4, OLD, p.stat().st_ctime_ns, version)]


def test_fast_path_uses_the_cached_digest(tmp_path: Path) -> None:
    p = _write(tmp_path / "orders.csv", "x\n1\n")
    src = source("orders", path="orders.csv")
    ctime = p.stat().st_ctime_ns
    cache = {str(p): FileObservation(str(p), 4, OLD, ctime, "fake-digest")}
    assert observe_source(src, tmp_path, cache) == ("fake-digest", [])
    stale = {str(p): FileObservation(str(p), 4, OLD + 1, ctime, "fake-digest")}
    version, fresh = observe_source(src, tmp_path, stale)
    assert version != "fake-digest"
    assert [f.digest for f in fresh] == [version]


def test_an_edit_that_restores_size_and_mtime_is_seen(tmp_path: Path) -> None:
    """``cp -p`` or ``rsync -t`` bring new bytes with the old size and mtime; the ctime moves."""
    p = _write(tmp_path / "orders.csv", "x\n1\n")
    src = source("orders", path="orders.csv")
    v1, fresh = observe_source(src, tmp_path, {})
    cache = {f.path: f for f in fresh}
    assert observe_source(src, tmp_path, cache) == (v1, [])
    st = p.stat()
    p.write_text("x\n2\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (p.stat().st_size, p.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    v2, _ = observe_source(src, tmp_path, cache)
    assert v2 == hashlib.sha256(b"x\n2\n").hexdigest() != v1


def test_changed_bytes_change_the_version_and_identical_rewrite_keeps_it(tmp_path: Path) -> None:
    p = _write(tmp_path / "orders.csv", "x\n1\n")
    src = source("orders", path="orders.csv")
    v1, _ = observe_source(src, tmp_path, {})
    p.write_text("x\n1\n")  # same bytes, new mtime
    v2, fresh = observe_source(src, tmp_path, {})
    assert v2 == v1
    assert fresh == []  # just written: inside the racy window, not cached
    p.write_text("x\n2\n")
    v3, _ = observe_source(src, tmp_path, {})
    assert v3 != v1


def test_glob_version(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "a.csv", "x\n1\n")
    _write(tmp_path / "d" / "b.csv", "x\n2\n")
    src = source("parts", path="d/*.csv")
    v1, fresh = observe_source(src, tmp_path, {})
    assert len(fresh) == 2
    cache = {f.path: f for f in fresh}
    assert observe_source(src, tmp_path, cache) == (v1, [])
    _write(tmp_path / "d" / "c.csv", "x\n3\n")
    v2, fresh = observe_source(src, tmp_path, cache)
    assert v2 != v1
    assert [Path(f.path).name for f in fresh] == ["c.csv"]
    (tmp_path / "d" / "c.csv").unlink()
    (tmp_path / "d" / "b.csv").rename(tmp_path / "d" / "z.csv")
    v3, _ = observe_source(src, tmp_path, {})
    assert v3 not in (v1, v2)  # a rename changes the version
    (tmp_path / "d" / "z.csv").unlink()
    _write(tmp_path / "d" / "a.csv", "x\n1\n")
    _write(tmp_path / "d" / "b.csv", "x\n2\n")
    assert observe_source(src, tmp_path, {})[0] == v1


def test_observe_function_sources() -> None:
    assert observe_source(source("api", observe=lambda: 42), Path(), {}) == ("42", [])

    def broken() -> str:
        raise RuntimeError("timeout")

    with pytest.raises(ProjectError) as err:
        observe_source(source("api", observe=broken), Path(), {})
    assert str(err.value) == "source api: observe function raised RuntimeError: timeout"
    with pytest.raises(ProjectError) as err:
        observe_source(source("api", observe=lambda: None), Path(), {})
    assert str(err.value) == (
        "source api: observe function returned None; return a version string "
        "(for example a timestamp, an ETag or a row count) that changes when the data does."
    )


def _files(tmp_path: Path) -> dict[str, str]:
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]
    (tmp_path / "csv").mkdir()
    _write(tmp_path / "csv" / "p1.csv", "id,name\n1,a\n2,b\n")
    _write(tmp_path / "csv" / "p2.csv", "id,name\n3,c\n")
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:2]), tmp_path / "pq" / "p1.parquet")
    pq.write_table(pa.Table.from_pylist(rows[2:]), tmp_path / "pq" / "p2.parquet")
    _write(
        tmp_path / "p.jsonl", "".join(f'{{"id": {r["id"]}, "name": "{r["name"]}"}}\n' for r in rows)
    )
    return {"csv": "csv/*.csv", "parquet": "pq/*.parquet", "json": "p.jsonl"}


EXPECTED = {"id": [1, 2, 3], "name": ["a", "b", "c"]}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_load_into_each_kind(tmp_path: Path, fmt: str, con: duckdb.DuckDBPyConnection) -> None:
    src = source("s", path=_files(tmp_path)[fmt], format=fmt)  # type: ignore[arg-type]
    df = load_source(src, tmp_path, None, lambda: con)
    assert isinstance(df, pd.DataFrame)
    assert df.to_dict("list") == EXPECTED
    t = load_source(src, tmp_path, pa.Table, lambda: con)
    assert isinstance(t, pa.Table)
    assert t.to_pydict() == EXPECTED
    rel = load_source(src, tmp_path, duckdb.DuckDBPyRelation, lambda: con)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert sorted(rel.fetchall()) == [(1, "a"), (2, "b"), (3, "c")]


def test_duckdb_scans_in_place(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    src = source("s", path=_files(tmp_path)["parquet"])
    rel = load_source(src, tmp_path, "duckdb.DuckDBPyRelation", lambda: con)
    plan = rel.explain()  # type: ignore[attr-defined]
    assert "PARQUET_SCAN" in plan.upper() or "READ_PARQUET" in plan.upper()


def test_a_view_of_the_scan_reads_what_the_relation_does(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """``scan_sql`` is the query a relation input of a Parquet source reads: a view made from
    it at once has its columns, types and rows, also in a folder DuckDB would otherwise read
    as Hive partitions; other sources have none."""
    files = _files(tmp_path)
    hive = tmp_path / "region=eu"
    hive.mkdir()
    pq.write_table(pa.Table.from_pylist([{"id": 4, "name": "d"}]), hive / "p.parquet")
    for path in (files["parquet"], "region=eu/*.parquet", "*/*.parquet"):
        src = source("s", path=path)
        scan = scan_sql(src, tmp_path)
        assert scan is not None
        con.execute(f"create or replace view v as {scan}")
        rel = load_source(src, tmp_path, duckdb.DuckDBPyRelation, lambda: con)
        assert isinstance(rel, duckdb.DuckDBPyRelation)
        view = con.table("v")
        assert view.columns == rel.columns == ["id", "name"]  # no region column guessed
        assert view.types == rel.types
        assert sorted(view.fetchall()) == sorted(rel.fetchall())
    assert scan_sql(source("c", path=files["csv"]), tmp_path) is None
    assert scan_sql(source("j", path=files["json"], format="json"), tmp_path) is None
    assert scan_sql(source("api", observe=lambda: "v1"), tmp_path) is None


def test_observe_source_cannot_be_loaded(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(IOManagerError) as err:
        load_source(source("api", observe=lambda: "v1"), Path(), None, lambda: con)
    assert str(err.value) == (
        "source api has no path to read; list it in deps=[...] instead of as a parameter"
    )


# ---- CSV: one reader for every kind -----------------------------------------------------------

KINDS = [None, pa.Table, duckdb.DuckDBPyRelation]


def _as_arrow(value: object) -> pa.Table:
    if isinstance(value, pd.DataFrame):
        return pa.Table.from_pandas(value, preserve_index=False)  # as a manager stores it
    if isinstance(value, duckdb.DuckDBPyRelation):
        return value.to_arrow_table()
    assert isinstance(value, pa.Table)
    return value


def _every_kind(
    src: SourceAsset, root: Path, con: duckdb.DuckDBPyConnection
) -> list[tuple[tuple[str, str], ...]]:
    """The canonical schema each kind of consumer gets (a pandas frame as stored again)."""
    return [
        canonical_schema(_as_arrow(load_source(src, root, kind, lambda: con)).schema)
        for kind in KINDS
    ]


def test_na_in_a_number_column_reads_alike_for_every_kind(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(
        tmp_path / "events.csv",
        "id,qty,price,name,day,at,ok\n"
        "1,NA,2.5,a,2024-01-05,2024-01-05 10:00:00,true\n"
        "NA,3,,NA,2024-01-06,2024-01-06 11:30:00,\n"
        "3,4,NaN,,NA,,false\n",
    )
    src = source("events", path="events.csv")
    expected = (
        ("id", "int64"),
        ("qty", "int64"),
        ("price", "float64"),
        ("name", "string"),
        ("day", "date[day]"),
        ("at", "timestamp[us]"),
        ("ok", "bool"),
    )
    assert _every_kind(src, tmp_path, con) == [expected] * 3
    df = load_source(src, tmp_path, pd.DataFrame, lambda: con)
    assert isinstance(df, pd.DataFrame)
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        "id": "Int64",  # a missing value keeps an integer column integer
        "qty": "Int64",
        "price": "float64",
        "name": "str",
        "day": "object",  # datetime.date values, as pandas holds Arrow dates
        "at": "datetime64[us]",
        "ok": "boolean",
    }
    assert df["id"].tolist() == [1, pd.NA, 3]
    assert df["name"].isna().tolist() == [False, True, True]  # "NA" and "" are missing
    t = load_source(src, tmp_path, pa.Table, lambda: con)
    assert isinstance(t, pa.Table)
    assert t.column("day").to_pylist() == [date(2024, 1, 5), date(2024, 1, 6), None]
    assert t.column("at").to_pylist()[1] == datetime(2024, 1, 6, 11, 30)


def test_options_apply_to_every_kind(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A headerless file with another delimiter, named and typed columns, day-first dates."""
    _write(
        tmp_path / "export.txt",
        "007;05.01.2024;05/01/2024 10:30;-\n012;06.01.2024;06/01/2024 23:05;4\n",
    )
    src = source(
        "export",
        path="export.txt",
        csv=CsvOptions(
            delimiter=";",
            header=False,
            names=["code", "day", "at", "n"],
            null_values=["-"],
            types={"code": "string", "n": "int32"},
            date_format="%d.%m.%Y",
            timestamp_format="%d/%m/%Y %H:%M",
        ),
    )
    assert src.problems == ()
    expected = (
        ("code", "string"),  # not the number 7: the type says so
        ("day", "date[day]"),
        ("at", "timestamp[us]"),
        ("n", "int32"),
    )
    assert _every_kind(src, tmp_path, con) == [expected] * 3
    rel = load_source(src, tmp_path, duckdb.DuckDBPyRelation, lambda: con)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert rel.fetchall() == [
        ("007", date(2024, 1, 5), datetime(2024, 1, 5, 10, 30), None),
        ("012", date(2024, 1, 6), datetime(2024, 1, 6, 23, 5), 4),
    ]
    df = load_source(src, tmp_path, None, lambda: con)
    assert isinstance(df, pd.DataFrame)
    assert df["code"].tolist() == ["007", "012"]
    assert str(df["n"].dtype) == "Int32"


def test_no_header_without_names(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    _write(tmp_path / "raw.csv", "1,a\n2,b\n")
    src = source("raw", path="raw.csv", csv=CsvOptions(header=False))
    df = load_source(src, tmp_path, None, lambda: con)
    assert isinstance(df, pd.DataFrame)
    assert df.to_dict("list") == {"column0": [1, 2], "column1": ["a", "b"]}


def test_a_glob_reads_alike_for_every_kind(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A glob's files are read together: columns are matched by name, missing ones are null."""
    _write(tmp_path / "d" / "a.csv", "id,v\n1,NA\n")
    _write(tmp_path / "d" / "b.csv", "v,id,extra\n2.5,2,x\n")
    src = source("parts", path="d/*.csv")
    expected = (("id", "int64"), ("v", "float64"), ("extra", "string"))
    assert _every_kind(src, tmp_path, con) == [expected] * 3
    t = load_source(src, tmp_path, pa.Table, lambda: con)
    assert isinstance(t, pa.Table)
    assert t.to_pydict() == {"id": [1, 2], "v": [None, 2.5], "extra": [None, "x"]}


def test_quotes_in_paths_and_names_are_read_literally(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "it's" / "o'clock.csv", "1|x\n")
    options = CsvOptions(
        delimiter="|", header=False, names=["o'clock", "b"], types={"o'clock": "string"}
    )
    src = source("raw", path="it's/o'clock.csv", csv=options)
    for kind in KINDS:
        assert _as_arrow(load_source(src, tmp_path, kind, lambda: con)).to_pydict() == {
            "o'clock": ["1"],
            "b": ["x"],
        }


def test_a_relation_consumer_still_scans_the_csv_lazily(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    src = source("s", path=_files(tmp_path)["csv"], csv=CsvOptions(types={"id": "int32"}))
    rel = load_source(src, tmp_path, duckdb.DuckDBPyRelation, lambda: con)
    assert "READ_CSV" in rel.explain().upper()  # type: ignore[attr-defined]


def test_csv_read_errors_name_the_column_and_the_fix(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _write(tmp_path / "raw.csv", "id,v\n1,2\n2,x\n")
    path = tmp_path / "raw.csv"
    typed = source("raw", path="raw.csv", csv=CsvOptions(types={"v": "int64"}))
    with pytest.raises(IOManagerError) as err:
        load_source(typed, tmp_path, None, lambda: con)
    assert str(err.value) == (
        f"source raw: cannot read {path} as CSV: line 3, column 'v' holds 'x', which is not "
        "int64 (its type in csv=); fix the file, or the column's type in CsvOptions(types=...)."
    )
    many = "id,v\n" + "".join(f"{i},{i}\n" for i in range(30_000)) + "x,1\n"
    _write(tmp_path / "raw.csv", many)  # the types are inferred from the first rows
    with pytest.raises(IOManagerError) as err:
        load_source(source("raw", path="raw.csv"), tmp_path, pa.Table, lambda: con)
    assert str(err.value) == (
        f"source raw: cannot read {path} as CSV: line 30002, column 'id' holds 'x', which is "
        "not int64 like the rows before it; give the column its type with "
        "csv=CsvOptions(types={'id': 'string'}) (or the type it should have), or fix the file."
    )
    misnamed = source("raw", path="raw.csv", csv=CsvOptions(types={"ident": "string"}))
    for kind in KINDS:
        with pytest.raises(IOManagerError) as err:
            load_source(misnamed, tmp_path, kind, lambda: con)
        assert str(err.value) == (
            f"source raw: CsvOptions(types=...) names column 'ident', which {path} does not have "
            "(its columns: id, v); fix the column name."
        )


def test_csv_options_count_in_the_version(tmp_path: Path) -> None:
    _write(tmp_path / "raw.csv", "x;y\n1;2\n")
    digest = hashlib.sha256(b"x;y\n1;2\n").hexdigest()

    def version(csv: CsvOptions | None) -> str:
        return observe_source(source("raw", path="raw.csv", csv=csv), tmp_path, {})[0]

    # the defaults keep the bare file hash that versions recorded before options had
    assert version(None) == version(CsvOptions()) == digest
    semicolon = version(CsvOptions(delimiter=";"))
    assert semicolon.startswith(f"{digest}+csv1.") and len(semicolon) == len(digest) + 22
    assert version(CsvOptions(delimiter=";", null_values=["NA", ""])) == version(
        CsvOptions(null_values=["", "NA", "NA"], delimiter=";")
    )  # a set of markers, in any order
    assert version(CsvOptions(delimiter=";", types={"x": "int64"})) != semicolon
    parquet = source("p", path="p.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "p.parquet")
    assert "+" not in observe_source(parquet, tmp_path, {})[0]


def test_why_a_csv_source_changed() -> None:
    src = source("raw", path="raw.csv")
    other = source("raw", path="raw.csv", csv=CsvOptions(delimiter=";"))
    assert describe_change(src, "aa", "bb") == "source raw changed"
    assert (
        describe_change(other, "aa", "aa+csv1.0123") == "source raw is read with other CSV options"
    )
    assert describe_change(other, "aa+csv1.0123", "aa+csv1.4567") == (
        "source raw is read with other CSV options"
    )
    assert describe_change(other, "aa+csv1.0123", "bb+csv1.4567") == "source raw changed"
    assert describe_change(src, "aa+csv1.0123", "aa+csv2.0123") == (
        "source raw is read by a new version of Lumbung's CSV reader"
    )
    feed = source("feed", observe=lambda: "1")
    assert describe_change(feed, "2024+01", "2024+02") == "source feed changed"


def test_changed_csv_options_make_consumers_stale(project: ProjectDir) -> None:
    project.write("data.csv", "id;v\n1;NA\n2;3\n")
    body = """
        import pandas as pd
        from assets_core import CsvOptions, asset, source

        raw = source("raw", path="{dir}/data.csv", csv=CsvOptions(delimiter=";"))

        @asset
        def clean(raw: pd.DataFrame) -> pd.DataFrame:
            return raw
        """
    project.write("assets.py", body.replace("{dir}", str(project.dir)))
    with project.session() as session:
        assert session.materialize().summary().startswith("1 materialized")
        step = session.plan().step("clean")
        assert step is not None and step.status == "fresh"
    project.edit("assets.py", 'delimiter=";"', 'delimiter=";", null_values=[""]')
    with project.session() as session:
        step = session.plan().step("clean")
        assert step is not None and step.status == "stale"
        assert [(r.code, r.message) for r in step.reasons] == [
            ("source_changed", "source raw is read with other CSV options")
        ]
        assert str(session.load("clean")["v"].dtype) == "Int64"
        session.materialize()
        assert session.load("clean")["v"].tolist() == ["NA", "3"]  # "NA" is text now


def test_the_cli_stores_one_schema_for_pandas_and_relation_consumers(tmp_path: Path) -> None:
    """As a user meets it, through ``lumbung``: a pandas consumer and a DuckDB-relation consumer
    of one CSV source (NA in number columns, dates, timestamps) store the same schema, and a
    changed option makes both stale."""
    from tests.assets_core.cli.conftest import run

    root = tmp_path / "shop"
    _write(root / "lumbung.toml", 'modules = ["assets"]\nstorage = ".lumbung"\n')
    _write(
        root / "data" / "events.csv",
        "id;qty;price;day;at;ok\n"
        "1;NA;2.5;2024-01-05;2024-01-05 10:00:00;true\n"
        "NA;3;;2024-01-06;2024-01-06 11:30:00;\n",
    )
    assets = """
        import duckdb
        import pandas as pd
        from assets_core import CsvOptions, asset, source

        events = source("events", path="data/events.csv", csv=CsvOptions(delimiter=";"))

        @asset
        def by_pandas(events: pd.DataFrame) -> pd.DataFrame:
            return events

        @asset
        def by_relation(context, events: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
            return context.duckdb.sql("select * from events")
        """
    _write(root / "assets.py", textwrap.dedent(assets))
    built = run(["materialize"], root)
    assert (built.code, built.err) == (0, ""), built.out
    schemas = {}
    for key in ("by_pandas", "by_relation"):
        shown = run(["show", key, "--json"], root)
        assert shown.code == 0, shown.err
        record = json.loads(shown.out)["last_materialization"]
        schemas[key] = [(c["name"], c["type"]) for c in record["schema"]]
    assert (
        schemas["by_pandas"]
        == schemas["by_relation"]
        == [
            ("id", "int64"),
            ("qty", "int64"),
            ("price", "float64"),
            ("day", "date[day]"),
            ("at", "timestamp[us]"),
            ("ok", "bool"),
        ]
    )
    (root / "assets.py").write_text(
        textwrap.dedent(assets).replace('delimiter=";"', 'delimiter=";", types={"qty": "int32"}')
    )
    planned = run(["plan"], root)
    assert planned.code == 0, planned.err
    assert [line.split(None, 2) for line in planned.out.splitlines()[1:]] == [
        ["stale", "by_pandas", "source events is read with other CSV options"],
        ["stale", "by_relation", "source events is read with other CSV options"],
    ]
