"""One step: load its inputs, run the asset, save its output (checked before it is published
when the asset has data checks: ``execution.checks``).

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
from assets_core.execution.checks import Audit
from assets_core.execution.failures import (
    engine_failure,
    full_traceback,
    load_failure,
    store_failure,
    user_failure,
)
from assets_core.execution.native import native_manager, run_native
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, StepKey, step_of
from assets_core.model.kinds import AnyAsset
from assets_core.model.spec import AssetSpec
from assets_core.partitions.columns import sort_keys
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.checks import CheckOutcome
from assets_core.storage.io import (
    AssetContext,
    DuckDBHolder,
    Fence,
    InputContext,
    IOManager,
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

__all__ = ["Binding", "Job", "StepEnvironment", "StepOutcome", "run_step"]


@dataclass(frozen=True, slots=True)
class Binding:
    """How one input of an asset is fed: the upstream it loads and as what."""

    param: str
    key: AssetKey
    step: StepKey
    annotation: Any
    target: str | None  # values.target_of(annotation); None when unsupported
    error: str | None = None
    spec: AssetSpec | None = None  # the upstream's


@dataclass(frozen=True, slots=True)
class Job:
    """What one call of a step covers where partitions are involved (picklable): ``keys``,
    the partition keys of the asset it computes (one, or the range of a
    ``backfill="single_run"`` call, whose steps are the asset's steps of those keys), and
    ``reads``, the upstream steps it reads (the mapped upstream partitions), in the plan's
    order. A step of an unpartitioned asset reading only unpartitioned ones needs none."""

    keys: tuple[str, ...]
    reads: tuple[StepKey, ...]


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
    #: a ``single_run`` call's output per partition: (the step, what was stored for it),
    #: in key order; ``stored`` is the first's
    parts: tuple[tuple[StepKey, StoredOutput], ...] = ()
    #: the results of the data checks run on its output(s), with the step each is of
    checks: tuple[tuple[StepKey, CheckOutcome], ...] = ()
    #: the CPU seconds the attempt took on its thread (``time.thread_time``): with the wall
    #: clock, how the scheduler tells a trivial step from one worth a worker
    cpu: float = 0.0

    def __reduce__(self) -> tuple[Any, ...]:  # the exception stays where it was raised
        fields = (self.step, self.stored, self.started_at, self.ended_at, self.error)
        rest = (self.interrupted, None, self.traceback, self.parts, self.checks, self.cpu)
        return (StepOutcome, (*fields, *rest))


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
        #: set by the scheduler for the run: each partitioned step's ``Job`` (see there),
        #: by the step that runs it (a ``single_run`` call's first step)
        self.jobs: Mapping[StepKey, Job] | None = None
        self._bindings: dict[AssetKey, tuple[Binding, ...]] = {}

    @classmethod
    def from_config(cls, config: ProjectConfig) -> StepEnvironment:
        """A worker's environment: the project imported from its config, its IO managers
        built from its storage folder."""
        from assets_core.model.project import load_definitions

        io = IOManagers(config.storage, locations=config.io_locations())
        return cls(load_definitions(config), io)

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
                spec = self.defs.assets[up].spec
                out.append(Binding(p.name, up, step_of(up), p.annotation, target, error, spec))
            found = self._bindings[asset.key] = tuple(out)
        return found


def run_step(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None = None,
    fence: Fence | None = None,
    job: Job | None = None,
) -> StepOutcome:
    """One attempt at ``step``: load its inputs, run it, save its output (published under
    ``fence`` when the step runs outside its run's process: ``OutputContext.publishing``).
    ``job`` says which partitions it covers and reads (default: ``env.jobs``'s).
    What it logs and prints goes to ``env.logs``."""
    if job is None and env.jobs is not None:
        job = env.jobs.get(step)
    logs = env.logs
    if logs is None:
        return _run_step(env, step, run_id, cancelled, fence, job)
    with logs.step(step):
        return _run_step(env, step, run_id, cancelled, fence, job)


def _run_step(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None,
    fence: Fence | None,
    job: Job | None,
) -> StepOutcome:
    started = time.time()
    cpu = time.thread_time()
    checked: list[tuple[StepKey, CheckOutcome]] = []  # what the step's checks found
    try:
        if job is not None:
            parts = _attempt(env, step, run_id, cancelled, fence, job, checked)
            many = tuple(parts) if len(parts) > 1 else ()
            stored = parts[0][1]
            return StepOutcome(
                step,
                stored,
                started,
                time.time(),
                parts=many,
                checks=tuple(checked),
                cpu=time.thread_time() - cpu,
            )
        stored = _attempt(env, step, run_id, cancelled, fence, None, checked)[0][1]
        return StepOutcome(
            step, stored, started, time.time(), checks=tuple(checked), cpu=time.thread_time() - cpu
        )
    except _Cancelled:
        return StepOutcome(step, None, started, time.time(), "interrupted", interrupted=True)
    except Exception as exc:
        if cancelled is not None and cancelled.is_set():  # e.g. DuckDB's "Query interrupted"
            return StepOutcome(step, None, started, time.time(), "interrupted", interrupted=True)
        error = exc if isinstance(exc, LumbungError) else engine_failure(step, exc)
        trace = getattr(error, "user_traceback", "")
        text = f"{error}\n{trace}" if trace else str(error)
        full = full_traceback(error)
        return StepOutcome(
            step,
            None,
            started,
            time.time(),
            text,
            exception=error,
            traceback=full,
            checks=tuple(checked),
            cpu=time.thread_time() - cpu,
        )


class _Cancelled(Exception):
    pass


def _attempt(
    env: StepEnvironment,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None,
    fence: Fence | None,
    job: Job | None,
    checked: list[tuple[StepKey, CheckOutcome]],
) -> list[tuple[StepKey, StoredOutput]]:
    """Load, run, check, save: what was stored, per step (one, or each of a ``single_run``
    call's); the results of the asset's checks go to ``checked``."""
    defs = env.defs
    asset = defs.assets[step.asset]
    native = native_manager(env, asset) if job is None else None
    if native is not None:  # a SQL asset run inside its manager's database
        audited = DuckDBHolder()
        try:
            audit = (
                Audit(defs, env.io, step, run_id, audited, checked)
                if _has_checks(defs, asset)
                else None
            )
            stored = run_native(env, native, asset, step, run_id, cancelled, fence, audit)
        finally:
            audited.close()
        return [(step, stored)]
    holder = DuckDBHolder()
    handover = env.handover
    try:
        inputs: dict[str, Any] = {}
        for b in env.bindings(asset):
            if b.error is not None:
                raise AssetExecutionError(str(step), f"parameter '{b.param}': {b.error}")
            try:
                inputs[b.param] = _load(env, b, step, run_id, holder, job)
            except Exception as exc:  # Lumbung's, its IO manager's or the machine's
                _reraise(load_failure(step, b.param, b.key, exc), exc)
        if job is None:
            context = AssetContext(step.asset, asset.spec, run_id, step.partition, holder)
        else:
            one = job.keys[0] if len(job.keys) == 1 else None
            context = AssetContext(step.asset, asset.spec, run_id, one, holder, job.keys)
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
        checks = _has_checks(defs, asset)
        if job is not None and asset.spec.backfill == "single_run":
            audits = (env, holder, checked) if checks else None
            return _save_split(asset, manager, name, job, result, run_id, fence, audits)
        try:
            audit = Audit(defs, env.io, step, run_id, holder, checked) if checks else None
            out = OutputContext(step.asset, asset.spec, run_id, step.partition, fence, audit)
            if audit is not None and not getattr(manager, "stages", False):
                audit.check_value(result)  # a manager that cannot stage: checked before save
            stored = manager.save(out, result)
        except Exception as exc:  # Lumbung's, its IO manager's, the machine's, or the value's
            relation = kind_of(result) == "duckdb"
            _reraise(store_failure(step, name, exc, relation), exc)
        # a partition's value is not handed over: its readers read several partitions as one
        keep = handover is not None and step.partition is None
        if keep and getattr(manager, "round_trips", False):
            handover.offer(step, result, stored.memory)  # type: ignore[union-attr]
        return [(step, stored)]
    finally:
        holder.close()


def _save_split(
    asset: AnyAsset,
    manager: IOManager,
    name: str,
    job: Job,
    result: object,
    run_id: str,
    fence: Fence | None,
    audits: tuple[StepEnvironment, DuckDBHolder, list[tuple[StepKey, CheckOutcome]]] | None,
) -> list[tuple[StepKey, StoredOutput]]:
    """Store a ``single_run`` call's rows partition by partition (``split``), each checked
    on its own when the asset has checks (``audits``: what each partition's audit needs)."""
    from assets_core.execution.split import split_rows

    key, spec = asset.key, asset.spec
    assert spec.partitions is not None
    relation = kind_of(result) == "duckdb"
    parts = split_rows(key, spec.partitions, job.keys, result)
    out = []
    for partition, rows in parts:
        step = StepKey(key, partition)
        try:
            audit = None
            if audits is not None:
                env, holder, checked = audits
                audit = Audit(env.defs, env.io, step, run_id, holder, checked)
                if not getattr(manager, "stages", False):
                    audit.check_value(rows)
            out_ctx = OutputContext(key, spec, run_id, partition, fence, audit)
            stored = manager.save(out_ctx, rows)
        except Exception as exc:
            _reraise(store_failure(step, name, exc, relation), exc)
        out.append((step, stored))
    return out


def _has_checks(defs: Definitions, asset: AnyAsset) -> bool:
    """Whether ``asset``'s output is checked before it is published."""
    return bool(asset.spec.checks) or asset.key in defs.custom_checks


def _reraise(error: BaseException, exc: BaseException) -> NoReturn:
    """Raise ``error``, the step's account of ``exc`` (``exc`` itself when it is Lumbung's
    own: then its cause stays the one it was raised with)."""
    if error is exc:
        raise exc
    raise error from exc


def _load(
    env: StepEnvironment,
    b: Binding,
    step: StepKey,
    run_id: str,
    holder: DuckDBHolder,
    job: Job | None,
) -> Any:
    """One input's value: handed over in memory within the run, else loaded from storage.
    A partitioned upstream is read as the partitions ``job`` maps the step to, as one value
    (never handed over: what a step holds is one partition, not what its reader reads)."""
    up = b.spec or env.defs.assets[b.key].spec
    partitions: tuple[str, ...] | None = None
    if up.partitions is not None:
        if job is not None:
            partitions = _mapped(up.partitions, b.key, job.reads)
        value: Any = None
    else:
        handover = env.handover
        value = None if handover is None else handover.take(b.step, b.target)
    if value is None:
        ctx = InputContext(
            key=b.key,
            spec=up,
            expected_type=b.annotation,
            consumer=step.asset,
            param=b.param,
            run_id=run_id,
            partition=step.partition,
            partitions=partitions,
            _duckdb=holder,
        )
        value = load_input(env.defs, env.io, ctx)
    if b.target == "duckdb":  # SQL in the asset can name its inputs
        value.create_view(b.param, replace=True)
    return value


def _mapped(
    definition: PartitionsDefinition, key: AssetKey, reads: tuple[StepKey, ...]
) -> tuple[str, ...]:
    """The partitions of ``key`` among ``reads``, once each, in key order."""
    found = {p for a, p in reads if a == key and p is not None}
    return tuple(sort_keys(definition, found))
