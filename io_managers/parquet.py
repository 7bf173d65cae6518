"""``ParquetIOManager``: one Parquet file per asset, written atomically and content-versioned.

Layout: key ``a/b/c`` is stored at ``<root>/a/b/c.parquet``; a partition of it at
``<root>/a/b/c/<dim>=<value>/.../part.parquet``, a folder per dimension in the order declared
(hive layout; ``partitions.columns`` names the dimensions: ``partition`` for a single
definition). A value is its key text with every character other than ASCII letters, digits,
``-``, ``_``, ``.``, ``~`` and ``+`` written as ``%XX`` (its UTF-8 bytes): in practice the ``:``
of an hourly key, which Windows forbids in a file name (``partition=2024-01-05T13%3A00``).
That is Hive's escaping, which pyarrow's and DuckDB's hive readers undo. Each partition is a
file of its own, written like any output, so replacing one never touches another.
A save streams the value's Arrow record batches into a hidden temporary file in the staging
folder ``<root>/.tmp`` (``.c.parquet.tmp-<pid>-<tag>-<n>``), hashing each batch
(``assets_core.storage.datahash.TableHasher``) before the Parquet writer compresses it. The file
is closed, audited when the asset has blocking checks (``OutputContext.audit``: they read the
temporary file in place), and renamed over the final name with ``os.replace``, so a crash
of the process at any moment (an exception, Ctrl-C, SIGKILL) leaves either the previous
complete file or the new one.
The staging folder is on the same filesystem, so the rename stays atomic, and the output
folders hold outputs only: a create and a rename in a folder of thousands of files cost more
than in a small one (about 0.15 s per 1,000 saves here). An output folder on another device
than the root gets its temporary files beside the output instead.
With ``fsync=True`` (or ``LUMBUNG_FSYNC=1`` in the environment) the file is also fsynced before
the rename and the folder after it, which extends that guarantee to a power loss or an
operating-system crash on every filesystem, at the cost of two disk flushes per asset (about
3 ms each on a typical cloud disk, more than the rest of a small asset's work together). Off,
it matches the state store, whose SQLite runs with ``synchronous=NORMAL``. A killed writer's
temporary file is removed by the next save (the staging folder is swept once per manager, an
output folder once per folder) or by ``delete``: any whose process is gone. The data version is
also written into the file's key-value metadata as ``lumbung.data_version``.

Loads read the file into the consumer's annotation: pandas, a ``pyarrow.Table``, a polars
DataFrame, or a DuckDB relation that scans the file in place on the consumer's connection.
A file under 1 MiB is read with ``ParquetFile`` directly; a bigger one with ``pq.read_table``,
whose coalesced, parallel reads win there.

A save's fingerprint is the file's size and modification time, which the rename keeps:
planning asks ``fingerprints`` for thousands of outputs at once (one ``stat`` each, relative to
the folder opened once) and, for one that changed, ``stored_version`` (the footer's
``lumbung.data_version``). An asset's partitions are checked in bulk: its folder resolved once
(refused when it leads out of the root), its ``<dim>=<value>`` folders listed once per level,
and one ``stat`` per ``part.parquet``; a partition folder or file that is a link is resolved
on its own, and refused when it leads out of the root. A save makes a partition's folders with
``mkdir`` under the asset's folder checked once (a folder just made cannot be a planted link),
and checks one already there with an ``lstat``. ``check_key`` refuses, when the project loads,
a key whose names or path would be longer than the file system allows, counting the temporary
sibling's suffix.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import TYPE_CHECKING

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions.columns import (
    dimension_names,
    dimension_values,
    join_values,
    sort_keys,
)
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.datahash import TableHasher
from assets_core.storage.io import InputContext, OutputContext, Staged, StoredOutput
from assets_core.storage.liveness import pid_alive
from assets_core.storage.oserrors import explain
from assets_core.storage.partitioned import (
    combine,
    definition_of,
    dimensions,
    not_stored,
    schema_changed,
    schema_difference,
    strip,
)
from assets_core.storage.values import kind_of, target_of, to_arrow, unstorable_message

if TYPE_CHECKING:
    import pyarrow as pa
    from pyarrow.fs import FileSystem

__all__ = [
    "METADATA_KEY",
    "ParquetIOManager",
    "footer_version",
    "from_storage",
    "table_as",
    "without_version",
    "write_parquet",
]

METADATA_KEY = "lumbung.data_version"
"""The Parquet key-value metadata entry holding the file's data version."""
_METADATA_BYTES = METADATA_KEY.encode()
#: ``stat`` relative to a folder opened once (the system has the *at() calls)
_STAT_AT = os.stat in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
#: a save's temporary file, created as Arrow creates a file it writes (``O_BINARY``: Windows)
_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)

SUFFIX = ".parquet"
PART_FILE = "part.parquet"
_TMP_MARK = ".tmp-"
STAGING = ".tmp"  # the folder under the root where saves write before the rename
_STREAM_ROWS = 1 << 20  # record batch size when streaming a DuckDB relation (one row group)
_BULK = 8  # from this many partitions of an asset, ``fingerprints`` lists its folders
_SMALL_FILE = 1 << 20  # files smaller than this are read directly, not through pq.read_table


#: what a save adds to a key's last segment in the longest name it makes, the temporary
#: sibling ``.<c>.parquet.tmp-<pid>-<8 hex>-<counter>`` (a pid of up to 7 digits, a counter of
#: up to 12)
_NAME_EXTRA = len(".") + len(".parquet") + len(".tmp-") + 7 + len("-") + 8 + len("-") + 12
_NAME_MAX, _PATH_MAX = 255, 4096  # where the system cannot say (POSIX's usual values)


def _name_limits(root: Path) -> tuple[int, int]:
    """``(NAME_MAX, PATH_MAX)`` of the file system holding ``root`` (or its nearest parent)."""
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return (
            int(os.pathconf(folder, "PC_NAME_MAX")),
            int(os.pathconf(folder, "PC_PATH_MAX")),
        )
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer
        return _NAME_MAX, _PATH_MAX


