"""Fixtures of the reliability suites: the generated projects of a session and what a clean
run of each must store."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.reliability.harness import Project, generate, oracle

N_ASSETS = 200


@dataclass
class World:
    """Two generated projects that differ only in their helper's salt, so moving from
    ``a``'s code to ``b``'s changes every value; and what a clean run of each stores (data
    version by asset, computed without Lumbung by ``harness.oracle``)."""

    a: Project
    b: Project
    expected_a: dict[str, str]
    expected_b: dict[str, str]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("world")
    a = generate(base / "a", n=N_ASSETS, salt=1)
    b = generate(base / "b", n=N_ASSETS, salt=2)
    return World(a, b, oracle(a), oracle(b))
