"""The pandas fast path: common frames hashed straight from their blocks, without building
Arrow first. ``hash_pandas`` (and ``data_version`` for a pandas value) always gives what
``hash_arrow`` gives for the same frame converted to Arrow; a frame the fast path does not
know goes through that conversion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.storage.datahash.arrow import _make_node, _table_digest, hash_arrow
from assets_core.storage.datahash.encoding import _BIG, _flat_part, _has_nan, _np
from assets_core.storage.datahash.nodes import _Node, _small_binary_part
from assets_core.storage.values import column_names

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["hash_pandas"]

_NAT = -(1 << 63)


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
    names = column_names(df)
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
