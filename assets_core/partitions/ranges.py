"""Selections of partitions as text, both ways: what ``--partitions`` reads, and how a list of
keys is written back as runs of consecutive keys.

Reading (``select``): pieces separated by commas, each a key or an inclusive range ``a..b``;
consecutive means consecutive among the existing keys, so a range of time keys may reach past
the first or last existing partition (it is cut there), while a range of static or dynamic
keys names two existing keys. For a multi definition each piece names its dimension
(``date=2024-01-01..2024-01-31``, ``region=eu``): pieces of one dimension add up, pieces of
different dimensions narrow each other, and a dimension not named means all of it.

Writing (``runs``): sorted keys grouped into runs of consecutive keys, each written the way
``select`` reads it back: ``2024-01-01..2024-03-31 (91 partitions)``; a multi run steps along
its first time dimension (else its last) with the other dimensions fixed:
``date=2024-01-01..2024-01-31,region=eu (31 partitions)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assets_core.errors import PartitionError
from assets_core.partitions.multi import MultiPartitions, Single
from assets_core.partitions.space import KeySpace, PartitionsDefinition
from assets_core.partitions.static import DynamicPartitions
from assets_core.partitions.time import TimePartitions

# -- reading ------------------------------------------------------------------------------


def _example(definition: Single) -> str:
    if isinstance(definition, TimePartitions):
        a = definition.start
        b = definition.key(definition.first + 1)
        return f"{a}..{b}"
    return "a,b" if isinstance(definition, DynamicPartitions) else ",".join(definition.names[:2])


def _missing(definition: Single, key: str, space: KeySpace, piece: str) -> PartitionError:
    """The error for ``key`` (in ``piece``), a well-formed key of ``definition`` that does not
    exist now."""
    if isinstance(definition, DynamicPartitions):
        return PartitionError(
            f"--partitions {piece!r}: {key!r} is not a key of the dynamic set "
            f"{definition.name!r} (yet); add it first."
        )
    keys = space.keys(definition)
    after = f" (the last is {keys[-1]})" if keys else " (none exists yet)"
    return PartitionError(
        f"--partitions {piece!r}: {key!r} is a partition of {definition!r} that does not exist "
        f"yet at {space.now.isoformat()}{after}; pick an existing one or pin a later time with "
        "--as-of."
    )


def _place(definition: Single, key: str, space: KeySpace, piece: str) -> int:
    """The place of ``key`` among the existing keys; for time keys, where it would be (before
    the first: negative; after the last: past the end)."""
    positions = space.positions(definition)
    found = positions.get(key)
    if found is not None:
        return found
    try:
        if isinstance(definition, TimePartitions):
            return definition._index(key) - definition.first
        definition.check(key)
    except PartitionError as exc:
        raise PartitionError(f"--partitions {piece!r}: {exc}") from None
    raise _missing(definition, key, space, piece)


def _select_single(
    definition: Single, pieces: Sequence[tuple[str, str]], space: KeySpace
) -> list[int]:
    """The places of the existing keys of ``definition`` that the ``pieces`` select, in
    order; each piece is (its value, the piece as written, for messages)."""
    keys = space.keys(definition)
    chosen: set[int] = set()
    for value, piece in pieces:
        if ".." not in value:
            place = _place(definition, value, space, piece)
            if not 0 <= place < len(keys):
                try:
                    definition.check(value)  # before start, from end on
                except PartitionError as exc:
                    raise PartitionError(f"--partitions {piece!r}: {exc}") from None
                raise _missing(definition, value, space, piece)
            chosen.add(place)
            continue
        a, _, b = value.partition("..")
        if not a or not b:
            raise PartitionError(
                f"--partitions {piece!r}: a range needs both ends, e.g. {_example(definition)}."
            )
        lo, hi = _place(definition, a, space, piece), _place(definition, b, space, piece)
        if lo > hi:
            raise PartitionError(f"--partitions {piece!r} runs backwards; write {b}..{a}.")
        lo, hi = max(lo, 0), min(hi, len(keys) - 1)
        if lo > hi:
            shown = f"{keys[0]}..{keys[-1]}" if keys else "none yet"
            raise PartitionError(
                f"--partitions {piece!r} selects no existing partition of {definition!r} "
                f"(existing: {shown})."
            )
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def _pieces(text: str, definition: PartitionsDefinition) -> list[str]:
    pieces = [p.strip() for p in text.split(",")] if isinstance(text, str) else [""]
    if not all(pieces):
        example = definition.example if isinstance(definition, MultiPartitions) else None
        raise PartitionError(
            f"--partitions {text!r}: give keys or ranges separated by commas, e.g. "
            f"{example or _example(definition)}."  # type: ignore[arg-type]
        )
    return pieces


def select(definition: PartitionsDefinition, text: str, space: KeySpace) -> list[str]:
    """The existing keys of ``definition`` that ``text`` selects, in order (see the module);
    ``PartitionError`` naming the bad piece and the fix."""
    pieces = _pieces(text, definition)
    if not isinstance(definition, MultiPartitions):
        keys = space.keys(definition)
        return [keys[i] for i in _select_single(definition, [(p, p) for p in pieces], space)]
    by_dim: dict[str, list[tuple[str, str]]] = {}
    for piece in pieces:
        name, eq, value = piece.partition("=")
        if not eq or name not in definition.names or not value:
            dims = ", ".join(definition.names)
            if not eq:
                why = f"name the dimension, e.g. {definition.names[0]}={piece} (one of {dims})"
            elif name not in definition.names:
                why = f"{definition!r} has no dimension {name!r} (its dimensions: {dims})"
            else:
                why = f"give a key or a range after {name}="
            raise PartitionError(f"--partitions {piece!r}: {why}.")
        by_dim.setdefault(name, []).append((value, piece))
    per_dim = []
    for name, d in definition.dims:
        keys = space.keys(d)
        places = _select_single(d, by_dim[name], space) if name in by_dim else range(len(keys))
        per_dim.append([f"{name}={keys[i]}" for i in places])
    return [",".join(combo) for combo in itertools.product(*per_dim)]


# -- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Consecutive keys: the ``first`` and ``last``, how many, and ``text``, which ``select``
    reads back as exactly these keys. ``str(run)``: ``a..b (n partitions)``, or the key."""

    first: str
    last: str
    count: int
    text: str

    def __str__(self) -> str:
        return self.text if self.count == 1 else f"{self.text} ({self.count} partitions)"


