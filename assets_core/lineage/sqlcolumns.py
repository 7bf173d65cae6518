"""The column lineage of a project's SQL assets: each statement traced by ``columns`` against
its inputs' columns as far as they are known.

An input's columns are, in order of preference: for a SQL asset, its own output columns as
traced earlier in the same call (so a chain of SQL assets never materialized is traced, and a
changed statement counts before it is run again); those its latest materialization stored
(its schema in the state store); for a source with files, those its reader sees (the one
reader of ``storage.sources``: Parquet metadata, a CSV's header and sniffed types). An input
whose columns stay unknown only matters to a ``select *`` over it (``Columns.unknown``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from assets_core.lineage.columns import ColumnLineage, ColumnLineageError, Columns, column_lineage

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey
    from assets_core.session import Session

__all__ = ["sql_columns"]


def sql_columns(session: Session, keys: Iterable[AssetKey]) -> dict[AssetKey, Columns | str]:
    """Each SQL asset among ``keys``: its column lineage with each input table named by the
    asset key it reads (``marts/orders``), or why it cannot be traced (one line). Other kinds
    are left out."""
    from assets_core.model.keys import step_of
    from assets_core.model.spec import SqlAsset

    defs = session.defs
    wanted = [k for k in keys if isinstance(defs.assets.get(k), SqlAsset)]
    if not wanted:
        return {}
    # every SQL ancestor is traced too (in dependency order), for the columns it outputs
    order = defs.graph.toposorted(set(wanted) | defs.graph.ancestors(frozenset(wanted), None))
    inputs = {up for k in order for up in defs.assets[k].spec.ins.values()}
    stored: dict[AssetKey, tuple[str, ...]] = {}
    for step, state in session.state.latest(inputs, detail=True).items():
        if state.last is not None and state.last.schema and step == step_of(step[0]):
            stored[step[0]] = tuple(c for c, _ in state.last.schema)
    out: dict[AssetKey, Columns | str] = {}
    read: dict[AssetKey, tuple[str, ...]] = {}  # each source's columns, read once
    for k in order:
        a = defs.assets[k]
        if not isinstance(a, SqlAsset) or a.problems:
            continue
        schemas: dict[str, tuple[str, ...]] = {}
        for name, up in a.spec.ins.items():
            # a SQL input's own trace first: its stored columns may be those of an older
            # statement
            cols = _traced(out.get(up)) or stored.get(up)
            if not cols:
                if up not in read:
                    read[up] = _source_columns(session, up)
                cols = read[up]
            if cols:
                schemas[name] = cols
        try:
            out[k] = column_lineage(a.sql, schemas, tuple(a.spec.ins))
        except ColumnLineageError as exc:
            out[k] = f"cannot trace its columns: {exc}"
    return {k: _by_key(out[k], defs.assets[k].spec.ins) for k in wanted if k in out}


def _by_key(found: Columns | str, ins: Mapping[str, AssetKey]) -> Columns | str:
    if isinstance(found, str):
        return found
    named = {t: str(key) for t, key in ins.items()}
    return Columns(
        tuple(
            ColumnLineage(c.column, tuple(sorted((named.get(t, t), col) for t, col in c.sources)))
            for c in found.columns
        ),
        tuple(sorted(named.get(t, t) for t in found.unknown)),
    )


def _traced(found: Columns | str | None) -> tuple[str, ...]:
    if not isinstance(found, Columns) or found.unknown:
        return ()
    return tuple(c.column for c in found.columns)


def _source_columns(session: Session, key: AssetKey) -> tuple[str, ...]:
    """The columns of a source with files, as its reader sees them; ``()`` when it has no
    files, is partitioned, or cannot be read."""
    import duckdb

    from assets_core.errors import LumbungError
    from assets_core.storage.sources import load_source

    src = session.defs.sources.get(key)
    if src is None or src.path is None or src.spec.partitions is not None:
        return ()
    con = duckdb.connect()
    try:
        relation = load_source(src, session.defs.root, duckdb.DuckDBPyRelation, lambda: con)
        return tuple(relation.columns)  # type: ignore[attr-defined]
    except (LumbungError, duckdb.Error, OSError):
        return ()
    finally:
        con.close()
