"""The optional Dagster comparison of ``bench/run.py --compare-dagster``.

The same generated projects (the same edges, from ``bench_graph.json``) are written again as
Dagster definitions: a package ``bench_dagster`` of ``@dg.asset`` functions whose parameters
name their upstream assets and whose bodies call the same helper (``bench_assets.helpers.step``)
as the Lumbung assets. Every asset is stored through a small Parquet IO manager that writes
with ``pyarrow.parquet.write_table`` and reads with ``read_table``, as the baseline does.

The file has two halves:

- the driver, ``compare``, runs in ``bench/run.py``'s process without importing Dagster: it
  generates the Dagster package and times whole processes of this file under a Python that
  has Dagster (``--dagster-python``);
- the worker, ``python bench/dagster_compare.py MODE PROJECT ...``, runs under that Python:
  ``materialize`` runs ``dg.materialize`` on every asset with an ephemeral instance or a
  SQLite-backed one (``DagsterInstance.local_temp``), and ``stale`` asks Dagster's
  ``CachingStaleStatusResolver`` for the status of every asset of a materialized instance.

Dagster is an optional extra (``pip install -e .[bench]``), never needed by CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from measure import Failed, Row, Runner, attempt, same_outputs

DAGSTER_PACKAGE = "bench_dagster"
HERE = Path(__file__).resolve()


# --------------------------------------------------------------------------- generating


def write_dagster_package(project: Path) -> None:
    """Write ``project/bench_dagster``: the Dagster twin of ``bench_assets``, module for module."""
    graph = json.loads((project / "bench_graph.json").read_text())
    pkg = project / DAGSTER_PACKAGE
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    by_module: dict[str, list[tuple[str, list[str]]]] = {}
    for name, module, upstream in graph["assets"]:
        by_module.setdefault(module.rsplit(".", 1)[1], []).append((name, upstream))
    for module, assets in by_module.items():
        lines = [
            "import dagster as dg",
            "import pandas as pd",
            "",
            "from bench_assets.helpers import step",
        ]
        for name, upstream in assets:
            params = ", ".join(f"{u}: pd.DataFrame" for u in upstream)
            lines += ["", "", "@dg.asset", f"def {name}({params}) -> pd.DataFrame:"]
            lines += [f"    return step({', '.join(upstream)})"]
        (pkg / f"{module}.py").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the worker


def load_assets(project: Path) -> list[Any]:
    """Every ``AssetsDefinition`` of ``project/bench_dagster``, in module order."""
    import importlib

    import dagster as dg  # type: ignore[import-not-found, unused-ignore]

    sys.path.insert(0, str(project))
    graph = json.loads((project / "bench_graph.json").read_text())
    found: list[Any] = []
    for module in graph["modules"]:
        mod = importlib.import_module(f"{DAGSTER_PACKAGE}.{module.rsplit('.', 1)[1]}")
        found += [v for v in vars(mod).values() if isinstance(v, dg.AssetsDefinition)]
    return found


def parquet_io_manager(base: Path) -> Any:
    """A Dagster IO manager writing ``base/<name>.parquet`` with pyarrow, as the baseline does."""
    import dagster as dg  # type: ignore[import-not-found, unused-ignore]
    import pyarrow as pa
    import pyarrow.parquet as pq

    class ParquetIO(dg.IOManager):  # type: ignore[misc, unused-ignore]
        def handle_output(self, context: Any, obj: Any) -> None:
            path = base / f"{context.asset_key.path[-1]}.parquet"
            pq.write_table(pa.Table.from_pandas(obj, preserve_index=False), path)

        def load_input(self, context: Any) -> Any:
            return pq.read_table(base / f"{context.asset_key.path[-1]}.parquet").to_pandas()

    base.mkdir(parents=True, exist_ok=True)
    return dg.IOManagerDefinition.hardcoded_io_manager(ParquetIO())


def instance_for(kind: str, home: Path | None) -> Any:
    """An ephemeral instance, or a persistent SQLite-backed one in ``home``."""
    from dagster import DagsterInstance  # type: ignore[import-not-found, unused-ignore]

    if kind == "ephemeral":
        return DagsterInstance.ephemeral()
    assert home is not None, "a sqlite instance needs --home"
    home.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.local_temp(tempdir=str(home))


def work_materialize(project: Path, out: Path, kind: str, home: Path | None) -> dict[str, Any]:
    """``dg.materialize`` every asset; seconds spent in it and the count materialized."""
    import dagster as dg  # type: ignore[import-not-found, unused-ignore]

    assets = load_assets(project)
    instance = instance_for(kind, home)
    t = time.perf_counter()
    result = dg.materialize(
        assets, instance=instance, resources={"io_manager": parquet_io_manager(out)}
    )
    elapsed = time.perf_counter() - t
    assert result.success
    count = len(result.get_asset_materialization_events())
    return {"materialize_s": elapsed, "materialized": count}


def work_stale(project: Path, home: Path) -> dict[str, Any]:
    """Every asset's stale status from ``CachingStaleStatusResolver`` on the instance in
    ``home``; seconds spent resolving and the count per status."""
    from dagster._core.asset_graph_view.asset_graph_view import (  # type: ignore[import-not-found, unused-ignore]
        AssetGraphView,
        TemporalContext,
    )
    from dagster._core.definitions.assets.graph.asset_graph import (  # type: ignore[import-not-found, unused-ignore]
        AssetGraph,
    )
    from dagster._core.definitions.data_version import (  # type: ignore[import-not-found, unused-ignore]
        CachingStaleStatusResolver,
    )
    from dagster._time import get_current_datetime  # type: ignore[import-not-found, unused-ignore]

    assets = load_assets(project)
    instance = instance_for("sqlite", home)
    t = time.perf_counter()
    graph = AssetGraph.from_assets(assets)
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(
        instance=instance, asset_graph=graph, loading_context=view
    )
    statuses = Counter(resolver.get_status(key).value for key in graph.materializable_asset_keys)
    elapsed = time.perf_counter() - t
    return {"resolve_s": elapsed, "statuses": dict(statuses)}


def worker(argv: list[str]) -> None:
    """Command line of the worker half; prints one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["materialize", "stale", "version"])
    parser.add_argument("project", type=Path, nargs="?")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--instance", choices=["ephemeral", "sqlite"], default="ephemeral")
    parser.add_argument("--home", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "version":
        import dagster  # type: ignore[import-not-found, unused-ignore]

        import assets_core  # noqa: F401  (the generated helpers import it)

        report: dict[str, Any] = {"dagster": dagster.__version__}
    elif args.mode == "materialize":
        report = work_materialize(args.project, args.out, args.instance, args.home)
    else:
        report = work_stale(args.project, args.home)
    print(json.dumps(report))


# --------------------------------------------------------------------------- the driver


def compare(
    runner: Runner,
    python: str,
    projects: dict[str, Path],
    lumbung: dict[str, Row],
    repeat: int,
    big_shape: str,
) -> tuple[list[Row], str]:
    """Time the Dagster runs of ``projects`` (shape -> generated project) and return rows set
    against Lumbung's (``lumbung``: ``"fresh:<shape>"``, ``"plan:<shape>"`` and
    ``"planning:<shape>"`` rows), and a note to print under the table."""
    try:
        _, proc = runner.run([python, str(HERE), "version"], HERE.parent)
    except Failed as exc:
        return [], (
            f"--compare-dagster: Dagster (with Lumbung) is not importable from {python} "
            f"({exc.note}); install both there (pip install dagster && pip install -e .) "
            "and pass --dagster-python PATH or set DAGSTER_PYTHON."
        )
    version = json.loads(proc.stdout)["dagster"]
    rows: list[Row] = []
    for shape, project in projects.items():
        write_dagster_package(project)
        n = len(json.loads((project / "bench_graph.json").read_text())["assets"])
        for kind in ("ephemeral", "sqlite"):
            what = f"Dagster {version} materialize {n:,} new assets, {shape}, {kind} instance"
            with attempt(rows, Row(what)) as row:
                materialize_row(runner, python, project, kind, repeat, row)
                compare_to(row, lumbung.get(f"fresh:{shape}"), "materialize")
        if shape == big_shape:
            stale_rows(runner, python, project, repeat, rows, version, n, shape, lumbung)
    note = (
        f"Dagster {version}: dg.materialize (its in-process executor) with a Parquet IO manager "
        "that writes with pyarrow.parquet like the baseline; stale status from "
        "CachingStaleStatusResolver on the SQLite instance of the last materialization."
    )
    return rows, note


def compare_to(row: Row, ref: Row | None, what: str) -> None:
    """Set ``row``'s ratio against Lumbung's ``ref`` row, and say so in its note."""
    if ref is None or ref.value is None or row.value is None:
        return
    row.versus, row.ratio = ref.value, row.value / ref.value
    row.note = f"vs: lumbung {what}; ratio: Dagster/Lumbung; {row.note}".rstrip("; ")


def materialize_row(
    runner: Runner, python: str, project: Path, kind: str, repeat: int, row: Row
) -> None:
    """Median whole-process ``dg.materialize`` after a warm-up, a new instance and output
    folder for every run; the last run's outputs compared with the baseline's."""

    def once(r: int | str) -> float:
        cmd = [python, str(HERE), "materialize", str(project), "--instance", kind]
        cmd += ["--out", str(project / f"dagster-out-{kind}-{r}")]
        cmd += ["--home", str(project / f"dagster-home-{kind}-{r}")]
        return runner.run(cmd, project)[0]

    if runner.warmup:
        once("warm")
    row.value = statistics.median(once(r) for r in range(repeat))
    out = project / f"dagster-out-{kind}-{repeat - 1}"
    row.note = same_outputs(project, out, project / f"baseline-out-{repeat - 1}")


def stale_rows(
    runner: Runner,
    python: str,
    project: Path,
    repeat: int,
    rows: list[Row],
    version: str,
    n: int,
    shape: str,
    lumbung: dict[str, Row],
) -> None:
    """Whole-process and in-process stale status of every asset on the SQLite instance the
    last ``materialize_row`` run left, against ``lumbung plan`` and planning itself."""
    home = project / f"dagster-home-sqlite-{repeat - 1}"
    cmd = [python, str(HERE), "stale", str(project), "--home", str(home)]
    reports: list[dict[str, Any]] = []
    what = f"Dagster {version} stale status, {n:,} materialized assets, {shape} (whole process)"
    with attempt(rows, Row(what)) as row:
        if runner.warmup:
            runner.run(cmd, project)
        runs = [runner.run(cmd, project) for _ in range(repeat)]
        row.value = statistics.median(t for t, _ in runs)
        reports = [json.loads(p.stdout) for _, p in runs]
        compare_to(row, lumbung.get(f"plan:{shape}"), "plan")
    if reports:
        what = f"Dagster {version} CachingStaleStatusResolver (in-process), {n:,}, {shape}"
        with attempt(rows, Row(what)) as row:
            row.value = statistics.median(float(r["resolve_s"]) for r in reports)
            row.note = f"statuses {reports[0]['statuses']}"
            compare_to(row, lumbung.get(f"planning:{shape}"), "planning itself")


if __name__ == "__main__":
    worker(sys.argv[1:])
