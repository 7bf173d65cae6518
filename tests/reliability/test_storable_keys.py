"""Every valid key can be stored, or is refused when the project loads.

**The guarantee.** A key that passes the key rule but that its IO manager cannot store (a
DuckDB schema name DuckDB reserves, a Parquet file name or path longer than the file system
allows) is a definition problem: ``lumbung`` reports it with every other problem of the
project, naming the asset, the limit and the fix, exits 2 and creates nothing. It never fails
only when the asset runs. Following the fix it suggests gives a project that materializes.

These run the real ``lumbung`` command on a small project.
"""

from __future__ import annotations

from pathlib import Path

from tests.assets_core.cli.conftest import run, run_sequence

HEADER = """\
import pandas as pd
from assets_core import asset


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2]})

"""

BAD = (
    HEADER
    + """
@asset(key="temp/t", io_manager="duckdb")
def scratch():
    return frame()


@asset(key="information_schema/tables", io_manager="duckdb")
def listing():
    return frame()


@asset(key="warehouse/facts", io_manager="duckdb")
def facts():
    return frame()


@asset(name="n" * 240)
def long_name():
    return frame()


@asset(io_manager="csv")
def elsewhere():
    return frame()


@asset(ins={"x": "temp/t"})
def fine(x):
    return x
"""
)

#: the same project, each key changed as its message says (and the unknown manager fixed)
FIXED = (
    BAD.replace('"temp/t"', '"temp_data/t"')
    .replace('key="information_schema/tables"', 'key="information_schema_data/tables"')
    .replace('key="warehouse/facts"', 'key="warehouse_data/facts"')
    .replace('name="n" * 240', 'name="n" * 212')
    .replace('io_manager="csv"', 'io_manager="parquet"')
)


def _project(root: Path, assets: str) -> Path:
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(assets)
    return root


def test_keys_a_manager_cannot_store_are_refused_with_every_other_problem(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path / "bad", BAD)
    res = run(["list"], root)
    assert (res.code, res.out) == (2, "")
    n = "n" * 240
    assert res.err_lines == [
        "error: 5 problems in the project's definitions:",
        "    - elsewhere (assets.py:29): unknown io manager 'csv'. Known: duckdb, memory, "
        "parquet; register others with Session(defs, io_managers={...}).",
        "    - temp/t (assets.py:9): the duckdb IO manager would store it as table t in schema "
        "temp, a name DuckDB reserves (its catalog of temporary objects); rename the key's first "
        "segment ('temp_data', say), or store it with another io_manager.",
        "    - information_schema/tables (assets.py:14): the duckdb IO manager would store it as "
        "table tables in schema information_schema, a name DuckDB reserves (a system schema); "
        "rename the key's first segment ('information_schema_data', say), or store it with "
        "another io_manager.",
        "    - warehouse/facts (assets.py:19): the duckdb IO manager would store it as table "
        "facts in schema warehouse, a name DuckDB reserves (the catalog of the warehouse file "
        "itself); rename the key's first segment ('warehouse_data', say), or store it with "
        "another io_manager.",
        f"    - {n} (assets.py:24): its last segment is 240 characters long, and the parquet IO "
        "manager adds up to 43 more to it for a file name ('.parquet' and a temporary suffix), "
        "which may have at most 255 on this file system; shorten it to 212 characters or fewer.",
    ]
    assert not (root / ".lumbung").exists()  # nothing was created


def test_following_the_fixes_gives_a_project_that_materializes(tmp_path: Path) -> None:
    root = _project(tmp_path / "fixed", FIXED)
    built, plan = run_sequence([(("materialize",), root), (("plan",), root)])
    assert built.code == 0, built.err
    assert built.out.splitlines()[-2].startswith("6 materialized, 0 up to date, 0 failed")
    assert plan.out == "Nothing to do: 6 selected assets are fresh.\n"


def test_a_path_too_deep_for_the_file_system_is_refused_at_load(tmp_path: Path) -> None:
    # 20 segments of 200 characters: every name fits, the whole path does not.
    key = "/".join(["d" * 200] * 20)
    root = _project(
        tmp_path / "deep", HEADER + f'\n@asset(key="{key}")\ndef deep():\n    return frame()\n'
    )
    res = run(["plan"], root)
    assert res.code == 2
    storage = root / ".lumbung" / "parquet"
    total = len(str(storage)) + len(key) + 1 + 43
    assert res.err_lines == [
        f"error: {key} (assets.py:9): the parquet IO manager would write it at a path of up to "
        f"{total} characters (under {storage}), and this system allows 4095; shorten the key, "
        "or move the storage folder to a shorter path."
    ]