#: a value that needs no escaping (see the module docstring); checked before ``quote``,
#: which costs ten times as much
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9\-_.~+]*").fullmatch


#: ``%XX`` for each ASCII character that is not safe (what ``quote`` writes for it)
_ASCII_ESCAPES = {c: f"%{c:02X}" for c in range(128) if not _PLAIN_VALUE(chr(c))}
_SAFE_CHARS = frozenset(chr(c) for c in range(128) if c not in _ASCII_ESCAPES)


def _escape(value: str) -> str:
    """``value`` as a folder name's value: ``%XX`` for anything but the safe characters (see
    ``_escape_all``)."""
    return value if _PLAIN_VALUE(value) else _escape_all((value,))[0]


def _escape_all(values: Sequence[str]) -> list[str]:
    """``_escape`` of each of ``values``, in bulk (planning names 100,000 partition folders at
    once): ASCII values by one ``str.replace`` per unsafe character found in them (``%`` first,
    which the others write), such as an hour's ``:`` in ``2024-01-01T05:00``; others by
    ``quote``, which escapes each byte of their UTF-8 form."""
    joined = "".join(values)
    if _PLAIN_VALUE(joined):
        return list(values)
    if not joined.isascii():
        from urllib.parse import quote

        return [v if _PLAIN_VALUE(v) else quote(v, safe="+") for v in values]
    out = list(values)
    for c in sorted(set(joined).difference(_SAFE_CHARS), key=lambda c: c != "%"):
        escaped = _ASCII_ESCAPES[ord(c)]
        out = [v.replace(c, escaped) for v in out]
    return out


def partition_folders(definition: PartitionsDefinition, partition: str) -> list[str]:
    """The folders of ``partition`` under its asset's folder: ``<dim>=<value>`` per dimension,
    in the order declared, each value escaped (see the module docstring)."""
    names, values = dimension_names(definition), dimension_values(definition, partition)
    return [f"{n}={_escape(v)}" for n, v in zip(names, values, strict=True)]


def _safe_segment(part: str) -> bool:
    return part not in ("", ".", "..") and "/" not in part and "\\" not in part and "\0" not in part


def _storage_type(t: pa.DataType) -> pa.DataType:
    """The type Parquet hands back for ``t`` (only where it differs: widened time units)."""
    import pyarrow as pa

    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_time32(t) and t.unit == "s":
        return pa.time32("ms")
    if pa.types.is_timestamp(t) and t.unit == "s":
        return pa.timestamp("ms", tz=t.tz)
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        new = [f.with_type(_storage_type(f.type)) for f in fields]
        return t if new == fields else pa.struct(new)
    if pa.types.is_map(t):
        k, v = _storage_type(t.key_type), _storage_type(t.item_type)
        if k == t.key_type and v == t.item_type:
            return t
        return pa.map_(t.key_field.with_type(k), t.item_field.with_type(v), t.keys_sorted)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        field = t.value_field
        inner = _storage_type(field.type)
        if inner == field.type:
            return t
        if pa.types.is_fixed_size_list(t):
            return pa.list_(field.with_type(inner), t.list_size)
        make = pa.large_list if pa.types.is_large_list(t) else pa.list_
        return make(field.with_type(inner))
    return t


