"""What an asset's annotations ask for: the kind of value each input is loaded as, and the
kinds an asset may return. Read when a project is loaded, so an unsupported annotation is a
definition problem (reported with every other one), not a failure at run time.

An input is a pandas DataFrame (also when unannotated), a ``pyarrow.Table``, a
``duckdb.DuckDBPyRelation`` or a polars DataFrame; a return, any of those (or a pyarrow
``RecordBatch`` or ``RecordBatchReader``). The classes themselves and their usual spellings
as strings (postponed annotations) are recognised without importing the libraries.
"""

from __future__ import annotations

import contextlib
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["INPUTS", "RETURNS", "Kind", "input_kind", "resolved", "returns_ok"]

Kind = Literal["pandas", "arrow", "duckdb", "polars"]

#: what the error messages list
INPUTS = "pandas.DataFrame, pyarrow.Table, duckdb.DuckDBPyRelation or polars.DataFrame"
RETURNS = "a pandas.DataFrame, a pyarrow.Table, a duckdb.DuckDBPyRelation or a polars.DataFrame"

_STRING_KINDS: dict[str, Kind] = {
    "pd.DataFrame": "pandas",
    "pandas.DataFrame": "pandas",
    "DataFrame": "pandas",
    "pa.Table": "arrow",
    "pyarrow.Table": "arrow",
    "duckdb.DuckDBPyRelation": "duckdb",
    "DuckDBPyRelation": "duckdb",
    "pl.DataFrame": "polars",
    "polars.DataFrame": "polars",
}
_STRING_RETURNS = {
    *_STRING_KINDS,
    "pa.RecordBatch",
    "pyarrow.RecordBatch",
    "pa.RecordBatchReader",
    "pyarrow.RecordBatchReader",
}
_UNANNOTATED = (inspect.Parameter.empty, inspect.Signature.empty, None, Any)
#: return annotations that say nothing about the value
_SAYS_NOTHING = (inspect.Parameter.empty, Any, object)


def resolved(annotation: object, namespace: Mapping[str, Any]) -> object:
    """A postponed annotation Lumbung does not know by its spelling (``"pds.DataFrame"``
    after ``import pandas as pds``) evaluated in the function's module; anything else, or a
    string that does not evaluate, as it is."""
    if type(annotation) is not str or annotation.strip().strip("'\"") in _STRING_RETURNS:
        return annotation
    try:
        return eval(annotation, dict(namespace))  # what typing.get_type_hints does
    except Exception:
        return annotation


#: ``input_kind`` of each annotation seen (a project's few types, asked once per parameter
#: as it loads and again per step as it runs)
_KINDS: dict[object, Kind | None] = {}


def input_kind(annotation: object) -> Kind | None:
    """The value kind an input's annotation asks for (no annotation: pandas); ``None`` when
    Lumbung cannot load a value as it."""
    try:
        return _KINDS[annotation]
    except (KeyError, TypeError):  # not seen yet, or not hashable
        pass
    kind = _input_kind(annotation)
    with contextlib.suppress(TypeError):
        _KINDS[annotation] = kind
    return kind


def _input_kind(annotation: object) -> Kind | None:
    if any(annotation is u for u in _UNANNOTATED):
        return "pandas"
    if isinstance(annotation, str):
        return _STRING_KINDS.get(annotation.strip().strip("'\""))
    if isinstance(annotation, type):
        module = annotation.__module__
        name = annotation.__qualname__
        if name == "DataFrame" and module.startswith("pandas"):
            return "pandas"
        if name == "Table" and module.startswith("pyarrow"):
            return "arrow"
        if name == "DuckDBPyRelation" and module.split(".")[0] in ("duckdb", "_duckdb"):
            return "duckdb"
        if name == "DataFrame" and module.startswith("polars"):
            return "polars"
    return None


def returns_ok(annotation: object) -> bool:
    """Whether a return annotation names something an IO manager can store. No annotation,
    ``Any``, ``object``, or a string Lumbung could not evaluate says nothing and is fine; a
    union is fine when each of its members is."""
    if any(annotation is u for u in _SAYS_NOTHING) or isinstance(annotation, str):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(returns_ok(a) for a in typing.get_args(annotation))
    if annotation is not None and input_kind(annotation) is not None:
        return True
    return (
        isinstance(annotation, type)
        and annotation.__module__.startswith("pyarrow")
        and annotation.__qualname__ in ("RecordBatch", "RecordBatchReader")
    )
