"""The backends that run steps in this process: ``in-process`` (each step in the scheduler's
own thread, one at a time) and ``threads`` (a pool of threads)."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assets_core.execution.step import StepEnvironment, run_step

if TYPE_CHECKING:
    from assets_core.execution.backends import Done
    from assets_core.model.keys import StepKey
    from assets_core.model.project import ProjectConfig

__all__ = ["InProcessBackend", "ThreadsBackend"]


class InProcessBackend:
    """Runs each step at once, in the caller's thread (for debugging)."""

    shares_memory = True
    ahead = 0

    def __init__(
        self,
        env: StepEnvironment,
        steps: Sequence[StepKey],
        workers: int,
        cancelled: threading.Event,
        config: ProjectConfig | None,
    ) -> None:
        self._env = env
        self._cancelled = cancelled

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        done(step, run_step(self._env, step, run_id, self._cancelled))

    def shutdown(self, *, wait: bool) -> None:
        """Nothing runs after ``submit`` returns."""


class ThreadsBackend:
    """Runs steps on a pool of ``workers`` threads."""

    shares_memory = True
    ahead = 0

    def __init__(
        self,
        env: StepEnvironment,
        steps: Sequence[StepKey],
        workers: int,
        cancelled: threading.Event,
        config: ProjectConfig | None,
    ) -> None:
        self._env = env
        self._cancelled = cancelled
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lumbung")

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        self._pool.submit(self._run, step, run_id, done)

    def _run(self, step: StepKey, run_id: str, done: Done) -> None:
        try:
            outcome = run_step(self._env, step, run_id, self._cancelled)
        except BaseException as exc:  # run_step catches the asset's errors; a last resort
            done(step, exc)
            return
        done(step, outcome)

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
