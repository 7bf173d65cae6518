"""Output locations as the state store keeps them: relative to the storage folder.

IO managers hand the store absolute locations, in three forms: a file path
(``/p/.lumbung/parquet/a/b.parquet``), a DuckDB table (``/p/.lumbung/warehouse.duckdb::a.b``,
where only the part before ``::`` is a path), and URIs (``memory://a``, ``s3://...``).
``stored_location`` writes one that lies under the storage folder relative to it, marked by a
leading ``./`` and with posix separators (``./parquet/a/b.parquet``,
``./warehouse.duckdb::a.b``); ``absolute_location`` reads it back under the folder the store is
opened at now, so a project folder copied or moved elsewhere finds its outputs at the new place.
Anything else (a URI, a path elsewhere) is kept exactly as it was handed in.

The ``./`` mark is what tells a relative location from a location some IO manager wrote that is
neither a path nor a URI (a bare table name, say): only marked text is ever re-rooted.

``written_under`` recognises the built-in managers' layouts, for a state file whose records were
written in another folder (a project copied before its state was upgraded).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

__all__ = [
    "RELATIVE",
    "absolute_location",
    "comparable_location",
    "relative_location",
    "stored_location",
    "written_under",
]

RELATIVE = "./"  # the mark of a location stored relative to the storage folder
_TABLE = "::"  # a DuckDB location: <database file>::<schema>.<table>
_PARQUET_DIR = "parquet"
_WAREHOUSE = "warehouse.duckdb"
_PART_FILE = "part.parquet"


def relative_location(location: str, folder: str) -> str | None:
    """``location`` as stored relative to ``folder`` (an absolute folder path), or ``None``
    when it does not lie strictly under that folder."""
    path, sep, table = location.partition(_TABLE)
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if len(path) <= len(prefix) or not os.path.normcase(path).startswith(os.path.normcase(prefix)):
        return None
    rest = path[len(prefix) :]
    if os.sep != "/":
        rest = rest.replace(os.sep, "/")
    if os.altsep and os.altsep != "/":  # pragma: no cover - no such platform today
        rest = rest.replace(os.altsep, "/")
    bounded = f"/{rest}/"  # each part between slashes: an empty, "." or ".." part shows as
    if "//" in bounded or "/./" in bounded or "/../" in bounded:  # one of these
        return None  # not a plain path below the folder (``a/../../b``, ``a//b``)
    return RELATIVE + rest + sep + table


def stored_location(location: str, folders: Sequence[str]) -> str:
    """The text a store keeps for ``location``: relative to the first of ``folders`` (the
    storage folder's absolute spellings: as named, and with symlinks resolved) that it lies
    under; unchanged when it lies under none of them."""
    for folder in folders:
        relative = relative_location(location, folder)
        if relative is not None:
            return relative
    return location


def absolute_location(stored: str, folder: str) -> str:
    """The location ``stored`` names when the storage folder is ``folder``: a relative one
    under ``folder``, anything else unchanged. The inverse of ``stored_location``."""
    if not stored.startswith(RELATIVE):
        return stored
    path, sep, table = stored[len(RELATIVE) :].partition(_TABLE)
    if os.sep != "/":
        path = path.replace("/", os.sep)
    return os.path.join(folder, path) + sep + table  # noqa: PTH118


def comparable_location(location: str) -> str:
    """``location`` (absolute) written so that two spellings of one place compare equal: its
    path normalized (``a//b``, ``a/./b``, and case where the system ignores it), a table part
    as it is; a URI exactly as written."""
    path, sep, table = location.partition(_TABLE)
    if "://" in path:
        return location
    return os.path.normcase(os.path.normpath(path)) + sep + table


def written_under(location: str, key: str, partition: str | None) -> str | None:
    """The storage folder a built-in IO manager wrote ``location`` under, for the step of asset
    ``key`` (``a/b``) and ``partition``; ``None`` when the location has neither built-in layout.

    Parquet: ``<folder>/parquet/<key path>.parquet``, or for a partition
    ``<folder>/parquet/<key path>/<dim>=<value>/.../part.parquet`` (a folder per dimension).
    DuckDB: ``<folder>/warehouse.duckdb::<schema>.<table>`` (``[<partition>]`` after it for a
    partition).
    """
    path, sep, table = location.partition(_TABLE)
    posix = path.replace("\\", "/") if os.sep != "/" else path
    if sep:
        suffix = f"/{_WAREHOUSE}"
        if not table or not posix.endswith(suffix):
            return None
        return path[: len(path) - len(suffix)] or None
    if partition is None:
        suffix = f"/{_PARQUET_DIR}/{key}.parquet"
        if not posix.endswith(suffix):
            return None
        return path[: len(path) - len(suffix)] or None
    match = re.search(
        rf"/{_PARQUET_DIR}/{re.escape(key)}(?:/[^/]+=[^/]*)+/{re.escape(_PART_FILE)}\Z", posix
    )
    if match is None:
        return None
    return path[: match.start()] or None
