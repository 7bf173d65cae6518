"""The lineage model: which assets are shown, their status, reasons, last runs and layers;
ages; and the page layout."""

from __future__ import annotations

import pytest

from assets_core import AssetKey, Session, StepKey
from assets_core.lineage.layout import NODE_H, NODE_W, layout
from assets_core.lineage.model import age, build_lineage
from tests.assets_core.lineage.conftest import synthetic


def _reach(defs: Session, key: str, up: bool) -> set[str]:
    k = AssetKey.parse(key)
    found = defs.graph.ancestors({k}) if up else defs.graph.descendants({k})
    return {str(x) for x in found}


def test_the_whole_project_with_layers_and_edges(example: Session) -> None:
    lin = build_lineage(example)
    assert [n.key for n in lin.nodes] == [str(k) for k in example.graph.toposorted()]
    assert lin.selected == ()
    assert set(lin.edges) == {
        (str(p), str(k)) for k in example.graph.keys for p in example.graph.parents(k)
    }
    layer = {n.key: n.layer for n in lin.nodes}
    for n in lin.nodes:  # the longest path from a root
        ups = [layer[p] for p in lin.parents[n.key]]
        assert n.layer == (max(ups) + 1 if ups else 0)
    assert layer["raw_orders"] == 0 and layer["stg_orders"] == 1
    assert layer["customers"] > layer["orders"]


def test_nodes_carry_status_io_manager_last_run_and_schema(example: Session) -> None:
    lin = build_lineage(example, "orders")
    orders = lin.by_key["orders"]
    assert orders.selected and lin.selected == ("orders",)
    info = example.infos[AssetKey.parse("orders")]
    assert (orders.status, orders.io_manager, orders.group) == ("fresh", "duckdb", info.group)
    assert orders.owners == tuple(info.owners)
    assert orders.reasons == ()
    key = AssetKey.parse("orders")
    rec = example.state.latest([key])[StepKey(key)].last
    assert rec is not None and orders.last is not None
    assert orders.last.rows == rec.rows and orders.last.rows
    assert orders.schema == tuple(rec.schema) and "order_id" in dict(orders.schema)
    assert orders.location and "warehouse.duckdb" in orders.location
    raw = lin.by_key["raw_orders"]
    assert (raw.kind, raw.status, raw.last) == ("source", None, None)
    assert raw.location is not None and raw.location.endswith("data/raw_orders.csv")


def test_hops_limit_what_is_shown(example: Session) -> None:
    def keys(**kw: int) -> set[str]:
        return {n.key for n in build_lineage(example, "orders", **kw).nodes}

    up, down = _reach(example, "orders", True), _reach(example, "orders", False)
    parents = {str(k) for k in example.graph.parents(AssetKey.parse("orders"))}
    assert keys() == up | down | {"orders"}
    assert keys(upstream=1, downstream=0) == parents | {"orders"}
    assert keys(upstream=0, downstream=0) == {"orders"}
    assert keys(upstream=0) == down | {"orders"}


def test_exclude_without_a_selection_leaves_the_rest_of_the_project(
    example: Session,
) -> None:
    lin = build_lineage(example, None, "group:sources")
    assert {n.key for n in lin.nodes} == {
        str(k) for k, a in example.defs.assets.items() if a.spec.group != "sources"
    }
    assert ("stg_orders", "orders") in lin.edges
    assert lin.by_key["stg_orders"].layer == 0


def test_missing_assets_carry_their_reasons() -> None:
    lin = build_lineage(synthetic(5))
    assert {n.status for n in lin.nodes} == {"missing"}
    assert lin.nodes[0].reasons == (("never_materialized", "never materialized"),)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0.2, "just now"),
        (42, "42s ago"),
        (185, "3m ago"),
        (3 * 3600 + 5, "3h ago"),
        (2 * 86400 + 10, "2d ago"),
    ],
)
def test_age(delta: float, text: str) -> None:
    assert age(1_000_000.0, now=1_000_000.0 + delta) == text


def test_age_of_nothing_is_never() -> None:
    assert age(None) == "never"


def test_layout_columns_follow_layers_and_no_boxes_overlap() -> None:
    lin = build_lineage(synthetic(300, groups=3, prefix=True))
    placed = layout(lin)
    xs = {n.layer: placed.positions[n.key][0] for n in lin.nodes}
    assert [xs[i] for i in sorted(xs)] == sorted(xs.values())
    seen = set()
    for n in lin.nodes:
        x, y = placed.positions[n.key]
        assert (x, y) not in seen
        seen.add((x, y))
        band = next(b for b in placed.bands if b.group == n.group)
        assert band.y0 <= y and y + NODE_H <= band.y1
        assert x + NODE_W <= placed.width
    for a, b in lin.edges:
        assert placed.positions[a][0] < placed.positions[b][0]
