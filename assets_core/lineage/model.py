"""The neutral lineage structure every format renders, and how it is read from a project.

``build_lineage`` picks the assets to show (a selection plus N hops up and downstream, or the
whole project), takes their statuses by the one status rule (``assets_core.planning.status``,
one plan of the assets shown), reads their latest materializations in one query, and returns
a frozen ``Lineage``: nodes in dependency order (with their depth layer) and the edges among
them. Keys are plain strings here (``a/b/c``);
the formats never touch the engine.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey, StepKey
    from assets_core.planning.status import AssetStatus
    from assets_core.session import Session
    from assets_core.storage.state import MaterializationRecord, StepState

K = TypeVar("K", bound=Hashable)

#: The statuses a node may have; ``None`` for a source (observed, never materialized).
STATUSES: tuple[str, ...] = ("fresh", "stale", "missing", "failed")


@dataclass(frozen=True, slots=True)
class LastRun:
    """An asset's latest successful materialization, as lineage shows it."""

    run_id: str | None
    started_at: float
    ended_at: float
    duration: float
    rows: int | None
    bytes: int | None
    data_version: str | None
    code_version: str


@dataclass(frozen=True, slots=True)
class PartitionSummary:
    """A partitioned asset's partitions by status (``planning.partstatus``), as lineage shows
    them: its definition's token, how many partitions exist, and how many have each status."""

    definition: str
    total: int
    counts: tuple[tuple[str, int], ...]  # (status, count) for every partition status, in order

    def count(self, status: str) -> int:
        return dict(self.counts).get(status, 0)

    def __str__(self) -> str:
        """``340/366 fresh``."""
        return f"{self.count('fresh')}/{self.total} fresh"


@dataclass(frozen=True, slots=True)
class CheckBadge:
    """One data check of an asset with its last result, as lineage shows it: ``result`` is
    ``pass``, ``fail``, ``warn`` or ``not run``."""

    name: str
    severity: str
    result: str
    failing_rows: int | None = None
    message: str | None = None
    partition: str | None = None


#: the badge of a node: its worst check result first
BADGE_ORDER: tuple[str, ...] = ("fail", "warn", "not run", "pass")


@dataclass(frozen=True, slots=True)
class LineageNode:
    """One asset or source in the lineage view."""

    key: str
    group: str
    kind: str
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    io_manager: str | None = None
    status: str | None = None  # fresh | stale | missing | failed; None for a source
    reasons: tuple[tuple[str, str], ...] = ()  # (code, message)
    description: str | None = None
    file: str | None = None
    location: str | None = None
    last: LastRun | None = None
    schema: tuple[tuple[str, str], ...] = ()  # (column, type)
    selected: bool = False
    upstream_stale: str | None = None  # a fresh asset reading a stale unselected upstream
    layer: int = 0  # longest path from a root of the shown graph
    partitions: PartitionSummary | None = None  # a partitioned asset's; status: its worst
    checks: tuple[CheckBadge, ...] = ()  # its data checks with their last results

    @property
    def badge(self) -> str | None:
        """The worst result among its checks (``None``: it has none)."""
        found = {c.result for c in self.checks}
        return next((r for r in BADGE_ORDER if r in found), None)

    @property
    def name(self) -> str:
        """The last segment of the key."""
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Lineage:
    """Nodes in dependency order (upstream first, ties by key) and the edges among them."""

    nodes: tuple[LineageNode, ...]
    edges: tuple[tuple[str, str], ...]  # (upstream, downstream)
    selected: tuple[str, ...] = ()
    upstream: int | None = None
    downstream: int | None = None
    generated_at: float = field(default_factory=time.time)
    warnings: tuple[str, ...] = ()

    @cached_property
    def by_key(self) -> Mapping[str, LineageNode]:
        return {n.key: n for n in self.nodes}

    @cached_property
    def parents(self) -> Mapping[str, tuple[str, ...]]:
        """Direct upstream keys of each node (sorted)."""
        out: dict[str, list[str]] = {n.key: [] for n in self.nodes}
        for a, b in self.edges:
            out[b].append(a)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    @cached_property
    def children(self) -> Mapping[str, tuple[str, ...]]:
        """Direct downstream keys of each node (sorted)."""
        out: dict[str, list[str]] = {n.key: [] for n in self.nodes}
        for a, b in self.edges:
            out[a].append(b)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """Group names, upstream groups first: by their shallowest layer, then their mean
        layer, then first appearance in dependency order."""
        found: dict[str, list[int]] = {}
        for n in self.nodes:
            found.setdefault(n.group, []).append(n.layer)
        first = {g: i for i, g in enumerate(found)}
        return tuple(
            sorted(found, key=lambda g: (min(found[g]), sum(found[g]) / len(found[g]), first[g]))
        )


