"""Ctrl-C and SIGTERM during a run. The first of them stops the run; later ones are ignored
until the cleanup after the first has finished.

SIGTERM (what ``timeout``, ``docker stop`` and systemd send) is handled like Ctrl-C: it
raises ``Terminated``, a ``KeyboardInterrupt``, so every cleanup written for Ctrl-C (record
what finished, mark the run, release its locks) runs for it too, and the command line can
tell the two apart for its exit code. ``default_term_handler`` is SIGTERM's counterpart of
Python's own SIGINT handler, for a program to install at start.

Left to itself, Python turns SIGINT into ``KeyboardInterrupt`` in the main thread, wherever
that thread is. During a run, that goes wrong in two ways:

- Native code can swallow it. DuckDB turns an interrupted query into
  ``RuntimeError("Query interrupted")``, so an asset running in the main thread would be
  recorded as failed and the run would go on.
- A second Ctrl-C while the first is being handled interrupts the cleanup (recording what
  finished, marking the run, releasing its locks) halfway.

``watch(event)`` fixes both while its block runs in the main thread. The first SIGINT (or
SIGTERM) sets ``event`` (and the event of every enclosing ``watch``) and raises
``KeyboardInterrupt`` (``Terminated``). Any later one is ignored until the outermost
``watch`` ends. Code that catches an exception can check ``event.is_set()`` to tell an
interrupt from a failure. In any thread but the main one ``watch`` changes nothing, and it
leaves alone a signal the program has installed its own handler for.
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

__all__ = ["Terminated", "default_term_handler", "terminated", "watch"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_events: list[threading.Event] = []  # of the watches open now, outermost first
_fired = False  # a signal came since the outermost watch began
_terminated = False  # a SIGTERM came (ever, in this process)
_previous: dict[signal.Signals, Any] = {}  # the handlers the outermost watch replaced
_previous_hook: Any = None  # sys.unraisablehook before the outermost watch


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (see the module docstring)."""


def terminated() -> bool:
    """Whether this process has received a SIGTERM it handled."""
    return _terminated


def default_term_handler(signum: int, frame: FrameType | None) -> None:
    """Raise ``Terminated``: SIGTERM's counterpart of Python's default SIGINT handler."""
    global _terminated
    _terminated = True
    raise Terminated


def _unraisable(info: Any) -> None:
    # The first Ctrl-C can land in a callback whose exceptions Python only prints (a weakref
    # callback of the import system, say): it is not lost, the events are set, so say nothing.
    if isinstance(info.exc_value, KeyboardInterrupt):
        return
    (_previous_hook or sys.__unraisablehook__)(info)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _fired, _terminated
    if _fired:  # the first one is being handled: let its cleanup finish
        return
    _fired = True
    for event in _events:
        event.set()
    if signum == signal.SIGTERM:
        _terminated = True
        raise Terminated
    raise KeyboardInterrupt


def _ours(signum: signal.Signals, current: Any) -> bool:
    """Whether ``watch`` may handle ``signum``, whose handler is ``current`` now: Python's
    default (or ours), not one the program installed."""
    if signum == signal.SIGINT:
        return current is signal.default_int_handler
    return current in (signal.SIG_DFL, default_term_handler)


@contextmanager
def watch(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, the first Ctrl-C or SIGTERM sets ``event`` and raises
    ``KeyboardInterrupt`` (``Terminated``); later ones are ignored until the outermost
    ``watch`` ends (see the module docstring)."""
    global _fired, _previous_hook
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    outermost = not _previous and not _events
    if outermost:
        taken: dict[signal.Signals, Any] = {}
        for signum in _SIGNALS:
            current = signal.getsignal(signum)
            if _ours(signum, current):
                taken[signum] = current
        if not taken:
            yield event  # the program handles both itself (or ignores them)
            return
        _previous.update(taken)
        _fired = False
        _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
        for signum in taken:
            signal.signal(signum, _on_signal)
    elif _fired:
        event.set()
    _events.append(event)
    try:
        yield event
    finally:
        _events.remove(event)
        if outermost:
            for signum, handler in _previous.items():
                signal.signal(signum, handler)
            _previous.clear()
            sys.unraisablehook = _previous_hook
            _previous_hook, _fired = None, False
