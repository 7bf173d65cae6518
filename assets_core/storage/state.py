"""The state store: runs, append-only materialization records with provenance, and locks.

Everything is keyed by ``StepKey`` (an asset key and a partition key). The contract is split by
capability, so each part of the engine asks only for what it uses:

- ``StateReader``: what planning and the read-only commands ask (everything a plan needs in one
  call, ``latest``), plus history and runs;
- ``RunWriter``: the writes a run makes (its records in few transactions);
- ``LockTable``: per-step run locks, all or nothing;
- ``ObservationCache``: source files' content hashes, valid while their size and mtime hold;
- ``LogStore``: what each step logged and printed, by run;
- ``StateStore``: all of them, with ``forget`` and ``close``.

``SQLiteStateStore`` (``assets_core.storage.sqlite``) is the durable default at
``<storage>/state.db``; ``MemoryStateStore`` here serves tests and throwaway runs. Locations are
handed in and out as absolute paths (or URIs); a durable store keeps them relative to its
storage folder, so a copied or moved project finds its outputs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Protocol

from assets_core.lazymap import LazyMapping
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.liveness import Holder, holder_alive, holder_is_gone, holder_of

Outcome = Literal["materialized", "up_to_date", "failed", "skipped"]
RunStatus = Literal["running", "success", "failed", "interrupted"]
LogStream = Literal["log", "stdout", "stderr"]

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().raw_decode


def _plain(text: str) -> bool:
    """Whether ``text`` can stand in JSON quotes as it is (no quote, backslash or control)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def encode_inputs(
    inputs: Mapping[StepKey, str | None], names: dict[StepKey, str] | None = None
) -> str:
    """A record's ``inputs`` as stored: compact JSON of ``{"a/b": version}`` (a partition as
    ``"a/b[p]"``) in the mapping's order. Equal text means equal inputs, which lets a planner
    compare a stored record with the current data versions without decoding it."""
    return encode_versions(list(inputs), inputs, names)


def encode_versions(
    steps: Sequence[StepKey],
    versions: Mapping[StepKey, str | None],
    names: dict[StepKey, str] | None = None,
) -> str:
    """``encode_inputs`` of ``steps`` with their versions in ``versions`` (which may hold
    more), without building a mapping of them: what a planner compares with a stored record.
    ``names`` caches each step's text across calls. Step names and hex digests never need
    escaping, so the usual text is written directly, exactly as the JSON encoder would write
    it; anything else goes through the encoder."""
    if names is None:
        names = {}
    parts = []
    get = versions.get
    for step in steps:
        name = names.get(step)
        if name is None:
            name = "/".join(step[0]) if step[1] is None else str(step)
            if step[1] is not None and not _plain(name):
                return _encode({str(k): get(k) for k in steps})
            names[step] = name
        v = get(step)
        if v is None:
            parts.append(f'"{name}":null')
        elif v.isalnum() and v.isascii():
            parts.append(f'"{name}":"{v}"')
        else:
            return _encode({str(k): get(k) for k in steps})
    return "{" + ",".join(parts) + "}"


def version_fragment(name: str, version: str | None) -> str:
    """One entry of ``encode_versions``: ``"a/b[p]":"version"``, exactly as it writes it, so
    that ``"{" + ",".join(entries) + "}"`` is the encoding of the steps in that order."""
    if version is None:
        if _plain(name):
            return f'"{name}":null'
        return _encode(name) + ":null"
    if _plain(name) and version.isalnum() and version.isascii():
        return f'"{name}":"{version}"'
    return _encode(name) + ":" + _encode(version)


class EncodedInputs(LazyMapping[StepKey, "str | None"]):
    """A record's ``inputs`` as read from a store: the stored text (``encode_inputs``),
    decoded into step keys on first use. ``steps`` is a cache of parsed keys, shared by every
    record of one read."""

    __slots__ = ("_steps", "text")

    def __init__(self, text: str, steps: dict[str, StepKey]) -> None:
        self.text = text
        self._steps = steps
        self._data = None

    def _load(self) -> dict[StepKey, str | None]:
        steps = self._steps
        data = {}
        for name, version in _decode(self.text)[0].items():
            step = steps.get(name)
            if step is None:
                step = steps[name] = StepKey.parse(name)
            data[step] = version
        return data


