"""The byte-level encoding every hasher shares: ``H`` (XXH3-128), the stream digest fed
incrementally, u32 lengths with their escape, Arrow bitmaps unpacked to bytes, and the head of
a serialized node. The rules are in the package docstring (``assets_core.storage.datahash``);
this module only writes them down once, for ``nodes``, ``arrow`` and ``pandas``.

What the others import from here are plain functions and constants, never an object whose
method they call: CPython 3.11 compiles a method call on an imported name without its
``LOAD_METHOD`` fast path, so every call would build a bound method first (about 40 ns).
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FORMAT_VERSION"]

FORMAT_VERSION = 2
_BIG = sys.byteorder == "big"
_HEADER = b"lumbung-datahash"
_ESCAPE = 0xFFFFFFFF
_pack_u64 = struct.Struct("<Q").pack
_pack_qq = struct.Struct("<QQ").pack  # two u64


_new = xxhash.xxh3_128  # H, incremental
_digest = xxhash.xxh3_128_digest  # H(x) in one call


_EMPTY_DIGEST = _digest(b"")
_NO_NULLS = _pack_u64(0) + _EMPTY_DIGEST
_PREFIXES: dict[str, bytes] = {}


class _Stream:
    """A byte stream, hashed incrementally as it is fed (see the package docstring)."""

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


def _has_nan(np: Any, col: np.ndarray) -> bool:
    """Whether the float array ``col`` holds a NaN (a short one is read in plain Python, which
    beats numpy's call overhead there)."""
    if col.size <= 32:
        return any(x != x for x in col.tolist())
    with np.errstate(all="ignore"):
        return bool(np.isnan(np.add.reduce(col))) and bool(np.isnan(col).any())


def _lengths(lens: np.ndarray) -> Any:
    """Encode lengths as u32, escaping huge ones (see the package docstring)."""
    np = _np()
    if lens.dtype.itemsize == 4:
        return lens.astype("<u4") if _BIG else lens.view(np.uint32)
    if lens.size and int(lens.max()) >= _ESCAPE:
        out = bytearray()
        for v in lens.tolist():
            out += struct.pack("<I", v) if v < _ESCAPE else struct.pack("<IQ", _ESCAPE, v)
        return bytes(out)
    return lens.astype("<u4")


def _feed_lengths(stream: _Stream, lens: np.ndarray) -> None:
    enc = _lengths(lens)
    stream.feed(enc, len(enc) if isinstance(enc, bytes) else enc.nbytes)


def _prefix(name: str) -> bytes:
    """``b"N" ‖ str(name)``, cached per canonical type name."""
    b = _PREFIXES.get(name)
    if b is None:
        raw = name.encode("utf-8")
        b = _PREFIXES[name] = b"N" + struct.pack("<I", len(raw)) + raw
    return b


def _flat_part(name: str, n: int, values: Any, nbytes: int, valid: Any, nulls: int) -> bytes:
    """A one-stream node (fixed width or bool) serialized directly from its whole streams."""
    v = _NO_NULLS if valid is None else _pack_u64(n) + _digest(valid)
    return _prefix(name) + _pack_qq(n, nulls) + v + _pack_u64(nbytes) + _digest(values)
