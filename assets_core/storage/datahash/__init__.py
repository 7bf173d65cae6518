"""Data versions: the content hash of a stored output, and the file digest of a source.

This package owns Lumbung's canonical encoding of tabular data. The hash covers the schema
(column names and canonical type names) and every value in order. It does not depend on how
the data is chunked in memory (chunks, record batches, slices with offsets), and it stays the
same across library upgrades. To get that, it never hashes raw Arrow buffers as they are, and
never uses ``str(pa_type)``. Every byte hashed is defined below.

Encoding, format version 2 (``FORMAT_VERSION``)
------------------------------------------------
``H(x)`` is XXH3-128 of ``x`` with seed 0 and the default secret (``xxhash.xxh3_128``), as its
16-byte canonical digest: the 128-bit value, big-endian (``xxh3_128(x).digest()``). The xxHash
specification has frozen XXH3's output since xxHash 0.8.0, so the digests do not change with
library upgrades. It fingerprints content; there is no adversary here. Integers are
little-endian. ``u32``/``u64`` are unsigned, and ``str(s)`` is ``u32 len(utf8) ‖ utf8``.

*Table digest* (the data version: its 32 lowercase hex characters)::

    H( b"lumbung-datahash" ‖ u32 FORMAT_VERSION ‖ u64 rows ‖ u32 columns
       ‖ for each column in order: str(name) ‖ node(column) )

    node(x) = b"N" ‖ str(canonical type name of x) ‖ u64 length ‖ u64 null_count
              ‖ for each stream (validity first, then the kind's), unless the kind is null:
                    u64 byte_length ‖ stream_digest
              ‖ node(child) for each child, in order

*Stream digest*: a stream is a sequence of bytes, and its digest is ``H(bytes)`` over all of
them (16 bytes; an empty stream's is ``H(b"")``). The hash is fed incrementally, batch by
batch, which gives the same digest however the rows were batched.

*Validity stream*: empty when the node has no nulls. Otherwise it holds one byte per row:
1 for valid, 0 for null.

*Kinds and their streams* (a null slot's value is always zeroed or empty):

- ``null``: no streams, no children.
- fixed width, in one ``values`` stream at the type's byte width, with null slots zeroed:
  ``int8…int64``, ``uint8…uint64``, and ``float16/32/64``. Every NaN is written as the canonical
  quiet NaN (``0x7e00``, ``0x7fc00000``, ``0x7ff8000000000000``). ``-0.0`` is kept.
  ``date[day]`` is int32 days and ``date[ms]`` is int64. ``time[unit]`` is int32 for s/ms and int64
  for us/ns. ``timestamp[unit]``, ``timestamp[unit, tz=Zone]`` and ``duration[unit]`` are int64.
  ``decimalN(p,s)`` is the N-bit two's-complement value. ``fixed_binary[n]`` is the raw bytes.
  ``interval[month_day_nano]`` is i32 months, i32 days, i64 nanoseconds.
- ``bool``: one ``values`` stream, one byte (0 or 1) per value.
- ``string`` / ``binary``, also large and view variants: a ``lengths`` stream (a null value
  has length 0) and a ``data`` stream (the valid values' bytes, concatenated).
- lists (``list<T>``, large lists and list views as well; ``list<T>[n]`` for fixed size):
  a ``lengths`` stream, where a null list has length 0, and one child node over the
  concatenated elements of the valid lists. ``map<K,V>`` is a list of
  ``struct<"key":K,"value":V>``.
- ``struct<"name":T,…>``: no streams of its own beyond validity, and one child node per field.
  A field under a null struct is null.
- dictionaries and run-end encoded arrays are hashed as their decoded values, under the value
  type's name. An extension type is ``extension<name>[storage type]`` over its storage.
- union types are not supported.

*Lengths*: ``u32`` per value. A length of ``0xFFFFFFFF`` or more is written as the escape
``0xFFFFFFFF`` followed by ``u64 length``.

Field nullability and schema metadata are not part of the hash. Nor are a list's child
field name ("item" vs "element") and the physical variant (large or view). Any change to
these rules must bump ``FORMAT_VERSION``.

*Format 1* (Lumbung before format 2) used SHA-1 (20-byte digests, data versions of 40 hex
characters) and cut streams longer than 4 MiB into fixed blocks hashed on a thread pool; the
rest of the encoding was the same. A version of one format never equals one of the other, so
versions recorded before an upgrade simply differ from new ones: the first time an upstream
is written again after the upgrade, each asset reading it runs once even if the content is
unchanged (at most one missed early cutoff per input), and nothing is ever wrongly fresh.

Modules
-------
``encoding``: ``H``, the stream digest and the byte layout the others share. ``nodes``: one
node per column, fed Arrow arrays kind by kind. ``arrow``: canonical type names and
``TableHasher`` (``hash_arrow``). ``pandas``: the fast path for pandas frames
(``hash_pandas``). This module adds ``DataVersion``, ``data_version`` (which dispatches on the
kind of value) and ``file_digest`` (the SHA-256 of a source file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets_core.errors import IOManagerError
from assets_core.storage.datahash.arrow import (
    TableHasher,
    canonical_schema,
    canonical_type,
    hash_arrow,
)
from assets_core.storage.datahash.encoding import FORMAT_VERSION
from assets_core.storage.datahash.pandas import _pandas_fast, hash_pandas

__all__ = [
    "FORMAT_VERSION",
    "DataVersion",
    "TableHasher",
    "canonical_schema",
    "canonical_type",
    "data_version",
    "file_digest",
    "hash_arrow",
    "hash_pandas",
]


@dataclass(frozen=True, slots=True)
class DataVersion:
    """A stored output's content hash plus its shape, as recorded with a materialization."""

    version: str
    rows: int
    schema: tuple[tuple[str, str], ...]
    nbytes: int | None


