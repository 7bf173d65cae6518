"""Shared fixtures for the CLI tests: ``lumbung`` run in another process, the way a user runs
it, in pristine copies of example_project (``tests.conftest.copy_example``).

Starting ``lumbung`` on the example costs about a second and a half, nearly all of it importing
the project (pandas, DuckDB). So read-only checks share one materialized copy for the whole
folder (``built``), and ``run_many`` runs a module's read-only invocations in a few worker
processes: each calls the console script's entry point (``assets_core.cli.main``) once per
invocation with its own argv, working folder, stdin (/dev/null), stdout and stderr, and
records the exit code, so pandas is imported once per worker instead of once per invocation.
``run`` (and every ``run_many`` job when ``LUMBUNG_CLI_ISOLATED=1``) starts the installed
``lumbung`` script itself, one process per invocation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# the CLI tests import it from here
from tests.conftest import copy_example as copy_example

_SCRIPT = Path(sys.executable).parent / "lumbung"
#: The installed console script when it sits beside this interpreter, else ``-m``.
LUMBUNG: list[str] = (
    [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "assets_core.cli"]
)
#: Keys of the example in dependency order (ties broken by key), sources first.
EXAMPLE_KEYS = [
    "raw_customers",
    "raw_order_items",
    "raw_orders",
    "raw_payments",
    "raw_products",
    "stg_customers",
    "stg_order_items",
    "stg_orders",
    "stg_payments",
    "payment_methods",
    "stg_products",
    "order_items",
    "orders",
    "customers",
    "product_sales",
    "revenue_by_day",
    "shop_report",
]
EXAMPLE_ASSETS = EXAMPLE_KEYS[5:]


@dataclass(frozen=True)
class Result:
    """One finished ``lumbung`` run."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.pop("FORCE_COLOR", None)
    env.update(extra or {})
    return env


def run(
    args: Sequence[str],
    cwd: Path,
    stdin: int | None = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run ``lumbung ARGS`` in ``cwd`` with no terminal (stdin from /dev/null)."""
    proc = subprocess.run(
        [*LUMBUNG, *args],
        cwd=cwd,
        stdin=stdin,
        capture_output=True,
        text=True,
        env=_env(env),
        timeout=120,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


#: Runs invocations one after another in this process, as the console script would run each;
#: an exception escaping ``main`` is printed and gives exit 1, as the script would, so one
#: broken invocation fails its own test instead of the whole batch.
_WORKER = r"""
import contextlib, io, json, os, sys, traceback
from assets_core.cli import main

results = []
for args, cwd in json.load(sys.stdin):
    os.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["lumbung", *args]
    code = 0
    with open(os.devnull) as stdin:
        sys.stdin = stdin
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                traceback.print_exc()
                code = 1
    results.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""
ISOLATED = os.environ.get("LUMBUNG_CLI_ISOLATED") == "1"
JOBS_PER_WORKER = 5


def _run_in_worker(jobs: list[tuple[Sequence[str], Path]]) -> list[Result]:
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER],
        input=json.dumps([[list(args), str(cwd)] for args, cwd in jobs]),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [Result(*item) for item in json.loads(proc.stdout)]


def run_sequence(jobs: Sequence[tuple[Sequence[str], Path]]) -> list[Result]:
    """Run invocations one after another, in order (a later one sees what an earlier one
    wrote): all in one worker process, or each in its own with ``LUMBUNG_CLI_ISOLATED=1``."""
    if ISOLATED:
        return [run(args, cwd) for args, cwd in jobs]
    return _run_in_worker(list(jobs))


def run_many(jobs: Mapping[str, tuple[Sequence[str], Path]]) -> dict[str, Result]:
    """Run several independent ``lumbung`` invocations (each reads only, or works in a folder
    of its own): name -> (args, cwd).

    They run in worker processes (one per CPU, at most 4, each given at least
    ``JOBS_PER_WORKER`` jobs: starting one costs several invocations), or each in its own
    ``lumbung`` process with ``LUMBUNG_CLI_ISOLATED=1``."""
    names = list(jobs)
    n = max(1, min(4, os.cpu_count() or 1, len(names) // JOBS_PER_WORKER))
    with ThreadPoolExecutor(n) as pool:
        if ISOLATED:
            futures = [pool.submit(run, *jobs[name]) for name in names]
            return {name: f.result() for name, f in zip(names, futures, strict=True)}
        chunks = [names[i::n] for i in range(n)]
        done = pool.map(lambda chunk: _run_in_worker([jobs[x] for x in chunk]), chunks)
        return {
            name: res
            for chunk, results in zip(chunks, done, strict=True)
            for name, res in zip(chunk, results, strict=True)
        }


def python_materialize(project: Path, select: str | None = None) -> str:
    """Materialize through the Python API in a fresh interpreter; returns its summary."""
    code = (
        "import sys\n"
        "from assets_core import load_project\n"
        "d = load_project(sys.argv[1])\n"
        "r = d.materialize(sys.argv[2] or None)\n"
        "d.close()\n"
        "print(r.summary())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(project), select or ""],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in a file, moving its mtime on as a real edit would."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A materialized copy of the example, shared by every test that only reads it."""
    project = copy_example(tmp_path_factory.mktemp("built") / "example_project")
    assert python_materialize(project) == "12 materialized, 0 up to date, 0 failed, 0 skipped"
    return project


@pytest.fixture(scope="session")
def unbuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example that was never materialized (read-only tests only)."""
    return copy_example(tmp_path_factory.mktemp("unbuilt") / "example_project")


@pytest.fixture
def lumbung() -> Callable[..., Result]:
    """``lumbung(*args, cwd=...)``: run the CLI once."""

    def call(*args: str, cwd: Path, stdin: int | None = subprocess.DEVNULL) -> Result:
        return run(args, cwd, stdin)

    return call
