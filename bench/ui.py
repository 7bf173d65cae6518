"""Benchmark: the web UI's API and page at scale. A 5,000-asset project (``generate.py``'s
``wide`` shape, materialized for real once, so every asset has a record and the state store
holds a run of 5,000 steps), and one hourly asset over 2021-2024 (35,064 partitions, made as
``partitions.py`` makes it: recorded fresh, a few stale, missing and failed).

In one run it measures, in process through the ASGI app (starlette's TestClient: routing,
the session's bulk paths and JSON encoding, no network), the median of 5 answers after one
warm-up of each endpoint the pages call, in wall-clock and CPU seconds (the whole process's):

- the graph page: ``/api/graph?statuses=0`` (the layout of 5,000 assets, which the page
  draws first), ``/api/graph`` (layout and statuses), ``/api/status`` (what the page asks
  next, and on every live update), ``/api/select`` (``+a002500``);
- the asset page: ``/api/asset`` of an asset in the middle of the graph; the runs pages:
  ``/api/runs`` and ``/api/run`` of the 5,000-step run;
- the partition matrix: ``/api/asset/partitions`` and ``/api/asset`` of the hourly asset.

The UI keeps the status plan and the layout while nothing changed (``web/kept.py``): rows
marked "kept" are answered as on a second request (the graph page's ``/api/status`` asked
again, an asset page opened after the graph page), rows marked "made" with what was kept
dropped before each answer, as after a run or a load of the page.

When chromium and playwright are installed it also measures a real browser against a real
``lumbung ui`` process (median of 3 loads of one server; the first load, and the server's
CPU seconds per load, are shown too): from
opening the URL until the 5,000-asset graph is drawn and answers a click
(``window.ui.ready``), and until its statuses are shown; and from opening the hourly
asset's page until its 35,064-cell matrix is drawn.

``--also SRC`` measures another Lumbung source tree (a checkout of an earlier commit) in
the same run, the two interleaved: each round measures one tree, then the other (each in a
process of its own), and the figures are the medians over the rounds.

    .venv/bin/python bench/ui.py [--dir DIR] [--also SRC] [--rounds N] [--only api|browser]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate
from partitions import HOURLY_AS_OF, build_hourly

ASSETS = 5_000
REPEATS = 5
CHROMIUM = "/usr/bin/chromium"


def build_wide(root: Path) -> Path:
    """The 5,000-asset project, materialized once (kept in ``root`` for the next run)."""
    from assets_core import load_project

    project = root / "wide"
    if (project / ".lumbung" / "state.db").exists():
        return project
    generate(project, "wide", ASSETS)
    t = time.perf_counter()
    with load_project(project) as session:
        result = session.materialize(on_log=None)
        assert not result.failed
    print(f"built and materialized {ASSETS:,} assets in {time.perf_counter() - t:.1f} s")
    return project


def timed(call: Callable[[], Any], before: Callable[[], None] | None = None) -> tuple[float, float]:
    """The median wall-clock and CPU seconds of ``REPEATS`` calls after a warm-up; ``before``
    runs ahead of each call, untimed."""
    call()  # warm-up
    walls, cpus = [], []
    for _ in range(REPEATS):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


#: what is timed: label -> (project, path); "made:" paths drop what the UI kept first
WIDE_PATHS = {
    "graph  /api/graph?statuses=0, kept": "/api/graph?statuses=0",
    "graph  /api/graph?statuses=0, made": "made:/api/graph?statuses=0",
    "graph  /api/graph (with statuses)": "/api/graph",
    "graph  /api/status, kept": "/api/status",
    "graph  /api/status, made (planned)": "made:/api/status",
    "graph  /api/select?select=+a002500": "/api/select?select=%2Ba002500",
    "asset  /api/asset?key=a002500, kept": "/api/asset?key=a002500",
    "asset  /api/asset?key=a002500, made": "made:/api/asset?key=a002500",
    "runs   /api/runs": "/api/runs",
    "runs   /api/run (5,000 steps)": "/api/run?id=RUN",
}
HOURLY_PATHS = {
    "matrix /api/asset/partitions (35,064)": "/api/asset/partitions?key=clicks",
    "matrix /api/asset?key=clicks": "/api/asset?key=clicks",
}


def api_times(project: Path, paths: dict[str, str]) -> dict[str, tuple[float, float, int]]:
    """Each path's median wall and CPU seconds, and its size in bytes."""
    from starlette.testclient import TestClient

    from assets_core import load_project
    from assets_core.web.app import build_app

    out = {}
    with load_project(project, read_only=True) as session:
        run_id = session.state.runs(limit=1)[0].run_id
        app = build_app(session)
        client = TestClient(app, base_url="http://127.0.0.1")

        def drop() -> None:  # what the UI kept, forgotten (as after a change)
            kept = getattr(app.state.ui, "kept", None)
            if kept is not None:
                kept.close()

        for label, path in paths.items():
            size = 0
            made = path.startswith("made:")
            path = path.removeprefix("made:").replace("RUN", run_id)
            if path.startswith("/api/asset?") and not made:
                client.get("/api/status")  # the graph page came first, as in the browser

            def call(path: str = path) -> None:
                nonlocal size
                r = client.get(path)
                assert r.status_code == 200, r.text
                size = len(r.content)

            wall, cpu = timed(call, drop if made else None)
            out[label] = (wall, cpu, size)
    return out


