"""How a partition is named where it is stored: its dimensions and their values (DESIGN §12).

One rule for every IO manager: a multi definition's dimensions are its names, in the order
declared; any single definition (hourly, daily, weekly, monthly, static, dynamic) has one
dimension named ``partition``. A partition's value in a dimension is its key text, exactly
(``2024-01-05T13:00``, ``eu``), so a stored value never needs re-typing when it is read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from assets_core.partitions.multi import MultiPartitions
from assets_core.partitions.space import PartitionsDefinition
from assets_core.partitions.static import StaticPartitions

__all__ = ["PARTITION_COLUMN", "dimension_names", "dimension_values", "join_values", "sort_keys"]

#: the one dimension of a single (not multi) definition
PARTITION_COLUMN = "partition"


def dimension_names(definition: PartitionsDefinition) -> tuple[str, ...]:
    """The names of ``definition``'s dimensions as stored: a multi definition's names in the
    order declared, or ``("partition",)``."""
    if isinstance(definition, MultiPartitions):
        return definition.names
    return (PARTITION_COLUMN,)


def dimension_values(definition: PartitionsDefinition, key: str) -> tuple[str, ...]:
    """The value of each of ``definition``'s dimensions in partition ``key`` (key text), in
    the order of ``dimension_names``. The form of a multi key is checked (``PartitionError``)."""
    if isinstance(definition, MultiPartitions):
        return definition.parts(key)
    return (key,)


def join_values(definition: PartitionsDefinition, values: Sequence[str]) -> str:
    """The partition key of one value per dimension (the inverse of ``dimension_values``)."""
    if isinstance(definition, MultiPartitions):
        return definition.join(values)
    return values[0]


def sort_keys(definition: PartitionsDefinition, keys: Iterable[str]) -> list[str]:
    """``keys`` in key order: dimension by dimension, a static dimension in the order its keys
    are declared, any other by its text (time keys sort as text in time order)."""
    singles = (
        [d for _, d in definition.dims] if isinstance(definition, MultiPartitions) else [definition]
    )
    places = [
        {k: i for i, k in enumerate(d.names)} if isinstance(d, StaticPartitions) else None
        for d in singles
    ]

    def order(key: str) -> tuple[tuple[int, str], ...]:
        values = dimension_values(definition, key)
        return tuple(
            (p.get(v, len(p)), v) if p is not None else (0, v)
            for p, v in zip(places, values, strict=True)
        )

    return sorted(keys, key=order)
