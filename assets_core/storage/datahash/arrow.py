"""Arrow types and tables: Lumbung's canonical type names (``canonical_type``,
``canonical_schema``), the type-to-node mapping behind them (``_make_node``), and
``TableHasher``, the streaming table digest that ``hash_arrow`` and every IO manager use.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import xxhash

from assets_core.errors import IOManagerError
from assets_core.storage.datahash.encoding import _HEADER, FORMAT_VERSION
from assets_core.storage.datahash.nodes import (
    _BINARY,
    _FIXED,
    _LIST,
    _PLAIN_SPECS,
    _STRUCT,
    _flat_column_part,
    _init_ids,
    _Node,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["TableHasher", "canonical_schema", "canonical_type", "hash_arrow"]

_spec_of = _PLAIN_SPECS.get  # a function, not a method call per type (see ``encoding``)


def canonical_type(t: pa.DataType) -> str:
    """Lumbung's own, version-stable name of an Arrow type (see the package docstring)."""
    return _make_node(t).name


def canonical_schema(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """``(column name, canonical type name)`` for every column, in order."""
    return tuple((f.name, _make_node(f.type).name) for f in schema)


def _make_node(t: Any) -> _Node:
    """Build the node tree for an Arrow type; its ``name`` is the canonical type name."""
    if not _PLAIN_SPECS:
        _init_ids()
    spec = _spec_of(t.id)
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


class TableHasher:
    """Streaming table hash: feed record batches or tables in any batching, then digest.

    Feeding the same rows in any batching gives the same ``hexdigest()``, equal to
    ``hash_arrow`` of the whole table. Each stream is hashed as it is fed, on the calling
    thread. The first data fed is held instead: when nothing follows it (a table saved whole,
    the usual case), ``hexdigest`` serializes its plain columns in one pass each
    (``nodes._flat_column_part``), without building streams; the bytes hashed are the same.
    """

    __slots__ = ("_arrow_schema", "_held", "_names", "_nodes", "_rows", "_schema", "_types")

    def __init__(self, schema: pa.Schema) -> None:
        global _last_plan
        self._arrow_schema = schema
        plan = _last_plan
        if plan is not None and plan[0].equals(schema):  # a run saves many of one shape
            _, self._names, self._types, self._schema = plan
            self._nodes: list[_Node] | None = None  # made when data is streamed
        else:
            # ``names`` and ``types`` at once: a Field object per column costs more
            names, types = schema.names, schema.types
            nodes = [_make_node(t) for t in types]
            self._schema = tuple((n, node.name) for n, node in zip(names, nodes, strict=True))
            self._names, self._types, self._nodes = names, types, nodes
            _last_plan = (schema, names, types, self._schema)
        self._rows = 0
        #: the first data fed, not hashed yet (``None`` once anything was fed to the nodes)
        self._held: pa.RecordBatch | pa.Table | None = None

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
        schema = data.schema
        if schema is not self._arrow_schema and not schema.equals(self._arrow_schema):
            got = canonical_schema(schema)
            if got != self._schema:
                raise ValueError(
                    f"cannot hash rows with schema {list(got)} into a hash of {list(self._schema)}"
                )
        held = self._held
        if held is not None:
            self._held = None
            self._feed(held)
            self._feed(data)
        elif self._rows == 0:  # nothing fed yet (or only empty data, which feeds nothing)
            self._held = data
        else:
            self._feed(data)
        self._rows += data.num_rows

    def _feed(self, data: pa.RecordBatch | pa.Table) -> None:
        import pyarrow as pa

        table = isinstance(data, pa.Table)
        for node, col in zip(self._live_nodes(), data.columns, strict=True):
            if table:
                for chunk in col.chunks:
                    node.feed(chunk)
            else:
                node.feed(col)

    def _live_nodes(self) -> list[_Node]:
        """The nodes the data is streamed into (made on first use)."""
        nodes = self._nodes
        if nodes is None:
            nodes = self._nodes = [_make_node(t) for t in self._types]
        return nodes

    def hexdigest(self) -> str:
        """The data version of everything fed so far (may be called more than once)."""
        held = self._held
        if held is None:
            return _table_digest(self._rows, self._names, list(self._live_nodes()))
        return _table_digest(self._rows, self._names, self._one_pass(held))

    def _one_pass(self, data: pa.RecordBatch | pa.Table) -> list[_Node | bytes]:
        """Each column of ``data`` (all that was fed) serialized: in one pass when it is a
        plain column in one chunk, else by a node of its own (the hasher's nodes stay unfed,
        for the data that may follow)."""
        import pyarrow as pa

        n = data.num_rows
        table = isinstance(data, pa.Table)
        out: list[_Node | bytes] = []
        for t, col in zip(self._types, data.columns, strict=True):
            chunks = col.chunks if table else (col,)
            part = _flat_column_part(chunks[0], n) if len(chunks) == 1 else None
            if part is not None:
                out.append(part)
                continue
            node = _make_node(t)
            for chunk in chunks:
                node.feed(chunk)
            out.append(node)
        return out


#: the schema the last hasher was made for, with its names, types and canonical schema
_last_plan: tuple[Any, list[str], list[Any], tuple[tuple[str, str], ...]] | None = None


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
