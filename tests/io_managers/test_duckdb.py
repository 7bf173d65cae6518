"""DuckDBIOManager specifics: naming and quoting, transactional replace, locking, threads, crashes.

What every manager shares is in ``test_contract.py``; this file covers what only the DuckDB
warehouse does.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import daily, multi, static
from assets_core.storage.datahash import canonical_schema, hash_arrow
from assets_core.storage.io import InputContext, OutputContext
from io_managers.duckdb import DuckDBIOManager, from_storage, quote_ident, quote_literal, table_for

REPO = Path(__file__).resolve().parents[2]


def out(key: str) -> OutputContext:
    k = AssetKey.parse(key)
    return OutputContext(k, AssetSpec(key=k))


def inp(key: str, expected: object = pa.Table) -> InputContext:
    k = AssetKey.parse(key)
    return InputContext(k, AssetSpec(key=k), expected_type=expected)


def load_arrow(io: DuckDBIOManager, key: str) -> pa.Table:
    value = io.load(inp(key))
    assert isinstance(value, pa.Table)
    return value


@pytest.fixture
def io(tmp_path: Path) -> Iterator[DuckDBIOManager]:
    manager = DuckDBIOManager(tmp_path / "warehouse.duckdb")
    yield manager
    manager.close()


def tables(path: Path) -> list[tuple[str, str, str | None]]:
    """``(schema, table, comment)`` of every table in the file, read by a plain connection."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(
            "select schema_name, table_name, comment from duckdb_tables() order by all"
        ).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- naming


def test_table_for() -> None:
    assert table_for(AssetKey.parse("a/b/c")) == ("a__b", "c")
    assert table_for(AssetKey.parse("a/c")) == ("a", "c")
    assert table_for(AssetKey.parse("c")) == ("main", "c")
    assert table_for(AssetKey.parse("x/a/b")) != table_for(AssetKey.parse("y/a/b"))


def test_from_storage(tmp_path: Path) -> None:
    manager = from_storage(tmp_path)
    assert manager.path == tmp_path / "warehouse.duckdb"
    stored = manager.save(out("marts/daily/revenue"), pa.table({"a": [1]}))
    manager.close()
    assert stored.location == f"{tmp_path / 'warehouse.duckdb'}::marts__daily.revenue"


def test_layout_in_the_file(io: DuckDBIOManager) -> None:
    for key in ("x/a/b", "y/a/b", "top", "x/a"):
        io.save(out(key), pa.table({"k": [key]}))
    io.close()
    assert tables(io.path) == [
        ("main", "top", "lumbung:top"),
        ("x", "a", "lumbung:x/a"),
        ("x__a", "b", "lumbung:x/a/b"),
        ("y__a", "b", "lumbung:y/a/b"),
    ]
    for key in ("x/a/b", "y/a/b", "top", "x/a"):
        assert load_arrow(io, key).column("k").to_pylist() == [key]