def _storage_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as it reads back from Parquet, without our own metadata key (``schema``
    itself when that is what it already is, so its batches need no cast)."""
    global _last_storage
    last = _last_storage  # a run saves many tables of one schema
    if last is not None and last[0].equals(schema, check_metadata=True):
        return schema if last[1] is None else last[1]
    target = _storage_schema_of(schema)
    _last_storage = (schema, None if target is schema else target)
    return target


#: the schema ``_storage_schema`` was last asked about, and its answer (``None``: itself)
_last_storage: tuple[pa.Schema, pa.Schema | None] | None = None


def _storage_schema_of(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    old = schema.types
    types = [_storage_type(t) for t in old]
    meta = schema.metadata  # a new dict on every access
    ours = bool(meta) and _METADATA_BYTES in meta
    if not ours and all(new is t for new, t in zip(types, old, strict=True)):
        return schema
    if ours:
        meta = {k: v for k, v in meta.items() if k != _METADATA_BYTES}
    fields = [f.with_type(new) for new, f in zip(types, schema, strict=True)]
    return pa.schema(fields, metadata=meta)


#: set to ``1`` to fsync every Parquet write (see the module docstring)
FSYNC_ENV = "LUMBUNG_FSYNC"


class ParquetIOManager:
    """Stores each asset as ``<root>/<a>/<b>/<c>.parquet`` (see the module docstring).

    Thread-safe: concurrent saves of different assets share nothing, and concurrent saves of
    one asset each write their own temporary file; the last rename wins whole.
    """

    name = "parquet"
    #: loading what ``save`` stored gives back an equal value (for the plain types of
    #: ``values.round_trips``), so a run may hand a stored value over in memory
    round_trips = True
    #: ``save`` runs ``ctx.audit`` on the temporary file before the rename publishes it
    stages = True

    def __init__(self, root: str | Path, *, fsync: bool | None = None) -> None:
        self.root = Path(root).absolute()
        #: flush every file and its folder to disk (default: ``LUMBUNG_FSYNC=1`` in the env)
        self.fsync = os.environ.get(FSYNC_ENV, "") in ("1", "true") if fsync is None else fsync
        self._root_text = str(self.root)
        self._root_real: str | None = None
        self._files: dict[tuple[AssetKey, str | None], str] = {}
        # (key, partition, dimension names) -> file, for partitions
        self._part_files: dict[tuple[AssetKey, str, tuple[str, ...]], str] = {}
        self._safe_folders: set[str] = set()
        # output folder -> where its temporary files are written (the staging folder, or the
        # folder itself on another device), for folders this manager created (or found) and
        # swept: a save into one needs no mkdir; ``delete`` forgets the folders it prunes
        self._tmp_dirs: dict[str, str] = {}
        self._staging = os.path.join(self._root_text, STAGING)  # noqa: PTH118
        self._staging_dev: int | None = None  # its device, once made and swept
        # temporary names: pid, a random tag per manager, and a counter (next() on a count
        # is atomic, so threads never share a name)
        self._tmp_tag = f"{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        self._tmp_count = itertools.count()
        self._name_limits: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"ParquetIOManager({str(self.root)!r})"

    # ---- keys -----------------------------------------------------------------------------

    def check_key(self, key: AssetKey) -> str | None:
        """Why ``key`` cannot be stored here, or ``None``: a file or folder name, or a whole
        path, longer than the file system under the root allows ("File name too long"). The
        names counted are the longest a save makes: the output's temporary sibling."""
        limits = self._name_limits or self._limits()
        # Nearly every key passes: settle that in a few steps (loading asks for every asset).
        last_max, name_max, rest_max = limits
        if len(key) == 1:
            if len(key[0]) <= last_max and len(key[0]) < rest_max:
                return None
        elif (
            len(key[-1]) <= last_max
            and max(map(len, key)) <= name_max
            and len(key) + sum(map(len, key)) <= rest_max
        ):
            return None
        *folders, last = key
        for i, segment in enumerate(folders, 1):
            if len(segment) > name_max:
                return (
                    f"segment {i} of its key is {len(segment)} characters long, and a folder "
                    f"name may have at most {name_max} on this file system; shorten it."
                )
        if len(last) > last_max:
            return (
                f"its last segment is {len(last)} characters long, and the parquet IO manager "
                f"adds up to {_NAME_EXTRA} more to it for a file name ('.parquet' and a "
                f"temporary suffix), which may have at most {name_max} on this file system; "
                f"shorten it to {last_max} characters or fewer."
            )
        total = len(self._root_text) + len(key) + sum(map(len, key)) + _NAME_EXTRA
        allowed = rest_max + len(self._root_text) + _NAME_EXTRA
        return (
            f"the parquet IO manager would write it at a path of up to {total} characters "
            f"(under {self.root}), and this system allows {allowed}; shorten the key, or move "
            "the storage folder to a shorter path."
        )

    def _limits(self) -> tuple[int, int, int]:
        """What a key may reach under this root: the length of its last segment, of any
        segment, and of its segments with one separator each (the rest of ``PATH_MAX``, with
        its NUL, after the root and the longest suffix). Asked of the file system holding the
        root (or its nearest parent there is), once per manager."""
        name_max, path_max = _name_limits(self.root)
        rest = path_max - 1 - len(self._root_text) - _NAME_EXTRA
        self._name_limits = (name_max - _NAME_EXTRA, name_max, rest)
        return self._name_limits

    # ---- paths ----------------------------------------------------------------------------

    def path(
        self,
        key: AssetKey,
        partition: str | None = None,
        definition: PartitionsDefinition | None = None,
    ) -> Path:
        """Where ``key`` (and ``partition`` of its ``definition``) is stored; checked to lie
        under the root, also through symlinks (each folder is resolved once per manager, the
        file on every call)."""
        return Path(self._checked_file(key, partition, definition))

    def location(
        self,
        key: AssetKey,
        partition: str | None = None,
        definition: PartitionsDefinition | None = None,
    ) -> str:
        """The location a save of ``key`` (and ``partition``) records: its file's path."""
        return self._checked_file(key, partition, definition)

    def _checked_file(
        self, key: AssetKey, partition: str | None, definition: PartitionsDefinition | None = None
    ) -> str:
        # Plain strings and os.path: planning calls this for every asset, and pathlib costs
        # about ten times as much here.
        file = self._file(key, partition, definition)
        folder = os.path.dirname(file)  # noqa: PTH120
        if folder not in self._safe_folders:
            if not self._inside(folder):
                raise IOManagerError(f"{key}: {file} is outside the storage folder {self.root}.")
            self._safe_folders.add(folder)
        if os.path.islink(file) and not self._inside(file):  # noqa: PTH114
            raise IOManagerError(f"{key}: {file} is outside the storage folder {self.root}.")
        return file

    def _file(
        self, key: AssetKey, partition: str | None, definition: PartitionsDefinition | None
    ) -> str:
        """The file of ``key`` (unchecked), or of its ``partition`` of ``definition``."""
        if partition is None:
            return self._files.get((key, None)) or self._place(key, None)
        if definition is None:
            raise IOManagerError(
                f"{key}: partition {partition!r} was asked for, but the asset declares no "
                "partitions; declare them with @asset(partitions=...)."
            )
        cache = (key, partition, dimension_names(definition))
        file = self._part_files.get(cache)
        if file is None:
            parts = [*self._key_parts(key), *partition_folders(definition, partition), PART_FILE]
            file = self._part_files[cache] = os.path.join(self._root_text, *parts)  # noqa: PTH118
        return file

    def _key_parts(self, key: AssetKey) -> list[str]:
        parts = list(key)
        if not all(map(_safe_segment, parts)):
            raise IOManagerError(f"{key}: the key does not name a file under {self.root}.")
        return parts

    def _place(self, key: AssetKey, partition: None) -> str:
        parts = self._key_parts(key)
        parts[-1] += SUFFIX
        file = os.path.join(self._root_text, *parts)  # noqa: PTH118
        self._files[(key, partition)] = file
        return file

    def _inside(self, path: str) -> bool:
        if self._root_real is None:
            self._root_real = os.path.realpath(self._root_text)
        real = os.path.realpath(path)
        return real == self._root_real or real.startswith(self._root_real + os.sep)

    # ---- the protocol ---------------------------------------------------------------------

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        """Write ``value`` atomically (see the module docstring) and return what was written."""
        kind = kind_of(value)
        if kind is None:
            raise IOManagerError(unstorable_message(str(ctx.key), self.name, value))
        # Plain strings and os functions: this runs once per asset, and pathlib's objects
        # cost more than the rest of a small asset's bookkeeping.
        # The rename replaces a symlink at the file itself, never its target: only the
        # folder needs checking, and ``_checked_file`` did that once per folder.
        definition = None if ctx.partition is None else ctx.spec.partitions
        file = self._file(ctx.key, ctx.partition, definition)
        folder, name = os.path.split(file)
        stage = self._tmp_dirs.get(folder)
        try:
            if stage is not None:
                pass
            elif ctx.partition is not None:
                stage = self._prepare_partition(ctx.key, folder, file)
            else:
                if folder not in self._safe_folders:
                    self._checked_file(ctx.key, ctx.partition, definition)
                stage = self._prepare(folder)
        except OSError as exc:  # no permission to make the folder, a full disk
            raise IOManagerError(_cannot_write(ctx.key, exc.filename or folder, exc)) from exc
        tmp = os.path.join(stage, f".{name}{self._tmp_tag}-{next(self._tmp_count)}")  # noqa: PTH118
        try:
            version, rows, schema, memory, size = self._write(ctx, tmp, folder, kind, value)
            if self.fsync:
                _fsync_file(Path(tmp))
            written = os.stat(tmp)  # noqa: PTH116  # a rename keeps size and mtime
            if ctx.audit is not None:  # write-audit-publish: the temporary file is the stage
                ctx.audited(Staged(f"read_parquet({_sql_text(tmp)})", version))
            with ctx.publishing():  # a step whose run is gone publishes nothing
                try:
                    os.replace(tmp, file)  # noqa: PTH105  # atomic on the same filesystem
                except FileNotFoundError:  # the output's folder went away (removed by hand)
                    if not os.path.exists(tmp):  # noqa: PTH110
                        raise
                    self._tmp_dirs.pop(folder, None)
                    self._prepare(folder)
                    os.replace(tmp, file)  # noqa: PTH105
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)  # noqa: PTH108
            if isinstance(exc, OSError) and exc.errno:  # the disk's or the system's refusal
                # named by the output's own path: the temporary file is ours, not the user's
                where = file if exc.filename in (None, tmp) else exc.filename
                raise IOManagerError(_cannot_write(ctx.key, where, exc)) from exc
            raise
        if self.fsync:
            _fsync_dir(Path(folder))
        return StoredOutput(
            location=file,
            data_version=version,
            rows=rows,
            bytes=size,
            schema=schema,
            memory=memory,
            fingerprint=_fingerprint(written),
        )

    def sweep(self) -> None:
        """Remove the temporary files that writers which are gone left in the staging
        folder (and in the output folders on another device this manager wrote to), as the
        next save into them would. A run calls it once its workers have ended."""
        for folder in {self._staging, *self._tmp_dirs.values()}:
            if os.path.isdir(folder) and not os.path.islink(folder):  # noqa: PTH112, PTH114
                _remove_orphans(Path(folder), f".*{_TMP_MARK}*")

    def _prepare(self, folder: str) -> str:
        """Create ``folder`` (and its parents), remove what killed writers of an earlier
        release left in it, and choose where its temporary files go (returned)."""
        try:
            os.mkdir(folder)  # noqa: PTH102  # new (a partition's, say): nothing to sweep
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)  # noqa: PTH103
        except FileExistsError:
            _remove_orphans(Path(folder), f".*{_TMP_MARK}*")
        stage = folder
        staging_dev = self._staging_dev
        if staging_dev is None:
            staging_dev = self._prepare_staging()
        if os.stat(folder).st_dev == staging_dev:  # noqa: PTH116
            stage = self._staging
        self._tmp_dirs[folder] = stage
        return stage

    def _prepare_partition(self, key: AssetKey, folder: str, file: str) -> str:
        """``_prepare`` for a partition's ``folder`` (``<dim>=<value>`` folders under the
        asset's): the asset's folder is checked (resolved) and made once; each folder below it
        is made with ``mkdir``, which makes a new folder (never a planted link, on its parent's
        device), or found there already and checked with one ``lstat`` (a link is resolved the
        careful way, refused when it leads out of the root)."""
        asset = os.path.join(self._root_text, *self._key_parts(key))  # noqa: PTH118
        stage = self._tmp_dirs.get(asset)
        if stage is None:
            if asset not in self._safe_folders:
                if not self._inside(asset):
                    raise IOManagerError(
                        f"{key}: {file} is outside the storage folder {self.root}."
                    )
                self._safe_folders.add(asset)
            stage = self._prepare(asset)
        current = asset
        for name in folder[len(asset) + 1 :].split(os.sep):  # noqa: PTH206
            current = os.path.join(current, name)  # noqa: PTH118
            known = self._tmp_dirs.get(current)
            if known is not None:
                stage = known
                continue
            try:
                os.mkdir(current)  # noqa: PTH102
            except FileExistsError:
                st = os.lstat(current)
                if S_ISLNK(st.st_mode) or not S_ISDIR(st.st_mode):
                    if not self._inside(current):
                        raise IOManagerError(
                            f"{key}: {file} is outside the storage folder {self.root}."
                        ) from None
                    stage = self._prepare(current)  # a link inside the root: followed
                    continue
                _remove_orphans(Path(current), f".*{_TMP_MARK}*")
                staging_dev = self._staging_dev
                if staging_dev is None:
                    staging_dev = self._prepare_staging()
                stage = self._staging if st.st_dev == staging_dev else current
            else:  # new, on its parent's device: its temporary files go where the parent's do
                stage = self._staging if stage == self._staging else current
            self._tmp_dirs[current] = stage
        return stage

    def _prepare_staging(self) -> int:
        """Create the staging folder, refuse one that is not a folder of ours (a planted
        symlink, say), sweep what killed writers left in it; its device."""
        os.makedirs(self._staging, exist_ok=True)  # noqa: PTH103
        if os.path.islink(self._staging) or not self._inside(self._staging):  # noqa: PTH114
            raise IOManagerError(
                f"{self._staging} is a link; remove it (Lumbung writes its temporary files there)."
            )
        _remove_orphans(Path(self._staging), f".*{_TMP_MARK}*")
        self._staging_dev = os.stat(self._staging).st_dev  # noqa: PTH116
        return self._staging_dev

    def _open(self, tmp: str, folder: str) -> pa.NativeFile:
        """A new file to write ``tmp`` into; the folders are made again if they went away
        since (removed by hand, or by another manager's ``delete``). Opened here and handed
        to Arrow as a descriptor (which Arrow then owns and closes): given a path, ``OSFile``
        first asks whether it is a folder, one more system call per save."""
        import pyarrow as pa

        try:
            fd = os.open(tmp, _CREATE, 0o666)
        except FileNotFoundError:
            self._tmp_dirs.pop(folder, None)
            self._staging_dev = None
            self._prepare(folder)
            fd = os.open(tmp, _CREATE, 0o666)
        try:
            return pa.OSFile(fd, "wb")
        except BaseException:
            os.close(fd)
            raise

    def _write(
        self, ctx: OutputContext, tmp: str, folder: str, kind: str, value: object
    ) -> tuple[str, int, tuple[tuple[str, str], ...], int, int]:
        """Write ``value`` to ``tmp``: its data version, rows, schema, bytes in memory and
        bytes in the file."""
        return write_parquet(ctx, kind, value, lambda: self._open(tmp, folder))

    def load(self, ctx: InputContext) -> object:
        """The stored output as ``ctx.expected_type`` asks (a relation scans the file lazily);
        of a partitioned asset, the partitions ``ctx.partitions`` names (``None``: every stored
        one) as one value, each with its dimension columns in front, in key order."""
        target = target_of(ctx.expected_type)
        if ctx.spec.partitions is not None or ctx.partitions is not None:
            return self._load_partitions(ctx, target)
        file = self._checked_file(ctx.key, None)
        if target in ("duckdb", "polars"):
            # read later, or by another library: refuse a corrupt file with one line now
            path = Path(file)
            if not path.is_file():
                raise IOManagerError(not_stored(ctx.key, None, file))
            _check_parquet(ctx.key, path)
            if target == "duckdb":
                return ctx.duckdb.read_parquet(file)
            import polars as pl

            return pl.read_parquet(path)

        table = _read(ctx.key, None, file)
        return table if target == "arrow" else table.to_pandas()

    def _load_partitions(self, ctx: InputContext, target: str) -> object:
        """The partitions ``ctx`` asks for as one value (see ``load``)."""
        import pyarrow.parquet as pq

        definition = definition_of(ctx.key, ctx.spec, (ctx.partitions or ("",))[0])
        if ctx.partitions is None:
            keys = self.stored_partitions(ctx.key, definition)
            if not keys:
                where = os.path.join(self._root_text, *self._key_parts(ctx.key))  # noqa: PTH118
                raise IOManagerError(not_stored(ctx.key, None, where))
        else:
            keys = list(ctx.partitions)
        files = [(k, self._checked_file(ctx.key, k, definition)) for k in keys]
        if target != "duckdb" or not files:
            parts = [(k, _read(ctx.key, k, f)) for k, f in files]
            return table_as(target, combine(ctx.key, definition, parts), ctx)
        # a relation scans the files in place: check them (one line for a missing, corrupt
        # or differently shaped one) before DuckDB reads them lazily
        first: tuple[str, pa.Schema] | None = None
        for k, f in files:
            path = Path(f)
            if not path.is_file():
                raise IOManagerError(not_stored(ctx.key, k, f))
            _check_parquet(StepKey(ctx.key, k), path)
            schema = _data_schema(pq.read_schema(f))
            if first is None:
                first = (k, schema)
            elif not schema.equals(first[1]):
                pairs = [[(c.name, str(c.type)) for c in s] for s in (first[1], schema)]
                difference = schema_difference(pairs[0], pairs[1])
                raise IOManagerError(
                    schema_changed(ctx.key, f"partition {first[0]}", k, difference)
                )
        assert first is not None
        columns = [*dimension_names(definition), *first[1].names]
        listed = ", ".join(_sql_text(f) for _, f in files)
        return ctx.duckdb.sql(
            f"SELECT {', '.join(map(_sql_name, columns))} FROM read_parquet([{listed}], "
            "hive_partitioning = true, hive_types_autocast = false)"
        )

    def stored_partitions(self, key: AssetKey, definition: PartitionsDefinition) -> list[str]:
        """The partitions of ``key`` stored under the root, in key order (a folder listing
        per dimension)."""
        from urllib.parse import unquote

        names = dimension_names(definition)
        found: list[tuple[str, ...]] = []
        start = os.path.join(self._root_text, *self._key_parts(key))  # noqa: PTH118

        def walk(folder: str, depth: int, values: tuple[str, ...]) -> None:
            if depth == len(names):
                if os.path.isfile(os.path.join(folder, PART_FILE)):  # noqa: PTH113, PTH118
                    found.append(values)
                return
            prefix = names[depth] + "="
            try:
                entries = list(os.scandir(folder))
            except OSError:
                return
            for entry in entries:
                if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                    walk(entry.path, depth + 1, (*values, unquote(entry.name[len(prefix) :])))

        walk(start, 0, ())
        return sort_keys(definition, [join_values(definition, v) for v in found])

    def scan(self, ctx: OutputContext) -> str:
        """SQL that reads the stored file in place on any DuckDB connection (what
        ``lumbung check`` runs the checks on)."""
        file = self._checked_file(ctx.key, ctx.partition, _definition(ctx))
        path = Path(file)
        if not path.is_file():
            raise IOManagerError(not_stored(ctx.key, ctx.partition, file))
        _check_parquet(ctx.step, path)
        return f"read_parquet({_sql_text(file)})"

    def exists(self, ctx: OutputContext) -> bool:
        """Whether a stored file is there (a symlink leading out of the root is refused).
        Planning asks ``existing`` instead, for all its outputs at once."""
        file = self._checked_file(ctx.key, ctx.partition, _definition(ctx))
        return os.path.isfile(file)  # noqa: PTH113

    def existing(self, contexts: Iterable[OutputContext]) -> set[StepKey]:
        """The steps among ``contexts`` with a stored file (``fingerprints``, for all at once)."""
        asked: dict[AssetKey, list[str | None]] = {}
        specs: dict[AssetKey, AssetSpec] = {}
        for c in contexts:
            asked.setdefault(c.key, []).append(c.partition)
            specs[c.key] = c.spec
        return {
            StepKey(key, p)
            for key, found in self.fingerprints(asked, specs).items()
            for p, fp in found.items()
            if fp
        }

    def fingerprints(
        self, asked: Mapping[AssetKey, Sequence[str | None]], specs: Mapping[AssetKey, AssetSpec]
    ) -> dict[AssetKey, dict[str | None, str]]:
        """Of each asset's partitions ``asked`` (``None``: its one output), those with a stored
        file, each with the file's size and modification time as it is now
        (``"<size>:<mtime_ns>"``). What planning asks of thousands of outputs: one ``stat``
        each, relative to its folder opened once, never following a link (a link inside the
        root is followed the careful way)."""
        out: dict[AssetKey, dict[str | None, str]] = {}
        by_prefix: dict[tuple[str, ...], list[AssetKey]] = {}
        for key, parts in asked.items():
            wanted = [p for p in parts if p is not None]
            if wanted:
                found: dict[str | None, str] = {}
                self._partition_fingerprints(key, specs[key].partitions, wanted, found)
                if found:
                    out[key] = found
            if len(wanted) == len(parts):  # no unpartitioned output asked
                continue
            if not _safe_segment(key[-1]):
                fp = self._fingerprint_of(key, None)  # the careful way
                if fp is not None:
                    out.setdefault(key, {})[None] = fp
                continue
            group = by_prefix.get(key[:-1])
            if group is None:
                group = by_prefix[key[:-1]] = []
            group.append(key)
        stat = os.stat
        for keys in by_prefix.values():
            folder = os.path.dirname(self._checked_file(keys[0], None))  # noqa: PTH120
            try:
                fd = os.open(folder, _DIR_FLAGS) if _STAT_AT else None
            except OSError:  # no folder: none of them is stored
                continue
            try:
                for key in keys:
                    try:
                        if fd is not None:
                            st = stat(key[-1] + SUFFIX, dir_fd=fd, follow_symlinks=False)
                        else:  # pragma: no cover - systems without *at() calls
                            name = os.path.join(folder, key[-1] + SUFFIX)  # noqa: PTH118
                            st = stat(name, follow_symlinks=False)
                    except OSError:
                        continue
                    fp = None
                    if S_ISREG(st.st_mode):
                        fp = f"{st.st_size}:{st.st_mtime_ns}"
                    elif S_ISLNK(st.st_mode):
                        fp = self._fingerprint_of(key, None)
                    if fp is not None:
                        out.setdefault(key, {})[None] = fp
            finally:
                if fd is not None:
                    os.close(fd)
        return out

    def _partition_fingerprints(
        self,
        key: AssetKey,
        definition: PartitionsDefinition | None,
        wanted: list[str],
        out: dict[str | None, str],
    ) -> None:
        """``fingerprints`` of the partitions ``wanted`` of ``key`` into ``out``, in bulk: the
        asset's folder checked once (resolved, links and all), its ``<dim>=<value>`` folders
        listed once per level with ``os.scandir``, and one ``stat`` per ``part.parquet``
        relative to the asset's folder opened once, never following a link. A partition folder
        or file that is a link is checked the careful way (refused when it leads out of the
        root)."""
        if len(wanted) < _BULK or not _STAT_AT:  # a few: not worth a listing
            for p in wanted:
                fp = self._fingerprint_of(key, p, definition)
                if fp is not None:
                    out[p] = fp
            return
        if definition is None:
            self._file(key, "", None)  # raises: the asset declares no partitions
        assert definition is not None
        folder = os.path.join(self._root_text, *self._key_parts(key))  # noqa: PTH118
        if folder not in self._safe_folders:
            if not self._inside(folder):
                file = self._file(key, wanted[0], definition)
                raise IOManagerError(f"{key}: {file} is outside the storage folder {self.root}.")
            self._safe_folders.add(folder)
        try:
            fd = os.open(folder, _DIR_FLAGS)
        except OSError:  # no folder (or not one): none of them is stored
            return
        names = dimension_names(definition)
        try:
            if len(names) == 1:  # most: one folder per partition, its names made at once
                prefix = names[0] + "="
                index = dict(zip([prefix + v for v in _escape_all(wanted)], wanted, strict=True))
                self._stat_parts(key, definition, index, out, fd, folder, "")
            else:
                folders = {p: partition_folders(definition, p) for p in wanted}
                self._partition_level(key, definition, folders, out, fd, folder, "", 0)
        finally:
            os.close(fd)

    def _partition_level(
        self,
        key: AssetKey,
        definition: PartitionsDefinition,
        wanted: dict[str, list[str]],
        out: dict[str | None, str],
        fd: int,
        folder: str,
        relative: str,
        depth: int,
    ) -> None:
        """``_partition_fingerprints`` of a multi definition at one level: ``folder``
        (``relative`` to the asset's folder ``fd``) holds the ``depth``-th dimension's folders
        of the partitions ``wanted`` (partition -> its folders)."""
        if depth + 1 == len(next(iter(wanted.values()))):
            index = {names[depth]: p for p, names in wanted.items()}
            self._stat_parts(key, definition, index, out, fd, folder, relative)
            return
        groups: dict[str, dict[str, list[str]]] = {}
        for p, names in wanted.items():
            groups.setdefault(names[depth], {})[p] = names
        for name, entry in self._listed(folder, groups):
            if entry.is_symlink():  # inside the root (followed) or out of it (refused)
                for p in groups[name]:
                    fp = self._fingerprint_of(key, p, definition)
                    if fp is not None:
                        out[p] = fp
            elif entry.is_dir(follow_symlinks=False):
                self._partition_level(
                    key,
                    definition,
                    groups[name],
                    out,
                    fd,
                    entry.path,
                    f"{relative}{name}/",
                    depth + 1,
                )

    @staticmethod
    def _listed(folder: str, names: Mapping[str, object]) -> list[tuple[str, os.DirEntry[str]]]:
        """The entries of ``folder`` (one listing) named in ``names``; none when it is gone or
        not a folder."""
        try:
            with os.scandir(folder) as listing:
                return [(e.name, e) for e in listing if e.name in names]
        except OSError:
            return []

    def _stat_parts(
        self,
        key: AssetKey,
        definition: PartitionsDefinition,
        index: dict[str, str],
        out: dict[str | None, str],
        fd: int,
        folder: str,
        relative: str,
    ) -> None:
        """The last level of ``_partition_fingerprints``: ``folder`` (``relative`` to the
        asset's folder ``fd``) holds the partition folders ``index`` names (name -> partition);
        stat each one's file."""
        stat = os.stat
        file = "/" + PART_FILE
        try:
            listing = os.scandir(folder)
        except OSError:  # gone, or not a folder: none of them is stored
            return
        with listing:
            for entry in listing:
                name = entry.name
                p = index.get(name)
                if p is None:
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    if entry.is_symlink():  # inside the root (followed) or out of it (refused)
                        fp = self._fingerprint_of(key, p, definition)
                        if fp is not None:
                            out[p] = fp
                    continue
                try:
                    st = stat(relative + name + file, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                if S_ISREG(st.st_mode):
                    out[p] = f"{st.st_size}:{st.st_mtime_ns}"
                elif S_ISLNK(st.st_mode):
                    fp = self._fingerprint_of(key, p, definition)
                    if fp is not None:
                        out[p] = fp

    def _fingerprint_of(
        self, key: AssetKey, partition: str | None, definition: PartitionsDefinition | None = None
    ) -> str | None:
        """One output's fingerprint, checked like ``exists`` (a link out of the root is
        refused); ``None`` when no file is stored."""
        file = self._checked_file(key, partition, definition)
        try:
            st = os.stat(file)  # noqa: PTH116
        except OSError:
            return None
        return _fingerprint(st) if S_ISREG(st.st_mode) else None

    def stored_version(self, ctx: OutputContext) -> str | None:
        """The data version written into the stored file's footer (``METADATA_KEY``), read
        without reading its data; ``None`` when there is none (a file Lumbung did not write)
        or no readable file."""
        return footer_version(self._checked_file(ctx.key, ctx.partition, _definition(ctx)))

    def delete(self, ctx: OutputContext) -> None:
        """Remove the stored file and prune the folders it leaves empty, up to the root."""
        path = self.path(ctx.key, ctx.partition, _definition(ctx))
        path.unlink(missing_ok=True)
        for where in (path.parent, Path(self._staging)):
            _remove_orphans(where, f".{path.name}{_TMP_MARK}*")
        folder = path.parent
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone)
                if folder.exists():
                    break
            self._tmp_dirs.pop(str(folder), None)
            folder = folder.parent


