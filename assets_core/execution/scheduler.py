"""The scheduler: the one loop that runs a plan's steps, whatever backend runs them.

It keeps the ready queue (steps whose upstream steps are decided, in plan order), hands ready
steps to the backend up to ``workers`` at a time, and decides each step's outcome:

- **failure propagation**: a step whose upstream failed is skipped (``upstream X failed``);
  independent branches go on;
- **early cutoff**: right before a ``pending`` step runs it is checked again against the data
  versions its upstreams just wrote; when every one equals what it last read, it is skipped as
  ``up to date``;
- **retries**: a failed step with ``retries`` left is run again after a backoff (doubled each
  attempt), without holding a worker meanwhile.

Records go to the ``Recorder`` as outcomes are decided, and each decided step tells the
handover (values in memory) that it no longer needs its inputs.

A partitioned asset has one step per partition, each waiting for exactly the upstream steps
its plan step maps it to (``Plan.upstream``: a day's 7-day window waits for its 7 days, a
month for its days). A ``backfill="single_run"`` asset's contiguous range of steps is one call
(``jobs``): it is ready when every step of it is, and is skipped, run, retried and recorded
as one, each step with its own record.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from assets_core.execution.backends import Backend
from assets_core.execution.checks import checks_wait_for
from assets_core.execution.jobs import plan_jobs
from assets_core.execution.recorder import Recorder
from assets_core.execution.result import Event, RunResult
from assets_core.execution.step import StepEnvironment, StepOutcome, run_step
from assets_core.model.keys import StepKey
from assets_core.planning.planner import Plan

__all__ = ["INLINE_BELOW", "RETRY_BASE_DELAY", "RETRY_MAX_DELAY", "WAITS_FROM", "Scheduler"]

RETRY_BASE_DELAY = 0.5  # seconds; doubled after every failed attempt
RETRY_MAX_DELAY = 30.0
#: CPU seconds: a step expected to take less on its thread runs in the scheduler's thread
INLINE_BELOW = 0.005
#: wall-clock seconds: a step that took this long is handed to a worker whatever its CPU
#: (it waits on something: a network, a lock, a subprocess)
WAITS_FROM = 0.05
#: how many of the last steps judge the next ones (``Scheduler._inline``)
RECENT = 32


class Scheduler:
    """Runs one plan through one backend (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        env: StepEnvironment,
        backend: Backend,
        workers: int,
        recorder: Recorder,
        result: RunResult,
        emit: Callable[[Event], None],
        cancelled: threading.Event,
    ) -> None:
        self.plan = plan
        self.env = env
        self.backend = backend
        self.workers = workers
        # steps handed to the backend at once: more than ``workers`` for a backend that queues
        # them where they run (``ahead``: a cluster's worker starts its next step at once)
        self.slots = workers + backend.ahead
        self.recorder = recorder
        self.result = result
        self.emit = emit
        self.cancelled = cancelled
        self.run_id = recorder.run_id
        self.steps = {s.step: s for s in plan.steps}
        self.order = {k: i for i, k in enumerate(self.steps)}
        self.children: dict[StepKey, list[StepKey]] = {k: [] for k in self.steps}
        self.waiting = dict.fromkeys(self.steps, 0)
        jobs, self.calls = plan_jobs(plan, env.defs)
        env.jobs = jobs or None
        # the steps of a single_run call after its first: they wait and run as the first
        lead = {m: first for first, steps in self.calls.items() for m in steps[1:]}
        readers: dict[StepKey, int] = {}
        for k in self.steps:
            node = lead.get(k, k) if lead else k
            for u in plan.upstream.get(k, ()):
                readers[u] = readers.get(u, 0) + 1
                if u in self.steps:
                    self.children[u].append(node)
                    self.waiting[node] += 1
        for k, first in checks_wait_for(env.defs, self.steps).items():
            node = lead.get(k, k) if lead else k
            ups = plan.upstream.get(k, ())
            for u in first:  # ordering only: a check reads it from storage, never handed over
                if u in ups:
                    continue
                self.children[u].append(node)
                self.waiting[node] += 1
        if env.handover is not None:
            env.handover.expect(readers)
        # The data version of every upstream as it stands now: this run's outputs replace
        # what was read while planning.
        self.versions: dict[StepKey, str | None] = dict(plan.current)
        # each step's last success, looked up in the plan's state once, not per decision
        lasts = plan.last
        self.last = {k: lasts[k] for k in self.steps if k in lasts}
        self.failed_up: set[StepKey] = set()
        self.ready = [
            (self.order[k], k) for k, n in self.waiting.items() if n == 0 and k not in lead
        ]
        heapq.heapify(self.ready)
        self.retrying: list[tuple[float, int, StepKey]] = []  # (due, order, step)
        self.attempts: dict[StepKey, int] = {}
        self.done: queue.SimpleQueue[tuple[StepKey, StepOutcome | BaseException]] = (
            queue.SimpleQueue()
        )
        self.running = 0
        # whether each of the last steps finished was trivial (``_trivial``), and how many were
        self.recent: deque[bool] = deque(maxlen=RECENT)
        self.trivial = 0

    # ---- the loop -----------------------------------------------------------------------------

    def run(self) -> Literal["success", "failed"]:
        """Run every step; return the run's status. On an interrupt (or any exception) the
        running steps are not waited for; the steps that finished are recorded first."""
        try:
            self._loop()
        except BaseException:
            # Do not wait for running steps: they see ``cancelled`` and are not recorded.
            self.cancelled.set()
            self.backend.shutdown(wait=False)
            self._drain()
            raise
        self.backend.shutdown(wait=True)
        return "failed" if self.result.failed else "success"

    def _loop(self) -> None:
        while self.ready or self.running or self.retrying:
            self._start_due_retries()
            while self.ready and self.running < self.slots:
                step = heapq.heappop(self.ready)[1]
                if self._decide(step):
                    self._start(step)
            if not self.running:
                if self.retrying:  # nothing runs: wait for the next retry (or a Ctrl-C)
                    self.cancelled.wait(max(0.0, self.retrying[0][0] - time.monotonic()))
                continue
            timeout = None
            if self.retrying:
                timeout = max(0.0, self.retrying[0][0] - time.monotonic())
            try:
                step, out = self.done.get(timeout=timeout)
            except queue.Empty:
                continue
            self.running -= 1
            self._handle(step, out)

    def _start(self, step: StepKey) -> None:
        self.attempts[step] = self.attempts.get(step, 0) + 1
        if self.attempts[step] == 1:
            for s in self.calls.get(step, (step,)):
                self.emit(Event("started", s))
        if self._inline(step):
            self._handle(step, run_step(self.env, step, self.run_id, self.cancelled))
            return
        self.running += 1
        self.backend.submit(step, self.run_id, self._report)

    def _report(self, step: StepKey, out: StepOutcome | BaseException) -> None:
        self.done.put((step, out))

    def _start_due_retries(self) -> None:
        now = time.monotonic()
        while self.retrying and self.retrying[0][0] <= now and self.running < self.slots:
            step = heapq.heappop(self.retrying)[2]
            self._start(step)

    def _inline(self, step: StepKey) -> bool:
        """Run ``step`` in this thread? Yes, on a backend sharing this process, when it is
        expected to take so little time that handing it to a worker (and contending for the
        GIL) would cost more than it gains: judged by its last duration (the wall clock the
        state keeps), else by the steps finished so far in this run, most of which must have
        been trivial (``_note``)."""
        if not self.backend.shares_memory or self.workers < 2:
            return False
        last = self.last.get(step)
        if last is not None and last.duration > 0:
            return last.duration < INLINE_BELOW
        return len(self.recent) >= 8 and 2 * self.trivial > len(self.recent)

    def _note(self, out: StepOutcome) -> None:
        """Count a finished step among the recent ones: trivial when it took little CPU on its
        thread and did not wait long. The CPU time, not the wall clock alone, so that on a
        loaded machine, where a trivial step waits for a core, it still runs inline."""
        recent = self.recent
        trivial = out.cpu < INLINE_BELOW and out.ended_at - out.started_at < WAITS_FROM
        if len(recent) == RECENT:
            self.trivial -= recent[0]
        recent.append(trivial)
        self.trivial += trivial

    # ---- deciding outcomes ----------------------------------------------------------------------

    def _decide(self, step: StepKey) -> bool:
        """Skip ``step`` (upstream failed, or early cutoff); True if it must run. A
        ``single_run`` call is skipped when any of its steps' upstream failed, and cut off
        only when every one of its steps is up to date."""
        call = self.calls.get(step) if self.calls else None
        if call is not None:
            return self._decide_call(call)
        upstream = self.plan.upstream.get(step, ())
        bad = [u for u in upstream if u in self.failed_up]
        if bad:
            self._skip(step, bad[0])
            return False
        if self._cut_off(step, upstream):
            self._up_to_date(step)
            return False
        return True

    def _decide_call(self, call: tuple[StepKey, ...]) -> bool:
        failed_up = self.failed_up
        upstream = self.plan.upstream
        bad = next((u for s in call for u in upstream.get(s, ()) if u in failed_up), None)
        if bad is not None:
            for s in call:
                self._skip(s, bad)
            return False
        if all(self._cut_off(s, upstream.get(s, ())) for s in call):
            for s in call:
                self._up_to_date(s)
            return False
        return True

    def _cut_off(self, step: StepKey, upstream: tuple[StepKey, ...]) -> bool:
        last = self.last.get(step)
        versions = self.versions
        return (
            self.steps[step].status == "pending"
            and last is not None
            and all(versions.get(u) == last.inputs.get(u) for u in upstream)
        )

    def _skip(self, step: StepKey, bad: StepKey) -> None:
        self.failed_up.add(step)
        self.result.skipped.append(step)
        why = f"upstream {bad} failed"
        self.recorder.record(step, "skipped", self.versions, error=why)
        self.emit(Event("skipped", step, message=why))
        self._settle(step)

    def _up_to_date(self, step: StepKey) -> None:
        self.result.up_to_date.append(step)
        self.recorder.record(step, "up_to_date", self.versions)
        self.emit(Event("up_to_date", step))
        self._settle(step)

    def _handle(self, step: StepKey, out: StepOutcome | BaseException) -> None:
        if self.cancelled.is_set():  # interrupted: a failure now may be the interrupt's doing
            self._keep(out)
            raise KeyboardInterrupt
        if isinstance(out, BaseException):  # a worker process died or could not start
            now = time.time()
            out = StepOutcome(step, None, now, now, f"{step}: {out!r}", exception=out)
        self._note(out)
        if out.stored is None and self._retry(step, out):
            return
        self._complete(out)
        for s in self.calls.get(step, (step,)) if self.calls else (step,):
            self._settle(s)

    def _retry(self, step: StepKey, out: StepOutcome) -> bool:
        """Schedule another attempt of a failed step if it has retries left."""
        attempts = self.attempts.get(step, 1)
        allowed = self.env.defs.assets[step.asset].spec.retries
        if out.interrupted or attempts > allowed:
            return False
        if any(not o.passed and o.blocking for _, o in out.checks):
            return False  # a check failing on the output fails again on the same output
        delay = min(RETRY_BASE_DELAY * 2 ** (attempts - 1), RETRY_MAX_DELAY)
        first = (out.error or "failed").splitlines()[0]
        self.emit(Event("retry", step, message=f"attempt {attempts} failed: {first}"))
        heapq.heappush(self.retrying, (time.monotonic() + delay, self.order[step], step))
        return True

    def _complete(self, out: StepOutcome) -> None:
        if out.checks:
            self.result.checks += out.checks
            fresh = dict(self.versions)
            for s, stored in out.parts or ((out.step, out.stored),):
                if stored is not None:
                    fresh[s] = stored.data_version
            self.recorder.record_checks(self.env.defs, out.checks, fresh)
        call = self.calls.get(out.step) if self.calls else None
        if call is None:
            self._complete_one(out)
        elif out.stored is None:
            for s in call:
                self._complete_one(replace(out, step=s))
        else:
            for s, stored in out.parts or ((out.step, out.stored),):
                self._complete_one(replace(out, step=s, stored=stored, parts=()))

    def _complete_one(self, out: StepOutcome) -> None:
        step = out.step
        result = self.result
        duration = out.ended_at - out.started_at
        result.durations[step] = duration
        if out.stored is None:
            self.failed_up.add(step)
            result.failed.append(step)
            error = out.error or "failed"
            result.errors[step] = error
            if out.exception is not None:
                result.exceptions[step] = out.exception
            if out.traceback is not None:
                result.tracebacks[step] = out.traceback
            self.recorder.record(step, "failed", self.versions, out=out, error=error)
            self.emit(Event("failed", step, duration, error.splitlines()[0]))
            return
        self.versions[step] = out.stored.data_version
        result.materialized.append(step)
        self.recorder.record(step, "materialized", self.versions, out=out)
        self.emit(Event("materialized", step, duration))

    def _settle(self, step: StepKey) -> None:
        """``step`` is decided: release its inputs, and ready the steps that waited on it."""
        handover = self.env.handover
        if handover is not None:
            handover.finished(self.plan.upstream.get(step, ()))
        for child in self.children[step]:
            self.waiting[child] -= 1
            if self.waiting[child] == 0:
                heapq.heappush(self.ready, (self.order[child], child))

    def _keep(self, out: StepOutcome | BaseException) -> None:
        """Record a step that finished whole, though the run was interrupted meanwhile."""
        if isinstance(out, StepOutcome) and out.stored is not None:
            self._complete(out)

    def _drain(self) -> None:
        """Record the steps that finished before the interrupt was noticed."""
        while True:
            try:
                _, out = self.done.get_nowait()
            except queue.Empty:
                return
            self._keep(out)
