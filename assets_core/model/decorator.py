"""``@asset`` and ``source(...)``: turn a user's function or file into an ``Asset``.

The decorator reads the signature (parameters name upstream assets), the docstring (the
default description) and the options. It never raises for a bad option: each problem is kept
on the asset and reported with every other problem when the project is validated, so a user
sees all their mistakes at once.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath
from types import FunctionType, MappingProxyType
from typing import Any, TypeVar, overload

from assets_core.errors import InvalidKeyError, Problem
from assets_core.model.annotations import resolved
from assets_core.model.checks import CheckSpec, CustomCheck
from assets_core.model.csv_options import CsvOptions, csv_problems
from assets_core.model.keys import SEGMENT_RE, AssetKey, CoercibleToKey, checked_key
from assets_core.model.spec import Asset, AssetSpec, Param, SourceAsset, SourceFormat
from assets_core.partitions.mapping import Explicit, MappingSpec, Window
from assets_core.partitions.multi import SINGLE_TYPES, MultiPartitions
from assets_core.partitions.space import PartitionsDefinition
from assets_core.partitions.template import template_problems

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_PARAM = "context"
DEFAULT_GROUP = "default"
#: a source file's format by its extension (also used when reading sources)
SOURCE_FORMATS: dict[str, SourceFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


class _Collector:
    """Gathers the problems of one definition, keyed to its name and location (``file:line``,
    formatted only when there is a problem to report)."""

    def __init__(self, name: str, file: str, line: int) -> None:
        self.name = name
        self.file = file
        self.line = line
        self.problems: list[Problem] = []

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"  # named relative to the project when reported

    def add(self, message: str) -> None:
        self.problems.append(Problem(message, self.name, self.location))

    def key(self, value: object, what: str) -> AssetKey | None:
        try:
            return AssetKey.parse(value)  # type: ignore[arg-type]
        except InvalidKeyError as exc:
            self.add(f"{what}: {exc.problems[0].message}")
            return None

    def segment(self, value: object, option: str, default: str) -> str:
        if isinstance(value, str) and SEGMENT_RE.match(value):
            return value
        self.add(
            f"{option}={value!r} is not valid: use a name of letters, digits and '_' "
            "that does not start with a digit."
        )
        return default

    def strings(self, value: object, option: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, Iterable) and all(isinstance(v, str) and v for v in value):
            return tuple(value)
        self.add(f"{option}={value!r} is not valid: give a list of non-empty strings.")
        return ()

    def mapping(self, value: object, option: str) -> Mapping[str, Any]:
        if value is None:
            return MappingProxyType({})
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return MappingProxyType(dict(value))
        self.add(f"{option}={value!r} is not valid: give a dict with string keys.")
        return MappingProxyType({})


_NO_TAGS: frozenset[str] = frozenset()
_NOTHING: frozenset[str] = frozenset()
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


def _cleandoc(doc: str) -> str:
    """``inspect.cleandoc``, answering a one-line docstring (most of them) directly."""
    if "\n" not in doc and "\t" not in doc:
        return doc.lstrip()
    return inspect.cleandoc(doc)


def _location(fn: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>", 0
    return code.co_filename, code.co_firstlineno


#: (name, kind, annotation) of one parameter
_Parameter = tuple[str, Any, Any]
_EMPTY = inspect.Parameter.empty
_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD


def _parameters(fn: Callable[..., Any]) -> list[_Parameter]:
    """The parameters of ``fn`` in signature order. A plain function is read from its code
    object (``inspect.signature`` costs more than the rest of ``@asset`` together); anything
    else (partials, wrapped functions, callable objects) goes through ``inspect``. Raises
    ``TypeError`` or ``ValueError`` when there is no signature to read."""
    if type(fn) is not FunctionType or fn.__dict__:
        return [(p.name, p.kind, p.annotation) for p in inspect.signature(fn).parameters.values()]
    code = fn.__code__
    names = code.co_varnames
    n_pos, n_kw = code.co_argcount, code.co_kwonlyargcount
    notes = fn.__annotations__
    n_only = code.co_posonlyargcount
    out: list[_Parameter] = [
        (name, _POSITIONAL_ONLY if i < n_only else _POSITIONAL, notes.get(name, _EMPTY))
        for i, name in enumerate(names[:n_pos])
    ]
    rest = n_pos + n_kw
    if code.co_flags & inspect.CO_VARARGS:
        out.append((names[rest], _VAR_POSITIONAL, notes.get(names[rest], _EMPTY)))
        rest += 1
    out += [(name, _KEYWORD_ONLY, notes.get(name, _EMPTY)) for name in names[n_pos : n_pos + n_kw]]
    if code.co_flags & inspect.CO_VARKEYWORDS:
        out.append((names[rest], _VAR_KEYWORD, notes.get(names[rest], _EMPTY)))
    return out


@overload
def asset(fn: F, /) -> Asset: ...


@overload
def asset(
    *,
    key: CoercibleToKey | None = None,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    description: str | None = None,
    io_manager: str | None = None,
    code_version: str | None = None,
    deps: Iterable[CoercibleToKey] | None = None,
    ins: Mapping[str, CoercibleToKey | MappingSpec | tuple[CoercibleToKey, MappingSpec]]
    | None = None,
    retries: int = 0,
    metadata: Mapping[str, Any] | None = None,
    code_files: Iterable[str] | None = None,
    partitions: PartitionsDefinition | None = None,
    backfill: str | None = None,
    checks: Iterable[CheckSpec] | None = None,
) -> Callable[[F], Asset]: ...


def asset(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a data asset. Bare (``@asset``) or with options (``@asset(group="marts")``).

    Every parameter but ``context`` names an upstream asset (looked up in this asset's key
    prefix first, then at the root), loaded through the upstream's IO manager and converted
    to the parameter's annotation. Options:

    - ``key`` (``"marts/revenue"``) or ``name`` (the last segment; default: the function name)
    - ``group``, ``tags``, ``owners``, ``description`` (default: the docstring), ``metadata``:
      descriptive only; editing them never makes an asset stale
    - ``io_manager``: the name of the manager that stores the output (default: the project's)
    - ``code_version``: a pin that replaces the computed code version
    - ``deps``: upstream keys that order this asset and count for staleness but are not loaded
    - ``ins``: ``{"param": "a/b"}`` maps a parameter to an explicit key;
      ``{"param": window(-6, 0)}`` reads its upstream's partitions through a mapping (the
      key found as usual), and ``{"param": ("a/b", window(-6, 0))}`` gives both
    - ``partitions``: ``daily(start=...)``, ``static([...])``, ``multi(...)``: one step per
      partition key (DESIGN §12)
    - ``backfill="single_run"``: one call may cover a contiguous range of partitions
    - ``retries``: how many times to retry a failure, with exponential backoff
    - ``checks``: built-in data checks of the output (``assets_core.checks``: ``not_null``,
      ``unique``, ...), run before it is published (docs/checks.md)
    - ``code_files``: files the function reads as code (``["sql/orders.sql"]``), relative to
      the project folder: their bytes are part of the code version, so an edit makes the
      asset stale
    """
    if fn is not None:
        if options:
            raise TypeError("Use either @asset or @asset(...), not both.")
        return _build_asset(fn, _NO_OPTIONS)

    def decorate(f: Callable[..., Any]) -> Asset:
        return _build_asset(f, options)

    return decorate


