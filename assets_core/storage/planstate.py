"""``PlanState``: the state a plan reads, kept as one compact row per step, grouped by asset.

A plan of 100 assets of 1,096 partitions reads 109,600 steps' state and finds nearly all of
them fresh by comparing four values per step: the last success's code version, data version,
stored inputs text and output fingerprint. Making a ``MaterializationRecord`` and a
``StepState`` for each would cost more than the comparisons, so a state store hands the plan
its rows as read, and a step's ``StepState`` is made only when something asks for it (a step
that is not fresh, the executor's look at a runnable step's last record).

A row is a tuple that begins with those four values (``CODE``, ``DATA``, ``INPUTS``,
``FINGERPRINT``: each ``None`` when the step has no success; ``INPUTS`` is ``None`` when the
success read nothing), then whatever else its store puts in every row: what finds the step,
and what a plan's every step shows (SQLite's: the last success's times, which a status shows).
The rest of a step's state (its last outcome and attempt time, its last success's code
components and location) is read only for the steps asked for, by ``read_details(steps)``,
which the one who holds the store open calls (the planner, for the steps that are not fresh
and what its runnable steps read): a ``PlanState`` never reads its store by itself, so it
stays whole after the store is closed. A step's ``StepState`` is made by
``make(step, row, detail, failure)``: ``detail`` its row of those (``None`` when they were not
read: its record then has no code components, location or outcome), ``failure`` the row of its
last attempt when that failed, else ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.state import EncodedInputs, StepState

__all__ = [
    "CODE",
    "DATA",
    "FINGERPRINT",
    "INPUTS",
    "PlanState",
    "Row",
    "StoredOutputs",
    "plan_state",
    "stored_outputs",
]

CODE, DATA, INPUTS, FINGERPRINT = 0, 1, 2, 3
Row = tuple[Any, ...]
#: inputs that were not stored as text (a record made in this process): never equal to any
#: text a planner builds, so the planner compares them as mappings
_NOT_TEXT = object()
_NONE: Mapping[Any, Any] = {}
#: an asset of which more than one step in this many is asked is read whole
_WHOLE = 8


class PlanState(Mapping[StepKey, StepState]):
    """Each step's state (a read-only mapping of ``StepState``), kept as rows (see the module):
    ``rows(key)`` holds the rows of one asset's steps by partition (``None``: unpartitioned),
    ``failed(key)`` the partitions whose last attempt failed. ``read(assets, steps)``: how the
    store reads the rest of the state of every step of ``assets`` and of ``steps`` (``None``:
    every row holds it)."""

    __slots__ = ("_details", "_failed", "_made", "_make", "_read", "_rows")

    def __init__(
        self,
        rows: dict[AssetKey, dict[str | None, Row]],
        failed: dict[AssetKey, dict[str | None, Row]],
        make: Callable[[StepKey, Row, Row | None, Row | None], StepState],
        read: Callable[[Sequence[AssetKey], Sequence[StepKey]], list[Row]] | None = None,
    ) -> None:
        self._rows, self._failed, self._make, self._read = rows, failed, make, read
        self._made: dict[StepKey, StepState] = {}
        self._details: dict[AssetKey, dict[str | None, Row]] = {}

    def read_details(self, steps: Iterable[StepKey]) -> None:
        """Read the rest of the state of those of ``steps`` that have rows, while the store
        is open (see the module); each later ``StepState`` of them is whole. Steps read
        before are not read again. One query (two): an asset of which many steps are asked is
        read whole."""
        if self._read is None:
            return
        rows, details = self._rows, self._details
        by_asset: dict[AssetKey, list[StepKey]] = {}
        for s in steps:
            if s[1] in rows.get(s[0], _NONE) and s[1] not in details.get(s[0], _NONE):
                by_asset.setdefault(s[0], []).append(s)
        if not by_asset:
            return
        whole: list[AssetKey] = []
        one_by_one: list[StepKey] = []
        for k, asked in by_asset.items():
            if len(asked) * _WHOLE > len(rows[k]):
                whole.append(k)
            else:
                one_by_one += asked
        by_name = {"/".join(k): k for k in by_asset}
        for row in self._read(whole, one_by_one):
            key = by_name.get(row[0])
            if key is not None:
                details.setdefault(key, {})[row[1] or None] = row
        for asked in by_asset.values():
            for s in asked:
                self._made.pop(s, None)

    @classmethod
    def of(cls, states: Mapping[StepKey, StepState]) -> PlanState:
        """The rows of ``StepState`` objects (a store that keeps objects, a test)."""
        rows: dict[AssetKey, dict[str | None, Row]] = {}
        failed: dict[AssetKey, dict[str | None, Row]] = {}
        for step, st in states.items():
            last = st.last
            if last is None:
                row: Row = (None, None, None, None, st)
            else:
                inputs = last.inputs
                text: object = inputs.text if type(inputs) is EncodedInputs else _NOT_TEXT
                row = (last.code_version, last.data_version, text if inputs else None)
                row += (last.fingerprint, st)
            rows.setdefault(step[0], {})[step[1]] = row
            if st.failure is not None:
                failed.setdefault(step[0], {})[step[1]] = row
        return cls(rows, failed, _kept)

    def rows(self, key: AssetKey) -> Mapping[str | None, Row]:
        return self._rows.get(key, _NONE)

    def failed(self, key: AssetKey) -> Collection[str | None]:
        return self._failed.get(key, _NONE).keys()

    def succeeded(self) -> list[StepKey]:
        """Every step with a last success, asset by asset."""
        new = tuple.__new__
        return [
            new(StepKey, (key, p))
            for key, rows in self._rows.items()
            for p, row in rows.items()
            if row[0] is not None
        ]

    def succeeded_by_asset(self) -> dict[AssetKey, list[str | None]]:
        """The partitions of each asset with a last success (``None``: unpartitioned). One
        loop, not a comprehension per asset: making one costs more than an asset's one row."""
        out: dict[AssetKey, list[str | None]] = {}
        for key, rows in self._rows.items():
            parts = []
            for p, row in rows.items():
                if row[CODE] is not None:
                    parts.append(p)
            if parts:
                out[key] = parts
        return out

    def version(self, step: StepKey, default: Any = None) -> Any:
        """The data version of ``step``'s last success (``default`` when it has none)."""
        row = self._rows.get(step[0], _NONE).get(step[1])
        if row is None or row[0] is None:
            return default
        return row[1]

    def __getitem__(self, step: StepKey) -> StepState:
        found: StepState | None = self.get(step)
        if found is None:
            raise KeyError(step)
        return found

    def get(self, step: StepKey, default: Any = None) -> Any:
        found = self._made.get(step)
        if found is not None:
            return found
        row = self._rows.get(step[0], _NONE).get(step[1])
        if row is None:
            return default
        failure = self._failed.get(step[0], _NONE).get(step[1])
        detail = self._details.get(step[0], _NONE).get(step[1])
        found = self._made[step] = self._make(step, row, detail, failure)
        return found

    def __contains__(self, step: object) -> bool:
        if not isinstance(step, tuple) or len(step) != 2:
            return False
        return step[1] in self._rows.get(step[0], _NONE)

    def __iter__(self) -> Iterator[StepKey]:
        new = tuple.__new__
        for key, rows in self._rows.items():
            for p in rows:
                yield new(StepKey, (key, p))

    def __len__(self) -> int:
        return sum(map(len, self._rows.values()))


