"""A stored output changed by hand is noticed: never fresh, and never read under its old version.

**The guarantee.** Each record keeps the fingerprint its IO manager gave the output as written
(Parquet: the file's size and modification time; DuckDB: the table's row and column counts in
its catalog). Planning asks each manager for the fingerprints of every recorded output at once
and, where one differs, asks for the data version stored now (Parquet reads it from the file's
footer; a file without one, or a DuckDB table, has an unknown version). Then:

- the changed output is ``stale`` (``output <location> changed since it was written``), and
  ``materialize`` rebuilds it;
- whatever reads it sees its new data version (or an unknown one): its readers are stale,
  and a reader that runs while the changed output is not selected records the version it
  really read, so ``plan`` calls it fresh only for the data it was computed from;
- an output written again with the same data (a ``touch``, a copy of it) is not changed.

Every case runs the real ``lumbung`` command on a copy of a small built project: ``orders``
(Parquet) feeds ``revenue`` (DuckDB), which feeds ``report`` (Parquet).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.assets_core.cli.conftest import run, run_sequence
from tests.reliability.mixed_project import STORAGE, build


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hand_edits") / "project"
    build(root)
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _last(root: Path, key: str) -> tuple[str, dict[str, str]]:
    """The data version and recorded inputs of ``key``'s last success, read from the file."""
    con = sqlite3.connect(f"file:{root / STORAGE / 'state.db'}?mode=ro", uri=True)
    try:
        version, inputs = con.execute(
            "SELECT m.data_version, m.inputs FROM latest l JOIN materializations m "
            "ON m.id = l.success_id WHERE l.key = ?",
            (key,),
        ).fetchone()
    finally:
        con.close()
    return version, json.loads(inputs or "{}")


def _orders_file(root: Path) -> Path:
    return root / STORAGE / "parquet" / "orders.parquet"


def _footer_version(path: Path) -> str:
    meta = pq.read_metadata(path).metadata
    return meta[b"lumbung.data_version"].decode()


def test_a_parquet_output_replaced_by_another_file_is_stale_and_read_as_changed(
    project: Path,
) -> None:
    old, _ = _last(project, "orders")
    # By hand: another valid Parquet file of other rows, written by another tool (it has no
    # data version in its footer).
    pq.write_table(pa.table({"x": [7, 8]}), _orders_file(project))
    location = _orders_file(project)
    everything, upstream_only, ran = run_sequence(
        [
            (("plan",), project),
            (("plan", "-s", "revenue"), project),
            (("materialize", "-s", "revenue"), project),
        ]
    )
    _, inputs = _last(project, "revenue")
    assert everything.out.splitlines() == [
        "3 of 3 selected assets would run:",
        f"  stale    orders   output {location} changed since it was written",
        "  pending  revenue  waits on orders",
        "  pending  report   waits on revenue",
    ]
    # Not selected, the changed output is what revenue would read: revenue is stale for it.
    assert upstream_only.out.splitlines() == [
        "1 of 1 selected asset would run:",
        f"  stale    revenue  upstream orders changed ({old[:8]} → unknown)",
    ]
    assert upstream_only.err == (
        f"warning: orders is stale (output {location} changed since it was written) but not "
        "selected; its stored output will be read. Select +revenue to rebuild it too.\n"
    )
    # revenue read the file by hand, and records that, not orders' old version.
    assert ran.code == 0, ran.err
    assert inputs["orders"] != old and inputs["orders"].startswith("?")
    after, rebuilt, done = run_sequence(
        [
            (("plan", "-s", "revenue"), project),
            (("materialize",), project),
            (("plan",), project),
        ]
    )
    assert after.out == "Nothing to do: 1 selected asset is fresh.\n"
    # All selected: orders is rebuilt from its code, and what reads it follows.
    assert rebuilt.code == 0, rebuilt.err
    assert _last(project, "orders")[0] == old == _footer_version(_orders_file(project))
    assert done.out == "Nothing to do: 3 selected assets are fresh.\n"


def test_a_parquet_output_replaced_by_another_lumbung_file_shows_its_version(
    project: Path,
) -> None:
    old, _ = _last(project, "orders")
    report = project / STORAGE / "parquet" / "report.parquet"
    shutil.copyfile(report, _orders_file(project))  # another output, with its own version
    new = _footer_version(report)
    plan, ran = run_sequence(
        [(("plan", "-s", "revenue"), project), (("materialize", "-s", "revenue"), project)]
    )
    assert plan.out.splitlines()[1] == (
        f"  stale    revenue  upstream orders changed ({old[:8]} → {new[:8]})"
    )
    assert ran.code == 0, ran.err
    assert _last(project, "revenue")[1]["orders"] == new


def test_an_output_written_again_with_the_same_data_is_not_changed(project: Path) -> None:
    orders = _orders_file(project)
    later = orders.stat().st_mtime_ns + 5_000_000_000
    os.utime(orders, ns=(later, later))  # touched
    copy = orders.with_name("copy")
    shutil.copyfile(orders, copy)
    copy.replace(orders)  # rewritten: a new file, the same bytes
    res = run(["plan"], project)
    assert res.out == "Nothing to do: 3 selected assets are fresh.\n", res.err
    # Its new fingerprint is remembered: the next plan takes the file as it is.
    st = orders.stat()
    con = sqlite3.connect(f"file:{project / STORAGE / 'state.db'}?mode=ro", uri=True)
    try:
        remembered = con.execute("SELECT fingerprint FROM latest WHERE key = 'orders'").fetchone()
    finally:
        con.close()
    assert remembered == (f"{st.st_size}:{st.st_mtime_ns}",)


@pytest.mark.parametrize(
    "edit",
    [
        "create or replace table revenue as select 1 as x, 2 as y",  # drops our comment
        "insert into revenue values (4, 8)",  # one more row
        "alter table revenue add column z integer",  # one more column
    ],
    ids=["replaced", "grown", "reshaped"],
)
def test_a_duckdb_table_changed_by_hand_is_stale(project: Path, edit: str) -> None:
    old, _ = _last(project, "revenue")
    con = duckdb.connect(str(project / STORAGE / "warehouse.duckdb"))
    con.execute(edit)
    con.close()
    table = f"{project / STORAGE / 'warehouse.duckdb'}::main.revenue"
    everything, reader = run_sequence([(("plan",), project), (("plan", "-s", "report"), project)])
    assert everything.out.splitlines() == [
        "2 of 3 selected assets would run:",
        f"  stale    revenue  output {table} changed since it was written",
        "  pending  report   waits on revenue",
    ]
    assert reader.out.splitlines()[1] == (
        f"  stale    report  upstream revenue changed ({old[:8]} → unknown)"
    )
