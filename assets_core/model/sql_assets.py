"""SQL assets from ``.sql`` files (DESIGN §14): ``sql = ["models"]`` in the project config
names folders; each ``*.sql`` file under one is an asset keyed by its path under the folder
without the extension (``models/marts/orders.sql`` is ``marts/orders``).

The file is read by ``sql_file.parse_sql_file`` (through ``sql_cache``: a file parsed before,
unchanged since, is not parsed again, nor sqlglot imported); its option lines become the spec,
and each
table it references a parameter loaded as a DuckDB relation. A reference by a bare name is
found like a Python parameter (``Definitions`` resolves it: own prefix, root, then the one
asset with that last segment); ``a.b`` names key ``a/b`` and ``a__b.c`` key ``a/b/c``.
Everything wrong with a file is a problem on its asset, naming the file's line and the fix,
reported with every other problem of the project.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from assets_core.errors import Problem
from assets_core.model.checks import parse_checks
from assets_core.model.keys import SEGMENT_RE, AssetKey
from assets_core.model.spec import SQL_INPUT, AssetSpec, Param, SqlAsset
from assets_core.model.sql_cache import SqlParseCache
from assets_core.model.sql_file import SqlFileError, read_header, unknown_option
from assets_core.partitions.multi import SINGLE_TYPES, MultiPartitions
from assets_core.partitions.space import PartitionsDefinition

__all__ = ["DEFAULT_SQL_IO_MANAGER", "find_sql_assets", "sql_asset"]

#: the IO manager of a SQL asset that names none: its table lives in the warehouse
DEFAULT_SQL_IO_MANAGER = "duckdb"
#: what a ``-- partitions:`` line may call (the built-ins of ``assets_core.partitions``)
_PARTITION_CALLS = ("daily", "dynamic", "hourly", "monthly", "multi", "static", "weekly")


def find_sql_assets(
    root: Path, folders: Iterable[str], cache_file: Path | None = None
) -> list[SqlAsset]:
    """An asset for each ``*.sql`` file under each of ``folders`` (relative to ``root``), in
    folder order, then path order; their parses kept in ``cache_file`` (``sql_cache``)."""
    cache = SqlParseCache(cache_file)
    out: list[SqlAsset] = []
    for name in folders:
        folder = root / name
        for path in sorted(folder.rglob("*.sql")):
            if path.is_file():
                out.append(sql_asset(path, folder, cache))
    cache.save()
    return out


def sql_asset(path: Path, folder: Path, cache: SqlParseCache | None = None) -> SqlAsset:
    """The asset of the SQL file ``path`` under ``folder`` (its key is the path between)."""
    file = str(path)
    relative = path.relative_to(folder).with_suffix("")
    segments = relative.parts
    bad = [s for s in segments if not SEGMENT_RE.match(s)]
    key = AssetKey(s if SEGMENT_RE.match(s) else "_invalid_" for s in segments)
    problems: list[Problem] = []

    def problem(message: str, line: int) -> None:
        problems.append(Problem(message, "/".join(segments), f"{file}:{line}"))

    if bad:
        problem(
            f"'{bad[0]}' cannot be part of a key (its path under the SQL folder); rename it "
            "with letters, digits and '_' only, not starting with a digit.",
            1,
        )
    try:
        data = path.read_bytes()
        normalized, references = (cache or SqlParseCache(None)).parse(data)
        options, text, first = read_header(data.decode("utf-8"))
    except SqlFileError as exc:
        problem(exc.message, exc.line)
        normalized = None
    except (OSError, UnicodeDecodeError) as exc:
        problem(f"cannot be read ({exc}); fix the file.", 1)
        normalized = None
    if normalized is None:
        spec = AssetSpec(key=key, io_manager=DEFAULT_SQL_IO_MANAGER)
        return SqlAsset(spec, "", "", file=file, line=1, problems=tuple(problems))

    seen: dict[str, int] = {}
    for o in options:
        unknown = unknown_option(o)
        if unknown is not None:
            problem(unknown, o.line)
            continue
        if o.name in seen:
            problem(
                f"option '{o.name}' is set again (first on line {seen[o.name]}); keep one.", o.line
            )
        seen.setdefault(o.name, o.line)
    values = {o.name: o for o in options if o.name in seen}
    kwargs: dict[str, Any] = {"io_manager": DEFAULT_SQL_IO_MANAGER}
    for name, o in values.items():
        if name in ("group", "io_manager"):
            if SEGMENT_RE.match(o.value):
                kwargs[name] = o.value
            else:
                problem(
                    f"{name}: {o.value!r} is not valid: use a name of letters, digits and '_' "
                    "that does not start with a digit.",
                    o.line,
                )
        elif name in ("tags", "owners"):
            items = tuple(t.strip() for t in o.value.split(",") if t.strip())
            kwargs[name] = frozenset(items) if name == "tags" else items
        elif name == "description":
            kwargs[name] = o.value or None
        elif name == "partitions":
            try:
                kwargs[name] = partitions_option(o.value)
            except ValueError as exc:
                problem(f"partitions: {exc}", o.line)
        elif name == "checks":
            try:
                kwargs[name] = tuple(parse_checks(o.value))
            except ValueError as exc:
                problem(f"checks: {exc}", o.line)

    ins: dict[str, AssetKey] = {}
    implicit: set[str] = set()
    lines: dict[str, int] = {}
    for ref in references:
        up = ref.key
        if up is None:
            problem(
                f"table '{ref.name}' cannot name an asset: a key's parts are letters, digits "
                "and '_', not starting with a digit; rename it.",
                ref.line,
            )
            continue
        ins[ref.name] = up
        lines[ref.name] = ref.line
        if ref.relative:
            implicit.add(ref.name)
    spec = AssetSpec(key=key, ins=MappingProxyType(ins), **kwargs)
    return SqlAsset(
        spec,
        text,
        normalized,
        params=tuple(Param(name, SQL_INPUT) for name in ins),
        file=file,
        line=first,
        implicit_ins=frozenset(implicit),
        problems=tuple(problems),
        lines=MappingProxyType(lines),
        given=frozenset({"key", *values}),
    )


def partitions_option(text: str) -> PartitionsDefinition:
    """A ``-- partitions:`` value, a call of a built-in (``daily("2024-01-01")``,
    ``static(["eu", "us"])``, ``multi(date=daily("2024-01-01"), region=static(["eu"]))``)
    with literal arguments; ``ValueError`` saying what is wrong."""
    import assets_core.partitions as builtins

    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f'{text!r} is not a call; write one like daily("2024-01-01") or static(["eu", "us"]).'
        ) from None

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _PARTITION_CALLS:
                raise ValueError(
                    f"{ast.unparse(node.func)!r} is not a partitions definition; use one of "
                    f"{', '.join(_PARTITION_CALLS)}."
                )
            args = [value(a) for a in node.args]
            kw = {k.arg: value(k.value) for k in node.keywords if k.arg is not None}
            try:
                return getattr(builtins, node.func.id)(*args, **kw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{ast.unparse(node)}: {exc}") from None
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise ValueError(
                f"{ast.unparse(node)!r} is not a literal; give strings, numbers and lists."
            ) from None

    result = value(tree)
    if not isinstance(result, (*SINGLE_TYPES, MultiPartitions)):
        raise ValueError(f"{text!r} is not a partitions definition; write daily(...) or similar.")
    return result
