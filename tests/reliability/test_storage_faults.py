"""Storage that fails under an asset (no permission, a full disk) is Lumbung's failure to store,
not the asset's code failing: one line naming the asset, the IO manager and the cause, with no
traceback, and nothing stored before is lost. ``--debug`` shows every frame, Lumbung's too.

Each case runs the real ``lumbung`` command on a copy of the bad-input catalogue's built
project. Permission needs an unprivileged user (root ignores file modes): when this runs as
root it goes through ``setpriv``. A full disk is real: a 2 MiB tmpfs mounted in a private mount
namespace (``unshare``; as root, or in a user namespace), holding the storage folder. A case
that the machine cannot set up is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import LUMBUNG, _env
from tests.reliability.test_bad_input import (
    BASE_ASSETS,
    STORAGE,
    _as_nobody,
    _build_base,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]

BIG = """

import numpy as np


@asset
def big():
    return pd.DataFrame({"x": np.random.default_rng(0).random(1_000_000)})


@asset(io_manager="duckdb")
def dbig():
    return pd.DataFrame({"x": np.random.default_rng(0).random(1_000_000)})


@asset
def mixed():
    return pd.DataFrame({"x": [1, "a"]})
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalogue's small project, built, with assets that fill a disk or cannot be
    stored added (not built)."""
    root = tmp_path_factory.mktemp("storage_faults") / "project"
    _build_base(root)
    (root / "assets.py").write_text(BASE_ASSETS + BIG)
    return root


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder every user may enter (for the unprivileged cases)."""
    top = Path(tempfile.mkdtemp(prefix="lumbung-faults-"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(top, ignore_errors=True)


def _copy(base: Path, top: Path) -> Path:
    root = top / "project"
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(
    args: list[str], cwd: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), *LUMBUNG, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env({"HOME": str(cwd.parent)}),
        timeout=300,
        check=False,
    )


# --------------------------------------------------------------------------- no permission


def test_an_output_folder_this_user_may_not_write_is_one_line(base: Path, world: Path) -> None:
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    root = _copy(base, world)
    storage = root / STORAGE
    for path in [world, *world.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    parquet = storage / "parquet"
    for path in [parquet, *parquet.rglob("*")]:  # the state store stays writable
        path.chmod(0o555 if path.is_dir() else 0o444)
    before = snapshot(storage)
    proc = _run(["materialize", "-s", "orders", "--force"], root, prefix)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (
        f"\norders failed: the parquet IO manager cannot write {parquet}/orders.parquet "
        "(Permission denied); check that this user may write there, or use another path.\n"
    )
    after = snapshot(storage)
    state_before, state_after = before.pop("state.db"), after.pop("state.db")
    assert after == before  # every stored output as it was
    assert isinstance(state_before, dict) and isinstance(state_after, dict)
    new = [r for r in state_after["materializations"] if r not in state_before["materializations"]]
    assert [(r["key"], r["outcome"]) for r in new] == [("orders", "failed")]
    assert state_after["last_success"] == state_before["last_success"]


# --------------------------------------------------------------------------- a full disk

#: Runs inside the private mount namespace, where the storage folder is on the small tmpfs:
#: snapshot, run each command, snapshot again; prints what it saw as JSON.
DRIVER = r"""
import json, shutil, subprocess, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.reliability.test_bad_input import snapshot

root, small, commands = Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
shutil.copytree(root / ".lumbung", small, dirs_exist_ok=True)
(root / "lumbung.toml").write_text('modules = ["assets"]\nstorage = "small"\n')
out = {"before": snapshot(small), "runs": []}
for args in commands:
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    out["runs"].append([proc.returncode, proc.stdout, proc.stderr])
out["after"] = snapshot(small)
out["staged"] = sorted(p.name for p in (small / "parquet" / ".tmp").iterdir())
print(json.dumps(out))
"""


def _namespace_prefix() -> list[str] | None:
    """``unshare`` into a private mount namespace where mounting a tmpfs is allowed (as root,
    or as root of a new user namespace); ``None`` when the machine allows neither."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    ways = [["--user", "--map-root-user"]]  # a user namespace, where this user is root
    if os.geteuid() == 0:
        ways.insert(0, [])
    for extra in ways:
        prefix = [unshare, *extra, "--mount", "--propagation", "private"]
        probe = subprocess.run(
            [*prefix, "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return prefix
    return None


def _on_a_full_disk(root: Path, commands: list[list[str]]) -> dict:
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("cannot mount a small tmpfs here (no root, no user namespaces)")
    small = root / "small"
    small.mkdir()
    script = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"'
    driven = [str(ROOT), str(root), str(small), json.dumps(commands)]
    proc = subprocess.run(
        [*prefix, "sh", "-c", script, "sh", str(small), sys.executable, "-c", DRIVER, *driven],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_full_disk_under_parquet_is_one_line_and_loses_nothing(
    base: Path, tmp_path: Path
) -> None:
    root = _copy(base, tmp_path)
    seen = _on_a_full_disk(root, [[*LUMBUNG, "materialize", "-s", "big"]])
    [(code, _out, err)] = seen["runs"]
    assert code == 1, err
    assert err == (
        f"\nbig failed: the parquet IO manager cannot write {root}/small/parquet/big.parquet "
        "(No space left on device); free some space on that disk, or use a path on another "
        "one.\n"
    )
    before, after = seen["before"], seen["after"]
    state_before, state_after = before.pop("state.db"), after.pop("state.db")
    assert after == before  # every stored output as it was
    assert seen["staged"] == []  # the partial file is gone, and its room with it
    new = [r for r in state_after["materializations"] if r not in state_before["materializations"]]
    assert [(r["key"], r["outcome"]) for r in new] == [("big", "failed")]


def test_a_full_disk_under_duckdb_is_one_line(base: Path, tmp_path: Path) -> None:
    """DuckDB keeps the room its failed write took (the file does not shrink), so the state
    store, on the same full disk, cannot record the failure either: that is said in a line of
    its own, exit 2. Whether the asset's line comes first depends on which write meets the full
    disk first; neither is a traceback. The warehouse keeps every table it had, and the state
    store every record."""
    root = _copy(base, tmp_path)
    seen = _on_a_full_disk(root, [[*LUMBUNG, "materialize", "-s", "dbig"]])
    [(code, out, err)] = seen["runs"]
    small = root / "small"
    assert code == 2, err
    assert out in (
        "",
        f"FAILED        dbig  the duckdb IO manager cannot write {small}/warehouse.duckdb::"
        f'main.dbig (IO Error: Could not write file "{small}/warehouse.duckdb": No space left '
        "on device); free some space on that disk, or use a path on another one.\n",
    )
    assert err == (
        f"error: {small}/state.db cannot be written (database or disk is full); check that this "
        "user may read and write it and its folder, and that the disk has room.\n"
    )
    before, after = seen["before"], seen["after"]
    state_before, state_after = before.pop("state.db"), after.pop("state.db")
    assert after == before  # every table of the warehouse, every Parquet file
    for table in ("runs", "materializations"):
        assert all(row in state_after[table] for row in state_before[table])
    assert state_after["last_success"] == state_before["last_success"]


# --------------------------------------------------------------------------- --debug


def test_debug_shows_every_frame_of_a_failure_to_store(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path)
    message = (
        "mixed failed: the parquet IO manager cannot store column 'x': it mixes int and str, "
        "and a stored column holds one type; convert its values first, e.g. df['x'] = "
        "df['x'].astype(str)."
    )
    plain = _run(["materialize", "-s", "mixed"], root)
    assert plain.returncode == 1
    assert plain.stderr == f"\n{message}\n"
    debug = _run(["--debug", "materialize", "-s", "mixed"], root)
    assert debug.returncode == 1
    lines = debug.stderr.splitlines()
    assert lines[:3] == ["", message, "  Traceback (most recent call last):"]
    assert all(line.startswith("  ") for line in lines[2:] if line)
    for frame in ("io_managers/parquet.py", "assets_core/storage/values.py", "pyarrow"):
        assert frame in debug.stderr
    assert lines[-1] == "  assets_core.errors.AssetExecutionError: " + message.replace(
        " failed:", ":", 1
    )
