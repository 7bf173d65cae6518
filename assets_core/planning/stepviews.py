"""What a plan holds per step, without an object per step: read-only mappings over the state the
planner read and what it decided per asset.

A plan of 100 assets of 1,096 partitions looks at 109,600 steps. Most are fresh, and their
status, last record and data version follow from the state read (a ``PlanState``: rows, each
step's records made when asked) and one set of fresh keys per asset, so the plan keeps those
and makes a step's ``PlanStep`` only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.planstate import PlanState
from assets_core.storage.state import MaterializationRecord

S = TypeVar("S")


class Statuses(Mapping[StepKey, S], Generic[S]):
    """Every planned step's status: ``made`` holds the steps decided one by one, ``fresh`` the
    fresh keys of each asset with what their ``PlanStep.upstream_stale`` is; ``maker`` makes
    a fresh step's ``PlanStep(key, "fresh", (), partition, False, upstream_stale)``."""

    __slots__ = ("_fresh", "_made", "_maker")

    def __init__(
        self,
        made: dict[StepKey, S],
        fresh: dict[AssetKey, tuple[set[str | None], AssetKey | None]],
        maker: Callable[..., S],
    ) -> None:
        self._made, self._fresh, self._maker = made, fresh, maker

    def __getitem__(self, step: StepKey) -> S:
        found = self._made.get(step)
        if found is not None:
            return found
        entry = self._fresh.get(step[0])
        if entry is not None and step[1] in entry[0]:
            return self._maker(step[0], "fresh", (), step[1], False, entry[1])
        raise KeyError(step)

    def fresh(self, key: AssetKey) -> set[str | None]:
        """The partitions of ``key`` that are fresh without a step of their own (read-only)."""
        entry = self._fresh.get(key)
        return _NO_PARTS if entry is None else entry[0]

    def __contains__(self, step: object) -> bool:
        if step in self._made:
            return True
        if not isinstance(step, tuple) or len(step) != 2:
            return False
        entry = self._fresh.get(step[0])
        return entry is not None and step[1] in entry[0]

    def __iter__(self) -> Iterator[StepKey]:
        yield from self._made
        for key, (parts, _) in self._fresh.items():
            for p in parts:
                yield StepKey(key, p)

    def __len__(self) -> int:
        return len(self._made) + sum(len(parts) for parts, _ in self._fresh.values())


class Lasts(Mapping[StepKey, MaterializationRecord]):
    """Each step's last successful record, read from the state the plan was made from."""

    __slots__ = ("_state",)

    def __init__(self, state: PlanState) -> None:
        self._state = state

    def __getitem__(self, step: StepKey) -> MaterializationRecord:
        st = self._state.get(step)
        if st is None or st.last is None:
            raise KeyError(step)
        return st.last  # type: ignore[no-any-return]

    def __contains__(self, step: object) -> bool:
        return self._state.version(step, _ABSENT) is not _ABSENT  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[StepKey]:
        return iter(self._state.succeeded())

    def __len__(self) -> int:
        return len(self._state.succeeded())


class Versions(Mapping[StepKey, "str | None"]):
    """Each step's current data version: its last success's, unless the planner set another
    (a source's observed version, an output changed by hand). A step with no success and none
    set reads ``None`` through ``get``."""

    __slots__ = ("_set", "_state")

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._set: dict[StepKey, str | None] = {}

    def __setitem__(self, step: StepKey, version: str | None) -> None:
        self._set[step] = version

    def __getitem__(self, step: StepKey) -> str | None:
        found = self._set.get(step, _ABSENT)
        if found is _ABSENT:
            found = self._state.version(step, _ABSENT)
            if found is _ABSENT:
                raise KeyError(step)
        return found  # type: ignore[no-any-return]

    def get(self, step: StepKey, default: str | None = None) -> str | None:  # type: ignore[override]
        found = self._set.get(step, _ABSENT)
        if found is _ABSENT:
            return self._state.version(step, default)  # type: ignore[no-any-return]
        return found  # type: ignore[no-any-return]

    def __contains__(self, step: object) -> bool:
        if step in self._set:
            return True
        return self._state.version(step, _ABSENT) is not _ABSENT  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[StepKey]:
        yield from self._set
        for s in self._state.succeeded():
            if s not in self._set:
                yield s

    def __len__(self) -> int:
        return sum(1 for _ in self)


_NO_PARTS: set[str | None] = set()
#: a value no step has: what a lookup that found nothing returns
_ABSENT: Any = object()