def write_parquet(
    ctx: OutputContext, kind: str, value: object, open_sink: Callable[[], pa.NativeFile]
) -> tuple[str, int, tuple[tuple[str, str], ...], int, int]:
    """Stream ``value`` (of value kind ``kind``) as Parquet into the file ``open_sink`` opens,
    hashing each batch: its data version, rows, schema, bytes in memory and bytes in the
    file. The one writer of every Parquet manager (local folders, ``parquet_remote``)."""
    import pyarrow.parquet as pq

    chunks: Iterable[pa.Table | pa.RecordBatch]
    if kind == "duckdb":
        reader = value.to_arrow_reader(_STREAM_ROWS)  # type: ignore[attr-defined]
        schema = reader.schema
        chunks = reader
    else:
        table = to_arrow(value)
        schema = table.schema
        chunks = (table,)
    if ctx.partition is not None:  # the dimensions are in the path, not in the file
        schema, chunks = _without_dimensions(ctx, ctx.partition, schema, chunks)
    target = _storage_schema(schema)
    try:
        hasher = TableHasher(target)
    except Exception as exc:  # a type that has no data version
        raise IOManagerError(_cannot_store(ctx.key, target, exc)) from exc
    with open_sink() as sink:
        try:
            writer = pq.ParquetWriter(sink, target)
        except Exception as exc:  # a type with no Parquet mapping
            raise IOManagerError(_cannot_store(ctx.key, target, exc)) from exc
        try:
            # XXH3 hashes at memory speed: about 2% of the write, on this thread
            memory = 0
            for chunk in _conform(chunks, schema, target):
                hasher.update(chunk)
                writer.write(chunk)
                memory += chunk.get_total_buffer_size()  # what it holds (see memory_size)
            version = hasher.hexdigest()
            writer.add_key_value_metadata({METADATA_KEY: version})
        finally:
            writer.close()
        size = sink.tell()
    return version, hasher.rows, hasher.schema, memory, size


