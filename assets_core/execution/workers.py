"""Worker processes of the ``processes`` executor: how they start, and the one call they serve.

A worker needs the project's assets, so starting one means importing the project and the
libraries it uses (pandas alone takes about half a second). On POSIX, workers are forked from a
*fork server*: one clean, single-threaded process that imports those once, so each worker
starts in milliseconds with everything loaded. The ``lumbung materialize --executor processes``
command starts the server before it loads the project itself (``start_server``), so the two
loads overlap. The server keeps a project it loaded only for the run that asked for it: a run
from Python (``Definitions.materialize``), which may follow edits in a long-lived process, gets
a server that preloads libraries only, and its workers import the project anew.

Where there is no fork server (Windows), each worker is spawned and loads the project itself.
``Definitions`` built in code, which no worker could import by name, are inherited by ``fork``.
Workers ignore Ctrl-C: the parent handles it for the whole run
(``assets_core.execution.interrupts``).
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assets_core.execution.executor import _Outcome
    from assets_core.model.definitions import Definitions
    from assets_core.model.keys import AssetKey
    from assets_core.model.project import ProjectConfig

#: The project a new fork server loads (its ``ProjectConfig`` as JSON, or ``-`` for none); set
#: only while the parent starts the server, so nothing else inherits it.
PROJECT_ENV = "LUMBUNG_FORKSERVER_PROJECT"
_NO_PROJECT = "-"
#: Libraries every server imports, so workers never pay for them.
PRELOAD = ("pandas", "pyarrow", "pyarrow.parquet", "assets_core.model.definitions")

_DEFS: Definitions | None = None  # this worker's project
_PRELOADED: tuple[str, Definitions] | None = None  # (config as JSON, project): fork server only


def start_server(config: ProjectConfig | None = None) -> bool:
    """Start the fork server now (if this platform has one and none is running), loading
    ``config``'s project in it for a run about to start, or only the libraries without one.
    Whether the platform has a fork server."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    mp.set_forkserver_preload([*PRELOAD, __name__])
    os.environ[PROJECT_ENV] = _NO_PROJECT if config is None else config.model_dump_json()
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(PROJECT_ENV, None)
    return True


def make_pool(defs: Definitions, workers: int) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` processes, each holding ``defs``'s project."""
    import multiprocessing as mp

    global _DEFS
    if defs.config is None:  # built in code: cannot be imported by name, so inherit it
        _DEFS = defs
        return cf.ProcessPoolExecutor(workers, mp.get_context("fork"), _init, (None,))
    # the CLI started the server already, with the project loaded
    ctx = mp.get_context("forkserver" if start_server() else "spawn")
    return cf.ProcessPoolExecutor(workers, ctx, _init, (defs.config,))


def _init(config: ProjectConfig | None) -> None:
    """A worker's start: ignore Ctrl-C, then take the server's project if it is this run's
    (the same configuration), else import it."""
    global _DEFS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if config is not None:
        if _PRELOADED is not None and _PRELOADED[0] == config.model_dump_json():
            _DEFS = _PRELOADED[1]
        else:
            from assets_core.model.definitions import load_config

            _DEFS = load_config(config)
    # What is loaded now lives as long as the worker: keep it out of the collector's passes,
    # which asset code's allocations trigger often (as the parent does before a run).
    gc.freeze()


def run(key: AssetKey, run_id: str) -> _Outcome:
    """Run one step in this worker (``executor.run_step`` on the worker's project)."""
    from assets_core.execution.executor import run_step

    assert _DEFS is not None, "worker has no project loaded"
    return run_step(_DEFS, key, run_id)


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
        from assets_core.model.definitions import load_config
        from assets_core.model.project import ProjectConfig

        _PRELOADED = (text, load_config(ProjectConfig.model_validate_json(text)))
    except BaseException:  # the workers will load it and say what is wrong
        _PRELOADED = None


if PROJECT_ENV in os.environ:  # imported as the fork server's preload
    _preload()
