"""Column lineage of a SQL statement (DESIGN §14): for each output column, the input columns it
derives from. Pure: it takes the statement and the input tables' columns, reads nothing.

Tables are named as the statement writes them (``orders``, ``marts.orders``, ``a__b.c``). The
statement is qualified by sqlglot (DuckDB's dialect) against the columns known, which expands
``select *`` and resolves unqualified names; then sqlglot's lineage follows each output column
through CTEs, subqueries and set operations down to the tables it reads. A column derived from
no input column (``count(*)``, a literal) has no sources. A ``*`` whose table's columns are not
known stays one output column ``*`` derived from that table's ``*``, and the table is listed
in ``Columns.unknown`` (sqlglot then expands no ``*`` of that select, even over a table whose
columns are known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["ColumnLineage", "ColumnLineageError", "Columns", "column_lineage"]

DIALECT = "duckdb"
#: the schema a bare table name is qualified with while tracing (DuckDB's default schema)
_DEFAULT_SCHEMA = "main"


class ColumnLineageError(ValueError):
    """The statement cannot be traced (sqlglot's reason, in one line)."""


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """One output column and the input columns it derives from: ``(table, column)`` pairs,
    the table as the statement names it, sorted."""

    column: str
    sources: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Columns:
    """The output columns in order, and the tables whose ``*`` could not be expanded because
    their columns are not known."""

    columns: tuple[ColumnLineage, ...]
    unknown: tuple[str, ...] = ()


def column_lineage(
    statement: exp.Query | str,
    schemas: Mapping[str, Sequence[str]],
    tables: Sequence[str] = (),
) -> Columns:
    """The lineage of each output column of ``statement`` (an expression or SQL text).

    ``schemas`` gives the columns of each input table whose columns are known, keyed by the
    name the statement uses; ``tables`` lists every table it reads (only needed for those
    whose columns are not known, so that an unqualified column is still found when they are
    the only table). ``ColumnLineageError`` when sqlglot cannot trace it."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import to_node
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope
    from sqlglot.schema import MappingSchema

    nested: dict[str, dict[str, dict[str, str]]] = {}
    # sqlglot folds names to lower case (DuckDB matches them without regard to case); the
    # names are given back as the schemas and the statement write them
    cased: dict[str, str] = {}
    written_as: dict[tuple[str, str], str] = {}
    for name in {*tables, *schemas}:
        parts = name.split(".")
        db, table = (_DEFAULT_SCHEMA, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        written_as[db.lower(), table.lower()] = name
        cols = schemas.get(name)
        if cols is not None:
            nested.setdefault(db.lower(), {})[table.lower()] = dict.fromkeys(cols, "UNKNOWN")
            cased.update((c.lower(), c) for c in cols)
    try:
        parsed = (
            sqlglot.parse_one(statement, read=DIALECT)
            if isinstance(statement, str)
            else statement.copy()
        )
        cased.update((i.name.lower(), i.name) for i in parsed.find_all(exp.Identifier))
        mapping: dict[str, object] = dict(nested)
        schema = MappingSchema(mapping, dialect=DIALECT)
        query = qualify(
            parsed,
            dialect=DIALECT,
            db=_DEFAULT_SCHEMA,
            schema=schema,
            validate_qualify_columns=False,
            identify=False,
        )
        _own_table(query)
        scope = build_scope(query)
        if scope is None or not isinstance(query, exp.Query):
            raise ColumnLineageError("not a query")
        selects = query.selects
        out: list[ColumnLineage] = []
        unknown: set[str] = set()
        for index, select in enumerate(selects):
            # by position: two outputs may share a name (``a.*, b.*`` left unexpanded)
            node = to_node(index, scope, DIALECT, schema)
            name = select.alias_or_name
            name = cased.get(name, name)
            found: set[tuple[str, str]] = set()
            for leaf in node.walk():
                if leaf.downstream or not isinstance(leaf.source, exp.Table):
                    continue
                db, table = leaf.source.db.lower(), leaf.source.name.lower()
                written = written_as.get((db, table), f"{db}.{table}")
                column = leaf.name.rsplit(".", 1)[-1].strip('"')
                column = "*" if column.startswith("*") else cased.get(column, column)
                if column == "*" and table not in nested.get(db, {}):
                    unknown.add(written)
                found.add((written, column))
            out.append(ColumnLineage(name, tuple(sorted(found))))
    except SqlglotError as exc:
        raise ColumnLineageError(str(exc).splitlines()[0]) from exc
    return Columns(tuple(out), tuple(sorted(unknown)))


def _own_table(query: exp.Expr) -> None:
    """Qualify, in place, the columns sqlglot left unqualified in a scope that reads one table
    only: theirs, whether or not its columns are known (sqlglot qualifies them only with a
    schema)."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    for scope in traverse_scope(query):
        read = scope.selected_sources  # what its FROM and JOINs name, not every CTE in view
        if len(read) != 1:
            continue
        ((alias, (_, source)),) = read.items()
        if not isinstance(source, exp.Table):
            continue
        for column in scope.columns:
            if not column.table and not isinstance(column.this, exp.Star):
                column.set("table", exp.to_identifier(alias))