@dataclass(slots=True)
class MaterializationRecord:
    """One outcome for one step in one run; successful ones carry full provenance.

    A value: nothing changes a record once made. It is not ``frozen`` only because a frozen
    dataclass's constructor costs four times as much, and planning reads one per step.

    ``inputs`` holds the data version of every upstream step (loaded or ``deps``) as it was
    read; ``code_components`` maps each function that went into the code version (the asset's
    own and each project-local helper, by qualified name) to its hash, so a plan can say which
    function changed. A failed record keeps the code version and inputs it failed with.
    ``fingerprint`` is what the IO manager said identifies the stored output as written
    (``StoredOutput.fingerprint``); ``None`` when it keeps none, or the record predates them.
    """

    step: StepKey
    run_id: str
    outcome: Outcome
    code_version: str = ""
    data_version: str | None = None
    inputs: Mapping[StepKey, str | None] = field(default_factory=lambda: _EMPTY)
    code_components: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    started_at: float = 0.0
    ended_at: float = 0.0
    rows: int | None = None
    bytes: int | None = None
    location: str | None = None
    schema: tuple[tuple[str, str], ...] = ()
    error: str | None = None  # one line, then the user's traceback
    fingerprint: str | None = None  # of the stored output as written (None: unknown)

    @property
    def key(self) -> AssetKey:
        return self.step[0]

    @property
    def partition(self) -> str | None:
        return self.step[1]

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One result of one data check on one step's output (DESIGN §13).

    ``data_versions`` holds what the check read: the checked step's data version, and for a
    relationships check the other asset's steps' too (step text -> data version);
    ``code_version`` is the check's own. A check whose code version and reads are what they
    were when it last ran needs no new run (``lumbung check``)."""

    step: StepKey
    name: str
    severity: str
    passed: bool
    code_version: str
    data_versions: Mapping[str, str | None] = field(default_factory=lambda: _EMPTY)
    run_id: str | None = None
    failing_rows: int | None = None
    sample: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    error: str | None = None  # what failed, in a line (None: passed)
    at: float = 0.0

    @property
    def blocking(self) -> bool:
        return self.severity == "error"


@dataclass(slots=True)
class StepState:
    """What the planner needs about one step: its last success, and its last attempt (a value,
    like ``MaterializationRecord``). ``failure`` is the last attempt when it failed: the code
    version and inputs it failed with decide whether the step still counts as failed."""

    last: MaterializationRecord | None  # latest outcome == "materialized"
    last_outcome: Outcome | None = None  # latest outcome of any kind
    last_attempt_at: float | None = None
    failure: MaterializationRecord | None = None


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
    """A source file's content hash, valid while its size, mtime and ctime are unchanged (an
    edit that restores the mtime, as ``cp -p`` and ``rsync -t`` do, still moves the ctime)."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class LockConflict:
    """A step another live run holds."""

    step: StepKey
    run_id: str
    pid: int | None

    @property
    def key(self) -> AssetKey:
        return self.step[0]


@dataclass(frozen=True, slots=True)
class HeldLock:
    """A step lock as ``lumbung unlock`` shows it: the step, the run holding it, that run's
    process, when it was taken, and whether that process lives (None: cannot be told from
    here, such as a holder on another machine)."""

    step: StepKey
    run_id: str
    holder: Holder
    acquired_at: float
    alive: bool | None


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a step logged (``context.log``, ``stream="log"``, with its ``level``) or
    printed (``stdout``/``stderr``) in one run. ``seq`` orders a step's lines within a run."""

    step: StepKey
    run_id: str
    seq: int
    at: float
    stream: LogStream
    level: str | None
    message: str


