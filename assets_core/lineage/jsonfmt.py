"""The ``json`` format: ``{"nodes": [...], "edges": [{"from": ..., "to": ...}]}``.

The schema is documented in docs/lineage.md and pinned by tests; add fields, never rename.
Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from assets_core.lineage.model import LastRun, Lineage, LineageNode, PartitionSummary

#: The fields of every node object, in order.
NODE_FIELDS: tuple[str, ...] = (
    "key",
    "group",
    "kind",
    "tags",
    "owners",
    "io_manager",
    "status",
    "upstream_stale",
    "reasons",
    "description",
    "file",
    "location",
    "last_materialization",
    "schema",
    "selected",
    "layer",
    "partitions",
    "checks",
    "badge",
)
#: The fields of ``last_materialization`` when it is not null.
LAST_FIELDS: tuple[str, ...] = (
    "run_id",
    "started_at",
    "ended_at",
    "duration",
    "rows",
    "bytes",
    "data_version",
    "code_version",
)


def iso(ts: float | None) -> str | None:
    """A moment as ISO 8601 in UTC, to the millisecond."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


def last_dict(last: LastRun | None) -> dict[str, Any] | None:
    """``last_materialization`` of a node."""
    if last is None:
        return None
    return {
        "run_id": last.run_id,
        "started_at": iso(last.started_at),
        "ended_at": iso(last.ended_at),
        "duration": round(last.duration, 6),
        "rows": last.rows,
        "bytes": last.bytes,
        "data_version": last.data_version,
        "code_version": last.code_version,
    }


def partitions_dict(p: PartitionSummary | None) -> dict[str, Any] | None:
    """``partitions`` of a node: null for an unpartitioned asset or a source."""
    if p is None:
        return None
    return {"definition": p.definition, "total": p.total, **dict(p.counts)}


def node_dict(n: LineageNode) -> dict[str, Any]:
    """One node as its JSON object."""
    return {
        "key": n.key,
        "group": n.group,
        "kind": n.kind,
        "tags": list(n.tags),
        "owners": list(n.owners),
        "io_manager": n.io_manager,
        "status": n.status,
        "upstream_stale": n.upstream_stale,
        "reasons": [{"code": c, "message": m} for c, m in n.reasons],
        "description": n.description,
        "file": n.file,
        "location": n.location,
        "last_materialization": last_dict(n.last),
        "schema": [{"name": c, "type": t} for c, t in n.schema],
        "selected": n.selected,
        "layer": n.layer,
        "partitions": partitions_dict(n.partitions),
        "checks": [
            {
                "check": c.name,
                "severity": c.severity,
                "result": c.result,
                "failing_rows": c.failing_rows,
                "message": c.message,
                "partition": c.partition,
            }
            for c in n.checks
        ],
        "badge": n.badge,
    }


def to_data(lineage: Lineage) -> dict[str, Any]:
    """The whole document as plain data."""
    return {
        "nodes": [node_dict(n) for n in lineage.nodes],
        "edges": [{"from": a, "to": b} for a, b in lineage.edges],
    }


def render(lineage: Lineage) -> str:
    """The document as indented JSON text, ending with a newline."""
    import json

    return json.dumps(to_data(lineage), indent=2) + "\n"
