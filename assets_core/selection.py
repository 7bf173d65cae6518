"""Selection: the dbt-compatible grammar of DESIGN.md §6, turned into a set of asset keys.

This module owns the selection language: ``parse`` turns a string such as
``"+marts/revenue tag:daily,group:staging"`` into a small frozen syntax tree, and ``select``
evaluates one or more such strings (plus an exclusion) against an ``AssetGraph`` and the facts
about each asset (``AssetInfo``). It is pure: no IO, nothing kept between calls, and graph
traversal only through ``AssetGraph`` (never networkx). Lookup indexes are built lazily, once
per ``select`` call, so a criterion costs a dictionary lookup or one pass over the distinct
values of its method. ``docs/selection.md`` is the user-facing version of these rules.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from assets_core.errors import SelectionError
from assets_core.graph import AssetGraph
from assets_core.keys import AssetKey

__all__ = [
    "KINDS",
    "METHODS",
    "STATUSES",
    "AssetInfo",
    "Criterion",
    "Selection",
    "SelectionExpr",
    "Term",
    "parse",
    "select",
]

#: Every selection method, sorted; ``key`` is the default when none is written.
METHODS: tuple[str, ...] = ("group", "io", "key", "kind", "owner", "path", "status", "tag")
#: The values ``status:`` accepts; anything else is an error.
STATUSES: tuple[str, ...] = ("failed", "fresh", "missing", "stale")
#: The kinds of asset ``kind:`` can name.
KINDS: tuple[str, ...] = ("python", "source", "sql")

_FORM = (
    "expected [@][N+][method:]value[+[N]], "
    "e.g. 'orders', '+orders', 'tag:daily+1', '@marts/revenue'"
)
_GLOB_CHARS = frozenset("*?[")
_MAX_DEPTH_DIGITS = 9
# [@] [digits +] [method :] value [+ digits]. The value is non-greedy so a trailing "+N" is
# read as the descendant operator; "+" left inside the value is reported as malformed.
_CRIT_RE = re.compile(
    r"(?P<at>@)?(?:(?P<up>[0-9]*)\+)?(?:(?P<method>[^:+@,]*):)?(?P<value>.*?)"
    r"(?:\+(?P<down>[0-9]*))?\Z",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """The facts selection methods match on, for one asset."""

    key: AssetKey
    group: str
    tags: frozenset[str]
    owners: tuple[str, ...]
    io_manager: str  # resolved manager name ("" for sources)
    kind: str  # "python" | "source" | "sql"
    path: str  # defining file, relative to the project root, with "/" separators


@dataclass(frozen=True, slots=True)
class Selection:
    """The result of ``select``: the chosen keys, and warnings for criteria that matched
    nothing (a glob or a method; a plain name that matches nothing is an error instead)."""

    keys: frozenset[AssetKey]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Criterion:
    """One ``crit`` of the grammar: a method and value, plus graph operators.

    ``parents``/``children`` say whether ``+`` was written before/after the value; the depth is
    ``None`` for "all" and an int for ``N+``/``+N``. ``at`` is the ``@`` operator.
    """

    text: str
    method: str
    value: str
    method_given: bool = False
    at: bool = False
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None

    @property
    def is_glob(self) -> bool:
        """Whether the value holds a glob character (``*``, ``?`` or ``[``)."""
        return not _GLOB_CHARS.isdisjoint(self.value)

    @property
    def core(self) -> str:
        """The method and value without graph operators: ``tag:daily`` for ``tag:daily+``."""
        return f"{self.method}:{self.value}" if self.method_given else self.value

    def __str__(self) -> str:
        """The canonical spelling; ``parse(str(c))`` gives back an equal criterion."""
        up = ""
        if self.parents:
            up = ("" if self.parents_depth is None else str(self.parents_depth)) + "+"
        down = ""
        if self.children:
            down = "+" + ("" if self.children_depth is None else str(self.children_depth))
        return ("@" if self.at else "") + up + self.core + down


@dataclass(frozen=True, slots=True)
class Term:
    """Criteria joined by ``,``: the intersection of what each selects."""

    text: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class SelectionExpr:
    """Terms separated by spaces: the union of what each selects. No terms: select all."""

    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return " ".join(",".join(str(c) for c in t.criteria) for t in self.terms)


def parse(text: str) -> SelectionExpr:
    """Parse a selection string. Raises ``SelectionError`` (and nothing else) when malformed.

    Only syntax is checked here (and the fixed values of ``status:``); whether a name matches
    an asset is decided by ``select``, which knows the graph.
    """
    if not isinstance(text, str):
        raise SelectionError(
            f"A selection must be a string such as '+orders', got {type(text).__name__}."
        )
    return _parse_cached(text)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> SelectionExpr:
    return SelectionExpr(tuple(_parse_term(t) for t in text.split()))


def _parse_term(text: str) -> Term:
    parts = text.split(",")
    if any(not p for p in parts):
        raise SelectionError(
            f"Malformed selection criterion in {text!r}: empty criterion around ','; {_FORM}."
        )
    return Term(text, tuple(_parse_criterion(p) for p in parts))


def _malformed(text: str, reason: str) -> SelectionError:
    return SelectionError(f"Malformed selection criterion {text!r}: {reason}; {_FORM}.")


def _depth(text: str, digits: str | None) -> int | None:
    if not digits:
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_DEPTH_DIGITS:
        raise _malformed(text, f"depth {digits} is too large")
    return int(significant)


def _parse_criterion(text: str) -> Criterion:
    m = _CRIT_RE.match(text)
    if m is None:  # pragma: no cover - every string matches (the value may be empty)
        raise _malformed(text, "cannot read it")
    at, up, method, value, down = m.group("at", "up", "method", "value", "down")
    if method is not None and not method:
        raise _malformed(text, "a method name must come before ':'")
    if "+" in value:
        raise _malformed(text, "'+' may only come before or after the value")
    if "@" in value and (method is None or method == "key"):
        raise _malformed(text, "'@' may only come first")
    if not value:
        raise _malformed(text, "there is no value to select")
    if at and (down is not None or up is not None):
        core = value if method is None else f"{method}:{value}"
        which = "descendant" if down is not None else "ancestor of what it selects"
        raise SelectionError(
            f"{text!r} is not valid: '@' already includes every {which}; "
            f"use '@{core}' or '{text[1:]}'"
        )
    if method is not None and method not in METHODS:
        close = difflib.get_close_matches(method, METHODS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SelectionError(
            f"Unknown selection method {method!r} in {text!r}{hint}; "
            f"valid methods: {', '.join(METHODS)}."
        )
    if method == "status" and value not in STATUSES:
        raise SelectionError(
            f"Unknown status {value!r} in {text!r}; valid statuses: {', '.join(STATUSES)}."
        )
    return Criterion(
        text=text,
        method=method or "key",
        value=value,
        method_given=method is not None,
        at=bool(at),
        parents=up is not None,
        parents_depth=_depth(text, up),
        children=down is not None,
        children_depth=_depth(text, down),
    )


def _as_texts(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise SelectionError(
            "A selection must be a string or a list of strings such as ['+orders', 'tag:daily']."
        )
    return list(value)


def select(
    graph: AssetGraph,
    infos: Mapping[AssetKey, AssetInfo],
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    status: Callable[[], Mapping[AssetKey, str]] | None = None,
) -> Selection:
    """The keys chosen by ``select`` minus those chosen by ``exclude``.

    ``select`` and ``exclude`` use the grammar of DESIGN.md §6; a list of strings is their
    union (like repeated ``--select`` arguments). No selection (``None``, empty, or only
    whitespace) selects every asset. ``status`` is called at most once, and only when a
    ``status:`` criterion is used; it maps keys to ``fresh|stale|missing|failed``.
    Raises ``SelectionError`` for a malformed selection or a plain name matching nothing.
    """
    chosen = [parse(t) for t in _as_texts(select)]
    dropped = [parse(t) for t in _as_texts(exclude)]
    uses_status = any(
        c.method == "status" for e in (*chosen, *dropped) for t in e.terms for c in t.criteria
    )
    if uses_status and status is None:
        raise SelectionError(
            "'status:' needs asset statuses, but none were given to select(); "
            "pass status=... (the CLI does this for you)."
        )
    ev = _Evaluator(graph, infos, status if uses_status else None)
    if any(e.terms for e in chosen):
        keys: set[AssetKey] = set()
        for expr in chosen:
            keys |= ev.union(expr, "Selection")
    else:
        keys = set(ev.universe)
    for expr in dropped:
        if keys:
            keys -= ev.union(expr, "Exclude")
        else:
            ev.union(expr, "Exclude")  # still report its errors and warnings
    return Selection(frozenset(keys), tuple(dict.fromkeys(ev.warnings)))


def _compile_glob(crit: Criterion, pattern: str) -> Callable[[str], object]:
    try:
        return re.compile(fnmatch.translate(pattern)).match
    except re.error:
        raise _malformed(crit.text, f"{pattern!r} is not a valid glob") from None


def _parent_dirs(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


class _Evaluator:
    """Evaluates parsed selections for one ``select`` call; indexes are built on first use."""

    def __init__(
        self,
        graph: AssetGraph,
        infos: Mapping[AssetKey, AssetInfo],
        status: Callable[[], Mapping[AssetKey, str]] | None,
    ) -> None:
        self.graph = graph
        self.infos = infos
        self.status_fn = status
        self.warnings: list[str] = []

    # -- indexes ---------------------------------------------------------------------------

    @cached_property
    def universe(self) -> frozenset[AssetKey]:
        return self.graph.keys

    @cached_property
    def by_str(self) -> dict[str, AssetKey]:
        return {str(k): k for k in self.universe}

    @cached_property
    def by_name(self) -> dict[str, list[AssetKey]]:
        out: dict[str, list[AssetKey]] = {}
        for k in self.universe:
            out.setdefault(k.name, []).append(k)
        return out

    @cached_property
    def by_folder(self) -> dict[str, list[AssetKey]]:
        out: dict[str, list[AssetKey]] = {}
        for k in self.universe:
            path = k.path
            for i in range(1, len(path)):
                out.setdefault("/".join(path[:i]), []).append(k)
        return out

    def _infos(self) -> Iterable[AssetInfo]:
        universe = self.universe
        return (i for k, i in self.infos.items() if k in universe)

    @cached_property
    def statuses(self) -> dict[str, set[AssetKey]]:
        assert self.status_fn is not None
        out: dict[str, set[AssetKey]] = {}
        universe = self.universe
        for k, s in self.status_fn().items():
            if k in universe:
                out.setdefault(s, set()).add(k)
        return out

    @cached_property
    def values(self) -> dict[str, dict[str, set[AssetKey]]]:
        """For each info method, its distinct values and the keys holding each."""
        idx: dict[str, dict[str, set[AssetKey]]] = {
            m: {} for m in ("group", "io", "kind", "owner", "path", "tag")
        }
        group, io, kind = idx["group"], idx["io"], idx["kind"]
        owner, path, tag = idx["owner"], idx["path"], idx["tag"]
        for info in self._infos():
            k = info.key
            group.setdefault(info.group, set()).add(k)
            io.setdefault(info.io_manager, set()).add(k)
            kind.setdefault(info.kind, set()).add(k)
            path.setdefault(info.path, set()).add(k)
            for o in info.owners:
                owner.setdefault(o, set()).add(k)
            for t in info.tags:
                tag.setdefault(t, set()).add(k)
        return idx

    # -- evaluation ------------------------------------------------------------------------

    def union(self, expr: SelectionExpr, role: str) -> set[AssetKey]:
        out: set[AssetKey] = set()
        for term in expr.terms:
            out |= self.term(term, role)
        return out

    def term(self, term: Term, role: str) -> set[AssetKey]:
        result: set[AssetKey] | None = None
        for crit in term.criteria:
            keys = self.criterion(crit, role)
            result = keys if result is None else result & keys
        return result or set()

    def criterion(self, crit: Criterion, role: str) -> set[AssetKey]:
        matched = self.match(crit, role)
        graph = self.graph
        if crit.at:
            base = matched | graph.descendants(matched)
            return base | graph.ancestors(base)
        result = set(matched)
        if crit.parents:
            result |= graph.ancestors(matched, crit.parents_depth)
        if crit.children:
            result |= graph.descendants(matched, crit.children_depth)
        return result

    def match(self, crit: Criterion, role: str) -> set[AssetKey]:
        """The assets the method and value name, before graph operators."""
        if crit.method == "key":
            found = self.match_key(crit)
        elif crit.method == "status":
            found = set(self.statuses.get(crit.value, ()))
        elif crit.method == "path":
            found = self.match_path(crit)
        else:
            index = self.values[crit.method]
            if crit.is_glob:
                hit = _compile_glob(crit, crit.value)
                found = set().union(*(ks for v, ks in index.items() if hit(v)))
            else:
                found = set(index.get(crit.value, ()))
        if not found:
            self.no_match(crit, role)
        return found

    def match_key(self, crit: Criterion) -> set[AssetKey]:
        value = crit.value
        if value.endswith("/"):
            folder = value[:-1]
            if not _GLOB_CHARS.isdisjoint(folder):
                hit = _compile_glob(crit, folder)
                return set().union(*(ks for f, ks in self.by_folder.items() if hit(f)))
            return set(self.by_folder.get(folder, ()))
        if crit.is_glob:
            hit = _compile_glob(crit, value)
            return {k for s, k in self.by_str.items() if hit(s) or hit(k.name)}
        exact = self.by_str.get(value)
        if exact is not None:
            return {exact}
        if "/" in value:
            return set()
        return set(self.by_name.get(value, ()))

    def match_path(self, crit: Criterion) -> set[AssetKey]:
        value = crit.value.replace("\\", "/")
        while value.startswith("./"):
            value = value[2:]
        index = self.values["path"]
        found: set[AssetKey] = set()
        if value.endswith("/"):
            folder = value[:-1]
            if not _GLOB_CHARS.isdisjoint(folder):
                hit = _compile_glob(crit, folder)
                for p, ks in index.items():
                    if any(hit(d) for d in _parent_dirs(p)):
                        found |= ks
            else:
                for p, ks in index.items():
                    if p.startswith(value):
                        found |= ks
            return found
        if not _GLOB_CHARS.isdisjoint(value):
            hit = _compile_glob(crit, value)
            bare = "/" not in value
            for p, ks in index.items():
                if (
                    hit(p)
                    or (bare and hit(p.rsplit("/", 1)[-1]))
                    or any(hit(d) for d in _parent_dirs(p))
                ):
                    found |= ks
            return found
        under = value + "/"
        for p, ks in index.items():
            if p == value or p.rsplit("/", 1)[-1] == value or p.startswith(under):
                found |= ks
        return found

    # -- nothing matched -------------------------------------------------------------------

    def key_candidates(self, value: str) -> list[str]:
        """Close spellings of a key value, in the same form as written: a folder for a
        folder, a full key for a value with '/', else a bare name (or a folder)."""
        folders = [f + "/" for f in self.by_folder]
        if value.endswith("/"):
            pool = folders
        elif "/" in value:
            pool = [*self.by_str, *folders]
        else:
            pool = [*self.by_name, *folders]
        return difflib.get_close_matches(value, sorted(pool), n=3)

    def method_candidates(self, crit: Criterion) -> list[str]:
        if crit.method == "key":
            pool = self.key_candidates(crit.value)
        else:
            values = set(self.values[crit.method]) if crit.method in self.values else set()
            if crit.method == "kind":
                values |= set(KINDS)
            pool = difflib.get_close_matches(crit.value, sorted(values), n=3)
        return [f"{crit.method}:{v}" for v in pool]

    def no_match(self, crit: Criterion, role: str) -> None:
        if not crit.method_given and not crit.is_glob:
            close = self.key_candidates(crit.value)
            where = "" if crit.text == crit.value else f" in {crit.text!r}"
            hint = (
                "; did you mean " + " or ".join(repr(c) for c in close) + "?"
                if close
                else "; 'lumbung list' shows every asset."
            )
            raise SelectionError(f"No asset matches {crit.value!r}{where}{hint}")
        message = f"{role} criterion {crit.core!r} matches no asset"
        if not crit.is_glob and crit.method != "status":
            close = self.method_candidates(crit)
            if close:
                message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
                self.warnings.append(message)
                return
        self.warnings.append(message + ".")
