"""A ``backfill="single_run"`` call's rows, split by partition (DESIGN §12).

The call covers a contiguous range of partitions (``context.partition_keys``) and returns one
value whose rows carry their partition in the dimension column(s) the storage names
(``partitions.columns``: a multi definition's dimension names, else ``partition``). Each
partition of the range gets its rows (none: an empty table of the same columns), stored and
versioned on its own; the IO manager checks and drops the dimension columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from assets_core.errors import AssetExecutionError
from assets_core.model.keys import AssetKey
from assets_core.partitions.columns import dimension_names
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.values import to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["missing_columns", "outside_range", "split_rows"]


def missing_columns(names: Sequence[str], missing: Sequence[str]) -> str:
    """Why a single_run call's rows cannot be split: they do not say their partition."""
    cols = ", ".join(repr(n) for n in missing)
    return (
        f"backfill='single_run' returned rows without the partition column {cols}; "
        f"return each row's partition key as text in column(s) {', '.join(names)} "
        "(context.partition_keys lists the keys this call covers)."
    )


def outside_range(keys: Sequence[str], found: str | None) -> str:
    """Why a single_run call's rows cannot be split: some are of a partition it does not cover."""
    span = keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"
    return (
        f"backfill='single_run' call for {span} returned rows of partition {found!r}, "
        "outside the partitions it covers; return only rows of context.partition_keys."
    )


def split_rows(
    key: AssetKey, definition: PartitionsDefinition, keys: Sequence[str], value: object
) -> list[tuple[str, pa.Table]]:
    """Each of ``keys`` (in order) with its rows of ``value`` (its dimension columns kept for
    the IO manager to check and drop). ``AssetExecutionError`` when a dimension column is
    missing or a row's partition is not one of ``keys``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = to_arrow(value)
    names = dimension_names(definition)
    missing = [n for n in names if n not in table.schema.names]
    if missing:
        raise AssetExecutionError(str(key), missing_columns(names, missing))
    columns = [pc.cast(table.column(n), pa.string()) for n in names]
    if len(columns) == 1:
        row_keys = columns[0]
    else:
        pieces: list[object] = []
        for i, (n, c) in enumerate(zip(names, columns, strict=True)):
            pieces += [f"{',' if i else ''}{n}=", c]  # MultiPartitions.join's form
        row_keys = pc.binary_join_element_wise(*pieces, "")
    if row_keys.null_count:
        raise AssetExecutionError(str(key), outside_range(keys, None))
    order = pc.sort_indices(row_keys)
    table = table.take(order)
    row_keys = row_keys.take(order)
    counts = pc.value_counts(row_keys)  # in order of first appearance: sorted
    found: dict[str, tuple[int, int]] = {}
    start = 0
    for item in counts.to_pylist():
        size: int = item["counts"]
        found[item["values"]] = (start, size)
        start += size
    wanted = set(keys)
    for text in found:
        if text not in wanted:
            raise AssetExecutionError(str(key), outside_range(keys, text))
    out = []
    for k in keys:
        at, size = found.get(k, (0, 0))
        out.append((k, table.slice(at, size)))
    return out
