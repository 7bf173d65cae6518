"""Data versions: the content hash of a stored output, and the file digest of a source.

This module owns Lumbung's canonical encoding of tabular data. The hash covers the schema
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
"""

from __future__ import annotations

import hashlib
import struct
import sys
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from assets_core.errors import IOManagerError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

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

FORMAT_VERSION = 2
_BIG = sys.byteorder == "big"
_HEADER = b"lumbung-datahash"
_ESCAPE = 0xFFFFFFFF
_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
_U64 = struct.Struct("<Q")
_QQ = struct.Struct("<QQ")


_new = xxhash.xxh3_128  # H, incremental
_digest = xxhash.xxh3_128_digest  # H(x) in one call


_EMPTY_DIGEST = _digest(b"")


@dataclass(frozen=True, slots=True)
class DataVersion:
    """A stored output's content hash plus its shape, as recorded with a materialization."""

    version: str
    rows: int
    schema: tuple[tuple[str, str], ...]
    nbytes: int | None


# --------------------------------------------------------------------------- streams


class _Stream:
    """A byte stream, hashed incrementally as it is fed (see the module docstring)."""

    __slots__ = ("h", "length")

    def __init__(self) -> None:
        self.h: Any = None  # created at the first byte
        self.length = 0

    def feed(self, buf: Any, n: int) -> None:
        """Append ``n`` bytes held by ``buf`` (any C-contiguous buffer)."""
        if n:
            h = self.h
            if h is None:
                h = self.h = _new()
            h.update(buf)
            self.length += n

    def digest(self) -> bytes:
        """The stream digest of everything fed so far."""
        h = self.h
        return _EMPTY_DIGEST if h is None else bytes(h.digest())


# --------------------------------------------------------------------------- numpy helpers


def _np() -> Any:
    import numpy

    return numpy


def _unpack_bits(buf: Any, offset: int, n: int) -> np.ndarray:
    """Bits [offset, offset+n) of an Arrow bitmap as one uint8 (0/1) per bit."""
    np = _np()
    first = offset >> 3
    last = ((offset + n - 1) >> 3) + 1
    raw = np.frombuffer(buf, dtype=np.uint8)[first:last]
    bits = np.unpackbits(raw, bitorder="little")
    start = offset & 7
    return bits[start : start + n]  # type: ignore[no-any-return]


def _lengths(lens: np.ndarray) -> Any:
    """Encode lengths as u32, escaping huge ones (see the module docstring)."""
    np = _np()
    if lens.dtype.itemsize == 4:
        return lens.astype("<u4") if _BIG else lens.view(np.uint32)
    if lens.size and int(lens.max()) >= _ESCAPE:
        out = bytearray()
        for v in lens.tolist():
            out += struct.pack("<I", v) if v < _ESCAPE else struct.pack("<IQ", _ESCAPE, v)
        return bytes(out)
    return lens.astype("<u4")


# --------------------------------------------------------------------------- type names


def canonical_type(t: pa.DataType) -> str:
    """Lumbung's own, version-stable name of an Arrow type (see the module docstring)."""
    return _make_node(t).name