def browser_times(wide: Path, hourly: Path, src: Path | None) -> dict[str, float] | None:
    """Seconds until the graph page answers, and until the hourly matrix is drawn (the
    server runs the Lumbung of ``src``, default this one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    out: dict[str, float] = {}
    # -P: not the current folder first on sys.path, so PYTHONPATH picks the tree
    command = [sys.executable, "-P", "-c", "from assets_core.cli import entry; entry()"]
    env = {**os.environ, "LUMBUNG_NOW": HOURLY_AS_OF}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for label, project in (("graph", wide), ("matrix", hourly)):
            proc = subprocess.Popen(
                [*command, "--project", str(project), "ui", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            try:
                assert proc.stdout is not None
                found = re.search(r"http://\S+", proc.stdout.readline())
                assert found is not None
                url = found.group(0)
                page = browser.new_page(viewport={"width": 1400, "height": 850}, bypass_csp=True)
                times: list[float] = []
                drawn: list[float] = []
                cpus: list[float] = []
                for _ in range(3):
                    target = url if label == "graph" else url + "#/asset/clicks"
                    t, c = time.perf_counter(), server_cpu(proc.pid)
                    page.goto(target)
                    if label == "graph":
                        page.wait_for_function("window.ui && window.ui.ready", timeout=60_000)
                        page.mouse.click(700, 400)  # it answers a click: it is interactive
                        drawn.append(time.perf_counter() - t)
                        page.wait_for_selector("body[data-statuses]", timeout=60_000)
                    else:
                        page.wait_for_function(
                            "window.ui.matrix && window.ui.matrix.cells() > 0", timeout=60_000
                        )
                    times.append(time.perf_counter() - t)
                    cpus.append(server_cpu(proc.pid) - c)
                    page.goto("about:blank")
                out[label] = statistics.median(times)
                out[label + " cpu"] = statistics.median(cpus)
                out[label + " first"] = times[0]
                if drawn:
                    out["drawn"] = statistics.median(drawn)
                    out["drawn first"] = drawn[0]
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        browser.close()
    return out


BROWSER_ROWS = {
    "drawn": "graph of 5,000 assets drawn and answering",
    "drawn first": "... the first load after the server started",
    "graph": "... and its statuses shown",
    "graph first": "... the first load after the server started",
    "graph cpu": "... the server's CPU seconds per load",
    "matrix": "asset page with 35,064-partition matrix",
    "matrix first": "... the first load after the server started",
    "matrix cpu": "... the server's CPU seconds per load",
}


def server_cpu(pid: int) -> float:
    """The CPU seconds (user and system) process ``pid`` used so far (0 where ``/proc``
    does not tell)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(base: Path) -> None:
    """One round of the API timings in this process (the Lumbung on ``sys.path``), printed
    as JSON."""
    found = api_times(base / "wide", WIDE_PATHS)
    os.environ["LUMBUNG_NOW"] = HOURLY_AS_OF
    found |= api_times(base / "hourly", HOURLY_PATHS)
    print(json.dumps(found))


def one_round(base: Path, src: Path | None) -> dict[str, tuple[float, float, int]]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", "--dir", str(base)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found: dict[str, tuple[float, float, int]] = json.loads(done.stdout.splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to build the projects (default: a temp)")
    parser.add_argument("--also", type=Path, metavar="SRC", help="another Lumbung source tree")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tree (default 3)")
    parser.add_argument("--only", choices=("api", "browser"), help="measure only these")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.dir)
        return
    trees: dict[str, Path | None] = {"this tree": None}
    if args.also is not None:
        trees[f"[{args.also.name}]"] = args.also.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        base = (args.dir or Path(tmp)).resolve()
        base.mkdir(parents=True, exist_ok=True)
        build_wide(base)
        build_hourly(base)
        api: dict[str, list[dict[str, tuple[float, float, int]]]] = {t: [] for t in trees}
        seen: dict[str, list[dict[str, float]]] = {t: [] for t in trees}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                if args.only != "browser":
                    api[name].append(one_round(base, trees[name]))
                if args.only != "api":
                    found = browser_times(base / "wide", base / "hourly", trees[name])
                    if found is not None:
                        seen[name].append(found)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.rounds} rounds per tree, interleaved; load average now {load}")
        names = list(trees)
        if args.only != "browser":
            print(
                f"API in process, median of {REPEATS} per round after a warm-up, median of "
                "the rounds: wall ms / CPU ms (KiB)"
            )
            print(f"  {'':<42}" + "".join(f"{n:>28}" for n in names))
            for label in WIDE_PATHS | HOURLY_PATHS:
                cells = []
                for n in names:
                    wall = statistics.median(x[label][0] for x in api[n]) * 1000
                    cpu = statistics.median(x[label][1] for x in api[n]) * 1000
                    size = api[n][-1][label][2] / 1024
                    cells.append(f"{wall:>9.1f} / {cpu:>7.1f} ({size:>5.0f})")
                print(f"  {label:<42}" + "".join(f"{c:>28}" for c in cells))
        if args.only != "api":
            if not all(seen.values()):
                print("browser: skipped (no chromium or playwright)")
            else:
                print(
                    "browser (chromium, a real `lumbung ui`), median of 3 loads, median of "
                    "the rounds, seconds:"
                )
                print(f"  {'':<46}" + "".join(f"{n:>18}" for n in names))
                for key, label in BROWSER_ROWS.items():
                    cells = [f"{statistics.median(x[key] for x in seen[n]):>18.2f}" for n in names]
                    print(f"  {label:<46}" + "".join(cells))
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
