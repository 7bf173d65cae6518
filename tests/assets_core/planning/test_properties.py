"""Property: after any sequence of edits, materialize leaves every stored value equal to a
from-scratch recomputation, and never runs an asset whose code and inputs are unchanged."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ProjectDir


@dataclass
class Model:
    """The ground truth: each asset's upstreams and the constants in its code."""

    ups: list[list[int]]
    k: list[int]
    j: list[int]  # a no-op term: changes the code, never the output
    source: int = 5
    ran_with: dict[int, tuple[int, int, tuple[int, ...]]] = field(default_factory=dict)

    def module(self) -> str:
        lines = [
            "import pandas as pd",
            "from assets_core import asset, source",
            "",
            'src = source("src", path="src.csv")',
        ]
        for i, ups in enumerate(self.ups):
            params = [f"n{u}" for u in ups] or ["src"]
            total = " + ".join(f"int({p}.v.iloc[0])" for p in params)
            value = f"(({total}) * {self.k[i]} + {self.j[i]} * 0) % 97"
            lines += [
                "",
                "@asset",
                f"def n{i}({', '.join(f'{p}: pd.DataFrame' for p in params)}) -> pd.DataFrame:",
                f"    return pd.DataFrame({{'v': [{value}]}})",
            ]
        return "\n".join(lines) + "\n"

    def inputs(self, i: int, values: list[int]) -> tuple[int, ...]:
        return tuple(values[u] for u in self.ups[i]) if self.ups[i] else (self.source,)

    def values(self) -> list[int]:
        out: list[int] = []
        for i in range(len(self.ups)):
            out.append((sum(self.inputs(i, out)) * self.k[i]) % 97)
        return out


@st.composite
def dags(draw: st.DrawFn) -> Model:
    n = draw(st.integers(2, 6))
    ups = [
        sorted(draw(st.sets(st.integers(0, i - 1), max_size=min(i, 3)))) if i else []
        for i in range(n)
    ]
    ks = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    return Model(ups=ups, k=ks, j=[0] * n)


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["code", "noop_code", "source", "same_source", "nothing"]),
        st.integers(0, 99),
        st.integers(1, 9),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model=dags(), edits=EDITS)
def test_materialize_matches_recomputation_and_never_runs_unchanged(
    model: Model, edits: list[tuple[str, int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = ProjectDir(Path(tmp))
        project.write("src.csv", f"v\n{model.source}\n")
        project.write("assets.py", model.module())
        for step, (kind, pick, value) in enumerate([("nothing", 0, 1), *edits]):
            i = pick % len(model.ups)
            if kind == "code":
                model.k[i] = value
            elif kind == "noop_code":
                model.j[i] += 1
            elif kind == "source":
                model.source = value
            if kind in ("source", "same_source"):
                project.write("src.csv", f"v\n{model.source}\n")
            project.write("assets.py", model.module())

            session = project.session()
            result = session.materialize()
            assert result.success, result.errors
            ran = {int(str(k)[1:]) for k in result.materialized}
            expected = model.values()
            for a in range(len(model.ups)):
                stored = session.load(f"n{a}")["v"].tolist()  # type: ignore[index]
                assert stored == [expected[a]], (step, a, model)
                now = (model.k[a], model.j[a], model.inputs(a, expected))
                before = model.ran_with.get(a)
                if a in ran:
                    assert before != now, f"n{a} ran with unchanged code and inputs"
                    model.ran_with[a] = now
                else:
                    assert before == now, f"n{a} did not run although something changed"
            session.close()