def footer_version(file: str, filesystem: FileSystem | None = None) -> str | None:
    """The data version written into the footer of the Parquet file ``file`` (``METADATA_KEY``;
    on ``filesystem``, else a local path), read without its data; ``None`` when there is none
    (a file Lumbung did not write) or no readable file. Every Parquet manager's
    ``stored_version``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(file, filesystem=filesystem).metadata
    except (OSError, pa.ArrowException):
        return None
    version = (meta or {}).get(_METADATA_BYTES)
    return version.decode("ascii", "replace") if version is not None else None


def without_version(table: pa.Table) -> pa.Table:
    """A table read from a Parquet file without Lumbung's own metadata entry (ours, not the
    data's: ``read_table`` drops it too)."""
    meta = table.schema.metadata
    if meta and _METADATA_BYTES in meta:
        table = table.replace_schema_metadata(
            {k: v for k, v in meta.items() if k != _METADATA_BYTES}
        )
    return table


def table_as(target: str, table: pa.Table, ctx: InputContext) -> object:
    """A loaded ``table`` as the kind ``target`` names (a relation on ``ctx``'s connection)."""
    if target == "duckdb":
        return ctx.duckdb.from_arrow(table)
    if target == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table if target == "arrow" else table.to_pandas()


_MAGIC = b"PAR1"


