"""Benchmark: the web UI's API and page at scale. A 5,000-asset project (``generate.py``'s
``wide`` shape, materialized for real once, so every asset has a record and the state store
holds a run of 5,000 steps), and one hourly asset over 2021-2024 (35,064 partitions, made as
``partitions.py`` makes it: recorded fresh, a few stale, missing and failed).

In one run it measures, in process through the ASGI app (starlette's TestClient: routing,
the session's bulk paths and JSON encoding, no network), the median of 5 answers after one
warm-up of each endpoint the pages call:

- the graph page: ``/api/graph`` (layout and statuses of 5,000 assets), ``/api/status``
  (what a live update fetches), ``/api/select`` (``+a002500``);
- the asset page: ``/api/asset`` of an asset in the middle of the graph; the runs pages:
  ``/api/runs`` and ``/api/run`` of the 5,000-step run;
- the partition matrix: ``/api/asset/partitions`` and ``/api/asset`` of the hourly asset;

and, when chromium and playwright are installed, in a real browser against a real
``lumbung ui`` process (median of 3): from opening the URL until the 5,000-asset graph is
drawn and answers a click (``window.ui.ready``), and until its statuses are shown; and from
opening the hourly asset's page until its 35,064-cell matrix is drawn.

    .venv/bin/python bench/ui.py [--dir DIR]
"""

from __future__ import annotations

import argparse
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


def timed(call: Callable[[], Any]) -> float:
    call()  # warm-up
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def api_times(project: Path, paths: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Each path's median answer time and its size in bytes."""
    from starlette.testclient import TestClient

    from assets_core import load_project
    from assets_core.web.app import build_app

    out = {}
    with load_project(project, read_only=True) as session:
        client = TestClient(build_app(session), base_url="http://127.0.0.1")
        for label, path in paths.items():
            size = 0

            def call(path: str = path) -> None:
                nonlocal size
                r = client.get(path)
                assert r.status_code == 200, r.text
                size = len(r.content)

            out[label] = (timed(call), size)
    return out


def browser_times(wide: Path, hourly: Path) -> dict[str, float] | None:
    """Seconds until the graph page answers, and until the hourly matrix is drawn."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    out: dict[str, float] = {}
    lumbung = str(Path(sys.executable).parent / "lumbung")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for label, project in (("graph", wide), ("matrix", hourly)):
            env = {**os.environ, "LUMBUNG_NOW": HOURLY_AS_OF}
            proc = subprocess.Popen(
                [lumbung, "--project", str(project), "ui", "--port", "0"],
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
                for _ in range(3):
                    target = url if label == "graph" else url + "#/asset/clicks"
                    t = time.perf_counter()
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
                    page.goto("about:blank")
                out[label] = statistics.median(times)
                if drawn:
                    out["drawn"] = statistics.median(drawn)
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to build the projects (default: a temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = (args.dir or Path(tmp)).resolve()
        base.mkdir(parents=True, exist_ok=True)
        wide = build_wide(base)
        hourly = build_hourly(base)
        from assets_core import load_project

        with load_project(wide, read_only=True) as session:
            run_id = session.state.runs(limit=1)[0].run_id
        print(f"API, median of {REPEATS} after a warm-up (in process, JSON included):")
        found = api_times(
            wide,
            {
                "graph  /api/graph?statuses=0 (5,000)": "/api/graph?statuses=0",
                "graph  /api/graph (5,000 assets)": "/api/graph",
                "graph  /api/status": "/api/status",
                "graph  /api/select?select=+a002500": "/api/select?select=%2Ba002500",
                "asset  /api/asset?key=a002500": "/api/asset?key=a002500",
                "runs   /api/runs": "/api/runs",
                "runs   /api/run (5,000 steps)": f"/api/run?id={run_id}",
            },
        )
        os.environ["LUMBUNG_NOW"] = HOURLY_AS_OF
        found |= api_times(
            hourly,
            {
                "matrix /api/asset/partitions (35,064)": "/api/asset/partitions?key=clicks",
                "matrix /api/asset?key=clicks": "/api/asset?key=clicks",
            },
        )
        for label, (seconds, size) in found.items():
            print(f"  {label:<40} {seconds * 1000:>8.1f} ms  {size / 1024:>8.0f} KiB")
        seen = browser_times(wide, hourly)
        if seen is None:
            print("browser: skipped (no chromium or playwright)")
        else:
            print("browser (chromium, a real `lumbung ui`), median of 3:")
            print(f"  graph of 5,000 assets drawn and answering   {seen['drawn']:>8.2f} s")
            print(f"  ... and its statuses shown                  {seen['graph']:>8.2f} s")
            print(f"  asset page with 35,064-partition matrix     {seen['matrix']:>8.2f} s")
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
