"""``lumbung serve`` as a user runs it: a subprocess on a project with a schedule every minute,
under a clock that starts at a given instant and runs faster (``LUMBUNG_CLOCK``)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import LUMBUNG, _env, run

ASSETS = """\
import os, time
import pandas as pd
from assets_core import asset, schedule


@asset
def slow() -> pd.DataFrame:
    time.sleep(float(os.environ.get("SLOW_S", "3")))
    return pd.DataFrame({"x": [1]})


@asset
def after(slow: pd.DataFrame) -> pd.DataFrame:
    return slow


schedule("minutely", cron="* * * * *", select="slow+", catch_up="all")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "lumbung.toml").write_text("")
    (root / "assets.py").write_text(ASSETS)
    return root


class Serve:
    """A ``lumbung serve`` process and the lines it printed so far."""

    def __init__(self, root: Path, clock: str, *args: str, slow: float = 3) -> None:
        env = _env({"LUMBUNG_CLOCK": clock, "SLOW_S": str(slow)})
        self.process = subprocess.Popen(
            [*LUMBUNG, "serve", *args],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def read(self) -> list[str]:
        return list(self.lines)

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.read() if needle in line]
            if found:
                return found[0]
            assert self.process.poll() is None, (self.lines, self.process.stderr.read())  # type: ignore[union-attr]
            time.sleep(0.05)
        raise AssertionError(f"no line with {needle!r} in {self.lines}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for s in started:
        if s.process.poll() is None:
            s.process.kill()
            s.process.wait()


def _ticks(root: Path) -> list[tuple[str, str, str | None]]:
    con = sqlite3.connect(root / ".lumbung" / "state.db")
    rows = con.execute("SELECT tick, outcome, run_id FROM ticks ORDER BY tick").fetchall()
    con.close()
    return rows


def _running_run(root: Path) -> int | None:
    con = sqlite3.connect(root / ".lumbung" / "state.db")
    row = con.execute("SELECT pid FROM runs WHERE status = 'running'").fetchone()
    con.close()
    return None if row is None else int(row[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_sigkill_mid_run_then_restart_runs_each_tick_once_and_the_assets_again(
    project: Path, serves: list[Serve]
) -> None:
    first = Serve(project, "2024-01-01T00:00:55Z*10", slow=8)
    serves.append(first)
    first.wait_for("tick 2024-01-01T00:01:00Z: launched")

    second = run(["serve"], project, env={"LUMBUNG_CLOCK": "2024-01-01T00:01Z"})
    assert second.code == 1
    assert second.err_lines == [
        f"error: another `lumbung serve` already runs on this project (it holds "
        f"{project / '.lumbung' / 'locks' / 'serve.lock'}); stop it first, or give this one "
        "another project."
    ]

    deadline = time.monotonic() + 60
    while (pid := _running_run(project)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid is not None

    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the run outlived its server"
    assert _ticks(project) == [("2024-01-01T00:01:00Z", "launched", None)]

    again = Serve(project, "2024-01-01T00:03:30Z*10", slow=1)
    serves.append(again)
    again.wait_for("tick 2024-01-01T00:01:00Z: interrupted (left running by a previous server)")
    again.wait_for("tick 2024-01-01T00:02:00Z: success")
    assert again.stop() == 0, again.lines

    ticks = _ticks(project)
    names = [t for t, _, _ in ticks]
    assert len(names) == len(set(names))
    first_at = datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)
    expected = [
        (first_at + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(len(names))
    ]
    assert names == expected  # every minute once: none lost, none twice
    outcomes = {t: o for t, o, _ in ticks}
    assert outcomes["2024-01-01T00:01:00Z"] == "interrupted"
    assert outcomes["2024-01-01T00:02:00Z"] == "success"
    # the interrupted run's assets were planned again and built by the caught-up tick
    caught_up = next(r for t, _, r in ticks if t == "2024-01-01T00:02:00Z")
    history = run(["history", "--json"], project)
    import json

    built = json.loads(history.out)["materializations"]
    assert {m["key"] for m in built if m["run_id"] == caught_up} == {"slow", "after"}
    assert run(["plan"], project, env={"SLOW_S": "0"}).out.startswith("Nothing to do")


@pytest.mark.slow  # SIGTERM during a run is covered in CI by the grace-period test below
def test_sigterm_waits_for_the_running_run_and_exits_0(project: Path, serves: list[Serve]) -> None:
    serve = Serve(project, "2024-01-01T00:00:59Z*1", "--grace", "60", slow=2)
    serves.append(serve)
    serve.wait_for("tick 2024-01-01T00:01:00Z: launched")
    assert serve.stop() == 0
    assert any("tick 2024-01-01T00:01:00Z: success" in line for line in serve.lines)
    assert _ticks(project)[0][1] == "success"


def test_serve_ui_serves_the_web_ui_beside_the_scheduler_and_sigterm_stops_both(
    project: Path, serves: list[Serve]
) -> None:
    serve = Serve(project, "2024-01-01T00:00:59Z*1", "--ui", "--port", "0", slow=0)
    serves.append(serve)
    url = serve.wait_for("Lumbung UI for p: http://127.0.0.1:").split(": ", 1)[1]
    serve.wait_for("tick 2024-01-01T00:01:00Z: success")
    with urllib.request.urlopen(url + "api/runs", timeout=10) as response:
        runs = json.load(response)["runs"]
    # the UI's own session reads the run the scheduler's thread launched
    assert [r["status"] for r in runs] == ["success"]
    # a page's live stream, open at the stop, ends with the server and does not hold it up
    stream = urllib.request.urlopen(url + "api/events", timeout=10)
    assert stream.readline() == b"event: hello\n"
    started = time.monotonic()
    assert serve.stop() == 0
    assert time.monotonic() - started < 5
    stream.close()
    assert serve.lines[-1].endswith(" stopped")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "api/runs", timeout=5)


def test_serve_ui_on_a_port_in_use_or_its_options_without_ui_are_one_line_and_exit_2(
    project: Path,
) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        result = run(["serve", "--ui", "--port", str(port)], project)
    finally:
        taken.close()
    assert result.code == 2
    assert result.err == f"error: port {port} on 127.0.0.1 is in use; choose another with --port.\n"
    alone = run(["serve", "--read-only"], project)
    assert (alone.code, alone.err) == (
        2,
        "error: --host, --port and --read-only go with --ui (the web UI); add --ui.\n",
    )


def test_sigterm_past_the_grace_period_stops_the_run_and_records_it_interrupted(
    project: Path, serves: list[Serve]
) -> None:
    serve = Serve(project, "2024-01-01T00:00:59Z*1", "--grace", "0.2", slow=30)
    serves.append(serve)
    serve.wait_for("tick 2024-01-01T00:01:00Z: launched")
    deadline = time.monotonic() + 60
    while _running_run(project) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serve.stop() == 0
    assert _ticks(project)[0][1] == "interrupted"
    assert _running_run(project) is None  # the run recorded its end
