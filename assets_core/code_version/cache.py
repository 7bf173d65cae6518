"""What a versioner keeps of source files and whole versions, and their on-disk form: each file's
index, parsed once per signature, and each asset's whole version with the files it was read
from, so a new process reuses both while those files are unchanged. The cache file is JSON,
read once (a corrupt or foreign file is ignored and rewritten), checked lazily entry by entry,
and written atomically; its layout is ``CACHE_FORMAT``.

A file's signature is the hash of the bytes its module was compiled from when a project loader
imported it (``assets_core.model.loader``: then the versioner reads those bytes, never the
disk again), else its mtime, size and ctime (``cp -p`` keeps the first two, never the third).

The index of a module the project loader imported is kept beside its bytecode instead
(``__pycache__/m.cpython-311.lumbung-3.json``: the bytes' hash and the index), as Python keeps
the bytecode itself and under the same rule (not when bytecode is not written): a run into new
storage of a project imported before reads it instead of parsing every file again. It is used
only for the very bytes it was made from, by the same interpreter and ``CACHE_FORMAT``. An
index kept there is not written into the cache file as well: each index is kept in one place,
and the cache file that every plan reads holds only what it needs.

The whole versions of a module's assets are kept in the same file beside its bytecode too
(``results``: each one's version, components and the signatures of the files it was read
from), written by the process that computed them. New storage has no cache file: its first
plan takes them from there (checked like the cache file's, file by signature) instead of
computing every version again, and its cache file holds them from then on, so later plans of
that storage read one file.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FunctionType
from typing import Any

from assets_core.code_version.index import FileIndex, index_source
from assets_core.code_version.version import CodeVersion
from assets_core.lazymap import LazyMapping
from assets_core.model.atomic import write_atomic
from assets_core.model.loader import Snapshot, cache_path, snapshot
from assets_core.model.spec import AssetSpec

__all__ = ["CACHE_FORMAT", "VersionCache", "result_key"]

#: Bump when the layout of the on-disk cache changes.
CACHE_FORMAT = 3


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


def result_key(spec: AssetSpec, fn: Callable[..., Any], io_manager: str) -> str | None:
    """The key of a whole version in the cache (an asset of ``spec`` whose code is ``fn``), or
    None when it is not cached across processes (the function has no source file)."""
    code = getattr(fn, "__code__", None)
    if not isinstance(fn, FunctionType) or code is None or code.co_filename.startswith("<"):
        return None
    # ins and deps keep declaration order, which the asset's own source fixes.
    # "/".join(key) is str(key) without a Python-level call: this runs once per asset
    ins = ",".join([p + "=" + "/".join(k) for p, k in spec.ins.items()]) if spec.ins else ""
    deps = ",".join(["/".join(d) for d in spec.deps]) if spec.deps else ""
    # the asset's key, where its function is defined, its IO manager, ins and deps
    key = (
        f"{'/'.join(spec.key)}|{code.co_filename}:{fn.__qualname__}@{code.co_firstlineno}|"
        f"{io_manager}|{ins}|{deps}"
    )
    if spec.partitions is not None or spec.mappings:
        key += "|" + ",".join(partition_parts(spec))
    return key


def partition_parts(spec: AssetSpec) -> list[str]:
    """What an asset's partitions add to its code version: the definition's token and each
    mapping given in ``ins=`` (nothing for an unpartitioned asset without mappings, so its
    version is what it was before partitions existed)."""
    parts = []
    if spec.partitions is not None:
        parts.append(f"partitions={spec.partitions.token()}")
    parts += [f"map:{p}={m.token()}" for p, m in sorted(spec.mappings.items())]
    return parts


class VersionCache:
    """A versioner's parsed files and whole versions, read from and saved to ``path``.

    ``path``, when given, is a JSON file read at construction (a corrupt or foreign file is
    ignored and rewritten) and written atomically by ``save``. It holds:

    - ``files``: each parsed source file whose index is not kept beside its bytecode, as
      ``[signature, index]``, the index being JSON text decoded only when a version has to be
      computed from that file again;
    - ``results``: each asset's whole version as ``[version, pieces, paths]``, where
      ``pieces`` index the ``pieces`` table (``[name, digest]``, its components) and
      ``paths`` index the ``paths`` table (``[path, signature]``, the files it was read
      from). A result is reused while all its files keep their signature; each file's is
      taken once however many results name it.

    ``lock`` is the owning versioner's: held while it records a result or saves, and by the
    versioner while it reads indexes (``index_for``).
    """

    def __init__(self, path: Path | None, lock: threading.RLock) -> None:
        self._path = Path(path) if path is not None else None
        self._lock = lock
        self._files: dict[str, tuple[str, FileIndex | None]] = {}
        self._seen_ns: dict[str, object] = {}  # path -> the module namespace last checked
        self._stored: dict[str, Any] = {}  # [signature, index text] read from the cache
        self._beside: set[str] = set()  # files whose index is kept beside their bytecode
        # path -> (the snapshot it was read for, what is kept beside its bytecode)
        self._payloads: dict[str, tuple[Snapshot, dict[str, Any] | None]] = {}
        self._homes: dict[str, list[str]] = {}  # path -> keys of results computed here
        self._dirty = False
        # whole versions read from the cache file, and the two tables they index
        self._stored_results: dict[str, Any] = {}
        self._stored_paths: list[Any] = []
        self._stored_pieces: list[Any] = []
        # id(namespace) -> (namespace, {stored path index: whether the file is unchanged})
        self._path_ok: dict[int, tuple[object, dict[int, bool]]] = {}
        # whole versions computed in this process: version, components, file signatures
        self._results: dict[str, tuple[str, Mapping[str, str], dict[str, str]]] = {}
        if self._path is not None:
            self._load(self._path)

    # -- whole results across processes ----------------------------------------------------

    def result(self, key: str, ns: object, home: str | None = None) -> CodeVersion | None:
        """A version computed by an earlier process, if none of the files it was read from
        changed since. Files are stat'ed once per module namespace, so a module imported
        anew after an edit is checked again. ``home``, the file the asset's function is
        defined in: where else to look (beside its bytecode) when the cache file has none."""
        raw = self._stored_results.get(key)
        if raw is None:
            return None if home is None else self._result_beside(key, home)
        try:
            version, pieces, paths = raw
            seen = self._path_ok.get(id(ns))
            if seen is None or seen[0] is not ns:
                seen = self._path_ok[id(ns)] = (ns, {})
            checked = seen[1]
            for i in paths:
                ok = checked.get(i)
                if ok is None:
                    ok = checked[i] = self._path_unchanged(i)
                if not ok:
                    return None
            if pieces and not 0 <= min(pieces) <= max(pieces) < len(self._stored_pieces):
                return None  # a damaged cache: compute it again
            # the cache file's entries are never changed after reading: share, do not copy
            return CodeVersion(str(version), _StoredComponents(self._stored_pieces, pieces))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None

    def record(
        self,
        key: str,
        version: str,
        components: Mapping[str, str],
        files: Iterable[str],
        home: str | None = None,
    ) -> None:
        """Keep a version computed in this process, with the files it was read from, for the
        next process; not if one of those files is gone. Each file is kept with the signature
        it had when it was read, so an edit made since makes the next process compute anew.
        ``home`` (see ``result``): where it is kept beside the bytecode too."""
        known = self._files
        sigs = {f: known[f][0] if f in known else _signature(f) for f in files}
        if all(sig is not None for sig in sigs.values()):
            with self._lock:
                self._results[key] = (
                    version,
                    dict(components),
                    {f: sig for f, sig in sigs.items() if sig is not None},
                )
                if home is not None:
                    self._homes.setdefault(home, []).append(key)
                self._dirty = True

    def _result_beside(self, key: str, home: str) -> CodeVersion | None:
        """A version kept beside the bytecode of ``home`` (``save``) by an earlier process,
        of the bytes ``home``'s module was compiled from now, if none of the files it was
        read from changed since: how a new storage of a project imported before finds its
        versions."""
        payload = self._payload_beside(home)
        raw = None if payload is None else payload.get("results", {}).get(key)
        if raw is None:
            return None
        try:
            version, components, sigs = raw
            if type(version) is not str or type(components) is not dict:
                return None
            if not all(_signature(f) == sig for f, sig in sigs.items()):
                return None
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        with self._lock:  # into the cache file too, which the next plan of this storage reads
            self._results[key] = (version, components, dict(sigs))
            self._dirty = True
        return CodeVersion(version, components)

    def _payload_beside(self, path: str) -> dict[str, Any] | None:
        """What is kept beside the bytecode of the module file ``path`` for the bytes its
        module was compiled from (read once per snapshot), or None."""
        snap = snapshot(path)
        if snap is None:
            return None
        seen = self._payloads.get(path)
        if seen is None or seen[0] is not snap:
            seen = self._payloads[path] = (snap, _read_beside(snap))
        return seen[1]

    def _path_unchanged(self, i: int) -> bool:
        """Whether the file of the cache's paths table at ``i`` still has its signature."""
        try:
            path, sig = self._stored_paths[i]
        except (IndexError, TypeError, ValueError):
            return False
        return isinstance(path, str) and _signature(path) == sig

    # -- parsed files ----------------------------------------------------------------------

    def index_for(self, path: str, ns: object = None) -> FileIndex | None:
        """The index of ``path``: of the bytes its module was compiled from when a project
        loader imported it, else of the file. Its signature is taken again only when a
        namespace not seen with it yet asks (a module imported anew), so a re-imported,
        edited file is read again."""
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
                index = FileIndex.from_json(json.loads(raw[1]))
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                index = None
        if index is None:
            snap = snapshot(path)
            index = _index_in(self._payload_beside(path))
            if index is not None:
                self._beside.add(path)
            else:
                try:
                    source = snap.source if snap is not None else Path(path).read_bytes()
                    index = index_source(source, path)
                except (OSError, SyntaxError, ValueError):
                    index = None
                if (
                    index is not None
                    and snap is not None
                    and self._keep_beside(snap, {"index": index.to_json()})
                ):
                    self._beside.add(path)
            self._dirty = True
        self._files[path] = (sig, index)
        return index

    # -- the file --------------------------------------------------------------------------

    def save(self) -> None:
        """Write the cache file if one was given and something new was parsed, and keep the
        versions computed here beside the bytecode of their modules. A cache that cannot be
        written is skipped silently: it only saves time."""
        if not self._dirty:
            return
        with self._lock:
            self._save_beside()
            if self._path is None:
                self._dirty = False
            else:
                self._save_file(self._path)

    def _save_beside(self) -> None:
        """Keep the versions computed in this process beside the bytecode of the module each
        asset is defined in, with what is kept there already (its index, its other assets'
        versions), for a new storage of the same project: each one's components and the
        signatures of the files it was read from, whole, as a new storage has no tables."""
        homes, self._homes = self._homes, {}
        for home, keys in homes.items():
            snap = snapshot(home)
            if snap is None:
                continue
            results = dict((self._payload_beside(home) or {}).get("results") or {})
            for key in keys:
                version, components, sigs = self._results[key]
                results[key] = [version, dict(components), sigs]
            self._keep_beside(snap, {"results": results})

    def _keep_beside(self, snap: Snapshot, fields: Mapping[str, Any]) -> bool:
        """Write ``fields`` (the index, or the versions) into what is kept beside the bytecode
        of ``snap``'s module, keeping the rest of it; whether it was written."""
        payload = {**(self._payload_beside(snap.path) or {"source": snap.digest}), **fields}
        if not _write_beside(snap, payload):
            return False
        self._payloads[snap.path] = (snap, payload)
        return True

    def _save_file(self, where: Path) -> None:
        """Write the cache file ``where`` (see the class docstring)."""
        files: dict[str, Any] = {}
        for path, raw in self._stored.items():
            if path not in self._files and _signature(path) == _raw_signature(raw):
                files[path] = raw
        for path, (sig, index) in self._files.items():
            if index is not None and path not in self._beside:
                text = json.dumps(index.to_json(), separators=(",", ":"))
                files[path] = [sig, text]
        paths: dict[tuple[str, str], int] = {}
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
                [at(paths, (f, sig)) for f, sig in sigs.items()],
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
                    else unchanged.setdefault(i, self._path_unchanged(i))
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
            write_atomic(where, json.dumps(payload, separators=(",", ":")))
        except OSError:
            return
        self._dirty = False

    def _load(self, path: Path) -> None:
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


