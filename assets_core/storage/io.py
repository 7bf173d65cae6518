"""The IO manager contract, its contexts, and ``MemoryIOManager``.

An IO manager stores an asset's output and loads it for the assets downstream. ``save``
returns a ``StoredOutput`` describing what it wrote, including the content hash (the data
version, see ``assets_core.storage.datahash``) that the planner compares. Managers live in
``io_managers/``; the engine knows them only through this protocol, by name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey, StepKey, step_of
from assets_core.model.spec import AssetSpec
from assets_core.model.validate import KeyCheck

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

    from assets_core.partitions.space import PartitionsDefinition


@dataclass(frozen=True, slots=True)
class StoredOutput:
    """What a save wrote: where, its data version, and its shape (for ``lumbung show``)."""

    location: str
    data_version: str
    rows: int | None = None
    bytes: int | None = None
    schema: tuple[tuple[str, str], ...] = ()
    #: what the data takes in memory as Arrow (about what loading it back allocates), when
    #: the manager knows it: a run keeps a value for its readers only within its budget
    memory: int | None = None
    #: a cheap token of the output as written (a file's size and modification time, say),
    #: which the manager can tell again without reading the data (``fingerprints``): when it
    #: later differs, something else changed the output. ``None``: the manager keeps none.
    fingerprint: str | None = None


class DuckDBHolder:
    """A lazily opened, per-asset DuckDB connection, closed when the asset is done: a cursor
    of the process's one in-memory instance, with a catalog of its own
    (``storage.duckdb_pool``)."""

    __slots__ = ("_con", "_lent", "_lock")

    def __init__(self, lent: duckdb.DuckDBPyConnection | None = None) -> None:
        #: ``lent``: a connection someone else owns and closes (an IO manager's cursor on
        #: its warehouse, for a step that runs inside it); ``close`` leaves it open
        self._con: duckdb.DuckDBPyConnection | None = lent
        self._lent = lent is not None
        self._lock = threading.Lock()

    def get(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                from assets_core.storage.duckdb_pool import step_connection

                self._con = step_connection()
            return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None and not self._lent:
                from assets_core.storage.duckdb_pool import release

                release(self._con)
                self._con = None


class Fence(Protocol):
    """Who may publish a step's output now (``assets_core.storage.fencing.RunFence``)."""

    def publishing(self, step: StepKey) -> AbstractContextManager[None]:
        """Hold the right to publish ``step``'s output for the block, or raise
        ``FencedError`` when its run is gone or another run holds its lock."""
        ...


@dataclass(frozen=True, slots=True)
class Query:
    """A SQL asset's statement over the inputs it bound on the connection a manager lent
    (``save_query``, DESIGN §14). The manager runs it to create the output itself, so the
    statement is bound once, as it runs, with no relation made of it first; a DuckDB error
    it raises is the asset's own. ``line``: the line of its file the statement starts on, so
    that the line an error of DuckDB's points at can be the file's."""

    sql: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class Staged:
    """A new output written where it will be published, not yet published (DESIGN §13):
    ``source`` is SQL that reads it (``read_parquet('...')``, a table), on ``connection``
    (``None``: any new DuckDB connection can read it), and ``data_version`` its data version."""

    source: str
    data_version: str
    connection: duckdb.DuckDBPyConnection | None = None


