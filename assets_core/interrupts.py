"""Ctrl-C during a run. The first SIGINT stops the run; later ones are ignored until the
cleanup after the first has finished.

Left to itself, Python turns SIGINT into ``KeyboardInterrupt`` in the main thread, wherever
that thread is. During a run, that goes wrong in two ways:

- Native code can swallow it. DuckDB turns an interrupted query into
  ``RuntimeError("Query interrupted")``, so an asset running in the main thread would be
  recorded as failed and the run would go on.
- A second Ctrl-C while the first is being handled interrupts the cleanup (recording what
  finished, marking the run, releasing its locks) halfway.

``watch(event)`` fixes both while its block runs in the main thread. The first SIGINT sets
``event`` (and the event of every enclosing ``watch``) and raises ``KeyboardInterrupt``. Any
later SIGINT is ignored until the outermost ``watch`` ends. Code that catches an exception
can check ``event.is_set()`` to tell an interrupt from a failure. In any thread but the main
one, or when the program has installed its own SIGINT handler, ``watch`` changes nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["watch"]

_events: list[threading.Event] = []  # of the watches open now, outermost first
_fired = False  # a SIGINT came since the outermost watch began
_previous: Any = None  # the handler the outermost watch replaced


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _fired
    if _fired:  # the first Ctrl-C is being handled: let its cleanup finish
        return
    _fired = True
    for event in _events:
        event.set()
    raise KeyboardInterrupt


@contextmanager
def watch(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, the first Ctrl-C sets ``event`` and raises ``KeyboardInterrupt``;
    later ones are ignored until the outermost ``watch`` ends (see the module docstring)."""
    global _fired, _previous
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    current = signal.getsignal(signal.SIGINT)
    if current is not _on_sigint and current is not signal.default_int_handler:
        yield event  # the program handles SIGINT itself (or ignores it)
        return
    outermost = current is not _on_sigint
    if outermost:
        _previous, _fired = current, False
        signal.signal(signal.SIGINT, _on_sigint)
    elif _fired:
        event.set()
    _events.append(event)
    try:
        yield event
    finally:
        _events.remove(event)
        if outermost:
            signal.signal(signal.SIGINT, _previous)
            _previous, _fired = None, False
