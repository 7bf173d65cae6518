"""The plain-Python baselines: a generated project's assets run by hand, without Lumbung.

It imports the same generated modules, calls the same functions in topological order (from
``bench_graph.json``) and writes each result with ``pyarrow.parquet.write_table`` to
``OUT_DIR/<name>.parquet``. By default it reads each input back with
``pyarrow.parquet.read_table``, the way a careful script that keeps nothing in memory would;
with ``--in-memory`` it passes each result to its consumers in memory (the stricter baseline:
a script that writes the same files but never reads them). ``bench/run.py`` times both as whole
processes against ``lumbung materialize`` on the same project.

    python bench/baseline.py PROJECT_DIR OUT_DIR [--in-memory]
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def run(
    project: Path, out: Path, in_memory: bool = False, note: Callable[[str], None] | None = None
) -> int:
    """Run every asset of ``project`` into ``out``; return how many ran. ``in_memory`` passes
    results to their consumers directly instead of reading the written files back. ``note``,
    when given, is called at the seams ``bench/phases.py`` times: ``"project"`` (the modules
    are imported next), ``"run"`` (the assets run next) and ``"ran"``."""
    graph = json.loads((project / "bench_graph.json").read_text())
    sys.path.insert(0, str(project))
    out.mkdir(parents=True, exist_ok=True)
    if note is not None:
        note("project")
    modules = {m: importlib.import_module(m) for m in graph["modules"]}
    if note is not None:
        note("run")
    kept: dict[str, object] = {}
    for name, module, upstream in graph["assets"]:
        fn = getattr(modules[module], name)
        if in_memory:
            inputs = [kept[u] for u in upstream]
        else:
            inputs = [pq.read_table(out / f"{u}.parquet").to_pandas() for u in upstream]
        result = fn(*inputs)
        if in_memory:
            kept[name] = result
        pq.write_table(pa.Table.from_pandas(result, preserve_index=False), out / f"{name}.parquet")
    if note is not None:
        note("ran")
    return len(graph["assets"])


def main() -> None:
    """Command line: ``baseline.py PROJECT_DIR OUT_DIR [--in-memory]``."""
    args = [a for a in sys.argv[1:] if a != "--in-memory"]
    if len(args) != 2:
        sys.exit(f"usage: {Path(sys.argv[0]).name} PROJECT_DIR OUT_DIR [--in-memory]")
    count = run(Path(args[0]).resolve(), Path(args[1]).resolve(), "--in-memory" in sys.argv)
    print(f"{count} assets written")


if __name__ == "__main__":
    main()
