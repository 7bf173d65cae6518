"""What loading needs of each SQL asset file's parse, kept per file content so a project whose
SQL files are unchanged loads without sqlglot (importing it alone costs ~0.4 s of CPU, parsing
and normalizing a TPC-H query ~50 ms).

``SqlParseCache(path)`` reads ``path`` (JSON, in the project's storage folder) once;
``parse(data)`` gives, for a file's bytes, its normalized statement and its references with
their lines, or raises the ``SqlFileError`` its parse raised: from the entry of the bytes'
XXH3-128 hash when there is one, else by ``parse_sql_file`` (sqlglot imported then), keeping
the answer. ``save()`` writes the entries of this load atomically (a temporary file renamed
over the old one) when any was new. The option lines are read from the text each time: that
needs no sqlglot.

The cache is never trusted blindly: a file of another ``CACHE_FORMAT`` or sqlglot version, or
one that is not valid JSON, is ignored (and rewritten); an entry of the wrong shape is parsed
again. Like Python's ``__pycache__``, it is the model layer's own parse kept on disk: losing
it only costs time.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from assets_core.model.atomic import write_atomic
from assets_core.model.sql_file import SqlFileError, TableRef, normalized_sql, parse_sql_file

__all__ = ["CACHE_FORMAT", "SQL_PARSE_CACHE", "SqlParseCache"]

#: the cache's file in the storage folder
SQL_PARSE_CACHE = "sql_parse_cache.json"
#: Bump when the layout of the cache or what ``parse_sql_file`` yields changes.
CACHE_FORMAT = 1


class SqlParseCache:
    """The parses of SQL files by content hash (see the module docstring); ``path`` ``None``
    keeps nothing across processes."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stored: dict[str, Any] = {}
        self._used: dict[str, object] = {}
        self._dirty = False
        self._version: str | None = None
        if path is not None:
            self._load(path)

    def parse(self, data: bytes) -> tuple[str, tuple[TableRef, ...]]:
        """The normalized statement and the references of the SQL file of bytes ``data``;
        ``SqlFileError`` (or ``UnicodeDecodeError``) as ``parse_sql_file`` raises it."""
        import xxhash

        digest = xxhash.xxh3_128_hexdigest(data)
        entry = self._used.get(digest) or self._stored.get(digest)
        found = _entry(entry)
        if found is None:  # new, changed, or an entry of a wrong shape
            entry = _parse(data.decode("utf-8"))
            found = _entry(entry)
            self._dirty = True
        if found is None:  # pragma: no cover - _parse makes entries of the right shape
            raise RuntimeError(f"a SQL parse cache entry of a wrong shape: {entry!r}")
        self._used[digest] = entry
        if isinstance(found, SqlFileError):
            raise SqlFileError(found.message, found.line)
        return found

    def save(self) -> None:
        """Write this load's entries when any was new; a storage folder that cannot be written
        only means the next load parses again."""
        if self._path is None or not self._dirty:
            return
        payload = {"format": CACHE_FORMAT, "sqlglot": _sqlglot_version(), "files": self._used}
        try:
            write_atomic(self._path, json.dumps(payload, separators=(",", ":")))
        except OSError:
            return
        self._dirty = False

    def _load(self, path: Path) -> None:
        try:
            payload = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            self._dirty = True
            return
        if (
            isinstance(payload, dict)
            and payload.get("format") == CACHE_FORMAT
            and isinstance(payload.get("files"), dict)
            and payload.get("sqlglot") == _sqlglot_version()
        ):
            self._stored = payload["files"]
        else:
            self._dirty = True


def _parse(text: str) -> list[Any]:
    """A cache entry: ``["ok", normalized, [[line, part, ...], ...]]`` or
    ``["error", message, line]``."""
    try:
        parsed = parse_sql_file(text)
    except SqlFileError as exc:
        return ["error", exc.message, exc.line]
    refs = [[r.line, *r.parts] for r in parsed.references]
    return ["ok", normalized_sql(parsed.statement), refs]


def _entry(entry: object) -> tuple[str, tuple[TableRef, ...]] | SqlFileError | None:
    """What a cache entry says, or ``None`` when it is not one (missing, or of a wrong shape)."""
    if not isinstance(entry, list) or len(entry) != 3:
        return None
    tag, first, second = entry
    if tag == "error" and isinstance(first, str) and type(second) is int:
        return SqlFileError(first, second)
    if tag != "ok" or not isinstance(first, str) or not isinstance(second, list):
        return None
    refs = []
    for ref in second:
        if (
            not isinstance(ref, list)
            or not 2 <= len(ref) <= 3
            or type(ref[0]) is not int
            or not all(isinstance(p, str) and p for p in ref[1:])
        ):
            return None
        refs.append(TableRef(tuple(ref[1:]), ref[0]))
    return first, tuple(refs)


@cache
def _sqlglot_version() -> str | None:
    """The installed sqlglot's version, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sqlglot")
    except PackageNotFoundError:
        return None