_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})
_ASSET_OPTIONS = frozenset(
    {
        "key",
        "name",
        "group",
        "tags",
        "owners",
        "description",
        "io_manager",
        "code_version",
        "deps",
        "ins",
        "retries",
        "metadata",
        "code_files",
        "partitions",
        "backfill",
        "checks",
    }
)


#: code flags an asset function cannot have (async functions and generators)
_ASYNC = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_GENERATOR = inspect.CO_GENERATOR


def _build_asset(fn: Callable[..., Any], options: Mapping[str, Any]) -> Asset:
    """The one way an ``Asset`` is built. Each option is checked only when given, so a bare
    ``@asset`` on a plain function (most assets; a project may have 100,000) costs little."""
    if isinstance(fn, Asset):
        fn = fn.fn
    if not callable(fn):
        raise TypeError(f"@asset decorates a function, got {type(fn).__name__}.")
    plain = type(fn) is FunctionType
    if plain:
        code = fn.__code__
        file, line, fname = code.co_filename, code.co_firstlineno, fn.__name__
    else:
        file, line = _location(fn)
        fname = getattr(fn, "__name__", "<asset>")
    c = _Collector(fname, file, line)
    if options:
        for unknown in sorted(set(options) - _ASSET_OPTIONS):
            c.add(
                f"@asset got an unknown option {unknown!r}; options are {sorted(_ASSET_OPTIONS)}."
            )
        key = _asset_key(c, fname, options.get("key"), options.get("name"))
    else:
        key = checked_key((fname,)) if SEGMENT_RE.match(fname) else _asset_key(c, fname, None, None)
    c.name = "/".join(key)  # str(key), without a Python-level call: this runs per asset

    if plain:  # read the flags directly: inspect's checks cost 3x more
        flags = code.co_flags
        is_async, is_generator = bool(flags & _ASYNC), bool(flags & _GENERATOR)
    else:
        is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        is_generator = inspect.isgeneratorfunction(fn)
    if is_async:
        c.add("is an async function; Lumbung calls assets synchronously, so use a plain def.")
    elif is_generator:
        c.add("is a generator function (it yields); return the asset's data instead.")
    try:
        parameters: list[_Parameter] | None = _parameters(fn)
    except (TypeError, ValueError):
        parameters = None
        c.add("cannot read the function's signature; decorate a plain Python function.")

    raw_ins = options.get("ins") if options else None
    if raw_ins is None:
        raw_ins = {}
    elif type(raw_ins) is not dict and not isinstance(raw_ins, Mapping):
        c.add(f"ins={raw_ins!r} is not valid: give a dict of parameter name to asset key.")
        raw_ins = {}

    params: list[Param] = []
    ins: dict[str, AssetKey] = {}
    mappings: dict[str, MappingSpec] = {}
    implicit: list[str] = []
    wants_context = False
    for pname, kind, annotation in parameters or ():
        if kind is _VAR_POSITIONAL or kind is _VAR_KEYWORD:
            c.add(
                f"parameter {pname!r}: *args and **kwargs cannot name upstream assets; "
                "give each upstream its own parameter."
            )
            continue
        if pname == CONTEXT_PARAM:
            wants_context = True
            continue
        if type(annotation) is str:
            annotation = resolved(annotation, getattr(fn, "__globals__", {}))
        params.append(Param(pname, annotation))
        given = raw_ins.get(pname) if raw_ins else None
        if given is not None and isinstance(given, tuple) and len(given) == 2:
            if isinstance(given[1], _MAPPING_SPECS):  # (key, mapping)
                mappings[pname] = given[1]
                given = given[0]
        elif isinstance(given, _MAPPING_SPECS):  # a mapping alone: the key as usual
            mappings[pname] = given
            given = None
        if given is not None:
            up = c.key(given, f"ins[{pname!r}]")
            if up is not None:
                ins[pname] = up
        elif SEGMENT_RE.match(pname):
            ins[pname] = checked_key((pname,))
            implicit.append(pname)
        else:  # a non-ASCII identifier: a valid parameter, never a key
            c.add(
                f"parameter {pname!r} cannot name an asset: keys use only ASCII letters, "
                f"digits and '_'; rename it, or map it with ins={{{pname!r}: 'a_key'}}."
            )
    for extra in sorted(set(raw_ins) - {p.name for p in params}) if raw_ins else ():
        c.add(f"ins names {extra!r}, which is not a parameter of {fname}(); rename one to match.")

    code_files: tuple[str, ...] = ()
    if options:
        spec = _options_spec(c, fn, key, ins, options, mappings)
        if options.get("code_files") is not None:
            code_files = c.strings(options["code_files"], "code_files")
    else:
        doc = fn.__doc__ if plain else inspect.getdoc(fn)
        spec = AssetSpec(  # every field given: default factories cost a call each
            key,
            MappingProxyType(ins),
            (),
            DEFAULT_GROUP,
            _NO_TAGS,
            (),
            _cleandoc(doc) if isinstance(doc, str) else None,
            None,
            None,
            0,
            _NO_METADATA,
        )
    return Asset(
        spec=spec,
        fn=fn,
        params=tuple(params),
        wants_context=wants_context,
        file=file,
        line=line,
        implicit_ins=frozenset(implicit),
        problems=tuple(c.problems),
        returns=_returns(fn, plain),
        code_files=code_files,
        given=frozenset(k for k, v in options.items() if v is not None) if options else _NOTHING,
    )


