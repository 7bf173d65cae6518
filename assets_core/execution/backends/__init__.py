"""Backends: where a step runs. The scheduler (``assets_core.execution.scheduler``) decides
what runs and when; a backend only runs one step somewhere and reports its outcome.

``in-process`` runs each step in the scheduler's thread (sequential, for debugging),
``threads`` on a pool of threads, ``processes`` in worker processes, ``dask`` as tasks on a
Dask cluster (an optional extra). A new backend is a class
with the members of ``Backend`` and one entry in ``BACKENDS``; the scheduler does not change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from assets_core.errors import PlanError

if TYPE_CHECKING:
    from assets_core.execution.step import StepEnvironment, StepOutcome
    from assets_core.model.keys import StepKey
    from assets_core.model.project import ProjectConfig

__all__ = ["BACKENDS", "CLUSTERED", "Backend", "Done", "not_run", "open_backend", "refuse_memory"]

#: how a backend reports a step: its outcome, or the exception that kept it from running
Done = Callable[["StepKey", "StepOutcome | BaseException"], None]


class Backend(Protocol):
    """Runs steps somewhere and reports each one's outcome through ``done``."""

    #: steps run in the scheduler's process: values can be handed over in memory, and the
    #: scheduler may run a very quick step in its own thread
    shares_memory: bool
    #: steps handed over beyond ``workers`` at once, waiting where they run (0: none)
    ahead: int

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        """Start ``step``; call ``done`` once, from any thread, when it has an outcome."""
        ...

    def shutdown(self, *, wait: bool) -> None:
        """Stop: with ``wait``, after the running steps finish; else at once."""
        ...


#: backend name -> "module:factory"; a factory takes (env, steps, workers, cancelled, config),
#: and a clustered backend's the address too
BACKENDS: dict[str, str] = {
    "threads": "assets_core.execution.backends.local:ThreadsBackend",
    "in-process": "assets_core.execution.backends.local:InProcessBackend",
    "processes": "assets_core.execution.backends.processes:ProcessesBackend",
    "dask": "assets_core.execution.backends.dask:DaskBackend",
}
#: the backends that run on a cluster at an address (``--address``)
CLUSTERED = frozenset({"dask"})


def open_backend(
    name: str,
    env: StepEnvironment,
    steps: Sequence[StepKey],
    *,
    workers: int,
    cancelled: threading.Event,
    config: ProjectConfig | None,
    address: str | None = None,
) -> Backend:
    """The backend called ``name``, ready to run ``steps`` of a project with ``workers`` at
    once. ``config`` is the project's, when it was loaded from one (worker processes import
    it); ``address`` the cluster's, for a clustered backend; ``PlanError`` when the backend
    cannot run these steps."""
    where = BACKENDS.get(name)
    if where is None:
        raise PlanError(f"unknown executor {name!r}; use one of {', '.join(BACKENDS)}.")
    module, _, factory = where.partition(":")
    make: Callable[..., Backend] = getattr(import_module(module), factory)
    if address is None:
        return make(env, steps, workers, cancelled, config)
    if name not in CLUSTERED:
        raise PlanError(
            f"an address is for the {', '.join(sorted(CLUSTERED))} executor, not {name!r}; "
            "leave it out, or use --executor dask."
        )
    return make(env, steps, workers, cancelled, config, address)


def not_run(step: StepKey, error: str) -> StepOutcome:
    """The outcome of ``step`` refused or lost before it could store anything: ``error`` says
    why; it started and ended now."""
    from assets_core.execution.step import StepOutcome

    now = time.time()
    return StepOutcome(step, None, now, now, error)


def refuse_memory(env: StepEnvironment, steps: Sequence[StepKey], runners: str) -> None:
    """``PlanError`` when one of ``steps`` uses the memory IO manager, whose dict dies with the
    process that stored it: ``runners`` (a backend's worker processes) cannot share it."""
    defs = env.defs
    for step in steps:
        if defs.io_manager_name(defs.assets[step.asset]) == "memory":
            raise PlanError(
                f"{step} uses the memory IO manager, which {runners} cannot share; "
                "use executor='threads' or a persistent IO manager."
            )
