"""The catalogue of bad input: each case runs the real ``lumbung`` command line on a copy of a
small built project with one thing wrong, and pins the exact one-line message on stderr, the
exit code, and that nothing stored or recorded was lost.

**The guarantee.** Bad input (a broken project, config, selection, option or storage file)
gives one line ``error: ...`` on stderr naming the asset or file and the fix, exit code 2 (1
when an asset failed while materializing, its failure recorded), and no traceback unless
``--debug``. A failing asset prints ``<key> failed: <message>`` (with the user's traceback,
user frames only, when the user's own code raised).

**Nothing lost** means: every stored output (each file under the storage folder other than
the state store and the code-version cache, with the DuckDB warehouse compared table by
table) is byte-for-byte what it was; every row of the state store's ``runs`` and
``materializations`` tables is unchanged, and each asset's last success still is; no lock is
left behind. Only a case that runs a failing asset may add rows, and only rows of a failed
attempt (``outcome = 'failed'``) in a failed run. A state file Lumbung cannot read is compared
byte for byte: it is never reset.

The invocations run in a few worker processes (``run_many`` of the CLI tests: an exception
escaping one invocation is reported the way Python reports it, exit 1 and a traceback, so that
case fails instead of the whole batch).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assets_core.storage.sqlite_schema import SCHEMA_VERSION
from tests.assets_core.cli.conftest import LUMBUNG, Result, _env, run_many

# --------------------------------------------------------------------------- the project

BASE_ASSETS = """\
import pandas as pd
from assets_core import asset, source

raw = source("raw", path="data/raw.csv")


@asset(tags={"daily"}, group="staging")
def orders(raw: pd.DataFrame) -> pd.DataFrame:
    return raw


@asset(io_manager="duckdb", group="marts")
def revenue(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.assign(y=orders.x * 2)


@asset(group="marts")
def report(revenue: pd.DataFrame) -> pd.DataFrame:
    return revenue
"""
BASE_TOML = 'modules = ["assets"]\nstorage = ".lumbung"\n'
STORAGE = ".lumbung"
#: files under the storage folder that are not stored outputs (compared as rows, or a cache)
NOT_OUTPUTS = {"state.db", "state.db-wal", "state.db-shm", "code_versions.cache"}


def _write_base(root: Path) -> None:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("x\n1\n2\n3\n")
    (root / "lumbung.toml").write_text(BASE_TOML)
    (root / "assets.py").write_text(BASE_ASSETS)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One bad input: what to change in a copy of the built project, what to run, and the
    exact outcome. ``{root}`` and ``{storage}`` in ``err``/``out`` stand for the copy's
    folders."""

    name: str
    args: tuple[str, ...]
    err: str
    code: int = 2
    assets: str | None = None  # replaces assets.py
    append: str = ""  # added to the end of assets.py
    toml: str | None = None  # replaces lumbung.toml
    setup: Callable[[Path], None] | None = None  # further changes, given the project folder
    out: str | None = None  # stdout, when pinned
    records_failure: bool = False  # a failed attempt may be recorded
    records_empty_run: bool = False  # "nothing to do" may record a run that built nothing
    user_traceback: bool = False  # the user's own traceback follows the error line
    debug: bool = False  # --debug: a traceback comes first, the error line last


#: what planning says of the corrupt orders.parquet before the run reads it: not the file
#: it wrote (its size changed), and not selected
CHANGED_ORDERS = (
    "warning: orders is stale (output {storage}/parquet/orders.parquet changed since it was "
    "written) but not selected; its stored output will be read. Select +revenue to rebuild it "
    "too.\n\n"
)


def _corrupt(
    rel: str, data: bytes | None = None, keep: int | None = None
) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / STORAGE / rel
        content = path.read_bytes()[:keep] if keep is not None else (data or b"")
        path.write_bytes(content)

    return change


def _state_version(version: int) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        con = sqlite3.connect(root / STORAGE / "state.db")
        con.execute(f"PRAGMA user_version = {version}")
        con.commit()
        con.close()

    return change


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).mkdir()


def _storage_is_a_file(root: Path) -> None:
    shutil.rmtree(root / STORAGE)
    (root / STORAGE).write_text("not a folder\n")


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / rel).write_bytes(data)

    return change


def _remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


KEY_RULE = "a segment starts with a letter or '_' and holds only letters, digits and '_'."
MALFORMED = (
    "expected [@][N+][method:]value[+[N]], e.g. 'orders', '+orders', 'tag:daily+1', "
    "'@marts/revenue'."
)
SUPPORTED = "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
HEADER = "import pandas as pd\nfrom assets_core import asset, source\n"

#: a user's exception class whose message cannot be read (its ``__str__`` raises)
UNPRINTABLE = """

class Bad(Exception):
    def __str__(self):
        raise ValueError("no message")
"""

