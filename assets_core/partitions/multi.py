"""Multi-dimensional partitions: any number of named dimensions, each a time, static or dynamic
definition, kept in the order declared.

A key names every dimension in that order: ``date=2024-01-05,region=eu``. The keys of a multi
definition are every combination of its dimensions' keys, the first dimension varying slowest.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from assets_core.errors import DefinitionError, PartitionError
from assets_core.model.keys import SEGMENT_RE
from assets_core.partitions.static import DynamicPartitions, StaticPartitions
from assets_core.partitions.time import TimePartitions

#: a definition of one dimension
Single = TimePartitions | StaticPartitions | DynamicPartitions
SINGLE_TYPES = (TimePartitions, StaticPartitions, DynamicPartitions)


@dataclass(frozen=True)
class MultiPartitions:
    """Named dimensions, in the order declared. Make one with ``multi(date=..., region=...)``."""

    dims: tuple[tuple[str, Single], ...]

    def __post_init__(self) -> None:
        if not self.dims:
            raise DefinitionError(
                "multi() has no dimensions; name at least one, e.g. "
                "multi(date=daily(start='2024-01-01'), region=static(['eu', 'us']))."
            )
        for name, definition in self.dims:
            if not SEGMENT_RE.match(name):
                raise DefinitionError(
                    f"multi({name}=...): a dimension name starts with a letter or '_' and holds "
                    "only letters, digits and '_'."
                )
            if not isinstance(definition, SINGLE_TYPES):
                raise DefinitionError(
                    f"multi({name}={definition!r}): a dimension is hourly, daily, weekly, "
                    "monthly, static or dynamic partitions (not multi, not a plain value)."
                )

    @property
    def kind(self) -> str:
        return "multi"

    @property
    def names(self) -> tuple[str, ...]:
        """The dimensions' names, in the order declared."""
        return tuple(name for name, _ in self.dims)

    def dim(self, name: str) -> Single:
        """The definition of dimension ``name``."""
        for n, d in self.dims:
            if n == name:
                return d
        raise PartitionError(
            f"{self!r} has no dimension {name!r}; its dimensions are {', '.join(self.names)}."
        )

    @property
    def time_dims(self) -> tuple[str, ...]:
        """The names of the time dimensions."""
        return tuple(n for n, d in self.dims if isinstance(d, TimePartitions))

    def token(self) -> str:
        """The stable text of this definition (part of an asset's version)."""
        return "multi(" + ", ".join(f"{n}={d.token()}" for n, d in self.dims) + ")"

    def __repr__(self) -> str:
        return self.token()

    @property
    def expected(self) -> str:
        return ",".join(f"{n}=<{d.kind} key>" for n, d in self.dims) + (
            f" (e.g. {self.example})" if self.example else ""
        )

    @property
    def example(self) -> str:
        values = []
        for _, d in self.dims:
            if isinstance(d, TimePartitions):
                values.append(d.start)
            elif isinstance(d, StaticPartitions):
                values.append(d.names[0])
            else:
                return ""
        return self.join(values)

    def join(self, values: Sequence[str]) -> str:
        """The key of one value per dimension, in the order declared."""
        return ",".join(f"{n}={v}" for (n, _), v in zip(self.dims, values, strict=True))

    def split(self, key: str) -> tuple[str, ...]:
        """The value of each dimension in ``key``, in the order declared, each checked."""
        values = self.parts(key)
        for (name, d), value in zip(self.dims, values, strict=True):
            try:
                d.check(value)
            except PartitionError as exc:
                raise PartitionError(
                    f"{key!r} is not a partition key of {self!r}: dimension {name}: {exc}"
                ) from None
        return values

    def parts(self, key: str) -> tuple[str, ...]:
        """The value of each dimension in ``key``, in the order declared; the form is checked,
        the values are not (``split`` checks them too)."""
        parts = key.split(",") if isinstance(key, str) else []
        values = []
        for (name, _), part in zip(self.dims, parts, strict=False):
            given, eq, value = part.partition("=")
            if given != name or not eq:
                break
            values.append(value)
        if len(values) != len(self.dims) or len(parts) != len(self.dims):
            raise PartitionError(
                f"{key!r} is not a partition key of {self!r}: expected {self.expected}, every "
                "dimension once, in that order."
            )
        return tuple(values)

    def check(self, key: str) -> str:
        """``key`` when it is a well-formed key of this definition; ``PartitionError`` if not."""
        self.split(key)
        return key

    def keys(self, now: datetime, dynamic: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Every combination of the dimensions' keys at ``now``, the first varying slowest."""
        per_dim = [[f"{n}={k}" for k in d.keys(now, dynamic)] for n, d in self.dims]
        return [",".join(combo) for combo in itertools.product(*per_dim)]

    def window(self, key: str) -> tuple[datetime, datetime]:
        """The window of ``key``'s time dimension (the definition must have exactly one)."""
        times = self.time_dims
        if len(times) != 1:
            raise PartitionError(
                f"{self!r} has {len(times) or 'no'} time dimensions; a window needs exactly one."
            )
        values = self.split(key)
        i = self.names.index(times[0])
        d = self.dims[i][1]
        assert isinstance(d, TimePartitions)
        return d.window(values[i])


def multi(**dims: Single) -> MultiPartitions:
    """Partitions over named dimensions, in this order:
    ``multi(date=daily(start="2024-01-01"), region=static(["eu", "us"]))``."""
    return MultiPartitions(tuple(dims.items()))
