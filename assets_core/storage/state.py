"""The state store: runs, append-only materialization records with provenance, and locks.

``StateReader`` answers the planner (everything a plan needs in one call, ``latest``);
``StateStore`` adds the writes the executor makes (a run's records in few transactions).
``SQLiteStateStore`` (``assets_core.storage.sqlite``) is the durable default at
``<storage>/state.db``; ``MemoryStateStore`` here serves tests and throwaway runs.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Protocol

from assets_core.lazymap import LazyMapping
from assets_core.model.keys import AssetKey

Outcome = Literal["materialized", "up_to_date", "failed", "skipped"]
RunStatus = Literal["running", "success", "failed", "interrupted"]

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().raw_decode


def encode_inputs(inputs: Mapping[AssetKey, str | None]) -> str:
    """A record's ``inputs`` as stored: compact JSON of ``{"a/b": version}`` in the mapping's
    order. Equal text means equal inputs, which lets a planner compare a stored record with
    the current data versions without decoding it (``EncodedInputs.text``).

    Keys never need escaping (segments are ASCII letters, digits and ``_``), and nor do the
    hex digests data versions are, so the text is written directly, exactly as the JSON
    encoder would write it; any other value goes through the encoder."""
    parts = []
    for k, v in inputs.items():
        if v is None:
            parts.append(f'"{"/".join(k)}":null')
        elif v.isalnum() and v.isascii():
            parts.append(f'"{"/".join(k)}":"{v}"')
        else:
            return _encode({"/".join(k): v for k, v in inputs.items()})
    return "{" + ",".join(parts) + "}"


class EncodedInputs(LazyMapping[AssetKey, "str | None"]):
    """A record's ``inputs`` as read from a store: the stored text (``encode_inputs``),
    decoded into keys on first use. ``keys`` is a cache of parsed keys, shared by every
    record of one read."""

    __slots__ = ("_keys", "text")

    def __init__(self, text: str, keys: dict[str, AssetKey]) -> None:
        self.text = text
        self._keys = keys
        self._data = None

    def _load(self) -> dict[AssetKey, str | None]:
        keys = self._keys
        data = {}
        for name, version in _decode(self.text)[0].items():
            key = keys.get(name)
            if key is None:
                key = keys[name] = AssetKey.parse(name)
            data[key] = version
        return data


@dataclass(slots=True)
class MaterializationRecord:
    """One outcome for one asset in one run; successful ones carry full provenance.

    A value: nothing changes a record once made. It is not ``frozen`` only because a frozen
    dataclass's constructor costs four times as much, and planning reads one per asset.

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


@dataclass(slots=True)
class AssetState:
    """What the planner needs about one asset: its last success and its last attempt (a
    value, like ``MaterializationRecord``)."""

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
    def latest(
        self, keys: Iterable[AssetKey] | None = None, *, detail: bool = True
    ) -> dict[AssetKey, AssetState]:
        """The state of every given key (all known keys when ``None``), in one query.

        With ``detail=False`` (what planning needs) a record may leave out ``run_id``,
        ``rows``, ``bytes``, ``schema`` and ``error``, so it is cheaper to read."""
        ...

    def history(self, key: AssetKey | None = None, limit: int = 50) -> list[MaterializationRecord]:
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

    def acquire_locks(self, run_id: str, keys: Iterable[AssetKey], pid: int) -> list[LockConflict]:
        """Take every free lock among ``keys`` for ``run_id`` at once (all or nothing);
        return the conflicts (locks held by another live run). Locks of dead processes on
        this host are taken over: all locks of such a run are dropped, and the run, if still
        ``running``, becomes ``interrupted``."""
        ...

    def release_locks(self, run_id: str, keys: Iterable[AssetKey] | None = None) -> None: ...

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys`` (``lumbung wipe``)."""
        ...

    def close(self) -> None: ...


def lock_holder_is_gone(pid: int | None, host: str | None) -> bool:
    """Whether a lock's holder is known to be dead: a process of this host that no longer exists.

    A holder on another host, or one without a pid, is never assumed dead.
    """
    if pid is None or pid <= 0 or host != socket.gethostname():
        return False
    return not _pid_alive(pid)


if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there

    def _pid_alive(pid: int) -> bool:
        """Whether ``pid`` names a running process, asked of the Windows kernel."""
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() != 87)  # ERROR_INVALID_PARAMETER: no such pid
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

else:

    def _pid_alive(pid: int) -> bool:
        """Whether ``pid`` names a process of this host (a zombie still counts)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by another user
            return True
        return True


@dataclass(slots=True)
class _HeldLock:
    run_id: str
    pid: int | None
    host: str | None
    acquired_at: float


