"""Planning itself, timed in-process: load a project, then time ``session.plan()``.

Run in a fresh process by ``bench/run.py`` so every measurement starts as a CLI command would:
the project is imported and its ``Session`` opened (timed as ``load_s``), then the first
``session.plan()`` of the process is timed (``plan_s``: state read, output checks, code versions
from the on-disk cache, the staleness rules; ``plan_cpu_s``: the CPU time of the same, steadier
on a busy machine). The process's peak resident memory (``resource.getrusage`` maxrss) is
reported with it. Prints one JSON object.

The garbage collector is off from the load through the plan, as in every ``lumbung`` command
(``assets_core.cli.common.load_session``): that is the planning ``lumbung plan`` does. A
Python session that keeps the collector on pays, once after loading a project, one pass of
the collector over everything the load made (about 0.1 s for 10,000 assets here), wherever its
next allocations happen; that pass is the load's cost, not the plan's.

    python bench/plan_probe.py PROJECT_DIR
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path


def probe(project: Path) -> dict[str, object]:
    """Load ``project`` and plan it once; the timings, step counts and peak memory."""
    gc.disable()  # as the CLI does (see the module docstring)
    t0 = time.perf_counter()
    from assets_core import load_project

    session = load_project(project)
    t1, c1 = time.perf_counter(), time.process_time()
    plan = session.plan()
    t2, c2 = time.perf_counter(), time.process_time()
    statuses = Counter(step.status for step in plan.steps)
    session.close()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "assets": len(session.defs),
        "load_s": t1 - t0,
        "plan_s": t2 - t1,
        "plan_cpu_s": c2 - c1,
        "steps": len(plan.steps),
        "statuses": dict(statuses),
        "maxrss_mb": maxrss_kb / 1024,
    }


def main() -> None:
    """Command line: ``plan_probe.py PROJECT_DIR``."""
    if len(sys.argv) != 2:
        sys.exit(f"usage: {Path(sys.argv[0]).name} PROJECT_DIR")
    print(json.dumps(probe(Path(sys.argv[1]).resolve())))


if __name__ == "__main__":
    main()
