"""Mappings: which upstream partitions one downstream partition reads, and the reverse.

A mapping is bound to one (upstream, downstream) pair of definitions by ``mapping_for``
(``assets_core.partitions.resolve``). ``upstream(key)`` gives the upstream keys the downstream
partition ``key`` reads; ``downstream(key)`` gives the downstream keys that read the upstream
partition ``key`` (what a change to it makes stale). The two always agree: ``u`` is in
``upstream(d)`` exactly when ``d`` is in ``downstream(u)``.

Results are tuples of keys, ``(None,)`` for an unpartitioned side (its one step), or ``ALL``
(every partition of the other side). Keys are never cut at "now" (whether a partition exists
yet is planning's question: it waits with ``upstream_partition_missing``), only at the
definitions' ``start`` and ``end``. Time windows map by index arithmetic: a list of keys is
mapped by turning keys into indexes once, cutting index ranges, and slicing one list of keys.

What a user writes in ``ins=`` to override the default mapping: ``window(a, b)`` (windows ``a``
to ``b`` relative to this one, e.g. ``window(-6, 0)`` for a day and the six before) and
``explicit({"downstream key": ["upstream key", ...]})``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from assets_core.errors import DefinitionError, PartitionError
from assets_core.partitions.space import KeySpace, PartitionsDefinition
from assets_core.partitions.time import TimePartitions


class AllKeys:
    """Every partition of the other side (``ALL``)."""

    _instance: AllKeys | None = None

    def __new__(cls) -> AllKeys:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ALL"

    def __reduce__(self) -> str:
        return "ALL"


ALL = AllKeys()

#: what a mapping gives: keys (``None`` is an unpartitioned asset's one step), or ``ALL``
Keys = tuple[str | None, ...] | AllKeys


class PartitionMapping(Protocol):
    """Which partitions of one side the other side's partitions read (see the module)."""

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        """The upstream keys that the downstream partition ``key`` reads."""
        ...

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        """The downstream keys whose partitions read the upstream partition ``key``."""
        ...

    def upstream_many(self, keys: Sequence[str | None], space: KeySpace) -> list[Keys]:
        """``upstream`` of each of ``keys``, in order (fast for long lists)."""
        ...


# -- what a user writes in ins= ----------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The windows ``a`` to ``b`` (both included) relative to this partition's window: ``a``
    and ``b`` count windows of the upstream's unit, negative into the past."""

    a: int
    b: int

    def __post_init__(self) -> None:
        for value in (self.a, self.b):
            if isinstance(value, bool) or not isinstance(value, int):
                raise DefinitionError(f"window({self.a!r}, {self.b!r}): give two whole numbers.")
        if self.a > self.b:
            raise DefinitionError(
                f"window({self.a}, {self.b}) runs backwards; write window({self.b}, {self.a})."
            )

    def token(self) -> str:
        """The stable text of this mapping (part of the reading asset's version)."""
        return f"window({self.a}, {self.b})"

    def __repr__(self) -> str:
        return self.token()


@dataclass(frozen=True)
class Explicit:
    """Each downstream key with the upstream keys it reads; a key not listed reads none."""

    table: tuple[tuple[str, tuple[str, ...]], ...]

    def token(self) -> str:
        """The stable text of this mapping (part of the reading asset's version)."""
        return "explicit({" + ", ".join(f"{d!r}: {list(u)!r}" for d, u in self.table) + "})"

    def __repr__(self) -> str:
        return self.token()


#: a mapping a user gives in ``ins=``
MappingSpec = Window | Explicit


def window(a: int, b: int) -> Window:
    """Read the upstream windows ``a`` to ``b`` relative to this one: ``window(-6, 0)`` is this
    day and the six before (cut at the upstream's first partition)."""
    return Window(a, b)


def explicit(table: Mapping[str, Sequence[str]]) -> Explicit:
    """Read exactly the listed upstream keys: ``explicit({"eu": ["de", "fr"], "us": ["us"]})``."""
    if not isinstance(table, Mapping):
        raise DefinitionError(
            f"explicit({table!r}): give a dict of downstream key to a list of upstream keys."
        )
    rows = []
    for down, ups in sorted(table.items()):
        if isinstance(ups, str) or not isinstance(ups, Sequence):
            raise DefinitionError(
                f"explicit({{{down!r}: {ups!r}}}): give a list of upstream keys, e.g. [{ups!r}]."
            )
        rows.append((down, tuple(ups)))
    return Explicit(tuple(rows))


# -- bound mappings -----------------------------------------------------------------------


def need_key(key: str | None) -> str:
    """``key``; a ``PartitionError`` when a partitioned asset's step has none."""
    if key is None:
        raise PartitionError("a partitioned asset's step needs a partition key, got None.")
    return key


class BaseMapping:
    """What every mapping shares: ``upstream_many`` as ``upstream`` of each key (mappings
    with a faster way override it)."""

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        raise NotImplementedError

    def upstream_many(self, keys: Sequence[str | None], space: KeySpace) -> list[Keys]:
        return [self.upstream(k, space) for k in keys]


class IdentityMapping(BaseMapping):
    """The same key on both sides (equal definitions, or a downstream whose static keys are
    some of the upstream's)."""

    def __init__(self, down: PartitionsDefinition) -> None:
        self.down = down

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        return (need_key(key),)

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        key = need_key(key)
        try:
            self.down.check(key)
        except PartitionError:
            return ()
        return (key,)

    def upstream_many(self, keys: Sequence[str | None], space: KeySpace) -> list[Keys]:
        if None in keys:
            need_key(None)
        return [(k,) for k in keys]


class AllMapping(BaseMapping):
    """A partitioned upstream read by an unpartitioned asset: it reads every partition."""

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        return ALL

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        return (None,)


