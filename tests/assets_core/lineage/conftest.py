"""Shared fixtures for the lineage tests: a materialized pristine copy of example_project
loaded in this process, and synthetic projects of any size built in code."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from assets_core import Definitions, Session, asset, load_project
from tests.conftest import copy_example


def _noop() -> object:  # never run: these projects are only drawn
    return None


def synthetic(n: int, groups: int = 4, seed: int = 3, prefix: bool = False) -> Session:
    """``n`` assets in ``groups`` groups, each depending on up to three earlier ones, stored
    in memory with a memory state store (nothing materialized: every asset is missing).
    With ``prefix``, keys are ``g<i>/a<j>`` (a key with a slash)."""
    rng = random.Random(seed)
    keys = [f"g{i % groups}/a{i}" if prefix else f"a{i}" for i in range(n)]
    assets = []
    for i, key in enumerate(keys):
        window = keys[max(0, i - 60) : i]
        deps = rng.sample(window, k=min(len(window), rng.choice((1, 2, 3)))) if window else []
        assets.append(
            asset(
                key=key,
                deps=deps,
                group=f"group_{i * groups // n}",
                code_version="1",
                io_manager="memory",
                description=f"Synthetic asset {i}.",
            )(_noop)
        )
    return Session(Definitions(assets), state="memory")


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The example project, copied and materialized once (statuses and last runs exist)."""
    dest = copy_example(tmp_path_factory.mktemp("lineage") / "example_project")
    session = load_project(dest)
    result = session.materialize(executor="in-process")
    assert not result.failed
    yield session
    session.close()
