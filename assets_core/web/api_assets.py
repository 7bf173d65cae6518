"""The API's assets section: the graph with statuses, a selection, one asset's page (its
definition and code, status with reasons, history), its partitions and a preview.

Every answer is built from the session's bulk paths: one plan of the assets shown
(``lineage.model.build_lineage``), the objects ``lumbung show/history --json`` print
(``assets_core.reports``), and ``Session.partition_counts``; never a query per asset.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from assets_core.model.spec import SqlAsset
from assets_core.web.common import ApiError, answer_bytes, endpoint, step_dict, ui_state

if TYPE_CHECKING:
    from starlette.requests import Request

    from assets_core.model.keys import AssetKey
    from assets_core.model.kinds import AnyAsset
    from assets_core.planning.partstatus import PartitionCounts
    from assets_core.session import Session
    from assets_core.web.common import UiState

#: records of an asset's history its page shows
HISTORY_LIMIT = 50


def _optional(request: Request, name: str) -> str | None:
    return (request.query_params.get(name) or "").strip() or None


def _required(request: Request, name: str) -> str:
    value = _optional(request, name)
    if value is None:
        raise ApiError(f"the {name!r} parameter is required (e.g. ?{name}=orders).")
    return value


def graph(request: Request) -> Any:
    """The lineage page's data (positions, edges, groups, statuses) of the whole project;
    ``?statuses=0`` leaves statuses out (nothing planned: the page draws at once, and asks
    ``/api/status`` for them), and is kept encoded while the project and the state store
    are unchanged (``kept.py``)."""
    from assets_core.lineage.html import page_data
    from assets_core.lineage.model import build_lineage

    ui = ui_state(request)
    if request.query_params.get("statuses", "1") != "0":
        with ui.using() as session:
            return page_data(build_lineage(session))
    return answer_bytes(layout(ui))


def layout(ui: UiState) -> bytes:
    """``/api/graph?statuses=0``'s answer, encoded: the kept one, or made (then kept)."""
    from assets_core.lineage.html import page_data
    from assets_core.lineage.model import build_lineage
    from assets_core.web.common import encoded
    from assets_core.web.kept import LAYOUT

    with ui.using() as session:
        body: bytes = ui.kept.get(
            LAYOUT, session, lambda: encoded(page_data(build_lineage(session, with_status=False)))
        )
    return body


def status(request: Request) -> dict[str, Any]:
    """Each asset's status, reasons and partition counts now (for live updates), read from
    the status plan of every asset (kept while nothing changed: ``kept.py``)."""
    import time

    from assets_core.lineage.jsonfmt import partitions_dict
    from assets_core.lineage.model import PartitionSummary
    from assets_core.model.keys import step_of
    from assets_core.planning.partstatus import PARTITION_STATUSES, partition_counts
    from assets_core.reports.records import iso_utc
    from assets_core.web.kept import status_plan

    ui = ui_state(request)
    with ui.using() as session:
        plan = status_plan(ui.kept, session)
        statuses = session.statuses_in(plan, session.defs.materialized)
        order = session.graph.toposorted(session.defs.assets)
        tokens = {k: d.token() for k, d in session.defs.partitions.items()}
    nodes: dict[str, Any] = {}
    lasts = plan.last
    for k in order:  # sources too (no status), as the graph lists them
        found = statuses.get(k)
        if found is None:
            nodes[str(k)] = {"status": None, "reasons": [], "partitions": None, "ended_at": None}
            continue
        counts = partition_counts(plan, k) if k in tokens else None
        last = lasts.get(step_of(k))
        nodes[str(k)] = {
            "status": found.status,
            "reasons": [{"code": r.code, "message": r.message} for r in found.step.reasons],
            "partitions": None
            if counts is None
            else partitions_dict(
                PartitionSummary(
                    tokens[k],
                    counts.total,
                    tuple((s, counts.count(s)) for s in PARTITION_STATUSES),
                )
            ),
            "ended_at": last.ended_at if last is not None else None,
        }
    return {"nodes": nodes, "generated_at": iso_utc(time.time())}


def select(request: Request) -> dict[str, Any]:
    """The keys a selection (DESIGN §6 grammar) picks, in dependency order."""
    text = _required(request, "select")
    exclude = _optional(request, "exclude")
    with ui_state(request).using() as session:
        found = session.selection(text, exclude)
        order = session.graph.toposorted(found.keys)
    return {"keys": [str(k) for k in order], "warnings": list(found.warnings)}


