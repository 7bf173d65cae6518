"""What a run reports: an ``Event`` per thing that happens to a step (for progress displays),
and the ``RunResult`` at the end. Both are keyed by ``StepKey``; ``str(step)`` is the asset's
key for an unpartitioned asset."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from assets_core.model.keys import StepKey
from assets_core.storage.checks import CheckOutcome

__all__ = ["Event", "RunResult", "new_run_id"]

EventKind = Literal[
    "started", "materialized", "up_to_date", "failed", "skipped", "retry", "waiting"
]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to one step, for progress displays. ``waiting`` (before any
    step starts, at most once) says that another run holds steps of the plan: ``key`` is the
    first of them and ``message`` the line to show."""

    kind: EventKind
    key: StepKey
    duration: float = 0.0
    message: str = ""


@dataclass
class RunResult:
    """What a run did. Each list holds steps in the order their outcome was decided.

    ``errors`` maps each failed step to its error's text (a first line, then the user's
    traceback); ``exceptions`` to the error itself: an ``AssetExecutionError`` whose
    ``__cause__`` is the user's exception when the step ran in this process; ``tracebacks`` to
    the error's every frame, Lumbung's included (what ``--debug`` shows), wherever it ran.
    ``logged`` maps each step that logged or printed anything to the lines kept of it
    (``lumbung logs RUN_ID ASSET`` shows them).
    """

    run_id: str
    materialized: list[StepKey] = field(default_factory=list)
    up_to_date: list[StepKey] = field(default_factory=list)
    failed: list[StepKey] = field(default_factory=list)
    skipped: list[StepKey] = field(default_factory=list)
    errors: dict[StepKey, str] = field(default_factory=dict)
    exceptions: dict[StepKey, BaseException] = field(default_factory=dict, repr=False)
    tracebacks: dict[StepKey, str] = field(default_factory=dict, repr=False)
    durations: dict[StepKey, float] = field(default_factory=dict)
    logged: dict[StepKey, int] = field(default_factory=dict)
    #: the results of the data checks its steps ran, with the step each is of
    checks: list[tuple[StepKey, CheckOutcome]] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    interrupted: bool = False

    @property
    def success(self) -> bool:
        return not self.failed and not self.interrupted

    def summary(self) -> str:
        return (
            f"{len(self.materialized)} materialized, {len(self.up_to_date)} up to date, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "materialized": [str(k) for k in self.materialized],
            "up_to_date": [str(k) for k in self.up_to_date],
            "failed": [str(k) for k in self.failed],
            "skipped": [str(k) for k in self.skipped],
            "errors": {str(k): v.splitlines()[0] for k, v in self.errors.items()},
            "failed_checks": [
                {
                    "asset": str(step.asset),
                    "partition": step.partition,
                    "check": o.name,
                    "severity": o.severity,
                    "failing_rows": o.failing,
                    "message": o.message,
                }
                for step, o in self.failed_checks
            ],
        }

    @property
    def failed_checks(self) -> list[tuple[StepKey, CheckOutcome]]:
        """The checks that failed, blocking (their step failed) or warning."""
        return [(step, o) for step, o in self.checks if not o.passed]


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
