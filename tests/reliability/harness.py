"""Shared tools of the reliability suites: a generated project on disk, the real ``lumbung``
script started as a user starts it, and the invariants a store must keep after any crash.

``generate`` writes a project of ``n`` assets (real modules in a package, ``lumbung.toml``):
each asset is a small pandas DataFrame computed deterministically from its inputs, some with
a wide fan-in, a few bigger ones so that writes take a moment, every other one stored by the
DuckDB IO manager and the rest in Parquet. ``salt`` changes every value (and every code
version), which turns a built store into an out-of-date one.

The invariant checks read the storage folder directly (pyarrow, duckdb, sqlite3), never
through Lumbung's own readers, so a bug there cannot hide itself:

- ``read_outputs``: every stored output reads, and its data version (recomputed with
  ``assets_core.storage.datahash``) is known; Parquet files also carry the version in their footer.
- ``stray_files``: files in the storage folder that are neither outputs nor state.
- ``check_state_db``: SQLite ``integrity_check`` is ``ok``, and the ``latest`` table agrees
  with the append-only ``materializations`` it summarizes.
- ``expected_not_done``: from the records and the stored outputs alone, the assets that are
  not done, which the planner must list, and the assets that are done, whose stored data must
  be exactly what their record says.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The installed console script beside this interpreter, else ``python -m``.
_SCRIPT = Path(sys.executable).parent / "lumbung"
LUMBUNG: list[str] = (
    [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "assets_core.cli"]
)
TIMEOUT = 300.0  # seconds any one ``lumbung`` may take on a loaded machine

ROWS = 48  # rows of an ordinary asset
BIG_ROWS = 12_000  # rows of a big asset (every BIG_EVERY-th), so some writes take a while
BIG_EVERY = 23
STATE_FILES = frozenset({"state.db", "state.db-wal", "state.db-shm", "state.db-journal"})
WAREHOUSE = "warehouse.duckdb"

_HELPERS = '''
"""The one helper every generated asset calls: a deterministic frame from its inputs."""

import os
import time

import numpy as np
import pandas as pd

SALT = {salt}
ROWS = {rows}
BIG_ROWS = {big_rows}


def step(seed: int, *frames: pd.DataFrame, big: bool = False) -> pd.DataFrame:
    """``ROWS`` rows (``BIG_ROWS`` when ``big``) whose values depend on ``seed``, ``SALT``
    and the first ``ROWS`` values of every input. ``CRASH_ASSETS_PACE`` (seconds) slows
    every call down, so a run lasts long enough to be interrupted in its middle."""
    pace = float(os.environ.get("CRASH_ASSETS_PACE") or 0)
    if pace:
        time.sleep(pace)
    base = np.arange(ROWS, dtype="int64") * (seed + 1) + SALT * 7919
    for frame in frames:
        base = base + frame["v"].to_numpy()[:ROWS]
    v = base % 1_000_003
    n = BIG_ROWS if big else ROWS
    reps = -(-n // ROWS)
    v = np.tile(v, reps)[:n]
    return pd.DataFrame(
        {{
            "k": np.arange(n, dtype="int64"),
            "v": v,
            "x": v / 7.0,
            "s": pd.array(np.char.add(f"s{{seed}}-", (v % 97).astype(str)), dtype="str"),
        }}
    )
'''


@dataclass(frozen=True)
class Project:
    """A generated project on disk: its folder, its assets in dependency order, each one's
    upstream assets and IO manager."""

    root: Path
    package: str
    names: tuple[str, ...]
    upstream: Mapping[str, tuple[str, ...]]
    io: Mapping[str, str]

    @property
    def storage(self) -> Path:
        return self.root / ".lumbung"

    @property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.names}
        for name, ups in self.upstream.items():
            for u in ups:
                out[u].append(name)
        return out


def asset_name(i: int) -> str:
    return f"a{i:03d}"


def _edges(n: int, seed: int) -> list[list[int]]:
    """Each asset's upstream indices: a few roots, then 1-3 recent parents, and a wide fan-in
    (12-25 parents from anywhere before) every 20th asset and at the last one."""
    rng = random.Random(seed)
    ups: list[list[int]] = []
    for i in range(n):
        if i < 8:
            ups.append([])
        elif i % 20 == 19 or i == n - 1:
            ups.append(sorted(rng.sample(range(i), k=min(i, rng.randint(12, 25)))))
        else:
            lo = max(0, i - 40)
            ups.append(sorted(rng.sample(range(lo, i), k=rng.randint(1, 3))))
    return ups


def generate(
    root: Path,
    *,
    n: int = 200,
    salt: int = 1,
    seed: int = 11,
    package: str = "crash_assets",
    per_module: int = 50,
) -> Project:
    """Write a project of ``n`` assets into ``root`` (see the module docstring)."""
    ups = _edges(n, seed)
    names = [asset_name(i) for i in range(n)]
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""Generated assets."""\n')
    helpers = _HELPERS.format(salt=salt, rows=ROWS, big_rows=BIG_ROWS)
    (pkg / "helpers.py").write_text(helpers.lstrip("\n"))
    io: dict[str, str] = {}
    modules = []
    for m, start in enumerate(range(0, n, per_module)):
        lines = [
            '"""Generated assets."""',
            "",
            "import pandas as pd",
            "",
            "from assets_core import asset",
            f"from {package}.helpers import step",
        ]
        for i in range(start, min(n, start + per_module)):
            name = names[i]
            io[name] = "duckdb" if i % 2 == 0 else "parquet"
            params = ", ".join(f"{names[u]}: pd.DataFrame" for u in ups[i])
            args = "".join(f", {names[u]}" for u in ups[i])
            big = ", big=True" if i % BIG_EVERY == BIG_EVERY - 1 else ""
            deco = '@asset(io_manager="duckdb")' if io[name] == "duckdb" else "@asset"
            lines += ["", "", deco, f"def {name}({params}) -> pd.DataFrame:"]
            lines += [f"    return step({i}{args}{big})"]
        mod = f"m{m:02d}"
        (pkg / f"{mod}.py").write_text("\n".join(lines) + "\n")
        modules.append(f"{package}.{mod}")
    (root / "lumbung.toml").write_text(
        "modules = [" + ", ".join(f'"{m}"' for m in modules) + ']\nstorage = ".lumbung"\n'
    )
    return Project(
        root=root,
        package=package,
        names=tuple(names),
        upstream={names[i]: tuple(names[u] for u in ups[i]) for i in range(n)},
        io=io,
    )