def _returns(fn: Callable[..., Any], plain: bool) -> Any:
    """The function's return annotation (``inspect.Parameter.empty`` when it has none)."""
    if plain:
        returns = fn.__annotations__.get("return", _EMPTY)
    else:
        try:
            returns = inspect.signature(fn).return_annotation
        except (TypeError, ValueError):
            return _EMPTY
    if type(returns) is str:
        return resolved(returns, getattr(fn, "__globals__", {}))
    return returns


def _options_spec(
    c: _Collector,
    fn: Callable[..., Any],
    key: AssetKey,
    ins: dict[str, AssetKey],
    options: Mapping[str, Any],
    mappings: dict[str, MappingSpec],
) -> AssetSpec:
    """The spec of an asset declared with options, each one checked."""
    deps: list[AssetKey] = []
    raw_deps = options.get("deps") or ()
    if raw_deps and (isinstance(raw_deps, str | AssetKey) or not isinstance(raw_deps, Iterable)):
        raw_deps = [raw_deps]
    for d in raw_deps:
        k = c.key(d.key if isinstance(d, Asset | SourceAsset) else d, "deps")
        if k is not None:
            deps.append(k)

    retries = options.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        c.add(f"retries={retries!r} is not valid: give a whole number, 0 or more.")
        retries = 0

    description = options.get("description")
    if description is None:
        doc = fn.__doc__ if type(fn) is FunctionType else inspect.getdoc(fn)
        description = _cleandoc(doc) if isinstance(doc, str) else None
    elif not isinstance(description, str):
        c.add(f"description={description!r} is not valid: give a string.")
        description = None

    io_manager = options.get("io_manager")
    if io_manager is not None:
        io_manager = c.segment(io_manager, "io_manager", "")
        io_manager = io_manager or None
    code_version = options.get("code_version")
    if code_version is not None and (not isinstance(code_version, str) or not code_version):
        c.add(f"code_version={code_version!r} is not valid: give a non-empty string.")
        code_version = None

    partitions = _partitions(c, options.get("partitions"))
    backfill = options.get("backfill")
    if backfill is not None:
        if backfill != "single_run":
            c.add(
                f"backfill={backfill!r} is not valid: the one value is 'single_run' (one call "
                "covers a contiguous range of partitions); leave it out for one call per partition."
            )
            backfill = None
        elif partitions is None:
            c.add("backfill='single_run' needs partitions=...; add them, or remove backfill=.")
            backfill = None
    checks = _checks(c, options.get("checks"))
    group = options.get("group")
    tags = options.get("tags")
    owners = options.get("owners")
    metadata = options.get("metadata")
    return AssetSpec(
        key=key,
        ins=MappingProxyType(ins),
        deps=tuple(deps),
        group=DEFAULT_GROUP if group is None else c.segment(group, "group", DEFAULT_GROUP),
        tags=_NO_TAGS if tags is None else frozenset(c.strings(tags, "tags")),
        owners=() if owners is None else c.strings(owners, "owners"),
        description=description,
        io_manager=io_manager,
        code_version=code_version,
        retries=retries,
        metadata=_NO_METADATA if metadata is None else c.mapping(metadata, "metadata"),
        partitions=partitions,
        mappings=MappingProxyType(mappings) if mappings else _NO_METADATA,
        backfill=backfill,
        checks=checks,
    )