def layers(order: Sequence[K], parents: Mapping[K, Iterable[K]]) -> dict[K, int]:
    """Each key's layer: the longest path to it from a key with no parent (``order`` must be
    topological; parents outside ``order`` are ignored)."""
    out: dict[K, int] = {}
    for k in order:
        best = 0
        for p in parents[k]:
            lp = out.get(p)
            if lp is not None and lp + 1 > best:
                best = lp + 1
        out[k] = best
    return out


def shown_keys(
    session: Session,
    selected: frozenset[AssetKey] | None,
    upstream: int | None,
    downstream: int | None,
) -> set[AssetKey]:
    """The selection plus ``upstream``/``downstream`` hops (all when ``None``); the whole
    project when ``selected`` is ``None``."""
    if selected is None:
        return set(session.defs.assets)
    g = session.graph
    out = set(selected)
    if upstream is None or upstream > 0:
        out |= g.ancestors(selected, upstream)
    if downstream is None or downstream > 0:
        out |= g.descendants(selected, downstream)
    return out


def build_lineage(
    session: Session,
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    upstream: int | None = None,
    downstream: int | None = None,
    *,
    with_status: bool = True,
) -> Lineage:
    """The lineage of ``select`` (DESIGN §6 grammar; ``None``: the whole project, less
    ``exclude``) with ``upstream``/``downstream`` hops around it (``None``: all). With
    ``with_status`` false, nothing is planned or read from the state (no statuses, no last runs)."""
    warnings: tuple[str, ...] = ()
    if select is None or (not isinstance(select, str) and not select):
        chosen: frozenset[AssetKey] | None = None
        keys = set(session.select(None, exclude)) if exclude else set(session.defs.assets)
    else:
        found = session.selection(select, exclude)
        warnings = tuple(found.warnings)
        chosen = found.keys
        keys = shown_keys(session, chosen, upstream, downstream)
    return from_session(
        session,
        keys,
        chosen or frozenset(),
        upstream,
        downstream,
        warnings=warnings,
        with_status=with_status,
    )


