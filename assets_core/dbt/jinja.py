"""One dbt model's text translated into a SQL asset's statement and options, without Jinja.

dbt models are SQL with Jinja in them. Most use a few forms only, and those are translated
by parsing them (Jinja's expression syntax is close enough to Python's for ``ast``):

- ``{{ ref('x') }}`` (or ``ref('package', 'x')``) becomes ``x``: Lumbung finds the asset
  named ``x`` anywhere, as dbt does;
- ``{{ source('s', 't') }}`` becomes ``s.t``, the source with key ``s/t``;
- ``{{ config(...) }}`` becomes option lines (``tags``, ``group``, ``meta={'owner': ...}``)
  and disappears from the statement; ``materialized='table'`` or ``'view'`` needs nothing
  (Lumbung stores a table);
- ``{# ... #}`` becomes a SQL comment ``/* ... */``.

Everything else (``{% if %}``, ``{{ var(...) }}``, macros, ``{{ this }}``, other config
keys) is left in place and listed with its line and what to do, for the user to rewrite.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TypeGuard

__all__ = ["Leftover", "Model", "translate_model"]

_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
#: config keys that need nothing: Lumbung stores every SQL asset as a table
_STORED_AS_TABLE = ("table", "view")


@dataclass(frozen=True, slots=True)
class Leftover:
    """Something not translated: its line, the text as written, and what to do."""

    line: int
    text: str
    fix: str


@dataclass
class Model:
    """A translated model: the statement (Jinja replaced where it could be), the options
    found (``name -> value`` as an option line writes it), the models and sources it reads,
    and what was left."""

    sql: str
    options: dict[str, str] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


def translate_model(text: str) -> Model:
    """``text``, a dbt model file, translated (see the module docstring)."""
    model = Model(sql="")
    out: list[str] = []
    pos = 0
    while True:
        start = _next_open(text, pos)
        if start < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        opener = text[start : start + 2]
        end = _close(text, start + 2, _CLOSERS[opener])
        line = text.count("\n", 0, start) + 1
        if end < 0:
            model.leftovers.append(
                Leftover(line, text[start : start + 40], f"close it with {_CLOSERS[opener]}")
            )
            out.append(text[start:])
            break
        whole = text[start : end + 2]
        inner = text[start + 2 : end].strip("-+ \t\r\n")
        if opener == "{#":
            out.append("/* " + inner.replace("*/", "* /") + " */")
        elif opener == "{%":
            model.leftovers.append(
                Leftover(line, whole, "a Jinja statement: rewrite it as plain SQL")
            )
            out.append(whole)
        else:
            out.append(_expression(inner, whole, line, model))
        pos = end + 2
    model.sql = _drop_blank_lines("".join(out))
    return model


def _next_open(text: str, pos: int) -> int:
    found = [i for i in (text.find(o, pos) for o in _CLOSERS) if i >= 0]
    return min(found) if found else -1


def _close(text: str, pos: int, closer: str) -> int:
    """Where ``closer`` ends the tag opened before ``pos``, skipping quoted strings."""
    quote = ""
    i = pos
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"" and closer != "#}":
            quote = c
        elif text.startswith(closer, i):
            return i
        i += 1
    return -1


def _expression(inner: str, whole: str, line: int, model: Model) -> str:
    """The SQL that ``{{ inner }}`` becomes; ``whole`` itself, recorded as a leftover, when
    it is not a form translated here."""
    try:
        call = ast.parse(inner, mode="eval").body
    except SyntaxError:
        call = None
    name = call.func.id if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) else ""
    if isinstance(call, ast.Call) and name in ("ref", "source", "config"):
        try:
            args = [_literal(a) for a in call.args]
            kwargs = {k.arg: _literal(k.value) for k in call.keywords if k.arg is not None}
        except ValueError:
            args, kwargs = [], {"": None}
        if name == "ref" and not kwargs and len(args) in (1, 2) and _strings(args):
            model.refs.append(args[-1])
            return str(args[-1])
        if name == "source" and not kwargs and len(args) == 2 and _strings(args):
            model.sources.append((args[0], args[1]))
            return f"{args[0]}.{args[1]}"
        if name == "config" and not args and "" not in kwargs:
            _config(kwargs, whole, line, model)
            return ""
        fix = {
            "ref": "give ref one model name as a string (versions are not translated)",
            "source": "give source a source name and a table name as strings",
            "config": "give config literal keyword arguments",
        }[name]
        model.leftovers.append(Leftover(line, whole, fix))
        return whole
    model.leftovers.append(
        Leftover(line, whole, "Jinja other than ref, source and config: rewrite it as SQL")
    )
    return whole


def _config(kwargs: dict[str, object], whole: str, line: int, model: Model) -> None:
    """Option lines from a ``config(...)`` call's keyword arguments."""
    for key, value in kwargs.items():
        if key == "materialized" and value in _STORED_AS_TABLE:
            continue
        if key == "tags" and (isinstance(value, str) or _strings(value)):
            tags = [value] if isinstance(value, str) else value
            model.options["tags"] = ", ".join(tags)
        elif key == "group" and isinstance(value, str):
            model.options["group"] = value
        elif key == "meta" and isinstance(value, dict) and isinstance(value.get("owner"), str):
            model.options["owners"] = value["owner"]
        else:
            fix = {
                "materialized": "Lumbung rebuilds the whole table on each run; remove it, "
                "or partition the asset (-- partitions:)",
                "schema": "the folder under the models folder names the schema "
                "(marts/x.sql is table marts.x); move the file",
                "alias": "the file name is the table name; rename the file",
            }.get(key, "no option of a SQL asset matches it")
            model.leftovers.append(Leftover(line, f"config({key}={value!r})", fix))


def _literal(node: ast.expr) -> object:
    """A Jinja literal: strings, numbers, lists, dicts, and ``true``/``false``/``none``."""
    if isinstance(node, ast.Name) and node.id.lower() in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[node.id.lower()]
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True) if k}
    return ast.literal_eval(node)


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _drop_blank_lines(sql: str) -> str:
    """The statement without the leading and trailing blank lines a removed config left."""
    return sql.strip("\n").rstrip() + "\n"