class MemoryStateStore:
    """A ``StateStore`` held in dicts: same semantics as the SQLite store, nothing durable.

    Thread-safe (one lock around every call). Locks are per store object, so they only
    exclude runs that share it; use ``SQLiteStateStore`` to exclude other processes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunRecord] = {}
        self._history: list[MaterializationRecord] = []  # oldest first
        self._latest: dict[AssetKey, AssetState] = {}
        self._locks: dict[AssetKey, _HeldLock] = {}
        self._files: dict[str, FileObservation] = {}

    # -- reads -------------------------------------------------------------------------------

    def latest(
        self, keys: Iterable[AssetKey] | None = None, *, detail: bool = True
    ) -> dict[AssetKey, AssetState]:
        """The state of every given key that has records (all known keys when ``None``)."""
        with self._lock:
            if keys is None:
                return dict(self._latest)
            found = self._latest
            return {k: found[k] for k in keys if k in found}

    def history(self, key: AssetKey | None = None, limit: int = 50) -> list[MaterializationRecord]:
        """Records, newest first; of one asset when ``key`` is given."""
        out: list[MaterializationRecord] = []
        if limit <= 0:
            return out
        with self._lock:
            for rec in reversed(self._history):
                if key is None or rec.key == key:
                    out.append(rec)
                    if len(out) >= limit:
                        break
        return out

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first (by start time, then by insertion)."""
        with self._lock:
            newest_first = list(reversed(self._runs.values()))
        newest_first.sort(key=lambda r: r.started_at, reverse=True)  # stable: ties keep order
        return newest_first[: max(0, limit)]

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        with self._lock:
            files = self._files
            return {p: files[p] for p in paths if p in files}

    # -- writes ------------------------------------------------------------------------------

    def start_run(self, run: RunRecord) -> None:
        """Record a run (replacing one with the same id)."""
        with self._lock:
            self._runs[run.run_id] = run

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None:
        """Set a run's final status and end time; an unknown run id is ignored."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                self._runs[run_id] = replace(run, status=status, ended_at=ended_at)

    def record(self, records: Sequence[MaterializationRecord]) -> None:
        """Append records at once; a ``materialized`` one becomes its key's last success."""
        frozen = [_frozen(r) for r in records]
        with self._lock:
            latest = self._latest
            for rec in frozen:
                prev = latest.get(rec.key)
                last = rec if rec.outcome == "materialized" else (prev.last if prev else None)
                latest[rec.key] = AssetState(last, rec.outcome, rec.ended_at or rec.started_at)
            self._history.extend(frozen)

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None:
        """Insert or replace the cached hashes of source files."""
        with self._lock:
            for obs in observations:
                self._files[obs.path] = obs

    def acquire_locks(self, run_id: str, keys: Iterable[AssetKey], pid: int) -> list[LockConflict]:
        """Take every lock among ``keys`` for ``run_id`` (all or nothing); return conflicts."""
        wanted = list(dict.fromkeys(keys))
        host = socket.gethostname()
        with self._lock:
            conflicts: list[LockConflict] = []
            dead: set[str] = set()
            for key in wanted:
                held = self._locks.get(key)
                if held is None or held.run_id == run_id:
                    continue
                if lock_holder_is_gone(held.pid, held.host):
                    dead.add(held.run_id)
                else:
                    conflicts.append(LockConflict(key, held.run_id, held.pid))
            if conflicts:
                return sorted(conflicts, key=lambda c: c.key)
            now = time.time()
            for key in [k for k, lock in self._locks.items() if lock.run_id in dead]:
                del self._locks[key]
            for gone in dead:
                run = self._runs.get(gone)
                if run is not None and run.status == "running":
                    self._runs[gone] = replace(run, status="interrupted", ended_at=now)
            for key in wanted:
                self._locks[key] = _HeldLock(run_id, pid, host, now)
        return []

    def release_locks(self, run_id: str, keys: Iterable[AssetKey] | None = None) -> None:
        """Release ``run_id``'s locks: all of them, or those among ``keys``."""
        with self._lock:
            held = self._locks
            candidates = list(held) if keys is None else list(keys)
            for key in candidates:
                lock = held.get(key)
                if lock is not None and lock.run_id == run_id:
                    del held[key]

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys`` (``lumbung wipe``)."""
        gone = set(keys)
        with self._lock:
            self._history = [r for r in self._history if r.key not in gone]
            for key in gone:
                self._latest.pop(key, None)

    def close(self) -> None:
        """Nothing to release; present for the protocol."""

    def __enter__(self) -> MemoryStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frozen(rec: MaterializationRecord) -> MaterializationRecord:
    """``rec`` with read-only copies of its mappings, so a caller's later edits cannot leak in."""
    return replace(
        rec,
        inputs=MappingProxyType(dict(rec.inputs)) if rec.inputs else _EMPTY,
        code_components=MappingProxyType(dict(rec.code_components))
        if rec.code_components
        else _EMPTY,
    )
