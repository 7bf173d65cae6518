"""State records as JSON objects: a materialization record and a run (``history --json``), a
kept log line (``logs --json``), and the one way a moment is written for machines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assets_core.storage.state import LogLine, MaterializationRecord, RunRecord
    from assets_core.storage.ticks import TickRecord


def iso_utc(timestamp: float | None) -> str | None:
    """A moment for machines: ISO 8601 in UTC (``None`` stays ``None``)."""
    if not timestamp:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="milliseconds")


def record_dict(rec: MaterializationRecord) -> dict[str, Any]:
    """A materialization record as ``history --json`` prints it."""
    return {
        "key": str(rec.key),
        "run_id": rec.run_id,
        "outcome": rec.outcome,
        "started_at": iso_utc(rec.started_at),
        "ended_at": iso_utc(rec.ended_at),
        "duration": round(rec.duration, 6),
        "rows": rec.rows,
        "bytes": rec.bytes,
        "location": rec.location,
        "data_version": rec.data_version,
        "code_version": rec.code_version or None,
        "error": rec.error,
    }


def run_dict(run: RunRecord, tick: TickRecord | None = None) -> dict[str, Any]:
    """A run as ``history --json`` prints it (``tick``: the tick that started it)."""
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": iso_utc(run.started_at),
        "ended_at": iso_utc(run.ended_at),
        "selection": run.selection,
        "tick": None if tick is None else tick_dict(tick),
    }


def tick_dict(tick: TickRecord) -> dict[str, Any]:
    """A tick as ``--json`` output shows it."""
    return {"kind": tick.kind, "name": tick.name, "tick": tick.tick, "outcome": tick.outcome}


def line_dict(line: LogLine) -> dict[str, Any]:
    """A kept line as ``logs --json`` prints it."""
    return {
        "key": str(line.step.asset),
        "partition": line.step.partition,
        "seq": line.seq,
        "at": iso_utc(line.at),
        "stream": line.stream,
        "level": line.level,
        "message": line.message,
    }
