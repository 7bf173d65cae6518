"""Runs a ``Plan``: loads inputs, calls asset functions, saves outputs, records provenance.

The scheduler runs in the calling thread and hands ready steps to a worker pool (threads by
default, one process per worker, or inline for debugging). Right before a ``pending`` step runs
it is checked again against the data versions its upstreams just wrote: when every one equals
what the asset last read, the step is skipped as ``up to date`` (early cutoff). A failure
skips everything downstream of it; independent branches go on. Records are written in
batches, never one transaction per event.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import heapq
import os
import queue
import secrets
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assets_core.errors import AssetExecutionError, LumbungError, PlanError
from assets_core.execution import interrupts
from assets_core.execution.locking import lock_plan
from assets_core.model.keys import AssetKey
from assets_core.model.spec import Asset
from assets_core.planning.planner import Plan
from assets_core.storage.io import (
    AssetContext,
    InputContext,
    OutputContext,
    StoredOutput,
    _DuckDBHolder,
)
from assets_core.storage.state import (
    LockConflict,
    MaterializationRecord,
    Outcome,
    RunRecord,
    StateStore,
)

if TYPE_CHECKING:
    from assets_core.model.definitions import Definitions

EXECUTORS: tuple[str, ...] = ("threads", "in-process", "processes")
RETRY_BASE_DELAY = 0.5  # seconds; doubled after every failed attempt
RETRY_MAX_DELAY = 30.0
FLUSH_EVERY = 0.5  # seconds between batched state writes
FLUSH_SIZE = 256  # records
INLINE_BELOW = 0.005  # seconds: threads run quicker assets in the scheduling thread
_ENGINE_DIR = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to one step, for progress displays. ``waiting`` (before any
    step starts, at most once) says that another run holds assets of the plan: ``key`` is the
    first of them and ``message`` the line to show."""

    kind: Literal["started", "materialized", "up_to_date", "failed", "skipped", "retry", "waiting"]
    key: AssetKey
    duration: float = 0.0
    message: str = ""


@dataclass
class RunResult:
    """What a run did. Each list holds keys in the order their outcome was decided."""

    run_id: str
    materialized: list[AssetKey] = field(default_factory=list)
    up_to_date: list[AssetKey] = field(default_factory=list)
    failed: list[AssetKey] = field(default_factory=list)
    skipped: list[AssetKey] = field(default_factory=list)
    errors: dict[AssetKey, str] = field(default_factory=dict)
    durations: dict[AssetKey, float] = field(default_factory=dict)
    started_at: float = 0.0
    ended_at: float = 0.0
    interrupted: bool = False

    @property
    def success(self) -> bool:
        return not self.failed and not self.interrupted

    def summary(self) -> str:
        return (
            f"{len(self.materialized)} materialized, {len(self.up_to_date)} up to date, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "materialized": [str(k) for k in self.materialized],
            "up_to_date": [str(k) for k in self.up_to_date],
            "failed": [str(k) for k in self.failed],
            "skipped": [str(k) for k in self.skipped],
            "errors": {str(k): v.splitlines()[0] for k, v in self.errors.items()},
        }


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one step's attempt produced (picklable, for the processes executor)."""

    key: AssetKey
    stored: StoredOutput | None
    started_at: float
    ended_at: float
    error: str | None = None
    attempts: int = 1


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with Lumbung's own frames left out."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_ENGINE_DIR)
    ]
    text = "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return "Traceback (most recent call last):\n" + text if frames else text


def run_step(
    defs: Definitions,
    key: AssetKey,
    run_id: str,
    cancelled: threading.Event | None = None,
) -> _Outcome:
    """Load inputs, call the function (with retries), save the output. Never raises for a
    failure of the asset: the error text is in the outcome."""
    asset = defs.assets[key]
    assert isinstance(asset, Asset)
    started = time.time()
    attempts = 0
    while True:
        attempts += 1
        try:
            stored = _attempt(defs, asset, run_id, cancelled)
            return _Outcome(key, stored, started, time.time(), attempts=attempts)
        except _Cancelled:
            return _Outcome(key, None, started, time.time(), error="interrupted")
        except Exception as exc:
            if cancelled is not None and cancelled.is_set():  # e.g. DuckDB's "Query interrupted"
                return _Outcome(key, None, started, time.time(), error="interrupted")
            if attempts <= asset.spec.retries and not (cancelled and cancelled.is_set()):
                delay = min(RETRY_BASE_DELAY * 2 ** (attempts - 1), RETRY_MAX_DELAY)
                time.sleep(delay)
                continue
            if isinstance(exc, LumbungError):
                text = str(exc)
            else:
                text = f"{key}: {type(exc).__name__}: {exc}\n{_user_traceback(exc)}"
            return _Outcome(key, None, started, time.time(), error=text, attempts=attempts)