HOSTILE = [
    'a"b',
    '"',
    '""',
    'x"; DROP TABLE canary; --',
    "x'; DROP TABLE canary; --",
    "with space",
    "select",
    "ünï.cödé",
    "a.b",
    "--",
    "/* c */",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_quote_ident_hostile_identifiers(name: str) -> None:
    con = duckdb.connect()
    con.execute("create table canary as select 1 as x")
    ident = quote_ident(name)
    con.execute(f"create schema {ident}")
    con.execute(f"create table {ident}.{ident} as select {quote_literal(name)} as {ident}")
    assert con.execute(
        "select schema_name, table_name from duckdb_tables() where table_name <> 'canary'"
    ).fetchall() == [(name, name)]
    assert con.sql(f"select {ident} from {ident}.{ident}").fetchall() == [(name,)]
    assert con.sql("select x from canary").fetchall() == [(1,)]
    con.close()


def test_quote_helpers_exact() -> None:
    assert quote_ident("plain") == '"plain"'
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
    with pytest.raises(ValueError, match="NUL"):
        quote_ident("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        quote_literal("a\x00b")


def test_keys_mapping_to_one_table_are_refused(io: DuckDBIOManager) -> None:
    io.save(out("a/b/c"), pa.table({"v": [1]}))
    with pytest.raises(IOManagerError) as err:
        io.save(out("a__b/c"), pa.table({"v": [2]}))
    assert str(err.value) == (
        f"a__b/c: table a__b.c in {io.path} already holds asset a/b/c; rename one of the two keys."
    )
    io.save(out("x"), pa.table({"v": [3]}))
    with pytest.raises(IOManagerError, match=r"^main/x: table main\.x .* holds asset x;"):
        io.save(out("main/x"), pa.table({"v": [4]}))
    with pytest.raises(IOManagerError, match=r"^X: table main\.X .* holds asset x;"):
        io.save(out("X"), pa.table({"v": [5]}))  # DuckDB identifiers ignore case
    assert load_arrow(io, "a/b/c").column("v").to_pylist() == [1]
    assert load_arrow(io, "x").column("v").to_pylist() == [3]
    assert not io.exists(out("X"))  # x's table is not X's output
    with pytest.raises(IOManagerError, match=r"^X: no stored output at .*::main\.X; materialize"):
        io.load(inp("X"))
    io.delete(out("X"))  # nor does deleting X drop it
    assert io.exists(out("x"))


# --------------------------------------------------------------------------- values


def test_schema_change_round_trips(io: DuckDBIOManager) -> None:
    key = "s/t"
    steps = [
        pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]}),  # added
        pd.DataFrame({"b": ["x"], "c": [2.5]}),  # removed
        pd.DataFrame({"b": [1, 2], "c": ["2.5", "3"]}),  # retyped
    ]
    for df in steps:
        stored = io.save(out(key), df)
        back = io.load(inp(key, pd.DataFrame))
        pd.testing.assert_frame_equal(back, df)
        assert stored.data_version == hash_arrow(load_arrow(io, key))
        assert stored.rows == len(df)


def test_relation_saved_without_pandas(io: DuckDBIOManager) -> None:
    con = duckdb.connect()
    rel = con.sql("select i, i * 2 as j, 'v' || i as s from range(300000) t(i)")
    stored = io.save(out("rel"), rel)
    assert stored.rows == 300000
    assert stored.schema == (("i", "int64"), ("j", "int64"), ("s", "string"))
    back = load_arrow(io, "rel")
    assert stored.data_version == hash_arrow(back) == hash_arrow(rel.to_arrow_table())
    con.close()


def test_zoned_timestamps_are_labelled_utc(io: DuckDBIOManager) -> None:
    t = pa.table({"at": pa.array([0, None, 3_600_000_000], pa.timestamp("us", tz="Asia/Jakarta"))})
    stored = io.save(out("z"), t)
    back = load_arrow(io, "z")
    assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert back.column("at").to_pylist() == t.column("at").to_pylist()  # same instants
    assert stored.data_version == hash_arrow(back)


def test_types_duckdb_converts_are_hashed_as_stored(io: DuckDBIOManager) -> None:
    t = pa.table(
        {
            "d": pa.array([0, 86_400_000, None], pa.date64()),
            "t": pa.array([1, None, 3], pa.time32("s")),
            "f": pa.array([b"ab", None, b"cd"], pa.binary(2)),
            "i": pa.array([1, 2, 3], pa.int64()),
        }
    )
    stored = io.save(out("conv"), t)
    back = load_arrow(io, "conv")
    assert stored.data_version == hash_arrow(back)
    assert stored.schema == canonical_schema(back.schema)
    assert back.column("i").to_pylist() == [1, 2, 3]


# --------------------------------------------------------------------------- atomicity


