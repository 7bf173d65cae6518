"""``LazyMapping``: a read-only mapping kept in its stored form until first read.

Planning reads one state record and one cached code version per asset, and compares most of
them without ever looking inside their mappings (a record's inputs, its code components). So
those mappings keep what they were read from (JSON text, indices into a table) and build the
dictionary on first use; a subclass says how, in ``_load``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LazyMapping(Mapping[K, V]):
    """A mapping whose dictionary ``_load`` builds on first use (then kept)."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[K, V] | None = None

    def _load(self) -> dict[K, V]:
        raise NotImplementedError

    def _decoded(self) -> dict[K, V]:
        data = self._data
        if data is None:
            data = self._data = self._load()
        return data

    def __getitem__(self, key: K) -> V:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (and copies) as a plain dict
        return (dict, (self._decoded(),))
