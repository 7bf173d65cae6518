"""The instructions a fresh run executes, per step, against the plain-Python in-memory baseline.

On a shared machine the CPU seconds of a run move by a tenth between runs of the same code;
the count of instructions does not (about 0.3% here). This counts, with valgrind's callgrind,
only the instructions inside the run: ``lumbung materialize`` of the project into new storage,
counted from the start of ``execute`` to its return, and ``bench/baseline.py --in-memory``,
counted over its loop. The project's modules and ``pyarrow.parquet`` are imported before, on
both sides (Lumbung imports the latter at its first save, a one-time cost). Collection is
switched on around one C function that only the bootstraps call, ``operator.call``, wrapped
around each. The count leaves out what the kernel does (creating files, the rename) and what
waiting on the disk costs; ``bench/phases.py`` measures those.

Under valgrind a step takes about fifty times its CPU time, which would make the threads
backend hand every step to a worker (``scheduler.INLINE_BELOW``); the bootstrap raises that
bound so that steps run inline, as trivial steps do in a real run. Each process takes one to
two minutes.

    python bench/instructions.py PROJECT_DIR [--also SRC] [--no-baseline]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from generate import read_graph, write_config
from measure import CHILD_ENV, rotation

#: a Lumbung process: its run inside ``operator.call``, steps inline however slow they seem
_LUMBUNG = r"""
import operator, sys
if len(sys.argv) > 1 and sys.argv[1] != "materialize":
    sys.path.insert(0, sys.argv.pop(1))
import pyarrow.parquet  # imported by the first save; the baseline imports it before its loop
from assets_core.cli import entry
import assets_core.execution.run as run
import assets_core.execution.scheduler as scheduler
scheduler.INLINE_BELOW = scheduler.WAITS_FROM = float("inf")
execute = run.execute
run.execute = lambda *a, **k: operator.call(execute, *a, **k)
sys.argv[0] = "lumbung"
entry()
"""

#: a baseline process: its loop inside ``operator.call``
_BASELINE = r"""
import operator, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from pathlib import Path
import baseline, importlib, json
for module in json.loads(Path(sys.argv[2], "bench_graph.json").read_text())["modules"]:
    importlib.import_module(module)  # the project's modules, before its loop as before Lumbung's
operator.call(baseline.run, Path(sys.argv[2]), Path(sys.argv[3]), in_memory=True)
"""


def counted(cmd: list[str], cwd: Path, out: Path) -> int:
    """The instructions ``cmd`` executed inside ``operator.call``."""
    run = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=_operator_call",
        f"--callgrind-out-file={out}",
        *cmd,
    ]
    proc = subprocess.run(run, cwd=cwd, env=CHILD_ENV, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed: {(proc.stderr or proc.stdout)[-400:]}")
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    sys.exit(f"no instruction count in {out}")


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("project", type=Path)
    parser.add_argument("--also", type=Path, metavar="SRC", help="another Lumbung source tree")
    parser.add_argument("--no-baseline", action="store_true", help="count Lumbung only")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    project = args.project.resolve()
    graph = read_graph(project)
    n = len(graph["assets"])
    who = rotation(_LUMBUNG, None if args.no_baseline else _BASELINE, project, args.also)
    found: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="lumbung-instructions-") as scratch:
        tmp = Path(scratch)
        try:
            for name, cmd in who.items():
                out = tmp / name.strip("[]")
                if name == "baseline":
                    cmd = [*cmd, str(out)]
                else:
                    write_config(project, list(graph["modules"]), storage=str(out))
                    cmd = [*cmd, "materialize"]
                found[name] = counted(cmd, project, tmp / "callgrind.out")
                shutil.rmtree(out, ignore_errors=True)
                print(f"{name}: {found[name] / n:,.0f} instructions a step", file=sys.stderr)
        finally:
            write_config(project, list(graph["modules"]))
    print(f"{n:,} assets; instructions inside the run, per step")
    for name, count in found.items():
        ratio = f" ({count / found['baseline']:.2f}x the baseline)" if "baseline" in found else ""
        print(f"| {name} | {count / n:,.0f}{ratio} |")


if __name__ == "__main__":
    main()