class StoredOutputs(Mapping[StepKey, str]):
    """The recorded outputs found stored, each with its fingerprint as it is now (``""``:
    unknown): a read-only mapping of steps, kept by asset as IO managers answer
    (``storage.io.fingerprints``), so that a plan looks up an asset's partitions by key
    (``of(key)``) without making a ``StepKey`` for each."""

    __slots__ = ("_by_asset",)

    def __init__(self, by_asset: Mapping[AssetKey, Mapping[str | None, str]]) -> None:
        self._by_asset = by_asset

    def of(self, key: AssetKey) -> Mapping[str | None, str]:
        """The stored partitions of ``key`` (``None``: unpartitioned), each's fingerprint."""
        return self._by_asset.get(key, _NONE)

    def __getitem__(self, step: StepKey) -> str:
        found: str = self._by_asset.get(step[0], _NONE)[step[1]]
        return found

    def get(self, step: StepKey, default: Any = None) -> Any:
        return self._by_asset.get(step[0], _NONE).get(step[1], default)

    def __contains__(self, step: object) -> bool:
        if not isinstance(step, tuple) or len(step) != 2:
            return False
        return step[1] in self._by_asset.get(step[0], _NONE)

    def __iter__(self) -> Iterator[StepKey]:
        new = tuple.__new__
        for key, found in self._by_asset.items():
            for p in found:
                yield new(StepKey, (key, p))

    def __len__(self) -> int:
        return sum(map(len, self._by_asset.values()))


def stored_outputs(stored: Mapping[StepKey, str]) -> StoredOutputs:
    """``stored`` as ``StoredOutputs`` (as it is, when it is one)."""
    if isinstance(stored, StoredOutputs):
        return stored
    by_asset: dict[AssetKey, dict[str | None, str]] = {}
    for step, fingerprint in stored.items():
        by_asset.setdefault(step[0], {})[step[1]] = fingerprint
    return StoredOutputs(by_asset)


def _kept(step: StepKey, row: Row, detail: Row | None, failure: Row | None) -> StepState:
    state: StepState = row[-1]
    return state


def plan_state(states: Mapping[StepKey, StepState]) -> PlanState:
    """``states`` as a ``PlanState`` (as it is, when it is one)."""
    return states if isinstance(states, PlanState) else PlanState.of(states)
