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

        if source.spec.partitions is not None:
            return _source_partitions(defs, ctx)
        return load_source(source, defs.root, ctx.expected_type, lambda: ctx.duckdb)
    return io.get(defs.io_manager_name(defs.assets[ctx.key])).load(ctx)


def _source_partitions(defs: Definitions, ctx: InputContext) -> object:
    """Partitions of a partitioned source as one value, like a partitioned asset's
    (``storage.partitioned``): the files of ``ctx.partitions`` (``None``: of every partition
    whose file is there), in key order, each with its dimension columns in front."""
    import pyarrow as pa

    from assets_core.errors import IOManagerError
    from assets_core.partitions.template import fill
    from assets_core.storage.partitioned import combine
    from assets_core.storage.sources import load_source, partition_files, partition_source
    from assets_core.storage.values import convert, target_of

    source = defs.sources[ctx.key]
    definition = source.spec.partitions
    assert definition is not None and source.path is not None
    keys = ctx.partitions
    if keys is None:
        from assets_core.partitions.now import resolve_now
        from assets_core.partitions.space import KeySpace

        every = KeySpace(resolve_now(None)).keys(definition)
        keys = tuple(k for k in every if partition_files(source, defs.root, [k]))
    parts = []
    for key in keys:
        one = partition_source(source, key)
        if not partition_files(source, defs.root, [key]):
            where = fill(source.path, definition, key)
            raise IOManagerError(f"source {ctx.key}[{key}]: no file at {where}; add it first.")
        parts.append((key, load_source(one, defs.root, pa.Table, lambda: ctx.duckdb)))
    table = combine(ctx.key, definition, parts)
    return convert(
        table, ctx.expected_type, ctx.duckdb if target_of(ctx.expected_type) == "duckdb" else None
    )
