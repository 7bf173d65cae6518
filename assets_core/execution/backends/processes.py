"""The ``processes`` backend: steps run in worker processes, each with its own environment.

A worker needs the project's assets, so starting one means importing the project and the
libraries it uses (pandas alone takes about half a second). On POSIX, workers are forked from a
*fork server*: one clean, single-threaded process that imports those once, so each worker
starts in milliseconds with everything loaded. ``lumbung materialize --executor processes``
starts the server before it loads the project itself (``start_server``), so the two loads
overlap. The server keeps a project it loaded only for the run that asked for it: a run from
Python (``Session.materialize``), which may follow edits in a long-lived process, gets a server
that preloads libraries only, and its workers import the project anew.

Where there is no fork server (Windows), each worker is spawned and loads the project itself.
Definitions built in code, which no worker could import by name, are inherited by ``fork``.
Workers ignore Ctrl-C: the parent handles it for the whole run
(``assets_core.execution.interrupts``). Values are never handed over in memory here.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import os
import signal
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assets_core.errors import PlanError
from assets_core.execution.step import StepEnvironment, StepOutcome, run_step

if TYPE_CHECKING:
    from assets_core.execution.backends import Done
    from assets_core.model.keys import StepKey
    from assets_core.model.project import ProjectConfig

__all__ = ["ProcessesBackend", "start_server"]

#: The project a new fork server loads (its ``ProjectConfig`` as JSON, or ``-`` for none); set
#: only while the parent starts the server, so nothing else inherits it.
PROJECT_ENV = "LUMBUNG_FORKSERVER_PROJECT"
_NO_PROJECT = "-"
#: Libraries every server imports, so workers never pay for them.
PRELOAD = ("pandas", "pyarrow", "pyarrow.parquet", "assets_core.execution.step")

_ENV: StepEnvironment | None = None  # this worker's environment
_PRELOADED: tuple[str, StepEnvironment] | None = None  # (config as JSON, env): fork server only


def start_server(config: ProjectConfig | None = None) -> bool:
    """Start the fork server now (if this platform has one and none is running), loading
    ``config``'s project in it for a run about to start, or only the libraries without one.
    Whether the platform has a fork server."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    mp.set_forkserver_preload([*PRELOAD, __name__])
    os.environ[PROJECT_ENV] = _NO_PROJECT if config is None else config.to_json()
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(PROJECT_ENV, None)
    return True


class ProcessesBackend:
    """Runs steps in a pool of ``workers`` processes."""

    shares_memory = False

    def __init__(
        self,
        env: StepEnvironment,
        steps: Sequence[StepKey],
        workers: int,
        cancelled: threading.Event,
        config: ProjectConfig | None,
    ) -> None:
        import multiprocessing as mp

        global _ENV
        defs = env.defs
        for step in steps:  # data kept in a dict dies with the worker that stored it
            asset = defs.assets[step.asset]
            if defs.io_manager_name(asset) == "memory":
                raise PlanError(
                    f"{step} uses the memory IO manager, which worker processes cannot share; "
                    "use executor='threads' or a persistent IO manager."
                )
        if config is None:  # built in code: cannot be imported by name, so inherit it
            _ENV = StepEnvironment(defs, env.io)
            method = "fork"
        else:  # the CLI started the server already, with the project loaded
            method = "forkserver" if start_server() else "spawn"
        self._pool = cf.ProcessPoolExecutor(workers, mp.get_context(method), _init, (config,))

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        # SIGINT is blocked while the pool may start a worker, so the worker inherits the
        # block until ``_init`` ignores SIGINT: a Ctrl-C to the terminal's process group then
        # never reaches a worker (nor prints its traceback). Here the signal waits, then comes.
        blocking = hasattr(signal, "pthread_sigmask")
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocking else None
        try:
            future = self._pool.submit(_run, step, run_id)
        finally:
            if old is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)

        def finished(f: cf.Future[StepOutcome]) -> None:
            exc = f.exception()
            done(step, exc if exc is not None else f.result())

        future.add_done_callback(finished)

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _init(config: ProjectConfig | None) -> None:
    """A worker's start: ignore Ctrl-C, then take the server's project if it is this run's
    (the same configuration), else import it."""
    global _ENV
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if config is not None:
        if _PRELOADED is not None and _PRELOADED[0] == config.to_json():
            _ENV = _PRELOADED[1]
        else:
            _ENV = StepEnvironment.from_config(config)
    # What is loaded now lives as long as the worker: keep it out of the collector's passes,
    # which asset code's allocations trigger often (as the parent does before a run).
    gc.freeze()


def _run(step: StepKey, run_id: str) -> StepOutcome:
    """Run one step in this worker."""
    assert _ENV is not None, "worker has no project loaded"
    return run_step(_ENV, step, run_id)


def _preload() -> None:
    """In a new fork server: load the project the parent named (if any), so every worker
    forked from here has it. A project that fails to load is left to the workers, which
    report the error as a run would."""
    global _PRELOADED
    text = os.environ.pop(PROJECT_ENV, None)
    if text is None:
        return
    # The server's children take its signal handlers: they must ignore Ctrl-C from birth.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if text == _NO_PROJECT:
        return
    try:
        from assets_core.model.project import ProjectConfig

        config = ProjectConfig.from_json(text)
        _PRELOADED = (text, StepEnvironment.from_config(config))
    except BaseException:  # the workers will load it and say what is wrong
        _PRELOADED = None


if PROJECT_ENV in os.environ:  # imported as the fork server's preload
    _preload()
