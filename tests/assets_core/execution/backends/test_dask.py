"""The dask backend (``assets_core.execution.backends.dask``) on real clusters of local
worker processes (a `dask scheduler` and two `dask worker` processes; the LocalCluster a run
starts of its own runs in ``tests/io_managers/test_parquet_remote.py``), driven by the
``lumbung`` command in a subprocess.

What is pinned: steps run in the cluster's worker processes and store what the threads backend
stores (the same data versions); what they print comes back to the run; the executor and the
scheduler's address can come from the project config; a worker that compiled other bytes than
the client refuses the step, naming the asset and both code versions; a worker killed
mid-step makes the step fail cleanly (nothing stored, the next run builds exactly it), or with
a retry left, run again on another worker; without dask installed, one line says how to install
it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.assets_core.cli.conftest import LUMBUNG, copy_example, run

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@dataclass(frozen=True)
class Cluster:
    address: str
    client: Any


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1 for the module's runs,
    started as a user would. Like the cluster a run starts, it lets no task run again
    silently after its worker died (the run's retries decide)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    folder = tmp_path_factory.mktemp("dask")
    spec = folder / "scheduler.json"
    scheduler = [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0"]
    scheduler += ["--dashboard-address", ":0", "--scheduler-file", str(spec)]
    started = [
        subprocess.Popen(
            scheduler,
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not spec.exists() or not spec.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(spec.read_text())["address"]
        for _ in range(2):
            worker = [str(bin_dir / "dask"), "worker", address, "--nthreads", "1"]
            worker += ["--host", "127.0.0.1", "--dashboard-address", ":0"]
            started.append(
                subprocess.Popen(
                    worker,
                    env=env,
                    cwd=folder,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        client = distributed.Client(address, set_as_default=False)
        try:
            client.wait_for_workers(2, timeout=60)
            yield Cluster(address, client)
        finally:
            client.close()
    finally:
        for proc in reversed(started):  # each in its own session: the worker's nanny too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _worker_pids(client: Any) -> set[int]:
    return set(client.run(os.getpid).values())


ASSETS = """
import os
import sys
import pandas as pd
from assets_core import asset


@asset
def a() -> pd.DataFrame:
    print("a says hello", file=sys.stderr)
    return pd.DataFrame({"pid": [os.getpid()], "x": [1]})


@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a.assign(pid=os.getpid(), x=a.x + 1)
"""


def _project(root: Path, assets: str = ASSETS, toml: str = 'modules = ["assets"]\n') -> Path:
    root.mkdir()
    (root / "lumbung.toml").write_text(toml)
    (root / "assets.py").write_text(textwrap.dedent(assets).lstrip())
    return root


def _rows(root: Path, key: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(
        root / ".lumbung" / "parquet" / f"{key}.parquet"
    ).to_pylist()
    return rows


def _data_versions(root: Path) -> dict[str, str | None]:
    from assets_core import load_project

    session = load_project(root)
    try:
        return {
            str(step): state.last.data_version
            for step, state in session.state.latest().items()
            if state.last is not None
        }
    finally:
        session.close()


def test_the_example_runs_on_a_cluster_and_stores_what_threads_store(
    tmp_path: Path, cluster: Cluster
) -> None:
    on_threads = copy_example(tmp_path / "threads")
    on_dask = copy_example(tmp_path / "dask")
    assert run(["materialize", "-e", "threads"], on_threads).code == 0
    # (a run with no address, which starts a cluster of its own: test_parquet_remote.py)
    done = run(["materialize", "-e", "dask", "--address", cluster.address, "--json"], on_dask)
    assert done.code == 0, done.err
    assert '"failed": []' in done.out
    versions = _data_versions(on_dask)
    assert versions == _data_versions(on_threads)
    assert len(versions) == 12


def test_steps_run_on_the_configured_cluster_and_what_they_say_comes_back(
    tmp_path: Path, cluster: Cluster
) -> None:
    address = cluster.address
    toml = f'modules = ["assets"]\nexecutor = "dask"\ndask_address = "{address}"\n'
    root = _project(tmp_path / "p", toml=toml)
    done = run(["materialize"], root)
    assert done.code == 0, done.err
    assert "2 materialized" in done.err + done.out
    assert "a says hello" in done.err
    workers = _worker_pids(cluster.client)
    assert _rows(root, "a")[0]["pid"] in workers
    assert _rows(root, "b")[0] == {"pid": _rows(root, "b")[0]["pid"], "x": 2}
    assert _rows(root, "b")[0]["pid"] in workers
    again = run(["materialize", "--json"], root)
    assert again.code == 0
    assert '"materialized": []' in again.out


def test_an_address_is_only_for_the_dask_executor(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    done = run(["materialize", "-e", "threads", "--address", "tcp://127.0.0.1:1"], root)
    assert done.code == 2
    assert done.err_lines == [
        "error: an address is for the dask executor, not 'threads'; leave it out, or use "
        "--executor dask."
    ]


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    args = ["materialize", "-e", "dask", "--address", "tcp://127.0.0.1:9"]
    # Dask's own setting of how long to try connecting, from its environment variable
    done = run(args, root, env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert done.code == 2, done.err
    assert len(done.err_lines) == 1
    assert done.err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 (")
    assert done.err.rstrip().endswith(
        "start one with `dask scheduler`, or leave out the address to start a local cluster."
    )


def test_without_dask_installed_the_executor_says_how_to_install_it(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    # a real interpreter in which `import distributed` fails, as where it is not installed
    blocked = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None; "
        "sys.argv = ['lumbung', 'materialize', '-e', 'dask']; "
        "from assets_core.cli import entry; entry()"
    )
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", blocked], cwd=root, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: the dask executor needs the dask and distributed packages; install them "
        "with: pip install 'lumbung[dask]'"
    ]
    assert not (root / ".lumbung" / "parquet").exists()


EDITING = """
import sys
import pandas as pd
from pathlib import Path
from assets_core import asset


