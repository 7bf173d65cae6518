"""Each partition's status by the one status rule (``planning.status``), counted and grouped
into runs of consecutive keys: what ``lumbung partitions``, ``list`` and ``show`` print
("340/366 fresh").

A partition is ``fresh``, ``stale``, ``missing`` or ``failed`` as an asset is, or ``waiting``:
its mapped upstream partitions do not exist yet (``upstream_partition_missing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from assets_core.model.keys import AssetKey, StepKey
from assets_core.partitions.ranges import Run, runs
from assets_core.planning.planner import Plan
from assets_core.planning.status import status_of
from assets_core.planning.stepviews import Statuses

__all__ = ["PARTITION_STATUSES", "PartitionCounts", "partition_counts"]

PartitionStatus = Literal["fresh", "stale", "missing", "waiting", "failed"]
#: the statuses, in the order they are listed
PARTITION_STATUSES: tuple[PartitionStatus, ...] = ("fresh", "stale", "missing", "waiting", "failed")


@dataclass(frozen=True)
class PartitionCounts:
    """The partitions of one asset by status: their keys in key order, and runs of them."""

    key: AssetKey
    total: int
    keys: dict[str, list[str]] = field(repr=False)
    runs: dict[str, list[Run]] = field(repr=False)

    def count(self, status: str) -> int:
        return len(self.keys.get(status, ()))

    def __str__(self) -> str:
        """``340/366 fresh``."""
        return f"{self.count('fresh')}/{self.total} fresh"

    def summary(self) -> str:
        """``340 fresh, 20 stale, 6 missing`` (statuses with none left out)."""
        found = [f"{self.count(s)} {s}" for s in PARTITION_STATUSES if self.count(s)]
        return ", ".join(found) or "no partitions"

    def to_dict(self) -> dict[str, object]:
        return {
            "key": str(self.key),
            "partitions": self.total,
            "counts": {s: self.count(s) for s in PARTITION_STATUSES},
            "ranges": {
                s: [{"first": r.first, "last": r.last, "count": r.count} for r in self.runs[s]]
                for s in PARTITION_STATUSES
            },
        }


def partition_counts(
    plan: Plan, key: AssetKey, only: frozenset[str] | None = None
) -> PartitionCounts | None:
    """The partitions of ``key`` that exist in ``plan`` (those in ``only``, when given) by
    status (``None`` when ``key`` is not partitioned, or the plan did not look at it)."""
    definition = plan.partitions.get(key)
    space = plan.space
    if definition is None or space is None:
        return None
    found: dict[str, list[str]] = {s: [] for s in PARTITION_STATUSES}
    statuses = plan.statuses
    new = tuple.__new__
    keys = space.keys(definition)
    if only is not None:
        keys = tuple(p for p in keys if p in only)
    fresh = statuses.fresh(key) if isinstance(statuses, Statuses) else ()
    for p in keys:
        if p in fresh:  # fresh, and never failed since (no step made for it)
            found["fresh"].append(p)
            continue
        step = statuses.get(new(StepKey, (key, p)))
        if step is None:
            continue
        if step.status == "fresh" and not step.failed:
            found["fresh"].append(p)
        elif step.status == "waiting":
            found["waiting"].append(p)
        else:
            found[status_of(step).status].append(p)
    grouped = {s: runs(definition, ks, space) if ks else [] for s, ks in found.items()}
    return PartitionCounts(key, len(keys), found, grouped)