@dataclass(frozen=True, slots=True)
class OutputContext:
    """Everything a manager needs to store one asset's output.

    A manager wraps the moment its output becomes visible (a rename into place, a commit)
    in ``with ctx.publishing():``. Where a step runs outside its run's process (a worker
    process), ``fence`` makes that moment conditional: the run still lives and still holds
    the step's lock, or ``FencedError`` is raised and the manager leaves its stored output as
    it was. Elsewhere it costs nothing.

    ``audit``, when set, is called with the ``Staged`` output just before that moment
    (write-audit-publish): a manager that can stage calls ``ctx.audited(staged)`` and
    publishes only when it returns; it raises when a blocking check fails, and the manager
    then leaves its stored output as it was. A manager that cannot stage says so with
    ``stages = False`` (or no ``stages``): the step checks the value before ``save``."""

    key: AssetKey
    spec: AssetSpec
    run_id: str = ""
    partition: str | None = None
    fence: Fence | None = field(default=None, repr=False, compare=False)
    audit: Callable[[Staged], None] | None = field(default=None, repr=False, compare=False)

    @property
    def step(self) -> StepKey:
        return step_of(self.key) if self.partition is None else StepKey(self.key, self.partition)

    def audited(self, staged: Staged) -> None:
        """Run the checks of the staged output (raises when a blocking one fails)."""
        if self.audit is not None:
            self.audit(staged)

    def publishing(self) -> AbstractContextManager[None]:
        """The block in which a manager makes its output visible (see the class docstring)."""
        if self.fence is None:
            return nullcontext()
        return self.fence.publishing(self.step)


@dataclass(frozen=True, slots=True)
class InputContext:
    """Everything a manager needs to load an upstream's output for one consumer.

    ``expected_type`` is the consuming parameter's annotation (``pd.DataFrame``,
    ``pa.Table``, ``duckdb.DuckDBPyRelation``, a polars frame, or ``None`` for pandas).
    Relations must be bound on ``duckdb``, the consumer's own connection.

    ``partitions``: of a partitioned asset (``spec.partitions``), the partition keys the
    consumer reads, in key order; ``None`` reads every stored partition. They come back as
    one value, in that order, with a text column per dimension in front
    (``assets_core.storage.partitioned``). ``partition`` is the consuming step's own partition
    (``None`` when the consumer is unpartitioned); it does not choose what is loaded.
    """

    key: AssetKey
    spec: AssetSpec
    expected_type: Any = None
    consumer: AssetKey | None = None
    param: str | None = None
    run_id: str = ""
    partition: str | None = None
    partitions: tuple[str, ...] | None = None
    _duckdb: DuckDBHolder | None = field(default=None, repr=False, compare=False)

    @property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """The consuming asset's own DuckDB connection (opened on first use)."""
        if self._duckdb is None:
            object.__setattr__(self, "_duckdb", DuckDBHolder())
        assert self._duckdb is not None
        return self._duckdb.get()


@runtime_checkable
class IOManager(Protocol):
    """Stores and loads asset outputs. ``save`` returns what it wrote."""

    def save(self, ctx: OutputContext, value: object) -> StoredOutput: ...

    def load(self, ctx: InputContext) -> object: ...

    def exists(self, ctx: OutputContext) -> bool: ...

    def delete(self, ctx: OutputContext) -> None: ...


def sweep(manager: IOManager) -> None:
    """Let ``manager`` remove the temporary files that writers which are gone left behind,
    if it keeps any (an optional ``sweep()`` method). Never raises: a file it cannot remove
    now is removed by a later sweep or save."""
    found = getattr(manager, "sweep", None)
    if callable(found):
        with suppress(Exception):  # cleanup must never fail a run
            found()


def existing(manager: IOManager, contexts: Sequence[OutputContext]) -> set[StepKey]:
    """The steps among ``contexts`` whose output ``manager`` holds. A manager may answer for
    many at once with an ``existing(contexts)`` method returning those steps (one directory
    listing instead of a ``stat`` per asset, say); otherwise ``exists`` is asked for each."""
    bulk = getattr(manager, "existing", None)
    if callable(bulk):
        return cast("set[StepKey]", bulk(contexts))
    return {c.step for c in contexts if manager.exists(c)}


class OutputsUnchecked(IOManagerError):
    """What a manager's ``fingerprints`` raises when it cannot look at its storage now without
    waiting for another process: opened read-only (``open_read_only``), its storage held by a
    writer (a DuckDB warehouse that a run or a notebook writes). Planning then takes each
    recorded output as it was recorded, and the message (what was not checked, and why) is a
    note for the user."""


