"""Reading an asset's data for a consumer: a source where it lies (a partitioned source: the
files of the partitions ``InputContext.partitions`` names, see ``partitioned_sources``),
anything else through its IO manager. ``Session.load`` and every step's inputs go through
``load_input``."""

from __future__ import annotations

from assets_core.model.definitions import Definitions
from assets_core.storage.io import InputContext
from assets_core.storage.registry import IOManagers

__all__ = ["load_input"]


def load_input(defs: Definitions, io: IOManagers, ctx: InputContext) -> object:
    """The data of ``ctx.key`` as ``ctx.expected_type`` asks (see ``InputContext``)."""
    source = defs.sources.get(ctx.key)
    if source is not None and source.spec.partitions is not None:
        from assets_core.storage.partitioned_sources import load_partitioned_source

        return load_partitioned_source(
            source, defs.root, ctx.expected_type, lambda: ctx.duckdb, ctx.partitions
        )
    if source is not None:
        from assets_core.storage.sources import load_source

        return load_source(source, defs.root, ctx.expected_type, lambda: ctx.duckdb)
    return io.get(defs.io_manager_name(defs.assets[ctx.key])).load(ctx)
