"""Partitions named by keys: a fixed list (``static``), or a named set whose keys are added and
removed at run time (``dynamic``).

A key is itself, and follows the segment rule of asset keys (``[A-Za-z_][A-Za-z0-9_]*``,
DESIGN §3), so it can name a folder and a SQL value safely. A dynamic definition owns no keys:
whoever lists them (the state store, later) passes the current keys in, by the set's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from assets_core.errors import DefinitionError, PartitionError
from assets_core.model.keys import SEGMENT_RE

SEGMENT_RULE = "starts with a letter or '_' and holds only letters, digits and '_'"


def check_segment(key: object, what: str) -> str:
    """``key`` when it follows the segment rule; a ``PartitionError`` naming it and ``what``
    (the definition) otherwise."""
    if not isinstance(key, str) or not SEGMENT_RE.match(key):
        raise PartitionError(f"{key!r} is not a partition key of {what}: a key {SEGMENT_RULE}.")
    return key


@dataclass(frozen=True)
class StaticPartitions:
    """A fixed list of keys, in the order declared. Make one with ``static([...])``."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise DefinitionError("static([]) has no keys; list at least one, e.g. static(['eu']).")
        seen: set[str] = set()
        for name in self.names:
            if not isinstance(name, str) or not SEGMENT_RE.match(name):
                raise DefinitionError(
                    f"static(...): {name!r} cannot be a partition key; a key {SEGMENT_RULE}."
                )
            if name in seen:
                raise DefinitionError(f"static(...): {name!r} is listed twice; list it once.")
            seen.add(name)

    @property
    def kind(self) -> str:
        return "static"

    def token(self) -> str:
        """The stable text of this definition (part of an asset's version)."""
        return f"static({list(self.names)!r})"

    def __repr__(self) -> str:
        return self.token()

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.names)

    def keys(self, now: datetime, dynamic: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """The keys, in the order declared (``now`` and ``dynamic`` do not matter)."""
        return list(self.names)

    def check(self, key: str) -> str:
        """``key`` when it is one of the keys; ``PartitionError`` naming the others if not."""
        if key not in self.names:
            check_segment(key, repr(self))
            raise PartitionError(
                f"{key!r} is not a partition key of {self!r}: expected {self.expected}."
            )
        return key


@dataclass(frozen=True)
class DynamicPartitions:
    """Keys added and removed at run time, under ``name``. Make one with ``dynamic(name)``."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not SEGMENT_RE.match(self.name):
            raise DefinitionError(f"dynamic({self.name!r}): a name {SEGMENT_RULE}.")

    @property
    def kind(self) -> str:
        return "dynamic"

    def token(self) -> str:
        """The stable text of this definition (part of an asset's version)."""
        return f"dynamic({self.name!r})"

    def __repr__(self) -> str:
        return self.token()

    @property
    def expected(self) -> str:
        return f"a key of the dynamic set {self.name!r}"

    def keys(self, now: datetime, dynamic: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """The set's current keys, as ``dynamic[name]`` gives them (none when absent), each
        checked against the segment rule."""
        given = (dynamic or {}).get(self.name, ())
        return [check_segment(k, repr(self)) for k in given]

    def check(self, key: str) -> str:
        """``key`` when it could be a key of this set (the rule; not whether it was added)."""
        return check_segment(key, repr(self))


def static(keys: Iterable[str]) -> StaticPartitions:
    """Partitions with the fixed ``keys``, in this order: ``static(["eu", "us", "apac"])``."""
    if isinstance(keys, str):
        raise DefinitionError(f"static({keys!r}): give a list of keys, e.g. static([{keys!r}]).")
    return StaticPartitions(tuple(keys))


def dynamic(name: str) -> DynamicPartitions:
    """Partitions whose keys are added and removed at run time under ``name``."""
    return DynamicPartitions(name)