def _signature(path: str) -> str | None:
    """``h:<hash>`` of the bytes a project loader compiled ``path`` from, else
    ``s:<mtime_ns>:<size>:<ctime_ns>`` of the file; ``None`` when it is gone."""
    snap = snapshot(path)
    if snap is not None:
        return "h:" + snap.digest
    try:
        st = os.stat(path)  # noqa: PTH116 - hot path, no Path object
    except OSError:
        return None
    return f"s:{st.st_mtime_ns}:{st.st_size}:{st.st_ctime_ns}"


def _beside(path: str) -> str | None:
    """Where the index of the module file ``path`` is kept beside its bytecode, or None."""
    cached = cache_path(path)
    if cached is None or not cached.endswith(".pyc"):
        return None
    return f"{cached[:-4]}.lumbung-{CACHE_FORMAT}.json"


def _read_beside(snap: Snapshot) -> dict[str, Any] | None:
    """What is kept beside the bytecode of ``snap``'s module (``{"source": the bytes' hash,
    "index": ..., "results": ...}``), if it was made from the same bytes; None when there is
    nothing, or another's, or something damaged."""
    where = _beside(snap.path)
    if where is None:
        return None
    try:
        with open(where, "rb") as fh:
            raw = json.loads(fh.read())
        if not isinstance(raw, dict) or raw.get("source") != snap.digest:
            return None
        if not isinstance(raw.get("results", {}), dict):
            return None
        return raw
    except (OSError, ValueError):
        return None


def _index_in(payload: Mapping[str, Any] | None) -> FileIndex | None:
    """The index in what is kept beside a module's bytecode, if there is a readable one."""
    if payload is None or "index" not in payload:
        return None
    try:
        return FileIndex.from_json(payload["index"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


def _write_beside(snap: Snapshot, payload: Mapping[str, Any]) -> bool:
    """Keep ``payload`` beside the bytecode of ``snap``'s module, as the loader keeps the
    bytecode (not when Python is told not to write it); skipped when it cannot be written.
    Whether it was written."""
    where = _beside(snap.path)
    if where is None or sys.dont_write_bytecode:
        return False
    try:
        write_atomic(Path(where), json.dumps(payload, separators=(",", ":")))
    except OSError:
        return False
    return True


def _raw_signature(raw: object) -> str | None:
    """The signature a cached file entry ``[signature, index]`` was parsed at."""
    if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str):
        return raw[0]
    return None


def _python_tag() -> str:
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
