"""``DuckDBIOManager``: one table per asset in a DuckDB database file (the warehouse).

Naming (``sql``, ``catalog``)
    Key ``a/b/c`` is table ``c`` in schema ``a__b``; a root-level key ``c`` is ``main.c``.
    Identifiers are always quoted. Every table carries its key in its comment, so a key whose
    table DuckDB would confuse with another key's (names match without regard to case) is
    refused, never silently shared. A key whose schema DuckDB reserves (``temp/t``) is refused
    when the project loads (``check_key``).

Fingerprints (``catalog``)
    A table's row and column counts as DuckDB's catalog keeps them, read with the owners: a
    table replaced, grown or reshaped by hand is noticed by planning, without reading it.

Writes (``manager``, ``ingest``)
    The value reaches DuckDB as Arrow (a relation through its own record batch reader, never
    through pandas) and replaces the table inside one transaction, while a second thread hashes
    the very batches DuckDB ingests, so the data version is complete before the commit.
    Reading a table back gives the same data version: zoned timestamps are relabelled UTC both
    ways, and the few Arrow types DuckDB does not store as given are converted by DuckDB first,
    and its output is hashed and stored. An asset with blocking checks has them run on the
    new rows inside that transaction, before ``COMMIT`` (``OutputContext.audit``): the open
    transaction is the staging table, and a failing check rolls it back.

Concurrency (``warehouse``, ``holder``)
    One DuckDB database instance per manager and a cursor per operation, so the threads
    executor can save many assets at once. Another process holding the file is waited for
    with backoff, and a wait longer than a second is said once on stderr, naming the holder
    (pid and command line); the file is released when idle, so other tools, a second run and
    the processes executor's workers take turns. ``exists``, ``load`` and ``delete`` never
    create the file. A manager made read-only (``open_read_only``: a session that never
    writes) opens the file read-only beside other readers (a notebook), and its
    ``fingerprints`` never wait: while another process writes the file they raise
    ``OutputsUnchecked``, and planning takes the tables as last recorded.

Relations as inputs
    ``load`` reads the table through the manager's own instance into Arrow and binds it on the
    consumer's connection (``manager`` says why the warehouse is not attached read-only).

Queries run inside the warehouse (``native``)
    A SQL asset, and a Python asset annotated to return a relation, get a cursor lent on the
    warehouse itself (``save_query``): their DuckDB inputs are read in place, and the relation
    they return creates their table there, hashed by reading it back once before ``COMMIT``.
"""

from __future__ import annotations

from io_managers.duckdb.manager import DuckDBIOManager, from_storage
from io_managers.duckdb.sql import quote_ident, quote_literal, table_for

__all__ = ["DuckDBIOManager", "from_storage", "quote_ident", "quote_literal", "table_for"]