def code_of(a: AnyAsset) -> dict[str, Any] | None:
    """The code that defines ``a``, with its language: a Python asset's function source, or
    the statement of a kind that holds one as ``sql`` (SQL assets); ``None`` for others."""
    sql = getattr(a, "sql", None)
    if isinstance(sql, str):
        return {"language": "sql", "text": sql}
    fn = getattr(a, "fn", None)
    if fn is None:
        return None
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return {"language": "python", "text": text}


def asset(request: Request) -> dict[str, Any]:
    """One asset, as ``lumbung show --json`` describes it, with its code and history; a SQL
    asset's with its column lineage (``columns``, ``columns_note``: as ``lineage --json``'s
    nodes carry them)."""
    from assets_core.reports.asset import Current, describe, latest_state
    from assets_core.web.kept import kept_status_plan

    key = _required(request, "key")
    ui = ui_state(request)
    with ui.using() as session:
        a = session.get(key)
        now = Current(session, a, known=kept_status_plan(ui.kept, session))
        records = [] if a.observed else session.state.history(a.key, limit=HISTORY_LIMIT)
        state = None if a.observed else latest_state(session, a, now.counts, records)
        data = describe(session, a, state, now)
        if now.counts is not None:  # with every key, from the same plan
            data["partitions"] = matrix(session, now.counts)
        if isinstance(a, SqlAsset):
            data.update(_column_lineage(session, a.key))
    data["code"] = code_of(a)
    data["history"] = [step_dict(r) for r in records]
    return data


def _column_lineage(session: Session, key: AssetKey) -> dict[str, Any]:
    """One SQL asset's column lineage (its SQL ancestors traced too, not the rest)."""
    from assets_core.lineage.jsonfmt import columns_list, columns_note
    from assets_core.lineage.sqlcolumns import sql_columns

    found = sql_columns(session, [key]).get(key)
    return {"columns": columns_list(found), "columns_note": columns_note(found)}


def matrix(session: Session, counts: PartitionCounts) -> dict[str, Any]:
    """The partitions ``counts`` counted, as ``partitions --json`` prints them, with every
    key in order and its status (one letter each: fresh, stale, missing, waiting, failed),
    and the dimensions of a multi-dimensional asset."""
    from assets_core.partitions.multi import MultiPartitions

    definition = session.defs.partitions[counts.key]
    keys = session.key_space().keys(definition)
    letter = {k: s[0] for s, ks in counts.keys.items() for k in ks}
    shown = [k for k in keys if k in letter]
    out = counts.to_dict()
    out["keys"] = shown
    out["status"] = "".join(letter[k] for k in shown)
    out["dimensions"] = (
        [name for name, _ in definition.dims] if isinstance(definition, MultiPartitions) else []
    )
    return out


def partitions(request: Request) -> dict[str, Any]:
    """A partitioned asset's partitions (``matrix``); ``?partitions=`` counts only those."""
    key = _required(request, "key")
    text = _optional(request, "partitions")
    with ui_state(request).using() as session:
        a = session.get(key)
        if a.key not in session.defs.partitions or a.observed:
            raise ApiError(f"{a.key} is not partitioned; its page shows its status.")
        counts = session.partition_counts([a.key], None, text).get(a.key)
        if counts is None:
            raise ApiError(f"{a.key}: its partitions could not be planned.")
        return matrix(session, counts)


def preview(request: Request) -> dict[str, Any]:
    """The first rows of an asset's stored output (of one partition when given), read-only."""
    from assets_core.web.preview import read_preview

    key = _required(request, "key")
    partition = _optional(request, "partition")
    with ui_state(request).using() as session:
        a = session.get(key)
        location = _stored_location(session, a, partition)
        storage = session.storage
    if location is None:
        where = f" partition {partition}" if partition else ""
        raise ApiError(f"{a.key}{where} has no stored output yet; materialize it first.", 404)
    return read_preview(location, storage)


def _stored_location(session: Session, a: AnyAsset, partition: str | None) -> str | None:
    if a.observed:
        raise ApiError(f"{a.key} is a source: previews show stored outputs of assets.")
    found = session.state.latest([a.key])
    best = None
    for step, st in found.items():
        if st.last is None or (partition is not None and step[1] != partition):
            continue
        if best is None or st.last.ended_at > best.ended_at:
            best = st.last
    return best.location if best is not None else None


ROUTES = [
    Route("/api/graph", endpoint(graph)),
    Route("/api/status", endpoint(status)),
    Route("/api/select", endpoint(select)),
    Route("/api/asset", endpoint(asset)),
    Route("/api/asset/partitions", endpoint(partitions)),
    Route("/api/asset/preview", endpoint(preview)),
]