def from_session(
    session: Session,
    keys: Iterable[AssetKey],
    selected: Iterable[AssetKey] = (),
    upstream: int | None = None,
    downstream: int | None = None,
    warnings: Sequence[str] = (),
    with_status: bool = True,
) -> Lineage:
    """A ``Lineage`` of exactly ``keys``: statuses and reasons from one plan of the assets
    shown (the one status rule; a partitioned asset's partitions counted by status from the
    same plan), the latest materializations from one state query."""
    from assets_core.model.keys import step_of
    from assets_core.planning.partstatus import PARTITION_STATUSES, partition_counts
    from assets_core.planning.status import status_of, status_of_steps

    defs = session.defs
    shown = set(keys)
    chosen = set(selected)
    order = defs.graph.toposorted(shown)
    materialized = [k for k in order if not defs.assets[k].observed]
    statuses: dict[AssetKey, AssetStatus] = {}
    parts: dict[AssetKey, PartitionSummary] = {}
    latest: Mapping[StepKey, StepState] = {}
    if materialized and with_status:
        plan = session.status_plan(materialized)
        for k in materialized:
            if k in defs.partitions:  # as bad as its worst partition, and counted
                statuses[k] = status_of_steps(plan.steps_of(k), k)
                counts = partition_counts(plan, k)
                if counts is not None:
                    parts[k] = PartitionSummary(
                        definition=defs.partitions[k].token(),
                        total=counts.total,
                        counts=tuple((s, counts.count(s)) for s in PARTITION_STATUSES),
                    )
            elif (step := plan.step(k)) is not None:
                statuses[k] = status_of(step)
        latest = session.state.latest(materialized, detail=True)
    parents = {k: [p for p in defs.graph.parents(k) if p in shown] for k in order}
    depth = layers(order, parents)
    badges = _badges(session, order)
    infos = session.infos
    nodes = []
    for k in order:
        a = defs.assets[k]
        info = infos[k]
        found = statuses.get(k)
        st = latest.get(step_of(k))
        last = st.last if st is not None else None
        location = last.location if last is not None else None
        source = defs.sources.get(k)
        if source is not None and source.path is not None:
            location = str(defs.root / source.path)
        nodes.append(
            LineageNode(
                key=str(k),
                group=info.group,
                kind=info.kind,
                tags=tuple(sorted(info.tags)),
                owners=tuple(info.owners),
                io_manager=info.io_manager or None,
                status=found.status if found is not None else None,
                reasons=()
                if found is None
                else tuple((r.code, r.message) for r in found.step.reasons),
                description=a.spec.description,
                file=f"{info.path}:{a.line}",
                location=location,
                last=_last_run(last),
                schema=tuple(last.schema) if last is not None else (),
                selected=k in chosen,
                layer=depth[k],
                upstream_stale=None
                if found is None or found.upstream_stale is None
                else str(found.upstream_stale),
                partitions=parts.get(k),
                checks=badges.get(k, ()),
            )
        )
    edges = tuple((str(p), str(k)) for k in order for p in parents[k])
    return Lineage(
        nodes=tuple(nodes),
        edges=edges,
        selected=tuple(str(k) for k in order if k in chosen),
        upstream=upstream,
        downstream=downstream,
        warnings=tuple(warnings),
    )


def _badges(session: Session, keys: Sequence[AssetKey]) -> dict[AssetKey, tuple[CheckBadge, ...]]:
    """Each shown asset's checks with their last results (one read, none without checks)."""
    from assets_core.execution.checks import last_results, verdict

    return {
        k: tuple(
            CheckBadge(
                c.name,
                c.severity,
                verdict(r),
                r.failing_rows if r is not None else None,
                r.error if r is not None else None,
                r.step.partition if r is not None else None,
            )
            for c, r in results
        )
        for k, results in last_results(session.defs, session.state, keys).items()
    }


def _last_run(rec: MaterializationRecord | None) -> LastRun | None:
    if rec is None:
        return None
    return LastRun(
        run_id=rec.run_id or None,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        duration=rec.duration,
        rows=rec.rows,
        bytes=rec.bytes,
        data_version=rec.data_version,
        code_version=rec.code_version,
    )


def age(then: float | None, now: float | None = None) -> str:
    """How long ago, as people say it: ``just now``, ``42s ago``, ``3m ago``, ``5h ago``,
    ``2d ago``; ``never`` for ``None``."""
    if not then:
        return "never"
    delta = max(0.0, (time.time() if now is None else now) - then)
    if delta < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{int(delta // size)}{unit} ago"
    return f"{int(delta)}s ago"


#: Colours shared by every format: per status, and for sources (status ``None``).
STATUS_COLORS: Mapping[str, str] = {
    "fresh": "#2f9e57",
    "stale": "#d99a00",
    "missing": "#3b82c4",
    "failed": "#d64545",
    "source": "#7d8590",
}


#: Colours of check results (a node's badge, the side panel's list).
CHECK_COLORS: Mapping[str, str] = {
    "pass": "#2f9e57",
    "warn": "#d99a00",
    "fail": "#d64545",
    "not run": "#7d8590",
}


def status_name(node: LineageNode) -> str:
    """The node's status, or ``source`` for a source (the key of ``STATUS_COLORS``)."""
    return node.status or "source"
