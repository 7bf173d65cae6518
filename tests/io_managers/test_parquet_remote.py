"""The Parquet manager on a storage URI (``io_managers.parquet_remote``), against a real
S3-compatible server on 127.0.0.1 and ``file:///`` (the IO contract suite runs on both too).

What is pinned: data versions equal the local manager's, for whole outputs and partitions;
locations are URIs; a writer killed mid-save leaves the previous output or none, never part
of one; a URI pyarrow cannot use is one line; a project whose ``parquet_storage`` is an
``s3://`` URI materializes on the dask executor with the data versions of a local run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import static
from assets_core.storage.io import InputContext, OutputContext
from io_managers.parquet import ParquetIOManager
from io_managers.parquet_storage import from_storage
from tests.assets_core.cli.conftest import run
from tests.io_managers import s3server

KEY = AssetKey(("sales", "orders"))
SPEC = AssetSpec(key=KEY)
PARTS = static(["a", "b"])
PART_SPEC = AssetSpec(key=KEY, partitions=PARTS)


def _table(n: int = 1000) -> pa.Table:
    return pa.table({"x": list(range(n)), "s": [f"v{i}" for i in range(n)]})


def _uris(tmp_path: Path) -> list[str]:
    return [s3server.uri(f"remote/{tmp_path.name}"), f"file://{tmp_path}/remote"]


def test_data_versions_and_values_equal_the_local_managers(tmp_path: Path) -> None:
    local = ParquetIOManager(tmp_path / "local")
    table = _table()
    want = local.save(OutputContext(KEY, SPEC, "r"), table).data_version
    want_parts = [
        local.save(OutputContext(KEY, PART_SPEC, "r", p), table).data_version for p in ("a", "b")
    ]
    for uri in _uris(tmp_path):
        io = from_storage(tmp_path, uri)
        stored = io.save(OutputContext(KEY, SPEC, "r"), table)
        assert stored.data_version == want
        assert stored.location.endswith("/sales/orders.parquet")
        assert stored.location.startswith(("s3://lumbung-tests/", "file:///"))
        assert "?" not in stored.location
        back = io.load(InputContext(KEY, SPEC, expected_type=pa.Table))
        assert back.equals(table)
        parts = [io.save(OutputContext(KEY, PART_SPEC, "r", p), table) for p in ("a", "b")]
        assert [p.data_version for p in parts] == want_parts
        assert parts[1].location.endswith("/orders/partition=b/part.parquet")
        both = io.load(InputContext(KEY, PART_SPEC, expected_type=pd.DataFrame))
        assert list(both["partition"].unique()) == ["a", "b"]
        assert len(both) == 2 * len(table)


WRITER = """
import sys
import pyarrow as pa
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.storage.io import OutputContext
from io_managers.parquet_storage import from_storage

key = AssetKey(("big",))
io = from_storage(None, sys.argv[1])
n = 3_000_000
table = pa.table({"x": pa.array(range(n)), "y": pa.array(range(n)).cast(pa.float64())})
print("writing", flush=True)
while True:
    io.save(OutputContext(key, AssetSpec(key=key), "r"), table)
"""


@pytest.mark.parametrize("where", ["s3", "file"])
def test_a_writer_killed_mid_save_leaves_no_partial_output(tmp_path: Path, where: str) -> None:
    uri = _uris(tmp_path)[0 if where == "s3" else 1]
    env = {**os.environ, **s3server.CREDENTIALS}
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), uri],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == "writing\n"
    time.sleep(1.5)  # some saves done, one under way
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    io = from_storage(tmp_path, uri)
    key = AssetKey(("big",))
    spec = AssetSpec(key=key)
    if io.exists(OutputContext(key, spec, "r")):  # a whole, earlier save
        table = io.load(InputContext(key, spec, expected_type=pa.Table))
        assert table.num_rows == 3_000_000
        version = io.stored_version(OutputContext(key, spec, "r"))  # type: ignore[attr-defined]
        assert version is not None
    io.sweep()  # type: ignore[attr-defined]
    if where == "file":  # the killed writer's staging file is gone with it
        assert not [p for p in (tmp_path / "remote" / ".tmp").glob("*") if p.is_file()]


def test_a_uri_pyarrow_cannot_use_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError) as err:
        from_storage(tmp_path, "nosuch://bucket/prefix")
    text = str(err.value)
    assert text.startswith("parquet storage 'nosuch://bucket/prefix' cannot be used (")
    assert text.endswith(
        "write a URI such as s3://bucket/prefix, gs://bucket/prefix or file:///shared/folder."
    )
    assert "\n" not in text


ASSETS = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import static


@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": range(100)})


@asset(partitions=static(["p", "q"]))
def b(context, a: pd.DataFrame) -> pd.DataFrame:
    return a.assign(part=context.partition)
"""


def _versions(root: Path) -> dict[str, str | None]:
    from assets_core import load_project

    session = load_project(root)
    try:
        latest = session.state.latest()
        return {str(k): s.last.data_version for k, s in latest.items() if s.last is not None}
    finally:
        session.close()


def test_a_project_stored_on_s3_runs_on_dask_with_the_data_versions_of_a_local_run(
    tmp_path: Path,
) -> None:
    pytest.importorskip("distributed")
    local, remote = tmp_path / "local", tmp_path / "remote"
    uri = s3server.uri(f"projects/{tmp_path.name}")
    for root, extra in ((local, ""), (remote, f'parquet_storage = "{uri}"\n')):
        root.mkdir()
        (root / "lumbung.toml").write_text(f'modules = ["assets"]\n{extra}')
        (root / "assets.py").write_text(textwrap.dedent(ASSETS).lstrip())
    assert run(["materialize"], local).code == 0
    done = run(["materialize", "-e", "dask", "-w", "2"], remote, env=s3server.CREDENTIALS)
    assert done.code == 0, done.err
    assert "3 materialized" in done.out + done.err
    assert _versions(remote) == _versions(local)
    assert not (remote / ".lumbung" / "parquet").exists()  # nothing went to the local folder
    again = run(["materialize", "--json"], remote, env=s3server.CREDENTIALS)
    assert again.code == 0, again.err
    assert '"materialized": []' in again.out
