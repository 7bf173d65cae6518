"""Each format on the example project and on keys with slashes: the JSON schema (pinned),
Mermaid's structure, DOT rendered by Graphviz, the tree's lines, the page's self-containment."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess

import pytest
from rich.console import Console

from assets_core.lineage import dot, html, jsonfmt, mermaid, tree
from assets_core.lineage.model import Lineage, LineageNode, build_lineage
from tests.assets_core.lineage.conftest import synthetic

#: The documented JSON schema (docs/lineage.md): add fields, never rename or drop one.
NODE_FIELDS = [
    "key",
    "group",
    "kind",
    "tags",
    "owners",
    "io_manager",
    "status",
    "upstream_stale",
    "reasons",
    "description",
    "file",
    "location",
    "last_materialization",
    "schema",
    "selected",
    "layer",
    "partitions",
    "checks",
    "badge",
]
LAST_FIELDS = [
    "run_id",
    "started_at",
    "ended_at",
    "duration",
    "rows",
    "bytes",
    "data_version",
    "code_version",
]


@pytest.fixture(scope="module")
def whole(example) -> Lineage:
    return build_lineage(example)


@pytest.fixture(scope="module")
def slashed() -> Lineage:
    return build_lineage(synthetic(12, groups=3, prefix=True), "g1/a1")


def test_json_schema(whole: Lineage) -> None:
    doc = json.loads(jsonfmt.render(whole))
    assert list(doc) == ["nodes", "edges"]
    assert [list(n) for n in doc["nodes"]] == [NODE_FIELDS] * len(whole.nodes)
    assert {(e["from"], e["to"]) for e in doc["edges"]} == set(whole.edges)
    assert all(list(e) == ["from", "to"] for e in doc["edges"])
    orders = next(n for n in doc["nodes"] if n["key"] == "orders")
    assert list(orders["last_materialization"]) == LAST_FIELDS
    assert orders["last_materialization"]["rows"] > 0
    assert orders["last_materialization"]["ended_at"].endswith("+00:00")
    assert all(n["partitions"] is None for n in doc["nodes"])  # nothing partitioned here
    assert orders["schema"][0] == {"name": "order_id", "type": "int64"}
    assert (orders["status"], orders["io_manager"], orders["kind"]) == ("fresh", "duckdb", "python")
    assert orders["badge"] == "warn"  # the example's unpaid placed orders
    assert [c["result"] for c in orders["checks"]] == ["pass"] * 4 + ["warn"]
    assert orders["checks"][4]["failing_rows"] == 75
    raw = next(n for n in doc["nodes"] if n["key"] == "raw_orders")
    assert (raw["status"], raw["last_materialization"], raw["kind"]) == (None, None, "source")


def test_json_reasons(slashed: Lineage) -> None:
    doc = json.loads(jsonfmt.render(slashed))
    node = next(n for n in doc["nodes"] if n["key"] == "g1/a1")
    assert node["selected"] is True
    assert node["reasons"][0] == {"code": "never_materialized", "message": "never materialized"}


def test_mermaid_structure(whole: Lineage) -> None:
    text = mermaid.render(whole)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    node_lines = [ln.strip() for ln in lines if re.fullmatch(r'\s*n\d+\["[^"]*"\]', ln)]
    assert sorted(re.sub(r'^n\d+\["(.*)"\]$', r"\1", ln) for ln in node_lines) == sorted(
        n.key for n in whole.nodes
    )
    assert sum(1 for ln in lines if re.fullmatch(r"\s*n\d+ --> n\d+", ln)) == len(whole.edges)
    assert [ln.strip() for ln in lines if ln.strip().startswith("subgraph")] == [
        f'subgraph g{i}["{g}"]' for i, g in enumerate(whole.groups)
    ]
    assert whole.groups[:2] == ("sources", "staging")
    assert text.count("\n  end\n") == len(whole.groups)
    assert re.search(r"^  class [n\d,]+ fresh$", text, re.M)
    sources = ",".join(f"n{i}" for i, n in enumerate(whole.nodes) if n.kind == "source")
    assert re.search(rf"^  class {sources} source$", text, re.M)


def test_mermaid_quotes_keys_with_slashes_and_quotes(slashed: Lineage) -> None:
    text = mermaid.render(slashed)
    assert re.search(r'^    n\d+\["g1/a1"\]$', text, re.M)
    assert "class" in text and "selected" in text
    assert mermaid.quote('a"b<c>#') == '"a#quot;b#lt;c#gt;#35;"'


def test_dot_is_valid_graphviz(whole: Lineage, slashed: Lineage) -> None:
    for lin in (whole, slashed):
        text = dot.render(lin)
        assert text.startswith("digraph lineage {\n  rankdir=LR;")
        assert text.count("subgraph cluster_") == len(lin.groups)
        assert text.count(" -> ") == len(lin.edges)
    assert 'label="g1/a1"' in dot.render(slashed)
    assert dot.quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is missing on CI (.ci/run installs graphviz)")
        pytest.skip("Graphviz's dot is not installed")
    for lin in (whole, slashed):
        proc = subprocess.run(
            ["dot", "-Tsvg"], input=dot.render(lin), capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert "<svg" in proc.stdout
        assert proc.stderr == ""
    assert (
        ">orders</text>"
        in subprocess.run(
            ["dot", "-Tsvg"], input=dot.render(whole), capture_output=True, text=True, check=True
        ).stdout
    )


def _text(lin: Lineage, now: float) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, no_color=True)
    for item in tree.render(lin, now=now):
        console.print(item)
    return out.getvalue()


def test_tree_of_a_selected_asset(example) -> None:
    lin = build_lineage(example, "orders")
    last = lin.by_key["orders"].last
    assert last is not None
    lines = _text(lin, now=last.ended_at + 185).splitlines()
    assert lines[0] == "orders  duckdb · fresh · 3m ago"
    assert lines[1].endswith("upstream")
    assert any(ln.endswith("raw_orders  source") for ln in lines)
    assert any(ln.endswith("downstream") for ln in lines)
    assert any("revenue_by_day  parquet · fresh · 3m ago" in ln for ln in lines)


def test_tree_of_the_whole_project_expands_each_key_once(whole: Lineage) -> None:
    text = _text(whole, now=whole.generated_at)
    lines = text.splitlines()
    assert lines[0] == "raw_customers  source"
    # every key is expanded once; later mentions say "(see above)"
    expanded = [ln for ln in lines if "(see above)" not in ln]
    names = [re.sub(r"^[\s│├└─]*", "", ln).split("  ")[0] for ln in expanded]
    assert sorted(names) == sorted(n.key for n in whole.nodes)
    roots = sum(1 for n in whole.nodes if not whole.parents[n.key])
    assert len(lines) == len(whole.edges) + roots  # one line per root and per edge


def test_tree_of_nothing() -> None:
    empty = Lineage(nodes=(), edges=())
    assert tree.render(empty) == ["No assets selected."]


def test_html_is_one_self_contained_page(whole: Lineage) -> None:
    page = html.render(whole)
    assert page.startswith("<!doctype html>")
    assert "<script src" not in page and "<link" not in page
    assert "http://" not in page and "https://" not in page
    data = re.search(r'<script type="application/json" id="lineage-data">(.*?)</script>', page)
    assert data is not None
    doc = json.loads(data.group(1))
    assert len(doc["nodes"]) == len(whole.nodes) and len(doc["edges"]) == len(whole.edges)
    assert {"x", "y"} <= set(doc["nodes"][0])
    assert html.static("page.js") in page and html.static("page.css") in page


def test_html_data_cannot_close_its_script_element() -> None:
    node = LineageNode(key="a", group="g", kind="python", description="</script><!-- & -->")
    page = html.render(Lineage(nodes=(node,), edges=()))
    data = re.search(r'id="lineage-data">(.*?)</script>', page)
    assert data is not None
    assert json.loads(data.group(1))["nodes"][0]["description"] == "</script><!-- & -->"
