"""What an asset is: a frozen ``AssetSpec``, and the ``Asset`` / ``SourceAsset`` that carry one.

An ``AssetSpec`` holds everything Lumbung knows about an asset apart from its code. An
``Asset`` is a spec plus the user's function, and stays callable as that plain function, so
``orders(df)`` works in a unit test. A ``SourceAsset`` is external data that Lumbung observes
but never materializes. Changed copies go through ``dataclasses.replace``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from assets_core.errors import Problem
from assets_core.model.checks import CheckSpec
from assets_core.model.csv_options import CsvOptions
from assets_core.model.keys import AssetKey
from assets_core.partitions.mapping import MappingSpec
from assets_core.partitions.space import PartitionsDefinition

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """The description of one asset. ``ins`` maps parameter names to the keys they load;
    ``deps`` are ordering and lineage only (never loaded, but their data versions count).

    ``partitions``: the asset's partitions definition (``None``: one step, unpartitioned).
    ``mappings``: the mapping a parameter reads its upstream's partitions with, when given in
    ``ins=`` (``window(-6, 0)``, ``explicit({...})``); the others map by default (DESIGN §12).
    ``backfill``: ``"single_run"`` lets one call cover a contiguous range of partitions.
    ``checks``: the built-in checks of its output (``assets_core.checks``)."""

    key: AssetKey
    ins: Mapping[str, AssetKey] = field(default_factory=lambda: _EMPTY)
    deps: tuple[AssetKey, ...] = ()
    group: str = "default"
    tags: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    description: str | None = None
    io_manager: str | None = None  # None: the project's default manager
    code_version: str | None = None  # an explicit pin replaces the computed version
    retries: int = 0
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    partitions: PartitionsDefinition | None = None
    mappings: Mapping[str, MappingSpec] = field(default_factory=lambda: _EMPTY)
    backfill: Literal["single_run"] | None = None
    #: the built-in data checks of its output (DESIGN §13); never part of its code version
    checks: tuple[CheckSpec, ...] = ()

    @property
    def upstream(self) -> tuple[AssetKey, ...]:
        """Every upstream key, loaded ones first, each once, in declaration order."""
        seen: dict[AssetKey, None] = dict.fromkeys(self.ins.values())
        if self.deps:
            seen.update(dict.fromkeys(self.deps))
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an asset function: its name and its annotation (maybe a string)."""

    name: str
    annotation: Any = inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class CodeSource:
    """What an asset's code version hashes, besides the options that change its output.

    ``function``: Python code whose normalized source is followed into the project-local
    functions, classes and constants it uses. ``texts``: named texts hashed as they are (a kind
    normalizes them first, so formatting never counts). ``files``: paths (relative to the
    project folder) whose bytes count.
    """

    function: Callable[..., Any] | None = None
    texts: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()


NO_CODE = CodeSource()


