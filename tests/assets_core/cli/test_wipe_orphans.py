"""``lumbung wipe --orphans`` through the real command: after an asset is removed, one renamed
and one moved from Parquet to DuckDB, ``plan`` says plainly that the IO manager changed,
``wipe -s old_name`` points at ``--orphans``, and ``wipe --orphans`` lists every orphan, asks
(or refuses without a terminal), removes the files and tables through the IO managers that
stored them and forgets their records, leaves every defined asset's output alone, refuses what
a run holds, and then has nothing to do."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from pathlib import Path

import duckdb
import pytest

from assets_core.model.keys import AssetKey, StepKey
from tests.assets_core.cli.conftest import Result, edit, run, run_sequence

ASSETS = """
import pandas as pd
from assets_core import asset

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a * 2

@asset
def c(a: pd.DataFrame) -> pd.DataFrame:
    return a + 1

@asset(io_manager="duckdb")
def e(a: pd.DataFrame) -> pd.DataFrame:
    return a - 1

@asset(io_manager="duckdb")
def f(a: pd.DataFrame) -> pd.DataFrame:
    return a * 3
"""

NO_ORPHANS = (
    "No orphans: every recorded output belongs to a defined asset and the IO manager it uses.\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A materialized project whose ``c`` was then removed, ``e`` renamed to ``e2`` and ``b``
    moved from Parquet to DuckDB."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS).lstrip())
    res = run(["materialize"], root)
    assert res.code == 0, res.err
    module = root / "assets.py"
    edit(module, "@asset\ndef c(a: pd.DataFrame) -> pd.DataFrame:\n    return a + 1\n", "")
    edit(module, "def e(a", "def e2(a")
    edit(module, "@asset\ndef b(", '@asset(io_manager="duckdb")\ndef b(')
    return root


def _tables(root: Path) -> set[str]:
    with duckdb.connect(str(root / ".lumbung" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    return {name for (name,) in rows}


def _parquet(root: Path) -> set[str]:
    return {p.name for p in (root / ".lumbung" / "parquet").glob("*.parquet")}


def _recorded(root: Path) -> set[tuple[str, str | None]]:
    """Each (key, location) the state file's records hold, as stored (relative)."""
    with sqlite3.connect(root / ".lumbung" / "state.db") as con:
        rows = con.execute("SELECT DISTINCT key, location FROM materializations").fetchall()
        latest = {key for (key,) in con.execute("SELECT key FROM latest")}
    assert latest == {key for key, _ in rows}
    return set(rows)


def test_plan_says_the_io_manager_changed(project: Path) -> None:
    old = project / ".lumbung" / "parquet" / "b.parquet"
    res = run(["plan", "-s", "b"], project)
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "1 of 1 selected asset would run:",
        f"  stale    b  its IO manager changed from parquet to duckdb (the old output at {old} "
        "is left; lumbung wipe --orphans removes it)",
    ]


def test_wipe_of_a_removed_name_points_at_orphans(project: Path) -> None:
    res = run(["wipe", "-s", "c", "--yes"], project)
    assert (res.code, res.out) == (2, "")
    assert res.err_lines == [
        "error: 'c' is no longer defined (removed or renamed), but its stored output and "
        "records are still kept; `lumbung wipe --orphans` lists and removes them."
    ]
    res = run(["wipe", "-s", "nothing_like_it", "--yes"], project)
    assert res.err_lines[0].startswith("error: No asset matches 'nothing_like_it'")
    assert "c.parquet" in _parquet(project)


