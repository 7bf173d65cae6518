"""bench/tpch.py end to end at a tiny scale (0.01), so it cannot rot: the generator's Parquet
files, the raw script and each Lumbung variant as whole processes, and the check that every
variant's 22 answers equal the raw script's. Timings are printed, never asserted.

Needs ``tpchgen-cli`` (the ``bench`` extra); skipped where it is not installed."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _tpch() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_tpch", BENCH / "tpch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tpch = _tpch()

needs_generator = pytest.mark.skipif(
    not (Path(sys.executable).parent / "tpchgen-cli").exists() and not shutil.which("tpchgen-cli"),
    reason="tpchgen-cli is not installed (pip install -e '.[bench]')",
)


def test_each_query_names_the_tables_it_reads() -> None:
    assert tpch.tables_of(1) == ["lineitem"]
    assert tpch.tables_of(15) == ["lineitem", "supplier"]
    assert tpch.tables_of(8) == [
        "customer", "lineitem", "nation", "orders", "part", "region", "supplier",
    ]  # fmt: skip
    assert "0.01" in tpch.query(11, 0.01) and "{fraction}" not in tpch.query(11, 0.01)


def test_a_wrong_answer_is_named() -> None:
    raw = {"q01": [(1, 2.0)], "q02": [("a",)]}
    assert tpch.differences(raw, {"q01": [(1, 2.0 + 1e-13)], "q02": [("a",)]}) == []
    assert tpch.differences(raw, {"q01": [(1, 2.5)], "q02": []}) == [
        "q01: different values",
        "q02: 0 rows, the raw script's 1",
    ]


@needs_generator
def test_tiny_scale_end_to_end(tmp_path: Path) -> None:
    variants = ["raw", "relation", "sql"]
    lines = tpch.run(0.01, 1, tmp_path / "data", tmp_path / "work", variants, warm=False)
    print("\n".join(lines))
    assert lines[-1] == "all 22 answers of every variant equal the raw script's"
    assert [line.split()[0] for line in lines[2:-1]] == ["raw", "relation", "sql"]


def test_an_earlier_checkout_runs_first_on_the_import_path() -> None:
    env = tpch.environment("sql@before", Path("/checkout"))
    assert env["PYTHONPATH"].split(":")[0] == "/checkout"
    assert tpch.environment("sql", Path("/checkout")) is tpch.ENV
    assert tpch.environment("raw", None) is tpch.ENV


@needs_generator
def test_tiny_scale_beside_another_checkout(tmp_path: Path) -> None:
    """``--before``: the Lumbung variants of another checkout (this one, here) run in the same
    rotation, on projects of their own, and their answers are checked too."""
    lines = tpch.run(
        0.01, 1, tmp_path / "data", tmp_path / "work", ["sql"], warm=False, before=BENCH.parent
    )
    assert lines[-1] == "all 22 answers of every variant equal the raw script's"
    assert [line.split()[0] for line in lines[2:-1]] == ["raw", "sql", "sql@before"]
    assert (tmp_path / "work" / "before" / "sql" / ".lumbung" / "warehouse.duckdb").exists()