def test_emptied_table_regression_old_rows_survive(io: DuckDBIOManager) -> None:
    """A replace that failed after the new table had started filling must leave the old
    table, rows and schema, exactly as it was (never an emptied or half-written table)."""
    old = pa.table(
        {"id": pa.array(range(1000), pa.int64()), "name": [f"n{i}" for i in range(1000)]}
    )
    version = io.save(out("r/t"), old).data_version
    con = duckdb.connect()
    new_schema_failing = con.sql(
        "select i::varchar as id, i * 1.5 as amount, "
        "case when i < 400000 then i else error('boom at ' || i) end as check_ "
        "from range(500000) t(i)"
    )
    with pytest.raises(duckdb.InvalidInputException, match=r"^Invalid Input Error: boom at"):
        io.save(out("r/t"), new_schema_failing)
    back = load_arrow(io, "r/t")
    assert back.column_names == ["id", "name"]
    assert hash_arrow(back) == version
    assert back.equals(old)
    # the connection is clean afterwards: the next write goes through
    io.save(out("r/t"), pa.table({"id": [7]}))
    assert load_arrow(io, "r/t").column("id").to_pylist() == [7]
    con.close()


def test_a_write_duckdb_refuses_rolls_back(io: DuckDBIOManager) -> None:
    old = pa.table({"a": [1, 2]})
    version = io.save(out("f"), old).data_version
    half = pa.table({"h": pa.array(np.array([1.0, 2.0], dtype=np.float16))})
    with pytest.raises(IOManagerError) as err:
        io.save(out("f"), half)
    assert str(err.value).startswith(
        f"f: the duckdb IO manager cannot write {io.path}::main.f (Not implemented Error: "
    )
    assert hash_arrow(load_arrow(io, "f")) == version
    io.close()
    assert tables(io.path) == [("main", "f", "lumbung:f")]


def test_delete_and_exists_never_create_the_file(tmp_path: Path) -> None:
    manager = DuckDBIOManager(tmp_path / "sub" / "w.duckdb")
    assert not manager.exists(out("a"))
    manager.delete(out("a"))
    with pytest.raises(IOManagerError) as err:
        manager.load(inp("a"))
    assert str(err.value) == (
        f"a: no stored output at {tmp_path / 'sub' / 'w.duckdb'}::main.a; materialize it first."
    )
    assert not (tmp_path / "sub" / "w.duckdb").exists()


SALES = multi(date=daily(start="2024-01-01"), region=static(["eu", "us"]))


def pout(partition: str, key: str = "s/sales") -> OutputContext:
    k = AssetKey.parse(key)
    return OutputContext(k, AssetSpec(key=k, partitions=SALES), partition=partition)


def test_partitions_are_one_table_with_the_dimensions_first(
    io: DuckDBIOManager, tmp_path: Path
) -> None:
    io.save(pout("date=2024-01-01,region=eu"), pa.table({"n": [1, 2]}))
    con = duckdb.connect()
    empty = con.sql("select 5::bigint as n where false")  # a relation, streamed
    stored = io.save(pout("date=2024-01-01,region=us"), empty)
    assert stored.rows == 0 and stored.location.endswith("::s.sales[date=2024-01-01,region=us]")
    con.close()
    io.close()
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        assert db.sql("describe s.sales").fetchall()[0][:2] == ("date", "VARCHAR")
        assert db.sql("select * from s.sales order by n").fetchall() == [
            ("2024-01-01", "eu", 1),
            ("2024-01-01", "eu", 2),
        ]
    assert io.exists(pout("date=2024-01-01,region=us"))  # a partition without rows is stored
    assert not io.exists(pout("date=2024-01-02,region=us"))


def test_a_partition_changed_by_hand_changes_only_its_fingerprint(
    io: DuckDBIOManager, tmp_path: Path
) -> None:
    from assets_core.storage.io import fingerprints

    keys = ["date=2024-01-01,region=eu", "date=2024-01-01,region=us"]
    saved = [io.save(pout(k), pa.table({"n": [1, 2]})).fingerprint for k in keys]
    assert saved == ["2x3", "2x3"]
    io.close()
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as db:
        db.execute("delete from s.sales where region = 'us' and n = 2")
    key = AssetKey.parse("s/sales")
    spec = {key: AssetSpec(key=key, partitions=SALES)}
    assert fingerprints(io, {key: keys}, spec) == {key: {keys[0]: "2x3", keys[1]: "1x3"}}


