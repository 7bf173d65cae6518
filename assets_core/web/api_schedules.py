"""The API's schedules section: each schedule and sensor with its next tick and last outcome
(what ``lumbung schedules --json`` prints, ``automation.listing``), and the ticks recorded,
latest first. ``now`` is the scheduler's (``LUMBUNG_CLOCK`` when set, for tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from assets_core.web.common import ApiError, endpoint, ui_state

if TYPE_CHECKING:
    from starlette.requests import Request

    from assets_core.storage.ticks import TickRecord

#: ticks the page lists
TICKS_LISTED = 200


def _tick_entry(tick: TickRecord) -> dict[str, Any]:
    from assets_core.reports.records import iso_utc, tick_dict

    out = tick_dict(tick)
    out["scheduled_at"] = iso_utc(tick.scheduled_at)
    out["ended_at"] = iso_utc(tick.ended_at)
    out["run_id"] = tick.run_id
    out["detail"] = tick.detail
    return out


def schedules(request: Request) -> dict[str, Any]:
    """Every schedule and sensor (``?name=N``: that one only) and their past ticks."""
    from assets_core.automation.clock import clock_from_env
    from assets_core.automation.listing import past, rows

    name = (request.query_params.get("name") or "").strip() or None
    with ui_state(request).using() as session:
        found = rows(session, clock_from_env().now())
        if name is not None:
            found = [r for r in found if r["name"] == name]
            if not found:
                raise ApiError(
                    f"no schedule or sensor {name!r}; the schedules page lists them.", 404
                )
        ticks = past(session, names=None if name is None else [name], limit=TICKS_LISTED)
    return {"schedules": found, "ticks": [_tick_entry(t) for t in ticks]}


ROUTES = [Route("/api/schedules", endpoint(schedules))]