class WholeMapping(BaseMapping):
    """An unpartitioned upstream read by a partitioned asset: each partition reads all of it."""

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        return (None,)

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        return ALL


class TableMapping(BaseMapping):
    """An ``explicit`` table, and its inverse for the reverse direction."""

    def __init__(self, spec: Explicit) -> None:
        self.forward = dict(spec.table)
        inverse: dict[str, list[str]] = {}
        for down, ups in spec.table:
            for up in ups:
                inverse.setdefault(up, []).append(down)
        self.inverse = {up: tuple(downs) for up, downs in inverse.items()}

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        return self.forward.get(need_key(key), ())

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        return self.inverse.get(need_key(key), ())


def indexes(definition: TimePartitions, keys: Sequence[str], space: KeySpace) -> list[int]:
    """The index of each of ``keys``: existing keys by their place in the space (they are
    consecutive from the first window), others by parsing."""
    positions = space.positions(definition)
    first = definition.first
    out = []
    for k in keys:
        p = positions.get(k)
        out.append(first + p if p is not None else definition.index(k))
    return out


class _TimeMapping(BaseMapping):
    """A mapping between two time definitions, as index ranges: ``cover(n)`` is the range of
    upstream indexes that downstream window ``n`` reads, ``covered(m)`` the range of
    downstream indexes that read upstream window ``m``; both cut at the definitions' bounds.
    Ranges are kept once computed (a mapping is shared by every edge between its pair)."""

    def __init__(self, up: TimePartitions, down: TimePartitions) -> None:
        self.up, self.down = up, down
        self._covers: dict[int, tuple[int, int]] = {}

    def cover(self, n: int) -> tuple[int, int]:
        raise NotImplementedError

    def covered(self, m: int) -> tuple[int, int]:
        raise NotImplementedError

    def upstream(self, key: str | None, space: KeySpace) -> Keys:
        lo, hi = self.cover(self.down.index(need_key(key)))
        return tuple(self.up.keys_between(lo, hi))

    def downstream(self, key: str | None, space: KeySpace) -> Keys:
        lo, hi = self.covered(self.up.index(need_key(key)))
        return tuple(self.down.keys_between(lo, hi))

    def covers(self, ns: Sequence[int]) -> list[tuple[int, int]]:
        """``cover`` of each index of ``ns``, through the kept ranges."""
        kept, cover = self._covers, self.cover
        out = []
        for n in ns:
            found = kept.get(n)
            if found is None:
                found = kept[n] = cover(n)
            out.append(found)
        return out

    def upstream_many(self, keys: Sequence[str | None], space: KeySpace) -> list[Keys]:
        ranges = self.covers(indexes(self.down, [need_key(k) for k in keys], space))
        spans = [(lo, hi) for lo, hi in ranges if hi > lo]
        if not spans:
            return [() for _ in ranges]
        base, top = min(lo for lo, _ in spans), max(hi for _, hi in spans)
        existing, first = space.keys(self.up), self.up.first
        if base >= first and top - first <= len(existing):  # slices of the listed keys
            table = existing[base - first : top - first]
        else:
            table = tuple(self.up.keys_between(base, top))
        return [table[lo - base : hi - base] if hi > lo else () for lo, hi in ranges]


def _clip(definition: TimePartitions, lo: int, hi: int) -> tuple[int, int]:
    lo = max(lo, definition.first)
    if definition.stop is not None:
        hi = min(hi, definition.stop)
    return lo, hi


class OverlapMapping(_TimeMapping):
    """Time definitions of any units and zones: a window reads the upstream windows that
    overlap it (a month its days, a day its month). Same unit and zone: the same window.
    Calendar units in one zone compare local days; anything else compares instants."""

    def __init__(self, up: TimePartitions, down: TimePartitions) -> None:
        super().__init__(up, down)
        same_zone = up.timezone == down.timezone
        self.same = same_zone and up.unit == down.unit and up.week_start == down.week_start
        self.same = self.same and up.phase == down.phase
        self.by_day = same_zone and "hour" not in (up.unit, down.unit)

    def _overlap(self, src: TimePartitions, dst: TimePartitions, n: int) -> tuple[int, int]:
        if self.same:
            return _clip(dst, n, n + 1)
        if self.by_day:
            s, e = src.day_span(n)
            return _clip(dst, dst.index_at_day(s), dst.index_at_day(e - 1) + 1)
        s, e = src.epoch(n), src.epoch(n + 1)
        return _clip(dst, dst.index_at_epoch(s), dst.index_at_epoch(e - 1) + 1)

    def cover(self, n: int) -> tuple[int, int]:
        return self._overlap(self.down, self.up, n)

    def covered(self, m: int) -> tuple[int, int]:
        return self._overlap(self.up, self.down, m)


class WindowMapping(_TimeMapping):
    """``window(a, b)`` between two definitions of one unit and zone: window ``n`` reads the
    upstream windows ``n + a`` to ``n + b``; upstream ``m`` is read by ``m - b`` to ``m - a``."""

    def __init__(self, up: TimePartitions, down: TimePartitions, spec: Window) -> None:
        super().__init__(up, down)
        self.a, self.b = spec.a, spec.b

    def cover(self, n: int) -> tuple[int, int]:
        return _clip(self.up, n + self.a, n + self.b + 1)

    def covered(self, m: int) -> tuple[int, int]:
        return _clip(self.down, m - self.b, m - self.a + 1)

    def covers(self, ns: Sequence[int]) -> list[tuple[int, int]]:
        a, b1, first = self.a, self.b + 1, self.up.first
        stop = self.up.stop if self.up.stop is not None else float("inf")
        return [
            (n + a if n + a > first else first, n + b1 if n + b1 < stop else int(stop)) for n in ns
        ]