class StateReader(Protocol):
    """What planning and the read-only commands read."""

    def latest(
        self, keys: Iterable[AssetKey] | None = None, *, detail: bool = True
    ) -> Mapping[StepKey, StepState]:
        """The state of every step (every partition) of the given assets (of all known assets
        when ``None``), in one query.

        With ``detail=False`` (what planning needs) a record may leave out ``run_id``,
        ``rows``, ``bytes``, ``schema`` and ``error``, so it is cheaper to read, and the
        mapping may be a ``PlanState`` (``assets_core.storage.planstate``), which makes each
        step's ``StepState`` when it is asked for and holds a step's last outcome and attempt
        time, code components, times and location once ``read_details`` read them (while
        the store is open)."""
        ...

    def history(
        self,
        key: AssetKey | None = None,
        limit: int = 50,
        *,
        partition: str | None = None,
        by_run: bool = False,
    ) -> list[MaterializationRecord]:
        """Records, newest first; of one asset (and one of its partitions) when given. With
        ``by_run``, ``limit`` counts runs: every record of the newest ``limit`` runs that have
        one (so a run is never cut in half)."""
        ...

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first."""
        ...

    def recorded_keys(self) -> set[AssetKey]:
        """Every asset key with a record, defined or not (what ``lumbung wipe --orphans``
        compares with the definitions)."""
        ...

    def output_locations(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[StepKey, tuple[str, ...]]:
        """Every location the successful records of each step (of the given assets, of all
        when ``None``) name, each once, newest first: the first is where its last success was
        stored. A step with no such record is left out."""
        ...


class RunWriter(Protocol):
    """The writes a run makes."""

    def start_run(self, run: RunRecord) -> None: ...

    def record(self, records: Sequence[MaterializationRecord]) -> None:
        """Append records in one transaction."""
        ...

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None: ...


class LockTable(Protocol):
    """Per-step run locks: a run takes all the locks it needs at once, or none."""

    def acquire_locks(self, run_id: str, steps: Iterable[StepKey], pid: int) -> list[LockConflict]:
        """Take every free lock among ``steps`` for ``run_id`` at once (all or nothing);
        return the conflicts (locks held by another live run), sorted. Locks of dead processes
        on this host are taken over: all locks of such a run are dropped, and the run, if still
        ``running``, becomes ``interrupted``."""
        ...

    def release_locks(self, run_id: str, steps: Iterable[StepKey] | None = None) -> None: ...

    def locks(self) -> list[HeldLock]:
        """Every step lock, by run then step, each with whether its holder lives."""
        ...

    def break_locks(self, run_ids: Iterable[str]) -> int:
        """Drop every lock of ``run_ids`` whatever their holders (``lumbung unlock``), and mark
        those runs ``interrupted`` if still ``running``; the number of locks dropped."""
        ...


class ObservationCache(Protocol):
    """What planning found, so it is not found again: source files' content hashes, and
    stored outputs that hold their recorded data under a new fingerprint."""

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        ...

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None: ...

    def remember_fingerprints(self, found: Mapping[StepKey, tuple[str, str | None]]) -> None:
        """These steps' stored outputs hold their last success's data under a new
        fingerprint (copied without their modification times, say): ``found`` maps each to
        ``(new fingerprint, the data version it holds)``. ``latest`` hands that fingerprint
        out with the last success from now on, until the step's next success; a step whose
        last success has another data version by now is left alone."""
        ...


class LogStore(Protocol):
    """Each step's captured log lines, by run."""

    def append_logs(self, lines: Iterable[LogLine]) -> None:
        """Store lines in one transaction; a line with the run, step and ``seq`` of a stored
        one replaces it (so a batch sent again is stored once)."""
        ...

    def logs(self, run_id: str, key: AssetKey | None = None) -> list[LogLine]:
        """The lines of one run (of one asset's steps when ``key`` is given), ordered by step
        (the unpartitioned one, then partitions in key order), then by ``seq``."""
        ...


