"""The property of partitioned runs (issue 16's acceptance): random partitioned DAGs and random
edit sequences; after each materialize, every stored partition equals a from-scratch
recomputation, no step ran whose code and inputs were unchanged, and planning again says
nothing to do.

Each example writes a real project in a temporary folder: a daily partitioned CSV source
``src`` (``data/src/{date}.csv``) and 3-8 assets, each daily, monthly, unpartitioned or static,
reading 0-2 earlier nodes through the mappings their definitions allow (identity,
``window(a, 0)`` lookbacks, day -> month rollups, partitioned -> unpartitioned,
unpartitioned -> partitioned, static -> static), stored by the Parquet or the DuckDB manager
(chosen per asset). Each asset's function is a deterministic pandas computation of its inputs,
its partition key and a code constant written in its body, and appends ``name|partition`` to
``calls.log`` when called.

Then a random sequence of edits and runs: one day's file given new bytes or rewritten with the
same bytes, an asset's constant changed, a day passing (``as_of`` one day later, its file
written or not yet), February ending (its days and its month at once; the slow variant only),
a missing file written, and materializations of everything or of a prefix range of days over
the daily assets that read only days (through ``Session.materialize`` or the ``lumbung``
command). A model of the project, written here without Lumbung, says after each run:

1. what every asset's partitions hold when recomputed from scratch (plain pandas over the
   source files and the current constants); the stored partitions, read with pyarrow and
   duckdb directly, are exactly the model's, and each one a plan calls fresh is the from-scratch
   value (after a full run, that is every partition that can run);
2. exactly which steps run: those never run, whose constant changed, or whose mapped upstream
   partitions' data differ from what they read last time (a file rewritten with the same
   bytes, or an upstream recomputed to equal values, runs nothing more). The calls logged, and
   the run's ``materialized`` list, are exactly those;
3. planning the same selection and range again has nothing to do, and a full plan's waiting
   steps are the model's (a day whose file is not there, and what reads it).

``LUMBUNG_PARTITION_EXAMPLES`` sets how many examples are tried (8 by default, derandomized so
a failure reproduces); ``-m slow`` runs a randomized variant of 60 (or that many).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_core import load_project
from tests.reliability.harness import LUMBUNG, WAREHOUSE, lumbung_env

START = dt.date(2024, 1, 28)  # the first day of the source and of every daily asset
FIRST_AS_OF = dt.date(2024, 2, 1)  # days 01-28..01-31 and the month of January exist
MAX_ADVANCES = 3
NEXT_MONTH = dt.date(2024, 3, 1)  # a jump to it brings February's days and its month
STATIC_KEYS = ("eu", "us")
M = 1_000_003
KINDS = ("daily", "daily", "monthly", "none", "static")

# ---- the random DAG ------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One input of an asset: the upstream node and the ``window`` lookback (days) or None."""

    up: str  # "src" or an asset's name
    lookback: int | None = None


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # daily, monthly, none, static
    inputs: tuple[Input, ...]
    io: str  # parquet, duckdb


@dataclass(frozen=True)
class Dag:
    nodes: tuple[Node, ...]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def kind(self, name: str) -> str:
        return "daily" if name == "src" else self.node(name).kind

    def day_closed(self) -> list[str]:
        """The daily assets reading only days (the source or such assets, never a month or an
        unpartitioned asset): a prefix range of days over them reads nothing outside it."""
        closed: list[str] = []
        for n in self.nodes:
            if n.kind == "daily" and all(i.up == "src" or i.up in closed for i in n.inputs):
                closed.append(n.name)
        return closed


def _allowed(kind: str, up_kind: str) -> bool:
    if kind == "daily":
        return up_kind in ("daily", "none")
    if kind == "monthly":
        return up_kind in ("daily", "monthly", "none")
    if kind == "static":
        return up_kind in ("static", "none")
    return True  # an unpartitioned asset reads every partition of anything


