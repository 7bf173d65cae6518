"""How the ``lumbung`` process ends (``assets_core.cli.leave``): exit hooks run, buffered
output is flushed, the status is the command's; and the ordinary exit when asset code ran or
another thread is alive. Each case runs in a fresh interpreter, as the console script does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.assets_core.cli.conftest import _SCRIPT as SCRIPT_PATH

SCRIPT = r"""
import atexit, sys, threading
from assets_core.cli import keep_teardown, leave

class Finalized:
    def __del__(self):
        sys.stdout.write("finalizer ran\n")

atexit.register(lambda: sys.stdout.write("exit hook ran\n"))
kept = Finalized()
sys.stdout.write("buffered output\n")  # no flush: leave() must flush it
mode = sys.argv[1]
if mode == "keep":
    keep_teardown()
if mode == "ctrl-c":  # pressed as the process ends: inside an exit hook
    import os, signal
    atexit.register(lambda: sys.stdout.write("after the press\n"))
    atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))
if mode == "thread":
    gate = threading.Event()
    threading.Thread(target=gate.wait, args=(0.5,)).start()
leave({"int": 3, "none": None, "text": "error: bad", "keep": 4, "thread": 5, "ctrl-c": 0}[mode])
"""


def end(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(("mode", "status"), [("int", 3), ("none", 0), ("text", 1)])
def test_a_fast_exit_runs_exit_hooks_flushes_and_keeps_the_status(mode: str, status: int) -> None:
    proc = end(mode)
    assert proc.returncode == status
    assert proc.stdout == "buffered output\nexit hook ran\n"  # no teardown: no finalizer
    assert proc.stderr == ("error: bad\n" if mode == "text" else "")


@pytest.mark.parametrize(("mode", "status"), [("keep", 4), ("thread", 5)])
def test_the_ordinary_exit_when_asset_code_ran_or_a_thread_is_alive(mode: str, status: int) -> None:
    proc = end(mode)
    assert proc.returncode == status
    assert "buffered output\n" in proc.stdout and "exit hook ran\n" in proc.stdout
    assert "finalizer ran\n" in proc.stdout


def test_the_console_script_and_python_m_exit_with_the_commands_status() -> None:
    for argv in ([str(SCRIPT_PATH)], [sys.executable, "-m", "assets_core.cli"]):
        ok = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and ok.stdout.startswith("lumbung ")
        bad = subprocess.run([*argv, "nope"], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.startswith("error: ")


def test_a_ctrl_c_while_the_process_ends_changes_nothing() -> None:
    proc = end("ctrl-c")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "buffered output\nafter the press\nexit hook ran\n"
    assert proc.stderr == ""