class _Cancelled(Exception):
    pass


def _attempt(
    defs: Definitions, asset: Asset, run_id: str, cancelled: threading.Event | None
) -> StoredOutput:
    key = asset.key
    holder = _DuckDBHolder()
    try:
        kwargs: dict[str, Any] = {}
        for b in defs.input_bindings(asset):
            if b.error is not None:
                raise AssetExecutionError(str(key), f"parameter '{b.param}': {b.error}")
            value: Any = defs.load_input(
                InputContext(
                    key=b.key,
                    spec=b.spec,
                    expected_type=b.annotation,
                    consumer=key,
                    param=b.param,
                    run_id=run_id,
                    _duckdb=holder,
                )
            )
            if b.target == "duckdb":  # SQL in the asset can name its inputs
                value.create_view(b.param, replace=True)
            kwargs[b.param] = value
        if asset.wants_context:
            kwargs["context"] = AssetContext(key, asset.spec, run_id, duckdb_holder=holder)
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        result = asset.fn(**kwargs)
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        if type(result).__name__ == "RecordBatchReader":  # duckdb's rel.arrow() returns one
            result = result.read_all()
        if result is None:
            raise AssetExecutionError(
                str(key),
                "returned None; return the asset's data "
                "(a pandas.DataFrame, pyarrow.Table or duckdb relation).",
            )
        manager = defs.io_manager_for(asset)
        return manager.save(OutputContext(key, asset.spec, run_id), result)
    finally:
        holder.close()


def _make_pool(defs: Definitions, executor: str, workers: int) -> cf.Executor | None:
    if executor == "in-process":
        return None
    if executor == "threads":
        return cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lumbung")
    from assets_core.execution.workers import make_pool

    return make_pool(defs, workers)


# ---- the scheduler ---------------------------------------------------------------------