@st.composite
def dags(draw: st.DrawFn) -> Dag:
    nodes: list[Node] = []
    for i in range(draw(st.integers(3, 8))):
        kind = draw(st.sampled_from(KINDS))
        kinds = {"src": "daily", **{n.name: n.kind for n in nodes}}
        candidates = [name for name, k in kinds.items() if _allowed(kind, k)]
        ups: list[str] = []
        if candidates:
            ups = draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True))
        if not ups and kind != "static":
            ups = [draw(st.sampled_from(candidates))]
        inputs = []
        for up in ups:
            lookback = None
            if kind == "daily" and kinds[up] == "daily":
                lookback = draw(st.sampled_from([None, None, -1, -2, -3]))
            inputs.append(Input(up, lookback))
        io_manager = draw(st.sampled_from(["parquet", "duckdb"]))
        nodes.append(Node(f"a{i}", kind, tuple(inputs), io_manager))
    return Dag(tuple(nodes))


HEADER = '''
"""Generated by test_partition_properties."""

from pathlib import Path

import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, monthly, static, window

DAYS = daily(start="{start}")
MONTHS = monthly(start="{month}")
KEYS = static({keys})
src = source("src", path="data/src/{{date}}.csv", partitions=DAYS)
LOG = Path(__file__).with_name("calls.log")
M = {m}


def out(name, context, const, *frames):
    """Each call logged; rows from the inputs' sums and lengths, the key and the constant."""
    with LOG.open("a") as f:
        f.write(f"{{name}}|{{context.partition or ''}}\\n")
    x = const * 7 + sum(ord(c) for c in context.partition or "")
    for i, frame in enumerate(frames):
        x += (i + 3) * int(frame["v"].sum()) + 11 * len(frame)
    x %= M
    return pd.DataFrame({{"v": pd.array([x, (x * 31 + const) % M], dtype="int64")}})
'''

DEFS = {"daily": "DAYS", "monthly": "MONTHS", "static": "KEYS"}


def module_text(dag: Dag, consts: dict[str, int]) -> str:
    text = HEADER.format(
        start=START.isoformat(), month=START.replace(day=1), keys=list(STATIC_KEYS), m=M
    )
    for n in dag.nodes:
        args = []
        if n.kind in DEFS:
            args.append(f"partitions={DEFS[n.kind]}")
        if n.io == "duckdb":
            args.append('io_manager="duckdb"')
        ins = {i.up: f"window({i.lookback}, 0)" for i in n.inputs if i.lookback is not None}
        if ins:
            args.append("ins={" + ", ".join(f'"{k}": {v}' for k, v in ins.items()) + "}")
        deco = f"@asset({', '.join(args)})" if args else "@asset"
        params = "".join(f", {i.up}: pd.DataFrame" for i in n.inputs)
        frames = "".join(f", {i.up}" for i in n.inputs)
        text += f"\n\n{deco}\ndef {n.name}(context{params}) -> pd.DataFrame:\n"
        text += f'    return out("{n.name}", context, {consts[n.name]}{frames})\n'
    return text


# ---- the model: what Lumbung must do, computed without it -----------------------------------

Step = tuple[str, "str | None"]  # (node, partition key or None)


def days_until(as_of: dt.date) -> list[str]:
    """The days that exist at ``as_of``: those whose day has ended."""
    return [(START + dt.timedelta(n)).isoformat() for n in range((as_of - START).days)]


def months_until(as_of: dt.date) -> list[str]:
    out, month = [], START.replace(day=1)
    while True:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        if following > as_of:
            return out
        out.append(month.isoformat())
        month = following


def rows_of(csv: bytes) -> list[int]:
    return [int(v) for v in pd.read_csv(io.BytesIO(csv))["v"]]


def compute(const: int, key: str | None, frames: list[list[int]]) -> tuple[int, int]:
    x = const * 7 + sum(ord(c) for c in key or "")
    for i, rows in enumerate(frames):
        x += (i + 3) * sum(rows) + 11 * len(rows)
    x %= M
    return (x, (x * 31 + const) % M)