def _definition(ctx: OutputContext) -> PartitionsDefinition | None:
    """The partitions definition a context's partition is of (``None``: unpartitioned)."""
    if ctx.partition is None:
        return None
    return definition_of(ctx.key, ctx.spec, ctx.partition)


def _read(key: AssetKey, partition: str | None, file: str) -> pa.Table:
    """The stored file as an Arrow table, without Lumbung's own metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if os.stat(file).st_size < _SMALL_FILE:  # noqa: PTH116
            # pq.read_table's datasets layer costs three times the read of a small file
            with pq.ParquetFile(file, pre_buffer=False) as fh:
                table = fh.read()
        else:  # and reads a big one faster (coalesced, parallel reads of row groups)
            table = pq.read_table(file)
    except FileNotFoundError:
        raise IOManagerError(not_stored(key, partition, file)) from None
    except (pa.ArrowException, OSError) as exc:
        step = StepKey(key, partition)
        if not os.path.isfile(file):  # noqa: PTH113  # a folder in the way, say
            raise IOManagerError(not_stored(key, partition, file)) from exc
        _check_parquet(step, Path(file))  # a truncated or foreign file: its own line
        raise IOManagerError(_unreadable(step, Path(file), type(exc).__name__)) from exc
    return without_version(table)


def _data_schema(schema: pa.Schema) -> pa.Schema:
    return schema.remove_metadata()


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _without_dimensions(
    ctx: OutputContext,
    partition: str,
    schema: pa.Schema,
    chunks: Iterable[pa.Table | pa.RecordBatch],
) -> tuple[pa.Schema, Iterable[pa.Table | pa.RecordBatch]]:
    """``schema`` and ``chunks`` without the columns named like a dimension, each checked to
    hold the partition's value (``storage.partitioned.strip``)."""
    names, values = dimensions(ctx.key, ctx.spec, partition)
    present = [n for n in names if n in schema.names]
    if not present:
        return schema, chunks
    for n in present:
        schema = schema.remove(schema.get_field_index(n))
    return schema, (strip(ctx.key, partition, names, values, c) for c in chunks)


