"""Partitions (DESIGN §12): definitions, keys, "now", selections of keys and mappings.

A pure model-layer package: definitions are frozen values, keys are strings, and nothing here
reads state or storage. Planning, running and storing partitions build on it.
"""

from __future__ import annotations

from assets_core.partitions.mapping import (
    ALL,
    AllKeys,
    Explicit,
    Keys,
    MappingSpec,
    PartitionMapping,
    Window,
    explicit,
    window,
)
from assets_core.partitions.multi import MultiPartitions, multi
from assets_core.partitions.now import NOW_ENV, resolve_now
from assets_core.partitions.ranges import Run, runs, select
from assets_core.partitions.resolve import mapping_for, mapping_problems
from assets_core.partitions.space import KeySpace, PartitionsDefinition
from assets_core.partitions.static import DynamicPartitions, StaticPartitions, dynamic, static
from assets_core.partitions.time import TimePartitions, daily, hourly, monthly, weekly

__all__ = [
    "ALL",
    "NOW_ENV",
    "AllKeys",
    "DynamicPartitions",
    "Explicit",
    "KeySpace",
    "Keys",
    "MappingSpec",
    "MultiPartitions",
    "PartitionMapping",
    "PartitionsDefinition",
    "Run",
    "StaticPartitions",
    "TimePartitions",
    "Window",
    "daily",
    "dynamic",
    "explicit",
    "hourly",
    "mapping_for",
    "mapping_problems",
    "monthly",
    "multi",
    "resolve_now",
    "runs",
    "select",
    "static",
    "weekly",
    "window",
]