@asset(io_manager="duckdb")
def a_first() -> pd.DataFrame:
    # runs on the client (DuckDB steps do) before b: the worker then imports other bytes
    # than the client compiled
    other = Path(__file__).with_name("other.py")
    other.write_text(other.read_text().replace("[1]", "[2]"))
    print("edited other.py", file=sys.stderr)
    return pd.DataFrame({"x": [0]})
"""

OTHER = """
import pandas as pd
from assets_core import asset


@asset
def b() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})
"""


def test_a_worker_with_other_code_refuses_the_step_naming_both_versions(
    tmp_path: Path, cluster: Cluster
) -> None:
    root = _project(tmp_path / "p", EDITING, 'modules = ["assets", "other"]\n')
    (root / "other.py").write_text(textwrap.dedent(OTHER).lstrip())
    address = cluster.address
    args = ["materialize", "-e", "dask", "-w", "1", "--address", address]
    done = run(args, root)
    assert done.code == 1, done.err
    assert "a_first | edited other.py" in done.err_lines  # said on the client, routed
    line = next(x for x in done.err_lines if "code version" in x)
    assert line.startswith("b failed: the Dask worker's code version of it is ")
    assert line.endswith("nothing was run. Give the workers the client's project files.")
    mine, theirs = line.split(" is ")[1].split(",")[0], line.split("client's is ")[1].split(";")[0]
    assert mine != theirs
    assert not (root / ".lumbung" / "parquet" / "b.parquet").exists()
    # the client now compiles the edited file too: the worker loads it again and runs b
    again = run(args, root)
    assert again.code == 0, again.err
    assert _rows(root, "b") == [{"x": 2}]


SLOW = """
import os
import time
from pathlib import Path
import pandas as pd
from assets_core import asset


@asset(retries=RETRIES)
def slow() -> pd.DataFrame:
    marker = Path(__file__).with_name("pid")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(60)
    return pd.DataFrame({"pid": [os.getpid()]})


