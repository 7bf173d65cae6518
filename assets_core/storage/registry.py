"""IO managers by name: the ones a session was given, ``memory``, and those installed under the
``lumbung.io_managers`` entry point group (``parquet`` and ``duckdb`` ship with Lumbung).

An installed manager is built on first use from the storage folder (its factory takes the
folder: ``io_managers.parquet_storage:from_storage``, and the config's location for it
when it gives one), once per registry, and closed with it. A worker
process builds a registry from the storage folder alone, so it needs nothing else of the
session that planned the run.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import cast

from assets_core.errors import IOManagerError
from assets_core.storage.io import IOManager, MemoryIOManager, open_read_only

__all__ = ["ENTRY_POINT_GROUP", "MEMORY", "IOManagers", "installed_names"]

ENTRY_POINT_GROUP = "lumbung.io_managers"
MEMORY = "memory"


@functools.cache
def _installed() -> dict[str, metadata.EntryPoint]:
    """The installed entry points, read once per process: reading them scans every installed
    distribution's metadata (about 7 ms with 120 of them), and a command asked three times."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def installed_names() -> set[str]:
    """The names every registry knows: ``memory`` and the installed entry points."""
    return {MEMORY, *_installed()}


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
        #: where an installed manager stores, by name, when the config says (a folder or a
        #: URI); its factory is given it after the storage folder
        self.locations = dict(locations or {})
        self._given = dict(given or {})
        self._built: dict[str, IOManager] = {}
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        """Every name this registry can give a manager for."""
        return set(self._given) | installed_names()

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
        ep = _installed().get(name)
        if ep is None:
            raise IOManagerError(
                f"unknown io manager '{name}'; register it with Session(defs, io_managers={{...}})."
            )
        location = self.locations.get(name)
        factory = ep.load()
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
