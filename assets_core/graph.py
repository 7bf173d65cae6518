"""The asset graph: the only module that imports networkx.

Edges point from an upstream key to the key that depends on it. The graph is immutable once
built; every order it returns is deterministic (ties broken by key), so plans, listings and
lineage read the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property

import networkx as nx

from assets_core.keys import AssetKey


class AssetGraph:
    """Keys and their dependency edges, with the traversals selection and planning need."""

    def __init__(self, upstream: Mapping[AssetKey, Iterable[AssetKey]]) -> None:
        """``upstream`` maps each key to its upstream keys; keys it names that are not
        themselves in the mapping are left out (validation reports them)."""
        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(upstream)
        g.add_edges_from((u, k) for k, ups in upstream.items() for u in ups if u in upstream)
        self._g = g

    @property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset(self._g.nodes)

    def __contains__(self, key: object) -> bool:
        return key in self._g

    def __len__(self) -> int:
        return int(self._g.number_of_nodes())

    def parents(self, key: AssetKey) -> list[AssetKey]:
        return sorted(self._g.predecessors(key))

    def children(self, key: AssetKey) -> list[AssetKey]:
        return sorted(self._g.successors(key))

    def find_cycle(self) -> list[AssetKey] | None:
        """One cycle as a closed path ``[a, b, a]``, or ``None``; the same cycle every time."""
        try:
            edges = nx.find_cycle(self._g, source=sorted(self._g.nodes))
        except nx.NetworkXNoCycle:
            return None
        path = [edges[0][0]] + [v for _, v in edges]
        # Rotate so the smallest key starts the path: stable wording across runs.
        body = path[:-1]
        start = body.index(min(body))
        body = body[start:] + body[:start]
        return [*body, body[0]]

    @cached_property
    def _order(self) -> tuple[AssetKey, ...]:
        return tuple(nx.lexicographical_topological_sort(self._g, key=lambda k: k.path))

    @cached_property
    def _position(self) -> dict[AssetKey, int]:
        return {k: i for i, k in enumerate(self._order)}

    def toposorted(self, keys: Iterable[AssetKey] | None = None) -> list[AssetKey]:
        """Keys in dependency order, upstream first, ties broken by key. Needs no cycle."""
        if keys is None:
            return list(self._order)
        pos = self._position
        return sorted(keys, key=pos.__getitem__)

    def ancestors(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """Keys upstream of any of ``keys`` within ``depth`` hops (all when ``None``),
        by shortest distance; the given keys themselves are not included."""
        return self._reach(keys, depth, self._g.predecessors)

    def descendants(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """Keys downstream of any of ``keys`` within ``depth`` hops (all when ``None``)."""
        return self._reach(keys, depth, self._g.successors)

    @staticmethod
    def _reach(keys: Iterable[AssetKey], depth: int | None, step: object) -> set[AssetKey]:
        frontier = set(keys)
        seen = set(frontier)
        found: set[AssetKey] = set()
        hops = 0
        while frontier and (depth is None or hops < depth):
            nxt: set[AssetKey] = set()
            for k in frontier:
                for n in step(k):  # type: ignore[operator]
                    if n not in seen:
                        seen.add(n)
                        nxt.add(n)
            found |= nxt
            frontier = nxt
            hops += 1
        return found

    def subgraph(self, keys: Iterable[AssetKey]) -> AssetGraph:
        """The graph restricted to ``keys`` (edges among them only)."""
        keep = set(keys)
        return AssetGraph({k: [p for p in self._g.predecessors(k) if p in keep] for k in keep})
