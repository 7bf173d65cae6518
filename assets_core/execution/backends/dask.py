"""The ``dask`` backend: each step is a task on a Dask cluster (``docs/dask.md``).

Planning, locking, early cutoff, retries and recording stay in the run's process (the
client), with the same scheduler as every other backend; a worker only runs one step and
hands back its ``StepOutcome`` and the lines it said. The scheduler hands the cluster
``workers`` steps more than it has workers (``ahead``), so a worker's next step is waiting
there when one ends. With no address, a
``distributed.LocalCluster`` of worker processes is started for the run and closed after it
(``dask_cluster``).

Workers import the project themselves, from the folder the client names (shared, or the same
path on every machine) or an installed package, and keep it loaded between tasks and runs.
Each task carries the digest of the bytes the client compiled the project from; a worker
that compiled other bytes loads the project again, and if its bytes still differ it checks
the code version of the step's asset and refuses a step whose code is not the one the run
records, naming both versions (old code never runs).

Steps that use the DuckDB warehouse (stored there, or reading an input from it) run on the
client, in threads: the warehouse is one local file. A worker lost mid-step fails the task
(a cluster started here allows no silent re-run: the scheduler's retries decide), and what it
was writing never became visible (IO managers publish by rename or commit); the run's sweep
removes its temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assets_core.errors import PlanError
from assets_core.execution.backends import not_run, refuse_memory
from assets_core.execution.backends.dask_cluster import local_cluster
from assets_core.execution.backends.local import ThreadsBackend
from assets_core.execution.capture import installed
from assets_core.execution.step import Job, StepEnvironment, StepOutcome, run_step
from assets_core.model.loader import project_snapshots

if TYPE_CHECKING:
    from assets_core.code_version.versioner import CodeVersioner
    from assets_core.execution.backends import Done
    from assets_core.execution.capture import Line
    from assets_core.model.keys import StepKey
    from assets_core.model.project import ProjectConfig
    from assets_core.storage.io import Fence

__all__ = ["INSTALL", "DaskBackend", "needs_client"]

INSTALL = "pip install 'lumbung[dask]'"
#: IO managers whose storage is a file of the client's: their steps run on the client
CLIENT_MANAGERS = frozenset({"duckdb"})


def _distributed() -> Any:
    """The ``distributed`` package, or one line saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise PlanError(
            f"the dask executor needs the dask and distributed packages; install them with: "
            f"{INSTALL}"
        ) from None
    return distributed


def needs_client(env: StepEnvironment, step: StepKey) -> bool:
    """Whether ``step`` touches a client-only store (stored there, or reads from there)."""
    defs = env.defs
    asset = defs.assets[step.asset]
    if defs.io_manager_name(asset) in CLIENT_MANAGERS:
        return True
    for up in asset.spec.ins.values():
        upstream = defs.assets[up]
        if not upstream.observed and defs.io_manager_name(upstream) in CLIENT_MANAGERS:
            return True
    return False


def _digest(config: ProjectConfig) -> str:
    """One hash of every project file's bytes as this process compiled them."""
    digests = project_snapshots(str(config.root)).digests()
    text = json.dumps(sorted(digests.items()))
    return hashlib.sha256(text.encode()).hexdigest()


