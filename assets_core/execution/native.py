"""A SQL asset's step run inside its IO manager's database (DESIGN §14), when the manager can
(``save_query``, as the DuckDB manager does): its inputs are bound as views on a cursor the
manager lends (a table of that database read where it is, a Parquet output or a source
scanned in place), the query runs there, and the manager creates the asset's table from it:
no value passes through Python.

A partitioned SQL asset runs as any relation does (``step``): on the step's own connection,
its inputs the partitions its partition reads, its rows saved partition by partition.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from assets_core.errors import AssetExecutionError, LumbungError
from assets_core.execution.failures import load_failure, store_failure, user_failure
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.storage.io import (
    AssetContext,
    DuckDBHolder,
    Fence,
    InputContext,
    OutputContext,
    StoredOutput,
)
from assets_core.storage.loading import load_input

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import duckdb

    from assets_core.model.definitions import Definitions
    from assets_core.model.kinds import AnyAsset
    from assets_core.storage.registry import IOManagers

__all__ = ["QueryStore", "native_manager", "run_native"]


class _Binding(Protocol):
    @property
    def param(self) -> str: ...
    @property
    def key(self) -> AssetKey: ...
    @property
    def annotation(self) -> Any: ...
    @property
    def error(self) -> str | None: ...
    @property
    def spec(self) -> AssetSpec | None: ...


class StepEnvironment(Protocol):
    """What this uses of ``execution.step.StepEnvironment`` (which imports this module)."""

    defs: Definitions
    io: IOManagers

    def bindings(self, asset: AnyAsset) -> Sequence[_Binding]: ...


class QueryStore(Protocol):
    """An IO manager that creates an output inside its database from a query built on a
    cursor it lends (``io_managers.duckdb.native``)."""

    def save_query(
        self,
        ctx: OutputContext,
        build: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation],
    ) -> StoredOutput: ...


def native_manager(env: StepEnvironment, asset: AnyAsset) -> QueryStore | None:
    """The manager that runs ``asset`` inside its database, or ``None`` (not a SQL asset, a
    partitioned one, or a manager without ``save_query``)."""
    if asset.kind != "sql" or asset.spec.partitions is not None:
        return None
    manager = env.io.get(env.defs.io_manager_name(asset))
    return manager if hasattr(manager, "save_query") else None  # type: ignore[return-value]


def run_native(
    env: StepEnvironment,
    manager: QueryStore,
    asset: AnyAsset,
    step: StepKey,
    run_id: str,
    cancelled: threading.Event | None,
    fence: Fence | None,
) -> StoredOutput:
    """Load, run and save ``step`` inside ``manager``'s database; failures are blamed as a
    step's are (an input, the asset's SQL, the store)."""

    def build(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        holder = DuckDBHolder(lent=con)
        inputs: dict[str, Any] = {}
        for b in env.bindings(asset):
            if b.error is not None:
                raise AssetExecutionError(str(step), f"parameter '{b.param}': {b.error}")
            up = b.spec or env.defs.assets[b.key].spec
            ctx = InputContext(
                key=b.key,
                spec=up,
                expected_type=b.annotation,
                consumer=step.asset,
                param=b.param,
                run_id=run_id,
                _duckdb=holder,
            )
            try:
                inputs[b.param] = load_input(env.defs, env.io, ctx)
            except Exception as exc:
                error = load_failure(step, b.param, b.key, exc)
                if error is exc:
                    raise
                raise error from exc
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        context = AssetContext(step.asset, asset.spec, run_id, None, holder)
        try:
            result: duckdb.DuckDBPyRelation = asset.run(inputs, context)  # type: ignore[assignment]
        except Exception as exc:
            raise user_failure(step, exc) from exc
        return result

    name = env.defs.io_manager_name(asset)
    try:
        return manager.save_query(OutputContext(step.asset, asset.spec, run_id, None, fence), build)
    except (LumbungError, _Cancelled):
        raise
    except Exception as exc:
        error = store_failure(step, name, exc, True)
        if error is exc:
            raise
        raise error from exc


class _Cancelled(Exception):
    """The run was interrupted before the query ran."""
