"""How a CSV source is read: ``CsvOptions``, the column type names, and their checks.

One set of options describes a CSV file for every consumer: a pandas, Arrow, polars or DuckDB
parameter reads the same columns with the same types (``storage.csv_read`` does the reading).
This module holds the value and the checks ``source()`` runs on it; it reads nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

__all__ = ["COLUMN_TYPES", "DEFAULT_NULL_VALUES", "CsvOptions", "csv_problems"]

#: What a CSV field is read as missing by default, in every column: the markers pandas and
#: Arrow treat as missing (so ``NA`` in a number column leaves it a number column).
DEFAULT_NULL_VALUES: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
)

#: The names ``types=`` accepts: Arrow's names, which pandas shares for numbers.
COLUMN_TYPES: tuple[str, ...] = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "string",
    "date",
    "time",
    "timestamp",
)

#: Other spellings of a type (SQL's, Python's), only to suggest the name to use instead.
_SPELLINGS: dict[str, str] = {
    "boolean": "bool",
    "tinyint": "int8",
    "smallint": "int16",
    "int": "int64",
    "integer": "int32",
    "bigint": "int64",
    "utinyint": "uint8",
    "usmallint": "uint16",
    "uinteger": "uint32",
    "ubigint": "uint64",
    "float": "float64",
    "real": "float32",
    "double": "float64",
    "str": "string",
    "varchar": "string",
    "text": "string",
    "datetime": "timestamp",
    "date32": "date",
}

_NO_TYPES: Mapping[str, str] = MappingProxyType({})
#: reports one bad option: its name, the value given, and the fix
_Report = Callable[[str, object, str], None]

#: a strptime directive: ``%`` and an optional ``-`` (no padding), then a letter or ``%``
_DIRECTIVE = re.compile(r"%(-?)(.)")
_DIRECTIVES = frozenset("aAwdbhBmyYHIpMSgfnzZjUWcxXGVu%")


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvOptions:
    """How to read a CSV source; every consumer reads it the same way.

    - ``delimiter``: the one character between fields (``","``; ``";"``, ``"\\t"``, ``"|"``).
    - ``header``: whether the first line names the columns. Without one, columns are
      ``column0``, ``column1``, … unless ``names`` gives them.
    - ``names``: the column names, in order (replacing the header's, if there is one).
    - ``null_values``: the field values read as missing, in every column (text too).
    - ``types``: a column's type instead of the inferred one, by column name: ``bool``,
      ``int8`` … ``int64``, ``uint8`` … ``uint64``, ``float32``, ``float64``, ``string``,
      ``date``, ``time``, ``timestamp``.
    - ``date_format`` / ``timestamp_format``: strptime formats (``"%d.%m.%Y"``,
      ``"%d/%m/%Y %H:%M"``) for date and timestamp columns; by default ISO 8601 is recognised.
    """

    delimiter: str = ","
    header: bool = True
    names: Sequence[str] | None = None
    null_values: Sequence[str] = DEFAULT_NULL_VALUES
    types: Mapping[str, str] = field(default_factory=lambda: _NO_TYPES)
    date_format: str | None = None
    timestamp_format: str | None = None


def csv_problems(options: CsvOptions) -> tuple[list[str], CsvOptions]:
    """What is wrong with ``options`` (each message names the option and the fix), and the
    options with their collections frozen (tuples, a read-only mapping) when nothing is."""
    problems: list[str] = []
    o = options

    def bad(option: str, value: object, fix: str) -> None:
        problems.append(f"CsvOptions({option}={value!r}) is not valid: {fix}")

    d = o.delimiter
    if not isinstance(d, str) or len(d) != 1 or d in '\r\n"':
        bad("delimiter", d, "give one character, such as ',', ';', '|' or '\\t'.")
    header: object = o.header  # checked: a user may pass anything
    if not isinstance(header, bool):
        bad("header", header, "give True (the first line names the columns) or False.")
    names = _strings(o.names) if o.names is not None else ()
    if o.names is not None and (isinstance(o.names, str) or names is None or not all(names)):
        bad("names", o.names, "give a list of non-empty column names.")
        names = None
    elif names and len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        bad("names", o.names, f"each column needs its own name; {twice[0]!r} is given twice.")
        names = None
    nulls = _strings(o.null_values)
    if nulls is None:
        bad("null_values", o.null_values, "give a list of strings, such as ['', 'NA'].")
    elif not nulls:
        bad(
            "null_values",
            o.null_values,
            "give at least one; [''] reads only empty fields as missing.",
        )
    types = _types(o.types, bad)
    if types and names:
        unknown = [c for c in types if c not in names]
        if unknown:
            bad(
                "types",
                dict(o.types),
                f"column {unknown[0]!r} is not among names=; use one of {', '.join(names)}.",
            )
    for option, fmt in (("date_format", o.date_format), ("timestamp_format", o.timestamp_format)):
        if fmt is not None:
            fix = _format_problem(fmt)
            if fix is not None:
                bad(option, fmt, fix)
    if problems:
        return problems, options
    frozen = replace(
        options,
        names=names if o.names is not None else None,
        null_values=tuple(dict.fromkeys(nulls or ())),
        types=MappingProxyType(dict(types or {})),
    )
    return [], frozen


def _strings(value: object) -> tuple[str, ...] | None:
    """``value`` as a tuple of strings, or ``None`` when it is not a list of strings (a single
    string is one value)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            return items
    return None


def _types(value: object, bad: _Report) -> dict[str, str] | None:
    """The column types, or ``None`` after reporting what is wrong with them."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        bad("types", value, "give a dict of column name to type name, such as {'id': 'int64'}.")
        return None
    out: dict[str, str] = {}
    for column, name in value.items():
        if isinstance(name, str) and name in COLUMN_TYPES:
            out[column] = name
            continue
        bad("types", dict(value), _type_hint(column, name))
        return None
    return out


def _type_hint(column: str, name: object) -> str:
    """Why ``name`` is not a column type, and the name meant when it can be told (else the
    names there are)."""
    head = f"{name!r} (column {column!r}) is not a column type"
    meant = None
    if isinstance(name, str):
        folded = name.strip().lower()
        meant = folded if folded in COLUMN_TYPES else _SPELLINGS.get(folded)
        if meant is None:
            close = difflib.get_close_matches(folded, COLUMN_TYPES, n=1)
            meant = close[0] if close else None
    if meant is not None:
        return f"{head}; use {meant!r}."
    return f"{head}; use one of {', '.join(COLUMN_TYPES)}."


def _format_problem(fmt: object) -> str | None:
    """What is wrong with a strptime format, or ``None``."""
    example = "give a strptime format such as '%d.%m.%Y' or '%Y-%m-%d %H:%M:%S'."
    if not isinstance(fmt, str) or "%" not in fmt:
        return example
    for m in _DIRECTIVE.finditer(fmt):
        if m.group(2) not in _DIRECTIVES:
            return f"'%{m.group(1)}{m.group(2)}' is not a strptime directive; {example}"
    if "%" in _DIRECTIVE.sub("", fmt):
        return f"it ends with a lone '%'; {example}"
    return None