@dataclass
class Model:
    dag: Dag
    consts: dict[str, int]
    files: dict[str, bytes]  # source files by day
    as_of: dt.date = FIRST_AS_OF
    stored: dict[Step, tuple[int, ...]] = field(default_factory=dict)
    #: each step's last run: its constant and what it read, by upstream step
    records: dict[Step, tuple[int, dict[Step, object]]] = field(default_factory=dict)

    def keys(self, kind: str) -> list[str | None]:
        if kind == "daily":
            return list(days_until(self.as_of))
        if kind == "monthly":
            return list(months_until(self.as_of))
        if kind == "static":
            return list(STATIC_KEYS)
        return [None]

    def mapped(self, node: Node, key: str | None, inp: Input) -> list[Step]:
        """The upstream steps one partition of ``node`` reads through ``inp``."""
        up_kind = self.dag.kind(inp.up)
        if node.kind == "none" or up_kind == "none":
            return [(inp.up, k) for k in self.keys(up_kind)]
        if node.kind == up_kind and inp.lookback is None:
            return [(inp.up, key)]
        assert key is not None
        if inp.lookback is not None:  # a window of days, cut at the first
            day = dt.date.fromisoformat(key)
            days = [day + dt.timedelta(n) for n in range(inp.lookback, 1)]
            return [(inp.up, d.isoformat()) for d in days if d >= START]
        assert (node.kind, up_kind) == ("monthly", "daily")  # a month reads its days
        return [(inp.up, d) for d in days_until(self.as_of) if d[:7] == key[:7]]

    def steps(self) -> list[Step]:
        return [(n.name, k) for n in self.dag.nodes for k in self.keys(n.kind)]

    def waiting(self) -> set[Step]:
        """Steps that cannot run: a day whose file is not there, and what reads one."""
        out: set[Step] = set()
        for n in self.dag.nodes:
            for key in self.keys(n.kind):
                for inp in n.inputs:
                    for up in self.mapped(n, key, inp):
                        if (up[0] == "src" and up[1] not in self.files) or up in out:
                            out.add((n.name, key))
        return out

    def scratch(self) -> dict[Step, tuple[int, ...]]:
        """Every step that can run, computed from the files and constants alone."""
        values: dict[Step, tuple[int, ...]] = {}
        waiting = self.waiting()
        for n in self.dag.nodes:
            for key in self.keys(n.kind):
                if (n.name, key) in waiting:
                    continue
                frames = []
                for inp in n.inputs:
                    rows: list[int] = []
                    for up, k in self.mapped(n, key, inp):
                        rows += rows_of(self.files[str(k)]) if up == "src" else values[(up, k)]
                    frames.append(rows)
                values[(n.name, key)] = compute(self.consts[n.name], key, frames)
        return values

    def materialize(self, scope: set[Step] | None) -> set[Step]:
        """Run what must run in ``scope`` (None: everything) and say which steps ran."""
        ran: set[Step] = set()
        waiting = self.waiting()
        for n in self.dag.nodes:
            for key in self.keys(n.kind):
                step = (n.name, key)
                if step in waiting or (scope is not None and step not in scope):
                    continue
                read: dict[Step, object] = {}
                frames = []
                for inp in n.inputs:
                    rows: list[int] = []
                    for up in self.mapped(n, key, inp):
                        if up[0] == "src":
                            read[up] = self.files[str(up[1])]
                            rows += rows_of(self.files[str(up[1])])
                        else:
                            read[up] = self.stored[up]
                            rows += self.stored[up]
                    frames.append(rows)
                if self.records.get(step) == (self.consts[n.name], read):
                    continue
                self.stored[step] = compute(self.consts[n.name], key, frames)
                self.records[step] = (self.consts[n.name], read)
                ran.add(step)
        return ran


# ---- the project on disk --------------------------------------------------------------------


def source_bytes(values: list[int]) -> bytes:
    return ("v\n" + "".join(f"{v}\n" for v in values)).encode()


