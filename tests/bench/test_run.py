"""bench/: the generator's graph shapes, and ``bench/run.py`` end to end on a tiny project.

The end-to-end run checks that the table prints with every row family, and, independently of
run.py's own check, that the plain-Python baseline and Lumbung stored the same values for
every asset: the comparison the suite reports is only honest if both do the same work.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _generate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generate_module()


def test_chain_and_heavy_edges() -> None:
    assert gen.edges("chain", 4) == [[], [0], [1], [2]]
    assert gen.edges("heavy", 3) == [[], [], []]


def test_wide_reads_two_or_three_of_the_layer_before_with_a_fixed_seed() -> None:
    n = 400
    ups = gen.edges("wide", n)
    width = 20  # max(10, sqrt(400))
    assert ups == gen.edges("wide", n)  # fixed seed: the same graph every time
    assert ups != gen.edges("wide", n, seed=8)
    for i, up in enumerate(ups):
        layer = i // width
        if layer == 0:
            assert up == []
        else:
            assert 2 <= len(up) <= 3
            assert all((layer - 1) * width <= u < layer * width for u in up)


def test_diamond_fans_out_to_four_and_joins_back() -> None:
    ups = gen.edges("diamond", 13)
    assert ups[:7] == [[], [0], [0], [0], [0], [1, 2, 3, 4], [5]]
    assert ups[11] == [7, 8, 9, 10]
    assert all(u < i for i, up in enumerate(ups) for u in up)


def test_generate_writes_config_graph_and_modules(tmp_path: Path) -> None:
    names = gen.generate(tmp_path, "chain", 3, io_manager="duckdb", storage=".st")
    assert names == ["a000000", "a000001", "a000002"]
    config = (tmp_path / "lumbung.toml").read_text()
    assert 'modules = ["bench_assets.m0000"]' in config
    assert 'storage = ".st"' in config
    assert 'default_io_manager = "duckdb"' in config
    graph = json.loads((tmp_path / "bench_graph.json").read_text())
    assert graph["assets"][2] == ["a000002", "bench_assets.m0000", ["a000001"]]
    source = (tmp_path / "bench_assets" / "m0000.py").read_text()
    assert "def a000002(a000001: pd.DataFrame) -> pd.DataFrame:\n    return step(a000001)" in source


def test_run_end_to_end_on_a_tiny_project(tmp_path: Path) -> None:
    work = tmp_path / "work"
    cmd = [sys.executable, str(BENCH / "run.py"), "--sizes", "20", "--fresh-sizes", "20"]
    cmd += ["--shapes", "wide", "--repeat", "1", "--no-warmup", "--no-startup"]
    cmd += ["--plan-n", "0", "--heavy", "0", "--workdir", str(work)]
    cmd += ["--compare-dagster", "--dagster-python", str(tmp_path / "no-python")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| what " in out and "| median " in out and "| met " in out
    for row in (
        "| materialize 20 new assets, wide ",
        "| materialize (no-op), 20 fresh assets, wide ",
        "| plan, 20 fresh assets, wide ",
        "| list, 20 fresh assets, wide ",
        "| planning itself (in-process), 20 fresh assets, wide ",
    ):
        line = next((x for x in out.splitlines() if x.startswith(row)), None)
        assert line is not None, f"no row {row!r} in:\n{out}"
        assert " s |" in line, line  # a time was measured, not a failure note
    assert "same outputs as the baseline (20/20)" in out
    assert "| 0 steps;" in out or " 0 steps;" in out
    assert "--compare-dagster: Dagster (with Lumbung) is not importable from" in out

    project = work / "wide_20"
    ours, theirs = project / ".lumbung-fresh-0" / "parquet", project / "baseline-out-0"
    names = [a[0] for a in json.loads((project / "bench_graph.json").read_text())["assets"]]
    assert len(names) == 20
    for name in names:
        mine = pq.read_table(ours / f"{name}.parquet").to_pandas()
        other = pq.read_table(theirs / f"{name}.parquet").to_pandas()
        assert mine.equals(other), name
    first = pq.read_table(ours / "a000000.parquet").to_pandas()
    assert first["v"].tolist() == list(range(10))
