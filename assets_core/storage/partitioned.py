"""What every IO manager does the same way with partitions (DESIGN §12, docs/partitions.md).

- **Saving** one partition stores the value the asset returned for it. The partition's
  dimensions (``partitions.columns``: a multi definition's names, or ``partition``) are not
  part of the stored data: a manager keeps them beside it (a Parquet folder name, a DuckDB
  column). A returned column named like a dimension must hold that partition's value in every
  row (``strip`` checks it and drops it), so the data version, the hash of what the asset
  returned without its dimension columns, is the same whether it returned them or not.
- **Loading** gives one value: the partitions asked for (``InputContext.partitions``; ``None``
  is every stored partition), in key order, each with its dimension columns first, as text
  (``combine``). Partitions stored with different columns cannot be one value: a clear error
  naming both partitions, the difference and the fix (``schema_changed``).
- A partition that is not stored is the same error as any missing output, naming the step
  ``asset[key]`` (``not_stored``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions.columns import dimension_names, dimension_values
from assets_core.partitions.space import PartitionsDefinition

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "combine",
    "definition_of",
    "dimensions",
    "not_stored",
    "schema_changed",
    "schema_difference",
    "strip",
    "with_dimensions",
]

Data = TypeVar("Data", "pa.Table", "pa.RecordBatch")


def definition_of(key: AssetKey, spec: AssetSpec, partition: str | None) -> PartitionsDefinition:
    """The partitions definition of ``spec``, for storing or loading ``partition`` of it; an
    ``IOManagerError`` when the asset declares none."""
    definition = spec.partitions
    if definition is None:
        raise IOManagerError(
            f"{key}: partition {partition!r} was asked for, but the asset declares no "
            "partitions; declare them with @asset(partitions=...)."
        )
    return definition


def dimensions(
    key: AssetKey, spec: AssetSpec, partition: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The dimension names and ``partition``'s values in them (``partitions.columns``)."""
    definition = definition_of(key, spec, partition)
    return dimension_names(definition), dimension_values(definition, partition)


def not_stored(key: AssetKey, partition: str | None, where: str) -> str:
    """The one line for an output (or a partition of one) that is not stored."""
    return f"{StepKey(key, partition)}: no stored output at {where}; materialize it first."


def strip(
    key: AssetKey, partition: str, names: Sequence[str], values: Sequence[str], data: Data
) -> Data:
    """``data`` without its columns named like a dimension, each checked to hold the
    partition's value (as text) in every row; ``data`` itself when it has none."""
    present = [(n, v) for n, v in zip(names, values, strict=True) if n in data.schema.names]
    if not present:
        return data
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, value in present:
        column = data.column(name)
        try:
            text = pc.cast(column, pa.string())
            ok = column.null_count == 0 and (
                len(text) == 0 or pc.all(pc.equal(text, value)).as_py()
            )
        except (pa.ArrowException, TypeError):
            ok = False
        if not ok:
            raise IOManagerError(
                f"{StepKey(key, partition)}: column {name!r} holds values other than this "
                f"partition's {name} {value!r}; return only this partition's rows with "
                f"{name} = {value!r} as text, or drop the column (the IO manager stores it)."
            )
    return data.drop_columns([n for n, _ in present])


def with_dimensions(table: pa.Table, names: Sequence[str], values: Sequence[str]) -> pa.Table:
    """``table`` with a text column per dimension in front, holding ``values``."""
    import pyarrow as pa

    n = table.num_rows
    columns = [pa.array([v] * n, pa.string()) if n else pa.array([], pa.string()) for v in values]
    fields = [pa.field(name, pa.string()) for name in names]
    return pa.Table.from_arrays(
        [*columns, *table.columns], schema=pa.schema([*fields, *table.schema.remove_metadata()])
    )


def combine(
    key: AssetKey, definition: PartitionsDefinition, parts: Sequence[tuple[str, pa.Table]]
) -> pa.Table:
    """One table of the stored ``parts`` (partition key, its stored table), in the order given,
    each with its dimension columns in front. Parts stored with different columns are refused
    (``schema_changed``)."""
    import pyarrow as pa

    names = dimension_names(definition)
    tables = []
    first: tuple[str, pa.Schema] | None = None
    for partition, table in parts:
        schema = table.schema.remove_metadata()
        if first is None:
            first = (partition, schema)
        elif not schema.equals(first[1]):
            difference = schema_difference(_pairs(first[1]), _pairs(schema))
            raise IOManagerError(
                schema_changed(key, f"partition {first[0]}", partition, difference)
            )
        tables.append(with_dimensions(table, names, dimension_values(definition, partition)))
    if not tables:  # nothing asked for: the dimension columns alone
        return pa.table({n: pa.array([], pa.string()) for n in names})
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _pairs(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def schema_difference(old: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> str:
    """What changed between two lists of (column, type): columns added, removed, retyped, or
    reordered; in a few words."""
    before, after = dict(old), dict(new)
    said = [f"column {n!r} added" for n, _ in new if n not in before]
    said += [f"column {n!r} removed" for n, _ in old if n not in after]
    said += [
        f"column {n!r} is {t}, was {before[n]}" for n, t in new if n in before and before[n] != t
    ]
    if not said:
        said = ["the columns are in another order"]
    return "; ".join(said)


def schema_changed(key: AssetKey, old: str, new: str, difference: str) -> str:
    """The one line for partitions of one asset stored with different columns: partition
    ``new`` against ``old`` (``partition <key>``, or ``the stored table``)."""
    return (
        f"{key}: partition {new} has other columns than {old} ({difference}); "
        f"make the columns agree in every partition, or rebuild them all: "
        f"lumbung wipe -s {key}, then lumbung materialize -s {key}."
    )