class Located:
    """What every kind shares: its key (its spec's) and where it was declared (``file:line``,
    where its problems are reported)."""

    __slots__ = ()
    spec: AssetSpec
    file: str
    line: int

    @property
    def key(self) -> AssetKey:
        return self.spec.key

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Asset(Located):
    """A spec plus the function that computes it (kind ``python``). Calling it calls the
    function."""

    kind: ClassVar[str] = "python"
    observed: ClassVar[bool] = False

    spec: AssetSpec
    fn: Callable[..., Any]
    params: tuple[Param, ...] = ()
    wants_context: bool = False
    file: str = "<unknown>"
    line: int = 0
    #: parameter names whose key is relative: resolved in the asset's own prefix, then the root
    implicit_ins: frozenset[str] = frozenset()
    #: problems found while decorating, reported together when the project is validated
    problems: tuple[Problem, ...] = ()
    #: the function's return annotation (``inspect.Parameter.empty`` when it has none)
    returns: Any = inspect.Parameter.empty
    #: files the function reads as code (a ``.sql`` file, say), relative to the project
    #: folder: their bytes are part of the code version
    code_files: tuple[str, ...] = ()
    #: the options the decorator was given (module and folder defaults never replace them);
    #: how an asset was written, not what it is, so it does not count in comparisons
    given: frozenset[str] = field(default=frozenset(), compare=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def code(self) -> CodeSource:
        """The function, followed through its project-local helpers, and the files it reads
        as code."""
        return CodeSource(function=self.fn, files=self.code_files)

    @property
    def loadable(self) -> bool:
        """Its output can be loaded as a parameter."""
        return True

    def run(self, inputs: Mapping[str, object], context: object) -> object:
        """Call the function with its inputs (and ``context`` when it takes one)."""
        if self.wants_context:
            return self.fn(**inputs, context=context)
        return self.fn(**inputs)


SourceFormat = Literal["csv", "parquet", "json"]


@dataclass(frozen=True, slots=True)
class SourceAsset(Located):
    """External data: a file or glob of files (``path``), or anything ``observe`` can version.

    Sources are observed, never materialized; their observed version is their data version.
    ``path`` is kept as written; it is read relative to the project folder. ``csv`` is how a
    CSV source is read (``None``: the defaults of ``CsvOptions``).
    """

    kind: ClassVar[str] = "source"
    observed: ClassVar[bool] = True
    params: ClassVar[tuple[Param, ...]] = ()

    spec: AssetSpec
    path: str | None = None
    format: SourceFormat | None = None
    observe: Callable[[], object] | None = None
    csv: CsvOptions | None = None
    file: str = "<unknown>"
    line: int = 0
    problems: tuple[Problem, ...] = ()
    #: the options given (a source's name is its whole key: no default prefix applies)
    given: frozenset[str] = field(default=frozenset({"key"}), compare=False)

    @property
    def is_glob(self) -> bool:
        return self.path is not None and any(c in self.path for c in "*?[")

    @property
    def loadable(self) -> bool:
        """Only a source with a path has data to load (an ``observe=`` one is for ``deps``)."""
        return self.path is not None

    def code(self) -> CodeSource:
        """Nothing: a source has no code version; its observed version is its data version."""
        return NO_CODE

    def run(self, inputs: Mapping[str, object], context: object) -> object:
        raise TypeError(f"source {self.key} is observed, never run")


@dataclass(frozen=True, slots=True)
class CommandAsset(Located):
    """A spec plus a command run as its step (kind ``command``; declared by
    ``model.command.command_asset``, run by ``model.command_run``)."""

    kind: ClassVar[str] = "command"
    observed: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = ()

    spec: AssetSpec
    cmd: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    folder: str = "."  # where it runs, and what relative paths in cmd and outputs start from
    file: str = "<unknown>"
    line: int = 0
    problems: tuple[Problem, ...] = ()
    given: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def loadable(self) -> bool:
        """Its table (outputs and their digests, or stdout) can be loaded downstream."""
        return True

    def code(self) -> CodeSource:
        """The command, its outputs, and the bytes of the files it names."""
        from assets_core.model.command_run import command_texts

        return CodeSource(texts=command_texts(self.cmd, self.outputs, self.folder))

    def run(self, inputs: Mapping[str, object], context: object) -> object:
        """Run the command (``{partition}``: the step's partition key)."""
        from assets_core.model.command_run import run_command

        partition = getattr(context, "partition", None)
        return run_command(self.cmd, self.outputs, self.folder, partition)


#: the annotation a SQL asset's inputs are loaded as (a relation on the step's connection)
SQL_INPUT = "duckdb.DuckDBPyRelation"


@dataclass(frozen=True, slots=True)
class SqlAsset(Located):
    """A ``.sql`` file (kind ``sql``, DESIGN §14): one query whose rows are the asset, built by
    ``model.sql_assets``. Each table it references is a parameter (``params``, in the order
    first written) named as written (``x``, ``marts.orders``) and loaded as a DuckDB relation;
    ``run`` binds each under that name and runs ``sql``, the statement as written."""

    kind: ClassVar[str] = "sql"
    observed: ClassVar[bool] = False

    spec: AssetSpec
    sql: str
    #: the statement rendered again by sqlglot: what the code version hashes
    normalized: str
    params: tuple[Param, ...] = ()
    file: str = "<unknown>"
    line: int = 0
    #: references by a bare name, found like a Python parameter (DESIGN §3)
    implicit_ins: frozenset[str] = frozenset()
    problems: tuple[Problem, ...] = ()
    #: each parameter's line in the file (where an unknown table is reported)
    lines: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    #: the options its file sets (module and folder defaults never replace them)
    given: frozenset[str] = field(default=frozenset({"key"}), compare=False)

    @property
    def loadable(self) -> bool:
        return True

    def code(self) -> CodeSource:
        """The normalized statement: comments, whitespace, keyword case and formatting never
        count; its options that change the output (io manager, partitions) count as
        every kind's do."""
        return CodeSource(texts=(("sql", self.normalized),))

    def run(self, inputs: Mapping[str, object], context: object) -> object:
        """The query as a relation on the step's DuckDB connection (``context.duckdb``), its
        inputs bound there (``bind_view``). Inside a manager that creates it in its own
        database the statement runs there instead (``execution.native``)."""
        con = context.duckdb  # type: ignore[attr-defined]
        for p in self.params:
            bind_view(con, p.name, inputs[p.name])
        try:
            return con.sql(self.sql)
        except Exception as exc:  # the SQL's own mistake: DuckDB's Python frames add nothing
            raise exc.with_traceback(None)  # noqa: B904 - the same error, not another


def bind_view(con: Any, name: str, value: Any) -> None:
    """Bind an input on the DuckDB connection ``con`` as a view under the name it is read by
    (``a.b``: view ``b`` in schema ``a``); ``value`` is a relation, or the text of a query
    that scans it (``storage.sources.scan_sql``: the files bound once, by the view)."""
    *schema, table = name.split(".")
    view = f"{schema[0]}.{table}" if schema else table
    if isinstance(value, str):
        con.execute(f"CREATE OR REPLACE VIEW {_quoted(view)} AS {value}")
    else:
        value.create_view(view, replace=True)
    if schema:
        quoted = _quoted(schema[0])
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        con.execute(
            f"CREATE OR REPLACE VIEW {quoted}.{_quoted(table)} AS SELECT * FROM {_quoted(view)}"
        )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Every kind of asset: what a project module may define (``model.project`` collects them)
#: and what ``Definitions`` accepts. A new kind is added here.
ASSET_KINDS: tuple[type, ...] = (Asset, SourceAsset, CommandAsset, SqlAsset)