def _fingerprint(st: os.stat_result) -> str:
    """A stored file as written: its size and modification time, which a rename keeps and
    nearly any change of the file alters."""
    return f"{st.st_size}:{st.st_mtime_ns}"


def _check_parquet(key: AssetKey | StepKey, path: Path) -> None:
    """Refuse a stored file that cannot be Parquet (truncated, or overwritten by something
    else) with one clear line, before any reader fails on it: it begins and ends with
    ``PAR1``. Two small reads."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(size - 4, 0))
            tail = fh.read(4)
    except OSError as exc:
        raise IOManagerError(_unreadable(key, path, exc.strerror or type(exc).__name__)) from exc
    if size < 12 or head != _MAGIC or tail != _MAGIC:
        raise IOManagerError(_unreadable(key, path, "truncated or not Parquet"))


def _cannot_store(key: AssetKey, schema: pa.Schema, exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno:  # the disk's refusal, not the value's: say so
        raise exc
    return _unstorable_column(key, schema) or f"{key}: cannot store this value in Parquet: {exc}"


def _cannot_write(key: AssetKey, where: str, exc: OSError) -> str:
    return f"{key}: the parquet IO manager cannot write {where} {explain(exc)}."


def _unreadable(key: AssetKey | StepKey, path: Path, reason: str) -> str:
    asset = key.asset if isinstance(key, StepKey) else key
    return (
        f"{key}: the stored file {path} is corrupt ({reason}); materialize {asset} again "
        f"(lumbung materialize -s {asset} --force)."
    )


def _unstorable_column(key: AssetKey, schema: pa.Schema) -> str | None:
    """The error for the first column Parquet (or the data version) cannot hold, if any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for field in schema:
        try:
            TableHasher(pa.schema([field]))
            pq.write_table(pa.table({field.name: pa.nulls(0, field.type)}), pa.BufferOutputStream())
        except Exception:
            return (
                f"{key}: the parquet IO manager cannot store column {field.name!r} of type "
                f"{field.type}; cast it to a supported type or use the duckdb IO manager."
            )
    return None


def _conform(
    chunks: Iterable[pa.Table | pa.RecordBatch], schema: pa.Schema, target: pa.Schema
) -> Iterator[pa.Table | pa.RecordBatch]:
    """The chunks with ``target``'s schema (a cast only where Parquet widens a type)."""
    if target is schema:
        yield from chunks
        return
    for chunk in chunks:
        yield chunk.cast(target)


def _remove_orphans(folder: Path, pattern: str) -> None:
    """Remove the temporary files matching ``pattern`` in ``folder`` whose writer process is
    gone (killed while writing): ``.<name>.tmp-<pid>-<tag>-<n>``."""
    for tmp in folder.glob(pattern):
        pid = tmp.name.rpartition(_TMP_MARK)[2].partition("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # Windows cannot open a folder; os.replace is durable there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def from_storage(storage: Path) -> ParquetIOManager:
    """A manager storing under ``<storage>/parquet`` (the ``parquet`` entry point's default:
    ``io_managers.parquet_storage``)."""
    return ParquetIOManager(Path(storage) / "parquet")