@asset
def other() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})
"""


def _kill_the_writer(root: Path, proc: subprocess.Popen[str]) -> int:
    marker = root / "pid"
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.05)
    pid = int(marker.read_text())
    os.kill(pid, signal.SIGKILL)
    return pid


def _start(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [*LUMBUNG, "materialize", "-e", "dask", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_killed_mid_step_fails_the_step_cleanly(tmp_path: Path, cluster: Cluster) -> None:
    root = _project(tmp_path / "p", SLOW.replace("RETRIES", "0"))
    proc = _start(root, "--address", cluster.address)
    _kill_the_writer(root, proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "slow failed: the Dask worker running it died; nothing was stored." in err
    assert not (root / ".lumbung" / "parquet" / "slow.parquet").exists()
    assert _rows(root, "other") == [{"x": 1}]
    staged = root / ".lumbung" / "parquet" / ".tmp"
    assert not [p for p in staged.rglob("*") if p.is_file()]  # no temporary file left
    again = run(["materialize", "-e", "dask", "--address", cluster.address], root)
    assert again.code == 0, again.err
    assert "1 materialized" in again.err + again.out
    assert (root / ".lumbung" / "parquet" / "slow.parquet").exists()


def test_a_worker_killed_mid_step_with_a_retry_left_runs_it_on_another(
    tmp_path: Path, cluster: Cluster
) -> None:
    root = _project(tmp_path / "p", SLOW.replace("RETRIES", "1"))
    proc = _start(root, "--address", cluster.address)
    killed = _kill_the_writer(root, proc)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "retrying      slow  (attempt 1 failed: slow: the Dask worker running it died" in out
    assert _rows(root, "slow")[0]["pid"] != killed


AHEAD = """
import time
from pathlib import Path
import pandas as pd
from assets_core import asset

MARK = Path(__file__).with_name("b_quick-ran")


@asset
def a_slow() -> pd.DataFrame:
    deadline = time.monotonic() + 30
    while not MARK.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("b_quick was not handed to the cluster while a_slow ran")
        time.sleep(0.05)
    return pd.DataFrame({"x": [1]})


@asset
def b_quick() -> pd.DataFrame:
    MARK.write_text("")
    return pd.DataFrame({"x": [2]})
"""


def test_the_cluster_gets_the_next_step_while_the_workers_run_theirs(
    tmp_path: Path, cluster: Cluster
) -> None:
    # one worker's worth of steps, and one more handed ahead: the second step runs (on the
    # cluster's other worker) while the first is still running
    root = _project(tmp_path / "p", AHEAD)
    done = run(["materialize", "-e", "dask", "--address", cluster.address, "-w", "1"], root)
    assert done.code == 0, done.err
    assert "2 materialized" in done.err + done.out


def test_ctrl_c_stops_the_run_as_with_threads(tmp_path: Path, cluster: Cluster) -> None:
    root = _project(tmp_path / "p", SLOW.replace("RETRIES", "0").replace("60", "5"))
    proc = _start(root, "--address", cluster.address)
    marker = root / "pid"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1].startswith("interrupted: ")
    assert "Traceback" not in err
    assert not (root / ".lumbung" / "parquet" / "slow.parquet").exists()


def _generated(root: Path, n: int) -> Path:
    """A generated ``wide`` project of ``n`` trivial assets (``bench/generate.py``)."""
    import importlib.util

    bench = Path(__file__).resolve().parents[4] / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_generate", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(root, "wide", n)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("n", [200, 1000])
def test_a_worker_killed_during_a_big_run_leaves_exactly_the_rest_to_do(
    tmp_path: Path, cluster: Cluster, n: int
) -> None:
    """The run completes, or fails cleanly; the next one finishes exactly what is missing;
    the outputs' data versions are those of the threads backend."""
    on_threads = _generated(tmp_path / "threads", n)
    on_dask = _generated(tmp_path / "dask", n)
    assert run(["materialize"], on_threads).code == 0
    proc = _start(on_dask, "--address", cluster.address, "--json")
    time.sleep(3)
    victim = next(iter(_worker_pids(cluster.client)))
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1), err
    first = json.loads(out)
    assert "Traceback" not in err
    missing = sorted(first["failed"] + first["skipped"])
    assert all("the Dask worker running it died" in e for e in first["errors"].values())
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    again = run(["materialize", "--json", "-e", "dask", "--address", cluster.address], on_dask)
    assert again.code == 0, again.err
    assert sorted(json.loads(again.out)["materialized"]) == missing
    assert _data_versions(on_dask) == _data_versions(on_threads)
