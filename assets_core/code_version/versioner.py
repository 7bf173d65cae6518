"""``CodeVersioner`` and ``CodeVersion``, the public API: an asset's version from the pieces of
code it reaches (its function, then every project-local function, class and constant those
reference, resolved through globals and closure cells, transitively) and the options that
change its output. Pieces, their resolved references and each asset's result are memoized per
object for the versioner's lifetime: a versioner takes the loaded code as it is. A module
imported anew (new objects) is seen, and its file is re-read if it changed; after reloading
modules in place, make a new versioner (a new ``Definitions`` does). The package docstring
says what counts in a version.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from collections.abc import Mapping, Sequence
from importlib.util import resolve_name
from pathlib import Path
from types import FunctionType, MappingProxyType, MethodType, ModuleType
from typing import Any

from assets_core.code_version.cache import (
    CACHE_FORMAT,
    VersionCache,
    partition_parts,
    result_key,
)
from assets_core.code_version.index import Def
from assets_core.code_version.locality import (
    ModuleMemo,
    fn_is_local,
    is_local_file,
    module_is_local,
)
from assets_core.code_version.names import code_names
from assets_core.code_version.normalize import code_parts, digest_of, literal_repr
from assets_core.code_version.version import EMPTY, CodeVersion
from assets_core.model.kinds import AnyAsset
from assets_core.model.spec import Asset

__all__ = ["CACHE_FORMAT", "CodeVersion", "CodeVersioner"]

#: Bump when the normalization changes: every code version changes with it.
_SCHEME = "lumbung-code/1"
_MISSING: Any = object()


class _Piece:
    """One hashed piece of code and where its references are looked up."""

    __slots__ = ("closure", "digest", "edges", "file", "follow", "name", "ns", "refs")

    def __init__(
        self,
        name: str,
        digest: str,
        refs: Sequence[str] = (),
        ns: Mapping[str, Any] = EMPTY,
        closure: Mapping[str, Any] = EMPTY,
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


class CodeVersioner:
    """Computes code versions; keeps parsed files and hashed pieces for its lifetime.

    ``cache_path``, when given, is a JSON file read at construction (a corrupt or foreign
    file is ignored and rewritten) and written atomically by ``save_cache``: the files parsed
    and each asset's whole version, reused by the next process while the files they were read
    from are unchanged (``cache.VersionCache`` describes its layout).
    """

    def __init__(self, cache_path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._cache = VersionCache(cache_path, self._lock)
        self._fn_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._asset_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._cls_memo: dict[int, tuple[object, _Piece | None]] = {}
        self._const_memo: dict[tuple[str, str, int], tuple[object, _Piece | None]] = {}
        self._mod_memo: ModuleMemo = {}
        self._versions: dict[int, tuple[AnyAsset, str, CodeVersion]] = {}

    # -- public ----------------------------------------------------------------------------

    def version_of(self, asset: AnyAsset, io_manager: str, root: Path | None = None) -> CodeVersion:
        """The code version of ``asset`` stored through the IO manager named ``io_manager``:
        what its kind's ``code()`` names (Python code followed through its helpers, texts,
        files read from ``root``), and the options that change its output."""
        spec = asset.spec
        if spec.code_version is not None:
            return CodeVersion(spec.code_version)
        hit = self._versions.get(id(asset))
        if hit is not None and hit[0] is asset and hit[1] == io_manager:
            return hit[2]
        source = asset.code()
        fn = source.function
        key = home = None
        if fn is not None and not source.texts and not source.files:
            key = result_key(asset.spec, fn, io_manager)
            if key is not None:  # a function with a source file (``result_key``)
                home = fn.__code__.co_filename
                cached = self._cache.result(key, getattr(fn, "__globals__", None), home)
                if cached is not None:
                    self._versions[id(asset)] = (asset, io_manager, cached)
                    return cached
        components: dict[str, str] = {}
        files: set[str] | None = set()
        if fn is not None:
            with self._lock:
                found, files = self._components(self._root_piece(fn))
            components.update(found)
        for name, text in source.texts:
            components[name] = digest_of(text)
        for name in source.files:
            components[f"file:{name}"] = _file_digest((root or Path.cwd()) / name)
        parts = [_SCHEME]
        parts += [f"{name}={digest}" for name, digest in components.items()]
        parts.append(f"io={io_manager}")
        parts += [f"in:{p}={k}" for p, k in sorted((p, str(k)) for p, k in spec.ins.items())]
        parts += [f"dep:{d}" for d in sorted(str(d) for d in spec.deps)]
        parts += partition_parts(spec)
        version = CodeVersion(digest_of(*parts), components)
        if not source.files:  # files are read again each time: a long session sees edits
            self._versions[id(asset)] = (asset, io_manager, version)
        if key is not None and files is not None:
            self._cache.record(key, version.version, components, files, home)
        return version

    def version_of_function(self, fn: object) -> str:
        """The code version of a function on its own (a custom data check's): its normalized
        source, followed into the project-local code it uses."""
        with self._lock:
            found, _ = self._components(self._root_piece(fn))
        return digest_of(_SCHEME, *(f"{name}={digest}" for name, digest in found.items()))

    def save_cache(self) -> None:
        """Write the cache file if one was given and something new was parsed. A cache that
        cannot be written is skipped silently: it only saves time."""
        self._cache.save()

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
        index = self._cache.index_for(file, fn.__globals__) if is_local_file(file) else None
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
        return _Piece(name, digest, refs, fn.__globals__, closure or EMPTY, follow, source)

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
        index = self._cache.index_for(file, vars(module)) if isinstance(file, str) else None
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
        index = self._cache.index_for(file, vars(module)) if isinstance(file, str) else None
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


def _file_digest(path: Path) -> str:
    """The hash of a file read as code (``missing`` when it is not there)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"