class _Recorder:
    """Buffers records and writes them in batches."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.buffer: list[MaterializationRecord] = []
        self.last_flush = time.monotonic()

    def add(self, record: MaterializationRecord) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= FLUSH_SIZE or time.monotonic() - self.last_flush > FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.state.record(self.buffer)
            self.buffer = []
        self.last_flush = time.monotonic()


def execute(
    plan: Plan,
    defs: Definitions,
    state: StateStore,
    *,
    executor: str = "threads",
    workers: int | None = None,
    on_event: Callable[[Event], None] | None = None,
    selection: str | None = None,
    lock_wait: bool = True,
    lock_timeout: float | None = None,
) -> RunResult:
    """Run every step of ``plan``. Raises ``KeyboardInterrupt`` after recording what finished
    when interrupted; otherwise returns a ``RunResult`` (failures are in it, not raised).

    The run first locks the plan's assets (``assets_core.execution.locking``): while another
    live run holds any of them it waits (``lock_wait``, at most ``lock_timeout`` seconds),
    else raises ``AssetsLockedError`` having run and recorded nothing. When the state changed
    since the
    plan was made, the selection is planned again; steps another run built meanwhile are
    reported ``up to date``."""
    if executor not in EXECUTORS:
        raise PlanError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")
    if workers is not None and workers < 1:
        raise PlanError(f"workers must be 1 or more, got {workers}.")
    n_workers = workers or os.cpu_count() or 1
    if executor == "processes":
        defs.check_processes_ok(plan.keys)

    run_id = new_run_id()
    emit = on_event or (lambda e: None)
    if not plan.steps:
        started = time.time()
        state.start_run(RunRecord(run_id, started, selection=selection, pid=os.getpid()))
        state.finish_run(run_id, "success", time.time())
        return _finish(RunResult(run_id=run_id, started_at=started), time.time())

    def waiting(conflicts: Sequence[LockConflict], line: str) -> None:
        emit(Event("waiting", conflicts[0].key, message=line))

    # Nothing is recorded for a run until it holds its locks: a refused run leaves no trace.
    planned = plan
    plan = lock_plan(
        plan, defs, state, run_id, wait=lock_wait, timeout=lock_timeout, notify=waiting
    )
    started = time.time()
    result = RunResult(run_id=run_id, started_at=started)
    recorder = _Recorder(state)
    try:
        state.start_run(RunRecord(run_id, started, selection=selection, pid=os.getpid()))
        _built_meanwhile(planned, plan, run_id, recorder, emit, result)
    except BaseException:
        state.release_locks(run_id)
        raise
    cancelled = threading.Event()
    # Everything alive now (the project, its modules, the plan) outlives the run: keep the
    # collector from rescanning it after every few thousand allocations of the assets.
    gc.freeze()
    # A second Ctrl-C must not cut the cleanup short (see assets_core.execution.interrupts).
    with interrupts.watch(cancelled):
        try:
            outcome = _schedule(
                plan, defs, run_id, executor, n_workers, recorder, emit, result, cancelled
            )
        except BaseException:
            recorder.flush()
            state.finish_run(run_id, "interrupted", time.time())
            state.release_locks(run_id)
            raise
        finally:
            gc.unfreeze()
    recorder.flush()
    state.finish_run(run_id, outcome, time.time())
    state.release_locks(run_id)
    return _finish(result, time.time())


def _finish(result: RunResult, ended: float) -> RunResult:
    result.ended_at = ended
    return result


def _built_meanwhile(
    planned: Plan,
    plan: Plan,
    run_id: str,
    recorder: _Recorder,
    emit: Callable[[Event], None],
    result: RunResult,
) -> None:
    """Steps of the first plan that another run built while this one waited: up to date."""
    if plan is planned:
        return
    now = set(plan.keys)
    for key in planned.keys:
        if key not in now and key in plan.last:
            result.up_to_date.append(key)
            _record(recorder, key, (), run_id, "up_to_date", plan, plan.current)
            emit(Event("up_to_date", key))


def _schedule(
    plan: Plan,
    defs: Definitions,
    run_id: str,
    executor: str,
    workers: int,
    recorder: _Recorder,
    emit: Callable[[Event], None],
    result: RunResult,
    cancelled: threading.Event,
) -> Literal["success", "failed"]:
    graph = defs.graph
    in_plan = {s.key: s for s in plan.steps}
    order = {k: i for i, k in enumerate(in_plan)}
    children = {k: [c for c in graph.children(k) if c in in_plan] for k in in_plan}
    waiting = dict.fromkeys(in_plan, 0)
    for kids in children.values():
        for c in kids:
            waiting[c] += 1
    # The data version of every upstream as it stands now: this run's outputs replace
    # what was read while planning.
    versions: dict[AssetKey, str | None] = dict(plan.current)
    failed_up: set[AssetKey] = set()
    ready = [(order[k], k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    done: queue.SimpleQueue[tuple[AssetKey, _Outcome | BaseException]] = queue.SimpleQueue()
    running = 0
    pool = _make_pool(defs, executor, workers)

    def settle(key: AssetKey) -> None:
        for child in children[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (order[child], child))

    def decide(key: AssetKey) -> bool:
        """Skip ``key`` (upstream failed, or early cutoff); True if it must run."""
        upstream = defs.upstream[key]
        bad = [u for u in upstream if u in failed_up]
        if bad:
            failed_up.add(key)
            result.skipped.append(key)
            why = f"upstream {bad[0]} failed"
            _record(recorder, key, upstream, run_id, "skipped", plan, versions, error=why)
            emit(Event("skipped", key, message=why))
            settle(key)
            return False
        last = plan.last.get(key)
        if (
            in_plan[key].status == "pending"
            and last is not None
            and all(versions.get(u) == last.inputs.get(u) for u in upstream)
        ):
            result.up_to_date.append(key)
            _record(recorder, key, upstream, run_id, "up_to_date", plan, versions)
            emit(Event("up_to_date", key))
            settle(key)
            return False
        return True

    def submit(key: AssetKey) -> None:
        if executor == "in-process":
            done.put((key, run_step(defs, key, run_id, cancelled)))
        elif executor == "threads":
            assert pool is not None
            pool.submit(_run_into, done, defs, key, run_id, cancelled)
        else:
            assert pool is not None
            fut = _submit_blocking_sigint(pool, key, run_id)

            def finished(f: cf.Future[_Outcome], k: AssetKey = key) -> None:
                exc = f.exception()
                done.put((k, exc if exc is not None else f.result()))

            fut.add_done_callback(finished)

    recent: deque[float] = deque(maxlen=32)

    def inline(key: AssetKey) -> bool:
        """Run ``key`` in this thread? Yes when it is expected to take so little time that
        handing it to a thread (and contending for the GIL) would cost more than it gains:
        judged by its last duration, else by the assets finished so far in this run."""
        if executor != "threads":
            return False
        last = plan.last.get(key)
        if last is not None and last.duration > 0:
            return last.duration < INLINE_BELOW
        return len(recent) >= 8 and sorted(recent)[len(recent) // 2] < INLINE_BELOW

    def handle(key: AssetKey, out: _Outcome | BaseException) -> None:
        if cancelled.is_set():  # interrupted: a failure now may be the interrupt's doing
            keep(key, out)
            raise KeyboardInterrupt
        if isinstance(out, BaseException):  # a worker process died or could not start
            out = _Outcome(key, None, time.time(), time.time(), error=f"{key}: {out!r}")
        recent.append(out.ended_at - out.started_at)
        _complete(out, plan, defs, run_id, recorder, versions, failed_up, result, emit)
        settle(key)

    def keep(key: AssetKey, out: _Outcome | BaseException) -> None:
        """Record a step that finished whole, though the run was interrupted meanwhile."""
        if isinstance(out, _Outcome) and out.stored is not None:
            _complete(out, plan, defs, run_id, recorder, versions, failed_up, result, emit)

    def drain() -> None:
        """Record the steps that finished before the interrupt was noticed."""
        while True:
            try:
                key, out = done.get_nowait()
            except queue.Empty:
                return
            keep(key, out)

    try:
        while ready or running:
            while ready and running < workers:
                key = heapq.heappop(ready)[1]
                if not decide(key):
                    continue
                emit(Event("started", key))
                if inline(key):
                    handle(key, run_step(defs, key, run_id, cancelled))
                    continue
                running += 1
                submit(key)
            if not running:
                continue
            key, out = done.get()
            running -= 1
            handle(key, out)
    except BaseException:
        # Do not wait for running steps: they see ``cancelled`` and are not recorded.
        cancelled.set()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        drain()
        raise
    if pool is not None:
        pool.shutdown(wait=True)
    return "failed" if result.failed else "success"


def _submit_blocking_sigint(pool: cf.Executor, key: AssetKey, run_id: str) -> cf.Future[_Outcome]:
    """``pool.submit`` with SIGINT blocked meanwhile, so a worker process it starts inherits
    the block until ``workers._init`` ignores SIGINT: a Ctrl-C to the terminal's process group
    then never reaches a worker (nor prints its traceback). Here the signal waits, then
    arrives."""
    from assets_core.execution.workers import run

    if not hasattr(signal, "pthread_sigmask"):
        return pool.submit(run, key, run_id)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(run, key, run_id)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _run_into(
    done: queue.SimpleQueue[tuple[AssetKey, _Outcome | BaseException]],
    defs: Definitions,
    key: AssetKey,
    run_id: str,
    cancelled: threading.Event,
) -> None:
    try:
        done.put((key, run_step(defs, key, run_id, cancelled)))
    except BaseException as exc:  # run_step catches user errors; this is a last resort
        done.put((key, exc))


def _complete(
    out: _Outcome,
    plan: Plan,
    defs: Definitions,
    run_id: str,
    recorder: _Recorder,
    versions: dict[AssetKey, str | None],
    failed_up: set[AssetKey],
    result: RunResult,
    emit: Callable[[Event], None],
) -> None:
    key = out.key
    duration = out.ended_at - out.started_at
    result.durations[key] = duration
    if out.stored is None:
        failed_up.add(key)
        result.failed.append(key)
        error = out.error or "failed"
        result.errors[key] = error
        _record(
            recorder,
            key,
            defs.upstream[key],
            run_id,
            "failed",
            plan,
            versions,
            out=out,
            error=error,
        )
        emit(Event("failed", key, duration, error.splitlines()[0]))
        return
    versions[key] = out.stored.data_version
    result.materialized.append(key)
    _record(
        recorder,
        key,
        defs.upstream[key],
        run_id,
        "materialized",
        plan,
        versions,
        out=out,
    )
    emit(Event("materialized", key, duration))


def _record(
    recorder: _Recorder,
    key: AssetKey,
    upstream: tuple[AssetKey, ...],
    run_id: str,
    outcome: Outcome,
    plan: Plan,
    versions: Mapping[AssetKey, str | None],
    out: _Outcome | None = None,
    error: str | None = None,
) -> None:
    cv = plan.code_versions.get(key)
    now = time.time()
    stored = out.stored if out is not None else None
    if outcome == "up_to_date":
        last = plan.last[key]
        data_version, inputs = last.data_version, dict(last.inputs)
    else:
        data_version = stored.data_version if stored is not None else None
        inputs = {u: versions.get(u) for u in upstream}
    recorder.add(
        MaterializationRecord(
            key=key,
            run_id=run_id,
            outcome=outcome,
            code_version=cv.version if cv is not None else "",
            code_components=cv.components if cv is not None else {},
            data_version=data_version,
            inputs=inputs,
            started_at=out.started_at if out is not None else now,
            ended_at=out.ended_at if out is not None else now,
            rows=stored.rows if stored is not None else None,
            bytes=stored.bytes if stored is not None else None,
            location=stored.location if stored is not None else None,
            schema=stored.schema if stored is not None else (),
            error=error,
        )
    )
