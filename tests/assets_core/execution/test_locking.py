"""Locking a run's assets (assets_core/locking.py), in one process: waiting, refusing, timing
out, re-planning after another run built assets, and taking over a dead run's locks.
Concurrent ``lumbung`` processes are in tests/reliability/test_concurrent.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assets_core.errors import AssetsLockedError
from assets_core.execution.locking import describe
from assets_core.execution.result import Event
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.state import LockConflict, RunRecord
from tests.conftest import ProjectDir

CHAIN = """
import pandas as pd
from assets_core import asset

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"v": list(range(5))})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a * 2

@asset
def c(b: pd.DataFrame) -> pd.DataFrame:
    return b + 1

@asset
def d(c: pd.DataFrame) -> pd.DataFrame:
    return c - 1

@asset
def e(a: pd.DataFrame) -> pd.DataFrame:
    return a * 5
"""


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _k(name: str) -> StepKey:
    return StepKey(AssetKey.parse(name))


def test_describe_names_the_first_assets_and_every_holder() -> None:
    one = [LockConflict(_k("x"), "r1", 7)]
    assert describe(one) == "run r1 (pid 7) holds 1 selected asset (x)"
    many = [LockConflict(_k(n), "r1", 7) for n in "abcde"]
    assert describe(many) == "run r1 (pid 7) holds 5 selected assets (a, b, c and 2 more)"
    two = [LockConflict(_k("a"), "r1", 7), LockConflict(_k("b"), "r2", None)]
    assert describe(two, still=True) == (
        "runs r1 (pid 7), r2 (pid ?) still hold 2 selected assets (a, b)"
    )


def test_no_wait_refuses_and_records_nothing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    me = os.getpid()
    assert session.state.acquire_locks("other", [_k(n) for n in "abcd"], me) == []
    with pytest.raises(AssetsLockedError) as err:
        session.materialize(wait=False)
    assert str(err.value) == (
        f"run other (pid {me}) holds 4 selected assets (a, b, c and 1 more); nothing was run. "
        "Try again when it finishes, or let this run wait for it."
    )
    assert [c.step for c in err.value.conflicts] == [_k(n) for n in "abcd"]
    assert session.state.runs() == [] and session.state.history() == []
    # the refused run took no lock: e is free for anyone else
    assert session.state.acquire_locks("third", [_k("e")], me) == []


def test_a_timeout_gives_up_holding_nothing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    me = os.getpid()
    assert session.state.acquire_locks("other", [_k("c")], me) == []
    seen: list[Event] = []
    with pytest.raises(AssetsLockedError) as err:
        session.materialize(wait=0.2, on_event=seen.append)
    assert str(err.value) == (
        f"run other (pid {me}) still holds 1 selected asset (c) after 0.2s of waiting; "
        "nothing was run. Try again when it finishes."
    )
    assert [(e.kind, str(e.key)) for e in seen] == [("waiting", "c")]
    assert seen[0].message == (
        f"waiting: run other (pid {me}) holds 1 selected asset (c); "
        "this run starts when they are free."
    )
    assert session.state.runs() == []
    assert session.state.acquire_locks("third", [_k(n) for n in "abde"], me) == []


def test_a_run_that_waited_does_not_rebuild_what_the_other_run_built(
    project: ProjectDir,
) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    other = project.session()  # a second "process" on the same state store and storage
    me = os.getpid()
    assert session.state.acquire_locks("holder", [_k("a"), _k("b")], me) == []
    seen: list[str] = []

    def on_event(event: Event) -> None:
        seen.append(event.kind)
        if event.kind == "waiting":  # the holder finishes; another run builds a, b, c
            session.state.release_locks("holder")
            built = other.materialize("+c")
            assert [str(k) for k in built.materialized] == ["a", "b", "c"]

    result = session.materialize(on_event=on_event)
    assert seen.count("waiting") == 1
    assert sorted(map(str, result.materialized)) == ["d", "e"]
    assert sorted(map(str, result.up_to_date)) == ["a", "b", "c"]
    assert session.plan().steps == ()
    records = [
        (str(r.key), r.outcome) for r in session.state.history() if r.run_id == result.run_id
    ]
    assert sorted(records) == [
        ("a", "up_to_date"),
        ("b", "up_to_date"),
        ("c", "up_to_date"),
        ("d", "materialized"),
        ("e", "materialized"),
    ]
    assert session.state.acquire_locks("next", [_k(n) for n in "abcde"], me) == []


def test_a_plan_made_before_another_run_finished_is_made_again(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    plan = session.plan()
    assert len(plan.steps) == 5
    project.session().materialize()  # another run finishes between planning and locking
    result = session.materialize(plan=plan)
    assert result.materialized == []
    assert sorted(map(str, result.up_to_date)) == ["a", "b", "c", "d", "e"]


def test_a_rebuild_with_the_same_data_since_the_plan_is_a_change(project: ProjectDir) -> None:
    """The plan's rows carry each last success's end time: a run that rebuilt ``a`` with the
    same data since (same data version, a later end) still makes the plan be made again."""
    from assets_core.execution.locking import _changed_since

    project.write("assets.py", CHAIN)
    session = project.session()
    session.materialize()
    plan = session.plan("a+", force=True)
    assert not _changed_since(plan, session.state)
    project.session().materialize("a", force=True)
    assert _changed_since(plan, session.state)


def test_a_dead_runs_locks_are_taken_over_and_its_run_marked_interrupted(
    project: ProjectDir,
) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    gone = dead_pid()
    session.state.start_run(RunRecord("crashed", 1.0, pid=gone))
    assert session.state.acquire_locks("crashed", [_k("a"), _k("b"), _k("zzz")], gone) == []
    result = session.materialize(wait=False)
    assert result.success and len(result.materialized) == 5
    status = {r.run_id: r.status for r in session.state.runs()}
    assert status == {"crashed": "interrupted", result.run_id: "success"}
    # every lock the dead run left is gone, also those no run asked for (zzz)
    assert session.state.acquire_locks("next", [_k("zzz")], os.getpid()) == []
    import sqlite3

    con = sqlite3.connect(project.storage / "state.db")
    assert con.execute("SELECT key, run_id FROM locks").fetchall() == [("zzz", "next")]
    con.close()


def test_wait_must_not_be_negative(project: ProjectDir) -> None:
    from assets_core.errors import PlanError

    project.write("assets.py", CHAIN)
    with pytest.raises(PlanError, match=r"^wait must be True, False or 0 seconds or more"):
        project.session().materialize(wait=-1)