def canonical_schema(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """``(column name, canonical type name)`` for every column, in order."""
    return tuple((f.name, _make_node(f.type).name) for f in schema)


# --------------------------------------------------------------------------- nodes

_INT_WIDTH = {8: 1, 16: 2, 32: 4, 64: 8}
_NULL, _FIXED, _BOOL, _BINARY, _LIST, _STRUCT = range(6)


class _Node:
    """One column (or nested child): its streams and children, fed array by array."""

    __slots__ = (
        "children",
        "float_width",
        "kind",
        "name",
        "nulls",
        "rows",
        "streams",
        "swap",
        "validity",
        "width",
    )

    def __init__(self, name: str, kind: int, width: int = 0) -> None:
        self.name = name
        self.kind = kind
        self.rows = 0
        self.nulls = 0
        self.validity: _Stream | None = None  # created at the first null
        self.children: list[_Node] = []
        self.width = width
        self.float_width = 0
        self.swap = True
        if kind == _BINARY:
            self.streams = [_Stream(), _Stream()]
        elif kind in (_NULL, _STRUCT):
            self.streams = []
        else:
            self.streams = [_Stream()]

    # -- feeding ------------------------------------------------------------------------

    def account(self, n: int, valid: np.ndarray | None, nulls: int) -> None:
        """Advance the row count and the validity stream by ``n`` rows; ``valid`` holds one
        byte per row and is given exactly when ``nulls > 0``."""
        if valid is not None:
            v = self.validity
            if v is None:
                v = self.validity = _Stream()
                left = self.rows  # every earlier row was valid
                ones = b"\x01" * min(left, 1 << 20)
                while left:
                    k = min(left, len(ones))
                    v.feed(ones, k) if k == len(ones) else v.feed(ones[:k], k)
                    left -= k
            v.feed(valid, n)
        elif self.validity is not None:
            self.validity.feed(b"\x01" * n, n)
        self.rows += n
        self.nulls += nulls

    def feed(self, arr: pa.Array) -> None:
        """Feed one Arrow array (any offset) of this node's type family."""
        n = len(arr)
        if n == 0:
            return
        arr = _normalize(arr)
        kind = self.kind
        if kind == _NULL:
            self.rows += n
            self.nulls += n
            return
        nulls = arr.null_count
        valid = _unpack_bits(arr.buffers()[0], arr.offset, n) if nulls else None
        self.account(n, valid, nulls)
        if kind == _FIXED:
            w = self.width
            raw = _np().frombuffer(arr.buffers()[1], dtype="u1", count=n * w, offset=arr.offset * w)
            self.feed_fixed(raw, valid)
        elif kind == _BOOL:
            vals = _unpack_bits(arr.buffers()[1], arr.offset, n)
            if valid is not None:
                vals = vals & valid
            self.streams[0].feed(vals, n)
        elif kind == _BINARY:
            self._feed_binary(arr, n, valid)
        elif kind == _LIST:
            import pyarrow.compute as pc

            lens = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
            _feed_lengths(self.streams[0], lens)
            self.children[0].feed(arr.flatten())
        else:  # struct: flatten() applies the offset and the struct's own nulls
            for child, sub in zip(self.children, arr.flatten(), strict=True):
                child.feed(sub)

    def feed_fixed(self, raw: np.ndarray, valid: np.ndarray | None) -> None:
        """Feed fixed-width values given as their native bytes (``n * width`` uint8)."""
        np = _np()
        w = self.width
        v = raw.view(f"u{w}") if w in (1, 2, 4, 8) else raw.reshape(-1, w)
        copied = False
        if self.float_width:
            fv = v.view(f"f{w}")
            with np.errstate(all="ignore"):
                maybe_nan = bool(np.isnan(np.add.reduce(fv)))  # NaN propagates through a sum
            if maybe_nan:
                mask = np.isnan(fv)
                if mask.any():
                    v = v.copy()
                    copied = True
                    v[mask] = _NAN_BITS[w]
        if valid is not None:
            if not copied:
                v = v.copy()
            v[valid == 0] = 0
        if _BIG and self.swap:
            v = v.byteswap() if v.ndim == 1 else v[:, ::-1]
        v = np.ascontiguousarray(v)
        self.streams[0].feed(v, v.nbytes)

    def _feed_binary(self, arr: pa.Array, n: int, valid: np.ndarray | None) -> None:
        large = arr.type.id in _LARGE_BINARY_IDS
        bufs = arr.buffers()
        if valid is None and n <= 64:  # small: plain Python beats numpy's call overhead
            o = struct.unpack_from(
                f"={n + 1}{'q' if large else 'i'}", bufs[1], arr.offset * (8 if large else 4)
            )
            lens = [o[i + 1] - o[i] for i in range(n)]
            if max(lens) < _ESCAPE:
                self.streams[0].feed(struct.pack(f"<{n}I", *lens), 4 * n)
            else:
                _feed_lengths(self.streams[0], _np().array(lens, dtype="int64"))
            start, end = o[0], o[n]
        else:
            np = _np()
            odt = np.int64 if large else np.int32
            osz = 8 if large else 4
            o = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=arr.offset * osz)
            lens = np.diff(o)
            if valid is not None and (lens[valid == 0] != 0).any():
                # null slots backed by bytes: compact them to empty values first
                import pyarrow as pa

                empty = pa.scalar(b"" if _is_binary(arr.type) else "", arr.type)
                arr = arr.fill_null(empty)
                bufs = arr.buffers()
                o = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=arr.offset * osz)
                lens = np.diff(o)
            _feed_lengths(self.streams[0], lens)
            start, end = int(o[0]), int(o[-1])
        if end > start:
            self.streams[1].feed(memoryview(bufs[2])[start:end], end - start)

    # -- digest -------------------------------------------------------------------------

    def serialize(self, out: list[bytes]) -> None:
        """Append this node's part of the table digest input (see the module docstring)."""
        out.append(_prefix(self.name) + _QQ.pack(self.rows, self.nulls))
        if self.kind != _NULL:
            v = self.validity
            out.append(_U64.pack(v.length) + v.digest() if v is not None else _NO_NULLS)
            for s in self.streams:
                out.append(_U64.pack(s.length) + s.digest())
        for c in self.children:
            c.serialize(out)


