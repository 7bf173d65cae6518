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
A first Ctrl-C that lands where Python can only print exceptions (a weakref callback, a
destructor) is not printed: its events are set, and the run stops at its next step.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["watch"]

_events: list[threading.Event] = []  # of the watches open now, outermost first
_fired = False  # a SIGINT came since the outermost watch began
_previous: Any = None  # the handler the outermost watch replaced
_previous_hook: Any = None  # sys.unraisablehook before the outermost watch


def _unraisable(info: Any) -> None:
    # The first Ctrl-C can land in a callback whose exceptions Python only prints (a weakref
    # callback of the import system, say): it is not lost, the events are set, so say nothing.
    if isinstance(info.exc_value, KeyboardInterrupt):
        return
    (_previous_hook or sys.__unraisablehook__)(info)


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
    global _fired, _previous, _previous_hook
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
        _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
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
            sys.unraisablehook = _previous_hook
            _previous, _previous_hook, _fired = None, None, False
