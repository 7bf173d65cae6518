"""Reading and observing sources: the external files (or other data) a project consumes.

``source_files`` expands a source's path or glob, and ``observe_source`` gives the source's
version. For files, the version is a content hash; a file whose size and mtime match a cached
observation is not read again. A CSV source's version also carries how it is read (its
``CsvOptions``), so changing them makes its consumers stale. ``load_source`` reads the data
into the kind a consumer asks for. For DuckDB, the files are scanned lazily in place and never
copied into memory first. CSV files have one reader for every kind (``csv_read``), so every
consumer sees the same columns with the same types. A partitioned source's partitions are
loaded by ``partitioned_sources`` on the same readers.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from assets_core.errors import IOManagerError, ProjectError, describe_exception, first_line
from assets_core.model.decorator import SOURCE_FORMATS
from assets_core.model.kinds import AnyAsset
from assets_core.model.spec import SourceAsset, SourceFormat
from assets_core.storage.datahash import file_digest
from assets_core.storage.remote_sources import fetch, is_uri
from assets_core.storage.state import FileObservation

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "describe_change",
    "load_source",
    "looks_like_parquet",
    "observe_partitions",
    "observe_source",
    "parquet_sql",
    "partition_files",
    "partition_source",
    "read_arrow",
    "scan_sql",
    "source_files",
    "source_format",
]

#: An observation of a file modified this recently is not cached. Another write within the
#: filesystem's timestamp granularity could keep the same size and mtime (the "racy" case).
RACY_WINDOW_NS = 2_000_000_000


def _pattern(src: SourceAsset, root: Path) -> Path:
    assert src.path is not None
    p = Path(src.path).expanduser()
    return p if p.is_absolute() else root / p


def source_files(src: SourceAsset, root: Path) -> list[Path]:
    """The files of a path source: the file itself, or a glob's matches in sorted order.

    A relative path is resolved against ``root``. If nothing matches, raises ``ProjectError``.
    A URI's object is its local copy (``remote_sources``). An ``observe=`` source has no
    files.
    """
    if src.path is None:
        return []
    if is_uri(src.path):  # fetched into a local cache, then read like any file
        if src.is_glob:
            raise ProjectError(
                f"source {src.key}: {src.path!r} is a glob of a URI, which cannot be listed; "
                "name one object per source, or per partition with a template."
            )
        return [fetch(src.path, f"source {src.key}")]
    full = _pattern(src, root)
    if src.is_glob:
        found = sorted(Path(m) for m in glob.glob(str(full), recursive=True) if Path(m).is_file())  # noqa: PTH207
        if not found:
            raise ProjectError(
                f"source {src.key}: no file matches {src.path!r} (looked in {root}); "
                "create it or fix path=."
            )
        return found
    if not full.is_file():
        raise ProjectError(
            f"source {src.key}: file {src.path!r} not found (looked in {root}); "
            "create it or fix path=."
        )
    return [full]


def _glob_base(pattern: Path) -> Path:
    """The folder part of a glob before its first wildcard."""
    parts: list[str] = []
    for part in pattern.parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def observe_source(
    src: SourceAsset, root: Path, cache: Mapping[str, FileObservation]
) -> tuple[str, list[FileObservation]]:
    """The source's current version, and the new file observations worth caching.

    For a file, the version is the SHA-256 of its bytes. For a glob, it is a hash of the sorted
    ``(path relative to the glob's folder, digest)`` pairs. A CSV source read with options
    other than the defaults has ``+`` and a tag of them added (``csv_read.options_tag``). A
    file whose size, ``mtime_ns`` and ``ctime_ns`` equal its cached observation (``cache`` is
    keyed by ``str(path)`` as ``source_files`` returns it) is not read again: an edit that
    restores the mtime still moves the ctime. The returned observations are only the new or
    changed ones, leaving out files modified in the last ``RACY_WINDOW_NS``. For an
    ``observe=`` source, the version is ``str(observe())``.
    """
    if src.path is None:
        return _observe_fn(src), []
    files = source_files(src, root)
    fresh: list[FileObservation] = []
    now = time.time_ns()
    digests: list[str] = []
    for f in files:
        key = str(f)
        st = f.stat()
        cached = cache.get(key)
        if (
            cached is not None
            and cached.size == st.st_size
            and cached.mtime_ns == st.st_mtime_ns
            and cached.ctime_ns == st.st_ctime_ns
        ):
            digests.append(cached.digest)
            continue
        digest = file_digest(f)
        digests.append(digest)
        if now - st.st_mtime_ns > RACY_WINDOW_NS:
            fresh.append(FileObservation(key, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest))
    if not src.is_glob:
        version = digests[0]
    else:
        base = _glob_base(_pattern(src, root))
        h = hashlib.sha256(b"lumbung-glob-v1\n")
        for f, digest in zip(files, digests, strict=True):
            rel = PurePath(os.path.relpath(f, base)).as_posix()
            h.update(f"{rel}\0{digest}\n".encode())
        version = h.hexdigest()
    if _is_csv(src):
        from assets_core.storage.csv_read import options_tag

        tag = options_tag(src.csv)
        if tag:
            version = f"{version}+{tag}"
    return version, fresh


def partition_source(src: SourceAsset, key: str) -> SourceAsset:
    """The source of one partition of a partitioned source: its path template filled with
    ``key`` (DESIGN §12)."""
    from dataclasses import replace

    from assets_core.partitions.template import fill

    assert src.path is not None and src.spec.partitions is not None
    return replace(src, path=fill(src.path, src.spec.partitions, key))


def partition_files(src: SourceAsset, root: Path, keys: Sequence[str]) -> list[Path]:
    """The files of the partitions ``keys`` of a partitioned source that are there."""
    found: list[Path] = []
    for key in keys:
        try:
            found += source_files(partition_source(src, key), root)
        except ProjectError:
            continue
    return found


def observe_partitions(
    src: SourceAsset, root: Path, keys: Sequence[str], cache: Mapping[str, FileObservation]
) -> tuple[dict[str, str | None], list[FileObservation]]:
    """The version of each partition ``keys`` of a partitioned source, observed like a source
    of its own (``observe_source`` on its filled template); ``None`` for a partition whose
    file is not there (yet). Also the new file observations worth caching."""
    versions: dict[str, str | None] = {}
    fresh: list[FileObservation] = []
    for key in keys:
        try:
            versions[key], new = observe_source(partition_source(src, key), root, cache)
        except ProjectError:
            versions[key] = None
            continue
        fresh += new
    return versions, fresh


def describe_change(
    src: AnyAsset, before: str | None, now: str, partition: str | None = None
) -> str:
    """Why a consumer that read version ``before`` of the observed asset ``src`` (of one of its
    partitions) is stale, now that it is ``now``: its data changed, or only how it is read (a
    CSV source's options)."""
    name = str(src.key) if partition is None else f"{src.key}[{partition}]"
    if before is not None and isinstance(src, SourceAsset) and _is_csv(src):
        from assets_core.storage.csv_read import tag_reader

        data_before, _, how_before = before.partition("+")
        data_now, _, how_now = now.partition("+")
        if data_before == data_now and how_before != how_now:
            if tag_reader(how_before) != tag_reader(how_now):
                return f"source {name} is read by a new version of Lumbung's CSV reader"
            return f"source {name} is read with other CSV options"
    return f"source {name} changed"


def _is_csv(src: SourceAsset) -> bool:
    if src.path is None:
        return False
    return (src.format or SOURCE_FORMATS.get(PurePath(src.path).suffix.lower())) == "csv"


def _observe_fn(src: SourceAsset) -> str:
    assert src.observe is not None
    try:
        version = src.observe()
    except Exception as exc:
        raise ProjectError(
            f"source {src.key}: observe function raised {describe_exception(exc)}"
        ) from exc
    if version is None:
        raise ProjectError(
            f"source {src.key}: observe function returned None; return a version string "
            "(for example a timestamp, an ETag or a row count) that changes when the data does."
        )
    return str(version)


def source_format(src: SourceAsset) -> SourceFormat:
    if src.format is not None:
        return src.format
    assert src.path is not None
    fmt = SOURCE_FORMATS.get(PurePath(src.path).suffix.lower())
    if fmt is None:
        raise IOManagerError(
            f"source {src.key}: cannot tell the format of {src.path!r}; "
            "pass format='csv', 'parquet' or 'json'."
        )
    return fmt


def load_source(
    src: SourceAsset,
    root: Path,
    annotation: object,
    con_provider: Callable[[], duckdb.DuckDBPyConnection],
) -> object:
    """Read a source's files (CSV, Parquet or JSON lines) as the kind ``annotation`` asks for.

    A glob's files are concatenated in sorted order. A ``duckdb.DuckDBPyRelation`` target
    scans the files in place, lazily, on the consumer's connection (``con_provider()``). Other
    targets read CSV through the same DuckDB reader (``csv_read``), and Parquet and JSON
    through pyarrow, and convert.
    """
    from assets_core.storage import csv_read
    from assets_core.storage.values import convert, target_of

    if src.path is None:
        raise IOManagerError(
            f"source {src.key} has no path to read; list it in deps=[...] instead of as a parameter"
        )
    if src.spec.partitions is not None:
        raise IOManagerError(
            f"source {src.key} is partitioned; load it through loading.load_input, which "
            "reads the partitions InputContext.partitions names (partitioned_sources)."
        )
    target = target_of(annotation)
    fmt = source_format(src)
    files = [str(f) for f in source_files(src, root)]
    if target == "duckdb":
        con = con_provider()
        if fmt == "csv":
            return csv_read.csv_relation(src, files, con)
        if fmt == "parquet":
            return con.sql(parquet_sql(files))
        return con.read_json(files, format="newline_delimited")  # type: ignore[arg-type, unused-ignore]
    if fmt == "csv":
        table = csv_read.csv_table(src, files)
        return csv_read.csv_frame(table) if target == "pandas" else convert(table, annotation)
    table = read_arrow(src, files, fmt)
    return convert(table, annotation)


def parquet_sql(files: Sequence[str]) -> str:
    """The query scanning Parquet ``files`` in place, a relation input of a source: every
    option that shapes its columns stated (those of DuckDB's ``read_parquet`` relation: no
    Hive partition columns guessed from the folders)."""
    from assets_core.storage.csv_read import literal

    return (
        f"select * from read_parquet({literal(list(files))}, binary_as_string = false, "
        "file_row_number = false, filename = false, hive_partitioning = false, "
        "union_by_name = false)"
    )


def scan_sql(src: SourceAsset, root: Path) -> str | None:
    """The query a DuckDB relation input of ``src`` reads (``load_source``), for a consumer
    that only binds it under a name, as a SQL asset does: a view made from it at once binds
    the files once, where a relation made first and then its view bind them twice (each bind
    reads every Parquet footer again). ``None`` where the relation is made another way (a CSV
    source, whose reader's errors are explained as it is made; a JSON one; a partitioned
    one)."""
    if src.path is None or src.spec.partitions is not None or source_format(src) != "parquet":
        return None
    return parquet_sql([str(f) for f in source_files(src, root)])


def read_arrow(
    src: SourceAsset, files: Sequence[str], fmt: SourceFormat, who: str | None = None
) -> pa.Table:
    """The Parquet or JSON lines ``files`` read by pyarrow and concatenated; an error names
    ``who`` (default ``source <key>``), the file and the fix."""
    import pyarrow as pa

    reader: Callable[[str], Any]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        reader = pq.read_table
    else:
        import pyarrow.json as pjson

        reader = pjson.read_json
    tables = []
    for f in files:
        try:
            if fmt == "parquet" and not looks_like_parquet(f):
                raise OSError("truncated or not Parquet")
            tables.append(reader(f))
        except (pa.ArrowException, OSError) as exc:  # a damaged file, or not this format
            raise IOManagerError(
                f"{who or f'source {src.key}'}: cannot read {f} as {fmt} ({first_line(exc)}); "
                f"fix the file, or pass format= if it is not {fmt}."
            ) from exc
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise IOManagerError(
            f"source {src.key}: the files matching {src.path!r} do not share one schema "
            f"({first_line(exc)}); make their columns agree."
        ) from exc


def looks_like_parquet(file: str) -> bool:
    """Whether ``file`` begins and ends with Parquet's magic bytes (two small reads)."""
    with open(file, "rb") as fh:
        head = fh.read(4)
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - 4, 0))
        return size >= 12 and head == b"PAR1" and fh.read(4) == b"PAR1"