CASES: list[Case] = [
    # ---- definitions: graph -----------------------------------------------------------------
    Case(
        "cycle",
        ("list",),
        "error: a (assets.py:4): dependency cycle: a -> b -> a (each feeds the next); "
        "remove one of these dependencies.",
        assets=HEADER + "\n@asset\ndef a(b): return b\n\n@asset\ndef b(a): return a\n",
    ),
    Case(
        "self_cycle",
        ("plan",),
        "error: a (assets.py:4): dependency cycle: a -> a (each feeds the next); remove one of "
        "these dependencies.",
        assets=HEADER + '\n@asset(deps=["a"])\ndef a(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "duplicate_key",
        ("list",),
        "error: orders (assets.py:22): duplicate key 'orders': also defined at assets.py:7; "
        "give one of them another name (name= or key=).",
        append='\n\n@asset(name="orders")\ndef orders_again(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "unknown_dependency",
        ("list",),
        "error: total (assets.py:22): parameter 'order' names 'order', which is not defined. "
        "Did you mean 'orders'? Define that asset, fix the name, or map it with ins=.",
        append="\n\n@asset\ndef total(order): return order\n",
    ),
    Case(
        "unknown_deps_entry",
        ("plan",),
        "error: total (assets.py:22): deps names 'reports', which is not defined. "
        "Did you mean 'report'?",
        append='\n\n@asset(deps=["reports"])\ndef total(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "ins_names_no_parameter",
        ("list",),
        "error: total (assets.py:22): ins names 'nope', which is not a parameter of total(); "
        "rename one to match.",
        append='\n\n@asset(ins={"nope": "orders"})\ndef total(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "non_ascii_parameter",
        ("list",),
        "error: total (assets.py:22): parameter 'é' cannot name an asset: keys use only ASCII "
        "letters, digits and '_'; rename it, or map it with ins={'é': 'a_key'}.",
        append='\n\n@asset\ndef total(é): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "star_args",
        ("list",),
        "error: total (assets.py:22): parameter 'args': *args and **kwargs cannot name "
        "upstream assets; give each upstream its own parameter.",
        append='\n\n@asset\ndef total(*args): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "async_function",
        ("list",),
        "error: total (assets.py:22): is an async function; Lumbung calls assets "
        "synchronously, so use a plain def.",
        append='\n\n@asset\nasync def total(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "generator_function",
        ("list",),
        "error: total (assets.py:22): is a generator function (it yields); return the asset's "
        "data instead.",
        append='\n\n@asset\ndef total():\n    yield pd.DataFrame({"x": [1]})\n',
    ),
    # ---- definitions: keys and options --------------------------------------------------------
    Case(
        "key_dotdot",
        ("list",),
        f"error: a (assets.py:22): key: Invalid key segment '..' in 'a/../b': {KEY_RULE}",
        append='\n\n@asset(key="a/../b")\ndef a(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "key_empty_segment",
        ("list",),
        f"error: a (assets.py:22): key: Invalid key segment '' in '/etc/passwd': {KEY_RULE}",
        append='\n\n@asset(key="/etc/passwd")\ndef a(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "key_space",
        ("list",),
        f"error: a (assets.py:22): key: Invalid key segment 'my asset' in 'my asset': {KEY_RULE}",
        append='\n\n@asset(key="my asset")\ndef a(): return pd.DataFrame({"x": [1]})\n',
    ),
    Case(
        "key_sql_quote",
        ("list",),
        'error: a (assets.py:22): key: Invalid key segment "x\'; drop table t; --" in '
        f'"x\'; drop table t; --": {KEY_RULE}',
        append='\n\n@asset(key="x\'; drop table t; --")\ndef a(): return pd.DataFrame()\n',
    ),
    Case(
        "source_bad_name",
        ("list",),
        f"error: raw data (assets.py:22): source name: Invalid key segment 'raw data' in "
        f"'raw data': {KEY_RULE}",
        append='\n\nbad = source("raw data", path="data/raw.csv")\n',
    ),
    Case(
        "option_wrong_types",
        ("list",),
        "error: 3 problems in the project's definitions:\n"
        "    - total (assets.py:22): retries='2' is not valid: give a whole number, 0 or more.\n"
        "    - total (assets.py:22): group=5 is not valid: use a name of letters, digits and '_' "
        "that does not start with a digit.\n"
        "    - total (assets.py:22): tags=3 is not valid: give a list of non-empty strings.",
        append='\n\n@asset(group=5, tags=3, retries="2")\ndef total(): return pd.DataFrame()\n',
    ),
    Case(
        "unknown_option",
        ("list",),
        "error: total (assets.py:22): @asset got an unknown option 'key_prefix'; options are "
        "['backfill', 'checks', 'code_files', 'code_version', 'deps', 'description', 'group', "
        "'ins', 'io_manager', 'key', 'metadata', 'name', 'owners', 'partitions', 'retries', "
        "'tags'].",
        append='\n\n@asset(key_prefix="x")\ndef total(): return pd.DataFrame()\n',
    ),
    Case(
        "unknown_io_manager",
        ("list",),
        "error: total (assets.py:22): unknown io manager 'parquett'. Did you mean 'parquet'? "
        "Known: duckdb, memory, parquet; register others with Session(defs, io_managers={...}).",
        append='\n\n@asset(io_manager="parquett")\ndef total(): return pd.DataFrame()\n',
    ),
    Case(
        "unknown_default_io_manager",
        ("list",),
        "error: 2 problems in the project's definitions:\n"
        "    - orders (assets.py:7): unknown io manager 'csv'. Known: duckdb, memory, parquet; "
        "register others with Session(defs, io_managers={...}).\n"
        "    - report (assets.py:17): unknown io manager 'csv'. Known: duckdb, memory, parquet; "
        "register others with Session(defs, io_managers={...}).",
        toml=BASE_TOML + 'default_io_manager = "csv"\n',
    ),
    Case(
        "source_unknown_format",
        ("list",),
        "error: events (assets.py:22): cannot tell the format of 'data/events.txt' from its "
        "extension; pass format='csv', 'parquet' or 'json'.",
        append='\n\nevents = source("events", path="data/events.txt")\n',
    ),
    # ---- importing the project ----------------------------------------------------------------
    Case(
        "import_error",
        ("list",),
        "error: assets.py:1: importing assets raised ModuleNotFoundError: No module named 'pandsa'",
        assets="import pandsa\n" + BASE_ASSETS,
    ),
    Case(
        "syntax_error",
        ("plan",),
        "error: assets.py:22: syntax error: invalid syntax; fix the file.",
        append="\n\ndef broken(:\n    pass\n",
    ),
    Case(
        "exception_at_import",
        ("list",),
        "error: assets.py:22: importing assets raised RuntimeError: no credentials",
        append='\n\nraise RuntimeError("no credentials")\n',
    ),
    Case(
        "exception_whose_str_raises_at_import",
        ("list",),
        "error: assets.py:27: importing assets raised Bad: <exception str() failed>",
        append=UNPRINTABLE + "\n\nraise Bad()\n",
    ),
    Case(
        "decorating_a_non_function",
        ("list",),
        "error: assets.py:22: importing assets raised TypeError: @asset decorates a function, "
        "got int.",
        append="\n\nx = asset(5)\n",
    ),
    Case(
        "configured_module_missing",
        ("list",),
        "error: module 'pipeline' listed in lumbung.toml was not found under {root}; "
        "fix `modules`.",
        toml='modules = ["pipeline"]\n',
    ),
    # ---- the config -------------------------------------------------------------------------
    Case(
        "toml_malformed",
        ("list",),
        "error: {root}/lumbung.toml: invalid TOML (Expected '=' after a key in a key/value "
        "pair (at line 1, column 9)); fix the file.",
        toml="modules [\n",
    ),
    Case(
        "toml_unknown_key",
        ("list",),
        "error: {root}/lumbung.toml: storag: unknown key; did you mean 'storage'? valid keys "
        "are dask_address, default_io_manager, defaults, executor, modules, notify, "
        "parquet_storage, sql, storage.",
        toml='modules = ["assets"]\nstorag = ".lumbung"\n',
    ),
    Case(
        "toml_wrong_type",
        ("list",),
        "error: {root}/lumbung.toml: modules: must be a non-empty list of module names, got "
        "'assets'; write for example modules = [\"assets\"].",
        toml='modules = "assets"\n',
    ),
    Case(
        "toml_storage_wrong_type",
        ("list",),
        "error: {root}/lumbung.toml: storage: must be a folder path as a string, got 3; write "
        'for example storage = ".lumbung".',
        toml='modules = ["assets"]\nstorage = 3\n',
    ),
    Case(
        "toml_storage_nul",
        ("list",),
        "error: {root}/lumbung.toml: storage: 'a\\x00b' holds a NUL character, which no path may "
        "hold; write the folder's path without it.",
        toml='modules = ["assets"]\nstorage = "a\\u0000b"\n',
    ),
    Case(
        "toml_storage_unknown_user",
        ("plan",),
        "error: {root}/lumbung.toml: storage: the home folder of user 'nouser' is unknown, so "
        "'~nouser' cannot be expanded; write the folder's full path.",
        toml='modules = ["assets"]\nstorage = "~nouser/x"\n',
    ),
    Case(
        "toml_nested_too_deeply",
        ("list",),
        "error: {root}/lumbung.toml: invalid TOML (arrays or tables nested too deeply to read); "
        "fix the file.",
        toml='modules = ["assets"]\nx = ' + "[" * 50_000 + "]" * 50_000 + "\n",
    ),
    Case(
        "project_unknown_user",
        ("--project", "~nouser/x", "list"),
        "error: --project ~nouser/x: the home folder of user 'nouser' is unknown, so '~nouser' "
        "cannot be expanded; pass the folder's full path.",
    ),
    Case(
        "project_name_too_long",
        ("--project", "p" * 5000, "list"),
        "error: --project " + "p" * 60 + "... (5,000 characters): cannot be used as a path (File "
        "name too long); pass a project folder, config file, .py file or module name.",
    ),
    Case(
        "project_folder_without_config",
        ("--project", "empty_folder", "list"),
        "error: --project empty_folder: this folder has no lumbung.toml and no pyproject.toml "
        "with [tool.lumbung]; create one with `lumbung init`, or pass the folder that has one.",
        setup=_mkdir("empty_folder"),
    ),
    Case(
        "project_folder_missing",
        ("--project", "no/such/folder", "list"),
        "error: --project no/such/folder: no such file, folder or importable module.",
    ),
    Case(
        "no_project_found",
        ("list",),
        "error: No Lumbung project found in {root}/elsewhere or any folder above it; create "
        "one with `lumbung init`, or pass --project PATH.",
        setup=_remove("lumbung.toml"),
    ),
    # ---- sources ----------------------------------------------------------------------------
    Case(
        "source_file_missing",
        ("plan",),
        "error: source raw: file 'data/raw.csv' not found (looked in {root}); create it or fix "
        "path=.",
        setup=_remove("data/raw.csv"),
    ),
    Case(
        "source_glob_matches_nothing",
        ("plan",),
        "error: source events: no file matches 'data/events/*.csv' (looked in {root}); create "
        "it or fix path=.",
        append='\n\nevents = source("events", path="data/events/*.csv")\n',
    ),
    Case(
        "source_parquet_corrupt",
        ("materialize", "-s", "total"),
        "total failed: source events: cannot read {root}/data/events.parquet as parquet "
        "(truncated or not Parquet); fix the file, or pass format= if it is not parquet.",
        code=1,
        append='\n\nevents = source("events", path="data/events.parquet")\n\n@asset\n'
        "def total(events: pd.DataFrame) -> pd.DataFrame: return events\n",
        setup=_write("data/events.parquet", b"PAR1 garbage"),
        records_failure=True,
    ),
    # ---- user code ----------------------------------------------------------------------------
    Case(
        "returns_none",
        ("materialize", "-s", "total"),
        "total failed: returned None; return the asset's data (a pandas.DataFrame, "
        "pyarrow.Table or duckdb relation).",
        code=1,
        append="\n\n@asset\ndef total(orders):\n    orders.sum()\n",
        records_failure=True,
    ),
    Case(
        "returns_dict",
        ("materialize", "-s", "total"),
        f"total failed: the parquet IO manager cannot store a value of type dict; {SUPPORTED}",
        code=1,
        append='\n\n@asset\ndef total(): return {"x": [1]}\n',
        records_failure=True,
    ),
    Case(
        "returns_list",
        ("materialize", "-s", "total"),
        f"total failed: the duckdb IO manager cannot store a value of type list; {SUPPORTED}",
        code=1,
        append='\n\n@asset(io_manager="duckdb")\ndef total(): return [1, 2]\n',
        records_failure=True,
    ),
    Case(
        "returns_unsupported_type",
        ("materialize", "-s", "total"),
        f"total failed: the parquet IO manager cannot store a value of type set; {SUPPORTED}",
        code=1,
        append="\n\n@asset\ndef total(): return {1, 2}\n",
        records_failure=True,
    ),
    Case(
        "user_code_raises",
        ("materialize", "-s", "total"),
        "total failed: ZeroDivisionError: division by zero",
        code=1,
        append="\n\n@asset\ndef total(orders):\n    return orders if 1 / 0 else orders\n",
        records_failure=True,
        user_traceback=True,
    ),
    Case(
        "exception_whose_str_raises_in_an_asset",
        ("materialize", "-s", "total"),
        "total failed: Bad: <exception str() failed>",
        code=1,
        append=UNPRINTABLE + "\n\n@asset\ndef total(orders):\n    raise Bad()\n",
        records_failure=True,
        user_traceback=True,
    ),
    # ---- values an IO manager cannot store: the manager's failure, not the user's code -------
    Case(
        "column_mixes_types",
        ("materialize", "-s", "total"),
        "total failed: the parquet IO manager cannot store column 'x': it mixes int and str, "
        "and a stored column holds one type; convert its values first, e.g. df['x'] = "
        "df['x'].astype(str).",
        code=1,
        append='\n\n@asset\ndef total(): return pd.DataFrame({"x": [1, "a"]})\n',
        records_failure=True,
    ),
    Case(
        "column_mixes_types_duckdb",
        ("materialize", "-s", "total"),
        "total failed: the duckdb IO manager cannot store column 'x': it mixes int and str, "
        "and a stored column holds one type; convert its values first, e.g. df['x'] = "
        "df['x'].astype(str).",
        code=1,
        append='\n\n@asset(io_manager="duckdb")\n'
        'def total(): return pd.DataFrame({"x": [1, "a"]})\n',
        records_failure=True,
    ),
    Case(
        "columns_share_a_name",
        ("materialize", "-s", "total"),
        "total failed: the parquet IO manager cannot store column 'a': 2 columns have that name, "
        "and a stored table needs one name per column; rename them (df.columns = [...]).",
        code=1,
        append='\n\n@asset\ndef total(): return pd.DataFrame([[1, 2]], columns=["a", "a"])\n',
        records_failure=True,
    ),
    Case(
        "column_complex",
        ("materialize", "-s", "total"),
        "total failed: the duckdb IO manager cannot store column 'c': it holds complex numbers "
        "(complex128), which a stored column cannot hold; store the real and imaginary parts as "
        "two columns (.real, .imag).",
        code=1,
        append='\n\n@asset(io_manager="duckdb")\ndef total(): return pd.DataFrame({"c": [1j]})\n',
        records_failure=True,
    ),
    Case(
        "column_sparse",
        ("materialize", "-s", "total"),
        "total failed: the parquet IO manager cannot store column 's': it is sparse "
        "(Sparse[int64, 0]), and a stored column is dense; make it dense first: df['s'] = "
        "df['s'].sparse.to_dense().",
        code=1,
        append="\n\n@asset\ndef total():\n"
        '    return pd.DataFrame({"s": pd.arrays.SparseArray([0, 1, 0])})\n',
        records_failure=True,
    ),
    Case(
        "relation_sql_fails_when_stored",
        ("materialize", "-s", "total"),
        "total failed: the DuckDB relation it returned failed as it was stored: "
        "ConversionException: Conversion Error: Could not convert string 'a' to INT32",
        code=1,
        append="\n\n@asset\ndef total(context):\n"
        "    return context.duckdb.sql(\"select 'a'::int as x\")\n",
        records_failure=True,
    ),
    Case(
        "unsupported_annotation",
        ("materialize", "-s", "total"),
        "error: total (assets.py:22): parameter 'orders' is annotated int, which Lumbung "
        "cannot load an asset as; annotate it as pandas.DataFrame, pyarrow.Table, "
        "duckdb.DuckDBPyRelation or polars.DataFrame.",
        append="\n\n@asset\ndef total(orders: int): return pd.DataFrame()\n",
    ),
    Case(
        "returns_unsupported_annotation",
        ("plan",),
        "error: total (assets.py:22): returns dict, which no IO manager can store; return a "
        "pandas.DataFrame, a pyarrow.Table, a duckdb.DuckDBPyRelation or a polars.DataFrame.",
        append="\n\n@asset\ndef total(orders) -> dict: return {}\n",
    ),
    Case(
        "upstream_never_built",
        ("materialize", "-s", "total"),
        "error: new_up has never been materialized and is not selected, but total needs it; "
        "select +total to build it too.",
        append='\n\n@asset\ndef new_up(): return pd.DataFrame({"x": [1]})\n\n'
        "@asset\ndef total(new_up): return new_up\n",
    ),
    # ---- storage ----------------------------------------------------------------------------
    Case(
        "stored_parquet_truncated",
        ("materialize", "-s", "revenue", "--force"),
        CHANGED_ORDERS + "revenue failed: orders: the stored file {storage}/parquet/orders.parquet "
        "is corrupt (truncated or not Parquet); materialize orders again (lumbung materialize "
        "-s orders --force).",
        code=1,
        setup=_corrupt("parquet/orders.parquet", keep=100),
        records_failure=True,
    ),
    Case(
        "stored_parquet_garbage",
        ("materialize", "-s", "revenue", "--force"),
        CHANGED_ORDERS + "revenue failed: orders: the stored file {storage}/parquet/orders.parquet "
        "is corrupt (truncated or not Parquet); materialize orders again (lumbung materialize "
        "-s orders --force).",
        code=1,
        setup=_corrupt("parquet/orders.parquet", b"this is not parquet\n" * 10),
        records_failure=True,
    ),
    Case(
        "duckdb_corrupt",
        ("list",),
        "error: {storage}/warehouse.duckdb is damaged (not a DuckDB database file); restore it "
        "from a backup, or rebuild it: lumbung wipe --io duckdb, then lumbung materialize.",
        setup=_corrupt("warehouse.duckdb", b"garbage " * 100),
    ),
    Case(
        "state_corrupt",
        ("list",),
        "error: {storage}/state.db is not a readable Lumbung state store (file is not a "
        "database); move it aside to start a new one — it is never reset automatically.",
        setup=_corrupt("state.db", b"garbage " * 1000),
    ),
    Case(
        "state_truncated",
        ("materialize",),
        "error: {storage}/state.db is not a readable Lumbung state store (database disk image "
        "is malformed); move it aside to start a new one — it is never reset automatically.",
        setup=_corrupt("state.db", keep=5000),
    ),
    Case(
        "state_newer",
        ("plan",),
        "error: {storage}/state.db was written by a newer Lumbung "
        f"(state schema 99 > {SCHEMA_VERSION}); "
        "upgrade Lumbung, or point storage at another folder.",
        setup=_state_version(99),
    ),
    Case(
        "storage_is_a_file",
        ("list",),
        "error: storage folder {storage} cannot be created (a file is in the way); point "
        "storage at a folder this user may write, or move aside what is in the way.",
        setup=_storage_is_a_file,
    ),
    # ---- selections -------------------------------------------------------------------------
    Case(
        "selection_unknown_method",
        ("list", "-s", "colour:red"),
        "error: Unknown selection method 'colour' in 'colour:red'; valid methods: group, io, "
        "key, kind, owner, path, status, tag.",
    ),
    Case(
        "selection_at_with_trailing_plus",
        ("plan", "-s", "@orders+"),
        "error: '@orders+' is not valid: '@' already includes every descendant; use '@orders' "
        "or 'orders+'",
    ),
    Case(
        "selection_did_you_mean",
        ("materialize", "-s", "+revenu"),
        "error: No asset matches 'revenu' in '+revenu'; did you mean 'revenue'?",
    ),
    Case(
        "selection_no_match",
        ("list", "-s", "zzz"),
        "error: No asset matches 'zzz'; 'lumbung list' shows every asset.",
    ),
    Case(
        "selection_bad_graph_operator",
        ("list", "-s", "orders+x"),
        f"error: Malformed selection criterion 'orders+x': '+' may only come before or after the "
        f"value; {MALFORMED}",
    ),
    Case(
        "selection_no_value",
        ("list", "-s", "2+"),
        f"error: Malformed selection criterion '2+': there is no value to select; {MALFORMED}",
    ),
    Case(
        "selection_empty_criterion",
        ("list", "--exclude", "orders,,report"),
        "error: Malformed selection criterion in 'orders,,report': empty criterion around ','; "
        f"{MALFORMED}",
    ),
    Case(
        "selection_unknown_status",
        ("list", "-s", "status:broken"),
        "error: Unknown status 'broken' in 'status:broken'; valid statuses: failed, fresh, "
        "missing, stale.",
    ),
    Case(
        "selection_too_long",
        ("list", "-s", "a" * 60_000, "-s", "b" * 40_000),
        "error: The selection is 100,001 characters long; the limit is 100,000. Select by tag:, "
        "group: or a key folder (marts/) instead of naming every asset.",
    ),
    Case(
        "selection_many_brackets",
        ("plan", "-s", "[" * 40_000),
        "warning: Selection criterion '" + "[" * 40_000 + "' matches no asset.",
        code=0,
        out="Nothing to do: the selection matched no asset to materialize.\n",
    ),
    Case(
        "selection_empty",
        ("materialize", "-s", "tag:nightly"),
        "warning: Selection criterion 'tag:nightly' matches no asset.",
        code=0,
        out="Nothing to do: the selection matched no asset to materialize.\n",
        records_empty_run=True,
    ),
    Case(
        "selection_kind_never_its_own_suggestion",
        ("plan", "-s", "kind:sql"),
        "warning: Selection criterion 'kind:sql' matches no asset.",
        code=0,
        out="Nothing to do: the selection matched no asset to materialize.\n",
    ),
    Case(
        "selection_all_excluded",
        ("materialize", "-s", "orders+", "--exclude", "orders+"),
        "",
        code=0,
        out="Nothing to do: the selection matched no asset to materialize.\n",
        records_empty_run=True,
    ),
    # ---- commands and options -----------------------------------------------------------------
    Case(
        "show_unknown_asset",
        ("show", "revenu"),
        "error: no asset 'revenu'. Did you mean 'revenue'?",
    ),
    Case(
        "show_invalid_key",
        ("show", "../orders"),
        f"error: Invalid key segment '..' in '../orders': {KEY_RULE}",
    ),
    Case(
        "history_unknown_asset",
        ("history", "nothing_here"),
        "error: no asset 'nothing_here'.",
    ),
    Case(
        "wipe_unknown_asset",
        ("wipe", "-s", "ordrs", "--yes"),
        "error: No asset matches 'ordrs'; did you mean 'orders'?",
    ),
    Case(
        "wipe_without_selection",
        ("wipe", "--yes"),
        "error: wipe needs -s SELECTION ('*' for every asset), --io NAME (every asset one IO "
        "manager stores) or --orphans (see `lumbung wipe -h`).",
    ),
    Case(
        "workers_zero",
        ("materialize", "--workers", "0"),
        "error: workers must be 1 or more, got 0.",
    ),
    Case(
        "workers_not_a_number",
        ("materialize", "-w", "many"),
        "error: Invalid value for '--workers' / '-w': 'many' is not a valid int "
        "(see `lumbung materialize -h`).",
    ),
    Case(
        "executor_bogus",
        ("materialize", "--executor", "bogus"),
        "error: unknown executor 'bogus'; use one of threads, in-process, processes, dask.",
    ),
    Case(
        "lineage_format_bogus",
        ("lineage", "--format", "bogus"),
        "error: Invalid value for '--format' / '-f': 'bogus' is not one of 'tree', 'mermaid', "
        "'dot', 'json', 'html' (see `lumbung lineage -h`).",
    ),
    Case(
        "lineage_negative_depth",
        ("lineage", "--upstream", "-1", "orders"),
        "error: Invalid value for '--upstream': -1 is not in the range x>=0 "
        "(see `lumbung lineage -h`).",
    ),
    Case(
        "history_limit_too_large",
        ("history", "-n", "99999999999999999999"),
        "error: Invalid value for '--limit' / '-n': 99999999999999999999 is not in the range "
        "1<=x<=1000000000 (see `lumbung history -h`).",
    ),
    Case(
        "lineage_output_is_a_folder",
        ("lineage", "-o", "data"),
        "error: --output data: cannot write it (Is a directory); give the path of a file, not a "
        "folder.",
    ),
    Case(
        "lineage_output_folder_missing",
        ("lineage", "-o", "nope/lineage.html"),
        "error: --output nope/lineage.html: cannot write it (No such file or directory); create "
        "the folder it goes in first, or use another path.",
    ),
    Case(
        "lineage_output_disk_full",
        ("lineage", "-f", "tree", "-o", "/dev/full"),
        "error: --output /dev/full: cannot write it (No space left on device); free some space "
        "on that disk, or use a path on another one.",
    ),
    Case(
        "lineage_output_empty",
        ("lineage", "-o", ""),
        "error: --output '': give the name of a file, such as lineage.html.",
    ),
    Case(
        "init_cannot_create",
        ("init", "/dev/null/shop"),
        "error: `lumbung init` cannot write /dev/null/shop/data (Not a directory); a file stands "
        "where a folder of the path should be; use another path.",
    ),
    Case(
        "list_output_bogus",
        ("list", "-o", "yaml"),
        "error: Invalid value for '--output' / '-o': 'yaml' is not one of 'table', 'name', "
        "'json' (see `lumbung list -h`).",
    ),
    Case(
        "unknown_command",
        ("materialise",),
        "error: No such command 'materialise'. Did you mean 'materialize'? (see `lumbung -h`).",
    ),
    Case(
        "unknown_cli_option",
        ("plan", "--dry-run"),
        "error: No such option: --dry-run (see `lumbung plan -h`).",
    ),
    Case(
        "option_missing_value",
        ("list", "-s"),
        "error: Option '-s' requires an argument.",
    ),
    Case(
        "extra_argument",
        ("show", "orders", "report"),
        "error: Got unexpected extra argument(s) (report) (see `lumbung show -h`).",
    ),
    Case(
        "debug_shows_the_traceback",
        ("--debug", "list"),
        "error: a (assets.py:4): dependency cycle: a -> b -> a (each feeds the next); "
        "remove one of these dependencies.",
        assets=HEADER + "\n@asset\ndef a(b): return b\n\n@asset\ndef b(a): return a\n",
        debug=True,
    ),
]


