"""Storage that was damaged or tampered with is one clear line, never a traceback, a fresh
status, or a write somewhere else.

**Damage.** When ``warehouse.duckdb`` is corrupt (a flipped bit that DuckDB's checksums catch
as it opens the file), cut short, or not a DuckDB file at all, ``plan``, ``list``, ``show`` and
``materialize`` each print one line naming the file and the two ways out (restore it, or
``lumbung wipe --io duckdb`` to rebuild), exit 2, and change nothing stored or recorded.
``lumbung wipe --io duckdb`` moves the damaged file aside (never deletes it) and forgets the
records of the assets it stored, so the next ``materialize`` rebuilds them. A table dropped by
hand is planned as missing. Damage in a table's own data, which DuckDB finds only when it
reads that table, fails the assets that read it with the same line (exit 1).

**Planted links.** A symbolic link where the warehouse (or a file beside it) belongs is never
followed: the command says so in one line, and nothing is created at the link's target.

Every case runs the real ``lumbung`` command on a copy of a small built project.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.assets_core.cli.conftest import Result, run, run_many, run_sequence
from tests.reliability.mixed_project import STORAGE, WAREHOUSE, build

FIX = "restore it from a backup, or rebuild it: lumbung wipe --io duckdb, then lumbung materialize."
COMMANDS = {"plan": ("plan",), "list": ("list",), "show": ("show", "revenue")}
COMMANDS["materialize"] = ("materialize",)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, materialized once; every test works on copies."""
    root = tmp_path_factory.mktemp("damaged_base") / "project"
    build(root)
    return root


def _copy(base: Path, dest: Path, damage: Callable[[Path], None] | None = None) -> Path:
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    if damage is not None:
        damage(dest / WAREHOUSE)
    return dest


def flip(offset: int) -> Callable[[Path], None]:
    """Flip one bit of the file at ``offset``."""

    def change(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x04
        path.write_bytes(bytes(data))

    return change


def truncate(size: int) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with path.open("r+b") as fh:
            fh.truncate(size)

    return change


def garbage(path: Path) -> None:
    path.write_bytes(b"garbage " * 100)


#: Damage DuckDB notices as it opens the file: a flipped bit in a database header (4096 on)
#: and in the first block, which holds the catalog (12288 on); the file cut in the middle of
#: its table data, and to nothing; another file in its place.
DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "bit_in_header": (
        flip(4100),
        r"Corrupt database file: computed checksum \d+ does not match stored checksum \d+ in "
        r"block at location 4096",
    ),
    "bit_in_catalog": (
        flip(12300),
        r"Corrupt database file: computed checksum \d+ does not match stored checksum \d+ in "
        r"block at location 12288",
    ),
    "truncated": (truncate(300_000), r"truncated: 300000 of 536576 bytes"),
    "emptied": (truncate(0), r"not a DuckDB database file"),
    "garbage": (garbage, r"not a DuckDB database file"),
}


def _files(storage: Path) -> dict[str, str]:
    return {
        p.relative_to(storage).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(storage.rglob("*"))
        if p.is_file()
        and p.name not in ("state.db-wal", "state.db-shm", "code_versions.cache")
        and p.name != "state.db"
    }


def _records(storage: Path) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{storage / 'state.db'}?mode=ro", uri=True)
    try:
        return {
            table: con.execute(f"select * from {table} order by 1").fetchall()
            for table in ("runs", "materializations", "latest", "locks")
        }
    finally:
        con.close()


def _line(root: Path, reason: str, head: str = "error: ") -> str:
    """The pattern of the one line, ``reason`` being a pattern itself."""
    return re.escape(f"{head}{root / WAREHOUSE} is damaged (") + reason + re.escape(f"); {FIX}")


def test_damage_found_on_opening_is_one_line_exit_2_and_nothing_changes(
    base: Path, tmp_path: Path
) -> None:
    jobs: dict[str, tuple[tuple[str, ...], Path]] = {}
    before: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}
    for kind, (damage, _reason) in DAMAGE.items():
        for command, args in COMMANDS.items():
            root = _copy(base, tmp_path / f"{kind}-{command}", damage)
            jobs[f"{kind}-{command}"] = (args, root)
            before[f"{kind}-{command}"] = (_files(root / STORAGE), _records(root / STORAGE))
    results = run_many(jobs)
    for name, res in results.items():
        kind = name.rsplit("-", 1)[0]
        root = jobs[name][1]
        assert res.code == 2, (name, res)
        assert res.out == "", (name, res.out)
        lines = res.err.splitlines()
        assert len(lines) == 1, (name, res.err)
        assert re.fullmatch(_line(root, DAMAGE[kind][1]), lines[0]), (name, lines[0])
        files, records = before[name]
        assert _files(root / STORAGE) == files, name
        assert _records(root / STORAGE) == records, name


