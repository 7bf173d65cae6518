"""Mapping dimension by dimension: between two multi definitions, or a multi definition and a
single one (which acts as a multi definition of one dimension).

Dimensions paired by ``resolve`` map through their own mapping; a dimension the other side
lacks means all of it: all of its existing keys when reading, every key reading it in reverse.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from assets_core.partitions.mapping import BaseMapping, Keys, PartitionMapping, need_key
from assets_core.partitions.multi import MultiPartitions, Single
from assets_core.partitions.space import KeySpace, PartitionsDefinition

#: (upstream dimension, downstream dimension, the mapping between them), by place
Pair = tuple[int, int, PartitionMapping]


def _dims(definition: PartitionsDefinition) -> tuple[Single, ...]:
    if isinstance(definition, MultiPartitions):
        return tuple(d for _, d in definition.dims)
    return (definition,)


def _split(definition: PartitionsDefinition, key: str) -> tuple[str, ...]:
    return definition.parts(key) if isinstance(definition, MultiPartitions) else (key,)


def _join(definition: PartitionsDefinition, values: Sequence[str]) -> str:
    return definition.join(values) if isinstance(definition, MultiPartitions) else values[0]


def _strs(keys: Keys) -> tuple[str, ...]:
    assert isinstance(keys, tuple) and None not in keys, keys  # dimensions are partitioned
    return keys  # type: ignore[return-value]


class DimsMapping(BaseMapping):
    """Dimension by dimension (see the module); ``pairs`` from ``resolve``."""

    def __init__(
        self, up: PartitionsDefinition, down: PartitionsDefinition, pairs: Sequence[Pair]
    ) -> None:
        self.up, self.down = up, down
        self.up_dims, self.down_dims = _dims(up), _dims(down)
        self.forward = {i: (j, m) for i, j, m in pairs}
        self.reverse = {j: (i, m) for i, j, m in pairs}

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        return self._upstream(_split(self.down, need_key(key)), space, {})

    def _upstream(
        self, values: tuple[str, ...], space: KeySpace, memo: dict[tuple[int, str], Keys]
    ) -> Keys:
        per: list[tuple[str, ...]] = []
        for i, d in enumerate(self.up_dims):
            paired = self.forward.get(i)
            if paired is None:
                per.append(space.keys(d))
                continue
            j, mapping = paired
            found = memo.get((i, values[j]))
            if found is None:
                found = memo[(i, values[j])] = mapping.upstream(values[j], space)
            per.append(_strs(found))
        return tuple(_join(self.up, combo) for combo in itertools.product(*per))

    def upstream_many(self, keys: Sequence[str | None], space: KeySpace) -> list[Keys]:
        memo: dict[tuple[int, str], Keys] = {}
        return [self._upstream(_split(self.down, need_key(k)), space, memo) for k in keys]

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        values = _split(self.up, need_key(key))
        per: list[tuple[str, ...]] = []
        for j, d in enumerate(self.down_dims):
            paired = self.reverse.get(j)
            if paired is None:
                per.append(space.keys(d))
            else:
                i, mapping = paired
                per.append(_strs(mapping.downstream(values[i], space)))
        return tuple(_join(self.down, combo) for combo in itertools.product(*per))
