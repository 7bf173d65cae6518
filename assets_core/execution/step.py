"""One step: load its inputs, run the asset, save its output.

A step gets a ``StepEnvironment``, never the session: the project's definitions, its IO
managers by name, and (in the scheduler's own process) the run's handed-over values. A worker
process builds the same environment from the project config alone (``from_config``), and so
can any other backend's worker. ``run_step`` makes one attempt and never raises for a failure
of the asset: the outcome carries the error, blamed on the part of the step it came from
(``execution.failures``). Retries, early cutoff and recording are the scheduler's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from assets_core.errors import AssetExecutionError, LumbungError
from assets_core.execution.failures import (
    engine_failure,
    full_traceback,
    load_failure,
    store_failure,
    user_failure,
)
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, StepKey, step_of
from assets_core.model.kinds import AnyAsset
from assets_core.storage.io import (
    AssetContext,
    DuckDBHolder,
    Fence,
    InputContext,
    OutputContext,
    StoredOutput,
)
from assets_core.storage.loading import load_input
from assets_core.storage.registry import IOManagers
from assets_core.storage.values import kind_of, target_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from assets_core.execution.capture import Capture
    from assets_core.execution.handover import Handover
    from assets_core.model.project import ProjectConfig

__all__ = ["Binding", "StepEnvironment", "StepOutcome", "run_step"]


@dataclass(frozen=True, slots=True)
class Binding:
    """How one input of an asset is fed: the upstream it loads and as what."""

    param: str
    key: AssetKey
    step: StepKey
    annotation: Any
    target: str | None  # values.target_of(annotation); None when unsupported
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one attempt of a step produced (picklable: it crosses process boundaries).

    ``error`` is the failure's text (a first line, then the user's traceback when the asset's
    own code raised); ``traceback`` the failure's every frame, Lumbung's included (what
    ``--debug`` shows); ``exception`` the failure itself, kept only where the step ran in the
    caller's process."""

    step: StepKey
    stored: StoredOutput | None
    started_at: float
    ended_at: float
    error: str | None = None
    interrupted: bool = False
    exception: BaseException | None = None
    traceback: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:  # the exception stays where it was raised
        fields = (self.step, self.stored, self.started_at, self.ended_at, self.error)
        return (StepOutcome, (*fields, self.interrupted, None, self.traceback))


class StepEnvironment:
    """What a step needs to load its inputs, run and save (see the module docstring)."""

    def __init__(self, defs: Definitions, io: IOManagers, handover: Handover | None = None) -> None:
        self.defs = defs
        self.io = io
        self.handover = handover
        #: set by the run when its backend runs steps in other processes: the fence their
        #: outputs are published under (``assets_core.storage.fencing``)
        self.fence: Fence | None = None
        #: set by the run likewise: the code version the plan has for each asset, which is
        #: what the run records; a worker that imported other code refuses to run it
        self.code_versions: Mapping[AssetKey, str] | None = None
        #: set by the run (in a worker process, by the worker): where each step's lines go
        #: (``assets_core.execution.capture``); ``None`` captures nothing
        self.logs: Capture | None = None
        self._bindings: dict[AssetKey, tuple[Binding, ...]] = {}

    @classmethod
    def from_config(cls, config: ProjectConfig) -> StepEnvironment:
        """A worker's environment: the project imported from its config, its IO managers
        built from its storage folder."""
        from assets_core.model.project import load_definitions

        return cls(load_definitions(config), IOManagers(config.storage))

    def bindings(self, asset: AnyAsset) -> tuple[Binding, ...]:
        """Each input of ``asset`` with its upstream and target kind (cached)."""
        found = self._bindings.get(asset.key)
        if found is None:
            out = []
            for p in asset.params:
                up = asset.spec.ins[p.name]
                try:
                    target, error = target_of(p.annotation), None
                except LumbungError as exc:
                    target, error = None, str(exc)
                out.append(Binding(p.name, up, step_of(up), p.annotation, target, error))
            found = self._bindings[asset.key] = tuple(out)
        return found