def _runs_of(places: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted places grouped into (first, last) runs of consecutive places."""
    out: list[tuple[int, int]] = []
    for p in places:
        if out and p == out[-1][1] + 1:
            out[-1] = (out[-1][0], p)
        elif not out or p != out[-1][1]:
            out.append((p, p))
    return out


def _single_runs(definition: Single, keys: Iterable[str], space: KeySpace) -> list[Run]:
    positions = space.positions(definition)
    known, unknown = set(), []
    for k in keys:
        p = positions.get(k)
        if p is None:
            unknown.append(k)
        else:
            known.add(p)
    existing = space.keys(definition)
    out = []
    for a, b in _runs_of(sorted(known)):
        text = existing[a] if a == b else f"{existing[a]}..{existing[b]}"
        out.append(Run(existing[a], existing[b], b - a + 1, text))
    out += [Run(k, k, 1, k) for k in sorted(set(unknown))]
    return out


def runs(definition: PartitionsDefinition, keys: Iterable[str], space: KeySpace) -> list[Run]:
    """``keys`` (any order; duplicates count once) as runs of consecutive existing keys, in
    order; keys that do not exist (any more) come last, one run each."""
    if not isinstance(definition, MultiPartitions):
        return _single_runs(definition, keys, space)
    names = definition.names
    times = definition.time_dims
    along = names.index(times[0]) if times else len(names) - 1
    groups: dict[tuple[str, ...], list[str]] = {}
    for key in keys:
        values = definition.parts(key)
        fixed = values[:along] + values[along + 1 :]
        groups.setdefault(fixed, []).append(values[along])
    dim_positions = [space.positions(d) for _, d in definition.dims]
    along_def = definition.dims[along][1]
    found: list[tuple[tuple[int, ...], Run]] = []
    for fixed, along_values in groups.items():
        for run in _single_runs(along_def, along_values, space):
            first = [*fixed[:along], run.first, *fixed[along:]]
            last = [*fixed[:along], run.last, *fixed[along:]]
            text = [*fixed[:along], run.text, *fixed[along:]]
            order = tuple(p.get(v, len(p)) for p, v in zip(dim_positions, first, strict=True))
            joined = ",".join(f"{n}={v}" for n, v in zip(names, text, strict=True))
            found.append(
                (order, Run(definition.join(first), definition.join(last), run.count, joined))
            )
    found.sort(key=lambda pair: pair[0])
    return [run for _, run in found]