def test_a_partition_into_an_unpartitioned_table_is_refused(io: DuckDBIOManager) -> None:
    io.save(out("s/sales"), pa.table({"n": [1]}))  # the asset was not partitioned before
    with pytest.raises(IOManagerError) as err:
        io.save(pout("date=2024-01-01,region=eu"), pa.table({"n": [1]}))
    assert str(err.value) == (
        "s/sales: partition date=2024-01-01,region=eu has other columns than the stored table "
        "(column 'date' added; column 'region' added); make the columns agree in every "
        "partition, or rebuild them all: lumbung wipe -s s/sales, then lumbung materialize "
        "-s s/sales."
    )


# --------------------------------------------------------------------------- planted links


def _link_message(link: Path) -> str:
    return (
        f"{link} is a symbolic link, which Lumbung does not follow in its storage folder; "
        "remove it (Lumbung keeps the DuckDB warehouse and its own files there)."
    )


@pytest.mark.parametrize("suffix", ["", ".wal", ".tmp", ".wait"])
def test_a_planted_link_beside_the_warehouse_is_refused(tmp_path: Path, suffix: str) -> None:
    storage, elsewhere = tmp_path / "storage", tmp_path / "elsewhere"
    storage.mkdir()
    elsewhere.mkdir()
    target = elsewhere / "target"
    link = storage / f"warehouse.duckdb{suffix}"
    link.symlink_to(target)
    manager = from_storage(storage)
    try:
        with pytest.raises(IOManagerError) as err:
            manager.save(out("a"), pa.table({"a": [1]}))
        assert str(err.value) == _link_message(link)
        assert list(elsewhere.iterdir()) == []  # nothing was created at the link's target
        if not suffix:  # a dangling link is no warehouse: nothing stored, nothing made
            assert manager.exists(out("a")) is False
            target.write_bytes(b"")  # a link to a file that exists is refused on reading too
            with pytest.raises(IOManagerError) as err:
                manager.exists(out("a"))
            assert str(err.value) == _link_message(link)
            assert target.read_bytes() == b""
    finally:
        manager.close()
    assert link.is_symlink()  # left for the user to remove


def test_the_wait_file_is_never_touched_through_a_link(tmp_path: Path) -> None:
    # A link planted after the opening checks: touching the wait file must not follow it.
    target = tmp_path / "elsewhere" / "made"
    target.parent.mkdir()
    manager = DuckDBIOManager(tmp_path / "warehouse.duckdb")
    wait = tmp_path / "warehouse.duckdb.wait"
    wait.symlink_to(target)
    manager._warehouse._signal_waiting()
    assert not target.exists()
    assert manager._warehouse._someone_waits() is False  # a link is no wait file
    wait.unlink()
    manager._warehouse._signal_waiting()
    assert wait.is_file() and not wait.is_symlink()
    assert manager._warehouse._someone_waits() is True


