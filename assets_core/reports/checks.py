"""Data check results as JSON objects: one result (``lumbung check --json``), and an asset's
checks with their last results (``show --json`` and the web UI's asset page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assets_core.model.kinds import AnyAsset
    from assets_core.session import Session
    from assets_core.storage.state import CheckRecord


def record_json(record: CheckRecord) -> dict[str, Any]:
    """A check result as ``--json`` outputs print it."""
    from assets_core.execution.checks import verdict

    return {
        "asset": str(record.step.asset),
        "partition": record.step.partition,
        "check": record.name,
        "severity": record.severity,
        "result": verdict(record),
        "failing_rows": record.failing_rows,
        "message": record.error,
        "sample": list(record.sample),
        "metadata": dict(record.metadata),
        "data_versions": dict(record.data_versions),
        "code_version": record.code_version,
        "run_id": record.run_id,
        "at": record.at,
    }


def checks_of(session: Session, a: AnyAsset) -> list[dict[str, Any]]:
    """Each data check of the asset with its last result (of a partitioned asset: the newest
    among its partitions), ``result`` ``None`` when it never ran."""
    from assets_core.execution.checks import last_results

    out = []
    for c, record in last_results(session.defs, session.state, [a.key]).get(a.key, []):
        if record is None:
            out.append({"check": c.name, "severity": c.severity, "result": None})
        else:
            found = record_json(record)
            del found["asset"]
            out.append(found)
    return out