def _checks(c: _Collector, value: object) -> tuple[CheckSpec, ...]:
    """``checks=`` checked: built-in checks, each declaration's own problem reported."""
    if value is None:
        return ()
    if isinstance(value, CheckSpec):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        c.add(
            f"checks={value!r} is not valid: give a list of built-in checks, like "
            "[not_null('id'), unique('id')] (from assets_core.checks)."
        )
        return ()
    out: list[CheckSpec] = []
    names: set[str] = set()
    for item in value:
        if isinstance(item, CustomCheck):
            c.add(
                f"checks= got the custom check {item.name}; a @check function is found by "
                "itself, so leave it out of checks=."
            )
        elif not isinstance(item, CheckSpec):
            c.add(
                f"checks= got {item!r}, not a built-in check; use not_null, unique, "
                "accepted_values, relationships, row_count, expect, schema or freshness "
                "from assets_core.checks."
            )
        elif item.problem is not None:
            c.add(f"check {item.name}: {item.problem}")
        elif item.name in names:
            c.add(f"check {item.name} is declared twice; remove one.")
        else:
            names.add(item.name)
            out.append(item)
    return tuple(out)


_MAPPING_SPECS = (Window, Explicit)
_PARTITION_TYPES = (*SINGLE_TYPES, MultiPartitions)


def _partitions(c: _Collector, value: object) -> PartitionsDefinition | None:
    """``partitions=`` checked: a definition, or ``None`` after reporting what is wrong."""
    if value is None or isinstance(value, _PARTITION_TYPES):
        return value
    c.add(
        f"partitions={value!r} is not valid: give a definition from assets_core.partitions, "
        "like daily(start='2024-01-01'), static(['eu', 'us']) or multi(...)."
    )
    return None