# --------------------------------------------------------------------------- the snapshot


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _duckdb_tables(path: Path) -> dict[str, Any] | str:
    """Each table of a DuckDB file with a hash of its rows; the file's hash if unreadable."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return _sha(path)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        found: dict[str, Any] = {}
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            found[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return found
    finally:
        con.close()


def _state_rows(path: Path) -> dict[str, Any] | str:
    """The state store's records (runs, materializations, each key's last success, locks);
    the file's hash when it cannot be read as one."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        try:
            return {
                table: [dict(r) for r in con.execute(f"select * from {table} order by 1")]
                for table in ("runs", "materializations", "locks")
            } | {
                "last_success": [
                    dict(r) for r in con.execute("select key, success_id from latest order by 1")
                ]
            }
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return _sha(path)


def snapshot(storage: Path) -> dict[str, Any]:
    """What must not be lost: every stored output, and the state store's records."""
    if not storage.is_dir():
        return {"storage": _sha(storage) if storage.is_file() else None}
    found: dict[str, Any] = {}
    for path in sorted(storage.rglob("*")):
        rel = path.relative_to(storage).as_posix()
        if not path.is_file() or rel in NOT_OUTPUTS or rel.startswith("locks/"):
            continue  # state, not outputs (a run's OS lock: its rows are in state.db)
        found[rel] = _duckdb_tables(path) if path.suffix == ".duckdb" else _sha(path)
    state = storage / "state.db"
    found["state.db"] = _state_rows(state) if state.is_file() else None
    return found