def copy_project(project: Project, dest: Path, *, storage: bool = True) -> Project:
    """A copy of ``project`` at ``dest`` (with its storage folder unless ``storage`` is
    false)."""
    ignore = shutil.ignore_patterns("__pycache__", *(() if storage else (".lumbung",)))
    shutil.copytree(project.root, dest, ignore=ignore)
    return Project(dest, project.package, project.names, project.upstream, project.io)


def replace_storage(project: Project, source: Path | None) -> None:
    """Make ``project``'s storage a copy of ``source`` (or empty when ``None``)."""
    shutil.rmtree(project.storage, ignore_errors=True)
    if source is not None:
        shutil.copytree(source, project.storage)


# ---- running lumbung -----------------------------------------------------------------------


def lumbung_env(pace: float = 0.0) -> dict[str, str]:
    """The environment ``lumbung`` runs in: no colours, no bytecode, a wide terminal; each
    generated asset sleeping ``pace`` seconds."""
    env = dict(os.environ)
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env["CRASH_ASSETS_PACE"] = str(pace)
    env.pop("FORCE_COLOR", None)
    return env


def _default_sigint() -> None:
    # Ctrl-C is delivered as SIGINT; the child must not inherit it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(project: Project, *args: str) -> subprocess.Popen[str]:
    """Start ``lumbung ARGS`` in the project folder, as a user would (no terminal)."""
    return subprocess.Popen(
        [*LUMBUNG, *args],
        cwd=project.root,
        env=lumbung_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


@dataclass(frozen=True)
class Finished:
    """One finished ``lumbung``: exit code and what it printed."""

    code: int
    out: str
    err: str


def run(project: Project, *args: str) -> Finished:
    """Run ``lumbung ARGS`` to the end."""
    proc = start(project, *args)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Finished(proc.returncode, out, err)


def plan_keys(project: Project) -> set[str]:
    """The keys ``lumbung plan --json`` lists."""
    done = run(project, "plan", "--json")
    assert done.code == 0, done.err
    return {step["key"] for step in json.loads(done.out)["steps"]}


# ---- reading the storage folder directly ----------------------------------------------------


@dataclass
class Stored:
    """What the storage folder holds: each asset's recomputed data version, by name."""

    versions: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


_READ: dict[tuple[str, int, int, int], str] = {}  # Parquet files read, by path and stat


def read_outputs(project: Project) -> Stored:
    """Read every stored output (see the module docstring); unreadable ones are problems."""
    import duckdb
    import pyarrow.parquet as pq

    from assets_core.storage.datahash import hash_arrow

    found = Stored()
    folder = project.storage / "parquet"
    if folder.is_dir():
        for path in sorted(folder.rglob("*.parquet")):
            if path.name.startswith("."):
                continue
            name = path.relative_to(folder).with_suffix("").as_posix()
            st = path.stat()
            signature = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
            if signature in _READ:  # this very file was read and hashed before
                found.versions[name] = _READ[signature]
                continue
            try:
                table = pq.read_table(path)
                footer = (pq.ParquetFile(path).metadata.metadata or {}).get(b"lumbung.data_version")
            except Exception as exc:
                found.problems.append(f"{path}: unreadable: {exc}")
                continue
            version = hash_arrow(table)
            if footer is None or footer.decode() != version:
                found.problems.append(f"{path}: footer says {footer!r}, data is {version}")
            else:
                _READ[signature] = version
            found.versions[name] = version
    warehouse = project.storage / WAREHOUSE
    if warehouse.exists():
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except Exception as exc:
            found.problems.append(f"{warehouse}: does not open: {exc}")
            return found
        try:
            tables = con.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() "
                "WHERE database_name = current_database() ORDER BY 1, 2"
            ).fetchall()
            for schema, table, comment in tables:
                name = str(comment).removeprefix("lumbung:")
                try:
                    data = con.sql(f'SELECT * FROM "{schema}"."{table}"').to_arrow_table()
                except Exception as exc:
                    found.problems.append(f"{warehouse}::{schema}.{table}: unreadable: {exc}")
                    continue
                if name in found.versions:
                    found.problems.append(f"{name}: stored both in Parquet and in DuckDB")
                found.versions[name] = hash_arrow(data)
        finally:
            con.close()
    return found


