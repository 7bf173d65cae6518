"""``lumbung check``: the checks of stored outputs, re-run only where their inputs changed.

A check's last result stands while its code version and what it reads (the checked step's
data version as recorded, and for a relationships check the other asset's) are what they
were when it ran; ``force`` runs every check anyway. The rows are read where they are stored:
a manager with a ``scan(ctx)`` method (the Parquet manager: ``read_parquet`` in place) gives
SQL for them, any other is loaded into Arrow and registered on the connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from assets_core.execution.checks import (
    check_code_version,
    check_record,
    checks_of,
    reads_of,
    run_checks,
)
from assets_core.model.definitions import Definitions
from assets_core.model.keys import StepKey
from assets_core.partitions.columns import dimension_names
from assets_core.storage.io import DuckDBHolder, InputContext, OutputContext
from assets_core.storage.loading import load_input
from assets_core.storage.registry import IOManagers
from assets_core.storage.state import CheckRecord, CheckStore, StateReader
from assets_core.storage.values import to_arrow

if TYPE_CHECKING:
    import duckdb

__all__ = ["CheckRun", "check_stored"]


@dataclass
class CheckRun:
    """What ``check_stored`` did: the result of every check of the steps it looked at (new or
    still standing), which ran, and the steps that have no stored output to check."""

    results: list[CheckRecord] = field(default_factory=list)
    ran: list[tuple[StepKey, str]] = field(default_factory=list)
    missing: list[StepKey] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckRecord]:
        """The failing results of blocking checks."""
        return [r for r in self.results if not r.passed and r.blocking]


def check_stored(
    defs: Definitions,
    io: IOManagers,
    state: StateReader,
    steps: Iterable[StepKey],
    *,
    force: bool = False,
    run_id: str | None = None,
) -> CheckRun:
    """Run the checks of ``steps`` (each a stored output of an asset with checks) whose inputs
    changed since they last ran (all with ``force``), record the new results, and return them
    with the ones still standing."""
    steps = [s for s in steps if checks_of(defs, s.asset)]
    keys = sorted({s.asset for s in steps})
    done = CheckRun()
    if not steps:
        return done
    stored = state.latest(keys, detail=False)
    previous = cast(CheckStore, state).latest_checks(keys)
    new: list[CheckRecord] = []
    holder = DuckDBHolder()
    try:
        for step in steps:
            st = stored.get(step)
            if st is None or st.last is None:
                done.missing.append(step)
                continue
            version = st.last.data_version
            due: set[str] = set()
            for check in checks_of(defs, step.asset):
                last = previous.get((step, check.name))
                reads = reads_of(defs, step, check.name, version, state, {})
                if (
                    force
                    or last is None
                    or last.code_version != check_code_version(check)
                    or dict(last.data_versions) != reads
                ):
                    due.add(check.name)
                else:
                    done.results.append(last)
            if not due:
                continue
            con = holder.get()
            source, view = _stored_rows(defs, io, step, con)
            try:
                outcomes = run_checks(
                    defs, io, step.asset, con, source, version, run_id or "", frozenset(due)
                )
            finally:
                if view is not None:
                    con.unregister(view)
            for o in outcomes:
                record = check_record(defs, step, o, state, {}, run_id)
                new.append(record)
                done.results.append(record)
                done.ran.append((step, o.name))
    finally:
        holder.close()
    cast(CheckStore, state).record_checks(new)
    return done


def _stored_rows(
    defs: Definitions, io: IOManagers, step: StepKey, con: duckdb.DuckDBPyConnection
) -> tuple[str, str | None]:
    """SQL reading ``step``'s stored rows as they were saved (no dimension columns), and the
    view registered on ``con`` for them (``None``: nothing registered)."""
    asset = defs.assets[step.asset]
    manager = io.get(defs.io_manager_name(asset))
    scan = getattr(manager, "scan", None)
    if callable(scan):
        return str(scan(OutputContext(step.asset, asset.spec, "", step.partition))), None
    parts = None if step.partition is None else (step.partition,)
    import pyarrow as pa

    ctx = InputContext(step.asset, asset.spec, expected_type=pa.Table, partitions=parts)
    table = to_arrow(load_input(defs, io, ctx))
    if step.partition is not None and asset.spec.partitions is not None:
        dims = [n for n in dimension_names(asset.spec.partitions) if n in table.column_names]
        table = table.drop_columns(dims)
    view = f"lumbung_stored_{uuid.uuid4().hex}"
    con.register(view, table)
    return f'"{view}"', view
