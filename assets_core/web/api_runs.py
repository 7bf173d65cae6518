"""The API's runs section: every run with its steps and logs, live through server-sent
events, and the materialize action that starts one (``launch.py``).

A run's steps are its materialization records (``history --json``'s objects), its lines
those of ``logs --json`` (``assets_core.reports.records``). Live streams poll the state
store, which the running process writes in batches (``execution/recorder.py``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.routing import Route

from assets_core.web.common import (
    SECURITY_HEADERS,
    ApiError,
    UiState,
    check_action,
    endpoint,
    step_dict,
    ui_state,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from assets_core.session import Session
    from assets_core.storage.state import MaterializationRecord, RunRecord

#: runs the runs page lists
RUNS_LISTED = 200
#: how often live streams look at the state store, in seconds
POLL = 0.4
#: a quiet stream still sends a comment this often, in seconds (proxies keep it open)
HEARTBEAT = 15.0
#: a run's newest steps listed (a backfill has thousands; all are counted by outcome)
STEPS_LISTED = 500
#: runs searched for a run's records (a run older than this many others shows no steps)
RUNS_SEARCHED = 10_000


def _text(request: Request, name: str) -> str:
    value = (request.query_params.get(name) or "").strip()
    if not value:
        raise ApiError(f"the {name!r} parameter is required (e.g. ?{name}=...).")
    return value


def _run_entry(run: RunRecord) -> dict[str, Any]:
    from assets_core.reports.records import run_dict

    out = run_dict(run)
    out["duration"] = None if run.ended_at is None else round(run.ended_at - run.started_at, 6)
    return out


def runs(request: Request) -> dict[str, Any]:
    """The newest runs, newest first."""
    ui = ui_state(request)
    with ui.using() as session:
        found = session.state.runs(limit=RUNS_LISTED)
    _note_runs(ui, found)
    return {"runs": [_run_entry(r) for r in found]}


def _note_runs(ui: UiState, found: list[RunRecord]) -> None:
    if ui.launcher is not None:
        ui.launcher.find_runs({r.pid: r.run_id for r in found if r.pid is not None})


def find_run(session: Session, run_id: str) -> tuple[RunRecord, int]:
    """The run ``run_id`` and how many runs started after it; ``ApiError`` 404 when none."""
    for i, run in enumerate(session.state.runs(limit=RUNS_SEARCHED)):
        if run.run_id == run_id:
            return run, i
    raise ApiError(f"no run {run_id!r}; the runs page lists them.", 404)


def run_records(session: Session, run_id: str, newer: int) -> list[MaterializationRecord]:
    """The records of run ``run_id``, in the order they were written; ``newer`` runs started
    after it (the state store lists records by the runs that wrote them, newest first)."""
    found = session.state.history(limit=newer + 8, by_run=True)
    return [r for r in reversed(found) if r.run_id == run_id]


def _snapshot(ui: UiState, run_id: str, listed: int = STEPS_LISTED) -> dict[str, Any]:
    from assets_core.reports.records import line_dict

    with ui.using() as session:
        run, newer = find_run(session, run_id)
        records = run_records(session, run_id, newer)
        lines = session.state.logs(run_id)
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    return {
        "run": _run_entry(run),
        "steps": [step_dict(r) for r in records[max(0, len(records) - listed) :]],
        "steps_total": len(records),
        "outcomes": outcomes,
        "logs": [line_dict(x) for x in lines],
    }


def _listed(request: Request) -> int:
    text = (request.query_params.get("steps") or "").strip()
    if not text:
        return STEPS_LISTED
    if text == "all":
        return sys.maxsize
    if not text.isdigit():
        raise ApiError(f"'steps' must be a number of steps or 'all', not {text!r}.")
    return int(text)


def run(request: Request) -> dict[str, Any]:
    """One run: its record, its newest steps (``?steps=N``, default ``STEPS_LISTED``;
    ``all``), every step counted by outcome, and the lines they said."""
    return _snapshot(ui_state(request), _text(request, "id"), _listed(request))


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def run_events(request: Request) -> StreamingResponse:
    """A run as server-sent events: ``update`` with the steps and new log lines whenever
    they change, then ``end`` once the run has ended."""
    ui = ui_state(request)
    run_id = (request.query_params.get("id") or "").strip()

    async def stream() -> AsyncIterator[str]:
        sent_steps = -1
        seen: set[tuple[str, str | None, int]] = set()
        quiet = 0.0
        while not ui.stopping.is_set() and not await request.is_disconnected():
            try:
                snap = await run_in_threadpool(_snapshot, ui, run_id)
            except ApiError as exc:
                yield _event("error", {"error": str(exc)})
                return
            fresh = [x for x in snap["logs"] if (x["key"], x["partition"], x["seq"]) not in seen]
            seen.update((x["key"], x["partition"], x["seq"]) for x in fresh)
            ended = snap["run"]["status"] != "running"
            if fresh or snap["steps_total"] != sent_steps or ended:
                sent_steps = snap["steps_total"]
                yield _event("update", {**snap, "logs": fresh})
                quiet = 0.0
            if ended:
                yield _event("end", snap["run"])
                return
            await asyncio.sleep(POLL)
            quiet += POLL
            if quiet >= HEARTBEAT:
                yield ": still running\n\n"
                quiet = 0.0

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SECURITY_HEADERS)


def _signature(ui: UiState) -> tuple[Any, ...]:
    with ui.using() as session:
        newest = session.state.runs(limit=5)
        last = session.state.history(limit=1)
    _note_runs(ui, newest)
    rec = last[0] if last else None
    return (
        tuple((r.run_id, r.status, r.ended_at) for r in newest),
        None if rec is None else (rec.run_id, str(rec.key), rec.step[1], rec.ended_at),
    )


async def events(request: Request) -> StreamingResponse:
    """``changed`` whenever a run starts, records a step or ends (the page then asks for
    the statuses again)."""
    ui = ui_state(request)

    async def stream() -> AsyncIterator[str]:
        before = await run_in_threadpool(_signature, ui)
        yield _event("hello", {})
        quiet = 0.0
        while not ui.stopping.is_set() and not await request.is_disconnected():
            await asyncio.sleep(POLL * 2)
            now = await run_in_threadpool(_signature, ui)
            quiet += POLL * 2
            if now != before:
                before = now
                yield _event("changed", {"runs": [r[0] for r in now[0]]})
                quiet = 0.0
            elif quiet >= HEARTBEAT:
                yield ": idle\n\n"
                quiet = 0.0

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SECURITY_HEADERS)


async def _body(request: Request) -> dict[str, Any]:
    try:
        found = await request.json()
    except ValueError:
        raise ApiError('the body must be a JSON object, e.g. {"select": "orders+"}.') from None
    if not isinstance(found, dict):
        raise ApiError('the body must be a JSON object, e.g. {"select": "orders+"}.')
    return found


def _option(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f"{name!r} must be text (the command line's --{name}).")
    return value.strip() or None


def materialize(ui: UiState, body: dict[str, Any]) -> dict[str, Any]:
    """Plan the selection (bad input answers 400 and starts nothing), then start the run."""
    select = _option(body, "select")
    exclude = _option(body, "exclude")
    partitions = _option(body, "partitions")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError("'force' must be true or false.")
    with ui.using() as session:
        plan = session.plan(select, exclude, force, partitions=partitions)
    assert ui.launcher is not None
    launch = ui.launcher.start(select, exclude, partitions, force)
    out = launch.to_dict()
    out["planned"] = sum(1 for s in plan.steps if s.status != "fresh")
    return out


async def _materialize(request: Request) -> dict[str, Any]:
    ui = check_action(request)  # before the body is read: a refused request reads nothing
    return await run_in_threadpool(materialize, ui, await _body(request))


def launch(request: Request) -> dict[str, Any]:
    """A run the UI started: running or finished, its run's id once known, its error."""
    ui = ui_state(request)
    assert ui.launcher is not None
    found = ui.launcher.get(_text(request, "id"))
    if found is None:
        raise ApiError(f"no launch {request.query_params.get('id')!r} in this UI.", 404)
    if found.run_id is None:
        with ui.using() as session:
            _note_runs(ui, session.state.runs(limit=20))
    return found.to_dict()


ROUTES = [
    Route("/api/runs", endpoint(runs)),
    Route("/api/run", endpoint(run)),
    Route("/api/run/events", run_events),
    Route("/api/events", events),
    Route("/api/materialize", endpoint(_materialize), methods=["POST"]),
    Route("/api/launch", endpoint(launch)),
]
