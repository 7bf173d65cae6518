"""Sources named by URI (``source("s3://bucket/events.parquet")``, ``gs://...``,
``file:///shared/x.csv``): each object is fetched, through pyarrow's filesystems, into a local
cache the first time and again whenever its size or modification time changes (or when it was
fetched within ``RACY_SECONDS`` of its modification time: object stores keep that time to the
second, so a rewrite of the same size in that second would look unchanged); everything else
about a source (its version, the CSV reader every consumer shares, partitions by template)
then works on the cached copy as on any local file.

The cache is ``$LUMBUNG_SOURCE_CACHE``, else ``$XDG_CACHE_HOME/lumbung/sources`` (default
``~/.cache``), one folder per URI. A copy is written beside its final name and renamed over
it, so a reader never sees part of one. Credentials and endpoints come from the environment or
the URI's options, as for ``parquet_storage``. A glob is not a URI source's: list one object
per source, or per partition with a template (``s3://bucket/events/{date}.csv``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from assets_core.errors import ProjectError

__all__ = ["cache_folder", "fetch", "is_uri"]

#: a copy fetched this soon after the object's modification time is fetched again next time
RACY_SECONDS = 2.0


def is_uri(text: str) -> bool:
    """Whether ``text`` names data by URI (``scheme://...``) rather than by a path."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and len(scheme) > 1


def cache_folder() -> Path:
    """Where fetched sources are kept (see the module docstring)."""
    given = os.environ.get("LUMBUNG_SOURCE_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lumbung" / "sources"


def fetch(uri: str, who: str) -> Path:
    """The local copy of the object at ``uri``, fetched when it is missing or the object
    changed since; ``ProjectError`` naming ``who`` when there is no such object."""
    import pyarrow as pa
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(path)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise ProjectError(
            f"{who}: {uri!r} cannot be read ({exc}); check the URI and its credentials."
        ) from None
    if info.type != fs.FileType.File:
        raise ProjectError(f"{who}: no object at {uri!r}; create it or fix path=.")
    folder = cache_folder() / hashlib.sha256(uri.encode()).hexdigest()[:24]
    local = folder / (path.rpartition("/")[2] or "object")
    stamp = folder / ".fetched.json"
    seen = {"uri": uri, "size": info.size, "mtime_ns": info.mtime_ns, "racy": False}
    try:
        if local.is_file() and json.loads(stamp.read_text()) == seen:
            return local
    except (OSError, ValueError):  # no stamp yet, or a broken one: fetch again
        pass
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{local.name}.{os.getpid()}.tmp"
    try:
        with filesystem.open_input_stream(path) as src, tmp.open("wb") as out:
            while chunk := src.read(1 << 22):
                out.write(chunk)
        tmp.replace(local)
    except (pa.ArrowException, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise ProjectError(
            f"{who}: cannot fetch {uri!r} ({exc}); check the URI and its credentials."
        ) from None
    mtime = info.mtime_ns
    seen["racy"] = mtime is None or time.time_ns() - mtime < RACY_SECONDS * 1e9
    stamp.write_text(json.dumps(seen))
    return local
