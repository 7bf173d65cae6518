"""``lumbung ui`` as a user starts it: the line with its URL, and one error line with exit 2
for a port in use or an address this machine lacks. (What it serves: tests/assets_core/web.)"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import LUMBUNG
from tests.assets_core.web.conftest import write_project
from tests.assets_core.web.server import serving


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("ui") / "proj")


def run(*args: str) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run([*LUMBUNG, *args], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_a_port_in_use_is_one_line_and_exit_2(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = run("--project", str(project), "ui", "--port", str(port))
    assert (code, out) == (2, "")
    assert err == f"error: port {port} on 127.0.0.1 is in use; choose another with --port.\n"


def test_an_unknown_host_is_one_line_and_exit_2(project: Path) -> None:
    code, _, err = run("--project", str(project), "ui", "--host", "no-such-host.invalid")
    assert code == 2
    assert (
        err == "error: --host no-such-host.invalid: no such address; use 127.0.0.1 (the default).\n"
    )


def test_read_only_says_so_and_serves(project: Path) -> None:
    with serving(project, "--read-only") as url, urllib.request.urlopen(url + "api/meta") as r:
        assert b'"read_only":true' in r.read()
