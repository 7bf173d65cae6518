"""Running plans: executors, retries, contexts, interrupts, records and locks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assets_core.errors import AssetsLockedError, PlanError
from assets_core.execution.result import Event
from assets_core.model.keys import StepKey
from tests.conftest import ProjectDir

WIDE = """
import pandas as pd
from assets_core import asset

@asset
def src() -> pd.DataFrame:
    return pd.DataFrame({"v": list(range(5))})

@asset
def left(src: pd.DataFrame) -> pd.DataFrame:
    return src * 2

@asset
def right(src: pd.DataFrame) -> pd.DataFrame:
    return src * 3

@asset
def joined(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    return left + right
"""


@pytest.mark.parametrize("executor", ["threads", "in-process", "processes"])
def test_every_executor_gives_the_same_result(project: ProjectDir, executor: str) -> None:
    project.write("assets.py", WIDE)
    kwargs = {"default_io_manager": "parquet"} if executor == "processes" else {}
    if executor == "processes":
        pytest.importorskip("io_managers.parquet")
    session = project.session(**kwargs)
    result = session.materialize(executor=executor, workers=2)
    assert sorted(str(k) for k in result.materialized) == ["joined", "left", "right", "src"]
    assert session.load("joined")["v"].tolist() == [0, 5, 10, 15, 20]  # type: ignore[index]
    history = session.state.history()
    assert {str(r.key) for r in history} == {"joined", "left", "right", "src"}
    joined = next(r for r in history if str(r.key) == "joined")
    assert set(map(str, joined.inputs)) == {"left", "right"}
    assert joined.rows == 5
    assert joined.data_version
    assert joined.code_version == session.code_version(session.get("joined")).version  # type: ignore[arg-type]


def test_a_run_unfreezes_only_what_it_froze(project: ProjectDir) -> None:
    """A run freezes what is alive out of the collector's passes and unfreezes it after; a
    caller that froze first (the CLI, about to exit) keeps its freeze."""
    import gc

    project.write("assets.py", WIDE)
    session = project.session()
    assert gc.get_freeze_count() == 0
    session.materialize(executor="in-process", force=True)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        session.materialize(executor="in-process", force=True)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_processes_executor_refuses_the_memory_manager(project: ProjectDir) -> None:
    project.write("assets.py", WIDE)
    with pytest.raises(PlanError, match="uses the memory IO manager"):
        project.session().materialize(executor="processes")


def test_unknown_executor_and_bad_workers(project: ProjectDir) -> None:
    project.write("assets.py", WIDE)
    session = project.session()
    with pytest.raises(PlanError) as err:
        session.materialize(executor="spark")
    assert str(err.value) == (
        "unknown executor 'spark'; use one of threads, in-process, processes, dask."
    )
    with pytest.raises(PlanError) as err:
        session.materialize(workers=0)
    assert str(err.value) == "workers must be 1 or more, got 0."


def test_events_arrive_in_dependency_order(project: ProjectDir) -> None:
    project.write("assets.py", WIDE)
    events: list[Event] = []
    project.session().materialize(on_event=events.append, executor="in-process")
    done = [str(e.key) for e in events if e.kind == "materialized"]
    assert done == ["src", "left", "right", "joined"]


RETRY = """
import pandas as pd
from assets_core import asset

CALLS = []

@asset(retries=2)
def flaky() -> pd.DataFrame:
    CALLS.append(1)
    if len(CALLS) < 3:
        raise ConnectionError("try again")
    return pd.DataFrame({"v": [len(CALLS)]})

@asset(retries=1)
def hopeless() -> pd.DataFrame:
    raise RuntimeError("never works")
"""


def test_retries_with_backoff(project: ProjectDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assets_core.execution.scheduler.RETRY_BASE_DELAY", 0.01)
    project.write("assets.py", RETRY)
    session = project.session()
    result = session.materialize()
    assert [str(k) for k in result.materialized] == ["flaky"]
    assert session.load("flaky")["v"].tolist() == [3]  # type: ignore[index]
    assert [str(k) for k in result.failed] == ["hopeless"]
    assert "RuntimeError: never works" in result.errors[result.failed[0]]


CONTEXT = """
import pandas as pd
import duckdb
from assets_core import asset

@asset(key="stg/base")
def base() -> pd.DataFrame:
    return pd.DataFrame({"k": [1, 2, 3], "v": [10, 20, 30]})

@asset(key="stg/other", ins={"b": "stg/base"})
def other(b: pd.DataFrame) -> pd.DataFrame:
    return b.assign(v=b.v + 1)

@asset(key="marts/summed", ins={"base": "stg/base", "other": "stg/other"})
def summed(context, base: duckdb.DuckDBPyRelation, other: duckdb.DuckDBPyRelation):
    assert str(context.key) == "marts/summed" and context.run_id
    context.log.info("summing")
    return context.duckdb.sql(
        "select base.k, base.v + other.v as s from base join other using (k) order by k"
    ).arrow()
"""


def test_context_and_duckdb_relation_inputs(project: ProjectDir) -> None:
    project.write("assets.py", CONTEXT)
    session = project.session()
    result = session.materialize()
    assert result.success, result.errors
    summed = session.load("marts/summed")
    assert summed["s"].tolist() == [21, 41, 61]  # type: ignore[index]


def test_interrupt_keeps_finished_records_and_releases_locks(project: ProjectDir) -> None:
    project.write("assets.py", WIDE)
    session = project.session()

    def stop(event: Event) -> None:
        if event.kind == "materialized" and str(event.key) == "left":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.materialize(on_event=stop, executor="in-process")
    (run,) = session.state.runs()
    assert run.status == "interrupted"
    # ``right`` had finished too (in-process runs each ready step before handling outcomes):
    # a step that finished whole is recorded even when the interrupt is noticed first.
    recorded = {str(r.key) for r in session.state.history()}
    assert recorded == {"src", "left", "right"}
    assert session.state.acquire_locks("next", [StepKey(session.get("src").key)], 1) == []
    # the next plan holds exactly what did not finish
    assert [str(k) for k in session.plan().keys] == ["joined"]


SWALLOWED = """
import os
import signal
import time

import pyarrow as pa
from assets_core import asset


@asset
def first() -> pa.Table:
    return pa.table({"v": [1]})


@asset
def long_query(first: pa.Table) -> pa.Table:
    # What DuckDB does when Ctrl-C lands in a query it runs: it turns the interrupt into
    # RuntimeError("Query interrupted").
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        raise RuntimeError("Query interrupted") from None
    return first


@asset
def after(long_query: pa.Table) -> pa.Table:
    return long_query
"""


SWALLOWED_RUN = """
import signal
import sys

from assets_core import Definitions, Session

sys.path.insert(0, sys.argv[1])
session = Session(Definitions.from_modules("assets", root=sys.argv[1]), storage=sys.argv[2])
try:
    session.materialize(executor="in-process")
    print("returned")
except KeyboardInterrupt:
    print("interrupted")
print(session.state.runs()[0].status)
print([(str(r.key), r.outcome) for r in session.state.history()])
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
print([str(k) for k in session.plan().keys])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_that_duckdb_turns_into_an_error_still_interrupts_the_run(tmp_path: Path) -> None:
    # Before the fix the interrupted asset was recorded as failed ("Query interrupted"), the
    # run went on and returned normally: Ctrl-C did not stop it. Run in a fresh interpreter,
    # as a command runs (one run per process, Python's own SIGINT handler in place).
    (tmp_path / "assets.py").write_text(SWALLOWED)
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED_RUN, str(tmp_path), str(tmp_path / "storage")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.splitlines() == [
        "interrupted",
        "interrupted",
        "[('first', 'materialized')]",
        "True",
        "['long_query', 'after']",
    ], proc.stderr


def test_a_second_run_refuses_assets_another_live_run_holds(project: ProjectDir) -> None:
    import os

    project.write("assets.py", WIDE)
    session = project.session()
    plan = session.plan()
    left = StepKey(session.get("left").key)
    assert session.state.acquire_locks("other-run", [left], os.getpid()) == []
    with pytest.raises(AssetsLockedError) as err:
        session.materialize(plan=plan, wait=False)
    assert str(err.value) == (
        f"run other-run (pid {os.getpid()}) holds 1 selected asset (left); nothing was run. "
        "Try again when it finishes, or let this run wait for it."
    )
    assert session.state.runs() == []  # a refused run leaves no trace
    session.state.release_locks("other-run")
    assert session.materialize(plan=plan, wait=False).success


def test_none_and_unsupported_returns_fail_with_a_clear_message(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        "from assets_core import asset\n\n@asset\ndef nothing():\n    return None\n\n"
        "@asset\ndef listed():\n    return [1, 2]\n",
    )
    result = project.session().materialize()
    errors = {str(k): v for k, v in result.errors.items()}
    assert errors["nothing"] == (
        "nothing: returned None; return the asset's data "
        "(a pandas.DataFrame, pyarrow.Table or duckdb relation)."
    )
    assert errors["listed"].startswith("listed: the memory IO manager cannot store a value")