class DynamicKeys(Protocol):
    """The keys of dynamic partitions sets (``dynamic("customers")``), by set name, in the
    order they were added."""

    def dynamic_keys(self, names: Iterable[str] | None = None) -> dict[str, list[str]]:
        """The keys of each named set (every set when ``None``); a set with none is left out."""
        ...

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add ``keys`` to the set ``name`` (in one transaction); the ones that were new."""
        ...

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove ``keys`` from the set ``name``; the ones that were there. Records of their
        partitions stay (a key added again finds its history)."""
        ...


class CheckStore(Protocol):
    """Results of data checks."""

    def record_checks(self, records: Sequence[CheckRecord]) -> None:
        """Append check results in one transaction."""
        ...

    def latest_checks(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[tuple[StepKey, str], CheckRecord]:
        """The newest result of each check of each step (of the given assets; of all when
        ``None``), by (step, check name)."""
        ...


class StateStore(
    StateReader,
    RunWriter,
    LockTable,
    ObservationCache,
    LogStore,
    DynamicKeys,
    CheckStore,
    Protocol,
):
    """Every capability, as the SQLite and memory stores provide them."""

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys``, all their partitions (``lumbung wipe``)."""
        ...

    def forget_outputs(self, outputs: Iterable[tuple[StepKey, str]]) -> None:
        """Delete, in one transaction, the records of each step that name the location paired
        with it (``lumbung wipe --orphans``, once those outputs are removed). A step whose last
        success is among them is forgotten whole, as ``forget`` does, so no state points at a
        removed output; its other records stay otherwise."""
        ...

    def forget_steps(self, steps: Iterable[StepKey]) -> None:
        """Delete every record of ``steps`` (``lumbung wipe --partitions``)."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _HeldLock:
    run_id: str
    holder: Holder
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
        self._latest: dict[StepKey, StepState] = {}
        self._locks: dict[StepKey, _HeldLock] = {}
        self._files: dict[str, FileObservation] = {}
        self._logs: dict[tuple[str, StepKey, int], LogLine] = {}
        self._dynamic: dict[str, dict[str, float]] = {}
        self._checks: dict[tuple[StepKey, str], CheckRecord] = {}

    # -- dynamic partitions ------------------------------------------------------------------

    def dynamic_keys(self, names: Iterable[str] | None = None) -> dict[str, list[str]]:
        """The keys of each named set (every set when ``None``), in the order added."""
        with self._lock:
            wanted = self._dynamic if names is None else set(names)
            return {n: list(keys) for n, keys in self._dynamic.items() if n in wanted and keys}

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        with self._lock:
            found = self._dynamic.setdefault(name, {})
            added = [k for k in dict.fromkeys(keys) if k not in found]
            now = time.time()
            for k in added:
                found[k] = now
            return added

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        with self._lock:
            found = self._dynamic.get(name, {})
            removed = [k for k in dict.fromkeys(keys) if k in found]
            for k in removed:
                del found[k]
            return removed

    # -- reads -------------------------------------------------------------------------------

    def latest(
        self, keys: Iterable[AssetKey] | None = None, *, detail: bool = True
    ) -> Mapping[StepKey, StepState]:
        """The state of every step of the given assets that has records (all when ``None``)."""
        with self._lock:
            if keys is None:
                return dict(self._latest)
            wanted = set(keys)
            return {s: st for s, st in self._latest.items() if s[0] in wanted}

    def history(
        self,
        key: AssetKey | None = None,
        limit: int = 50,
        *,
        partition: str | None = None,
        by_run: bool = False,
    ) -> list[MaterializationRecord]:
        """Records, newest first; of one asset (and partition) when given; ``by_run``: of the
        newest ``limit`` runs."""
        out: list[MaterializationRecord] = []
        if limit <= 0:
            return out
        runs: set[str] = set()
        with self._lock:
            for rec in reversed(self._history):
                if key is not None and (
                    rec.step[0] != key or (partition is not None and rec.step[1] != partition)
                ):
                    continue
                if by_run and rec.run_id not in runs:
                    if len(runs) >= limit:
                        continue  # an older run; a record of a run already taken may follow
                    runs.add(rec.run_id)
                out.append(rec)
                if not by_run and len(out) >= limit:
                    break
        return out

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first (by start time, then by insertion)."""
        with self._lock:
            newest_first = list(reversed(self._runs.values()))
        newest_first.sort(key=lambda r: r.started_at, reverse=True)  # stable: ties keep order
        return newest_first[: max(0, limit)]

    def recorded_keys(self) -> set[AssetKey]:
        """Every asset key with a record."""
        with self._lock:
            return {step[0] for step in self._latest}

    def output_locations(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[StepKey, tuple[str, ...]]:
        """Each step's distinct successful locations, newest first."""
        wanted = None if keys is None else set(keys)
        found: dict[StepKey, dict[str, None]] = {}
        with self._lock:
            for rec in reversed(self._history):
                if rec.outcome != "materialized" or rec.location is None:
                    continue
                if wanted is not None and rec.step[0] not in wanted:
                    continue
                found.setdefault(rec.step, {})[rec.location] = None
        return {step: tuple(places) for step, places in found.items()}

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        with self._lock:
            files = self._files
            return {p: files[p] for p in paths if p in files}

    def logs(self, run_id: str, key: AssetKey | None = None) -> list[LogLine]:
        """The lines of one run (of one asset), ordered by step, then by ``seq``."""
        with self._lock:
            found = [
                line
                for (run, step, _), line in self._logs.items()
                if run == run_id and (key is None or step[0] == key)
            ]
        return sorted(found, key=_log_order)

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
        """Append records at once; a ``materialized`` one becomes its step's last success."""
        frozen = [_frozen(r) for r in records]
        with self._lock:
            latest = self._latest
            for rec in frozen:
                prev = latest.get(rec.step)
                last = rec if rec.outcome == "materialized" else (prev.last if prev else None)
                failure = rec if rec.outcome == "failed" else None
                at = rec.ended_at or rec.started_at
                latest[rec.step] = StepState(last, rec.outcome, at, failure)
            self._history.extend(frozen)

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None:
        """Insert or replace the cached hashes of source files."""
        with self._lock:
            for obs in observations:
                self._files[obs.path] = obs

    def remember_fingerprints(self, found: Mapping[StepKey, tuple[str, str | None]]) -> None:
        """Hand out these fingerprints with the steps' last successes from now on."""
        with self._lock:
            for step, (fingerprint, version) in found.items():
                st = self._latest.get(step)
                if st is not None and st.last is not None and st.last.data_version == version:
                    last = replace(st.last, fingerprint=fingerprint)
                    self._latest[step] = replace(st, last=last)

    def append_logs(self, lines: Iterable[LogLine]) -> None:
        """Store lines; one with the run, step and ``seq`` of a stored one replaces it."""
        with self._lock:
            for line in lines:
                self._logs[(line.run_id, line.step, line.seq)] = line

    def acquire_locks(self, run_id: str, steps: Iterable[StepKey], pid: int) -> list[LockConflict]:
        """Take every lock among ``steps`` for ``run_id`` (all or nothing); return conflicts."""
        wanted = list(dict.fromkeys(steps))
        holder = holder_of(pid)
        with self._lock:
            conflicts: list[LockConflict] = []
            dead: set[str] = set()
            for step in wanted:
                held = self._locks.get(step)
                if held is None or held.run_id == run_id:
                    continue
                if holder_is_gone(held.holder):
                    dead.add(held.run_id)
                else:
                    conflicts.append(LockConflict(step, held.run_id, held.holder.pid))
            if conflicts:
                return sorted(conflicts, key=lambda c: step_order(c.step))
            self._drop(dead)
            now = time.time()
            for step in wanted:
                self._locks[step] = _HeldLock(run_id, holder, now)
        return []

    def _drop(self, run_ids: set[str]) -> int:
        """Drop every lock of ``run_ids``; mark those runs interrupted (the caller holds the
        lock)."""
        now = time.time()
        gone = [s for s, lock in self._locks.items() if lock.run_id in run_ids]
        for step in gone:
            del self._locks[step]
        for run_id in run_ids:
            run = self._runs.get(run_id)
            if run is not None and run.status == "running":
                self._runs[run_id] = replace(run, status="interrupted", ended_at=now)
        return len(gone)

    def locks(self) -> list[HeldLock]:
        """Every step lock, by run then step, each with whether its holder lives."""
        with self._lock:
            held = list(self._locks.items())
        out = [
            HeldLock(step, lock.run_id, lock.holder, lock.acquired_at, holder_alive(lock.holder))
            for step, lock in held
        ]
        return sorted(out, key=lambda h: (h.run_id, step_order(h.step)))

    def break_locks(self, run_ids: Iterable[str]) -> int:
        """Drop every lock of ``run_ids`` whatever their holders; the number dropped."""
        with self._lock:
            return self._drop(set(run_ids))

    def release_locks(self, run_id: str, steps: Iterable[StepKey] | None = None) -> None:
        """Release ``run_id``'s locks: all of them, or those among ``steps``."""
        with self._lock:
            held = self._locks
            candidates = list(held) if steps is None else list(steps)
            for step in candidates:
                lock = held.get(step)
                if lock is not None and lock.run_id == run_id:
                    del held[step]

    def record_checks(self, records: Sequence[CheckRecord]) -> None:
        with self._lock:
            for r in records:
                self._checks[(r.step, r.name)] = r

    def latest_checks(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[tuple[StepKey, str], CheckRecord]:
        wanted = None if keys is None else set(keys)
        with self._lock:
            return {k: r for k, r in self._checks.items() if wanted is None or k[0][0] in wanted}

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys``, all their partitions (``lumbung wipe``)."""
        gone = set(keys)
        with self._lock:
            self._checks = {k: r for k, r in self._checks.items() if k[0][0] not in gone}
            self._history = [r for r in self._history if r.step[0] not in gone]
            for step in [s for s in self._latest if s[0] in gone]:
                del self._latest[step]

    def forget_outputs(self, outputs: Iterable[tuple[StepKey, str]]) -> None:
        """Delete each step's records at the paired location; a step whose last success is
        one of them is forgotten whole."""
        places: dict[StepKey, set[str]] = {}
        for step, location in outputs:
            places.setdefault(step, set()).add(location)
        with self._lock:
            whole = set()
            for step, locations in places.items():
                st = self._latest.get(step)
                if st is not None and st.last is not None and st.last.location in locations:
                    whole.add(step)
                    del self._latest[step]
            self._history = [
                r
                for r in self._history
                if r.step not in whole and r.location not in places.get(r.step, ())
            ]

    def forget_steps(self, steps: Iterable[StepKey]) -> None:
        """Delete every record of ``steps`` (``lumbung wipe --partitions``)."""
        gone = set(steps)
        with self._lock:
            self._checks = {k: r for k, r in self._checks.items() if k[0] not in gone}
            self._history = [r for r in self._history if r.step not in gone]
            for step in gone:
                self._latest.pop(step, None)

    def close(self) -> None:
        """Nothing to release; present for the protocol."""

    def __enter__(self) -> MemoryStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def step_order(step: StepKey) -> tuple[AssetKey, str]:
    """How steps sort where they are listed: by asset key, the unpartitioned step first, then
    partitions in key order (a plain sort of step keys fails on ``None`` beside a partition)."""
    return (step[0], step[1] or "")


def _log_order(line: LogLine) -> tuple[AssetKey, str, int]:
    return (line.step[0], line.step[1] or "", line.seq)


def _frozen(rec: MaterializationRecord) -> MaterializationRecord:
    """``rec`` with read-only copies of its mappings, so a caller's later edits cannot leak in."""
    return replace(
        rec,
        inputs=MappingProxyType(dict(rec.inputs)) if rec.inputs else _EMPTY,
        code_components=MappingProxyType(dict(rec.code_components))
        if rec.code_components
        else _EMPTY,
    )
