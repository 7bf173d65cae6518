"""The data checks of one step's output, run and judged (DESIGN §13).

A step of an asset with checks gives its IO manager an ``Audit`` as ``OutputContext.audit``:
the manager writes the new output to its staging location (the Parquet manager's temporary
file, the DuckDB manager's open transaction), calls it, and publishes only when it returns.
It runs every check of the asset on the staged rows (``storage.checks``), puts the results
in its sink for the record, and raises ``CheckFailedError`` when a blocking one failed, so
the manager leaves the previous version in place. A manager that cannot stage has the value
checked in memory, through Arrow, before ``save`` (``check_value``). ``lumbung check`` runs
the same ``run_checks`` on stored outputs. An asset without checks gets no audit: its save is as it
always was.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from assets_core.code_version.normalize import digest_of
from assets_core.errors import CheckFailedError
from assets_core.model.checks import CheckSpec, CustomCheck
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, StepKey
from assets_core.planning.planner import Reason
from assets_core.storage.checks import CheckOutcome, run_builtin, run_custom
from assets_core.storage.io import DuckDBHolder, InputContext, Staged
from assets_core.storage.loading import load_input
from assets_core.storage.registry import IOManagers
from assets_core.storage.state import CheckRecord, CheckStore, StateReader, StepState
from assets_core.storage.values import to_arrow

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from assets_core.code_version.versioner import CodeVersioner

__all__ = [
    "AnyCheck",
    "Audit",
    "check_code_version",
    "check_record",
    "checks_of",
    "checks_wait_for",
    "failed_message",
    "failing_reasons",
    "last_results",
    "reads_of",
    "run_checks",
    "verdict",
]

AnyCheck = CheckSpec | CustomCheck


def checks_of(defs: Definitions, key: AssetKey) -> tuple[AnyCheck, ...]:
    """Every check of ``key``: its built-ins, then its custom checks."""
    return (*defs.assets[key].spec.checks, *defs.custom_checks.get(key, ()))


def checks_wait_for(defs: Definitions, steps: Iterable[StepKey]) -> dict[StepKey, list[StepKey]]:
    """For each of ``steps`` whose checks read another asset (a relationships check's ``to``),
    the steps of that asset among ``steps``: the run finishes them first, so the check reads
    that asset as this run leaves it (on a fresh project, at all). Not when that asset is
    downstream of the checked one: waiting would be a cycle, and its check reads the version
    stored before."""
    waits: dict[StepKey, list[StepKey]] = {}
    if not defs.has_checks:
        return waits
    by_asset: dict[AssetKey, list[StepKey]] = {}
    for step in steps:
        by_asset.setdefault(step.asset, []).append(step)
    for key, own in by_asset.items():
        targets = {c.to for c in defs.assets[key].spec.checks if c.to is not None and c.to != key}
        targets.difference_update(defs.graph.descendants([key]))
        first = [s for to in sorted(targets, key=str) for s in by_asset.get(to, ())]
        if first:
            for step in own:
                waits[step] = first
    return waits


_versioner: CodeVersioner | None = None
_versioner_lock = threading.Lock()


def check_code_version(check: AnyCheck) -> str:
    """A check's own code version: a built-in's arguments, a custom check's code (followed
    into the project-local code it uses, like an asset's)."""
    if isinstance(check, CheckSpec):
        return digest_of("check", check.identity())
    global _versioner
    with _versioner_lock:
        if _versioner is None:
            from assets_core.code_version.versioner import CodeVersioner

            _versioner = CodeVersioner()
        versioner = _versioner
    return digest_of("check", versioner.version_of_function(check.fn))


def run_checks(
    defs: Definitions,
    io: IOManagers,
    key: AssetKey,
    con: duckdb.DuckDBPyConnection,
    source: str,
    data_version: str | None,
    run_id: str = "",
    only: frozenset[str] | None = None,
) -> list[CheckOutcome]:
    """Run the checks of ``key`` (those named in ``only``, when given) on the rows ``source``
    reads on ``con``; each outcome carries the data and code versions it was checked at."""
    references: dict[AssetKey, pa.Table] = {}

    def reference(to: AssetKey) -> pa.Table:
        found = references.get(to)
        if found is None:
            import pyarrow as pa

            ctx = InputContext(
                key=to,
                spec=defs.assets[to].spec,
                expected_type=pa.Table,
                consumer=key,
                run_id=run_id,
            )
            found = references[to] = to_arrow(load_input(defs, io, ctx))
        return found

    out = []
    for check in checks_of(defs, key):
        if only is not None and check.name not in only:
            continue
        if isinstance(check, CheckSpec):
            outcome = run_builtin(con, source, check, reference)
        else:
            outcome = run_custom(con, source, check)
        code = check_code_version(check)
        out.append(replace(outcome, code_version=code, data_version=data_version))
    return out


def failed_message(step: StepKey, failed: list[CheckOutcome]) -> str:
    """What a step that a blocking check stopped says (after its key)."""
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return (
        f"check {first.name} failed: {first.message}{more}; the new output was not published "
        f"and the previous version stays (check_failed). See lumbung show {step.asset}."
    )


class Audit:
    """The ``OutputContext.audit`` of one step (see the module docstring); ``outcomes`` holds
    the results of the checks it ran."""

    def __init__(
        self,
        defs: Definitions,
        io: IOManagers,
        step: StepKey,
        run_id: str,
        holder: DuckDBHolder,
        sink: list[tuple[StepKey, CheckOutcome]],
    ) -> None:
        self.defs = defs
        self.io = io
        self.step = step
        self.run_id = run_id
        self.holder = holder
        #: where the results go, with the step they are of
        self.sink = sink

    def __call__(self, staged: Staged) -> None:
        con = staged.connection or self.holder.get()
        found = run_checks(
            self.defs,
            self.io,
            self.step.asset,
            con,
            staged.source,
            staged.data_version,
            self.run_id,
        )
        self.sink.extend((self.step, o) for o in found)
        failed = [o for o in found if not o.passed and o.blocking]
        if failed:
            raise CheckFailedError(str(self.step), failed_message(self.step, failed))

    def check_value(self, value: object) -> None:
        """Check ``value`` in memory, through Arrow (a manager that cannot stage)."""
        con = self.holder.get()
        view = f"lumbung_checked_{uuid.uuid4().hex}"
        con.register(view, to_arrow(value))
        try:
            self(Staged(f'"{view}"', "", con))
        finally:
            con.unregister(view)


def reads_of(
    defs: Definitions,
    step: StepKey,
    name: str,
    data_version: str | None,
    reader: StateReader,
    fresh: Mapping[StepKey, str | None],
) -> dict[str, str | None]:
    """What the check ``name`` of ``step`` reads, as step text -> data version: the checked
    step's ``data_version``, and for a relationships check every step of the other asset
    (``fresh`` holds the versions a run just wrote; the others are as recorded)."""
    reads: dict[str, str | None] = {str(step): data_version}
    spec = next((c for c in defs.assets[step.asset].spec.checks if c.name == name), None)
    if spec is not None and spec.to is not None:
        found: dict[StepKey, str | None] = {
            other: state.last.data_version if state.last else None
            for other, state in reader.latest([spec.to], detail=False).items()
        }
        found.update((other, v) for other, v in fresh.items() if other.asset == spec.to)
        for other in sorted(found, key=str):
            reads[str(other)] = found[other]
    return reads


def check_record(
    defs: Definitions,
    step: StepKey,
    outcome: CheckOutcome,
    reader: StateReader,
    fresh: Mapping[StepKey, str | None],
    run_id: str | None,
) -> CheckRecord:
    """The state record of ``outcome``, the result of a check of ``step``."""
    return CheckRecord(
        step=step,
        name=outcome.name,
        severity=outcome.severity,
        passed=outcome.passed,
        code_version=outcome.code_version,
        data_versions=reads_of(defs, step, outcome.name, outcome.data_version, reader, fresh),
        run_id=run_id,
        failing_rows=outcome.failing,
        sample=outcome.sample,
        metadata=outcome.metadata,
        error=outcome.message,
        at=time.time(),
    )


def failing_reasons(
    latest: Mapping[StepKey, StepState], records: Mapping[tuple[StepKey, str], CheckRecord]
) -> dict[StepKey, Reason]:
    """A ``check_failed`` reason for each step whose stored output (its last success, as
    recorded) fails a blocking check: what the planner marks stale."""
    out: dict[StepKey, Reason] = {}
    for (step, name), r in sorted(records.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if r.passed or not r.blocking or step in out:
            continue
        st = latest.get(step)
        last = st.last if st is not None else None
        if last is None or r.data_versions.get(str(step)) != last.data_version:
            continue  # a result of other data (a version that was never published, say)
        message = f"stored output fails check {name}: {r.error}"
        out[step] = Reason("check_failed", message)
    return out


def verdict(record: CheckRecord | None) -> str:
    """``pass``, ``fail`` (a blocking check failed), ``warn`` (a warning one failed), or
    ``not run``."""
    if record is None:
        return "not run"
    if record.passed:
        return "pass"
    return "fail" if record.blocking else "warn"


def last_results(
    defs: Definitions, store: CheckStore, keys: Iterable[AssetKey]
) -> dict[AssetKey, list[tuple[AnyCheck, CheckRecord | None]]]:
    """Each check of each of ``keys`` that has checks, with its newest result (of any
    partition; ``None``: never run). One read of the state, none when no asset has checks."""
    declared = {k: checks_of(defs, k) for k in keys} if defs.has_checks else {}
    declared = {k: found for k, found in declared.items() if found}
    if not declared:
        return {}
    newest: dict[tuple[AssetKey, str], CheckRecord] = {}
    for (step, name), record in store.latest_checks(list(declared)).items():
        found = newest.get((step.asset, name))
        if found is None or record.at > found.at:
            newest[(step.asset, name)] = record
    return {k: [(c, newest.get((k, c.name))) for c in checks] for k, checks in declared.items()}