class DaskBackend:
    """Runs steps as tasks on a Dask cluster (see the module docstring)."""

    shares_memory = False
    #: steps handed to the cluster beyond ``workers``: each worker finds its next step waiting
    #: when one ends, instead of idling for a round trip to the client and back
    ahead: int

    def __init__(
        self,
        env: StepEnvironment,
        steps: Sequence[StepKey],
        workers: int,
        cancelled: threading.Event,
        config: ProjectConfig | None,
        address: str | None = None,
    ) -> None:
        distributed = _distributed()
        if config is None:
            raise PlanError(
                "the dask executor needs a project loaded from a folder, which workers import "
                "by name; load it with load_project(), or use executor='threads'."
            )
        refuse_memory(env, steps, "Dask workers")
        address = address or config.dask_address
        self._env = env
        self.ahead = workers
        self._config = config.to_json()
        self._digest = _digest(config)
        # the steps that run on the client, as the threads backend runs them
        self._local = ThreadsBackend(env, steps, workers, cancelled, config)
        self._futures: set[Any] = set()
        self._guard = threading.Lock()
        self._cluster: Any = None
        if address is None:
            self._cluster = local_cluster(distributed, workers)
            address = self._cluster.scheduler_address
        try:
            self._client = distributed.Client(address, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            self._close_cluster()
            raise PlanError(
                f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                "`dask scheduler`, or leave out the address to start a local cluster."
            ) from None
        # what steps run here say is routed to them, as on the threads backend
        self._routed = contextlib.ExitStack()
        if any(needs_client(env, step) for step in steps):
            self._routed.enter_context(installed())

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        env = self._env
        if needs_client(env, step):
            self._local.submit(step, run_id, done)
            return
        versions = env.code_versions
        expected = None if versions is None else versions.get(step.asset)
        job = None if env.jobs is None else env.jobs.get(step)
        urgent = None if env.logs is None else env.logs.urgent
        args = (self._config, self._digest, step, run_id, env.fence, expected, job, urgent)
        future = self._client.submit(_run_on_worker, *args, pure=False, retries=0)
        with self._guard:
            self._futures.add(future)

        def finished(f: Any) -> None:
            with self._guard:
                self._futures.discard(f)
            try:
                outcome, lines = f.result()
            except BaseException as exc:  # a lost worker, a cancelled task, an unpicklable value
                done(step, _worker_failure(step, exc))
                return
            capture = env.logs
            if capture is not None:
                for batch in lines:
                    capture.sink(step, batch)
            done(step, outcome)

        future.add_done_callback(finished)

    def shutdown(self, *, wait: bool) -> None:
        """With ``wait``, after the running steps finish; else at once: tasks are cancelled
        and a cluster started here is closed (its workers killed)."""
        if not wait:
            with self._guard:
                pending = list(self._futures)
            if pending:
                self._client.cancel(pending, force=True)
        self._local.shutdown(wait=wait)
        with contextlib.suppress(Exception):  # a scheduler gone has nothing left to close
            self._client.close(timeout=10)
        self._close_cluster()
        self._routed.close()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            with contextlib.suppress(Exception):  # its workers are gone already
                self._cluster.close(timeout=10)
            self._cluster = None


def _worker_failure(step: StepKey, exc: BaseException) -> StepOutcome | BaseException:
    """A task that failed outside ``run_step``: a lost worker becomes the step's failure."""
    if type(exc).__name__ != "KilledWorker":
        return exc
    return not_run(step, f"{step}: the Dask worker running it died; nothing was stored.")


# ---- on a worker --------------------------------------------------------------------------------

_LOADED: dict[str, tuple[StepEnvironment, str]] = {}  # config as JSON -> (env, digest)
_TRIED: set[tuple[str, str]] = set()  # (config, client's digest) this worker reloaded for
_LOAD = threading.Lock()
_VERSIONER: CodeVersioner | None = None


def _environment(config_text: str, digest: str) -> tuple[StepEnvironment, bool]:
    """This worker's environment for the project, and whether it compiled the client's
    bytes. A worker that compiled other bytes loads the project again, once per client
    digest (the files may have changed since it loaded them)."""
    from assets_core.execution.capture import install_for_life
    from assets_core.model.project import ProjectConfig

    with _LOAD:
        found = _LOADED.get(config_text)
        retry = found is not None and found[1] != digest and (config_text, digest) not in _TRIED
        if found is None or retry:
            _TRIED.add((config_text, digest))
            config = ProjectConfig.from_json(config_text)
            env = StepEnvironment.from_config(config)
            install_for_life()
            found = _LOADED[config_text] = (env, _digest(config))
    return found[0], found[1] == digest


def _run_on_worker(
    config_text: str,
    digest: str,
    step: StepKey,
    run_id: str,
    fence: Fence | None,
    expected: str | None,
    job: Job | None,
    urgent: int | None,
) -> tuple[StepOutcome, list[list[Line]]]:
    """One step on a worker: its outcome and the batches of lines it said."""
    from assets_core.execution.capture import Capture

    env, same = _environment(config_text, digest)
    if not same and expected is not None:
        refused = _other_code(env, step, expected)
        if refused is not None:
            return refused, []
    lines: list[list[Line]] = []
    capture = None if urgent is None else Capture(lambda _s, batch: lines.append(batch), urgent)
    worker_env = StepEnvironment(env.defs, env.io)
    worker_env.logs = capture
    outcome = run_step(worker_env, step, run_id, fence=_usable(fence), job=job)
    return outcome, lines


def _usable(fence: Fence | None) -> Fence | None:
    """The run's fence where this worker can check it: on the client's machine (where its
    state file is); elsewhere outputs publish unfenced."""
    if fence is None:
        return None
    from assets_core.storage.liveness import this_host

    owner = getattr(fence, "owner", None)
    return fence if owner is not None and owner.host == this_host() else None


def _other_code(env: StepEnvironment, step: StepKey, expected: str) -> StepOutcome | None:
    """The refusal of ``step`` when this worker's code for its asset is not the client's."""
    global _VERSIONER
    from assets_core.code_version.versioner import CodeVersioner

    with _LOAD:
        if _VERSIONER is None:
            _VERSIONER = CodeVersioner()
        asset = env.defs.get(step.asset)
        manager = env.defs.io_manager_name(asset)
        mine = _VERSIONER.version_of(asset, manager, env.defs.root).version
    if mine == expected:
        return None
    return not_run(
        step,
        f"{step}: the Dask worker's code version of it is {mine}, the client's is {expected}; "
        "nothing was run. Give the workers the client's project files.",
    )
