"""The free names code reads: what a function, lambda, class or statement looks up outside its
own scopes, as dotted chains (``clean``, ``helpers.clean``) whose root a versioner resolves in
the module's globals or the closure. Names a scope binds (parameters, assignments, imports,
``except ... as``, match captures, comprehension targets) are not free in it; ``global``
undoes that. For code with no readable source, ``code_names`` gives what its code objects read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from types import CodeType

from assets_core.code_version.normalize import FIELD_LABELS, field_labels

__all__ = ["Scope", "class_free", "code_names", "function_free", "loads", "visit_header"]

_LEAVES = frozenset({ast.Constant, ast.Pass, ast.Break, ast.Continue, ast.Load, ast.Store})
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _root(chain: str) -> str:
    return chain.partition(".")[0]


class Scope:
    """Names one scope binds and the dotted names (``helpers.clean``) it reads."""

    __slots__ = ("bound", "declared_global", "inner", "loads")

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.loads: list[str] = []
        self.inner: list[str] = []  # free names of nested scopes

    def free(self, *, class_scope: bool) -> list[str]:
        local = self.bound - self.declared_global
        out = [c for c in self.loads if _root(c) not in local]
        # Names bound in a class body are invisible to the functions nested in it.
        out += self.inner if class_scope else [c for c in self.inner if _root(c) not in local]
        return out


def _chain(node: ast.Attribute) -> str | None:
    parts: list[str] = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        parts.append(cur.attr)
        cur = cur.value
    if isinstance(cur, ast.Name):
        parts.append(cur.id)
        return ".".join(reversed(parts))
    return None


def visit_header(args: ast.arguments, scope: Scope) -> None:
    for default in (*args.defaults, *args.kw_defaults):
        if default is not None:
            _visit(default, scope)
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    for arg in every:
        if arg is not None and arg.annotation is not None:
            _visit(arg.annotation, scope)


def _bind_args(args: ast.arguments, scope: Scope) -> None:
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if arg is not None:
            scope.bound.add(arg.arg)


def function_free(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    scope = Scope()
    _bind_args(node.args, scope)
    if isinstance(node, ast.Lambda):
        _visit(node.body, scope)
    else:
        for stmt in node.body:
            _visit(stmt, scope)
    return scope.free(class_scope=False)


def class_free(node: ast.ClassDef) -> list[str]:
    scope = Scope()
    for stmt in node.body:
        _visit(stmt, scope)
    return scope.free(class_scope=True)


def _visit(node: ast.AST, scope: Scope) -> None:
    if type(node) in _LEAVES:
        return
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load):
            scope.loads.append(node.id)
        else:
            scope.bound.add(node.id)
    elif isinstance(node, ast.Attribute):
        chain = _chain(node) if isinstance(node.ctx, ast.Load) else None
        if chain is not None:
            scope.loads.append(chain)
        else:
            _visit(node.value, scope)
    elif isinstance(node, _FUNCS):
        scope.bound.add(node.name)
        for deco in node.decorator_list:
            _visit(deco, scope)
        visit_header(node.args, scope)
        if node.returns is not None:
            _visit(node.returns, scope)
        scope.inner += function_free(node)
    elif isinstance(node, ast.Lambda):
        visit_header(node.args, scope)
        scope.inner += function_free(node)
    elif isinstance(node, ast.ClassDef):
        scope.bound.add(node.name)
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            _visit(expr, scope)
        scope.inner += class_free(node)
    elif isinstance(node, _COMPS):
        _visit_comprehension(node, scope)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                scope.bound.add(alias.asname or alias.name.partition(".")[0])
    elif isinstance(node, ast.Global):
        scope.declared_global.update(node.names)
    elif isinstance(node, ast.Nonlocal):
        scope.bound.update(node.names)
    else:
        if isinstance(node, ast.ExceptHandler | ast.pattern):
            for attr in ("name", "rest"):  # `except E as name`, match captures, `**rest`
                bound = getattr(node, attr, None)
                if isinstance(bound, str):
                    scope.bound.add(bound)
        labels = FIELD_LABELS.get(type(node)) or field_labels(type(node))
        for attr, _ in labels[1]:
            value = getattr(node, attr, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        _visit(item, scope)
            elif isinstance(value, ast.AST):
                _visit(value, scope)


def _visit_comprehension(
    node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, scope: Scope
) -> None:
    gens = node.generators
    _visit(gens[0].iter, scope)  # the first iterable is evaluated in the enclosing scope
    inner = Scope()
    for i, gen in enumerate(gens):
        _visit(gen.target, inner)
        if i:
            _visit(gen.iter, inner)
        for cond in gen.ifs:
            _visit(cond, inner)
    if isinstance(node, ast.DictComp):
        _visit(node.key, inner)
        _visit(node.value, inner)
    else:
        _visit(node.elt, inner)
    scope.inner += inner.free(class_scope=False)


def loads(nodes: Sequence[ast.AST]) -> list[str]:
    scope = Scope()
    for node in nodes:
        _visit(node, scope)
    return scope.loads + scope.inner


def code_names(code: CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from code_names(const)
