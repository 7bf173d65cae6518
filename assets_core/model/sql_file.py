"""Reading one SQL asset file (DESIGN §14): its option lines, its one statement, and the
tables it references, with sqlglot in DuckDB's dialect.

``parse_sql_file(text)`` is pure: it takes the file's text and returns a ``SqlFile`` or
raises ``SqlFileError`` (a message with the fix, and the line it is about). The SQL asset
kind (``model.sql_assets``) builds on it, and so can anything else that reads SQL files
(column lineage, a dbt import).

- Options are the leading ``-- name: value`` comment lines, before the statement; other
  leading comments are comments. ``unknown_option`` says what is wrong with an option that
  does not exist (the caller reports it with the file's other problems).
- The file holds exactly one query (``SELECT``, ``WITH ... SELECT``, a set operation, or
  DuckDB's ``FROM x``).
- A reference is a table the query reads, as written: ``x``, ``a.b`` or ``a__b.c``
  (``TableRef.key`` gives the key each names). CTE names and table functions
  (``read_parquet(...)``, ``range(10)``) are not references; neither is a name with a
  catalog (``db.s.t``), which is an error, since no key is written that way.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assets_core.model.keys import SEGMENT_RE, AssetKey

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = [
    "SQL_OPTIONS",
    "SqlFile",
    "SqlFileError",
    "SqlOption",
    "TableRef",
    "normalized_sql",
    "parse_sql_file",
    "read_header",
    "unknown_option",
]

#: the options a SQL file may set on its leading ``-- name: value`` lines
SQL_OPTIONS = ("checks", "description", "group", "io_manager", "owners", "partitions", "tags")
#: the dialect every SQL asset is read in and run by
DIALECT = "duckdb"

_OPTION_RE = re.compile(r"--\s*([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)\Z")


class SqlFileError(ValueError):
    """What is wrong with a SQL file, and the fix; ``line`` is the file's line it is about."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class SqlOption:
    """One ``-- name: value`` line: the name, the value stripped, and its line."""

    name: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table the statement reads, as written (``("marts", "orders")``), and its line."""

    parts: tuple[str, ...]
    line: int

    @property
    def name(self) -> str:
        """The reference as written in the SQL: ``x``, ``a.b``."""
        return ".".join(self.parts)

    @property
    def relative(self) -> bool:
        """A bare name, found by DESIGN §3's rule (own prefix, root, then the one asset with
        that last segment); a qualified one names its key exactly."""
        return len(self.parts) == 1

    @property
    def key(self) -> AssetKey | None:
        """The key it names (for a bare name, the key at the root): ``a.b`` is ``a/b`` and
        ``a__b.c`` is ``a/b/c``; ``None`` when a part is not a valid key segment."""
        segments = [*self.parts[0].split("__"), self.parts[1]] if len(self.parts) == 2 else []
        if len(self.parts) == 1:
            segments = [self.parts[0]]
        if not segments or not all(SEGMENT_RE.match(s) for s in segments):
            return None
        return AssetKey(segments)


@dataclass(frozen=True, slots=True)
class SqlFile:
    """A parsed SQL file: its options in order, its statement (a sqlglot expression), the
    statement's text as written (options and leading comments left out), the line it starts
    on, and its references, each once, in the order first written."""

    options: tuple[SqlOption, ...]
    statement: exp.Query
    text: str
    line: int
    references: tuple[TableRef, ...]

    def option(self, name: str) -> SqlOption | None:
        """The last line setting option ``name``, or ``None``."""
        found = None
        for o in self.options:
            if o.name == name:
                found = o
        return found


def parse_sql_file(text: str) -> SqlFile:
    """``text``, a SQL asset file, parsed (see the module docstring); ``SqlFileError`` names
    the first thing wrong and its line."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    options, body, first = read_header(text)
    try:
        parsed = sqlglot.parse(text, read=DIALECT)
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        line_no = int(error.get("line") or first)
        near = str(error.get("highlight") or "").strip()
        what = str(error.get("description") or exc).split(". Line")[0].split(" but got")[0]
        where = f" near '{near}'" if near else ""
        raise SqlFileError(
            f"cannot parse the SQL{where} ({what}); fix the statement.", line_no
        ) from None
    except TokenError as exc:
        raise SqlFileError(f"cannot parse the SQL ({exc}); fix the statement.", first) from None
    statements = [s for s in parsed if s is not None]
    if not statements:
        raise SqlFileError("holds no SQL statement; write one SELECT query.", first)
    if len(statements) > 1:
        second = _line_of(statements[1]) or first
        raise SqlFileError(
            f"holds {len(statements)} statements; a SQL asset is one SELECT query: move the "
            "others to their own files.",
            second,
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper()
        article = "an" if kind[:1] in "AEIOU" else "a"
        raise SqlFileError(
            f"is {article} {kind} statement, not a query; a SQL asset is one SELECT query "
            "whose rows are the asset (Lumbung creates the table).",
            _line_of(statement) or first,
        )
    return SqlFile(options, statement, body, first, _references(statement))


def read_header(text: str) -> tuple[tuple[SqlOption, ...], str, int]:
    """The option lines of ``text``, its statement's text as written (options and leading
    comments left out) and the line it starts on; no SQL is parsed (sqlglot is not needed)."""
    lines = text.splitlines()
    options: list[SqlOption] = []
    start = len(lines)
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            start = number - 1
            break
        found = _OPTION_RE.match(line)
        if found is None:
            continue  # a comment
        name, value = found.group(1), found.group(2).strip()
        options.append(SqlOption(name, value, number))
    return tuple(options), "\n".join(lines[start:]).strip(), start + 1


def unknown_option(option: SqlOption) -> str | None:
    """What is wrong with ``option`` when no such option exists (with the fix), or ``None``."""
    if option.name in SQL_OPTIONS:
        return None
    close = difflib.get_close_matches(option.name, SQL_OPTIONS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown option '{option.name}'; {hint}options are {', '.join(SQL_OPTIONS)} "
        "(a plain comment must not start with 'word:')."
    )


def _references(statement: exp.Query) -> tuple[TableRef, ...]:
    """The tables ``statement`` reads (see the module docstring)."""
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    found: dict[tuple[str, ...], TableRef] = {}
    tables = [t for t in statement.find_all(exp.Table) if isinstance(t.this, exp.Identifier)]
    tables.sort(key=lambda t: t.this.meta.get("start", 0))  # as written, not as nested
    for table in tables:  # a table function is not one (``this`` is the call)
        ident = table.this
        parts = tuple(p for p in (table.catalog, table.db, table.name) if p)
        line = _line_of(ident) or 1
        if len(parts) == 3:
            schema, name = "__".join(parts[:2]), parts[2]
            raise SqlFileError(
                f"table '{'.'.join(parts)}' names a catalog; write a key of three segments as "
                f"{schema}.{name}.",
                line,
            )
        if len(parts) == 1 and parts[0] in ctes:
            continue
        found.setdefault(parts, TableRef(parts, line))
    return tuple(found.values())


def _line_of(node: Any) -> int | None:
    """The line a node starts on, where sqlglot kept it."""
    from sqlglot import exp

    for n in (node, *node.find_all(exp.Identifier)):
        line = n.meta.get("line") if n.meta else None
        if isinstance(line, int):
            return line
    return None


def normalized_sql(statement: exp.Query) -> str:
    """The statement rendered again by sqlglot: comments, whitespace, keyword case and
    formatting never change it; anything that changes what the query means does."""
    return statement.sql(dialect=DIALECT, comments=False)
