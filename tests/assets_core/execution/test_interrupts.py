"""``assets_core.execution.interrupts.watch``: the first Ctrl-C raises and sets the events,
later ones wait for the cleanup, and the previous handler comes back."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from assets_core.execution.interrupts import Terminated, terminated, watch

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_first_ctrl_c_raises_and_sets_every_event_later_ones_are_ignored() -> None:
    outer, inner = threading.Event(), threading.Event()
    cleaned = False
    with watch(outer):
        try:
            with watch(inner):
                ctrl_c()
                pytest.fail("no KeyboardInterrupt")
        except KeyboardInterrupt:
            ctrl_c()  # a second Ctrl-C during the cleanup: ignored
            ctrl_c()
            cleaned = True
        assert inner.is_set() and outer.is_set()
    assert cleaned
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # after the watch, Ctrl-C is plain again
        ctrl_c()


def test_a_watch_after_the_first_ctrl_c_starts_out_interrupted() -> None:
    late = threading.Event()
    with watch(threading.Event()):
        try:
            ctrl_c()
        except KeyboardInterrupt:
            with watch(late):
                ctrl_c()  # ignored
    assert late.is_set()


def test_a_programs_own_handler_and_other_threads_are_left_alone() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        event = threading.Event()
        with watch(event):
            ctrl_c()
        assert (seen, event.is_set()) == ([signal.SIGINT], False)
    finally:
        signal.signal(signal.SIGINT, previous)

    found: list[object] = []

    def other() -> None:
        with watch(threading.Event()):
            found.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert found == [signal.default_int_handler]


def test_sigterm_is_handled_like_ctrl_c_and_told_apart() -> None:
    event = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with watch(event):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("no Terminated")
        except Terminated:
            ctrl_c()  # during the cleanup: ignored, whichever signal it is
            os.kill(os.getpid(), signal.SIGTERM)
        assert event.is_set()
    assert terminated()
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)  # every Ctrl-C cleanup runs for it