def stray_files(project: Project) -> list[str]:
    """Files under the storage folder that are neither an output nor the state store nor the
    warehouse (temporary files of interrupted writes, for one)."""
    out = []
    storage = project.storage
    if not storage.is_dir():
        return out
    for path in sorted(storage.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(storage).as_posix()
        if rel in STATE_FILES or rel in {WAREHOUSE, WAREHOUSE + ".wal", WAREHOUSE + ".wait"}:
            continue
        if rel == "code_versions.cache":
            continue
        if rel.startswith("parquet/") and rel.endswith(".parquet") and path.name[0] != ".":
            continue
        out.append(rel)
    return out


@dataclass(frozen=True)
class Record:
    """The latest successful materialization of one asset, as the state file has it."""

    code_version: str
    data_version: str | None
    inputs: Mapping[str, str | None]


def read_state(project: Project) -> tuple[dict[str, Record], list[str]]:
    """Each asset's latest successful record, read straight from ``state.db``, and the
    problems found with the file (integrity, a ``latest`` table out of step)."""
    path = project.storage / "state.db"
    problems: list[str] = []
    if not path.exists():
        return {}, problems
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        check = con.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            problems.append(f"integrity_check: {check}")
        rows = con.execute(
            "SELECT id, key, code_version, data_version, inputs FROM materializations "
            "WHERE outcome = 'materialized' ORDER BY id"
        ).fetchall()
        last: dict[str, Record] = {}
        last_id: dict[str, int] = {}
        for rowid, key, code, data, inputs in rows:
            last[key] = Record(code, data, json.loads(inputs) if inputs else {})
            last_id[key] = rowid
        latest = dict(con.execute("SELECT key, success_id FROM latest").fetchall())
        for key, rowid in last_id.items():
            if latest.get(key) != rowid:
                problems.append(f"latest.success_id of {key} is {latest.get(key)}, not {rowid}")
        locks = con.execute("SELECT count(*) FROM locks").fetchone()[0]
        del locks  # locks of a killed run may stay; the next run takes them over
    finally:
        con.close()
    return last, problems


def code_versions(project: Project) -> dict[str, str]:
    """Each asset's code version as its latest record has it (of a complete, clean run)."""
    records, problems = read_state(project)
    assert not problems, problems
    return {k: r.code_version for k, r in records.items()}


@dataclass(frozen=True)
class Verdict:
    """What the storage folder says about every asset after a crash."""

    not_done: frozenset[str]
    done: frozenset[str]
    problems: tuple[str, ...]
    written_unrecorded: frozenset[str]  # stored data with no record, or a newer one than its
    # record says (never done): writes the crash cut off from their records


def examine(project: Project, code: Mapping[str, str]) -> Verdict:
    """Check a storage folder left by a crash (see the module docstring). ``code`` is each
    asset's current code version (from a clean run of the same code)."""
    stored = read_outputs(project)
    records, state_problems = read_state(project)
    problems = [*stored.problems, *state_problems]
    done: dict[str, bool] = {}
    for name in project.names:  # dependency order
        rec = records.get(name)
        ups = project.upstream[name]
        done[name] = (
            rec is not None
            and name in stored.versions
            and rec.code_version == code[name]
            and set(rec.inputs) == set(ups)
            and all(done[u] and rec.inputs[u] == records[u].data_version for u in ups)
        )
    unrecorded = set()
    for name in project.names:
        rec = records.get(name)
        if name not in stored.versions:
            continue
        if rec is None:
            unrecorded.add(name)
        elif stored.versions[name] != rec.data_version:
            if done[name]:
                problems.append(
                    f"{name}: recorded data version {rec.data_version} but the stored data is "
                    f"{stored.versions[name]}, and the asset counts as done"
                )
            else:
                unrecorded.add(name)
    return Verdict(
        not_done=frozenset(n for n, ok in done.items() if not ok),
        done=frozenset(n for n, ok in done.items() if ok),
        problems=tuple(problems),
        written_unrecorded=frozenset(unrecorded),
    )


def compare_with(reference: Mapping[str, str], project: Project) -> list[str]:
    """Differences between ``project``'s stored outputs and ``reference`` (name -> data
    version of a clean run), plus every problem reading them."""
    stored = read_outputs(project)
    out = list(stored.problems)
    for name in sorted(set(reference) | set(stored.versions)):
        want, got = reference.get(name), stored.versions.get(name)
        if want != got:
            out.append(f"{name}: clean run stored {want}, this one {got}")
    return out


def count_records(project: Project) -> int:
    """Successful records in ``state.db`` so far (0 while it does not exist)."""
    path = project.storage / "state.db"
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            (n,) = con.execute(
                "SELECT count(*) FROM materializations WHERE outcome = 'materialized'"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(n)


def count_outputs(project: Project, since_ns: int) -> int:
    """Parquet files (temporary ones included: writes under way) modified since
    ``since_ns``."""
    n = 0
    try:
        with os.scandir(project.storage / "parquet") as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime_ns >= since_ns:
                        n += 1
                except OSError:  # renamed or removed meanwhile
                    continue
    except OSError:
        return 0
    return n


def oracle(project: Project) -> dict[str, str]:
    """Each asset's data version computed without Lumbung: the generated helper called in
    dependency order, each frame hashed with ``assets_core.storage.datahash``. What a clean run must
    store."""
    import runpy

    from assets_core.storage.datahash import hash_pandas

    step = runpy.run_path(str(project.root / project.package / "helpers.py"))["step"]
    frames = {}
    for i, name in enumerate(project.names):
        ups = [frames[u] for u in project.upstream[name]]
        frames[name] = step(i, *ups, big=i % BIG_EVERY == BIG_EVERY - 1)
    return {name: hash_pandas(frame) for name, frame in frames.items()}


def check_after_crash(
    project: Project, code: Mapping[str, str], planned: Callable[[], set[str]]
) -> Verdict:
    """Checks 1-4 of ``tests/reliability/test_crash.py``: outputs readable, state intact,
    done assets' records match their data, and ``planned()`` (the next plan's keys) is
    exactly the set of assets not done."""
    verdict = examine(project, code)
    assert not verdict.problems, verdict.problems
    assert planned() == set(verdict.not_done)
    return verdict


def recover(project: Project, expected: Mapping[str, str], code: Mapping[str, str]) -> None:
    """Check 5: the next ``lumbung materialize`` exits 0, stores exactly ``expected`` (what
    a clean run stores) and leaves no stray file."""
    done = run(project, "materialize")
    assert done.code == 0, done.err
    assert compare_with(expected, project) == []
    assert stray_files(project) == []
    verdict = examine(project, code)
    assert (verdict.problems, verdict.not_done) == ((), frozenset())


class InProcess:
    """The project loaded in this process once, to plan again and again without paying for
    a ``lumbung`` process each time. Everything is closed after each use, so a ``lumbung``
    started next finds the files free."""

    def __init__(self, project: Project) -> None:
        from assets_core import load_project

        self.session = load_project(project.root)

    def planned(self) -> set[str]:
        """The keys the next plan lists."""
        try:
            return {str(s.key) for s in self.session.plan().steps}
        finally:
            self.session.close()

    def code_versions(self) -> dict[str, str]:
        """Each asset's current code version."""
        try:
            return {
                str(k): self.session.code_version(a).version
                for k, a in self.session.defs.assets.items()
                if not a.observed
            }
        finally:
            self.session.close()