def _asset_key(c: _Collector, fname: str, key: object, name: object) -> AssetKey:
    if key is None and name is None and SEGMENT_RE.match(fname):
        return checked_key((fname,))
    if key is not None and name is not None:
        c.add("give either key= or name=, not both.")
    raw: object = key if key is not None else (name if name is not None else fname)
    if name is not None and key is None and isinstance(name, str) and "/" in name:
        c.add(f"name={name!r} holds '/'; use key={name!r} for a key with a prefix.")
    parsed = c.key(raw, "key")
    if parsed is not None:
        return parsed
    # Keep a placeholder so validation can go on and report every other problem too.
    return AssetKey((fname if SEGMENT_RE.match(fname) else "_invalid_",))


def source(
    name: CoercibleToKey,
    path: str | None = None,
    *,
    observe: Callable[[], object] | None = None,
    format: SourceFormat | None = None,
    csv: CsvOptions | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions: PartitionsDefinition | None = None,
) -> SourceAsset:
    """Declare external data: a file or glob of files (CSV, Parquet, JSON lines) at ``path``,
    or anything ``observe()`` can give a version string for. Sources are observed, never
    materialized. A relative ``path`` is relative to the project folder. ``csv`` says how a
    CSV file is read (delimiter, header, names, null values, column types, date formats);
    every consumer reads it the same way, and changing it makes the consumers stale.

    ``partitions`` makes ``path`` a template with one file (or glob) per partition key,
    observed per partition: ``path="data/events/{date}.csv"`` with ``partitions=daily(...)``
    (one placeholder of any name for a single definition; one per dimension, by name, for
    ``multi``)."""
    frame = sys._getframe(1)
    file, line = frame.f_code.co_filename, frame.f_lineno
    c = _Collector(str(name), file, line)
    key = c.key(name, "source name") or AssetKey(("_invalid_",))
    if (path is None) == (observe is None):
        c.add("give a source exactly one of path= or observe=.")
    raw_path: object = path
    if raw_path is not None and not isinstance(raw_path, str | PurePath):
        c.add(f"path={raw_path!r} is not valid: give a file path or glob as a string.")
        path = None
    raw_observe: object = observe
    if raw_observe is not None and not callable(raw_observe):
        c.add(f"observe={raw_observe!r} is not valid: give a function that returns a version.")
        observe = None
    fmt = format
    if path is not None:
        path = str(path)
        if fmt is None:
            fmt = SOURCE_FORMATS.get(PurePath(path).suffix.lower())
            if fmt is None and isinstance(csv, CsvOptions):
                fmt = "csv"  # csv= says how to read it (a .txt or .tsv file, say)
            if fmt is None:
                c.add(
                    f"cannot tell the format of {path!r} from its extension; "
                    "pass format='csv', 'parquet' or 'json'."
                )
        elif fmt not in ("csv", "parquet", "json"):
            c.add(f"format={fmt!r} is not valid: use 'csv', 'parquet' or 'json'.")
            fmt = None
    csv = _csv_options(c, csv, path, fmt, observe)
    parts = _partitions(c, partitions)
    if parts is not None and observe is not None:
        c.add(
            "a partitioned source is read one file per partition; give path= a template like "
            "'data/events/{date}.csv' instead of observe=."
        )
    if path is not None:
        for message in template_problems(path, parts):
            c.add(message)
    spec = AssetSpec(
        key=key,
        group="sources" if group is None else c.segment(group, "group", "sources"),
        tags=frozenset(c.strings(tags, "tags")),
        owners=c.strings(owners, "owners"),
        description=description,
        metadata=c.mapping(metadata, "metadata"),
        partitions=parts,
    )
    return SourceAsset(
        spec=spec,
        path=path,
        format=fmt,
        observe=observe,
        csv=csv,
        file=file,
        line=line,
        problems=tuple(c.problems),
        given=frozenset(
            n
            for n, v in (("key", name), ("group", group), ("tags", tags), ("owners", owners))
            if v is not None
        ),
    )


def _csv_options(
    c: _Collector, csv: object, path: str | None, fmt: SourceFormat | None, observe: object
) -> CsvOptions | None:
    """``csv=`` checked (its collections frozen), or ``None`` after reporting what is wrong."""
    if csv is None:
        return None
    if not isinstance(csv, CsvOptions):
        c.add(
            f"csv={csv!r} is not valid: pass csv=CsvOptions(...) "
            "(from assets_core import CsvOptions)."
        )
        return None
    if path is None:  # an observe= source, or a path already reported as wrong
        if observe is not None:
            c.add("csv= says how to read CSV files, and an observe= source has none; remove csv=.")
        return None
    if fmt not in ("csv", None):
        c.add(f"csv= applies to CSV files, and {path!r} is read as {fmt}; remove csv=.")
        return None
    problems, checked = csv_problems(csv)
    for message in problems:
        c.add(message)
    return None if problems else checked