def fingerprints(
    manager: IOManager,
    asked: Mapping[AssetKey, Sequence[str | None]],
    specs: Mapping[AssetKey, AssetSpec],
) -> Mapping[AssetKey, Mapping[str | None, str]]:
    """Of each asset in ``asked``, the partitions asked (``None``: the asset's one output)
    whose output ``manager`` holds, each with the fingerprint of the output as it is now
    (``StoredOutput.fingerprint``; ``""`` when the manager keeps none); an output it does not
    hold is left out, and so is an asset with none. ``specs`` holds each asset's spec.
    Planning asks this once per manager, for every recorded output the plan reads or may
    rebuild.

    A manager may answer with a ``fingerprints(asked, specs)`` method of the same meaning
    (one ``stat`` per file, say, never reading the data; it is asked per asset, not per
    context, because making a context or a step key per output costs as much as a
    ``stat``); otherwise ``existing`` is asked, with a context per output. It may raise
    ``OutputsUnchecked``."""
    bulk = getattr(manager, "fingerprints", None)
    if callable(bulk):
        return cast("Mapping[AssetKey, Mapping[str | None, str]]", bulk(asked, specs))
    contexts = [
        OutputContext(key, specs[key], "", partition)
        for key, parts in asked.items()
        for partition in parts
    ]
    out: dict[AssetKey, dict[str | None, str]] = {}
    for step in existing(manager, contexts):
        out.setdefault(step[0], {})[step[1]] = ""
    return out


def open_read_only(manager: IOManager) -> None:
    """Tell ``manager`` that its session will never write (``plan``, ``list``, ``show``), so
    it may open its storage read-only from now on: beside other readers (a notebook holding a
    DuckDB warehouse read-only), never waiting for a write lock, and refusing ``save`` and
    ``delete``. A manager whose storage takes such locks offers an ``open_read_only()``
    method; the others need nothing."""
    method = getattr(manager, "open_read_only", None)
    if callable(method):
        method()


def stored_version(manager: IOManager, ctx: OutputContext) -> str | None:
    """The data version of ``ctx``'s output as it is stored now, when ``manager`` can tell it
    without reading the data (a ``stored_version(ctx)`` method: a Parquet file's footer, say);
    else ``None``. Planning asks it only of an output whose fingerprint changed."""
    method = getattr(manager, "stored_version", None)
    return cast("str | None", method(ctx)) if callable(method) else None


def location_of(
    manager: IOManager,
    key: AssetKey,
    partition: str | None = None,
    definition: PartitionsDefinition | None = None,
) -> str | None:
    """Where ``manager`` stores the output of ``key`` (and ``partition``), written as ``save``
    writes ``StoredOutput.location``, without storing anything; ``None`` when it cannot tell.

    A manager tells it with an optional ``location(key, partition, definition)`` method
    (``definition``: the asset's partitions definition, given for a partition). Planning compares
    it with a step's recorded location, to say plainly that an asset's IO manager changed
    (instead of calling its output missing), and ``lumbung wipe --orphans`` to find, and the
    manager that stored each, outputs no asset uses any more. A key the manager cannot name a
    place for (``IOManagerError``) gives ``None``."""
    from assets_core.errors import IOManagerError

    method = getattr(manager, "location", None)
    if not callable(method):
        return None
    try:
        if definition is None:
            return cast("str", method(key, partition))
        return cast("str", method(key, partition, definition))
    except IOManagerError:
        return None


def key_checker(manager: IOManager) -> KeyCheck | None:
    """How ``manager`` says why it cannot store a key (a sentence with the fix; ``None`` when
    it can), or ``None`` when it can store every key.

    Every key that passes the key rule must be storable, or refused when the project is
    loaded, never when the asset runs: loading asks this of every asset each manager stores
    and reports each answer as a definition problem. What a manager cannot store is its own
    business (a schema name its database reserves, a file name longer than the file system
    allows), so the engine never learns those rules: a manager may offer a ``check_key(key)``
    method."""
    method = getattr(manager, "check_key", None)
    return cast("KeyCheck", method) if callable(method) else None