def data_version(
    value: object, *, asset: str | None = None, manager: str | None = None
) -> DataVersion:
    """Hash any supported value: a pandas DataFrame, pyarrow Table or RecordBatch, a DuckDB
    relation (streamed as Arrow record batches), or a polars DataFrame.

    An unsupported value raises ``IOManagerError``; with ``asset`` and ``manager`` given the
    message is ``values.unstorable_message(asset, manager, value)``.
    """
    from assets_core.storage.values import kind_of, unstorable_message

    kind = kind_of(value)
    if kind == "pandas":
        try:
            fast = _pandas_fast(value)
        except Exception:
            fast = None
        if fast is not None:
            digest, schema, nbytes = fast
            return DataVersion(digest, len(value), schema, nbytes)  # type: ignore[arg-type]
        from assets_core.storage.values import to_arrow

        return _arrow_version(to_arrow(value))
    if kind == "arrow":
        return _arrow_version(value)
    if kind == "duckdb":
        reader = value.to_arrow_reader(1 << 17)  # type: ignore[attr-defined]
        hasher = TableHasher(reader.schema)
        nbytes = 0
        for batch in reader:
            hasher.update(batch)
            nbytes += batch.nbytes
        return DataVersion(hasher.hexdigest(), hasher.rows, hasher.schema, nbytes)
    if kind == "polars":
        return _arrow_version(value.to_arrow())  # type: ignore[attr-defined]
    if asset is not None and manager is not None:
        raise IOManagerError(unstorable_message(asset, manager, value))
    from assets_core.storage.values import _qualname

    raise IOManagerError(
        f"cannot compute a data version of a value of type {_qualname(value)}; "
        "use a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )


def _arrow_version(table: Any) -> DataVersion:
    hasher = TableHasher(table.schema)
    hasher.update(table)
    return DataVersion(hasher.hexdigest(), hasher.rows, hasher.schema, int(table.nbytes))


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with Path(path).open("rb", buffering=0) as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            h.update(view[:k])
    return h.hexdigest()
