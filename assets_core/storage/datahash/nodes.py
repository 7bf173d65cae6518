"""Column nodes: one ``_Node`` per column (and per nested child) holds its streams and
children, is fed Arrow arrays in any batching, and serializes its part of the table digest.
This module also owns the table of plain Arrow type ids (filled on first use, so importing it
loads no pyarrow) and ``_normalize``, which turns every physical layout of a kind (views,
dictionaries, run-ends, extensions, maps) into the one the node code reads, and
``_small_binary_part``, a short string column serialized without a node (for the pandas path),
and ``_flat_column_part``, a plain column without nulls serialized likewise (for a table hashed
in one pass).
"""

from __future__ import annotations

import struct
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from assets_core.storage.datahash.encoding import (
    _BIG,
    _ESCAPE,
    _NO_NULLS,
    _digest,
    _feed_lengths,
    _flat_part,
    _has_nan,
    _np,
    _pack_qq,
    _pack_u64,
    _prefix,
    _Stream,
    _unpack_bits,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}

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
        """Append this node's part of the table digest input (see the package docstring)."""
        out.append(_prefix(self.name) + _pack_qq(self.rows, self.nulls))
        if self.kind != _NULL:
            v = self.validity
            out.append(_pack_u64(v.length) + v.digest() if v is not None else _NO_NULLS)
            for s in self.streams:
                out.append(_pack_u64(s.length) + s.digest())
        for c in self.children:
            c.serialize(out)


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
    """Fill the tables above. ``_PLAIN_SPECS`` is filled last and in place, so other modules
    may hold it and read "not empty" as "every table is ready"."""
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
    plain = {t.id: spec for t, spec in specs.items()}
    _PLAIN_IDS = frozenset(plain)
    _PLAIN_SPECS.update(plain)


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
        + _pack_qq(n, 0)
        + _NO_NULLS
        + _pack_u64(4 * n)
        + _digest(struct.pack(f"<{n}I", *lens))
        + _pack_u64(end - start)
        + _digest(data)
    )
    return part, spec[0], (n + 1) * (8 if large else 4) + end - start


def _flat_column_part(arr: Any, n: int) -> bytes | None:
    """The serialized node of ``arr``, a whole column of ``n`` values, computed in one pass
    without a node: for integers, floats without NaN and short strings or binaries, none of
    them null; ``None`` for any other column (a node hashes it). The bytes are exactly what a
    node fed ``arr`` serializes: the values stream is the array's own buffer, which is
    already its canonical bytes on a little-endian machine."""
    if _BIG or arr.null_count:
        return None
    if not _PLAIN_IDS:
        _init_ids()
    spec = _PLAIN_SPECS.get(arr.type.id)
    if spec is None:
        return None
    name, kind, width, float_width = spec
    if kind == _BINARY:
        part = _small_binary_part(arr, n) if n <= 64 else None
        return None if part is None else part[0]
    if kind != _FIXED:
        return None
    start = arr.offset * width
    values = memoryview(arr.buffers()[1])[start : start + n * width] if n else b""
    if float_width and n:
        np = _np()
        if _has_nan(np, np.frombuffer(values, dtype=f"<f{width}")):
            return None
    return _flat_part(name, n, values, n * width, None, 0)
