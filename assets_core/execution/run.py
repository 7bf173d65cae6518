"""Running a plan: lock its steps, record the run, let the scheduler run the steps on a
backend, and finish the run's record.

Nothing is recorded for a run until it holds its locks, so a refused run leaves no trace. What
its steps log and print is captured (``capture``) and kept with the run (``runlogs``). The
run's outcome is ``success`` or ``failed``; an interrupt (Ctrl-C) records what finished, marks
the run ``interrupted``, releases its locks and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from assets_core.errors import PlanError
from assets_core.execution import interrupts
from assets_core.execution.backends import open_backend
from assets_core.execution.capture import Capture, installed
from assets_core.execution.handover import Handover
from assets_core.execution.locking import lock_plan
from assets_core.execution.recorder import Recorder
from assets_core.execution.result import Event, RunResult, new_run_id
from assets_core.execution.runlogs import RunLogs, Show, print_line
from assets_core.execution.scheduler import Scheduler
from assets_core.execution.step import StepEnvironment
from assets_core.planning.planner import Plan
from assets_core.storage.io import sweep
from assets_core.storage.state import (
    LockConflict,
    LockTable,
    LogStore,
    RunRecord,
    RunWriter,
    StateReader,
)

if TYPE_CHECKING:
    from assets_core.model.project import ProjectConfig

__all__ = ["execute"]

_NEVER = logging.CRITICAL + 1  # no line is this loud: nothing is shown


class _Store(RunWriter, LockTable, StateReader, LogStore, Protocol):
    """What a run uses of the state store."""


def execute(
    plan: Plan,
    env: StepEnvironment,
    state: _Store,
    *,
    replan: Callable[[Plan], Plan],
    executor: str = "threads",
    workers: int | None = None,
    address: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    selection: str | None = None,
    lock_wait: bool = True,
    lock_timeout: float | None = None,
    config: ProjectConfig | None = None,
    memory_budget: int | None = None,
    on_log: Show | None = print_line,
    log_level: int = logging.WARNING,
) -> RunResult:
    """Run every step of ``plan`` on the backend named ``executor`` (a clustered one's at
    ``address``). Raises
    ``KeyboardInterrupt`` after recording what finished when interrupted; otherwise returns a
    ``RunResult`` (failures are in it, not raised).

    The run first locks the plan's steps: while another live run holds any of them it waits
    (``lock_wait``, at most ``lock_timeout`` seconds), else raises ``AssetsLockedError``
    having run and recorded nothing. When the state changed since the plan was made,
    ``replan`` plans the selection again; steps another run built meanwhile are reported
    ``up to date``. Values are handed over in memory up to ``memory_budget`` bytes where the
    backend shares this process (see ``assets_core.execution.handover``).

    What each step logs and prints is kept with the run; lines at ``log_level`` or above
    (``capture.rank``: stdout counts as INFO, stderr as WARNING) go to ``on_log`` as they
    come, from any thread (by default: to stderr, prefixed with the step)."""
    if workers is not None and workers < 1:
        raise PlanError(f"workers must be 1 or more, got {workers}.")
    n_workers = workers or os.cpu_count() or 1
    cancelled = threading.Event()
    run_id = new_run_id()
    logs = RunLogs(state, run_id, on_log, log_level)
    env.logs = Capture(logs.add, log_level if on_log is not None else _NEVER)
    backend = open_backend(
        executor,
        env,
        plan.keys,
        workers=n_workers,
        cancelled=cancelled,
        config=config,
        address=address,
    )
    if backend.shares_memory:
        budget = memory_budget
        if budget is None:
            from assets_core.execution.handover import default_budget

            budget = default_budget()
        env.handover = Handover(budget) if budget > 0 else None

    emit = on_event or (lambda e: None)
    if not plan.steps:
        started = time.time()
        state.start_run(RunRecord(run_id, started, selection=selection, pid=os.getpid()))
        state.finish_run(run_id, "success", time.time())
        backend.shutdown(wait=True)
        env.logs = None
        return _finish(RunResult(run_id=run_id, started_at=started), time.time())

    def waiting(conflicts: Sequence[LockConflict], line: str) -> None:
        emit(Event("waiting", conflicts[0].step, message=line))

    planned = plan
    try:
        plan = lock_plan(
            plan,
            state,
            run_id,
            replan=replan,
            wait=lock_wait,
            timeout=lock_timeout,
            notify=waiting,
        )
    except BaseException:
        backend.shutdown(wait=False)
        env.logs = None
        raise
    started = time.time()
    result = RunResult(run_id=run_id, started_at=started)
    recorder = Recorder(state, plan, run_id, logs)
    try:
        state.start_run(RunRecord(run_id, started, selection=selection, pid=os.getpid()))
        _built_meanwhile(planned, plan, recorder, emit, result)
    except BaseException:
        state.release_locks(run_id)
        backend.shutdown(wait=False)
        env.logs = None
        raise
    if not backend.shares_memory:  # steps run in other processes, which may outlive this one
        make_fence = getattr(state, "fence", None)
        env.fence = make_fence(run_id) if make_fence is not None else None
        env.code_versions = {k: cv.version for k, cv in plan.code_versions.items()}
    scheduler = Scheduler(plan, env, backend, n_workers, recorder, result, emit, cancelled)
    # Everything alive now (the project, its modules, the plan) outlives the run: keep the
    # collector from rescanning it after every few thousand allocations of the assets. What
    # a caller froze before (the CLI, which exits after the run) stays frozen after it: the
    # freeze is the caller's, and so the interpreter's last collection at exit skips it too.
    frozen_by_caller = gc.get_freeze_count() > 0
    gc.freeze()
    # A second Ctrl-C must not cut the cleanup short (see assets_core.execution.interrupts).
    # Steps running here say what they say through the router (worker processes have
    # their own).
    routed = installed() if backend.shares_memory else contextlib.nullcontext()
    with interrupts.watch(cancelled), routed:
        try:
            outcome = scheduler.run()
        except BaseException:
            recorder.flush()
            state.finish_run(run_id, "interrupted", time.time())
            _sweep(env, plan)
            state.release_locks(run_id)
            raise
        finally:
            if not frozen_by_caller:
                gc.unfreeze()
            env.handover = None
            env.jobs = None
            env.fence = None
            env.code_versions = None
            env.logs = None
            result.logged = logs.counts()
    _sweep(env, plan)
    recorder.flush()
    state.finish_run(run_id, outcome, time.time())
    state.release_locks(run_id)
    return _finish(result, time.time())


def _sweep(env: StepEnvironment, plan: Plan) -> None:
    """Once the backend has ended (its worker processes reaped), let the IO managers of the
    plan's steps remove what writers killed during the run left: a temporary file of a
    worker killed mid-write must not outlive the run that saw it die."""
    defs = env.defs
    names = {defs.io_manager_name(defs.assets[step.asset]) for step in plan.keys}
    for name in sorted(names):
        try:
            manager = env.io.get(name)
        except Exception:  # a manager that cannot be built ran nothing to sweep after
            continue
        sweep(manager)


def _finish(result: RunResult, ended: float) -> RunResult:
    result.ended_at = ended
    return result


def _built_meanwhile(
    planned: Plan,
    plan: Plan,
    recorder: Recorder,
    emit: Callable[[Event], None],
    result: RunResult,
) -> None:
    """Steps of the first plan that another run built while this one waited: up to date."""
    if plan is planned:
        return
    now = set(plan.keys)
    for step in planned.keys:
        if step not in now and step in plan.last:
            result.up_to_date.append(step)
            recorder.record(step, "up_to_date", plan.current)
            emit(Event("up_to_date", step))
