"""``lumbung lineage``: every format through the command line on the materialized example,
hops, -s with positional terms, --exclude, -o with a format from the suffix, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import Result, run_many


@pytest.fixture(scope="module")
def r(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    out = tmp_path_factory.mktemp("lineage_out")
    return run_many(
        {
            "tree": (["lineage", "orders"], built),
            "tree_all": (["lineage"], built),
            "all_json": (["lineage", "--format", "json"], built),
            "json": (["lineage", "orders", "--format", "json"], built),
            "hops": (
                ["lineage", "orders", "--upstream", "1", "--downstream", "0", "-f", "json"],
                built,
            ),
            "select": (
                [
                    "lineage",
                    "-s",
                    "stg_orders",
                    "revenue_by_day",
                    "--upstream",
                    "0",
                    "--downstream",
                    "0",
                    "-f",
                    "json",
                ],
                built,
            ),
            "exclude": (["lineage", "--exclude", "group:sources", "-f", "json"], built),
            "mermaid": (["lineage", "orders", "-f", "mermaid"], built),
            "dot": (["lineage", "-f", "dot"], built),
            "html": (["lineage", "-o", str(out / "page.html")], built),
            "tree_file": (["lineage", "orders", "-o", str(out / "tree.txt")], built),
            "unknown": (["lineage", "ordrs"], built),
            "bad_format": (["lineage", "-f", "png"], built),
            "glob": (["lineage", "nothing_*", "-f", "json"], built),
        }
    )


def _keys(res: Result) -> list[str]:
    assert res.code == 0, res.err
    return [n["key"] for n in json.loads(res.out)["nodes"]]


def test_tree(r: dict[str, Result]) -> None:
    res = r["tree"]
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("orders  duckdb · fresh · ")
    assert lines[0].endswith(" ago")
    assert "upstream" in lines[1]
    assert any("stg_payments  parquet · fresh" in ln for ln in lines)
    assert r["tree_all"].out.splitlines()[0] == "raw_customers  source"


def _reach(edges: list[tuple[str, str]], key: str, up: bool) -> set[str]:
    step: dict[str, set[str]] = {}
    for a, b in edges:
        src, dst = (b, a) if up else (a, b)
        step.setdefault(src, set()).add(dst)
    seen: set[str] = set()
    todo = [key]
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_json_and_hops(r: dict[str, Result]) -> None:
    whole = json.loads(r["all_json"].out)
    edges = [(e["from"], e["to"]) for e in whole["edges"]]
    up, down = _reach(edges, "orders", True), _reach(edges, "orders", False)
    assert set(_keys(r["json"])) == up | down | {"orders"}
    assert set(_keys(r["hops"])) == {a for a, b in edges if b == "orders"} | {"orders"}
    assert _keys(r["select"]) == ["stg_orders", "revenue_by_day"]
    sources = {n["key"] for n in whole["nodes"] if n["kind"] == "source"}
    assert set(_keys(r["exclude"])) == {n["key"] for n in whole["nodes"]} - sources


def test_mermaid_and_dot(r: dict[str, Result]) -> None:
    assert r["mermaid"].code == 0 and r["mermaid"].out.startswith("flowchart LR\n")
    assert r["dot"].code == 0 and r["dot"].out.startswith("digraph lineage {")


def test_output_files_take_their_format_from_the_suffix(
    r: dict[str, Result], tmp_path_factory
) -> None:
    res = r["html"]
    assert res.code == 0, res.err
    assert res.out == ""
    assert res.err.startswith("wrote ") and res.err.rstrip().endswith(" assets)")
    page = Path(res.err.split()[1]).read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    tree_file = Path(r["tree_file"].err.split()[1])
    assert tree_file.read_text(encoding="utf-8").startswith("orders  duckdb · fresh")


def test_errors_and_warnings(r: dict[str, Result]) -> None:
    assert r["unknown"].code == 2
    assert r["unknown"].err_lines[0].startswith("error: ")
    assert "orders" in r["unknown"].err
    assert r["bad_format"].code == 2
    assert r["glob"].code == 0
    assert r["glob"].err_lines[0].startswith("warning: ")
    assert json.loads(r["glob"].out) == {"nodes": [], "edges": []}
