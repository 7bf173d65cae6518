"""IO managers by name: the ones a session was given, ``memory``, the ones built into Lumbung
(``parquet`` and ``duckdb``, in ``BUILT_IN``) and those installed by other distributions under
the ``lumbung.io_managers`` entry point group.

A built-in or installed manager is built on first use from the storage folder (its factory
takes the folder: ``io_managers.parquet_storage:from_storage``, and the config's location for
it when it gives one), once per registry, and closed with it. A worker process builds a
registry from the storage folder alone, so it needs nothing else of the session that planned
the run.

The entry points are read only for a name that is neither given, built in nor ``memory``, or
to list every name: reading them imports ``importlib.metadata`` and scans every installed
distribution's metadata (about 20 ms together), which a project using Lumbung's own managers
never needs.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING, cast

from assets_core.errors import IOManagerError
from assets_core.storage.io import IOManager, MemoryIOManager, open_read_only

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "MEMORY", "IOManagers", "KnownNames", "installed_names"]

ENTRY_POINT_GROUP = "lumbung.io_managers"
MEMORY = "memory"

#: the managers that ship with Lumbung, by name: each factory ("module:function"), imported on
#: first use, takes the storage folder (and the config's location for it, when it gives one)
BUILT_IN: Mapping[str, str] = {
    "parquet": "io_managers.parquet_storage:from_storage",
    "duckdb": "io_managers.duckdb:from_storage",
}


@functools.cache
def _installed() -> dict[str, EntryPoint]:
    """The installed entry points, read once per process (a scan of every installed
    distribution's metadata), the built-in names left out: those are Lumbung's own."""
    from importlib import metadata

    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found if ep.name not in BUILT_IN and ep.name != MEMORY}


def installed_names() -> set[str]:
    """The names every registry knows: ``memory``, the built-in ones and the installed entry
    points (this reads the entry points)."""
    return {MEMORY, *BUILT_IN, *_installed()}


class KnownNames(Set[str]):
    """The names a registry can give a manager for, as a set: asking whether it holds a name
    given, built in or ``memory`` reads no entry points; any other name, or listing them all,
    reads them (once per process)."""

    def __init__(self, given: Collection[str] = ()) -> None:
        self._given = frozenset(given)

    def __contains__(self, name: object) -> bool:
        return name in self._given or name == MEMORY or name in BUILT_IN or name in _installed()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._given | installed_names()))

    def __len__(self) -> int:
        return len(self._given | installed_names())


def _factory(name: str) -> Callable[..., object]:
    """The factory of the built-in or installed manager ``name``."""
    target = BUILT_IN.get(name)
    if target is not None:
        module, _, attr = target.partition(":")
        return cast("Callable[..., object]", getattr(importlib.import_module(module), attr))
    ep = _installed().get(name)
    if ep is None:
        raise IOManagerError(
            f"unknown io manager '{name}'; register it with Session(defs, io_managers={{...}})."
        )
    return cast("Callable[..., object]", ep.load())


class IOManagers:
    """The IO managers of one storage folder, by name (thread-safe; built on first use).

    ``read_only``: the registry of a session that never writes; each manager it builds is
    asked to open its storage read-only (``open_read_only``). Managers it was given stay as
    they were given."""

    def __init__(
        self,
        storage: Path,
        given: Mapping[str, IOManager] | None = None,
        *,
        read_only: bool = False,
        locations: Mapping[str, str] | None = None,
    ) -> None:
        self.storage = storage
        self.read_only = read_only
        #: where a built-in or installed manager stores, by name, when the config says (a
        #: folder or a URI); its factory is given it after the storage folder
        self.locations = dict(locations or {})
        self._given = dict(given or {})
        self._built: dict[str, IOManager] = {}
        self._lock = threading.Lock()

    def names(self) -> KnownNames:
        """Every name this registry can give a manager for (asked one name at a time, it
        reads the entry points only for a name it was not given and Lumbung does not ship)."""
        return KnownNames(self._given)

    def get(self, name: str) -> IOManager:
        """The manager called ``name`` (built from the storage folder on first use)."""
        manager = self._given.get(name) or self._built.get(name)
        if manager is not None:
            return manager
        with self._lock:
            manager = self._built.get(name)
            if manager is None:
                manager = self._built[name] = self._build(name)
            return manager

    def _build(self, name: str) -> IOManager:
        if name == MEMORY:
            return MemoryIOManager()
        factory = _factory(name)
        location = self.locations.get(name)
        built = factory(self.storage) if location is None else factory(self.storage, location)
        manager = cast(IOManager, built)
        if self.read_only:
            open_read_only(manager)
        return manager

    def close(self) -> None:
        """Close every manager this registry built (a DuckDB warehouse file, say); managers it
        was given stay their owner's to close."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for manager in built:
            close = getattr(manager, "close", None)
            if callable(close):
                close()
