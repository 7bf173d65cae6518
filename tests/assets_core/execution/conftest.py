"""Fixtures of the execution tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def default_ctrl_c() -> Iterator[None]:
    """Each test starts with Python's own Ctrl-C handler, as a fresh program does, whatever
    an earlier test in this process left installed (an in-process CLI command that caught
    an interrupt ignores further ones on purpose); the handler found is put back after."""
    found = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)