def test_wipe_orphans_lists_asks_and_removes(project: Path) -> None:
    parquet = project / ".lumbung" / "parquet"
    warehouse = project / ".lumbung" / "warehouse.duckdb"
    materialize, refused, gone_ = run_sequence(
        [
            (["materialize", "-s", "b"], project),  # b's Parquet file is history now
            (["wipe", "--orphans"], project),
            (["wipe", "--orphans", "-s", "a"], project),
        ]
    )
    assert materialize.code == 0, materialize.err
    where = [str(parquet / "b.parquet"), str(parquet / "c.parquet"), f"{warehouse}::main.e"]
    width = max(map(len, where))
    listing = [
        "3 orphans would be removed:",
        f"  b  parquet  {where[0]:<{width}}  now stored by duckdb",
        f"  c  parquet  {where[1]:<{width}}  no longer defined",
        f"  e  duckdb   {where[2]:<{width}}  no longer defined",
    ]
    assert refused.code == 2
    assert refused.out.splitlines() == listing
    assert refused.err_lines == ["error: wipe needs confirmation; pass --yes to remove 3 orphans."]
    assert gone_.code == 2
    assert gone_.err_lines == [
        "error: wipe --orphans takes no -s, --exclude, --io or partitions: it finds every "
        "orphan itself, and lists them before removing anything."
    ]
    assert _parquet(project) == {"a.parquet", "b.parquet", "c.parquet"}
    assert _tables(project) == {"b", "e", "f"}

    no = _on_a_terminal(project, "n")
    assert no.code == 0, no.err
    assert no.out.splitlines()[:4] == listing
    assert no.out.endswith("Remove 3 orphans? [y/N]: Nothing was removed.\n")
    assert _parquet(project) == {"a.parquet", "b.parquet", "c.parquet"}

    removed, plan, again = run_sequence(
        [
            (["wipe", "--orphans", "--yes"], project),
            (["plan"], project),
            (["wipe", "--orphans"], project),
        ]
    )
    assert removed.code == 0, removed.err
    assert removed.out.splitlines() == [*listing, "Removed 3 orphans."]
    assert _parquet(project) == {"a.parquet"}  # a, defined and on Parquet, is untouched
    assert _tables(project) == {"b", "f"}  # e's table is dropped; b's and f's stay
    assert _recorded(project) == {
        ("a", "./parquet/a.parquet"),
        ("b", "./warehouse.duckdb::main.b"),  # b's Parquet records are forgotten, not b
        ("f", "./warehouse.duckdb::main.f"),
    }
    assert plan.out.splitlines() == [
        "1 of 4 selected assets would run:",
        "  missing  e2  never materialized",
    ]
    assert (again.code, again.out, again.err) == (0, NO_ORPHANS, "")


def test_an_asset_whose_last_output_is_the_orphan_is_forgotten_whole(project: Path) -> None:
    res = run(["wipe", "--orphans", "--yes"], project)
    assert res.code == 0, res.err
    assert res.out.splitlines()[-1] == "Removed 3 orphans."
    assert _parquet(project) == {"a.parquet"}
    assert {key for key, _ in _recorded(project)} == {"a", "f"}
    plan = run(["plan", "-s", "b"], project)
    assert plan.out.splitlines()[1] == "  missing  b  never materialized"


def test_a_run_in_progress_keeps_its_outputs(project: Path) -> None:
    from assets_core.storage.sqlite import open_state_store

    store = open_state_store(project / ".lumbung")
    try:
        assert store.acquire_locks("r1", [StepKey(AssetKey(["c"]))], os.getpid()) == []
        res = run(["wipe", "--orphans", "--yes"], project)
    finally:
        store.release_locks("r1")
        store.close()
    assert res.code == 2
    assert res.err_lines == [
        f"error: another run holds c (run r1, pid {os.getpid()}); wait for it to finish, then "
        "wipe again."
    ]
    assert _parquet(project) == {"a.parquet", "b.parquet", "c.parquet"}
    assert _tables(project) == {"e", "f"}


def test_an_output_no_configured_manager_recognises_is_kept(project: Path) -> None:
    """A record whose place no IO manager configured here names (its manager was
    uninstalled): listed as kept, with its records, and nothing else to do exits 0."""
    with sqlite3.connect(project / ".lumbung" / "state.db") as con:
        con.execute("UPDATE materializations SET location = 's3://bucket/c' WHERE key = 'c'")
    res = run(["wipe", "--orphans", "--yes"], project)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "2 orphans would be removed:"
    assert lines[3:] == [
        "1 orphan kept (no IO manager configured here stored it; configure that manager, then "
        "wipe again):",
        "  c  -  s3://bucket/c  no longer defined",
        "Removed 2 orphans.",
    ]
    assert ("c", "s3://bucket/c") in _recorded(project)
    again = run(["wipe", "--orphans"], project)
    assert again.code == 0
    assert again.out.splitlines()[0].startswith("1 orphan kept")


def _on_a_terminal(project: Path, answer: str) -> Result:
    pty = pytest.importorskip("pty")
    try:
        controller, terminal = pty.openpty()
    except OSError:  # pragma: no cover - no pseudo-terminals here
        pytest.skip("no pseudo-terminal available")
    try:
        os.write(controller, answer.encode() + b"\n")
        return run(["wipe", "--orphans"], project, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