def set_aside_damaged(manager: IOManager) -> str | None:
    """Asked by ``lumbung wipe --io NAME`` before it deletes every output ``manager`` stores:
    when the manager's storage as a whole is damaged (a corrupt database file, say), so that
    no single output can be deleted, the manager moves it aside, never deleting it, and says
    where in one line. A manager may offer this as a ``set_aside_damaged()`` method; without
    one the answer is ``None`` (nothing set aside)."""
    method = getattr(manager, "set_aside_damaged", None)
    return cast("str | None", method()) if callable(method) else None


class AssetContext:
    """What an asset function receives when it takes a ``context`` parameter.

    ``partition`` is the partition key the call computes (``None`` for an unpartitioned
    asset, and for a ``backfill="single_run"`` call covering several partitions);
    ``partition_keys`` the keys the call covers, in key order (one, the range of a
    ``single_run`` call, or ``()`` when unpartitioned); ``partition_window`` the tz-aware
    (start, end) of the time they cover (``None`` without a time dimension)."""

    __slots__ = ("_duckdb", "key", "partition", "partition_keys", "run_id", "spec")

    def __init__(
        self,
        key: AssetKey,
        spec: AssetSpec,
        run_id: str,
        partition: str | None = None,
        duckdb_holder: DuckDBHolder | None = None,
        partition_keys: tuple[str, ...] | None = None,
    ) -> None:
        self.key = key
        self.spec = spec
        self.run_id = run_id
        self.partition = partition
        if partition_keys is None:
            partition_keys = () if partition is None else (partition,)
        self.partition_keys = partition_keys
        self._duckdb = duckdb_holder or DuckDBHolder()

    @property
    def partition_window(self) -> tuple[datetime, datetime] | None:
        """The tz-aware (start, end) of the time the call covers: from the start of its first
        partition's window to the end of its last; ``None`` when the asset is unpartitioned
        or its partitions have no time dimension."""
        keys = self.partition_keys
        definition = self.spec.partitions
        if not keys or definition is None:
            return None
        window = getattr(definition, "window", None)
        if window is None:
            return None
        from assets_core.errors import PartitionError

        try:
            first, last = window(keys[0]), window(keys[-1])
        except PartitionError:  # a multi definition without exactly one time dimension
            return None
        return first[0], last[1]

    @property
    def log(self) -> logging.Logger:
        """The asset's logger (``lumbung.asset.<key>``)."""
        return logging.getLogger(f"lumbung.asset.{self.key}")

    @property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """This asset's own DuckDB connection; inputs annotated as relations are views on it."""
        return self._duckdb.get()

    def __repr__(self) -> str:
        if self.partition_keys:
            return (
                f"AssetContext(key={self.key!s}, run_id={self.run_id!r}, "
                f"partition_keys={self.partition_keys!r})"
            )
        return f"AssetContext(key={self.key!s}, run_id={self.run_id!r})"