# --------------------------------------------------------------------------- processes

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists held as select 1 as x")
print("ready", flush=True)
time.sleep(60)
"""


def test_another_process_holding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen(
        [sys.executable, script.name, path.name], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        manager = DuckDBIOManager(path, lock_timeout=0.3)
        # the pid DuckDB names, with its command line: the program without its folder
        holder = f"pid {proc.pid} ({Path(sys.executable).name} holder.py w.duckdb)"
        message = (
            f"{path} is held by {holder} after 0.3 s; close that process's connection to it, "
            "or let it finish, then run the command again."
        )
        with pytest.raises(IOManagerError) as err:
            manager.save(out("a"), pa.table({"a": [1]}))
        assert str(err.value) == message
        assert err.value.__cause__ is None
        with pytest.raises(IOManagerError) as err:
            manager.exists(out("a"))
        assert str(err.value) == message
    finally:
        proc.kill()
        proc.wait()
    manager.save(out("a"), pa.table({"a": [1]}))  # the file is free again
    assert load_arrow(manager, "a").column("a").to_pylist() == [1]
    manager.close()


def _hold(tmp_path: Path, path: Path, read_only: bool) -> subprocess.Popen[str]:
    """A process holding ``path`` (read-only or read-write) until killed; its command line is
    ``python3.x hold.py w.duckdb``."""
    script = tmp_path / "hold.py"
    script.write_text(
        "import sys, time, duckdb\n"
        f"con = duckdb.connect(sys.argv[1], read_only={read_only})\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, script.name, path.name], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _holder(proc: subprocess.Popen[str]) -> str:
    return f"pid {proc.pid} ({Path(sys.executable).name} hold.py w.duckdb)"


def test_readers_share_the_file_with_a_notebook_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    writer = DuckDBIOManager(path)
    writer.save(out("t"), pa.table({"a": [1, 2, 3]}))
    writer.close()
    proc = _hold(tmp_path, path, read_only=True)
    try:
        reader = DuckDBIOManager(path, lock_timeout=0.3, read_only=True)
        t0 = time.monotonic()
        assert reader.fingerprints({AssetKey.parse("t"): [None]}, {}) == {
            AssetKey.parse("t"): {None: "3x1"}
        }
        assert load_arrow(reader, "t").num_rows == 3
        assert reader.exists(out("t"))
        assert time.monotonic() - t0 < 0.3  # no wait at all
        reader.close()
        # a writer must wait for the notebook, and names it, read-only, when it gives up
        writer = DuckDBIOManager(path, lock_timeout=0.3)
        with pytest.raises(IOManagerError) as err:
            writer.save(out("t"), pa.table({"a": [1]}))
        assert str(err.value) == (
            f"{path} is held read-only by {_holder(proc)} after 0.3 s; close that process's "
            "connection to it, or let it finish, then run the command again."
        )
    finally:
        proc.kill()
        proc.wait()


def test_a_reader_beside_a_writer_does_not_wait_to_plan(tmp_path: Path) -> None:
    """Fingerprints are a check planning can do without: a read-only manager gives up on them
    at once while another process writes the file, saying who. Reading a table cannot do
    without the file: it waits, and names the writer when it gives up."""
    from assets_core.storage.io import OutputsUnchecked

    path = tmp_path / "w.duckdb"
    writer = DuckDBIOManager(path)
    writer.save(out("t"), pa.table({"a": [1, 2, 3]}))
    writer.close()
    proc = _hold(tmp_path, path, read_only=False)
    try:
        reader = DuckDBIOManager(path, lock_timeout=5, read_only=True)
        t0 = time.monotonic()
        with pytest.raises(OutputsUnchecked) as unchecked:
            reader.fingerprints({AssetKey.parse("t"): [None]}, {})
        assert time.monotonic() - t0 < 1.0
        assert str(unchecked.value) == (
            f"{path} is held for writing by {_holder(proc)}, so its tables were not checked "
            "for changes made by hand; their statuses are as last recorded."
        )
        reader.lock_timeout = 0.3
        with pytest.raises(IOManagerError) as err:
            reader.load(inp("t"))
        assert str(err.value) == (
            f"{path} is held by {_holder(proc)} after 0.3 s; close that process's connection "
            "to it, or let it finish, then run the command again."
        )
    finally:
        proc.kill()
        proc.wait()
    assert load_arrow(reader, "t").num_rows == 3  # the file is free again
    reader.close()


def test_a_wait_is_said_once_with_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Taking turns with another Lumbung process is quick and quiet; a wait longer than a
    second is said once on stderr: the file, the holder, and the longest it will last."""
    path = tmp_path / "w.duckdb"
    proc = _hold(tmp_path, path, read_only=False)
    try:
        manager = DuckDBIOManager(path, lock_timeout=1.6)
        with pytest.raises(IOManagerError):
            manager.save(out("t"), pa.table({"a": [1]}))
    finally:
        proc.kill()
        proc.wait()
    assert capsys.readouterr().err == f"waiting up to 1.6 s for {path}, held by {_holder(proc)}…\n"
    manager.close()