_NO_NULLS = _U64.pack(0) + _EMPTY_DIGEST
_PREFIXES: dict[str, bytes] = {}


def _prefix(name: str) -> bytes:
    """``b"N" ‖ str(name)``, cached per canonical type name."""
    b = _PREFIXES.get(name)
    if b is None:
        raw = name.encode("utf-8")
        b = _PREFIXES[name] = b"N" + struct.pack("<I", len(raw)) + raw
    return b


def _flat_part(name: str, n: int, values: Any, nbytes: int, valid: Any, nulls: int) -> bytes:
    """A one-stream node (fixed width or bool) serialized directly from its whole streams."""
    v = _NO_NULLS if valid is None else _U64.pack(n) + _digest(valid)
    return _prefix(name) + _QQ.pack(n, nulls) + v + _U64.pack(nbytes) + _digest(values)


def _feed_lengths(stream: _Stream, lens: np.ndarray) -> None:
    enc = _lengths(lens)
    stream.feed(enc, len(enc) if isinstance(enc, bytes) else enc.nbytes)


def _ids() -> tuple[frozenset[int], frozenset[int]]:
    import pyarrow as pa

    large = frozenset({pa.large_string().id, pa.large_binary().id})
    views = frozenset({pa.string_view().id, pa.binary_view().id})
    return large, views


_LARGE_BINARY_IDS: frozenset[int] = frozenset()
_VIEW_IDS: frozenset[int] = frozenset()


def _is_binary(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t))


def _normalize(arr: Any) -> Any:
    """Decode dictionaries and run-ends, unwrap extensions, and turn views and maps into
    their plain equivalents, so the node code sees one physical layout per kind."""
    import pyarrow as pa

    t = arr.type
    tid = t.id
    if tid in _PLAIN_IDS:
        return arr
    if pa.types.is_dictionary(t):
        return _normalize(arr.dictionary_decode())
    if isinstance(t, pa.ExtensionType):
        return _normalize(arr.storage)
    if pa.types.is_run_end_encoded(t):
        import pyarrow.compute as pc

        return _normalize(pc.run_end_decode(arr))
    if tid in _VIEW_IDS:
        return arr.cast(pa.large_binary() if pa.types.is_binary_view(t) else pa.large_string())
    if pa.types.is_map(t):
        lt = pa.list_(arr.values.type)
        return pa.Array.from_buffers(
            lt, len(arr), arr.buffers()[:2], arr.null_count, arr.offset, children=[arr.values]
        )
    return arr


_PLAIN_IDS: frozenset[int] = frozenset()
_PLAIN_SPECS: dict[int, tuple[str, int, int, int]] = {}  # type id -> name, kind, width, float


