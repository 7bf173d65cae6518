"""Sources: file expansion, observed versions with the size+mtime fast path, and loading."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_core.errors import IOManagerError, ProjectError
from assets_core.model.decorator import source
from assets_core.storage.sources import load_source, observe_source, source_files
from assets_core.storage.state import FileObservation

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


def test_observe_source_cannot_be_loaded(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(IOManagerError) as err:
        load_source(source("api", observe=lambda: "v1"), Path(), None, lambda: con)
    assert str(err.value) == (
        "source api has no path to read; list it in deps=[...] instead of as a parameter"
    )