def check_nothing_lost(case: Case, before: dict[str, Any], after: dict[str, Any]) -> None:
    """``after`` keeps everything ``before`` had; only a failing run may add failed rows."""
    state_before, state_after = before.pop("state.db", None), after.pop("state.db", None)
    assert after == before, f"{case.name}: stored outputs changed"
    if not isinstance(state_before, dict) or not (case.records_failure or case.records_empty_run):
        assert state_after == state_before, f"{case.name}: the state store changed"
        return
    assert isinstance(state_after, dict)
    assert state_after["locks"] == [], f"{case.name}: a lock was left behind"
    assert (
        state_after["last_success"][: len(state_before["last_success"])]
        == (state_before["last_success"])
    ), f"{case.name}: a last success changed"
    for table in ("runs", "materializations"):
        old, new = state_before[table], state_after[table]
        assert new[: len(old)] == old or all(r in new for r in old), f"{case.name}: {table}"
    new_runs = [r for r in state_after["runs"] if r not in state_before["runs"]]
    new_rows = [
        r for r in state_after["materializations"] if r not in state_before["materializations"]
    ]
    if case.records_empty_run:
        assert len(new_runs) <= 1 and not new_rows, f"{case.name}: {new_runs} {new_rows}"
        return
    assert len(new_runs) == 1 and new_runs[0]["status"] == "failed", f"{case.name}: {new_runs}"
    assert new_rows and all(r["outcome"] == "failed" for r in new_rows), f"{case.name}: {new_rows}"


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    """A case after its run: where it ran, what it printed, its snapshots."""

    case: Case
    root: Path
    result: Result
    before: dict[str, Any]
    after: dict[str, Any] = field(default_factory=dict)


