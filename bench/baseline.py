"""The plain-Python baseline: a generated project's assets run by hand, without Lumbung.

It imports the same generated modules, calls the same functions in topological order (from
``bench_graph.json``), writes each result with ``pyarrow.parquet.write_table`` to
``OUT_DIR/<name>.parquet`` and reads each input back with ``pyarrow.parquet.read_table``, the
way a careful script would. ``bench/run.py`` times it as a whole process against ``lumbung
materialize`` on the same project.

    python bench/baseline.py PROJECT_DIR OUT_DIR
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def run(project: Path, out: Path) -> int:
    """Run every asset of ``project`` into ``out``; return how many ran."""
    graph = json.loads((project / "bench_graph.json").read_text())
    sys.path.insert(0, str(project))
    out.mkdir(parents=True, exist_ok=True)
    modules = {m: importlib.import_module(m) for m in graph["modules"]}
    for name, module, upstream in graph["assets"]:
        fn = getattr(modules[module], name)
        inputs = [pq.read_table(out / f"{u}.parquet").to_pandas() for u in upstream]
        result = fn(*inputs)
        pq.write_table(pa.Table.from_pandas(result, preserve_index=False), out / f"{name}.parquet")
    return len(graph["assets"])


def main() -> None:
    """Command line: ``baseline.py PROJECT_DIR OUT_DIR``."""
    if len(sys.argv) != 3:
        sys.exit(f"usage: {Path(sys.argv[0]).name} PROJECT_DIR OUT_DIR")
    count = run(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
    print(f"{count} assets written")


if __name__ == "__main__":
    main()
