"""The import rule of DESIGN §2: each layer imports only from the layers below it, and no
module imports another that (through any chain) imports it back.

Every import counts: at module level, inside functions, and under ``TYPE_CHECKING`` (a type
that needs an upward import is a design smell too). Run ``pytest tests/test_layers.py -q``
to see the layer of every module that breaks the rule and every cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assets_core", "io_managers")

#: (module prefix, floor): a module imports only modules on its own floor or below. The most
#: specific prefix wins. ``assets_core`` itself (the public face, whose imports are lazy) and
#: ``io_managers`` (implementations of the storage protocols) sit where they are used.
FLOORS: tuple[tuple[str, int], ...] = (
    ("assets_core.errors", 0),
    ("assets_core.lazymap", 0),
    ("assets_core.model", 1),
    ("assets_core.partitions", 1),
    ("assets_core.code_version", 2),
    ("assets_core.storage", 3),
    ("io_managers", 4),
    ("assets_core.planning", 5),
    ("assets_core.execution", 6),
    ("assets_core.session", 7),
    ("assets_core.lineage", 8),
    ("assets_core.reports", 8),
    ("assets_core.automation", 9),
    ("assets_core.web", 10),
    ("assets_core.dbt", 10),
    ("assets_core.cli", 11),
    ("assets_core", 12),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for package in PACKAGES
    for p in sorted((ROOT / package).rglob("*.py"))
    if "__pycache__" not in p.parts
}


def floor(module: str) -> int:
    best = max(
        (prefix for prefix, _ in FLOORS if module == prefix or module.startswith(prefix + ".")),
        key=len,
    )
    return dict(FLOORS)[best]


def imported(module: str) -> set[str]:
    """The project modules ``module`` imports anywhere in its source, resolved to the most
    specific module that exists (``from a.b import c`` is ``a.b.c`` when that is a module)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: imported(m) for m in MODULES}


def _faces(module: str) -> set[str]:
    """The packages above ``module``: importing ``a.b.c`` runs ``a/__init__`` and
    ``a/b/__init__`` too, which is no import of theirs by ``module``."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module: str) -> None:
    mine = floor(module)
    upward = sorted(
        f"{other} (floor {floor(other)})"
        for other in GRAPH[module] - _faces(module)
        if floor(other) > mine and other != "assets_core"
    )
    assert not upward, f"{module} (floor {mine}) imports a layer above it: {upward}"


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over every import (package faces that only
    re-export their own modules are followed like any module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v] - _faces(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == [], f"{len(cycles)} import cycles: {cycles}"


def test_the_engine_never_imports_io_managers() -> None:
    """The engine knows IO managers only through the protocol and the registry (its table of
    built-in factories by name, and the entry points of other distributions); only the
    command line may name them."""
    bad = {
        m: sorted(o for o in GRAPH[m] if o.startswith("io_managers"))
        for m in GRAPH
        if m.startswith("assets_core") and not m.startswith("assets_core.cli")
    }
    assert {m: v for m, v in bad.items() if v} == {}


def test_only_the_graph_imports_networkx() -> None:
    offenders = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "networkx" for n in names) and module != (
                "assets_core.model.graph"
            ):
                offenders.append(module)
    assert offenders == []