def test_a_read_only_manager_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    reader = from_storage(tmp_path)
    reader.open_read_only()
    assert reader.read_only
    # nothing there: nothing is created, and there is nothing to find
    assert reader.fingerprints({AssetKey.parse("t"): [None]}, {}) == {}
    assert not reader.exists(out("t"))
    with pytest.raises(IOManagerError) as err:
        reader.save(out("t"), pa.table({"a": [1]}))
    assert str(err.value) == (
        f"t: the duckdb IO manager of {tmp_path / 'warehouse.duckdb'} was opened read-only (by "
        "a session that only plans and reads); open a session that writes to change it."
    )
    with pytest.raises(IOManagerError, match="was opened read-only"):
        reader.delete(out("t"))
    assert list(tmp_path.iterdir()) == []
    # one process cannot hold the same file in both modes (DuckDB refuses)
    writer = DuckDBIOManager(path, idle_close=3600)
    writer.save(out("t"), pa.table({"a": [1]}))
    other = DuckDBIOManager(path, read_only=True)
    with pytest.raises(IOManagerError) as err:
        other.exists(out("t"))
    assert str(err.value) == (
        f"{path} is open read-write in this process (by another session, manager or "
        "connection), so it cannot also be opened read-only; close the other one first."
    )
    writer.close()
    assert other.exists(out("t"))
    other.close()


def test_the_holder_as_far_as_it_can_be_told() -> None:
    from io_managers.duckdb.holder import Holder, command_of, holder_of

    text = (
        'IO Error: Could not set lock on file "/x/w.duckdb": Conflicting lock is held in '
        f"/usr/bin/python3 (PID {os.getpid()}). However, you would be able to open this "
        "database in read-only mode, e.g. by using the -readonly parameter in the CLI."
    )
    found = holder_of(duckdb.IOException(text))
    assert found.pid == os.getpid() and found.reads_only
    assert found.command == command_of(os.getpid())
    assert found.command is not None and found.command.startswith(Path(sys.executable).name)
    assert str(Holder(0, None, False)) == "another process"  # outside this PID namespace
    assert str(Holder(None, None, False)) == "another process"
    assert str(Holder(42, None, False)) == "pid 42"  # its command line unreadable
    assert command_of(2**22 + 1) is None  # no such process


SECOND_WRITER = """
import sys
import pyarrow as pa
from assets_core.storage.io import OutputContext
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from io_managers.duckdb import DuckDBIOManager

key = AssetKey.parse("other/t")
manager = DuckDBIOManager(sys.argv[1], lock_timeout=60)
manager.save(OutputContext(key, AssetSpec(key=key)), pa.table({"b": [1, 2]}))
manager.close()
print("saved", flush=True)
"""


def _second_writer(tmp_path: Path, path: Path) -> list[str]:
    """The command line of a process saving ``other/t`` into the warehouse at ``path``."""
    script = tmp_path / "second.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{SECOND_WRITER}")
    return [sys.executable, str(script), str(path)]


def test_processes_take_turns(tmp_path: Path) -> None:
    """A manager keeping the file open (here: for an hour when idle) lets a waiting process
    in as soon as its current operation ends."""
    path = tmp_path / "w.duckdb"
    holder = DuckDBIOManager(path, idle_close=3600)
    holder.save(out("t"), pa.table({"a": [1, 2, 3]}))
    proc = subprocess.Popen(_second_writer(tmp_path, path), stdout=subprocess.PIPE, text=True)
    try:
        wait_file = tmp_path / "w.duckdb.wait"
        deadline = time.monotonic() + 60
        while not wait_file.exists():  # the second process is waiting for the file
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert holder.exists(out("t"))  # an operation ends: the holder releases the file
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "saved"
    finally:
        proc.kill()
        proc.wait()
    assert load_arrow(holder, "other/t").column("b").to_pylist() == [1, 2]
    assert load_arrow(holder, "t").num_rows == 3
    assert not wait_file.exists()
    holder.close()


def test_an_idle_holder_lets_a_waiting_process_in(tmp_path: Path) -> None:
    """A manager that keeps the file open while idle (here: for an hour) closes it as soon as
    another process waits for it, with no operation of its own to end (the processes
    executor's command holds the warehouse from planning while its workers write)."""
    path = tmp_path / "w.duckdb"
    holder = DuckDBIOManager(path, idle_close=3600)
    holder.save(out("t"), pa.table({"a": [1, 2, 3]}))
    # its lock_timeout is 60 s: well under the holder's idle hour
    done = subprocess.run(_second_writer(tmp_path, path), capture_output=True, text=True)
    assert done.stdout.strip() == "saved", done.stderr
    assert load_arrow(holder, "other/t").column("b").to_pylist() == [1, 2]
    assert load_arrow(holder, "t").num_rows == 3
    holder.close()


