"""ParquetIOManager: layout, path safety, pruning, metadata, temp files, crash safety, engine."""

from __future__ import annotations

import datetime
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import PartitionsDefinition, daily, dynamic, hourly, multi, static
from assets_core.storage.datahash import hash_arrow
from assets_core.storage.io import InputContext, IOManager, OutputContext
from assets_core.storage.registry import BUILT_IN, IOManagers
from io_managers.parquet import METADATA_KEY, STAGING, ParquetIOManager, from_storage
from tests.conftest import ProjectDir

KEY = AssetKey(("a", "b", "c"))


def out(key: AssetKey = KEY, partition: str | None = None) -> OutputContext:
    return OutputContext(key, AssetSpec(key=key), partition=partition)


DAYS = daily(start="2024-01-01")


def pout(partition: str, definition: PartitionsDefinition = DAYS) -> OutputContext:
    return OutputContext(KEY, AssetSpec(key=KEY, partitions=definition), partition=partition)


def inp(expected: object = None, key: AssetKey = KEY) -> InputContext:
    return InputContext(key, AssetSpec(key=key), expected_type=expected)


def forged(*parts: str) -> AssetKey:
    """A key that skipped validation (defence in depth: the manager checks again)."""
    return tuple.__new__(AssetKey, parts)


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- layout


def test_protocol_registered_name_and_storage_folder(tmp_path: Path) -> None:
    io = from_storage(tmp_path)
    assert isinstance(io, IOManager)
    assert io.root == tmp_path / "parquet"
    from io_managers import parquet_storage

    assert BUILT_IN["parquet"] == "io_managers.parquet_storage:from_storage"  # which picks this
    assert parquet_storage.from_storage(tmp_path).root == io.root  # type: ignore[attr-defined]
    built = IOManagers(tmp_path).get("parquet")
    assert isinstance(built, ParquetIOManager) and built.root == io.root