def run_step(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None = None,
    fence: Fence | None = None,
) -> StepOutcome:
    """One attempt at ``step``: load its inputs, run it, save its output (published under
    ``fence`` when the step runs outside its run's process: ``OutputContext.publishing``).
    What it logs and prints goes to ``env.logs``."""
    logs = env.logs
    if logs is None:
        return _run_step(env, step, run_id, cancelled, fence)
    with logs.step(step):
        return _run_step(env, step, run_id, cancelled, fence)


def _run_step(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None,
    fence: Fence | None,
) -> StepOutcome:
    started = time.time()
    try:
        stored = _attempt(env, step, run_id, cancelled, fence)
        return StepOutcome(step, stored, started, time.time())
    except _Cancelled:
        return StepOutcome(step, None, started, time.time(), "interrupted", interrupted=True)
    except Exception as exc:
        if cancelled is not None and cancelled.is_set():  # e.g. DuckDB's "Query interrupted"
            return StepOutcome(step, None, started, time.time(), "interrupted", interrupted=True)
        error = exc if isinstance(exc, LumbungError) else engine_failure(step, exc)
        trace = getattr(error, "user_traceback", "")
        text = f"{error}\n{trace}" if trace else str(error)
        full = full_traceback(error)
        return StepOutcome(step, None, started, time.time(), text, exception=error, traceback=full)


class _Cancelled(Exception):
    pass


def _attempt(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None,
    fence: Fence | None,
) -> StoredOutput:
    defs = env.defs
    asset = defs.assets[step.asset]
    holder = DuckDBHolder()
    handover = env.handover
    try:
        inputs: dict[str, Any] = {}
        for b in env.bindings(asset):
            if b.error is not None:
                raise AssetExecutionError(str(step), f"parameter '{b.param}': {b.error}")
            try:
                inputs[b.param] = _load(env, b, step, run_id, holder)
            except Exception as exc:  # Lumbung's, its IO manager's or the machine's
                _reraise(load_failure(step, b.param, b.key, exc), exc)
        context = AssetContext(step.asset, asset.spec, run_id, step.partition, holder)
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        try:
            result: Any = asset.run(inputs, context)
        except Exception as exc:  # the asset's own code
            raise user_failure(step, exc) from exc
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        if type(result).__name__ == "RecordBatchReader":  # duckdb's rel.arrow() returns one
            result = result.read_all()
        if result is None:
            raise AssetExecutionError(
                str(step),
                "returned None; return the asset's data "
                "(a pandas.DataFrame, pyarrow.Table or duckdb relation).",
            )
        name = defs.io_manager_name(asset)
        manager = env.io.get(name)
        try:
            out = OutputContext(step.asset, asset.spec, run_id, step.partition, fence)
            stored = manager.save(out, result)
        except Exception as exc:  # Lumbung's, its IO manager's, the machine's, or the value's
            relation = kind_of(result) == "duckdb"
            _reraise(store_failure(step, name, exc, relation), exc)
        if handover is not None and getattr(manager, "round_trips", False):
            handover.offer(step, result, stored.memory)
        return stored
    finally:
        holder.close()


def _reraise(error: BaseException, exc: BaseException) -> NoReturn:
    """Raise ``error``, the step's account of ``exc`` (``exc`` itself when it is Lumbung's
    own: then its cause stays the one it was raised with)."""
    if error is exc:
        raise exc
    raise error from exc


def _load(
    env: StepEnvironment, b: Binding, step: StepKey, run_id: str, holder: DuckDBHolder
) -> Any:
    """One input's value: handed over in memory within the run, else loaded from storage."""
    handover = env.handover
    value: Any = None if handover is None else handover.take(b.step, b.target)
    if value is None:
        ctx = InputContext(
            key=b.key,
            spec=env.defs.assets[b.key].spec,
            expected_type=b.annotation,
            consumer=step.asset,
            param=b.param,
            run_id=run_id,
            _duckdb=holder,
        )
        value = load_input(env.defs, env.io, ctx)
    if b.target == "duckdb":  # SQL in the asset can name its inputs
        value.create_view(b.param, replace=True)
    return value
