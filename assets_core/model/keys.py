"""Keys: the frozen path that names an asset (``marts/revenue``), and the step key that names
one unit of work (an asset, and one of its partitions when it is partitioned).

``AssetKey.parse`` is the one place a user's string becomes a key; everything past the boundary
(decorator, config, CLI, selection) takes ``AssetKey`` values only. The segment rule,
``[A-Za-z_][A-Za-z0-9_]*``, is what keeps a key from naming a path outside a storage root or
breaking SQL quoting. A ``StepKey`` is what plans, events, run results, locks and state records
are keyed by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Union

from assets_core.errors import InvalidKeyError

SEGMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

CoercibleToKey = Union["AssetKey", str, Sequence[str]]


class AssetKey(tuple[str, ...]):
    """An immutable, hashable, ordered path of segments. ``str(key)`` is ``a/b/c``.

    A tuple underneath, so hashing, equality and ordering run at C speed: planning thousands
    of assets hashes keys millions of times.
    """

    __slots__ = ()

    def __new__(cls, path: Iterable[str]) -> AssetKey:
        parts = tuple(path)
        if not parts:
            raise InvalidKeyError("An asset key needs at least one segment, got an empty key.")
        for part in parts:
            if not isinstance(part, str) or not SEGMENT_RE.match(part):
                raise InvalidKeyError(
                    f"Invalid key segment {part!r} in {'/'.join(map(str, parts))!r}: a segment "
                    "starts with a letter or '_' and holds only letters, digits and '_'."
                )
        return super().__new__(cls, parts)

    @classmethod
    def parse(cls, value: CoercibleToKey) -> AssetKey:
        """Convert a user's key (``"a/b"``, ``["a", "b"]`` or a key) into an ``AssetKey``."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls(value.split("/"))
        if isinstance(value, Sequence):
            return cls(value)
        raise InvalidKeyError(f"Expected an asset key such as 'a/b', got {type(value).__name__}.")

    @property
    def path(self) -> tuple[str, ...]:
        """The segments, as a plain tuple."""
        return tuple(self)

    @property
    def name(self) -> str:
        """The last segment: ``revenue`` for ``marts/revenue``."""
        return self[-1]

    @property
    def prefix(self) -> tuple[str, ...]:
        """Every segment but the last: ``("marts",)`` for ``marts/revenue``."""
        return tuple(self[:-1])

    def sibling(self, name: str) -> AssetKey:
        """The key ``name`` under this key's prefix."""
        return AssetKey((*self[:-1], name))

    def __str__(self) -> str:
        return "/".join(self)

    def __repr__(self) -> str:
        return f"AssetKey({'/'.join(self)!r})"

    def __reduce__(self) -> tuple[type[AssetKey], tuple[tuple[str, ...]]]:
        return (AssetKey, (tuple(self),))


def checked_key(parts: tuple[str, ...]) -> AssetKey:
    """An ``AssetKey`` of segments the caller has already matched against ``SEGMENT_RE``
    (skips the check ``AssetKey(...)`` makes; for hot paths only)."""
    return tuple.__new__(AssetKey, parts)


class StepKey(tuple[AssetKey, "str | None"]):
    """One unit of work: an asset key and a partition key (``None`` when unpartitioned).

    ``str(step)`` is ``a/b`` for an unpartitioned asset and ``a/b[2024-01-05]`` for one
    partition; ``StepKey.parse`` reads both back. A tuple underneath, like ``AssetKey``.
    """

    __slots__ = ()

    def __new__(cls, asset: AssetKey, partition: str | None = None) -> StepKey:
        return tuple.__new__(cls, (asset, partition))

    @property
    def asset(self) -> AssetKey:
        """The asset this step materializes."""
        return self[0]

    @property
    def partition(self) -> str | None:
        """The partition key, or ``None`` for an unpartitioned asset."""
        return self[1]

    @classmethod
    def parse(cls, text: str) -> StepKey:
        """``a/b`` or ``a/b[partition]`` as a step key."""
        if text.endswith("]") and "[" in text:
            key, _, partition = text[:-1].partition("[")
            return cls(AssetKey.parse(key), partition)
        return cls(AssetKey.parse(text))

    def __str__(self) -> str:
        key = "/".join(self[0])
        return key if self[1] is None else f"{key}[{self[1]}]"

    def __repr__(self) -> str:
        return f"StepKey({str(self)!r})"

    def __reduce__(self) -> tuple[type[StepKey], tuple[AssetKey, str | None]]:
        return (StepKey, (self[0], self[1]))


def step_of(key: AssetKey) -> StepKey:
    """The one step of an unpartitioned asset (``StepKey(key)`` at C speed, for hot paths)."""
    return tuple.__new__(StepKey, (key, None))


def names_of(keys: Iterable[AssetKey]) -> dict[str, list[AssetKey]]:
    """The keys by their last segment (their bare name), each list sorted."""
    out: dict[str, list[AssetKey]] = {}
    for k in keys:
        out.setdefault(k.name, []).append(k)
    for found in out.values():
        found.sort()
    return out