def test_layout(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    stored = io.save(out(), pa.table({"v": [1]}))
    assert stored.location == str(tmp_path / "a" / "b" / "c.parquet")
    io.save(out(AssetKey.parse("top")), pa.table({"v": [1]}))
    part = io.save(pout("2024-01-01"), pa.table({"v": [2]}))
    assert part.location == str(tmp_path / "a/b/c/partition=2024-01-01/part.parquet")
    assert io.location(KEY, "2024-01-01", DAYS) == part.location
    sales = multi(date=DAYS, region=static(["eu", "us"]))
    io.save(pout("date=2024-01-01,region=eu", sales), pa.table({"v": [3]}))
    hours = hourly(start="2024-10-27T00:00", timezone="Europe/Berlin")
    io.save(pout("2024-10-27T02:00+01:00", hours), pa.table({"v": [4]}))
    assert files(tmp_path) == [
        "a/b/c.parquet",
        "a/b/c/date=2024-01-01/region=eu/part.parquet",
        "a/b/c/partition=2024-01-01/part.parquet",
        "a/b/c/partition=2024-10-27T02%3A00+01%3A00/part.parquet",
        "top.parquet",
    ]
    # plain hive layout: other readers see the dimensions as columns, with the key text
    data = pq.read_table(tmp_path / "a/b/c", partitioning="hive")  # type: ignore[arg-type]
    assert sorted(data.column("partition").drop_null().to_pylist()) == [
        "2024-01-01",
        "2024-10-27T02:00+01:00",
    ]


def test_similar_keys_never_collide(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    x, y = AssetKey(("x", "a", "b")), AssetKey(("y", "a", "b"))
    io.save(out(x), pa.table({"v": ["x"]}))
    io.save(out(y), pa.table({"v": ["y"]}))
    assert files(tmp_path) == ["x/a/b.parquet", "y/a/b.parquet"]
    assert io.load(inp(pa.Table, x)).column("v").to_pylist() == ["x"]  # type: ignore[attr-defined]
    assert io.load(inp(pa.Table, y)).column("v").to_pylist() == ["y"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "parts", [("..", "evil"), ("a", "..", "..", "evil"), ("/etc", "passwd"), ("a/b",), ("",)]
)
def test_no_key_escapes_the_root(tmp_path: Path, parts: tuple[str, ...]) -> None:
    io = ParquetIOManager(tmp_path / "root")
    key = forged(*parts)
    with pytest.raises(IOManagerError) as err:
        io.save(out(key), pa.table({"v": [1]}))
    assert str(err.value) == f"{key}: the key does not name a file under {tmp_path / 'root'}."
    assert files(tmp_path) == []


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "a").symlink_to(outside)
    io = ParquetIOManager(root)
    with pytest.raises(IOManagerError) as err:
        io.save(out(AssetKey(("a", "b"))), pa.table({"v": [1]}))
    assert str(err.value) == (
        f"a/b: {root / 'a' / 'b.parquet'} is outside the storage folder {root}."
    )
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("partition", ["..", "", "a/b", ".hidden", "x\\y", "a:b"])
def test_any_partition_text_is_one_folder_under_the_asset(tmp_path: Path, partition: str) -> None:
    # keys are checked long before (DESIGN §3); still, no text escapes the asset's folder
    io = ParquetIOManager(tmp_path)
    stored = io.save(pout(partition, dynamic("d")), pa.table({"v": [1]}))
    folder = Path(stored.location).parent
    assert folder.parent == tmp_path / "a" / "b" / "c"
    assert folder.name.startswith("partition=") and "/" not in folder.name[10:]


def test_a_folder_value_escapes_as_quote_does() -> None:
    # the bulk escape and ``quote`` write the same folder names: stored partitions stay found
    from urllib.parse import quote

    from io_managers.parquet import _escape

    values = [chr(c) for c in range(128)] + ["2024-10-27T02:00+01:00", "a b/c%", "é:ü", "日本"]
    for value in values:
        assert _escape(value) == quote(value, safe="+"), value


def test_delete_prunes_empty_folders_up_to_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    io = ParquetIOManager(root)
    io.save(out(), pa.table({"v": [1]}))
    io.save(out(AssetKey(("a", "d"))), pa.table({"v": [1]}))
    io.delete(out())
    assert files(root) == ["a/d.parquet"]
    assert not (root / "a" / "b").exists()
    io.delete(out(AssetKey(("a", "d"))))
    assert root.is_dir() and list(root.iterdir()) == [root / STAGING]  # the root stays
    assert list((root / STAGING).iterdir()) == []
    assert tmp_path.is_dir()
    io.delete(out())  # nothing there: fine


def test_a_save_after_its_folder_went_away_makes_it_again(tmp_path: Path) -> None:
    """The manager remembers the folders it made; one removed since (by ``delete``, by hand,
    or by another process's manager) is made again, never an error."""
    import shutil

    root = tmp_path / "root"
    io = ParquetIOManager(root)
    other = ParquetIOManager(root)
    io.save(out(), pa.table({"v": [1]}))
    other.delete(out())  # another manager prunes a/b and a
    assert not (root / "a").exists()
    io.save(out(), pa.table({"v": [2]}))
    shutil.rmtree(root)  # by hand, root and all
    io.save(out(), pa.table({"v": [3]}))
    assert io.load(inp(pa.Table)).column("v").to_pylist() == [3]  # type: ignore[union-attr]
    io.delete(out())
    io.save(out(), pa.table({"v": [4]}))  # its own delete pruned the folders
    assert files(root) == ["a/b/c.parquet"]


def test_a_folder_where_the_file_should_be_is_not_an_output(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    (tmp_path / "a" / "b" / "c.parquet").mkdir(parents=True)
    with pytest.raises(IOManagerError) as err:
        io.load(inp(pa.Table))
    path = tmp_path / "a" / "b" / "c.parquet"
    assert str(err.value) == f"a/b/c: no stored output at {path}; materialize it first."


def test_missing_output_message(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    with pytest.raises(IOManagerError) as err:
        io.load(inp(pa.Table))
    path = tmp_path / "a" / "b" / "c.parquet"
    assert str(err.value) == f"a/b/c: no stored output at {path}; materialize it first."


# --------------------------------------------------------------------------- contents


def test_metadata_holds_the_data_version(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    stored = io.save(out(), pd.DataFrame({"v": [1, 2]}))
    meta = pq.read_metadata(stored.location).metadata
    assert meta[METADATA_KEY.encode()].decode() == stored.data_version
    assert stored.bytes == os.path.getsize(stored.location)
    # our key never leaks into what loads, so a re-save of a loaded table is clean
    back = io.load(inp(pa.Table))
    assert isinstance(back, pa.Table)
    assert METADATA_KEY.encode() not in (back.schema.metadata or {})
    for _ in range(2):  # the second save of the same schema takes the remembered answer
        again = io.save(out(), back.replace_schema_metadata({METADATA_KEY: "stale"}))
        assert again.data_version == stored.data_version
        meta = pq.read_metadata(again.location).metadata
        assert meta[METADATA_KEY.encode()].decode() == stored.data_version


def test_named_index_round_trips(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    df = pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["p", "q"], name="code"))
    io.save(out(), df)
    pd.testing.assert_frame_equal(io.load(inp()), df)  # type: ignore[arg-type]


def test_types_parquet_widens_still_match_their_version(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    t = pa.table(
        {
            "d64": pa.array([datetime.date(2020, 1, 2), None], pa.date64()),
            "t32": pa.array([5, None], pa.time32("s")),
            "ts": pa.array([1, None], pa.timestamp("s", tz="UTC")),
            "nested": pa.array([[1], None], pa.list_(pa.timestamp("s"))),
        }
    )
    stored = io.save(out(), t)
    back = io.load(inp(pa.Table))
    assert isinstance(back, pa.Table)
    assert stored.data_version == hash_arrow(back)
    assert back.to_pylist() == t.to_pylist()


def test_unstorable_column_is_named(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    io.save(out(), pa.table({"v": [1]}))
    bad = pa.table({"v": [1], "span": pa.array([None], pa.month_day_nano_interval())})
    with pytest.raises(IOManagerError) as err:
        io.save(out(), bad)
    assert str(err.value) == (
        "a/b/c: the parquet IO manager cannot store column 'span' of type "
        "month_day_nano_interval; cast it to a supported type or use the duckdb IO manager."
    )
    assert files(tmp_path) == ["a/b/c.parquet"]


def test_duckdb_load_scans_the_file_in_place(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    io.save(out(), pa.table({"v": list(range(10))}))
    ctx = inp(duckdb.DuckDBPyRelation)
    rel = io.load(ctx)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert "parquet" in rel.explain().lower()
    assert rel.aggregate("sum(v)").fetchall() == [(45,)]
    (tmp_path / "a" / "b" / "c.parquet").unlink()
    with pytest.raises(duckdb.IOException):  # nothing was copied: the scan needs the file
        rel.aggregate("sum(v)").fetchall()


def test_duckdb_relation_is_streamed_in_row_groups(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    con = duckdb.connect()
    rel = con.sql("select i, i % 7 as k from range(2500000) t(i)")
    stored = io.save(out(), rel)
    assert stored.rows == 2_500_000
    assert stored.data_version == hash_arrow(rel.to_arrow_table())
    assert pq.read_metadata(stored.location).num_row_groups >= 2
    con.close()


# --------------------------------------------------------------------------- temp files


def test_no_temp_file_after_success_or_failure(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    io.save(out(), pa.table({"v": [1]}))
    assert files(tmp_path) == ["a/b/c.parquet"]
    con = duckdb.connect()
    failing = con.sql(
        "select case when i < 1500000 then i else error('boom') end as v from range(2000000) t(i)"
    )
    with pytest.raises(Exception, match="boom"):
        io.save(out(), failing)
    con.close()
    with pytest.raises(IOManagerError):
        io.save(out(), {"v": [1]})
    with pytest.raises(IOManagerError, match="column 'v': it mixes int and str"):
        io.save(out(), pd.DataFrame({"v": [1, "x"]}))
    assert files(tmp_path) == ["a/b/c.parquet"]
    assert io.load(inp(pa.Table)).column("v").to_pylist() == [1]  # type: ignore[attr-defined]


def test_an_interrupt_while_writing_removes_the_temp_file(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    io.save(out(), pa.table({"v": [1]}))

    def batches():  # type: ignore[no-untyped-def]
        yield pa.record_batch({"v": [2]})
        raise KeyboardInterrupt

    reader = pa.RecordBatchReader.from_batches(pa.schema({"v": pa.int64()}), batches())
    con = duckdb.connect()
    rel = con.from_arrow(reader)
    with pytest.raises(BaseException):  # noqa: B017 - whatever the library wraps it in
        io.save(out(), rel)
    con.close()
    assert files(tmp_path) == ["a/b/c.parquet"]


def test_delete_removes_orphaned_temp_files_of_dead_writers(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    io.save(out(), pa.table({"v": [1]}))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = tmp_path / "a" / "b" / f".c.parquet.tmp-{dead.stdout.strip()}-abcd1234"
    live = tmp_path / "a" / "b" / f".c.parquet.tmp-{os.getpid()}-abcd1234"
    orphan.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    assert io.exists(out())
    io.delete(out())
    assert not orphan.exists()
    assert live.exists()  # a save of this process may still be writing it


def test_the_next_save_into_a_folder_removes_a_killed_writers_temp_files(tmp_path: Path) -> None:
    # A run killed (SIGKILL) while writing leaves its temporary file; nothing deleted the
    # asset, so only a save can clean up. Any asset's save does, once per folder.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    orphans = [folder / f".c.parquet.tmp-{dead}-abcd1234", folder / f".d.parquet.tmp-{dead}-0a"]
    live = folder / f".e.parquet.tmp-{os.getpid()}-abcd1234"
    for path in [*orphans, live]:
        path.write_bytes(b"partial")
    io = ParquetIOManager(tmp_path)
    io.save(out(AssetKey.parse("a/b/other")), pa.table({"v": [1]}))
    assert files(tmp_path) == [
        "a/b/.e.parquet.tmp-" + f"{os.getpid()}-abcd1234",
        "a/b/other.parquet",
    ]


def test_concurrent_saves_of_one_key_leave_one_whole_version(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    tables = [pa.table({"v": [i] * 50_000}) for i in range(6)]
    versions = {}
    lock = threading.Lock()

    def save(t: pa.Table) -> None:
        v = io.save(out(), t).data_version
        with lock:
            versions[v] = t

    threads = [threading.Thread(target=save, args=(t,)) for t in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(versions) == 6
    back = io.load(inp(pa.Table))
    assert hash_arrow(back) in versions  # type: ignore[arg-type]
    assert files(tmp_path) == ["a/b/c.parquet"]


# --------------------------------------------------------------------------- SIGKILL

WRITER = """
import sys
import numpy as np
import pyarrow as pa
from assets_core.storage.io import OutputContext
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from io_managers.parquet import ParquetIOManager

rows = int(sys.argv[2])
io = ParquetIOManager(sys.argv[1])
key = AssetKey(("big", "table"))
ctx = OutputContext(key, AssetSpec(key=key))
base = np.arange(rows, dtype=np.int64)
tables = [
    pa.table({"i": base, "x": base * 0.5, "s": pa.array(base % 1000).cast(pa.string())}),
    pa.table({"i": base + 1, "x": base * 0.25, "s": pa.array(base % 997).cast(pa.string())}),
]
n = 0
while True:
    stored = io.save(ctx, tables[n % 2])
    print(stored.data_version, flush=True)
    n += 1
"""


def _kill_trials(tmp_path: Path, trials: int, rows: int, seed: int) -> int:
    """Kill a writer ``trials`` times; the number of kills that caught a save mid-write."""
    mid_write = 0
    rng = random.Random(seed)
    root = tmp_path / "store"
    io = ParquetIOManager(root)
    key = AssetKey(("big", "table"))
    path = root / "big" / "table.parquet"
    known: set[str] = set()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(trials):
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(root), str(rows)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        start = time.monotonic()
        first = proc.stdout.readline().strip()  # one whole save before the kill window
        assert first, "the writer died before its first save"
        known.add(first)
        one_save = time.monotonic() - start
        time.sleep(rng.uniform(0.0, min(one_save, 2.0) * 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        known.update(rest.split())
        assert proc.returncode == -signal.SIGKILL
        # The stored file is one complete version: readable, and its hash is a known one.
        assert len(known) <= 2
        table = pq.read_table(path)
        version = hash_arrow(table)
        assert version in known
        assert pq.read_metadata(path).metadata[METADATA_KEY.encode()].decode() == version
        assert table.num_rows == rows
        # Leftovers are hidden temporary files in the staging folder, never mistaken for the
        # output (nothing else is beside it).
        assert set(os.listdir(path.parent)) <= {"table.parquet", STAGING}
        names = os.listdir(root / STAGING)
        assert all(n.startswith(".table.parquet.tmp-") for n in names), names
        mid_write += len(names)  # each killed writer leaves at most one orphan of its own
        ctx = OutputContext(key, AssetSpec(key=key))
        assert io.exists(ctx)
        back = io.load(InputContext(key, AssetSpec(key=key), expected_type=pa.Table))
        assert hash_arrow(back) == version  # type: ignore[arg-type]
    io.delete(OutputContext(key, AssetSpec(key=key)))
    assert list(root.iterdir()) == [root / STAGING]
    assert list((root / STAGING).iterdir()) == []  # the orphans of the killed writers went too
    return mid_write


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_leaves_a_whole_version(tmp_path: Path) -> None:
    _kill_trials(tmp_path, trials=5, rows=250_000, seed=1)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_leaves_a_whole_version_many_trials(tmp_path: Path) -> None:
    assert _kill_trials(tmp_path, trials=24, rows=2_500_000, seed=2) > 0


# --------------------------------------------------------------------------- engine

CHAIN = """
import pandas as pd
from assets_core import asset

@asset
def raw() -> pd.DataFrame:
    return pd.DataFrame({"v": [1, 2, 3]})

@asset
def doubled(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(w=raw["v"] * 2)
"""


def test_through_the_engine(project: ProjectDir, tmp_path: Path) -> None:
    project.write("assets.py", CHAIN)
    storage = tmp_path / "lumbung"
    session = project.session(default_io_manager="parquet", io_managers={}, storage=storage)
    result = session.materialize()
    assert sorted(map(str, result.materialized)) == ["doubled", "raw"]
    stored = storage / "parquet" / "doubled.parquet"
    assert stored.is_file()
    session.close()

    again = project.session(default_io_manager="parquet", io_managers={}, storage=storage)
    assert not again.plan()
    loaded = again.load("doubled")
    assert isinstance(loaded, pd.DataFrame)
    assert loaded.to_dict("list") == {"v": [1, 2, 3], "w": [2, 4, 6]}

    stored.unlink()
    plan = again.plan()
    step = plan.step("doubled")
    assert step is not None
    assert [r.code for r in step.reasons] == ["output_missing"]
    assert str(stored) in step.reasons[0].message
    again.close()


@pytest.mark.parametrize(
    ("fsync", "env", "flushes"),
    [(None, None, 0), (None, "1", 2), (True, None, 2), (False, "1", 0)],
)
def test_fsync_is_opt_in(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fsync: bool | None,
    env: str | None,
    flushes: int,
) -> None:
    if env is None:
        monkeypatch.delenv("LUMBUNG_FSYNC", raising=False)
    else:
        monkeypatch.setenv("LUMBUNG_FSYNC", env)
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    io = ParquetIOManager(tmp_path, fsync=fsync)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    io.save(out(), pa.table({"v": [1, 2]}))
    assert len(calls) == flushes
    assert pq.read_table(io.path(KEY)).column("v").to_pylist() == [1, 2]


def test_existing_answers_for_many_at_once(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path / "root")
    keys = [AssetKey(("a",)), AssetKey(("b",)), AssetKey(("x", "c")), AssetKey(("x", "d"))]
    for k in keys[::2]:
        io.save(out(k), pa.table({"v": [1]}))
    (tmp_path / "root" / "x" / "d.parquet").mkdir()  # a folder is not an output
    elsewhere = tmp_path / "elsewhere.parquet"
    pq.write_table(pa.table({"v": [2]}), elsewhere)
    (tmp_path / "root" / "b.parquet").symlink_to(elsewhere)  # leads out of the root
    asked = [out(k) for k in keys] + [out(AssetKey(("nowhere", "e")))]
    with pytest.raises(IOManagerError, match="is outside the storage folder"):
        io.existing(asked)
    (tmp_path / "root" / "b.parquet").unlink()
    assert io.existing(asked) == {StepKey(AssetKey(("a",))), StepKey(AssetKey(("x", "c")))}
    assert io.existing(asked) == {StepKey(k) for k in keys if io.exists(out(k))}


# --------------------------------------------------------------------------- partitions

PARTITION_WRITER = """
import sys

import numpy as np
import pyarrow as pa

from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import daily
from assets_core.storage.io import OutputContext
from io_managers.parquet import ParquetIOManager

io = ParquetIOManager(sys.argv[1])
key = AssetKey(("a", "b", "c"))
spec = AssetSpec(key=key, partitions=daily(start="2024-01-01"))
ctx = OutputContext(key, spec, partition="2024-01-02")
base = np.arange(int(sys.argv[2]), dtype=np.int64)
tables = [pa.table({"i": base, "s": pa.array(base % 1000).cast(pa.string())}),
          pa.table({"i": base + 1, "s": pa.array(base % 997).cast(pa.string())})]
n = 0
while True:
    print(io.save(ctx, tables[n % 2]).data_version, flush=True)
    n += 1
"""


def _bytes_and_times(files: list[Path]) -> list[tuple[bytes, int]]:
    return [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]


def test_replacing_a_partition_touches_no_other_file(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    stored = {
        d: io.save(pout(d), pa.table({"v": [i]}))
        for i, d in enumerate(("2024-01-01", "2024-01-02", "2024-01-03"))
    }
    others = [Path(stored[d].location) for d in ("2024-01-01", "2024-01-03")]
    before = _bytes_and_times(others)
    io.save(pout("2024-01-02"), pa.table({"v": [9, 9]}))
    assert _bytes_and_times(others) == before
    io.delete(pout("2024-01-02"))
    assert _bytes_and_times(others) == before
    assert files(tmp_path) == [
        "a/b/c/partition=2024-01-01/part.parquet",
        "a/b/c/partition=2024-01-03/part.parquet",
    ]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_while_writing_a_partition_leaves_it_and_the_others_whole(tmp_path: Path) -> None:
    root = tmp_path / "store"
    io = ParquetIOManager(root)
    first = Path(io.save(pout("2024-01-01"), pa.table({"v": [1]})).location)
    kept = _bytes_and_times([first])
    rng = random.Random(3)
    known: set[str] = set()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", PARTITION_WRITER, str(root), "200000"],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        start = time.monotonic()
        known.add(proc.stdout.readline().strip())
        time.sleep(rng.uniform(0.0, min(time.monotonic() - start, 2.0) * 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        known.update(rest.split())
        back = io.load(
            InputContext(KEY, pout("x").spec, expected_type=pa.Table, partitions=("2024-01-02",))
        )
        assert isinstance(back, pa.Table)
        assert hash_arrow(back.drop_columns(["partition"])) in known
        assert _bytes_and_times([first]) == kept


def test_a_relation_of_partitions_scans_the_files_in_place(tmp_path: Path) -> None:
    io = ParquetIOManager(tmp_path)
    for i, day in enumerate(("2024-01-01", "2024-01-02", "2024-01-03")):
        io.save(pout(day), pa.table({"v": [i]}))
    ctx = InputContext(
        KEY,
        pout("x").spec,
        expected_type=duckdb.DuckDBPyRelation,
        partitions=("2024-01-01", "2024-01-03"),
    )
    rel = io.load(ctx)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    plan = rel.explain()
    assert "READ_PARQUET" in plan.upper() or "PARQUET_SCAN" in plan.upper()
    assert rel.fetchall() == [("2024-01-01", 0), ("2024-01-03", 2)]
    ctx.duckdb.close()


@pytest.mark.parametrize("count", [3, 40])  # one by one, and in bulk (a folder listing)
def test_fingerprints_of_partitions_refuse_links_out_of_the_root(
    tmp_path: Path, count: int
) -> None:
    root = tmp_path / "root"
    io = ParquetIOManager(root)
    when = datetime.date(2024, 1, 1)
    days = [str(when + datetime.timedelta(days=n)) for n in range(count)]
    for day in days[1:]:
        io.save(pout(day), pa.table({"v": [1]}))
    steps = {KEY: days}
    specs = {KEY: AssetSpec(key=KEY, partitions=DAYS)}
    found = io.fingerprints(steps, specs)[KEY]
    expected = [
        f"{st.st_size}:{st.st_mtime_ns}"
        for st in (os.stat(io.path(KEY, d, DAYS)) for d in days[1:])
    ]
    assert found == dict(zip(days[1:], expected, strict=True))  # days[0]: not stored
    # a partition folder that is a link inside the root is followed; out of it, refused
    inside = root / "a" / "b" / "c" / f"partition={days[1]}"
    (root / "a" / "b" / "c" / f"partition={days[0]}").symlink_to(inside)
    assert ParquetIOManager(root).fingerprints(steps, specs)[KEY][days[0]] == expected[0]
    (root / "a" / "b" / "c" / f"partition={days[0]}").unlink()
    outside = tmp_path / "outside"
    outside.mkdir()
    pq.write_table(pa.table({"v": [2]}), outside / "part.parquet")
    (root / "a" / "b" / "c" / f"partition={days[0]}").symlink_to(outside)
    with pytest.raises(IOManagerError, match="is outside the storage folder"):
        ParquetIOManager(root).fingerprints(steps, specs)
    (root / "a" / "b" / "c" / f"partition={days[0]}").unlink()
    # a part file that is a link out of the root, too
    (root / "a" / "b" / "c" / f"partition={days[0]}").mkdir()
    (root / "a" / "b" / "c" / f"partition={days[0]}" / "part.parquet").symlink_to(
        outside / "part.parquet"
    )
    with pytest.raises(IOManagerError, match="is outside the storage folder"):
        ParquetIOManager(root).fingerprints(steps, specs)
    # and the asset's folder itself
    (root / "a" / "b" / "c").rename(tmp_path / "moved")
    (root / "a" / "b" / "c").symlink_to(tmp_path / "moved")
    with pytest.raises(IOManagerError, match="is outside the storage folder"):
        ParquetIOManager(root).fingerprints(steps, specs)


def test_fingerprints_of_multi_partitions_in_bulk(tmp_path: Path) -> None:
    definition = multi(day=daily(start="2024-01-01", end="2024-01-05"), region=static(["eu", "us"]))
    io = ParquetIOManager(tmp_path)
    keys = sorted(definition.keys(now=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)))
    for k in keys[::2]:
        io.save(pout(k, definition), pa.table({"v": [1]}))
    specs = {KEY: AssetSpec(key=KEY, partitions=definition)}
    found = ParquetIOManager(tmp_path).fingerprints({KEY: keys}, specs)[KEY]
    one_by_one = [io._fingerprint_of(KEY, k, definition) for k in keys]
    assert [found.get(k) for k in keys] == one_by_one
    assert [k in found for k in keys] == [n % 2 == 0 for n in range(len(keys))]


def test_save_refuses_a_partition_folder_linked_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ParquetIOManager(root).save(pout("2024-01-01"), pa.table({"v": [1]}))
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "a" / "b" / "c" / "partition=2024-01-02").symlink_to(outside)
    io = ParquetIOManager(root)
    io.save(pout("2024-01-03"), pa.table({"v": [3]}))  # a new folder: made, no link there
    with pytest.raises(IOManagerError, match="is outside the storage folder"):
        io.save(pout("2024-01-02"), pa.table({"v": [2]}))
    assert list(outside.iterdir()) == []
    # a link inside the root is followed
    (root / "a" / "b" / "c" / "partition=2024-01-02").unlink()
    (root / "a" / "b" / "c" / "partition=2024-01-02").symlink_to(
        root / "a" / "b" / "c" / "partition=2024-01-03"
    )
    stored = ParquetIOManager(root).save(pout("2024-01-02"), pa.table({"v": [2]}))
    assert pq.read_table(stored.location).column("v").to_pylist() == [2]


def test_folder_names_escaped_in_bulk_are_those_escaped_one_by_one() -> None:
    """Planning names an asset's partition folders at once (``_escape_all``); each name is the
    one a save makes for that partition alone: ``%`` first, then the other unsafe characters."""
    from io_managers.parquet import _escape, _escape_all

    values = ["2024-10-27T02:00+01:00", "a%3Ab", "plain", "50%:x", "é:z", "", "a b/c"]
    assert _escape_all(values) == [_escape(v) for v in values]
    assert _escape_all(values[:5]) == [_escape(v) for v in values[:5]]  # ASCII only
    assert _escape_all(["a%3Ab", "x:y"]) == ["a%253Ab", "x%3Ay"]
    assert _escape_all(["plain", "keys"]) == ["plain", "keys"]
