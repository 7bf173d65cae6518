"""What an idle ``lumbung serve`` costs, and how soon after a tick its run starts.

Writes a project of a few small assets with 100 schedules (none due in the window, so the
server only sleeps between them) and 10 built-in sensors looking every 60 s, runs ``lumbung
serve`` on the system clock, and reports:

- **idle CPU**: the server's CPU time (user + system, from /proc) over ``--window`` seconds
  after start-up, as a share of one core;
- **tick-to-launch latency**: with one more schedule every minute, how long after each tick's
  instant the server printed its ``launched`` line (after the run's process was started), for
  ``--ticks`` ticks.

    python bench/serve.py [--window 120] [--ticks 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ASSETS = """\
import pandas as pd
from assets_core import asset, schedule, sensor, source

raw = source("raw", path="data/raw.csv")


@asset
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw


@asset
def report(clean: pd.DataFrame) -> pd.DataFrame:
    return clean


for i in range(100):
    schedule(f"s{i:03d}", cron=f"{i % 60} {3 + i % 3} * * *", select="report")
for i in range(10):
    sensor(f"watch{i}", select="+report", every="60s")
"""


def _project(root: Path, minutely: bool) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("a,b\n1,2\n")
    (root / "lumbung.toml").write_text("")
    extra = '\nschedule("minutely", cron="* * * * *", select="report")\n' if minutely else ""
    (root / "assets.py").write_text(ASSETS + extra)
    return root


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _serve(root: Path) -> tuple[subprocess.Popen[str], list[tuple[float, str]]]:
    lumbung = Path(sys.executable).parent / "lumbung"
    process = subprocess.Popen(
        [str(lumbung), "serve", "--grace", "30"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.time(), line.rstrip("\n")))

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def idle_cpu(window: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = _project(Path(tmp) / "p", minutely=False)
        process, lines = _serve(root)
        while not any("serving" in line for _, line in lines):
            time.sleep(0.1)
        time.sleep(5)  # the sensors' first looks (each plans once at start)
        before, start = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(window)
        used, took = _cpu_seconds(process.pid) - before, time.monotonic() - start
        process.terminate()
        process.wait()
        return used, took


def latencies(ticks: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = _project(Path(tmp) / "p", minutely=True)
        process, lines = _serve(root)
        found: list[float] = []
        while len(found) < ticks:
            time.sleep(0.2)
            for at, line in lines:
                if "schedule minutely tick" in line and ": launched" in line:
                    tick = line.split(" tick ", 1)[1].split(":", 3)
                    instant = datetime.fromisoformat(":".join(tick[:3]).replace("Z", "+00:00"))
                    delay = at - instant.astimezone(timezone.utc).timestamp()
                    if delay not in found:
                        found.append(delay)
            found = sorted(set(found))
        process.terminate()
        process.wait()
        return found[:ticks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--ticks", type=int, default=2)
    args = parser.parse_args()
    used, took = idle_cpu(args.window)
    print(
        f"idle CPU, 100 schedules and 10 sensors: {used * 1000:.0f} ms in {took:.0f} s, "
        f"{used / took * 100:.3f}% of one core"
    )
    for delay in latencies(args.ticks):
        print(f"tick-to-launch latency: {delay * 1000:.0f} ms")


if __name__ == "__main__":
    main()