def test_file_is_released_for_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    reader = (
        "import sys, duckdb; con = duckdb.connect(sys.argv[1]); "
        "print(con.sql('select count(*) from main.t').fetchall()[0][0])"
    )
    manager = DuckDBIOManager(path, idle_close=0)  # released as soon as an operation ends
    manager.save(out("t"), pa.table({"a": [1, 2, 3]}))
    done = subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True, text=True)
    assert done.stdout.strip() == "3", done.stderr
    kept = DuckDBIOManager(path)  # the default keeps it open briefly; close() releases it
    kept.save(out("t"), pa.table({"a": [1, 2]}))
    kept.close()
    done = subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True, text=True)
    assert done.stdout.strip() == "2", done.stderr


def test_idle_file_is_released_without_close(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    manager = DuckDBIOManager(path, idle_close=0.05)
    manager.save(out("t"), pa.table({"a": [1]}))
    deadline = time.monotonic() + 30
    while True:  # opening read-only in this process works once the manager let go
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.Error:
            assert time.monotonic() < deadline, "the idle manager never released the file"
            time.sleep(0.02)
    assert con.sql("select a from main.t").fetchall() == [(1,)]
    con.close()
    assert manager.exists(out("t"))  # and it reopens on the next use
    manager.close()


# --------------------------------------------------------------------------- threads


def test_threads_save_fifty_tables_at_once(io: DuckDBIOManager) -> None:
    def table(i: int) -> pa.Table:
        n = 2000 + i
        return pa.table({"i": pa.array(np.arange(n) * i), "s": pa.array([f"{i}"] * n)})

    keys = [f"g{i % 5}/sub{i % 3}/t{i}" for i in range(50)]

    def save(i: int) -> str:
        return io.save(out(keys[i]), table(i)).data_version

    with ThreadPoolExecutor(16) as pool:
        versions = list(pool.map(save, range(50)))
    for i, key in enumerate(keys):
        back = load_arrow(io, key)
        assert back.num_rows == 2000 + i
        assert hash_arrow(back) == versions[i] == hash_arrow(table(i))
    with ThreadPoolExecutor(16) as pool:  # and loads and rewrites mixed together
        list(pool.map(lambda i: io.load(inp(keys[i])) if i % 2 else save(i), range(50)))


# --------------------------------------------------------------------------- crashes


WRITER = """
import sys
import numpy as np
import pyarrow as pa
from assets_core.storage.io import OutputContext
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from io_managers.duckdb import DuckDBIOManager

def version(v):
    n = 2_000_000
    return pa.table({"i": pa.array(np.arange(n) + v), "x": pa.array(np.full(n, v * 0.5))})

key = AssetKey.parse("crash/table")
ctx = OutputContext(key, AssetSpec(key=key))
tables = [version(1), version(2)]
sys.stdin.readline()  # started early; opens the file only when told to go
manager = DuckDBIOManager(sys.argv[1])
n = 0
while True:
    manager.save(ctx, tables[n % 2])
    n += 1
    if n == 1:
        print("ready", flush=True)
"""


def _versions() -> set[str]:
    n = 2_000_000
    return {
        hash_arrow(pa.table({"i": pa.array(np.arange(n) + v), "x": pa.array(np.full(n, v * 0.5))}))
        for v in (1, 2)
    }


def _sigkill_trials(tmp_path: Path, trials: int, seed: int) -> None:
    """Kill a writer at random moments; the next writer starts (imports, builds its tables)
    while the last one's result is checked, and opens the file only when told to go."""
    path = tmp_path / "w.duckdb"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def spawn() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(script), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    known = _versions()
    proc = spawn()
    try:
        for trial in range(trials):
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if trial + 1 < trials:
                proc = spawn()
            manager = DuckDBIOManager(path, lock_timeout=10)
            try:
                back = load_arrow(manager, "crash/table")
                assert back.num_rows == 2_000_000
                assert hash_arrow(back) in known
            finally:
                manager.close()
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_during_writes_leaves_one_complete_version(tmp_path: Path) -> None:
    _sigkill_trials(tmp_path, trials=5, seed=1)


@pytest.mark.slow
def test_sigkill_during_writes_many_trials(tmp_path: Path) -> None:
    _sigkill_trials(tmp_path, trials=25, seed=2)


def test_partitions_of_one_table_saved_from_threads_are_all_stored(io: DuckDBIOManager) -> None:
    """A run saves an asset's partitions from several threads at once: none of them may find
    no table and create it after another one did."""
    keys = [f"date=2024-01-{d:02d},region={r}" for d in range(1, 11) for r in ("eu", "us")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: io.save(pout(k), pa.table({"n": [len(k)]})), keys))
    assert all(io.exists(pout(k)) for k in keys)
    ctx = InputContext(
        AssetKey.parse("s/sales"),
        AssetSpec(key=AssetKey.parse("s/sales"), partitions=SALES),
        pa.Table,
    )
    assert io.load(ctx).num_rows == 20  # type: ignore[attr-defined]


