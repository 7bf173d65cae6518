"""The partitions that exist at one moment: a definition's keys listed once and shared.

A ``KeySpace`` pins "now" and the keys of every dynamic set, so that everything asking which
partitions exist while one plan is made (selection, mappings that read "all of a dimension",
grouping keys into runs) gets the same answer, computed once per definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from assets_core.errors import PartitionError
from assets_core.partitions.multi import MultiPartitions, Single

#: any partitions definition
PartitionsDefinition = Single | MultiPartitions


class KeySpace:
    """The existing partitions of any definition at ``now`` (tz-aware), with ``dynamic``
    giving the current keys of each dynamic set by name. Key lists are computed on first
    use and kept."""

    __slots__ = ("_keys", "_positions", "dynamic", "now")

    def __init__(self, now: datetime, dynamic: Mapping[str, Sequence[str]] | None = None) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise PartitionError(f"now={now.isoformat()} has no time zone; give an aware datetime.")
        self.now = now
        self.dynamic: Mapping[str, tuple[str, ...]] = {
            name: tuple(keys) for name, keys in (dynamic or {}).items()
        }
        self._keys: dict[PartitionsDefinition, tuple[str, ...]] = {}
        self._positions: dict[PartitionsDefinition, dict[str, int]] = {}

    def keys(self, definition: PartitionsDefinition) -> tuple[str, ...]:
        """The keys of ``definition`` that exist, in order."""
        found = self._keys.get(definition)
        if found is None:
            found = self._keys[definition] = tuple(definition.keys(self.now, self.dynamic))
        return found

    def positions(self, definition: PartitionsDefinition) -> dict[str, int]:
        """Each existing key of ``definition`` with its place in ``keys(definition)``."""
        found = self._positions.get(definition)
        if found is None:
            keys = self.keys(definition)
            found = self._positions[definition] = dict(zip(keys, range(len(keys)), strict=True))
        return found