def test_wipe_io_duckdb_sets_the_damaged_file_aside_and_the_next_run_rebuilds(
    base: Path, tmp_path: Path
) -> None:
    root = _copy(base, tmp_path / "p", flip(12300))
    damaged = (root / WAREHOUSE).read_bytes()
    wipe, plan, built, again = run_sequence(
        [
            (("wipe", "--io", "duckdb", "--yes"), root),
            (("plan",), root),
            (("materialize",), root),
            (("plan",), root),
        ]
    )
    assert wipe.code == 0, wipe.err
    aside = [p for p in (root / STORAGE).iterdir() if p.name.startswith("warehouse.duckdb.")]
    assert len(aside) == 1 and re.fullmatch(
        r"warehouse\.duckdb\.damaged-\d{8}T\d{6}", aside[0].name
    )
    assert aside[0].read_bytes() == damaged  # set aside, byte for byte, never deleted
    assert wipe.out.splitlines() == [
        "1 asset would be wiped:",
        f"  revenue  {root / WAREHOUSE}::main.revenue",
        f"{root / WAREHOUSE} was damaged: moved it to {aside[0]}; the next materialize writes "
        "a new warehouse.",
        "Wiped 1 asset.",
    ]
    assert plan.out.splitlines() == [
        "2 of 3 selected assets would run:",
        "  missing  revenue  never materialized",
        "  pending  report   waits on revenue",
    ]
    assert built.code == 0, built.err
    assert again.out == "Nothing to do: 3 selected assets are fresh.\n"
    assert (root / STORAGE / "parquet" / "orders.parquet").exists()  # other managers untouched


def test_wipe_io_keeps_a_healthy_warehouse_and_other_managers(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "p")
    con = duckdb.connect(str(root / WAREHOUSE))
    con.execute("create table someone_elses as select 42 as answer")
    con.close()
    wipe, unknown = run_sequence(
        [
            (("wipe", "--io", "duckdb", "--yes"), root),
            (("wipe", "--io", "csv", "--yes"), root),
        ]
    )
    assert wipe.code == 0, wipe.err
    assert wipe.out.splitlines()[-1] == "Wiped 1 asset."
    con = duckdb.connect(str(root / WAREHOUSE), read_only=True)
    try:
        names = [r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()]
    finally:
        con.close()
    assert names == ["someone_elses"]
    assert (root / STORAGE / "parquet" / "orders.parquet").exists()
    assert unknown.code == 2
    assert unknown.err == (
        "error: --io csv: no IO manager of that name; known: duckdb, memory, parquet.\n"
    )


def test_a_table_dropped_by_hand_is_planned_as_missing(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "p")
    con = duckdb.connect(str(root / WAREHOUSE))
    con.execute("drop table revenue")
    con.close()  # DuckDB cuts the freed block off the file's end: not a truncation
    res = run(["plan"], root)
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "2 of 3 selected assets would run:",
        f"  missing  revenue  output missing at {root / WAREHOUSE}::main.revenue",
        "  pending  report   waits on revenue",
    ]


def test_damage_in_a_tables_data_fails_its_readers_with_the_same_line(
    base: Path, tmp_path: Path
) -> None:
    # 300,000 lies in the second block: revenue's rows, which DuckDB reads only for a query.
    root = _copy(base, tmp_path / "p", flip(300_000))
    res: Result = run(["materialize", "-s", "report", "--force"], root)
    assert res.code == 1
    failed = [line for line in res.err.splitlines() if line.startswith("report failed")]
    reason = (
        r"Corrupt database file: computed checksum \d+ does not match stored checksum \d+ in "
        r"block at location 274432"
    )
    assert len(failed) == 1, res.err
    assert re.fullmatch(_line(root, reason, "report failed: revenue: "), failed[0]), res.err


# --------------------------------------------------------------------------- planted links


def _link_line(link: Path) -> str:
    return (
        f"{link} is a symbolic link, which Lumbung does not follow in its storage folder; "
        "remove it (Lumbung keeps the DuckDB warehouse and its own files there)."
    )


def test_a_planted_warehouse_link_is_refused_and_nothing_is_made_at_its_target(
    base: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A built project whose warehouse was swapped for a link to a copy of it elsewhere: plan
    # would read the copy. And a new project with a link waiting where the warehouse will be:
    # the first run would create the warehouse at the link's target.
    built = _copy(base, tmp_path / "built")
    (built / WAREHOUSE).rename(elsewhere / "copy.duckdb")
    (built / WAREHOUSE).symlink_to(elsewhere / "copy.duckdb")
    new = _copy(base, tmp_path / "new")
    shutil.rmtree(new / STORAGE)
    (new / STORAGE).mkdir()
    (new / WAREHOUSE).symlink_to(elsewhere / "made.duckdb")
    (new / f"{WAREHOUSE}.wait").symlink_to(elsewhere / "made.wait")
    copy_before = (elsewhere / "copy.duckdb").read_bytes()
    results = run_many({"plan": (("plan",), built), "materialize": (("materialize",), new)})
    plan = results["plan"]
    assert (plan.code, plan.out) == (2, "")
    assert plan.err == f"error: {_link_line(built / WAREHOUSE)}\n"
    assert (elsewhere / "copy.duckdb").read_bytes() == copy_before
    made = results["materialize"]
    assert made.code == 1
    failed = [line for line in made.err.splitlines() if line.startswith("revenue failed")]
    assert failed == [f"revenue failed: {_link_line(new / WAREHOUSE)}"], made.err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["copy.duckdb"]  # nothing made