def _build_base(base: Path) -> None:
    """The small project, materialized once (its storage is copied into every case)."""
    _write_base(base)
    proc = subprocess.run(
        [*LUMBUNG, "materialize"],
        cwd=base,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 materialized" in proc.stdout, proc.stdout


def _prepare(case: Case, base: Path, root: Path) -> None:
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("__pycache__"))
    assets = root / "assets.py"
    if case.assets is not None:
        assets.write_text(case.assets)
    if case.append:
        assets.write_text(assets.read_text() + case.append)
    if case.toml is not None:
        (root / "lumbung.toml").write_text(case.toml)
    if case.setup is not None:
        case.setup(root)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small project, built once for the whole module."""
    root = tmp_path_factory.mktemp("bad_input_base") / "project"
    _build_base(root)
    return root


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, base: Path) -> dict[str, Outcome]:
    """Every case prepared, snapshotted, run (in a few worker processes) and snapshotted."""
    top = tmp_path_factory.mktemp("bad_input")
    found: dict[str, Outcome] = {}
    jobs: dict[str, tuple[tuple[str, ...], Path]] = {}
    for case in CASES:
        root = top / case.name
        _prepare(case, base, root)
        cwd = root
        if case.name == "no_project_found":
            cwd = root / "elsewhere"
            cwd.mkdir()
        found[case.name] = Outcome(case, root, Result(-1, "", ""), snapshot(root / STORAGE))
        jobs[case.name] = (case.args, cwd)
    for name, result in run_many(jobs).items():
        found[name].result = result
        found[name].after = snapshot(found[name].root / STORAGE)
    return found


def _expand(text: str, root: Path) -> str:
    return text.replace("{root}", str(root)).replace("{storage}", str(root / STORAGE))


def test_the_catalogue_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 45
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    done = outcomes[case.name]
    res = done.result
    lines = res.err.strip("\n").splitlines()
    expected = _expand(case.err, done.root)
    assert res.code == case.code, res.err
    if case.debug:
        assert lines[0] == "Traceback (most recent call last):", res.err
        assert "\n".join(lines[-len(expected.splitlines()) :]) == expected
    elif case.user_traceback:
        # The error line, then the user's own frames only, indented.
        assert lines[0] == expected, res.err
        assert lines[1] == "  Traceback (most recent call last):", res.err
        assert all(line.startswith("  ") for line in lines[1:]), res.err
        assert "assets.py" in res.err
        assert "assets_core" not in res.err and "io_managers" not in res.err, res.err
    else:
        assert "\n".join(lines) == expected, res.err
        assert "Traceback" not in res.err
    if case.out is not None:
        assert res.out == case.out
    elif case.code == 2:
        assert res.out == "", res.out
    check_nothing_lost(case, dict(done.before), dict(done.after))


# --------------------------------------------------------------------------- read-only storage


def _as_nobody() -> list[str] | None:
    """A command prefix running as an unprivileged user, when this test runs as root (root
    ignores file permissions); ``None`` when that is not possible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_read_only_storage_is_one_line_and_loses_nothing(base: Path) -> None:
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    top = Path(tempfile.mkdtemp(prefix="lumbung-ro-"))
    try:
        os.chmod(top, 0o755)
        root = top / "project"
        shutil.copytree(base, root, ignore=shutil.ignore_patterns("__pycache__"))
        # An old source file: planning wants to record its observation, so writes the store.
        hour_ago = time.time() - 3600
        os.utime(root / "data" / "raw.csv", (hour_ago, hour_ago))
        for path in [root / STORAGE, *(root / STORAGE).rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222 | 0o555 if path.is_dir() else 0o444)
        for path in [top, root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        before = snapshot(root / STORAGE)
        proc = subprocess.run(
            [*prefix, *LUMBUNG, "materialize", "--force"],
            cwd=root,
            capture_output=True,
            text=True,
            env=_env({"HOME": str(top)}),
            timeout=300,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (
            f"error: {root / STORAGE}/state.db cannot be written (attempt to write a readonly "
            "database); check that this user may read and write it and its folder, and that "
            "the disk has room.\n"
        )
        after = snapshot(root / STORAGE)
        assert after == before
    finally:
        for path in [top, *top.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(top, ignore_errors=True)
