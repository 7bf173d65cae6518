"""``PlanState``: the state a plan reads, kept as one compact row per step, grouped by asset.

A plan of 100 assets of 1,096 partitions reads 109,600 steps' state and finds nearly all of
them fresh by comparing four values per step: the last success's code version, data version,
stored inputs text and output fingerprint. Making a ``MaterializationRecord`` and a
``StepState`` for each would cost more than the comparisons, so a state store hands the plan
its rows as read, and a step's ``StepState`` is made only when something asks for it (a step
that is not fresh, the executor's look at a runnable step's last record).

A row is a tuple that begins with those four values (``CODE``, ``DATA``, ``INPUTS``,
``FINGERPRINT``: each ``None`` when the step has no success; ``INPUTS`` is ``None`` when the
success read nothing), then whatever its store needs to make the step's ``StepState``
(``make(step, row, failure)``, with ``failure`` the row of the step's last attempt when it
failed, else ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
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


class PlanState(Mapping[StepKey, StepState]):
    """Each step's state (a read-only mapping of ``StepState``), kept as rows (see the module):
    ``rows(key)`` holds the rows of one asset's steps by partition (``None``: unpartitioned),
    ``failed(key)`` the partitions whose last attempt failed."""

    __slots__ = ("_failed", "_made", "_make", "_rows")

    def __init__(
        self,
        rows: dict[AssetKey, dict[str | None, Row]],
        failed: dict[AssetKey, dict[str | None, Row]],
        make: Callable[[StepKey, Row, Row | None], StepState],
    ) -> None:
        self._rows, self._failed, self._make = rows, failed, make
        self._made: dict[StepKey, StepState] = {}

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
        """The partitions of each asset with a last success (``None``: unpartitioned)."""
        found = {
            key: [p for p, row in rows.items() if row[0] is not None]
            for key, rows in self._rows.items()
        }
        return {key: parts for key, parts in found.items() if parts}

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
        found = self._made[step] = self._make(step, row, failure)
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


def _kept(step: StepKey, row: Row, failure: Row | None) -> StepState:
    state: StepState = row[-1]
    return state


def plan_state(states: Mapping[StepKey, StepState]) -> PlanState:
    """``states`` as a ``PlanState`` (as it is, when it is one)."""
    return states if isinstance(states, PlanState) else PlanState.of(states)
