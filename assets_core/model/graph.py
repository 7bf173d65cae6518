"""The asset graph: the only module that imports networkx.

Edges point from an upstream key to the key that depends on it. The graph is immutable once
built; every order it returns is deterministic (ties broken by key), so plans, listings and
lineage read the same on every run. The traversals planning and selection run on every
command use plain adjacency tuples (fast); networkx serves the rarer graph algorithms.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from assets_core.model.keys import AssetKey

if TYPE_CHECKING:
    import networkx as nx


class AssetGraph:
    """Keys and their dependency edges, with the traversals selection and planning need."""

    def __init__(self, upstream: Mapping[AssetKey, Iterable[AssetKey]]) -> None:
        """``upstream`` maps each key to its upstream keys; keys it names that are not
        themselves in the mapping are left out (validation reports them)."""
        children: dict[AssetKey, list[AssetKey]] = {k: [] for k in upstream}
        parents: dict[AssetKey, tuple[AssetKey, ...]] = {}
        for k, ups in upstream.items():
            known = [u for u in ups if u in children]
            ps = tuple(sorted(set(known))) if len(known) > 1 else tuple(known)
            parents[k] = ps
            for p in ps:
                children[p].append(k)
        self._parents = parents
        self._children = {
            k: tuple(sorted(v)) if len(v) > 1 else tuple(v) for k, v in children.items()
        }

    @cached_property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset(self._parents)

    def __contains__(self, key: object) -> bool:
        return key in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    def parents(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """Direct upstream keys, sorted."""
        return self._parents[key]

    def children(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """Direct downstream keys, sorted."""
        return self._children[key]

    @cached_property
    def _nx(self) -> nx.DiGraph:
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self._parents)
        g.add_edges_from((p, k) for k, ps in self._parents.items() for p in ps)
        return g

    def find_cycle(self) -> list[AssetKey] | None:
        """One cycle as a closed path ``[a, b, a]``, or ``None``; the same cycle every time."""
        if len(self._order) == len(self._parents):
            return None  # a full topological order exists: no cycle
        import networkx as nx

        try:
            edges = nx.find_cycle(self._nx, source=sorted(self._parents))
        except nx.NetworkXNoCycle:  # pragma: no cover - the order above says there is one
            return None
        path = [edges[0][0]] + [v for _, v in edges]
        # Rotate so the smallest key starts the path: stable wording across runs.
        body = path[:-1]
        start = body.index(min(body))
        body = body[start:] + body[:start]
        return [*body, body[0]]

    @cached_property
    def _order(self) -> tuple[AssetKey, ...]:
        """Kahn's algorithm, always taking the smallest ready key; stops short on a cycle."""
        waiting = {k: len(ps) for k, ps in self._parents.items()}
        ready = [k for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        out: list[AssetKey] = []
        children = self._children
        while ready:
            k = heapq.heappop(ready)
            out.append(k)
            for c in children[k]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(ready, c)
        return tuple(out)

    @cached_property
    def _position(self) -> dict[AssetKey, int]:
        return {k: i for i, k in enumerate(self._order)}

    def toposorted(self, keys: Iterable[AssetKey] | None = None) -> list[AssetKey]:
        """Keys in dependency order, upstream first, ties broken by key. Needs no cycle."""
        if keys is None:
            return list(self._order)
        if not isinstance(keys, set | frozenset):
            keys = set(keys)
        if len(keys) == len(self._order) and keys.issuperset(self._order):
            return list(self._order)  # everything: no sort needed
        pos = self._position
        return sorted(keys, key=pos.__getitem__)

    def ancestors(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """Keys upstream of any of ``keys`` within ``depth`` hops (all when ``None``),
        by shortest distance; the given keys themselves are not included."""
        return _reach(keys, depth, self._parents)

    def descendants(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """Keys downstream of any of ``keys`` within ``depth`` hops (all when ``None``)."""
        return _reach(keys, depth, self._children)

    def subgraph(self, keys: Iterable[AssetKey]) -> AssetGraph:
        """The graph restricted to ``keys`` (edges among them only)."""
        keep = set(keys)
        return AssetGraph({k: [p for p in self._parents[k] if p in keep] for k in keep})


def _reach(
    keys: Iterable[AssetKey],
    depth: int | None,
    step: Mapping[AssetKey, tuple[AssetKey, ...]],
) -> set[AssetKey]:
    frontier = list(keys)
    start = set(frontier)
    if len(start) == len(step) and depth is None:
        return set()  # every key is given: nothing lies beyond them
    seen = set(start)
    hops = 0
    while frontier and (depth is None or hops < depth):
        nxt = []
        for k in frontier:
            for n in step[k]:
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        frontier = nxt
        hops += 1
    return seen - start