class World:
    def __init__(self, root: Path, dag: Dag, consts: dict[str, int], files: dict[str, bytes]):
        self.root = root
        self.module = f"prop16_{uuid.uuid4().hex[:10]}"
        self.model = Model(dag, dict(consts), {})
        (root / "data" / "src").mkdir(parents=True)
        (root / "lumbung.toml").write_text(f'modules = ["{self.module}"]\nstorage = ".lumbung"\n')
        for day, data in files.items():
            self.write_file(day, data)
        self.write_code()
        self.log = root / "calls.log"

    def write_code(self) -> None:
        text = module_text(self.model.dag, self.model.consts)
        (self.root / f"{self.module}.py").write_text(textwrap.dedent(text).lstrip())

    def write_file(self, day: str, data: bytes) -> None:
        (self.root / "data" / "src" / f"{day}.csv").write_bytes(data)
        self.model.files[day] = data

    def calls(self) -> list[Step]:
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        self.log.unlink()
        return [(name, key or None) for name, key in (line.split("|") for line in lines)]

    def session(self):  # type: ignore[no-untyped-def]
        sys.modules.pop(self.module, None)
        return load_project(self.root)

    # -- runs

    def materialize(self, scope: str, upto: int, via: str, executor: str) -> None:
        model = self.model
        select: list[str] | None = None
        partitions: str | None = None
        closed = model.dag.day_closed()
        days = days_until(model.as_of)
        if scope == "range" and closed:
            select = closed
            partitions = f"{days[0]}..{days[min(upto, len(days) - 1)]}"
            chosen = set(days[: min(upto, len(days) - 1) + 1])
            expected = model.materialize({(a, d) for a in closed for d in chosen})
        else:
            expected = model.materialize(None)
        as_of = model.as_of.isoformat()
        if via == "cli":
            args = ["materialize", "--as-of", as_of, "--json", "--executor", executor]
            if select:
                args += ["-s", " ".join(select), "--partitions", str(partitions)]
            done = subprocess.run(
                [*LUMBUNG, *args],
                cwd=self.root,
                env=lumbung_env(),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            materialized = set(json.loads(done.stdout)["materialized"])
        else:
            with self.session() as s:
                result = s.materialize(
                    select, partitions=partitions, as_of=as_of, executor=executor, on_log=None
                )
                assert not result.failed, result.errors
                materialized = {str(k) for k in result.materialized}
        calls = self.calls()
        # (2) exactly the steps whose code or inputs changed ran, each once
        assert sorted(calls, key=str) == sorted(expected, key=str), self.explain()
        assert materialized == {step_text(s) for s in expected}
        self.check(select, partitions)

    def check(self, select: list[str] | None, partitions: str | None) -> None:
        model = self.model
        as_of = model.as_of.isoformat()
        stored = read_stored(self.root, model.dag)
        # (1) what is stored is exactly what the model stored ...
        assert stored == model.stored, self.explain()
        scratch = model.scratch()
        with self.session() as s:
            # (3) the same selection and range again: nothing to do
            again = s.plan(select, partitions=partitions, as_of=as_of)
            assert not again.steps, [str(p.step) for p in again.steps]
            full = s.plan(as_of=as_of)
        runnable = {(str(p.step.asset), p.step.partition) for p in full.steps}
        waiting = {(str(p.step.asset), p.step.partition) for p in full.waiting}
        assert waiting == model.waiting()
        # ... and each partition a plan calls fresh holds its from-scratch value
        for step, value in stored.items():
            if step not in runnable and step not in waiting:
                assert value == scratch[step], (step, self.explain())
        if select is None:  # after a full run, every partition that can run is fresh
            assert not runnable
            assert {s: v for s, v in stored.items() if s in scratch} == scratch

    def explain(self) -> str:
        return module_text(self.model.dag, self.model.consts)


def step_text(step: Step) -> str:
    return step[0] if step[1] is None else f"{step[0]}[{step[1]}]"


def read_stored(root: Path, dag: Dag) -> dict[Step, tuple[int, ...]]:
    """Every stored partition's ``v`` values, read with pyarrow and duckdb directly."""
    import duckdb
    import pyarrow.parquet as pq

    out: dict[Step, tuple[int, ...]] = {}
    folder = root / ".lumbung" / "parquet"
    warehouse = root / ".lumbung" / WAREHOUSE
    con = duckdb.connect(str(warehouse), read_only=True) if warehouse.exists() else None
    try:
        tables = set()
        if con is not None:
            tables = {
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
        for n in dag.nodes:
            if n.io == "parquet" and n.kind == "none":
                path = folder / f"{n.name}.parquet"
                if path.exists():
                    out[(n.name, None)] = tuple(pq.read_table(path).column("v").to_pylist())
            elif n.io == "parquet":
                for path in sorted((folder / n.name).glob("partition=*/part.parquet")):
                    key = path.parent.name.removeprefix("partition=")
                    table = pq.read_table(path, partitioning=None)
                    assert "partition" not in table.column_names or set(
                        table.column("partition").to_pylist()
                    ) <= {key}
                    out[(n.name, key)] = tuple(table.column("v").to_pylist())
            elif con is not None and n.name in tables and n.kind == "none":
                rows = con.execute(f'SELECT v FROM main."{n.name}" ORDER BY rowid').fetchall()
                out[(n.name, None)] = tuple(r[0] for r in rows)
            elif con is not None and n.name in tables:
                listed = con.execute(
                    'SELECT partition FROM main."lumbung:partitions" WHERE key = ?', [n.name]
                ).fetchall()
                rows = con.execute(
                    f'SELECT partition, v FROM main."{n.name}" ORDER BY rowid'
                ).fetchall()
                for (key,) in listed:
                    out[(n.name, key)] = tuple(v for k, v in rows if k == key)
                assert {k for k, _ in rows} <= {k for (k,) in listed}
    finally:
        if con is not None:
            con.close()
    return out


# ---- the property ---------------------------------------------------------------------------

VALUES = st.lists(st.integers(1, 999), min_size=1, max_size=3)


def actions(month: bool) -> st.SearchStrategy[list[tuple[object, ...]]]:
    """Edits and runs; ``month`` adds February ending (29 more days: the slow variant's)."""
    return st.lists(
        st.one_of(
            st.tuples(
                st.just("file"), st.integers(0, 30), st.sampled_from(["new", "same"]), VALUES
            ),
            st.tuples(st.just("code"), st.integers(0, 7), st.integers(1, 99)),
            st.tuples(st.just("advance"), st.booleans(), VALUES),
            st.tuples(st.just("add_file"), VALUES),
            *([st.tuples(st.just("month"), VALUES)] if month else []),
            st.tuples(
                st.just("materialize"),
                st.sampled_from(["all", "range"]),
                st.integers(0, 10),
                st.sampled_from(["api", "api", "api", "cli"]),
                st.sampled_from(["in-process", "threads"]),
            ),
        ),
        min_size=2,
        max_size=8,
    )


def play(root: Path, dag: Dag, consts: list[int], first: list[list[int]], actions: list) -> None:  # type: ignore[type-arg]
    days = days_until(FIRST_AS_OF)
    files = {d: source_bytes(first[i % len(first)]) for i, d in enumerate(days)}
    world = World(root, dag, {n.name: c for n, c in zip(dag.nodes, consts, strict=False)}, files)
    model = world.model
    world.materialize("all", 0, "api", "in-process")
    advances = 0
    for action in actions:
        kind = action[0]
        if kind == "file" and model.files:
            day = sorted(model.files)[action[1] % len(model.files)]
            data = model.files[day]
            if action[2] == "new":
                values = rows_of(data)
                data = source_bytes([v + 1 for v in values] if action[3] == values else action[3])
            world.write_file(day, data)
        elif kind == "code":
            node = dag.nodes[action[1] % len(dag.nodes)]
            model.consts[node.name] = action[2]
            world.write_code()
        elif kind == "advance" and advances < MAX_ADVANCES:
            advances += 1
            model.as_of += dt.timedelta(days=1)
            if action[1]:
                world.write_file(days_until(model.as_of)[-1], source_bytes(action[2]))
        elif kind == "month" and model.as_of < NEXT_MONTH:  # February ends: 29 days and a month
            old = model.as_of
            model.as_of = NEXT_MONTH
            for i, day in enumerate(days_until(model.as_of)):
                if day >= old.isoformat():
                    world.write_file(day, source_bytes([v + i for v in action[1]]))
        elif kind == "add_file":
            missing = [d for d in days_until(model.as_of) if d not in model.files]
            if missing:
                world.write_file(missing[0], source_bytes(action[1]))
        elif kind == "materialize":
            world.materialize(action[1], action[2], action[3], action[4])
    world.materialize("all", 0, "api", "threads")


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}
CONSTS = st.lists(st.integers(1, 99), min_size=8, max_size=8)
FIRST = st.lists(VALUES, min_size=1, max_size=4)


@settings(
    max_examples=int(os.environ.get("LUMBUNG_PARTITION_EXAMPLES", "8")),
    derandomize=True,
    **SETTINGS,  # type: ignore[arg-type]
)
@given(dag=dags(), consts=CONSTS, first=FIRST, actions=actions(month=False))
def test_stored_partitions_are_recomputations_and_only_changed_steps_run(
    tmp_path_factory: pytest.TempPathFactory,
    dag: Dag,
    consts: list[int],
    first: list[list[int]],
    actions: list,  # type: ignore[type-arg]
) -> None:
    play(tmp_path_factory.mktemp("prop16"), dag, consts, first, actions)


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("LUMBUNG_PARTITION_EXAMPLES", "60")),
    **SETTINGS,  # type: ignore[arg-type]
)
@given(dag=dags(), consts=CONSTS, first=FIRST, actions=actions(month=True))
def test_stored_partitions_are_recomputations_randomized(
    tmp_path_factory: pytest.TempPathFactory,
    dag: Dag,
    consts: list[int],
    first: list[list[int]],
    actions: list,  # type: ignore[type-arg]
) -> None:
    play(tmp_path_factory.mktemp("prop16"), dag, consts, first, actions)