class MemoryIOManager:
    """Keeps each output in a dict, as returned (no copy); for tests and throwaway runs.

    ``save`` hashes the value (its data version) and ``load`` hands back the very object when
    the consumer's annotation asks for its kind, converting otherwise. A DuckDB relation is
    stored as the Arrow table it evaluates to, because its connection closes when the asset
    finishes. Partitions are kept per (key, partition); loading several concatenates them
    through Arrow (``storage.partitioned``). Thread-safe.
    """

    def __init__(self) -> None:
        self._values: dict[tuple[AssetKey, str | None], object] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _location(key: AssetKey, partition: str | None = None) -> str:
        return f"memory://{key}" if partition is None else f"memory://{key}/{partition}"

    def location(
        self, key: AssetKey, partition: str | None = None, definition: object = None
    ) -> str:
        """Where ``key`` (and ``partition``) is kept: ``memory://<key>[/<partition>]``
        (``definition``, the partitions definition, is not needed here)."""
        return self._location(key, partition)

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        from assets_core.errors import IOManagerError
        from assets_core.storage.datahash import data_version
        from assets_core.storage.values import kind_of, to_arrow, unstorable_message

        kind = kind_of(value)
        if kind is None:
            raise IOManagerError(unstorable_message(str(ctx.key), "memory", value))
        if kind == "duckdb":
            value = to_arrow(value)
        if ctx.partition is not None:
            value = self._stripped(ctx, ctx.partition, value)
        dv = data_version(value)
        with self._lock:
            self._values[(ctx.key, ctx.partition)] = value
        return StoredOutput(
            location=self.location(ctx.key, ctx.partition),
            data_version=dv.version,
            rows=dv.rows,
            bytes=dv.nbytes,
            schema=dv.schema,
            memory=dv.nbytes,
        )

    @staticmethod
    def _stripped(ctx: OutputContext, partition: str, value: object) -> object:
        """``value`` without columns named like a dimension (checked), as Arrow only when it
        had any."""
        from assets_core.storage.partitioned import dimensions, strip
        from assets_core.storage.values import kind_of, to_arrow

        names, values = dimensions(ctx.key, ctx.spec, partition)
        v: Any = value
        columns = list(v.schema.names if kind_of(v) == "arrow" else v.columns)
        if not any(n in columns for n in names):
            return value
        return strip(ctx.key, partition, names, values, to_arrow(value))

    def load(self, ctx: InputContext) -> object:
        from assets_core.errors import IOManagerError
        from assets_core.storage.values import convert, kind_of, target_of

        if ctx.spec.partitions is not None or ctx.partitions is not None:
            return self._load_partitions(ctx)
        with self._lock:
            try:
                value = self._values[(ctx.key, None)]
            except KeyError:
                where = self._location(ctx.key, None)
                raise IOManagerError(
                    f"{ctx.key}: nothing stored at {where}; materialize it first."
                ) from None
        target = target_of(ctx.expected_type)
        if target == kind_of(value) and (target != "arrow" or type(value).__name__ == "Table"):
            return value
        return convert(value, ctx.expected_type, ctx.duckdb if target == "duckdb" else None)

    def _load_partitions(self, ctx: InputContext) -> object:
        from assets_core.errors import IOManagerError
        from assets_core.partitions.columns import sort_keys
        from assets_core.storage.partitioned import combine, definition_of, not_stored
        from assets_core.storage.values import convert, target_of, to_arrow

        definition = definition_of(ctx.key, ctx.spec, (ctx.partitions or ("",))[0])
        with self._lock:
            if ctx.partitions is None:
                stored = [p for k, p in self._values if k == ctx.key and p is not None]
                if not stored:
                    where = self._location(ctx.key, None)
                    raise IOManagerError(not_stored(ctx.key, None, where))
                keys = sort_keys(definition, stored)
            else:
                keys = list(ctx.partitions)
            parts = []
            for partition in keys:
                try:
                    parts.append((partition, self._values[(ctx.key, partition)]))
                except KeyError:
                    where = self._location(ctx.key, partition)
                    raise IOManagerError(not_stored(ctx.key, partition, where)) from None
        table = combine(ctx.key, definition, [(p, to_arrow(v)) for p, v in parts])
        target = target_of(ctx.expected_type)
        if target == "arrow":
            return table
        return convert(table, ctx.expected_type, ctx.duckdb if target == "duckdb" else None)

    def exists(self, ctx: OutputContext) -> bool:
        with self._lock:
            return (ctx.key, ctx.partition) in self._values

    def delete(self, ctx: OutputContext) -> None:
        with self._lock:
            self._values.pop((ctx.key, ctx.partition), None)
