"""Choosing the mapping between two partitions definitions (DESIGN §12), and the problems of
pairs that cannot be mapped.

- an explicit mapping (``window``, ``explicit``) given in ``ins=`` wins;
- equal definitions: the same key;
- two time definitions: the overlapping windows (any units, any zones);
- static keys that are all keys of the upstream's static definition: the same key;
- partitioned upstream, unpartitioned reader: every partition (``ALL``);
- unpartitioned upstream, partitioned reader: the whole upstream (``(None,)``);
- multi on either side: dimension by dimension, by name between two multi definitions, and
  with a single definition through the one dimension it matches; a dimension the other side
  lacks means all of it.

Anything else is a problem naming both assets and the fix (``mapping_problems``, for project
validation), or a ``DefinitionError`` from ``mapping_for``.
"""

from __future__ import annotations

import functools

from assets_core.errors import DefinitionError, PartitionError, Problem
from assets_core.partitions.dims import DimsMapping, Pair
from assets_core.partitions.mapping import (
    AllMapping,
    BaseMapping,
    Explicit,
    IdentityMapping,
    MappingSpec,
    OverlapMapping,
    PartitionMapping,
    TableMapping,
    WholeMapping,
    Window,
    WindowMapping,
)
from assets_core.partitions.multi import MultiPartitions, Single
from assets_core.partitions.space import KeySpace, PartitionsDefinition
from assets_core.partitions.static import DynamicPartitions, StaticPartitions
from assets_core.partitions.time import TimePartitions

_EXPLICIT_FIX = "map the keys with ins={{'{param}': explicit({{...}})}}"


