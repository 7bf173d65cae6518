"""Selection: the dbt-compatible grammar of DESIGN.md §6, turned into a set of asset keys.

This module owns the selection language: ``parse`` turns a string such as
``"+marts/revenue tag:daily,group:staging"`` into a small frozen syntax tree, and ``select``
evaluates one or more such strings (plus an exclusion) against an ``AssetGraph`` and the facts
about each asset (``AssetInfo``). It is pure: no IO, graph traversal only through
``AssetGraph`` (never networkx), and nothing kept between calls but a memo of parsed strings
(immutable values). What is derived from the whole graph is computed lazily, once per
``select`` call: an exact key costs one lookup, any other criterion one pass over the assets,
with a glob tested once per distinct value. ``docs/selection.md`` is the user-facing version.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import attrgetter
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from assets_core.errors import InvalidKeyError, SelectionError
from assets_core.model.keys import AssetKey

if TYPE_CHECKING:
    from assets_core.model.definitions import Definitions
    from assets_core.model.graph import AssetGraph

__all__ = [
    "KINDS",
    "MAX_SELECTION_LENGTH",
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
KINDS: tuple[str, ...] = ("command", "python", "source", "sql")

_FORM = (
    "expected [@][N+][method:]value[+[N]], "
    "e.g. 'orders', '+orders', 'tag:daily+1', '@marts/revenue'"
)
_GLOB_CHARS = frozenset("*?[")
_INFO_ATTR = {"group": "group", "io": "io_manager", "kind": "kind", "path": "path"}
_MAX_DEPTH_DIGITS = 9
#: The longest selection string ``parse`` reads (just under what one command-line argument may
#: hold on Linux, 128 KiB); parsing is linear in the length, so this bounds its cost.
MAX_SELECTION_LENGTH = 100_000
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


def infos_of(defs: Definitions) -> Mapping[AssetKey, AssetInfo]:
    """What selection methods match on, for every asset of ``defs``."""
    out = {}
    paths: dict[str, str] = {}
    for k, a in defs.assets.items():
        path = paths.get(a.file)
        if path is None:
            try:
                path = Path(a.file).resolve().relative_to(defs.root).as_posix()
            except ValueError:
                path = Path(a.file).as_posix()
            paths[a.file] = path
        out[k] = AssetInfo(
            key=k,
            group=a.spec.group,
            tags=a.spec.tags,
            owners=a.spec.owners,
            io_manager="" if a.observed else defs.io_manager_name(a),
            kind=a.kind,
            path=path,
        )
    return MappingProxyType(out)


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
    an asset is decided by ``select``, which knows the graph. The work is linear in the
    length of ``text``, which may be at most ``MAX_SELECTION_LENGTH`` characters.
    """
    if not isinstance(text, str):
        raise SelectionError(
            f"A selection must be a string such as '+orders', got {type(text).__name__}."
        )
    if len(text) > MAX_SELECTION_LENGTH:
        raise SelectionError(
            f"The selection is {len(text):,} characters long; the limit is "
            f"{MAX_SELECTION_LENGTH:,}. Select by tag:, group: or a key folder (marts/) "
            "instead of naming every asset."
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
    infos: Mapping[AssetKey, AssetInfo] | Callable[[], Mapping[AssetKey, AssetInfo]],
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    status: Callable[[], Mapping[AssetKey, str]] | None = None,
) -> Selection:
    """The keys chosen by ``select`` minus those chosen by ``exclude``.

    ``select`` and ``exclude`` use the grammar of DESIGN.md §6; a list of strings is their
    union (like repeated ``--select`` arguments). No selection (``None``, empty, or only
    whitespace) selects every asset. ``infos`` may be a function giving them, called only
    when a method needs them (selecting everything never does). ``status`` is called at most
    once, and only when a ``status:`` criterion is used; it maps keys to
    ``fresh|stale|missing|failed``.
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
    keys: frozenset[AssetKey] | set[AssetKey]
    if any(e.terms for e in chosen):
        keys = set()
        for expr in chosen:
            keys |= ev.union(expr, "Selection")
    else:
        keys = ev.universe
    removed: set[AssetKey] = set()
    for expr in dropped:
        removed |= ev.union(expr, "Exclude")
    if removed:
        keys = keys - removed
    return Selection(frozenset(keys), tuple(dict.fromkeys(ev.warnings)))


def _compile_glob(crit: Criterion, pattern: str) -> Callable[[str], object]:
    try:
        return re.compile(fnmatch.translate(_closed_brackets(pattern))).match
    except re.error:  # pragma: no cover - fnmatch.translate escapes what it cannot use
        raise _malformed(crit.text, f"{pattern!r} is not a valid glob") from None


def _closed_brackets(pattern: str) -> str:
    """``pattern`` with every ``[`` that no ``]`` closes written ``[[]``, the same glob.

    ``fnmatch.translate`` looks for the ``]`` of each ``[`` by scanning to the end of the
    pattern; a ``[`` that nothing closes is a literal ``[``, found out only at the end. Many
    of them (``[[[[...``) make the translation quadratic: 20,000 took 10 s. Spelled ``[[]`` (a
    set holding ``[``), each one is read at once, so the translation is linear. Sets that are
    closed are kept as written; this pass is linear too (it knows where the last ``]`` is).
    """
    last = pattern.rfind("]")
    n = len(pattern)
    out: list[str] = []
    start = i = 0
    while (i := pattern.find("[", i)) >= 0:
        j = i + 1  # where fnmatch starts looking for the closing ']'
        if j < n and pattern[j] == "!":
            j += 1
        if j < n and pattern[j] == "]":
            j += 1
        if j > last:  # no ']' at or after j: a literal '['
            out += (pattern[start:i], "[[]")
            i = start = i + 1
        else:  # a set, up to the first ']' from j
            i = pattern.find("]", j) + 1
    out.append(pattern[start:])
    return "".join(out)


def _parent_dirs(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


class _Evaluator:
    """Evaluates parsed selections for one ``select`` call.

    Whatever is derived from the whole graph (the key set, the distinct values of a method,
    the statuses) is computed on first use and kept for the rest of the call. A criterion then
    costs one pass over the assets with a predicate that only does set lookups; a glob is
    tested once per distinct value, never once per asset.
    """

    def __init__(
        self,
        graph: AssetGraph,
        infos: Mapping[AssetKey, AssetInfo] | Callable[[], Mapping[AssetKey, AssetInfo]],
        status: Callable[[], Mapping[AssetKey, str]] | None,
    ) -> None:
        self.graph = graph
        self._infos = infos
        self.status_fn = status
        self.warnings: list[str] = []
        self._distinct: dict[str, frozenset[str]] = {}

    # -- lazily computed, once per call ----------------------------------------------------

    @cached_property
    def infos(self) -> Mapping[AssetKey, AssetInfo]:
        return self._infos() if callable(self._infos) else self._infos

    @cached_property
    def universe(self) -> frozenset[AssetKey]:
        return self.graph.keys

    @cached_property
    def by_str(self) -> dict[str, AssetKey]:
        return {"/".join(k.path): k for k in self.universe}

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(k.path[-1] for k in self.universe)

    @cached_property
    def folders(self) -> frozenset[str]:
        return frozenset("/".join(k.path[:i]) for k in self.universe for i in range(1, len(k.path)))

    @cached_property
    def statuses(self) -> Mapping[AssetKey, str]:
        assert self.status_fn is not None
        return self.status_fn()

    def distinct(self, method: str) -> frozenset[str]:
        """Every value an info method takes across the assets."""
        found = self._distinct.get(method)
        if found is None:
            infos = self.infos.values()
            if method == "tag":
                found = frozenset().union(*(i.tags for i in infos))
            elif method == "owner":
                found = frozenset().union(*(i.owners for i in infos))
            else:
                found = frozenset(map(attrgetter(_INFO_ATTR[method]), infos))
            self._distinct[method] = found
        return found

    def key_named(self, value: str) -> AssetKey | None:
        """The key spelled ``value`` when it is in the graph; no index needed."""
        try:
            key = AssetKey(value.split("/"))
        except InvalidKeyError:
            return None
        return key if key in self.graph else None

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
        else:
            if crit.method == "status":
                value = crit.value
                hits = [k for k, s in self.statuses.items() if s == value]
            else:
                hits = self.match_info(crit)
            # infos and statuses may name keys the graph does not hold
            if len(hits) > 2000 or "universe" in self.__dict__:  # cheaper than the calls
                found = set(self.universe.intersection(hits))
            else:
                contains = self.graph.__contains__
                found = {k for k in hits if contains(k)}
        if not found:
            self.no_match(crit, role)
        return found

    def match_info(self, crit: Criterion) -> list[AssetKey]:
        """Keys whose info has a value the criterion names (tags and owners: any of them)."""
        method = crit.method
        if method == "path":
            wanted = self.match_path(crit)
        elif crit.is_glob:
            hit = _compile_glob(crit, crit.value)
            wanted = frozenset(v for v in self.distinct(method) if hit(v))
        else:
            wanted = frozenset((crit.value,))
        if not wanted:
            return []
        infos = self.infos.values()
        if method == "tag":
            return [i.key for i in infos if not wanted.isdisjoint(i.tags)]
        if method == "owner":
            return [i.key for i in infos if not wanted.isdisjoint(i.owners)]
        get = attrgetter(_INFO_ATTR[method])
        return [i.key for i in infos if get(i) in wanted]

    def match_key(self, crit: Criterion) -> set[AssetKey]:
        value = crit.value
        if value.endswith("/"):
            folder = value[:-1]
            if not _GLOB_CHARS.isdisjoint(folder):
                hit = _compile_glob(crit, folder)
                return {
                    k
                    for k in self.universe
                    if any(hit("/".join(k.path[:i])) for i in range(1, len(k.path)))
                }
            head, *rest = folder.split("/")
            n = len(rest) + 1
            tail = tuple(rest)
            return {
                k
                for k in self.universe
                if k.path[0] == head and len(k.path) > n and k.path[1:n] == tail
            }
        if crit.is_glob:
            hit = _compile_glob(crit, value)
            return {k for s, k in self.by_str.items() if hit(s) or hit(k.path[-1])}
        exact = self.key_named(value)
        if exact is not None:
            return {exact}
        if "/" in value:
            return set()
        return {k for k in self.universe if k.path[-1] == value}

    def match_path(self, crit: Criterion) -> frozenset[str]:
        """The defining files a ``path:`` value names."""
        value = crit.value.replace("\\", "/")
        while value.startswith("./"):
            value = value[2:]
        paths = self.distinct("path")
        if value.endswith("/"):
            folder = value[:-1]
            if not _GLOB_CHARS.isdisjoint(folder):
                hit = _compile_glob(crit, folder)
                return frozenset(p for p in paths if any(hit(d) for d in _parent_dirs(p)))
            return frozenset(p for p in paths if p.startswith(value))
        if not _GLOB_CHARS.isdisjoint(value):
            hit = _compile_glob(crit, value)
            bare = "/" not in value
            return frozenset(
                p
                for p in paths
                if hit(p)
                or (bare and hit(p.rsplit("/", 1)[-1]))
                or any(hit(d) for d in _parent_dirs(p))
            )
        under = value + "/"
        return frozenset(
            p for p in paths if p == value or p.rsplit("/", 1)[-1] == value or p.startswith(under)
        )

    # -- nothing matched -------------------------------------------------------------------

    def key_candidates(self, value: str) -> list[str]:
        """Close spellings of a key value, in the same form as written: a folder for a
        folder, a full key for a value with '/', else a bare name (or a folder)."""
        folders = [f + "/" for f in self.folders]
        if value.endswith("/"):
            pool = folders
        elif "/" in value:
            pool = [*self.by_str, *folders]
        else:
            pool = [*self.names, *folders]
        return difflib.get_close_matches(value, sorted(pool), n=3)

    def method_candidates(self, crit: Criterion) -> list[str]:
        if crit.method == "key":
            pool = self.key_candidates(crit.value)
        else:
            values = set(self.distinct(crit.method))
            if crit.method == "kind":
                values |= set(KINDS)
            pool = difflib.get_close_matches(crit.value, sorted(values), n=3)
        return [f"{crit.method}:{v}" for v in pool if v != crit.value]  # never itself

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