def _in_a_new_interpreter(script: str) -> str:
    """What ``script`` prints, run in a fresh Python (where nothing imported pyarrow yet)."""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_a_query_to_hash_starts_importing_pyarrow_meanwhile_once() -> None:
    """A query run in the warehouse has its table read back through pyarrow: the first starts
    importing it on a thread of its own, while DuckDB computes (checked in a fresh
    interpreter, where nothing imported pyarrow yet)."""
    script = (
        "import sys\n"
        "from io_managers.duckdb.native import _import_pyarrow_meanwhile\n"
        "before = 'pyarrow' in sys.modules\n"
        "thread = _import_pyarrow_meanwhile()\n"
        "again = _import_pyarrow_meanwhile()\n"
        "thread.join()\n"
        "print(before, thread.name, again, 'pyarrow' in sys.modules)\n"
    )
    out = _in_a_new_interpreter(script)
    assert out.split() == ["False", "lumbung-import-pyarrow", "None", "True"]


@pytest.mark.parametrize(
    ("batches", "threaded"),
    [
        ([pa.record_batch({"n": [1, 2, None]})], False),  # a lone small batch: hashed in place
        ([pa.record_batch({"n": list(range(i, i + 3))}) for i in range(0, 30, 3)], True),
        ([pa.record_batch({"n": np.arange(1 << 20)})], True),  # 8 MiB: hashed on the thread
    ],
)
def test_the_background_hasher_gives_the_tables_hash_however_it_runs(
    batches: list[pa.RecordBatch], threaded: bool
) -> None:
    from io_managers.duckdb.ingest import _BackgroundHasher

    hasher = _BackgroundHasher(batches[0].schema)
    try:
        for batch in batches:
            hasher.put(batch)
        digest = hasher.finish()
    finally:
        hasher.close()
    table = pa.Table.from_batches(batches)
    assert digest == hash_arrow(table)
    assert (hasher.rows, hasher.nbytes) == (table.num_rows, table.nbytes)
    assert (hasher._thread is not None) is threaded


def test_a_fork_while_pyarrow_is_imported_meanwhile_waits_for_the_import() -> None:
    """Asset code may fork (``multiprocessing``) while the thread imports pyarrow: the child
    must find it whole, not half imported under a lock no thread of its holds (it would hang)."""
    script = (
        "import os, time\n"
        "from io_managers.duckdb.native import _import_pyarrow_meanwhile\n"
        "_import_pyarrow_meanwhile()\n"
        "time.sleep(0.02)\n"  # the import under way
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import pyarrow\n"
        "    pyarrow.table({'n': [1]})\n"
        "    os._exit(0)\n"
        "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    out = _in_a_new_interpreter(script)
    assert out.split() == ["0"]