class _Mismatch(Exception):
    """Why a pair cannot be mapped, and the fix (``{param}`` stands for the parameter)."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason, self.fix = reason, fix


class PlainMapping(BaseMapping):
    """Two unpartitioned assets: the one step reads the one step."""

    def upstream(self, key: str | None, space: KeySpace) -> tuple[None]:
        return (None,)

    def downstream(self, key: str | None, space: KeySpace) -> tuple[None]:
        return (None,)


def _text(definition: PartitionsDefinition | None) -> str:
    return "not partitioned" if definition is None else definition.token()


def _bind_window(up: Single, down: Single, spec: Window) -> PartitionMapping:
    if not isinstance(up, TimePartitions) or not isinstance(down, TimePartitions):
        other = down if isinstance(up, TimePartitions) else up
        raise _Mismatch(
            f"{spec!r} counts time windows, and {other!r} is not time partitions",
            "partition both by time, or drop the window from ins=",
        )
    same = up.unit == down.unit and up.timezone == down.timezone
    same = same and up.week_start == down.week_start and up.phase == down.phase
    if not same:
        raise _Mismatch(
            f"{spec!r} counts windows of one unit and time zone, and these are {up.kind} in "
            f"{up.timezone} and {down.kind} in {down.timezone}",
            "give both the same unit and time zone, or drop the window to read the overlapping "
            "windows",
        )
    return WindowMapping(up, down, spec)


def _bind_single(up: Single, down: Single) -> PartitionMapping:
    if up == down:
        return IdentityMapping(down)
    if isinstance(up, TimePartitions) and isinstance(down, TimePartitions):
        return OverlapMapping(up, down)
    if isinstance(up, StaticPartitions) and isinstance(down, StaticPartitions):
        missing = [k for k in down.names if k not in up.names]
        if not missing:
            return IdentityMapping(down)
        raise _Mismatch(
            f"{', '.join(map(repr, missing))} {'is' if len(missing) == 1 else 'are'} not "
            "among the upstream's keys",
            f"add {'it' if len(missing) == 1 else 'them'} to the upstream's static([...]), or "
            + _EXPLICIT_FIX,
        )
    if isinstance(up, DynamicPartitions) and isinstance(down, DynamicPartitions):
        raise _Mismatch(
            f"the dynamic sets {up.name!r} and {down.name!r} differ",
            "use one dynamic set for both, or " + _EXPLICIT_FIX,
        )
    raise _Mismatch(
        f"{up.kind} partitions cannot be matched to {down.kind} partitions",
        "give both assets the same kind of partitions, or " + _EXPLICIT_FIX,
    )


def _match(multi: MultiPartitions, single: Single, up_is_multi: bool) -> int:
    """The place of the one dimension of ``multi`` that maps to ``single``."""
    fits = []
    for i, (_, d) in enumerate(multi.dims):
        try:
            _bind_single(d, single) if up_is_multi else _bind_single(single, d)
        except _Mismatch:
            continue
        fits.append(i)
    if len(fits) > 1:
        equal = [i for i in fits if multi.dims[i][1] == single]
        fits = equal if len(equal) == 1 else fits
    if len(fits) == 1:
        return fits[0]
    names = ", ".join(multi.names[i] for i in fits)
    raise _Mismatch(
        f"several dimensions ({names}) could match {single!r}"
        if fits
        else f"no dimension of {multi!r} matches {single!r}",
        "give the multi definition exactly one matching dimension, or " + _EXPLICIT_FIX,
    )


def _bind_dims(
    up: PartitionsDefinition, down: PartitionsDefinition, spec: Window | None
) -> PartitionMapping:
    pairs: list[tuple[str, int, int, Single, Single]] = []
    if isinstance(up, MultiPartitions) and isinstance(down, MultiPartitions):
        for i, (name, u) in enumerate(up.dims):
            if name in down.names:
                j = down.names.index(name)
                pairs.append((name, i, j, u, down.dims[j][1]))
    elif isinstance(up, MultiPartitions):
        assert not isinstance(down, MultiPartitions)
        i = _match(up, down, up_is_multi=True)
        pairs.append((up.names[i], i, 0, up.dims[i][1], down))
    else:
        assert isinstance(down, MultiPartitions)
        j = _match(down, up, up_is_multi=False)
        pairs.append((down.names[j], 0, j, up, down.dims[j][1]))
    timed = [
        p for p in pairs if isinstance(p[3], TimePartitions) and isinstance(p[4], TimePartitions)
    ]
    if spec is not None and len(timed) != 1:
        raise _Mismatch(
            f"{spec!r} needs exactly one time dimension on both sides, and there are {len(timed)}",
            "read one time dimension on both sides, or " + _EXPLICIT_FIX,
        )
    bound: list[Pair] = []
    for name, i, j, u, d in pairs:
        try:
            if spec is not None and timed[0][1:3] == (i, j):
                bound.append((i, j, _bind_window(u, d, spec)))
            else:
                bound.append((i, j, _bind_single(u, d)))
        except _Mismatch as m:
            raise _Mismatch(f"dimension {name}: {m.reason}", m.fix) from None
    return DimsMapping(up, down, bound)


@functools.lru_cache(maxsize=4096)
def _bind(
    up: PartitionsDefinition | None, down: PartitionsDefinition | None, spec: MappingSpec | None
) -> PartitionMapping:
    """The mapping of a pair, made once and shared by every edge between the two (definitions
    and specs are frozen values; a mapping keeps no state but what it has computed)."""
    if isinstance(spec, Explicit):
        if up is None or down is None:
            raise _Mismatch(
                f"{spec!r} maps partition keys, and {'the upstream' if up is None else 'it'} "
                "is not partitioned",
                "partition both, or drop the explicit mapping from ins=",
            )
        for d, ups in spec.table:
            for key, definition in [(d, down), *((u, up) for u in ups)]:
                try:
                    definition.check(key)
                except PartitionError as exc:
                    reason = f"explicit(...): {str(exc).rstrip('.')}"
                    raise _Mismatch(reason, "fix that key") from None
        return TableMapping(spec)
    if up is None or down is None:
        if spec is not None:
            raise _Mismatch(
                f"{spec!r} reads time windows, and {'the upstream' if up is None else 'it'} "
                "is not partitioned",
                "partition both by time, or drop the window from ins=",
            )
        if up is None and down is None:
            return PlainMapping()
        return WholeMapping() if up is None else AllMapping()
    if isinstance(up, MultiPartitions) or isinstance(down, MultiPartitions):
        if up == down and spec is None:
            return IdentityMapping(down)
        return _bind_dims(up, down, spec)
    if spec is not None:
        return _bind_window(up, down, spec)
    return _bind_single(up, down)


def mapping_for(
    upstream: PartitionsDefinition | None,
    downstream: PartitionsDefinition | None,
    spec: MappingSpec | None = None,
) -> PartitionMapping:
    """The mapping from ``upstream``'s partitions to ``downstream``'s (``None``: not
    partitioned), ``spec`` overriding the default; a ``DefinitionError`` saying why and the
    fix when the two cannot be mapped."""
    try:
        return _bind(upstream, downstream, spec)
    except _Mismatch as m:
        raise DefinitionError(
            f"cannot map {_text(upstream)} to {_text(downstream)}: {m.reason}; "
            f"{m.fix.format(param='<parameter>')}."
        ) from None


def mapping_problems(
    asset: str,
    upstream: str,
    downstream_partitions: PartitionsDefinition | None,
    upstream_partitions: PartitionsDefinition | None,
    spec: MappingSpec | None = None,
    param: str | None = None,
) -> list[Problem]:
    """The problems of asset ``asset`` (partitioned ``downstream_partitions``) reading
    ``upstream`` (partitioned ``upstream_partitions``) through ``param`` (default: the
    upstream's name), with ``spec`` from ``ins=``: none when they map."""
    param = param or upstream.rpartition("/")[2]
    if spec is not None and (upstream_partitions is None or downstream_partitions is None):
        who = f"'{upstream}'" if upstream_partitions is None else f"'{asset}' itself"
        what = "a window" if isinstance(spec, Window) else "an explicit mapping"
        return [
            Problem(
                f"reads '{upstream}' with {spec!r}, but {who} is not partitioned; {what} needs "
                f"partitions on both sides: partition {who}, or drop {spec!r} from "
                f"ins={{'{param}': ...}}.",
                asset,
            )
        ]
    try:
        _bind(upstream_partitions, downstream_partitions, spec)
    except _Mismatch as m:
        return [
            Problem(
                f"cannot map the partitions of '{upstream}' ({_text(upstream_partitions)}) to "
                f"its own ({_text(downstream_partitions)}): {m.reason}; "
                f"{m.fix.format(param=param)}.",
                asset,
            )
        ]
    return []