def _init_ids() -> None:
    global _LARGE_BINARY_IDS, _VIEW_IDS, _PLAIN_IDS
    import pyarrow as pa

    _LARGE_BINARY_IDS, _VIEW_IDS = _ids()
    specs = {
        pa.null(): ("null", _NULL, 0, 0),
        pa.bool_(): ("bool", _BOOL, 0, 0),
        pa.string(): ("string", _BINARY, 0, 0),
        pa.large_string(): ("string", _BINARY, 0, 0),
        pa.binary(): ("binary", _BINARY, 0, 0),
        pa.large_binary(): ("binary", _BINARY, 0, 0),
    }
    for bits, width in _INT_WIDTH.items():
        specs[getattr(pa, f"int{bits}")()] = (f"int{bits}", _FIXED, width, 0)
        specs[getattr(pa, f"uint{bits}")()] = (f"uint{bits}", _FIXED, width, 0)
    for t, bits in ((pa.float16(), 16), (pa.float32(), 32), (pa.float64(), 64)):
        specs[t] = (f"float{bits}", _FIXED, bits // 8, bits // 8)
    _PLAIN_SPECS.update({t.id: spec for t, spec in specs.items()})
    _PLAIN_IDS = frozenset(_PLAIN_SPECS)


def _make_node(t: Any) -> _Node:
    """Build the node tree for an Arrow type; its ``name`` is the canonical type name."""
    if not _PLAIN_IDS:
        _init_ids()
    spec = _PLAIN_SPECS.get(t.id)
    if spec is not None:
        node = _Node(spec[0], spec[1], spec[2])
        node.float_width = spec[3]
        return node
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(t):
        return _make_node(t.value_type)
    if isinstance(t, pa.ExtensionType):
        inner = _make_node(t.storage_type)
        inner.name = f"extension<{t.extension_name}>[{inner.name}]"
        return inner
    if types.is_run_end_encoded(t):
        return _make_node(t.value_type)
    if types.is_string_view(t):
        return _Node("string", _BINARY)
    if types.is_binary_view(t):
        return _Node("binary", _BINARY)
    name, width, swap = "", 0, True
    if types.is_fixed_size_binary(t) and not types.is_decimal(t):
        name, width, swap = f"fixed_binary[{t.byte_width}]", t.byte_width, False
    elif types.is_date32(t):
        name, width = "date[day]", 4
    elif types.is_date64(t):
        name, width = "date[ms]", 8
    elif types.is_time32(t) or types.is_time64(t):
        name, width = f"time[{t.unit}]", t.bit_width // 8
    elif types.is_timestamp(t):
        tz = f", tz={t.tz}" if t.tz is not None else ""
        name, width = f"timestamp[{t.unit}{tz}]", 8
    elif types.is_duration(t):
        name, width = f"duration[{t.unit}]", 8
    elif types.is_decimal(t):
        name, width = f"decimal{t.bit_width}({t.precision},{t.scale})", t.bit_width // 8
    elif types.is_interval(t):
        name, width, swap = "interval[month_day_nano]", 16, False
    if width:
        node = _Node(name, _FIXED, width)
        node.swap = swap
        return node
    if types.is_map(t):
        key, item = _make_node(t.key_type), _make_node(t.item_type)
        entry = _Node(f'struct<"key":{key.name},"value":{item.name}>', _STRUCT)
        entry.children = [key, item]
        node = _Node(f"map<{key.name},{item.name}>", _LIST)
        node.children = [entry]
        return node
    if (
        types.is_list(t)
        or types.is_large_list(t)
        or types.is_fixed_size_list(t)
        or types.is_list_view(t)
        or types.is_large_list_view(t)
    ):
        child = _make_node(t.value_type)
        suffix = f"[{t.list_size}]" if types.is_fixed_size_list(t) else ""
        node = _Node(f"list<{child.name}>{suffix}", _LIST)
        node.children = [child]
        return node
    if types.is_struct(t):
        import json

        fields = [t.field(i) for i in range(t.num_fields)]
        children = [_make_node(fld.type) for fld in fields]
        parts = [json.dumps(fld.name, ensure_ascii=False) for fld in fields]
        body = ",".join(f"{p}:{c.name}" for p, c in zip(parts, children, strict=True))
        node = _Node(f"struct<{body}>", _STRUCT)
        node.children = children
        return node
    raise IOManagerError(
        f"cannot compute a data version of a column of type {t}; "
        "convert it to numbers, strings, dates, lists or structs first."
    )


# --------------------------------------------------------------------------- tables


class TableHasher:
    """Streaming table hash: feed record batches or tables in any batching, then digest.

    Feeding the same rows in any batching gives the same ``hexdigest()``, equal to
    ``hash_arrow`` of the whole table. Each stream is hashed as it is fed, on the calling
    thread.
    """

    __slots__ = ("_arrow_schema", "_names", "_nodes", "_rows", "_schema")

    def __init__(self, schema: pa.Schema) -> None:
        self._arrow_schema = schema
        self._names = [f.name for f in schema]
        self._nodes = [_make_node(f.type) for f in schema]
        self._schema = tuple(
            (n, node.name) for n, node in zip(self._names, self._nodes, strict=True)
        )
        self._rows = 0

    @property
    def schema(self) -> tuple[tuple[str, str], ...]:
        """The canonical schema being hashed."""
        return self._schema

    @property
    def rows(self) -> int:
        """Rows fed so far."""
        return self._rows

    def update(self, data: pa.RecordBatch | pa.Table) -> None:
        """Feed the next rows. Their schema must match the hasher's (canonically)."""
        import pyarrow as pa

        schema = data.schema
        if schema is not self._arrow_schema and not schema.equals(self._arrow_schema):
            got = canonical_schema(schema)
            if got != self._schema:
                raise ValueError(
                    f"cannot hash rows with schema {list(got)} into a hash of {list(self._schema)}"
                )
        table = isinstance(data, pa.Table)
        for node, col in zip(self._nodes, data.columns, strict=True):
            if table:
                for chunk in col.chunks:
                    node.feed(chunk)
            else:
                node.feed(col)
        self._rows += data.num_rows

    def hexdigest(self) -> str:
        """The data version of everything fed so far (may be called more than once)."""
        return _table_digest(self._rows, self._names, list(self._nodes))


def _table_digest(rows: int, names: list[str], nodes: list[_Node | bytes]) -> str:
    """The table digest; a column is a node, or its node already serialized."""
    out = [_HEADER, struct.pack("<IQI", FORMAT_VERSION, rows, len(nodes))]
    for name, node in zip(names, nodes, strict=True):
        b = name.encode("utf-8")
        out.append(struct.pack("<I", len(b)) + b)
        if type(node) is bytes:
            out.append(node)
        else:
            node.serialize(out)  # type: ignore[union-attr]
    return str(xxhash.xxh3_128_hexdigest(b"".join(out)))


def hash_arrow(table: pa.Table) -> str:
    """The data version of a pyarrow Table (or RecordBatch)."""
    hasher = TableHasher(table.schema)
    hasher.update(table)
    return hasher.hexdigest()


# --------------------------------------------------------------------------- pandas

_NAT = -(1 << 63)


def _column_names(df: Any) -> list[Any]:
    data = df.columns._data
    pa_array = getattr(data, "_pa_array", None)
    if pa_array is not None:
        return list(pa_array.to_pylist())
    if type(data).__name__ == "ndarray":
        return list(data.tolist())
    return list(df.columns)


def _pandas_fast(df: Any) -> tuple[str, tuple[tuple[str, str], ...], int] | None:
    """Hash common pandas frames straight from their blocks, without building Arrow.

    Handles unnamed indexes and columns of numpy ints, floats (NaN is null, as in
    ``pa.Table.from_pandas``), bools and naive datetimes, and pandas' Arrow-backed columns
    (the default ``str`` dtype among them). Returns ``None`` for anything else, and the
    caller converts through Arrow. The result always equals ``hash_arrow(values.to_arrow(df))``;
    the tests check that over many dtypes.
    """
    np = _np()
    index = df.index
    if index.name is not None or (index.nlevels > 1 and any(n is not None for n in index.names)):
        return None
    names = _column_names(df)
    ncols = len(names)
    for nm in names:
        if type(nm) is not str:
            return None
    if len(set(names)) != ncols:
        return None
    n = len(index)
    nodes: list[_Node | bytes | None] = [None] * ncols
    nbytes = 0
    schema: list[str] = [""] * ncols
    for blk in df._mgr.blocks:
        vals = blk.values
        locs = blk.mgr_locs.as_array.tolist()
        if type(vals) is np.ndarray:
            if vals.ndim != 2 or not vals.dtype.isnative:
                return None
            dt = vals.dtype
            k = dt.kind
            if k in "iu":
                name = f"{'u' if k == 'u' else ''}int{dt.itemsize * 8}"
            elif k == "f" and dt.itemsize in (4, 8):
                name = f"float{dt.itemsize * 8}"
            elif k == "b":
                name = "bool"
            else:
                return None
            nbytes += vals.nbytes
            for j, loc in enumerate(locs):
                col = vals[j]
                if not col.flags.c_contiguous:
                    col = np.ascontiguousarray(col)
                valid = None
                nulls = 0
                if k == "f" and _has_nan(np, col):
                    mask = np.isnan(col)
                    col = col.copy()
                    col[mask] = 0.0  # NaN is null (as in from_pandas); null slots are zero
                    valid = (~mask).view(np.uint8)
                    nulls = int(mask.sum())
                if _BIG:
                    col = col.byteswap()
                schema[loc] = name
                nodes[loc] = _flat_part(name, n, col, col.nbytes, valid, nulls)
        elif type(vals).__name__ == "DatetimeArray" and vals.tz is None:
            arr2 = vals._ndarray
            unit = np.datetime_data(arr2.dtype)[0]
            if arr2.ndim != 2 or unit not in ("s", "ms", "us", "ns") or not arr2.dtype.isnative:
                return None
            nbytes += arr2.nbytes
            name = f"timestamp[{unit}]"
            for j, loc in enumerate(locs):
                col = np.ascontiguousarray(arr2[j]).view(np.int64)
                mask = col == _NAT
                valid = None
                nulls = 0
                if mask.any():
                    col = col.copy()
                    col[mask] = 0
                    valid = (~mask).view(np.uint8)
                    nulls = int(mask.sum())
                if _BIG:
                    col = col.byteswap()
                nodes[loc] = _flat_part(name, n, col, col.nbytes, valid, nulls)
                schema[loc] = name
        elif hasattr(vals, "_pa_array") and type(vals).__module__.startswith("pandas."):
            # ArrowStringArray (pandas' default str dtype) and ArrowExtensionArray: Arrow
            # data already, exactly what pa.Table.from_pandas takes over.
            chunked = vals._pa_array
            chunks = chunked.chunks
            (loc,) = locs
            if len(chunks) == 1 and n <= 64:
                part = _small_binary_part(chunks[0], n)
                if part is not None:
                    nodes[loc], schema[loc], size = part
                    nbytes += size
                    continue
            node = _make_node(chunked.type)
            for chunk in chunks:
                node.feed(chunk)
                nbytes += chunk.get_total_buffer_size()
            nodes[loc] = node
            schema[loc] = node.name
        else:
            return None
    done = [node for node in nodes if node is not None]
    if len(done) != ncols:
        return None
    out_schema = tuple(zip(names, schema, strict=True))
    return _table_digest(n, names, done), out_schema, nbytes


def _small_binary_part(arr: Any, n: int) -> tuple[bytes, str, int] | None:
    """A string or binary node of at most 64 values and no nulls, serialized directly."""
    if not _PLAIN_IDS:
        _init_ids()
    spec = _PLAIN_SPECS.get(arr.type.id)
    if spec is None or spec[1] != _BINARY or arr.null_count:
        return None
    large = arr.type.id in _LARGE_BINARY_IDS
    bufs = arr.buffers()
    fmt = f"={n + 1}{'q' if large else 'i'}"
    o = struct.unpack_from(fmt, bufs[1], arr.offset * (8 if large else 4))
    lens = [b - a for a, b in pairwise(o)]
    if lens and max(lens) >= _ESCAPE:
        return None
    start, end = o[0], o[n]
    data = memoryview(bufs[2])[start:end] if end > start else b""
    part = (
        _prefix(spec[0])
        + _QQ.pack(n, 0)
        + _NO_NULLS
        + _U64.pack(4 * n)
        + _digest(struct.pack(f"<{n}I", *lens))
        + _U64.pack(end - start)
        + _digest(data)
    )
    return part, spec[0], (n + 1) * (8 if large else 4) + end - start


def _has_nan(np: Any, col: np.ndarray) -> bool:
    if col.size <= 32:
        return any(x != x for x in col.tolist())
    with np.errstate(all="ignore"):
        return bool(np.isnan(np.add.reduce(col))) and bool(np.isnan(col).any())


def hash_pandas(df: pd.DataFrame) -> str:
    """The data version of a pandas DataFrame; always equals
    ``hash_arrow(assets_core.storage.values.to_arrow(df))``, computed faster for common frames."""
    try:
        fast = _pandas_fast(df)
    except Exception:  # pandas internals moved: fall back to the public route
        fast = None
    if fast is not None:
        return fast[0]
    from assets_core.storage.values import to_arrow

    return hash_arrow(to_arrow(df))


# --------------------------------------------------------------------------- dispatch


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


# --------------------------------------------------------------------------- files


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
