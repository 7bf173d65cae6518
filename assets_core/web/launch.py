"""Runs the UI starts: each a ``lumbung materialize --json`` subprocess of the project.

A subprocess, not a thread of the UI's process: a run captures its steps' stdout, stderr,
logging and warnings process-wide (``execution/capture.py``) and handles Ctrl-C and SIGTERM
for its process (``execution/interrupts.py``), so it must own a process; user code that
crashes or hangs never takes the UI down; the UI's session stays read-only; and a run the UI
starts is exactly the run the command line would make (same locks, records and exit codes).
The run's id is found in the state store by the subprocess's pid (``RunRecord.pid``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: lines of a launch's stderr kept (its error, when it fails before running)
STDERR_KEPT = 40


@dataclass
class Launch:
    """One ``lumbung materialize`` started by the UI."""

    id: str
    args: list[str]
    process: subprocess.Popen[str]
    started_at: float = field(default_factory=time.time)
    run_id: str | None = None
    exit_code: int | None = None
    result: dict[str, Any] | None = None
    stderr: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.exit_code is not None

    def to_dict(self) -> dict[str, Any]:
        error = next((x for x in reversed(self.stderr) if x.startswith("error:")), None)
        return {
            "id": self.id,
            "pid": self.process.pid,
            "args": self.args,
            "status": "finished" if self.done else "running",
            "exit_code": self.exit_code,
            "run_id": self.run_id,
            "result": self.result,
            "error": error,
        }


class Launcher:
    """Starts runs of the project ``project`` (a ``--project`` value) and keeps them."""

    def __init__(self, project: str, cwd: str | None = None) -> None:
        self.project = project
        self.cwd = cwd or str(Path.cwd())
        self.launches: dict[str, Launch] = {}
        self.lock = threading.Lock()

    def start(
        self,
        select: str | None = None,
        exclude: str | None = None,
        partitions: str | None = None,
        force: bool = False,
    ) -> Launch:
        args = ["materialize", "--json"]
        if select:
            args += [f"--select={select}"]
        if exclude:
            args += [f"--exclude={exclude}"]
        if partitions:
            args += [f"--partitions={partitions}"]
        if force:
            args.append("--force")
        command = [sys.executable, "-m", "assets_core.cli", "--project", self.project, *args]
        process = subprocess.Popen(
            command,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        launch = Launch(uuid.uuid4().hex[:12], args, process)
        with self.lock:
            self.launches[launch.id] = launch
        threading.Thread(target=self._follow, args=(launch,), daemon=True).start()
        return launch

    def _follow(self, launch: Launch) -> None:
        out, err = launch.process.communicate()
        launch.stderr = err.splitlines()[-STDERR_KEPT:]
        try:
            found = json.loads(out) if out.strip() else None
        except ValueError:
            found = None
        launch.result = found if isinstance(found, dict) else None
        if launch.result and isinstance(launch.result.get("run_id"), str):
            launch.run_id = launch.result["run_id"]
        launch.exit_code = launch.process.returncode

    def get(self, launch_id: str) -> Launch | None:
        with self.lock:
            return self.launches.get(launch_id)

    def find_runs(self, runs_by_pid: Mapping[int, str]) -> None:
        """Give each running launch its run's id, once its process has recorded the run."""
        with self.lock:
            for launch in self.launches.values():
                if launch.run_id is None:
                    launch.run_id = runs_by_pid.get(launch.process.pid)

    def close(self) -> None:
        """Stop the runs still going (SIGTERM: they end cleanly, finished steps recorded)."""
        with self.lock:
            running = [x for x in self.launches.values() if x.process.poll() is None]
        for launch in running:
            launch.process.terminate()
        for launch in running:
            try:
                launch.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                launch.process.kill()
