"""One parse of a source file, as the index a versioner looks pieces up in: every def and class
by ``qualname@first line`` with its hash and free names (the decorators apart), every lambda by
``<lambda>@line``, every module-level binding by name (all the statements that bind it, so
``CONFIG["x"] = 1`` counts as part of ``CONFIG``), and every ``from M import A``. The index is
plain data, so it round-trips through the on-disk cache's JSON.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from assets_core.code_version.names import Scope, class_free, function_free, loads, visit_header
from assets_core.code_version.normalize import digest_of, text_digest

__all__ = ["Def", "FileIndex", "index_source"]

#: (hash without decorators, hash of the decorators, free names, names in the decorators)
Def = tuple[str, str, list[str], list[str]]


@dataclass(slots=True)
class FileIndex:
    """What one parse of a source file yields; plain data, so it round-trips through JSON."""

    defs: dict[str, Def] = field(default_factory=dict)  # "qualname@first line" -> def
    consts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name -> binding
    imports: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # from M import A
    last: dict[str, str] = field(default_factory=dict)  # qualname -> key of its last def

    def to_json(self) -> dict[str, Any]:
        return {"defs": self.defs, "consts": self.consts, "imports": self.imports}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FileIndex:
        """Rebuild an index from the cache; raises on any malformed entry."""
        index = cls()
        for key, (body, deco, refs, deco_refs) in raw["defs"].items():
            index.defs[str(key)] = (
                str(body),
                str(deco),
                list(map(str, refs)),
                list(map(str, deco_refs)),
            )
            index.last[str(key).rpartition("@")[0]] = str(key)
        for name, (digest, refs) in raw["consts"].items():
            index.consts[str(name)] = (str(digest), list(map(str, refs)))
        for name, (module, attr, level) in raw["imports"].items():
            index.imports[str(name)] = (str(module), str(attr), int(level))
        return index


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def index_source(source: bytes, path: str) -> FileIndex:
    tree = ast.parse(source, filename=path)
    index = FileIndex()
    _index_body(tree.body, "", index, module_level=True)
    if b"lambda" in source:
        by_line: dict[int, list[ast.Lambda]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Lambda):
                by_line.setdefault(node.lineno, []).append(node)
        for line, nodes in by_line.items():
            refs = _unique([c for n in nodes for c in loads(n.args.defaults) + function_free(n)])
            index.defs[f"<lambda>@{line}"] = (text_digest(nodes), "", refs, [])
    return index


def _index_body(body: list[ast.stmt], prefix: str, index: FileIndex, *, module_level: bool) -> None:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qual = prefix + stmt.name
            line = stmt.decorator_list[0].lineno if stmt.decorator_list else stmt.lineno
            key = f"{qual}@{line}"
            if isinstance(stmt, ast.ClassDef):
                header = loads([*stmt.bases, *(k.value for k in stmt.keywords)])
                free = class_free(stmt)
                inner = qual + "."
            else:
                scope = Scope()
                visit_header(stmt.args, scope)
                header = scope.loads + scope.inner
                header += loads([stmt.returns]) if stmt.returns is not None else []
                free = function_free(stmt)
                inner = qual + ".<locals>."
            index.defs[key] = (
                text_digest(stmt, skip="decorator_list"),
                text_digest(stmt.decorator_list),
                _unique(header + free),
                _unique(loads(stmt.decorator_list)),
            )
            index.last[qual] = key
            _index_body(stmt.body, inner, index, module_level=False)
            continue
        if module_level:
            _index_module_stmt(stmt, index)
        for name in ("body", "orelse", "finalbody"):
            nested = getattr(stmt, name, None)
            if isinstance(nested, list):
                _index_body(nested, prefix, index, module_level=module_level)
        for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
            _index_body(part.body, prefix, index, module_level=module_level)


def _bound_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _bound_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)
    elif isinstance(target, ast.Attribute | ast.Subscript):
        # `CONFIG["x"] = 1` changes CONFIG: count the statement as part of it
        base: ast.expr = target
        while isinstance(base, ast.Attribute | ast.Subscript):
            base = base.value
        if isinstance(base, ast.Name):
            yield base.id


def _index_module_stmt(stmt: ast.stmt, index: FileIndex) -> None:
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        digest = text_digest(stmt)
        refs = loads([stmt])
        for target in targets:
            for name in _bound_names(target):
                old = index.consts.get(name)
                if old is None:
                    index.consts[name] = (digest, refs)
                else:
                    index.consts[name] = (digest_of(old[0], digest), _unique(old[1] + refs))
    elif isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            if alias.name != "*":
                index.imports[alias.asname or alias.name] = (
                    stmt.module or "",
                    alias.name,
                    stmt.level,
                )