# ---- what the property found ----------------------------------------------------------------

ZERO_PARTITIONS = """
import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, monthly

src = source("src", path="data/src/{date}.csv", partitions=daily(start="2024-01-28"))


@asset(partitions=monthly(start="2024-01-01"))
def month(src: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"v": [int(src["v"].sum())]})


@asset
def total(month: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"v": [len(month)]})
"""


@pytest.mark.parametrize("io_manager", ["parquet", "duckdb"])
def test_an_unpartitioned_reader_of_zero_partitions_waits(tmp_path: Path, io_manager: str) -> None:
    """Found by the property: a reader of every partition of an asset that has none yet was
    planned to run and failed loading nothing. It waits, saying why, and the run succeeds."""
    module = f"prop16_zero_{uuid.uuid4().hex[:10]}"
    (tmp_path / "lumbung.toml").write_text(
        f'modules = ["{module}"]\nstorage = ".lumbung"\ndefault_io_manager = "{io_manager}"\n'
    )
    (tmp_path / f"{module}.py").write_text(ZERO_PARTITIONS.lstrip())
    (tmp_path / "data" / "src").mkdir(parents=True)
    for day in ("2024-01-28", "2024-01-29", "2024-01-30"):
        (tmp_path / "data" / "src" / f"{day}.csv").write_text("v\n1\n")
    with load_project(tmp_path) as s:  # January has not ended: month has no partition yet
        plan = s.plan(as_of="2024-01-31")
        total = plan.step("total")
        assert total is not None and total.status == "waiting"
        assert [(r.code, r.message) for r in total.reasons] == [
            ("never_materialized", "never materialized"),
            ("upstream_partition_missing", "upstream month has no partitions yet"),
        ]
        result = s.materialize(as_of="2024-01-31", executor="in-process", on_log=None)
    assert not result.failed, result.errors
    assert "total" not in {str(k) for k in result.materialized}
