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
Workers and the fork server ignore Ctrl-C and SIGTERM: the parent handles them for the whole
run (``assets_core.execution.interrupts``), and when it stops without waiting it kills its
workers. Values are never handed over in memory here. Workers capture what their steps say
and send it back as it comes (``logpump``).

No worker outlives its run (``lifeline``): workers and the fork server die with the run's
process (the kernel's parent-death signal, and a thread watching the run's pid and start
time), a worker's output is published under the run's lock (``assets_core.storage.fencing``),
and a worker whose run is gone never hands back a result.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assets_core.execution.backends import lifeline, not_run, refuse_memory
from assets_core.execution.backends.logpump import LogPump, worker_capture
from assets_core.execution.step import Job, StepEnvironment, StepOutcome, run_step
from assets_core.model.loader import project_snapshots
from assets_core.storage.liveness import Holder, holder_of, is_running

if TYPE_CHECKING:
    from assets_core.code_version.versioner import CodeVersioner
    from assets_core.execution.backends import Done
    from assets_core.model.keys import StepKey
    from assets_core.model.project import ProjectConfig
    from assets_core.storage.io import Fence

__all__ = ["ProcessesBackend", "start_server", "stops_ignored"]

#: The project a new fork server loads (its ``ProjectConfig`` as JSON, or ``-`` for none); set
#: only while the parent starts the server, so nothing else inherits it.
PROJECT_ENV = "LUMBUNG_FORKSERVER_PROJECT"
#: The process that starts the server (``pid,start,boot id,pid namespace,main thread``), set
#: like ``PROJECT_ENV``: the server dies with it.
OWNER_ENV = "LUMBUNG_FORKSERVER_OWNER"
_NO_PROJECT = "-"
#: What the parent handles for the whole run, and its workers ignore.
_STOPPING = (signal.SIGINT, signal.SIGTERM)
#: Libraries every server imports, so workers never pay for them.
PRELOAD = ("pandas", "pyarrow", "pyarrow.parquet", "assets_core.execution.step")

_ENV: StepEnvironment | None = None  # this worker's environment
_OWNER: Holder | None = None  # this worker's run's process
_SAME_CODE = True  # this worker compiled the very bytes the run's process did
_VERSIONER: CodeVersioner | None = None  # when it did not: for checking each step's code
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
    os.environ[OWNER_ENV] = _owner_text(threading.current_thread() is threading.main_thread())
    try:
        with stops_ignored():
            forkserver.ensure_running()
    finally:
        os.environ.pop(PROJECT_ENV, None)
        os.environ.pop(OWNER_ENV, None)
    return True


@contextlib.contextmanager
def stops_ignored() -> Iterator[None]:
    """Start the server with Ctrl-C and SIGTERM ignored: an ignored signal stays ignored
    across exec, and Python then leaves it so. A Ctrl-C to the process group while the
    server imports pandas would otherwise print a KeyboardInterrupt traceback from it. Here
    they are blocked meanwhile (Linux keeps a blocked signal pending even while it is
    ignored), so a Ctrl-C to this process is delivered once the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change handlers: the server ignores them later
        return
    blocking = hasattr(signal, "pthread_sigmask")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(_STOPPING)) if blocking else None
    handlers = {signum: signal.getsignal(signum) for signum in _STOPPING}
    try:
        for signum in _STOPPING:
            signal.signal(signum, signal.SIG_IGN)
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _owner_text(main_thread: bool) -> str:
    me = holder_of(os.getpid())
    fields = (me.pid, me.started, me.boot_id, me.pid_ns, int(main_thread))
    return ",".join("" if f is None else str(f) for f in fields)


def _owner_from(text: str) -> tuple[Holder, bool]:
    """The server's owner and whether it started the server from its main thread."""
    pid, started, boot, ns, main = (text.split(",") + [""] * 5)[:5]
    from assets_core.storage.liveness import this_host

    owner = Holder(
        int(pid) if pid else None,
        this_host(),
        boot or None,
        ns or None,
        int(started) if started else None,
    )
    return owner, main == "1"


