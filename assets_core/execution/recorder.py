"""A run's records: one ``MaterializationRecord`` per decided step, written in batches (never
one transaction per step), and with them the lines its steps said (``runlogs``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import cast

from assets_core.execution.checks import check_record
from assets_core.execution.runlogs import RunLogs
from assets_core.execution.step import StepOutcome
from assets_core.model.definitions import Definitions
from assets_core.model.keys import StepKey
from assets_core.planning.planner import Plan
from assets_core.storage.checks import CheckOutcome
from assets_core.storage.state import (
    CheckRecord,
    CheckStore,
    MaterializationRecord,
    Outcome,
    RunWriter,
    StateReader,
)

__all__ = ["FLUSH_EVERY", "FLUSH_SIZE", "Recorder"]

FLUSH_EVERY = 0.5  # seconds between batched state writes
FLUSH_SIZE = 256  # records


class Recorder:
    """Builds each step's record and writes them in batches."""

    def __init__(
        self, state: RunWriter, plan: Plan, run_id: str, logs: RunLogs | None = None
    ) -> None:
        self.state = state
        self.plan = plan
        self.run_id = run_id
        self.logs = logs
        self.buffer: list[MaterializationRecord] = []
        self.checks: list[CheckRecord] = []
        self.last_flush = time.monotonic()

    def record(
        self,
        step: StepKey,
        outcome: Outcome,
        versions: Mapping[StepKey, str | None],
        out: StepOutcome | None = None,
        error: str | None = None,
    ) -> None:
        """Record ``step``'s ``outcome``: what it read (the current ``versions`` of its
        upstream steps) and, when it ran, what it wrote. An ``up_to_date`` step keeps its
        last success's provenance."""
        plan = self.plan
        cv = plan.code_versions.get(step.asset)
        now = time.time()
        stored = out.stored if out is not None else None
        if outcome == "up_to_date":
            last = plan.last[step]
            data_version, inputs = last.data_version, dict(last.inputs)
            fingerprint = last.fingerprint
        else:
            data_version = stored.data_version if stored is not None else None
            inputs = {u: versions.get(u) for u in plan.upstream.get(step, ())}
            fingerprint = stored.fingerprint if stored is not None else None
        self.buffer.append(
            MaterializationRecord(
                step=step,
                run_id=self.run_id,
                outcome=outcome,
                code_version=cv.version if cv is not None else "",
                code_components=cv.components if cv is not None else {},
                data_version=data_version,
                inputs=inputs,
                started_at=out.started_at if out is not None else now,
                ended_at=out.ended_at if out is not None else now,
                rows=stored.rows if stored is not None else None,
                bytes=stored.bytes if stored is not None else None,
                location=stored.location if stored is not None else None,
                schema=stored.schema if stored is not None else (),
                error=error,
                fingerprint=fingerprint,
            )
        )
        if (
            len(self.buffer) >= FLUSH_SIZE
            or time.monotonic() - self.last_flush > FLUSH_EVERY
            or (self.logs is not None and self.logs.due)
        ):
            self.flush()

    def record_checks(
        self,
        defs: Definitions,
        results: tuple[tuple[StepKey, CheckOutcome], ...],
        versions: Mapping[StepKey, str | None],
    ) -> None:
        """Record the results of the data checks a step ran, with what each read (written
        with the next batch of records)."""
        reader = cast(StateReader, self.state)
        self.checks += [
            check_record(defs, step, o, reader, versions, self.run_id) for step, o in results
        ]

    def flush(self) -> None:
        if self.checks:
            cast(CheckStore, self.state).record_checks(self.checks)
            self.checks = []
        if self.buffer:
            self.state.record(self.buffer)
            self.buffer = []
        if self.logs is not None:
            self.logs.flush()
        self.last_flush = time.monotonic()
