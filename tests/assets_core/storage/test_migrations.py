"""Upgrading state files written by older Lumbung releases (the migration chain).

The fixture ``tests/resources/state/schema1_project`` is a project whose ``.lumbung/`` was
written by the schema-1 release in another folder (its README says how); every test copies it,
since opening a file upgrades it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import assets_core.storage.migrations as migrations
from assets_core.errors import StateError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.liveness import this_host
from assets_core.storage.planstate import PlanState
from assets_core.storage.sqlite import SCHEMA_VERSION, open_state_store
from assets_core.storage.sqlite_schema import TABLES
from assets_core.storage.state import EncodedInputs, LockConflict, MaterializationRecord

FIXTURE = Path(__file__).resolve().parents[2] / "resources" / "state" / "schema1_project"
WRITTEN_AT = "/tmp/lumbung-fixture/schema1_project"  # where the schema-1 release wrote it

ORDERS = StepKey(AssetKey.parse("orders"))
REVENUE = StepKey(AssetKey.parse("marts/revenue_by_day"))
TOP = StepKey(AssetKey.parse("marts/top_customers"))
REPORT = StepKey(AssetKey.parse("marts/customer_report"))

_V1_RECORD = (
    "id, key, run_id, outcome, code_version, data_version, inputs, code_components, "
    'started_at, ended_at, "rows", bytes, location, "schema", error, "partition"'
)


def copy_fixture(tmp_path: Path) -> Path:
    """The fixture project, copied to a folder it was not written in; its storage folder."""
    project = tmp_path / "moved" / "shop"
    shutil.copytree(FIXTURE, project)
    return project / ".lumbung"


def query(db: Path, sql: str) -> list[Any]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_fixture(sql: str) -> list[Any]:
    """Read the stored fixture without ever writing next to it (no -wal, no -shm)."""
    db = FIXTURE / ".lumbung" / "state.db"
    con = sqlite3.connect(f"{db.as_uri()}?immutable=1", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def user_version(db: Path) -> int:
    return int(query(db, "PRAGMA user_version")[0][0])


def schema_of(db: Path) -> list[Any]:
    return query(db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# -- the fixture written by the schema-1 release ----------------------------------------------


def test_the_fixture_is_a_schema1_file_written_elsewhere() -> None:
    assert query_fixture("PRAGMA user_version") == [(1,)]
    assert sorted(p.name for p in (FIXTURE / ".lumbung").iterdir()) == [
        "parquet",
        "state.db",
        "warehouse.duckdb",
    ]
    locations = [row[0] for row in query_fixture("SELECT location FROM materializations")]
    assert all(loc is None or loc.startswith(WRITTEN_AT) for loc in locations)
    outcomes = sorted(row[0] for row in query_fixture("SELECT outcome FROM materializations"))
    assert outcomes == ["failed", *["materialized"] * 5, "skipped", "up_to_date"]


def test_upgrading_the_schema1_fixture_in_another_folder(tmp_path: Path) -> None:
    storage = copy_fixture(tmp_path)
    db = storage / "state.db"
    old_records = query(db, f"SELECT {_V1_RECORD} FROM materializations ORDER BY id DESC")
    old_latest = {
        key: (success, outcome, at)
        for key, success, outcome, at in query(db, "SELECT * FROM latest")
    }
    old_runs = query(db, "SELECT * FROM runs ORDER BY started_at DESC")
    old_dump = dump(db)

    with open_state_store(storage) as store:
        history = store.history(limit=1000)
        latest = store.latest()
        plan_latest = store.latest(detail=False)
        assert isinstance(plan_latest, PlanState)
        plan_latest.read_details(list(plan_latest))  # the rest of their state, while open
        runs = store.runs()

    assert user_version(db) == SCHEMA_VERSION == 4
    # The copy taken first is the schema-1 file, row for row.
    backup = storage / "state.db.bak-1"
    assert user_version(backup) == 1
    assert dump(backup) == old_dump

    # Every record survived, field for field; locations moved to the new folder.
    assert len(history) == len(old_records) == 8
    for rec, old in zip(history, old_records, strict=True):
        (_, key, run_id, outcome, code_version, data_version, inputs, components) = old[:8]
        (started_at, ended_at, rows, nbytes, location, schema, error, partition) = old[8:]
        assert (str(rec.key), rec.partition, partition) == (key, None, None)
        assert (rec.run_id, rec.outcome, rec.code_version) == (run_id, outcome, code_version)
        assert rec.data_version == data_version
        assert isinstance(rec.inputs, EncodedInputs) and rec.inputs.text == inputs
        assert dict(rec.code_components) == json.loads(components)
        assert (rec.started_at, rec.ended_at, rec.rows, rec.bytes) == (
            started_at,
            ended_at,
            rows,
            nbytes,
        )
        assert rec.schema == (() if schema is None else tuple(map(tuple, json.loads(schema))))
        assert rec.error == error
        assert rec.fingerprint is None  # schema 1 kept none: unknown, never "changed"
        if location is None:
            assert rec.location is None
        else:
            assert location.startswith(WRITTEN_AT + "/.lumbung/")
            moved = str(storage) + location[len(WRITTEN_AT + "/.lumbung") :]
            assert rec.location == moved
            assert Path(moved.partition("::")[0]).is_file()

    # The same last success per step as the old file had, and the same last attempt.
    by_id = {old[0]: old for old in old_records}
    assert set(latest) == set(plan_latest) == {ORDERS, REVENUE, TOP, REPORT}
    for step, state in latest.items():
        success_id, outcome, at = old_latest[str(step)]
        assert state.last is not None
        assert (state.last.run_id, state.last.data_version) == (
            by_id[success_id][2],
            by_id[success_id][5],
        )
        assert (state.last_outcome, state.last_attempt_at) == (outcome, at)
        plan_last = plan_latest[step].last
        assert plan_last is not None
        assert (plan_last.code_version, plan_last.data_version, plan_last.location) == (
            state.last.code_version,
            state.last.data_version,
            state.last.location,
        )
        assert plan_last.fingerprint is None
    assert {s: st.last_outcome for s, st in latest.items()} == {
        ORDERS: "materialized",
        REVENUE: "up_to_date",
        TOP: "failed",
        REPORT: "skipped",
    }
    # The failed step keeps its failure: the code and inputs it failed with.
    failure = latest[TOP].failure
    assert failure is not None and failure.outcome == "failed"
    assert failure.error is not None and "KeyError: 'customer_id'" in failure.error
    top_last = latest[TOP].last
    assert top_last is not None and failure.code_version != top_last.code_version
    plan_failure = plan_latest[TOP].failure
    assert plan_failure is not None
    assert (plan_failure.code_version, dict(plan_failure.inputs), plan_failure.ended_at) == (
        failure.code_version,
        dict(failure.inputs),
        failure.ended_at,
    )
    assert all(latest[s].failure is None for s in (ORDERS, REVENUE, REPORT))
    assert [
        (r.run_id, r.started_at, r.ended_at, r.status, r.selection, r.pid) for r in runs
    ] == old_runs


def test_an_upgraded_file_has_the_schema_of_a_new_one(tmp_path: Path) -> None:
    storage = copy_fixture(tmp_path)
    open_state_store(storage).close()
    open_state_store(tmp_path / "new").close()
    assert schema_of(storage / "state.db") == schema_of(tmp_path / "new" / "state.db")


def test_an_upgraded_file_is_a_working_store(tmp_path: Path) -> None:
    """New ids continue after the old ones; new records are stored relative as usual."""
    storage = copy_fixture(tmp_path)
    with open_state_store(storage) as store:
        location = str(storage / "parquet" / "orders.parquet")
        newer = MaterializationRecord(
            ORDERS,
            "r3",
            "materialized",
            "cv",
            "dv",
            started_at=1.0,
            ended_at=2.0,
            location=location,
        )
        store.record([newer])
        assert store.latest([ORDERS.asset])[ORDERS].last == newer
        assert store.acquire_locks("r3", [ORDERS, TOP], os.getpid()) == []
    ids = [
        row[0] for row in query(storage / "state.db", "SELECT id FROM materializations ORDER BY id")
    ]
    assert ids == list(range(1, 10))
    assert query(storage / "state.db", "SELECT seq FROM sqlite_sequence") == [(9,)]


def test_upgrading_a_file_in_the_folder_it_was_written_in(tmp_path: Path) -> None:
    """Locations under the storage folder are recognised by prefix, whatever their layout."""
    storage = copy_fixture(tmp_path)
    con = sqlite3.connect(storage / "state.db")
    con.execute(
        "UPDATE materializations SET location = replace(location, ?, ?)",
        (WRITTEN_AT + "/.lumbung", str(storage)),
    )
    con.execute(
        "UPDATE materializations SET location = ? WHERE id = 2",
        (str(storage / "custom" / "top.bin"),),
    )
    con.commit()
    con.close()
    with open_state_store(storage) as store:
        found = {s: st.last.location for s, st in store.latest().items() if st.last}
    stored = dict(query(storage / "state.db", "SELECT id, location FROM materializations"))
    assert stored == {
        1: "./parquet/orders.parquet",
        2: "./custom/top.bin",
        3: "./parquet/marts/customer_report.parquet",
        4: "./warehouse.duckdb::marts.revenue_by_day",
        5: "./parquet/orders.parquet",
        6: None,
        7: None,
        8: None,
    }
    assert found[TOP] == str(storage / "custom" / "top.bin")


# -- locations of a file written elsewhere ----------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [
                (1, "a/b", "", "/old/s/parquet/a/b.parquet"),
                (2, "c", "", "/old/s/warehouse.duckdb::main.c"),
                (3, "d", "2024-01-05", "/old/s/parquet/d/day=2024-01-05/part.parquet"),
                (4, "e", "", "memory://e"),
                (5, "f", "", "/elsewhere/f.csv"),
            ],
            {
                1: "./parquet/a/b.parquet",
                2: "./warehouse.duckdb::main.c",
                3: "./parquet/d/day=2024-01-05/part.parquet",
            },
            id="one old folder",
        ),
        pytest.param(
            [
                (1, "a", "", "/old/s/parquet/a.parquet"),
                (2, "b", "", "/other/s/parquet/b.parquet"),
                (3, "c", "", "/new/s/parquet/c.parquet"),
            ],
            {3: "./parquet/c.parquet"},
            id="folders disagree: only the current one",
        ),
        pytest.param(
            [
                (1, "a", "", "/old/s/parquet/a.parquet"),
                (2, "b", "", "/new/s/parquet/b.parquet"),
            ],
            {2: "./parquet/b.parquet"},
            id="an old and the current folder disagree",
        ),
        pytest.param(
            [
                (1, "a", "", "/old/s/parquet/x.parquet"),  # not a's file
                (2, "a", "", "/old/s/parquet/a.parquet.bak"),
                (3, "parquet/a", "", "/old/s/parquet/parquet/a.parquet"),
                (4, "b", "", "/new/s2/b.parquet"),  # in a sibling of the folder
            ],
            {3: "./parquet/parquet/a.parquet"},
            id="only the built-in layouts",
        ),
    ],
)
def test_locations_written_in_another_folder(
    rows: list[tuple[int, str, str, str]], expected: dict[int, str]
) -> None:
    assert {rid: loc for loc, rid in migrations.relocated(rows, "/new/s")} == expected


# -- locks, newer files, failures, concurrency -----------------------------------------------


def test_a_lock_held_in_a_schema1_file_is_kept(tmp_path: Path) -> None:
    storage = copy_fixture(tmp_path)
    con = sqlite3.connect(storage / "state.db")
    con.execute(
        "INSERT INTO locks (key, run_id, pid, host, acquired_at) VALUES (?, ?, ?, ?, ?)",
        ("marts/top_customers", "r-live", os.getpid(), this_host(), time.time()),
    )
    con.commit()
    con.close()
    with open_state_store(storage) as store:
        assert store.acquire_locks("r-new", [ORDERS, TOP], os.getpid()) == [
            LockConflict(TOP, "r-live", os.getpid())
        ]
        store.release_locks("r-live", [TOP])
        assert store.acquire_locks("r-new", [ORDERS, TOP], os.getpid()) == []


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = path.read_bytes()
    with pytest.raises(StateError) as info:
        open_state_store(tmp_path)
    assert str(info.value) == (
        f"{path} was written by a newer Lumbung (state schema {SCHEMA_VERSION + 1} > "
        f"{SCHEMA_VERSION}); upgrade Lumbung, or point storage at another folder."
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


def test_a_migration_failing_half_way_leaves_the_file_at_schema1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = copy_fixture(tmp_path)
    db = storage / "state.db"
    before = dump(db)

    def broken(con: sqlite3.Connection) -> None:
        raise RuntimeError("injected")

    # materializations are already rebuilt and relocated when this step fails
    monkeypatch.setattr(migrations, "_latest_1_to_2", broken)
    with pytest.raises(StateError) as info:
        open_state_store(storage)
    assert str(info.value) == (
        f"{db} could not be upgraded from state schema 1 to 2 (RuntimeError: injected); it is "
        "left unchanged at schema 1, and a copy is at state.db.bak-1. Report this with the "
        "copy; meanwhile an earlier Lumbung still reads the file."
    )
    assert user_version(db) == 1
    assert dump(db) == before
    assert dump(storage / "state.db.bak-1") == before

    monkeypatch.undo()
    with open_state_store(storage) as store:
        assert len(store.history(limit=100)) == 8
    assert user_version(db) == SCHEMA_VERSION


def test_the_copy_includes_what_is_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    storage = copy_fixture(tmp_path)
    writer = sqlite3.connect(storage / "state.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute(
        f"INSERT INTO materializations ({_V1_RECORD}) "
        "SELECT 9, key, 'r-wal', outcome, code_version, data_version, inputs, code_components, "
        'started_at, ended_at, "rows", bytes, location, "schema", error, "partition" '
        "FROM materializations WHERE id = 1"
    )
    assert (storage / "state.db-wal").stat().st_size > 0
    try:
        with open_state_store(storage) as store:
            assert store.history(limit=1)[0].run_id == "r-wal"
    finally:
        writer.close()
    backup = storage / "state.db.bak-1"
    assert query(backup, "SELECT run_id FROM materializations WHERE id = 9") == [("r-wal",)]
    assert user_version(backup) == 1


def _open_old_file(storage: str, gate: Any, results: Any) -> None:
    gate.wait()
    try:
        with open_state_store(Path(storage)) as store:
            results.put(len(store.history(limit=100)))
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif(sys.platform == "win32", reason="counts upgrades through fork")
def test_processes_opening_a_schema1_file_at_once_upgrade_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first to take the write lock copies and upgrades the file; the others find the
    current schema when their own transaction starts, and neither copy nor upgrade it again."""
    real = migrations.MIGRATIONS[0]

    def counted(con: sqlite3.Connection, root: str) -> None:
        (Path(root) / f"upgraded-by-{os.getpid()}").touch()
        time.sleep(0.2)  # let the others queue on the write lock
        real(con, root)

    monkeypatch.setattr(migrations, "MIGRATIONS", [counted, *migrations.MIGRATIONS[1:]])
    ctx = multiprocessing.get_context("fork")
    for round_ in range(4):
        storage = copy_fixture(tmp_path / f"r{round_}")
        old = dump(storage / "state.db")
        gate, results = ctx.Barrier(3), ctx.Queue()
        procs = [
            ctx.Process(target=_open_old_file, args=(str(storage), gate, results)) for _ in range(3)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        assert [results.get(timeout=5) for _ in procs] == [8, 8, 8], round_
        assert len(list(storage.glob("upgraded-by-*"))) == 1, round_
        assert user_version(storage / "state.db") == SCHEMA_VERSION
        assert dump(storage / "state.db.bak-1") == old
        assert sorted(p.name for p in storage.glob("state.db.bak-*")) == ["state.db.bak-1"]


def test_a_file_that_cannot_be_copied_first_is_not_upgraded(tmp_path: Path) -> None:
    storage = copy_fixture(tmp_path)
    db = storage / "state.db"
    before = dump(db)
    (storage / "state.db.bak-1").mkdir()  # in the way of the copy
    with pytest.raises(StateError) as info:
        open_state_store(storage)
    assert str(info.value).startswith(
        f"{db} is at state schema 1 and must be upgraded to {SCHEMA_VERSION}, but it could not "
        "be copied to "
        "state.db.bak-1 first ("
    )
    assert str(info.value).endswith(
        "); it is unchanged. Check that this user may write its folder and that the disk has room."
    )
    assert user_version(db) == 1 and dump(db) == before
    assert not [p.name for p in storage.iterdir() if ".tmp-" in p.name]  # no half copy left


def test_the_cli_plans_nothing_after_upgrading_a_schema_1_project(tmp_path: Path) -> None:
    """As a user upgrading meets it: ``lumbung plan`` on a project last run by the schema-1
    release upgrades its state, keeps a backup, rebuilds nothing, and shows the new paths."""
    from tests.assets_core.cli.conftest import run_sequence

    project = tmp_path / "moved" / "schema1_project"
    shutil.copytree(FIXTURE, project)
    # Outputs whose modification times were not kept (a checkout, a plain copy): records of
    # schema 1 have no fingerprint to compare, which is "unknown", never "changed".
    for path in (project / ".lumbung").rglob("*"):
        if path.is_file() and path.name != "state.db":
            os.utime(path, (time.time() - 7200, time.time() - 7200))
    planned, listed, shown = run_sequence(
        [
            (["plan"], project),
            (["list", "--output", "json"], project),
            (["show", "orders", "--json"], project),
        ]
    )
    assert (planned.code, planned.err) == (0, "")
    assert planned.out.strip() == "Nothing to do: 4 selected assets are fresh."
    assert {row["key"]: row["status"] for row in json.loads(listed.out)} == {
        "raw_orders": None,
        "orders": "fresh",
        "marts/revenue_by_day": "fresh",
        "marts/top_customers": "fresh",
        "marts/customer_report": "fresh",
    }
    location = json.loads(shown.out)["location"]
    assert location == str(project / ".lumbung" / "parquet" / "orders.parquet")
    assert (project / ".lumbung" / "state.db.bak-1").is_file()
    with sqlite3.connect(project / ".lumbung" / "state.db") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _schema2_file(storage: Path) -> Path:
    """A state file as schema 2 made it (every table but ``dynamic_partitions``)."""
    from assets_core.storage.sqlite_schema import create_tables

    storage.mkdir(parents=True)
    db = storage / "state.db"
    con = sqlite3.connect(db)
    create_tables(con, tuple(t for t in TABLES if t not in ("dynamic_partitions", "ticks")))
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    return db


def test_upgrading_a_schema2_file_adds_the_dynamic_partitions_table(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    db = _schema2_file(storage)
    before = dump(db)
    with open_state_store(storage) as store:
        assert store.dynamic_keys() == {}
        assert store.add_dynamic_keys("customers", ["acme", "globex"]) == ["acme", "globex"]
        assert store.dynamic_keys(["customers"]) == {"customers": ["acme", "globex"]}
    assert user_version(db) == SCHEMA_VERSION == 4
    assert dump(storage / "state.db.bak-2") == before
    assert schema_of(db) == schema_of(_new_store(tmp_path / "new"))


def _new_store(storage: Path) -> Path:
    open_state_store(storage).close()
    return storage / "state.db"


def test_upgrading_a_schema3_file_adds_the_ticks_table(tmp_path: Path) -> None:
    from assets_core.storage.sqlite_schema import create_tables
    from assets_core.storage.ticks import TickRecord

    storage = tmp_path / "storage"
    storage.mkdir()
    db = storage / "state.db"
    con = sqlite3.connect(db)
    create_tables(con, tuple(t for t in TABLES if t != "ticks"))
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()
    before = dump(db)
    with open_state_store(storage) as store:
        tick = TickRecord("nightly", "2024-01-01T02:00:00Z", "schedule", 1.0, 2.0, "launched")
        assert store.insert_tick(tick)
        assert not store.insert_tick(tick)  # a tick is recorded once
        assert store.ticks() == [tick]
    assert user_version(db) == SCHEMA_VERSION == 4
    assert dump(storage / "state.db.bak-3") == before
    assert schema_of(db) == schema_of(_new_store(tmp_path / "new"))
