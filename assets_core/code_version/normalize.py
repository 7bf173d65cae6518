"""The canonical text code is hashed by, and the hash itself. A syntax node is written without
positions, docstrings, comments or formatting (so it reads the same on every Python >= 3.10);
code with no readable source is written from its code object; a plain literal value is written
as a repr that is the same in every process. Whatever this module writes goes into every code
version: changing it changes them all (bump ``_SCHEME`` in ``versioner.py``, and
``CACHE_FORMAT`` in ``cache.py``, whose file and the indexes kept beside the bytecode hold
hashes made here).
"""

from __future__ import annotations

import ast
import hashlib
from types import CodeType
from typing import Any

__all__ = ["FIELD_LABELS", "code_parts", "digest_of", "field_labels", "literal_repr", "text_digest"]

_MISSING: Any = object()


def digest_of(*parts: str) -> str:
    """The hash of ``parts`` joined by NUL: BLAKE2b, 16 bytes, as 32 hex characters."""
    data = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# --- normalized AST text ------------------------------------------------------------------

_SKIP_FIELDS = frozenset({"ctx", "type_comment", "kind"})
_DOC_OWNERS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


#: per AST class, what ``field_labels`` returns, filled on first use
FIELD_LABELS: dict[type, tuple[str, tuple[tuple[str, str], ...]]] = {}


def field_labels(cls: type) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The text opening a node of ``cls``, and each of its fields that counts (positions and
    ``ctx`` do not) with its label; memoized in ``FIELD_LABELS``."""
    fields = tuple((n, n + "=") for n in cls._fields if n not in _SKIP_FIELDS)  # type: ignore[attr-defined]
    FIELD_LABELS[cls] = labels = (cls.__name__ + "(", fields)
    return labels


def _write(node: object, out: list[str], skip: str = "") -> None:
    """Append a canonical text of ``node`` to ``out``: no positions, no docstrings, no empty
    fields (so it reads the same on every Python >= 3.10), and no field named ``skip``."""
    cls = type(node)
    if cls is list:
        out.append("[")
        for item in node:  # type: ignore[attr-defined]
            _write(item, out)
            out.append(",")
        out.append("]")
        return
    labels = FIELD_LABELS.get(cls)
    if labels is None:
        if not isinstance(node, ast.AST):
            out.append(repr(node))
            return
        labels = field_labels(cls)
    out.append(labels[0])
    doc_owner = cls in _DOC_OWNERS
    for name, label in labels[1]:
        value = getattr(node, name, None)
        if value is None or name == skip:
            continue
        if type(value) is list:
            if doc_owner and name == "body" and value and _is_docstring(value[0]):
                value = value[1:]
            if not value:
                continue
        out.append(label)
        _write(value, out)
        out.append(",")
    out.append(")")


def text_digest(node: object, skip: str = "") -> str:
    out: list[str] = []
    _write(node, out, skip)
    return digest_of("".join(out))


# --- code without source, and values -------------------------------------------------------


def literal_repr(value: object, depth: int = 0) -> str | None:
    """A repr that is the same in every process, for plain literal values; else None."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return repr(value)
    if depth < 3 and isinstance(value, tuple | frozenset):
        items = [literal_repr(v, depth + 1) for v in value]
        if any(i is None for i in items):
            return None
        text = [i for i in items if i is not None]
        if isinstance(value, frozenset):
            return "frozenset({" + ", ".join(sorted(text)) + "})"
        return "(" + ", ".join(text) + ")"
    return None


def code_parts(code: CodeType, out: list[str], doc: object = _MISSING) -> None:
    out.append(code.co_code.hex())
    out.append(",".join(code.co_names))
    for i, const in enumerate(code.co_consts):
        if i == 0 and isinstance(const, str) and const == doc:
            continue  # the docstring
        if isinstance(const, CodeType):
            code_parts(const, out)
        else:
            out.append(literal_repr(const) or type(const).__name__)
