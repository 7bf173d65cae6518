"""Why a pandas frame cannot become an Arrow table, in words: the column and its problem.

Every built-in IO manager stores a frame through Arrow (``values.to_arrow``). When pyarrow
refuses one, its message names its own internals ("Could not convert 'a' with type str: tried
to convert to int64"). ``pandas_problem`` looks at the frame, only after that failure, and
says what the user can change: two columns share a name, a column is sparse or holds complex
numbers, a column mixes types (``it mixes int and str``), or holds values Arrow cannot store.
"""

from __future__ import annotations

import re
from typing import Any

from assets_core.errors import ConversionError, describe_exception

__all__ = ["pandas_problem"]

#: Types named in a message about a column mixing them (the rest are counted).
_TYPES_SHOWN = 3
#: `` at 0x7f...`` in an object's default repr: noise in a message
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def pandas_problem(frame: Any, exc: BaseException) -> ConversionError:
    """The error to raise for ``frame``, which ``pyarrow.Table.from_pandas`` refused with
    ``exc``: the first column at fault and the fix, else pyarrow's own words."""
    import pandas as pd

    columns = frame.columns
    if columns.has_duplicates:
        name = columns[columns.duplicated()][0]
        count = int((columns == name).sum())
        return ConversionError(
            f"column {name!r}: {count} columns have that name, and a stored table needs one "
            "name per column; rename them (df.columns = [...])."
        )
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.SparseDtype):
            return ConversionError(
                f"column {name!r}: it is sparse ({dtype}), and a stored column is dense; make "
                f"it dense first: df[{name!r}] = df[{name!r}].sparse.to_dense()."
            )
        if getattr(dtype, "kind", "") == "c":
            return ConversionError(
                f"column {name!r}: it holds complex numbers ({dtype}), which a stored column "
                "cannot hold; store the real and imaginary parts as two columns (.real, .imag)."
            )
    for i, name in enumerate(columns):
        found = _problem(f"column {name!r}", frame.iloc[:, i], f"df[{name!r}] = df[{name!r}]")
        if found is not None:
            return found
    index = frame.index
    for level in range(index.nlevels):
        name = index.names[level]
        found = _problem(f"index {name!r}", index.get_level_values(level), "df.index = df.index")
        if found is not None:
            return found
    return ConversionError(
        f"the {type(frame).__name__} cannot be converted to an Arrow table ({_first_words(exc)})."
    )


def _problem(what: str, values: Any, fix: str) -> ConversionError | None:
    """The problem of one column (or index level) that Arrow refuses alone, if it does;
    ``fix`` is the start of the assignment that converts it (``df['x'] = df['x']``)."""
    import pyarrow as pa

    try:
        pa.array(values, from_pandas=True)
        return None
    except Exception as exc:
        refused = exc
    types = _value_types(values)
    if len(types) > 1:
        shown = types[:_TYPES_SHOWN]
        if len(types) > _TYPES_SHOWN:
            shown.append(f"{len(types) - _TYPES_SHOWN} more types")
        mix = ", ".join(shown[:-1]) + " and " + shown[-1]
        return ConversionError(
            f"{what}: it mixes {mix}, and a stored column holds one type; convert its values "
            f"first, e.g. {fix}.astype(str)."
        )
    kind = f"values of type {types[0]}" if types else "values"
    return ConversionError(
        f"{what}: its {kind} cannot be stored ({_first_words(refused)}); convert them first, "
        f"e.g. {fix}.astype(str)."
    )


def _value_types(column: Any) -> list[str]:
    """The type names of the column's values that are not missing, in order of appearance."""
    import pandas as pd

    seen: dict[str, None] = {}
    for value in column:
        if value is None or value is pd.NA or value is pd.NaT:
            continue
        if isinstance(value, float) and value != value:  # NaN
            continue
        seen.setdefault(type(value).__name__, None)
    return list(seen)


def _first_words(exc: BaseException) -> str:
    """pyarrow's message, without the tuple it sometimes packs it in."""
    first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
    text = first if first is not None else describe_exception(exc)
    return _ADDRESS.sub("", " ".join(text.split()))