class ProcessesBackend:
    """Runs steps in a pool of ``workers`` processes."""

    shares_memory = False
    ahead = 0

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
        refuse_memory(env, steps, "worker processes")
        if config is None:  # built in code: cannot be imported by name, so inherit it
            _ENV = StepEnvironment(env.defs, env.io)
            method = "fork"
        else:  # the CLI started the server already, with the project loaded
            method = "forkserver" if start_server() else "spawn"
        self._env = env
        owner = holder_of(os.getpid())
        # the bytes this process compiled the project from: a worker that imports other bytes
        # (a file edited meanwhile) checks each step's code version against the plan's
        loaded = None if config is None else project_snapshots(str(config.root)).digests()
        context = mp.get_context(method)
        capture = env.logs
        self._logs = None if capture is None else LogPump(context, capture.sink)
        logs = None if self._logs is None or capture is None else (self._logs.queue, capture.urgent)
        self._pool = cf.ProcessPoolExecutor(workers, context, _init, (config, owner, loaded, logs))

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        # SIGINT and SIGTERM are blocked while the pool may start a worker, so the worker
        # inherits the block until ``_init`` ignores them: a Ctrl-C (or a SIGTERM) to the
        # whole process group then never reaches a worker (nor prints its traceback). Here
        # the signal waits, then comes.
        blocking = hasattr(signal, "pthread_sigmask")
        old = signal.pthread_sigmask(signal.SIG_BLOCK, set(_STOPPING)) if blocking else None
        try:
            versions = self._env.code_versions
            expected = None if versions is None else versions.get(step.asset)
            jobs = self._env.jobs
            job = None if jobs is None else jobs.get(step)
            future = self._pool.submit(_run, step, run_id, self._env.fence, expected, job)
        finally:
            if old is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)

        def finished(f: cf.Future[StepOutcome]) -> None:
            exc = f.exception()
            done(step, exc if exc is not None else f.result())

        future.add_done_callback(finished)

    def shutdown(self, *, wait: bool) -> None:
        """With ``wait``, after the running steps finish; else at once: the workers are
        killed (their steps would not be recorded) and reaped."""
        if wait:
            self._pool.shutdown(wait=True)
        else:
            workers = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.kill()
            for process in workers:
                process.join()
        if self._logs is not None:
            self._logs.stop(wait=wait)
            self._logs = None


def _init(
    config: ProjectConfig | None,
    owner: Holder,
    loaded: dict[str, str] | None,
    logs: tuple[Any, int] | None,
) -> None:
    """A worker's start: ignore Ctrl-C and SIGTERM, tie its life to the run's process
    (``lifeline``), then take the server's project if it is this run's (the same
    configuration), else import it, and note whether it compiled the bytes the run's process
    did (``loaded``). With ``logs`` (a queue and the rank of lines shown live), what its
    steps say is captured and put on the queue."""
    global _ENV, _OWNER, _SAME_CODE
    parent = os.getppid()
    for signum in _STOPPING:
        signal.signal(signum, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_STOPPING))
    _OWNER = owner
    lifeline.drop_forkserver_pipe()
    lifeline.die_with_parent(parent)
    lifeline.watch(owner)
    if config is not None:
        if _PRELOADED is not None and _PRELOADED[0] == config.to_json():
            _ENV = _PRELOADED[1]
        else:
            _ENV = StepEnvironment.from_config(config)
        if loaded is not None:
            _SAME_CODE = project_snapshots(str(config.root)).digests() == loaded
    if logs is not None and _ENV is not None:
        from assets_core.execution.capture import install_for_life

        install_for_life()
        _ENV.logs = worker_capture(*logs)
    # What is loaded now lives as long as the worker: keep it out of the collector's passes,
    # which asset code's allocations trigger often (as the parent does before a run).
    gc.freeze()


def _run(
    step: StepKey, run_id: str, fence: Fence | None, expected: str | None, job: Job | None
) -> StepOutcome:
    """Run one step (what ``job`` covers) in this worker; its output is published under
    ``fence``. A step whose
    code here is not the plan's (``expected``, the version the run records) is refused. A
    worker whose run is gone ends here instead of handing back a result."""
    assert _ENV is not None, "worker has no project loaded"
    refused = None if _SAME_CODE or expected is None else _other_code(_ENV, step, expected)
    outcome = refused or run_step(_ENV, step, run_id, fence=fence, job=job)
    if _OWNER is not None and not is_running(_OWNER):
        os._exit(lifeline.EXIT_ORPHANED)
    return outcome


def _other_code(env: StepEnvironment, step: StepKey, expected: str) -> StepOutcome | None:
    """The refusal of ``step`` when the code this worker imported for it is not the code
    the run planned and records (a file was edited after the run's process read it)."""
    global _VERSIONER
    from assets_core.code_version.versioner import CodeVersioner

    if _VERSIONER is None:
        _VERSIONER = CodeVersioner()
    asset = env.defs.get(step.asset)
    manager = env.defs.io_manager_name(asset)
    if _VERSIONER.version_of(asset, manager, env.defs.root).version == expected:
        return None
    return not_run(
        step,
        f"{step}: its code changed on disk after this run read it (a worker imported other "
        "code than the run records); nothing was stored. Materialize it again.",
    )


def _preload() -> None:
    """In a new fork server: load the project the parent named (if any), so every worker
    forked from here has it. A project that fails to load is left to the workers, which
    report the error as a run would."""
    global _PRELOADED
    text = os.environ.pop(PROJECT_ENV, None)
    owner_text = os.environ.pop(OWNER_ENV, None)
    if text is None:
        return
    # The server's children take its signal handlers: they must ignore Ctrl-C and SIGTERM
    # from birth, and so must the server (the parent stops the run, and the server with it).
    for signum in _STOPPING:
        signal.signal(signum, signal.SIG_IGN)
    if owner_text:
        owner, main_thread = _owner_from(owner_text)
        # the kernel's signal comes when the thread that started the server ends: believe
        # it only when that is the main thread, whose end is the process's
        if main_thread and owner.pid is not None:
            lifeline.die_with_parent(owner.pid)
        lifeline.watch(owner)
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
