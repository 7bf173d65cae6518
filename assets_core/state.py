"""The state store: runs, append-only materialization records with provenance, and locks.

``StateReader`` answers the planner (everything a plan needs in one call, ``latest``);
``StateStore`` adds the writes the executor makes (a run's records in few transactions).
``SQLiteStateStore`` (``assets_core.sqlite_state``) is the durable default at
``<storage>/state.db``; ``MemoryStateStore`` here serves tests and throwaway runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from assets_core.keys import AssetKey

Outcome = Literal["materialized", "up_to_date", "failed", "skipped"]
RunStatus = Literal["running", "success", "failed", "interrupted"]

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MaterializationRecord:
    """One outcome for one asset in one run; successful ones carry full provenance.

    ``inputs`` holds the data version of every upstream (loaded or ``deps``) as it was read;
    ``code_components`` maps each function that went into the code version (the asset's own
    and each project-local helper, by qualified name) to its hash, so a plan can say which
    function changed.
    """

    key: AssetKey
    run_id: str
    outcome: Outcome
    code_version: str = ""
    data_version: str | None = None
    inputs: Mapping[AssetKey, str | None] = field(default_factory=lambda: _EMPTY)
    code_components: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    started_at: float = 0.0
    ended_at: float = 0.0
    rows: int | None = None
    bytes: int | None = None
    location: str | None = None
    schema: tuple[tuple[str, str], ...] = ()
    error: str | None = None  # one line, then the user's traceback
    partition: str | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True, slots=True)
class AssetState:
    """What the planner needs about one asset: its last success and its last attempt."""

    last: MaterializationRecord | None  # latest outcome == "materialized"
    last_outcome: Outcome | None = None  # latest outcome of any kind
    last_attempt_at: float | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    started_at: float
    status: RunStatus = "running"
    ended_at: float | None = None
    selection: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class FileObservation:
    """A source file's content hash, valid while its size and mtime are unchanged."""

    path: str
    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class LockConflict:
    key: AssetKey
    run_id: str
    pid: int | None


class StateReader(Protocol):
    def latest(self, keys: Iterable[AssetKey] | None = None) -> dict[AssetKey, AssetState]:
        """The state of every given key (all known keys when ``None``), in one query."""
        ...

    def history(
        self, key: AssetKey | None = None, limit: int = 50
    ) -> list[MaterializationRecord]:
        """Records, newest first; of one asset when ``key`` is given."""
        ...

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first."""
        ...

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        ...


class StateStore(StateReader, Protocol):
    def start_run(self, run: RunRecord) -> None: ...

    def record(self, records: Sequence[MaterializationRecord]) -> None:
        """Append records in one transaction."""
        ...

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None: ...

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None: ...

    def acquire_locks(
        self, run_id: str, keys: Iterable[AssetKey], pid: int
    ) -> list[LockConflict]:
        """Take every free lock among ``keys`` for ``run_id`` at once (all or nothing);
        return the conflicts (locks held by another live run). Locks of dead processes on
        this host are taken over."""
        ...

    def release_locks(self, run_id: str, keys: Iterable[AssetKey] | None = None) -> None: ...

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys`` (``lumbung wipe``)."""
        ...

    def close(self) -> None: ...
