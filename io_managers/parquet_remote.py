"""The ``parquet`` IO manager on a storage URI: ``s3://bucket/prefix``, ``gs://bucket/prefix``,
``file:///shared/folder`` (``parquet_storage`` in the project config; ``docs/dask.md``).

The layout, the file format and the data versions are the local manager's
(``io_managers.parquet``, whose writer this uses): key ``a/b/c`` is ``<uri>/a/b/c.parquet``, a
partition ``<uri>/a/b/c/<dim>=<value>/part.parquet``. The filesystem is pyarrow's, built from
the URI: credentials, region and endpoint come from the usual environment variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
``GOOGLE_APPLICATION_CREDENTIALS``...) or from the URI's query
(``s3://bucket/prefix?endpoint_override=http://127.0.0.1:9000&region=eu-1``).

A save streams into a staging object ``<uri>/.tmp/<host>-<pid>-<tag>-<n>`` and, under the run's
fence (``OutputContext.publishing``), moves it over the output: a rename on a file system, a
server-side copy on an object store, where a written object appears whole or not at all. A
writer killed mid-save leaves only its staging object, which ``sweep`` removes once no process
of that host and pid runs. Fingerprints are the object's size and modification time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyarrow.fs import FileType

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions.columns import dimension_names, join_values, sort_keys
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.io import InputContext, OutputContext, StoredOutput
from assets_core.storage.liveness import pid_alive
from assets_core.storage.partitioned import combine, definition_of, not_stored
from assets_core.storage.values import kind_of, target_of, unstorable_message
from io_managers.parquet import (
    PART_FILE,
    STAGING,
    SUFFIX,
    _definition,
    _safe_segment,
    footer_version,
    partition_folders,
    table_as,
    without_version,
    write_parquet,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RemoteParquetIOManager"]

_FILE = FileType.File
_NAME_MAX = 255  # bytes in a file or folder name
_PATH_MAX = 4096  # bytes in a path on a file system
_KEY_MAX = 1024  # bytes in an object store's key (S3's and GCS's limit)


class RemoteParquetIOManager:
    """Parquet files under a storage URI (see the module docstring)."""

    name = "parquet"
    #: what it stores loads back equal (as the local manager's)
    round_trips = True

    def __init__(self, uri: str) -> None:
        import pyarrow as pa
        from pyarrow import fs

        self.uri = uri
        try:
            self.fs, base = fs.FileSystem.from_uri(uri)
        except (pa.ArrowException, ValueError, OSError) as exc:
            raise IOManagerError(
                f"parquet storage {uri!r} cannot be used ({exc}); write a URI such as "
                "s3://bucket/prefix, gs://bucket/prefix or file:///shared/folder."
            ) from None
        self.base = base.rstrip("/")
        self._scheme = uri.partition("://")[0]
        self._staging = f"{self.base}/{STAGING}"
        self._tag = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._count = itertools.count()

    def __repr__(self) -> str:
        return f"RemoteParquetIOManager({self.uri!r})"

    # ---- where -------------------------------------------------------------------------------

    def check_key(self, key: AssetKey) -> str | None:
        """Why ``key`` cannot be stored here, or ``None``: a name longer than a file system
        allows (255 bytes), or a path longer than an object store's key (1,024 bytes)."""
        *folders, last = key
        for i, segment in enumerate(folders, 1):
            if len(segment.encode()) > _NAME_MAX:
                return (
                    f"segment {i} of its key is {len(segment)} characters long, and a name "
                    f"under {self.uri} may have at most {_NAME_MAX} bytes; shorten it."
                )
        if len((last + SUFFIX).encode()) > _NAME_MAX:
            return (
                f"its last segment is {len(last)} characters long, and the parquet IO manager "
                f"adds '{SUFFIX}' to it for a file name, which may have at most {_NAME_MAX} "
                f"bytes; shorten it to {_NAME_MAX - len(SUFFIX)} characters or fewer."
            )
        path = self._file(key, None, None)
        limit = _PATH_MAX if self._scheme == "file" else _KEY_MAX
        if len(path.encode()) > limit:
            return (
                f"the parquet IO manager would store it at a path of {len(path.encode())} "
                f"bytes under {self.uri}, which allows {limit}; shorten the key."
            )
        return None

    def _parts(self, key: AssetKey) -> list[str]:
        parts = list(key)
        if not all(map(_safe_segment, parts)):
            raise IOManagerError(
                f"{key}: the key does not name a file under {self._uri(self.base)}."
            )
        return parts

    def _file(
        self, key: AssetKey, partition: str | None, definition: PartitionsDefinition | None
    ) -> str:
        parts = self._parts(key)
        if partition is None:
            return "/".join([self.base, *parts]) + SUFFIX
        if definition is None:
            raise IOManagerError(
                f"{key}: partition {partition!r} was asked for, but the asset declares no "
                "partitions; declare them with @asset(partitions=...)."
            )
        return "/".join([self.base, *parts, *partition_folders(definition, partition), PART_FILE])

    def location(
        self,
        key: AssetKey,
        partition: str | None = None,
        definition: PartitionsDefinition | None = None,
    ) -> str:
        """The location a save of ``key`` (and ``partition``) records: its URI."""
        return self._uri(self._file(key, partition, definition))

    def _uri(self, path: str) -> str:
        """``path`` (in the filesystem) as a URI, without the storage URI's options."""
        return f"{self._scheme}://{path}"

    # ---- the protocol ------------------------------------------------------------------------

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        """Write ``value`` to a staging object, then move it over the output under the run's
        fence (see the module docstring)."""
        kind = kind_of(value)
        if kind is None:
            raise IOManagerError(unstorable_message(str(ctx.key), self.name, value))
        file = self._file(ctx.key, ctx.partition, _definition(ctx))
        tmp = f"{self._staging}/{self._tag}-{next(self._count)}"
        fs = self.fs
        try:
            version, rows, schema, memory, size = write_parquet(
                ctx, kind, value, lambda: self._open(tmp)
            )
            with ctx.publishing():  # a step whose run is gone publishes nothing
                fs.create_dir(file.rpartition("/")[0], recursive=True)
                fs.move(tmp, file)
            info = fs.get_file_info(file)
        except BaseException as exc:
            self._remove(tmp)
            if isinstance(exc, OSError):
                raise IOManagerError(
                    f"{ctx.key}: cannot write {self._uri(file)} ({exc}); check the storage "
                    "URI, its credentials and that the bucket exists."
                ) from exc
            raise
        return StoredOutput(
            location=self._uri(file),
            data_version=version,
            rows=rows,
            bytes=size,
            schema=schema,
            memory=memory,
            fingerprint=_fingerprint(info),
        )

    def _open(self, tmp: str) -> pa.NativeFile:
        self.fs.create_dir(self._staging, recursive=True)
        return self.fs.open_output_stream(tmp)

    def _remove(self, path: str) -> None:
        with contextlib.suppress(OSError):  # never written, or gone already
            self.fs.delete_file(path)

    def load(self, ctx: InputContext) -> object:
        """The stored output (of a partitioned asset: the partitions asked for, as one value,
        each with its dimension columns) as ``ctx.expected_type`` asks."""
        target = target_of(ctx.expected_type)
        if ctx.spec.partitions is not None or ctx.partitions is not None:
            definition = definition_of(ctx.key, ctx.spec, (ctx.partitions or ("",))[0])
            keys = list(ctx.partitions or self.stored_partitions(ctx.key, definition))
            if not keys:
                where = self._uri("/".join([self.base, *self._parts(ctx.key)]))
                raise IOManagerError(not_stored(ctx.key, None, where))
            parts = [(k, self._read(ctx.key, k, definition)) for k in keys]
            table = combine(ctx.key, definition, parts)
        else:
            table = self._read(ctx.key, None, None)
        return table_as(target, table, ctx)

    def _read(
        self, key: AssetKey, partition: str | None, definition: PartitionsDefinition | None
    ) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        file = self._file(key, partition, definition)
        try:
            table = pq.read_table(file, filesystem=self.fs)
        except FileNotFoundError:
            raise IOManagerError(not_stored(key, partition, self._uri(file))) from None
        except (pa.ArrowException, OSError) as exc:
            if self.fs.get_file_info(file).type != _FILE:
                raise IOManagerError(not_stored(key, partition, self._uri(file))) from None
            raise IOManagerError(
                f"{StepKey(key, partition)}: {self._uri(file)} cannot be read as Parquet "
                f"({type(exc).__name__}); materialize it again."
            ) from exc
        return without_version(table)

    def stored_partitions(self, key: AssetKey, definition: PartitionsDefinition) -> list[str]:
        """The partitions of ``key`` stored under the URI, in key order (one listing)."""
        from urllib.parse import unquote

        from pyarrow import fs

        names = dimension_names(definition)
        start = "/".join([self.base, *self._parts(key)])
        try:
            infos = self.fs.get_file_info(fs.FileSelector(start, recursive=True))
        except (FileNotFoundError, OSError):
            return []
        found = []
        for info in infos:
            rel = info.path[len(start) + 1 :].split("/")
            if info.type != _FILE or len(rel) != len(names) + 1 or rel[-1] != PART_FILE:
                continue
            values = []
            for name, folder in zip(names, rel[:-1], strict=True):
                if not folder.startswith(name + "="):
                    break
                values.append(unquote(folder[len(name) + 1 :]))
            else:
                found.append(join_values(definition, tuple(values)))
        return sort_keys(definition, found)

    def exists(self, ctx: OutputContext) -> bool:
        file = self._file(ctx.key, ctx.partition, _definition(ctx))
        return bool(self.fs.get_file_info(file).type == _FILE)

    def fingerprints(
        self, asked: Mapping[AssetKey, Sequence[str | None]], specs: Mapping[AssetKey, AssetSpec]
    ) -> dict[AssetKey, dict[str | None, str]]:
        """Of each asset's partitions ``asked``, those stored, each with its object's size and
        modification time, asked of the store in one call."""
        steps: list[tuple[AssetKey, str | None]] = []
        paths = []
        for key, parts in asked.items():
            for partition in parts:
                definition = (
                    None if partition is None else definition_of(key, specs[key], partition)
                )
                steps.append((key, partition))
                paths.append(self._file(key, partition, definition))
        infos = self.fs.get_file_info(paths) if paths else []
        out: dict[AssetKey, dict[str | None, str]] = {}
        for (key, partition), info in zip(steps, infos, strict=True):
            if info.type == _FILE:
                out.setdefault(key, {})[partition] = _fingerprint(info)
        return out

    def stored_version(self, ctx: OutputContext) -> str | None:
        """The data version in the stored file's footer; ``None`` when there is none."""
        return footer_version(self._file(ctx.key, ctx.partition, _definition(ctx)), self.fs)

    def delete(self, ctx: OutputContext) -> None:
        """Remove the stored object (an object store has no empty folders to prune)."""
        self._remove(self._file(ctx.key, ctx.partition, _definition(ctx)))

    def sweep(self) -> None:
        """Remove the staging objects of this host's writers that are gone."""
        from pyarrow import fs

        host = socket.gethostname()
        try:
            infos = self.fs.get_file_info(fs.FileSelector(self._staging, allow_not_found=True))
        except OSError:
            return
        for info in infos:
            fields = info.path.rpartition("/")[2].rsplit("-", 3)  # host, pid, tag, count
            pid = fields[1] if len(fields) == 4 and fields[0] == host else ""
            if pid.isdigit() and not pid_alive(int(pid)):
                self._remove(info.path)


def _fingerprint(info: Any) -> str:
    return f"{info.size}:{info.mtime_ns}"
