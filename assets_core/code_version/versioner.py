"""Code versions: a stable hash of what an asset's code computes (DESIGN.md §4).

An asset's code version hashes the normalized AST of its function (docstrings, comments,
formatting and its own ``@asset(...)`` decorator removed; annotations kept), the same for every
project-local function, class and module-level constant it references, followed transitively,
and the options that change its output: the resolved IO manager, ``ins`` and ``deps``.
Description, tags, owners, group, metadata and retries never count. A pin
(``code_version="v3"``) replaces the computed hash.

References are the free names of the code (``clean``, ``helpers.clean``), resolved through the
function's globals and closure cells. Code outside the project (site-packages, dist-packages,
the standard library, builtins) and Lumbung itself are never followed. A constant is versioned
by the module-level statement(s) that bind it in its defining module, so ``THRESHOLD = 10`` and
``PAT = re.compile("x")`` both count. A function with no readable source (``exec``, a REPL) is
versioned by its code object instead; that hash also changes with the Python version.

Each source file is parsed once per (path, mtime_ns, size) and indexed: every def and class by
``qualname@first line`` with its hash and free names, every module-level binding by name. The
index can be kept in an on-disk JSON cache across processes. Hashed pieces, their resolved
references and each asset's result are memoized per object for the versioner's lifetime: a
versioner takes the loaded code as it is. A module imported anew (new objects) is seen, and its
file is re-read if it changed; after reloading modules in place, make a new versioner (a new
``Definitions`` does).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import resolve_name
from pathlib import Path
from types import FunctionType, MappingProxyType, MethodType, ModuleType
from typing import Any

from assets_core.code_version.index import Def, FileIndex, index_source
from assets_core.code_version.locality import (
    ModuleMemo,
    fn_is_local,
    is_local_file,
    module_is_local,
)
from assets_core.code_version.names import code_names
from assets_core.code_version.normalize import code_parts, digest_of, literal_repr
from assets_core.lazymap import LazyMapping
from assets_core.model.spec import Asset

__all__ = ["CACHE_FORMAT", "CodeVersion", "CodeVersioner"]

#: Bump when the normalization changes: every code version changes with it.
_SCHEME = "lumbung-code/1"
#: Bump when the layout of the on-disk cache changes.
CACHE_FORMAT = 2
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """The code version of one asset.

    ``version`` is a hex digest, or the pin itself when the asset sets ``code_version``.
    ``components`` maps each piece of code that went into it (``"module:qualname"`` for the
    asset's function, every followed helper function or class, and every followed constant)
    to the hash of that piece alone, so a planner can name what changed. Empty for a pin.
    """

    version: str
    components: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)


# --- the versioner -------------------------------------------------------------------------


class _Piece:
    """One hashed piece of code and where its references are looked up."""

    __slots__ = ("closure", "digest", "edges", "file", "follow", "name", "ns", "refs")

    def __init__(
        self,
        name: str,
        digest: str,
        refs: Sequence[str] = (),
        ns: Mapping[str, Any] = _EMPTY,
        closure: Mapping[str, Any] = _EMPTY,
        follow: tuple[object, ...] = (),
        file: str | None = None,
    ) -> None:
        self.name = name
        #: the source file the digest was read from; None when the digest also depends on
        #: something no file shows (closure values, a code object), so results built on
        #: it are never cached across processes
        self.file = file
        self.digest = digest
        self.refs = refs
        self.ns = ns
        self.closure = closure
        self.follow = follow
        self.edges: list[_Piece] | None = None  # resolved on first use


class _StoredComponents(LazyMapping[str, str]):
    """A cached version's components, read from the cache's pieces table on first use (a plan
    of fresh assets compares versions only)."""

    __slots__ = ("_pieces", "_table")

    def __init__(self, table: list[Any], pieces: list[int]) -> None:
        self._table = table
        self._pieces = pieces
        self._data = None

    def _load(self) -> dict[str, str]:
        table = self._table
        return {str(table[i][0]): str(table[i][1]) for i in self._pieces}


class CodeVersioner:
    """Computes code versions; keeps parsed files and hashed pieces for its lifetime.

    ``cache_path``, when given, is a JSON file read at construction (a corrupt or foreign
    file is ignored and rewritten) and written atomically by ``save_cache``. It holds:

    - ``files``: each parsed source file as ``[mtime_ns, size, index]``, the index being JSON
      text decoded only when a version has to be computed from that file again;
    - ``results``: each asset's whole version as ``[version, pieces, paths]``, where
      ``pieces`` index the ``pieces`` table (``[name, digest]``, its components) and
      ``paths`` index the ``paths`` table (``[path, mtime_ns, size]``, the files it was read
      from). A result is reused while all its files keep their size and mtime; each file is
      stat'ed once however many results name it.
    """

    def __init__(self, cache_path: Path | None = None) -> None:
        self._cache_path = Path(cache_path) if cache_path is not None else None
        self._lock = threading.RLock()
        self._files: dict[str, tuple[tuple[int, int], FileIndex | None]] = {}
        self._seen_ns: dict[str, object] = {}  # path -> the module namespace last checked
        self._stored: dict[str, Any] = {}  # [mtime_ns, size, index text] read from the cache
        self._dirty = False
        self._fn_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._asset_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._cls_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._const_memo: dict[tuple[str, str, int], tuple[object, _Piece | None]] = {}
        self._mod_memo: ModuleMemo = {}
        self._versions: dict[int, tuple[Asset, str, CodeVersion]] = {}
        # whole versions read from the cache file, and the two tables they index
        self._stored_results: dict[str, Any] = {}
        self._stored_paths: list[Any] = []
        self._stored_pieces: list[Any] = []
        # (stored path index, id(namespace)) -> (namespace, whether the file is unchanged)
        self._path_ok: dict[tuple[int, int], tuple[object, bool]] = {}
        # whole versions computed in this process: version, components, file signatures
        self._results: dict[str, tuple[str, Mapping[str, str], dict[str, tuple[int, int]]]] = {}
        if self._cache_path is not None:
            self._load_cache(self._cache_path)

    # -- public ----------------------------------------------------------------------------

    def version_of(self, asset: Asset, io_manager: str) -> CodeVersion:
        """The code version of ``asset`` stored through the IO manager named ``io_manager``."""
        spec = asset.spec
        if spec.code_version is not None:
            return CodeVersion(spec.code_version)
        hit = self._versions.get(id(asset))
        if hit is not None and hit[0] is asset and hit[1] == io_manager:
            return hit[2]
        result_key = self._result_key(asset, io_manager)
        if result_key is not None:
            cached = self._cached_result(result_key, asset.fn.__globals__)
            if cached is not None:
                self._versions[id(asset)] = (asset, io_manager, cached)
                return cached
        with self._lock:
            components, files = self._components(self._root_piece(asset.fn))
        parts = [_SCHEME]
        parts += [f"{name}={digest}" for name, digest in components.items()]
        parts.append(f"io={io_manager}")
        parts += [f"in:{p}={k}" for p, k in sorted((p, str(k)) for p, k in spec.ins.items())]
        parts += [f"dep:{d}" for d in sorted(str(d) for d in spec.deps)]
        version = CodeVersion(digest_of(*parts), components)
        self._versions[id(asset)] = (asset, io_manager, version)
        if result_key is not None and files is not None:
            sigs = {f: _signature(f) for f in files}
            if all(sig is not None for sig in sigs.values()):
                with self._lock:
                    self._results[result_key] = (
                        version.version,
                        dict(components),
                        {f: sig for f, sig in sigs.items() if sig is not None},
                    )
                    self._dirty = True
        return version

    # -- whole results across processes ----------------------------------------------------

    @staticmethod
    def _result_key(asset: Asset, io_manager: str) -> str | None:
        fn = asset.fn
        code = getattr(fn, "__code__", None)
        if not isinstance(fn, FunctionType) or code is None or code.co_filename.startswith("<"):
            return None
        spec = asset.spec
        # ins and deps keep declaration order, which the asset's own source fixes.
        # "/".join(key) is str(key) without a Python-level call: this runs once per asset
        ins = ",".join([p + "=" + "/".join(k) for p, k in spec.ins.items()]) if spec.ins else ""
        deps = ",".join(["/".join(d) for d in spec.deps]) if spec.deps else ""
        where = f"{code.co_filename}:{fn.__qualname__}@{code.co_firstlineno}"
        return f"{'/'.join(spec.key)}|{where}|{io_manager}|{ins}|{deps}"

    def _cached_result(self, result_key: str, ns: object) -> CodeVersion | None:
        """A version computed by an earlier process, if none of the files it was read from
        changed since. Files are stat'ed once per module namespace, so a module imported
        anew after an edit is checked again."""
        raw = self._stored_results.get(result_key)
        if raw is None:
            return None
        try:
            version, pieces, paths = raw
            ok = self._path_ok
            for i in paths:
                seen = ok.get((i, id(ns)))
                if seen is None or seen[0] is not ns:
                    seen = ok[i, id(ns)] = (ns, self._stored_path_unchanged(i))
                if not seen[1]:
                    return None
            if pieces and not 0 <= min(pieces) <= max(pieces) < len(self._stored_pieces):
                return None  # a damaged cache: compute it again
            # the cache file's entries are never changed after reading: share, do not copy
            return CodeVersion(str(version), _StoredComponents(self._stored_pieces, pieces))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None

    def _stored_path_unchanged(self, i: int) -> bool:
        """Whether the file of the cache's paths table at ``i`` still has its signature."""
        try:
            path, mtime_ns, size = self._stored_paths[i]
        except (IndexError, TypeError, ValueError):
            return False
        return isinstance(path, str) and _signature(path) == (mtime_ns, size)

    def save_cache(self) -> None:
        """Write the cache file if one was given and something new was parsed. A cache that
        cannot be written is skipped silently: it only saves time."""
        if self._cache_path is None or not self._dirty:
            return
        with self._lock:
            files: dict[str, Any] = {}
            for path, raw in self._stored.items():
                if path not in self._files and _signature(path) == _raw_signature(raw):
                    files[path] = raw
            for path, ((mtime_ns, size), index) in self._files.items():
                if index is not None:
                    text = json.dumps(index.to_json(), separators=(",", ":"))
                    files[path] = [mtime_ns, size, text]
            paths: dict[tuple[str, int, int], int] = {}
            pieces: dict[tuple[str, str], int] = {}

            def at(table: dict[Any, int], item: Any) -> int:
                found = table.get(item)
                if found is None:
                    found = table[item] = len(table)
                return found

            results: dict[str, list[Any]] = {}
            for key, (version, components, sigs) in self._results.items():
                results[key] = [
                    version,
                    [at(pieces, item) for item in components.items()],
                    [at(paths, (f, *sig)) for f, sig in sigs.items()],
                ]
            unchanged: dict[int, bool] = {}
            for key, raw in self._stored_results.items():
                if key in results:
                    continue
                try:
                    version, old_pieces, old_paths = raw
                    if not all(
                        unchanged[i]
                        if i in unchanged
                        else unchanged.setdefault(i, self._stored_path_unchanged(i))
                        for i in old_paths
                    ):
                        continue
                    results[key] = [
                        version,
                        [at(pieces, tuple(self._stored_pieces[i])) for i in old_pieces],
                        [at(paths, tuple(self._stored_paths[i])) for i in old_paths],
                    ]
                except (IndexError, TypeError, ValueError):
                    continue
            payload = {
                "format": CACHE_FORMAT,
                "python": _python_tag(),
                "files": files,
                "paths": [list(p) for p in paths],
                "pieces": [list(p) for p in pieces],
                "results": results,
            }
            try:
                _write_atomic(self._cache_path, json.dumps(payload, separators=(",", ":")))
            except OSError:
                return
            self._dirty = False

    # -- cache file ------------------------------------------------------------------------

    def _load_cache(self, path: Path) -> None:
        try:
            payload = _read_json(path)
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            self._dirty = True  # rewrite it
            return
        if (
            not isinstance(payload, dict)
            or payload.get("format") != CACHE_FORMAT
            or payload.get("python") != _python_tag()
            or not isinstance(payload.get("files"), dict)
        ):
            self._dirty = True
            return
        self._stored = payload["files"]
        results, paths, pieces = (payload.get(k) for k in ("results", "paths", "pieces"))
        if (
            isinstance(results, dict)
            and isinstance(paths, list)
            and isinstance(pieces, list)
            and all(  # read lazily later (_StoredComponents), so checked whole now
                type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is str
                for p in pieces
            )
        ):
            self._stored_results, self._stored_paths, self._stored_pieces = results, paths, pieces

    def _index_for(self, path: str, ns: object = None) -> FileIndex | None:
        """The index of ``path``. A file is stat'ed again only when a namespace not seen with
        it yet asks (a module imported anew), so a re-imported, edited file is re-read."""
        known = self._files.get(path)
        if known is not None and ns is not None and self._seen_ns.get(path) is ns:
            return known[1]
        sig = _signature(path)
        if sig is None:
            return None
        if ns is not None:
            self._seen_ns[path] = ns
        if known is not None and known[0] == sig:
            return known[1]
        index: FileIndex | None = None
        raw = self._stored.get(path)
        if raw is not None and _raw_signature(raw) == sig:
            try:
                index = FileIndex.from_json(json.loads(raw[2]))
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                index = None
        if index is None:
            try:
                index = index_source(Path(path).read_bytes(), path)
            except (OSError, SyntaxError, ValueError):
                index = None
            self._dirty = True
        self._files[path] = (sig, index)
        return index

    # -- walking references ----------------------------------------------------------------

    def _components(self, root: _Piece) -> tuple[Mapping[str, str], set[str] | None]:
        """Every piece reachable from ``root`` by name, and the files they were read from
        (``None`` when some piece depends on more than a file shows)."""
        found: dict[str, str] = {}
        clashes: dict[str, set[str]] = {}
        files: set[str] | None = set()
        seen = {id(root)}
        stack = [root]
        while stack:
            piece = stack.pop()
            if files is not None:
                if piece.file is None:
                    files = None
                else:
                    files.add(piece.file)
            old = found.setdefault(piece.name, piece.digest)
            if old != piece.digest:
                clashes.setdefault(piece.name, {old}).add(piece.digest)
            edges = piece.edges
            if edges is None:
                edges = piece.edges = self._edges(piece)
            for target in edges:
                if id(target) not in seen:
                    seen.add(id(target))
                    stack.append(target)
        for name, digests in clashes.items():
            found[name] = digest_of(*sorted(digests))
        return MappingProxyType(dict(sorted(found.items()))), files

    def _edges(self, piece: _Piece) -> list[_Piece]:
        """The pieces ``piece`` references, resolved once (the code is taken as loaded)."""
        out: list[_Piece] = []
        for ref in piece.refs:
            target = self._resolve(ref, piece.ns, piece.closure)
            if target is not None:
                out.append(target)
        for obj in piece.follow:
            target = self._piece_for(obj, None, "")
            if target is not None:
                out.append(target)
        return out

    def _resolve(
        self, ref: str, ns: Mapping[str, Any], closure: Mapping[str, Any]
    ) -> _Piece | None:
        root, _, rest = ref.partition(".")
        owner: str | None
        if root in closure:
            obj, owner = closure[root], None
        else:
            obj = ns.get(root, _MISSING)
            if obj is _MISSING:
                return None  # a builtin, or a name never bound
            owner = ns.get("__name__")
        name = root
        if isinstance(obj, ModuleType):
            for part in rest.split(".") if rest else ():
                if not module_is_local(obj, self._mod_memo):
                    return None
                owner, name = obj.__name__, part
                try:
                    obj = getattr(obj, part)
                except Exception:  # a module __getattr__ may raise anything
                    return None
                if not isinstance(obj, ModuleType):
                    break
            if isinstance(obj, ModuleType):
                return None
        return self._piece_for(obj, owner if isinstance(owner, str) else None, name)

    def _piece_for(self, obj: object, owner: str | None, name: str) -> _Piece | None:
        if isinstance(obj, FunctionType):
            return self._fn_piece(obj, as_asset=False)
        if isinstance(obj, Asset):
            return self._root_piece(obj.fn)
        if isinstance(obj, type):
            return self._class_piece(obj, owner, name)
        if isinstance(obj, MethodType):
            return self._piece_for(obj.__func__, None, "")
        if isinstance(obj, ModuleType):
            return None
        if owner is not None:
            piece = self._const_piece(owner, name, obj)
            if piece is not None:
                return piece
        # No binding statement found: follow what a wrapper or partial calls.
        if isinstance(obj, functools.partial):
            return self._piece_for(obj.func, None, "")
        wrapped = _wrapped(obj)
        return None if wrapped is None else self._piece_for(wrapped, None, "")

    def _root_piece(self, fn: object) -> _Piece:
        piece = self._fn_piece(fn, as_asset=True) if isinstance(fn, FunctionType) else None
        if piece is None and not isinstance(fn, FunctionType):
            target = fn if isinstance(fn, type | functools.partial | MethodType) else type(fn)
            piece = self._piece_for(target, None, "")
        if piece is None:  # code from outside the project: name it, do not read it
            module = getattr(fn, "__module__", None) or "?"
            qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
            piece = _Piece(f"{module}:{qual}", digest_of("external", str(module), str(qual)))
        return piece

    # -- pieces ----------------------------------------------------------------------------

    def _fn_piece(self, fn: FunctionType, *, as_asset: bool) -> _Piece | None:
        memo = self._asset_memo if as_asset else self._fn_memo
        hit = memo.get(id(fn))
        if hit is not None and hit[0] is fn:
            return hit[1]
        piece = self._build_fn(fn, as_asset=as_asset)
        memo[id(fn)] = (fn, piece)
        return piece

    def _build_fn(self, fn: FunctionType, *, as_asset: bool) -> _Piece | None:
        wrapped = _wrapped(fn)
        if not fn_is_local(fn, self._mod_memo):
            return None if wrapped is None else self._piece_for(wrapped, None, "")
        code = fn.__code__
        module = fn.__module__ or "<exec>"
        qual = fn.__qualname__
        closure: dict[str, Any] = {}
        values: list[str] = []
        for var, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            text = literal_repr(value)
            if text is None:
                closure[var] = value
            else:
                values.append(f"{var}={text}")
        lambda_ = qual.endswith("<lambda>")
        name = f"{module}:{qual}@{code.co_firstlineno}" if lambda_ else f"{module}:{qual}"
        file = code.co_filename
        index = self._index_for(file, fn.__globals__) if is_local_file(file) else None
        entry: Def | None = None
        if index is not None:
            if lambda_:
                entry = index.defs.get(f"<lambda>@{code.co_firstlineno}")
            else:
                entry = index.defs.get(f"{qual}@{code.co_firstlineno}")
                if entry is None and qual in index.last:
                    entry = index.defs[index.last[qual]]
        refs: Sequence[str]
        if entry is not None:
            body, deco, body_refs, deco_refs = entry
            digest = body if as_asset else digest_of(body, deco)
            refs = body_refs if as_asset else body_refs + deco_refs
        else:  # no readable source: the code object, less stable (changes with Python)
            parts: list[str] = []
            code_parts(code, parts, fn.__doc__)
            digest = digest_of("code", *parts)
            globals_ = fn.__globals__
            refs = [n for n in dict.fromkeys(code_names(code)) if n in globals_]
        if values:
            digest = digest_of(digest, *values)
        follow = (wrapped,) if wrapped is not None else ()
        source = file if entry is not None and not values and not closure else None
        return _Piece(name, digest, refs, fn.__globals__, closure or _EMPTY, follow, source)

    def _class_piece(self, cls: type, owner: str | None, name: str) -> _Piece | None:
        hit = self._cls_memo.get(id(cls))
        if hit is not None and hit[0] is cls:
            return hit[1]
        piece = self._build_class(cls, owner, name)
        self._cls_memo[id(cls)] = (cls, piece)
        return piece

    def _build_class(self, cls: type, owner: str | None, name: str) -> _Piece | None:
        module = sys.modules.get(cls.__module__)
        if module is None or not module_is_local(module, self._mod_memo):
            return None
        file = getattr(module, "__file__", None)
        index = self._index_for(file, vars(module)) if isinstance(file, str) else None
        qual = cls.__qualname__
        entry: Def | None = None
        if index is not None:
            first = getattr(cls, "__firstlineno__", None)  # Python >= 3.13
            if first is not None:
                entry = index.defs.get(f"{qual}@{first}")
            if entry is None and qual in index.last:
                entry = index.defs[index.last[qual]]
        if entry is not None:
            body, deco, refs, deco_refs = entry
            piece_name = f"{cls.__module__}:{qual}"
            return _Piece(
                piece_name, digest_of(body, deco), refs + deco_refs, vars(module), file=file
            )
        if owner is not None:  # made by a call (namedtuple, type(...)): its binding statement
            piece = self._const_piece(owner, name, cls)
            if piece is not None:
                return piece
        parts: list[str] = []
        for attr, value in sorted(vars(cls).items()):
            if isinstance(value, FunctionType):
                parts.append(attr)
                code_parts(value.__code__, parts, value.__doc__)
        return _Piece(f"{cls.__module__}:{qual}", digest_of("class", *parts))

    def _const_piece(self, owner: str, name: str, value: object, depth: int = 0) -> _Piece | None:
        key = (owner, name, id(value))
        hit = self._const_memo.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        piece = self._build_const(owner, name, value, depth)
        self._const_memo[key] = (value, piece)
        return piece

    def _build_const(self, owner: str, name: str, value: object, depth: int) -> _Piece | None:
        module = sys.modules.get(owner)
        if module is None or not module_is_local(module, self._mod_memo):
            return None
        file = getattr(module, "__file__", None)
        index = self._index_for(file, vars(module)) if isinstance(file, str) else None
        if index is not None:
            binding = index.consts.get(name)
            if binding is not None:
                return _Piece(f"{owner}:{name}", binding[0], binding[1], vars(module), file=file)
            imported = index.imports.get(name)
            if imported is not None and depth < 8:
                source, attr, level = imported
                try:
                    target = resolve_name("." * level + source, module.__package__ or "")
                except (ImportError, ValueError):
                    target = ""
                if target:
                    return self._const_piece(target, attr, value, depth + 1)
        text = literal_repr(value)
        return None if text is None else _Piece(f"{owner}:{name}", digest_of("value", text))


def _wrapped(obj: object) -> object | None:
    """``obj.__wrapped__`` (functools.wraps, lru_cache) without triggering ``__getattr__``."""
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None
    return attrs.get("__wrapped__") if isinstance(attrs, dict) else None


def _read_json(path: Path) -> Any:
    """``json.loads`` of a file with the collector off: decoding makes a few objects per asset,
    all kept, and the collector's full passes over them made reading the cache of 100,000
    assets thirty times slower."""
    data = path.read_bytes()
    enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(data)
    finally:
        if enabled:
            gc.enable()


def _signature(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # noqa: PTH116 - hot path, no Path object
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _raw_signature(raw: object) -> tuple[int, int] | None:
    """The (mtime_ns, size) a cached file entry ``[mtime_ns, size, index]`` was parsed at."""
    if isinstance(raw, list) and len(raw) == 3:
        mtime_ns, size = raw[0], raw[1]
        if isinstance(mtime_ns, int) and isinstance(size, int):
            return (mtime_ns, size)
    return None


def _python_tag() -> str:
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
