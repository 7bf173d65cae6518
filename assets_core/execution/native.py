"""A step run inside its IO manager's database (DESIGN §14), when the manager can
(``save_query``, as the DuckDB manager does): a SQL asset, and a Python asset whose return
annotation is a DuckDB relation. Its inputs are bound as views on a cursor the manager lends
(a table of that database read where it is, a Parquet output or a source scanned in place;
a Python asset's relation inputs under their parameters' names, as on a step's own
connection), the query runs there, and the manager creates the asset's table from the
relation: no value passes through Python. Whatever else a Python asset returns (a relation of
another connection, a frame) is saved by the manager as any value is.

A partitioned asset runs as any relation does (``step``): on the step's own connection,
its inputs the partitions its partition reads, its rows saved partition by partition.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from assets_core.errors import AssetExecutionError, LumbungError
from assets_core.execution.failures import (
    from_duckdb,
    load_failure,
    store_failure,
    user_failure,
)
from assets_core.model.annotations import input_kind
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec, SqlAsset, bind_view
from assets_core.storage.io import (
    AssetContext,
    DuckDBHolder,
    Fence,
    InputContext,
    OutputContext,
    Query,
    Staged,
    StoredOutput,
)
from assets_core.storage.loading import load_input
from assets_core.storage.sources import scan_sql
from assets_core.storage.values import kind_of

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
    cursor it lends, and saves any other value ``build`` returns as ``save`` does
    (``io_managers.duckdb.native``)."""

    def save_query(
        self, ctx: OutputContext, build: Callable[[duckdb.DuckDBPyConnection], object]
    ) -> StoredOutput: ...


def native_manager(env: StepEnvironment, asset: AnyAsset) -> QueryStore | None:
    """The manager that runs ``asset`` inside its database, or ``None`` (neither a SQL asset
    nor a Python one annotated to return a DuckDB relation, a partitioned one, or a manager
    without ``save_query``)."""
    if asset.spec.partitions is not None:
        return None
    if asset.kind != "sql" and not (
        asset.kind == "python" and input_kind(getattr(asset, "returns", None)) == "duckdb"
    ):
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
    audit: Callable[[Staged], None] | None = None,
) -> StoredOutput:
    """Load, run and save ``step`` inside ``manager``'s database, ``audit`` checking the new
    table before it is published (write-audit-publish); failures are blamed as a step's are
    (an input, the asset's SQL, the store)."""

    python = asset.kind == "python"
    sql = asset if isinstance(asset, SqlAsset) else None
    returned: list[object] = []  # what the asset returned, once it has

    def build(con: duckdb.DuckDBPyConnection) -> object:
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
                if sql is None and not (python and input_kind(b.annotation) == "duckdb"):
                    inputs[b.param] = load_input(env.defs, env.io, ctx)
                    continue
                # a SQL asset's input, or a relation input: a view of the name its SQL reads;
                # a source's view made from its scan's text binds the files once, where a
                # relation made first and then its view bound them twice (each bind reads
                # every Parquet footer again)
                source = env.defs.sources.get(b.key)
                scan = None if source is None else scan_sql(source, env.defs.root)
                value = load_input(env.defs, env.io, ctx) if scan is None else scan
                bind_view(con, b.param, value)
                if sql is None:  # the relation the function receives
                    inputs[b.param] = value if scan is None else con.view(b.param)
            except Exception as exc:
                error = load_failure(step, b.param, b.key, exc)
                if error is exc:
                    raise
                raise error from exc
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        context = AssetContext(step.asset, asset.spec, run_id, None, holder)
        try:
            if sql is not None:  # the manager runs its statement, bound once, as it creates
                result: object = Query(sql.sql, sql.line)
            else:
                result = asset.run(inputs, context)
        except Exception as exc:
            raise user_failure(step, exc) from exc
        if type(result).__name__ == "RecordBatchReader":  # duckdb's rel.arrow() returns one
            result = result.read_all()  # type: ignore[attr-defined]
        if result is None:
            raise AssetExecutionError(
                str(step),
                "returned None; return the asset's data "
                "(a pandas.DataFrame, pyarrow.Table or duckdb relation).",
            )
        returned.append(result)
        return result

    name = env.defs.io_manager_name(asset)
    try:
        out = OutputContext(step.asset, asset.spec, run_id, None, fence, audit)
        return manager.save_query(out, build)
    except (LumbungError, _Cancelled):
        raise
    except Exception as exc:
        if returned and isinstance(returned[0], Query) and from_duckdb(exc):
            raise user_failure(step, exc) from exc  # the SQL asset's statement failed
        relation = not returned or kind_of(returned[0]) == "duckdb"
        error = store_failure(step, name, exc, relation)
        if error is exc:
            raise
        raise error from exc


class _Cancelled(Exception):
    """The run was interrupted before the query ran."""
