"""AssetGraph: deterministic order, traversals by shortest distance, cycles as paths."""

from __future__ import annotations

from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey


def K(s: str) -> AssetKey:
    return AssetKey.parse(s)


def graph(edges: dict[str, list[str]]) -> AssetGraph:
    return AssetGraph({K(k): [K(u) for u in ups] for k, ups in edges.items()})


DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d", "a"], "z": []}


def test_toposort_is_deterministic_with_ties_broken_by_key() -> None:
    g = graph(DIAMOND)
    assert [str(k) for k in g.toposorted()] == ["a", "b", "c", "d", "e", "z"]
    assert [str(k) for k in g.toposorted([K("e"), K("b"), K("a")])] == ["a", "b", "e"]


def test_parents_children_sorted_and_unknown_upstreams_left_out() -> None:
    g = graph({"x": ["ghost", "b", "a"], "a": [], "b": []})
    assert g.parents(K("x")) == (K("a"), K("b"))
    assert g.children(K("a")) == (K("x"),)
    assert K("ghost") not in g


def test_reach_uses_shortest_distance() -> None:
    g = graph(DIAMOND)
    assert g.ancestors([K("e")], depth=1) == {K("d"), K("a")}  # a is one hop away via e<-a
    assert g.ancestors([K("e")]) == {K("a"), K("b"), K("c"), K("d")}
    assert g.descendants([K("a")], depth=1) == {K("b"), K("c"), K("e")}
    assert g.descendants([K("z")]) == set()


def test_cycle_is_reported_as_a_stable_closed_path() -> None:
    g = graph({"b": ["a"], "c": ["b"], "a": ["c"], "x": []})
    assert [str(k) for k in g.find_cycle() or []] == ["a", "b", "c", "a"]
    assert graph(DIAMOND).find_cycle() is None


def test_subgraph_keeps_edges_among_kept_keys() -> None:
    g = graph(DIAMOND).subgraph([K("a"), K("b"), K("d")])
    assert g.parents(K("d")) == (K("b"),)
    assert len(g) == 3
