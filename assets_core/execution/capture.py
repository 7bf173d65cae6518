"""What a step says, captured and attributed to it: its ``context.log`` records (and any other
logger's), its ``print``s and other writes to ``sys.stdout`` and ``sys.stderr``, and the
Python warnings it raises.

One router serves a whole process, installed while any run in it captures (``installed``,
counted, so runs side by side share it; a worker process installs it for its life):
``sys.stdout`` and ``sys.stderr`` become ``RoutedStream``s, a ``StepHandler`` sits on the root
logger (and an ``AssetHandler`` on ``lumbung.asset``, so ``context.log`` is kept from DEBUG up
whatever the configuration) and ``warnings.showwarning`` is wrapped. Each of them asks one
context variable which step the current thread runs (``Capture.step`` sets it around a step),
so steps running side by side in threads never see each other's lines, and whatever is
written outside a step goes where it always went. Nothing is swapped per step.

A step's lines go to its ``Capture``'s sink in batches: when ``BATCH`` are waiting, at once
for a line at or above the capture's ``urgent`` rank (what is shown live), and when the step
ends. A line is ``(at, stream, level, message)``: ``stream`` is ``log`` (a logging record or a
warning, with its level name), ``stdout`` or ``stderr`` (a line written, without its newline).

Limits, per attempt of a step: ``MAX_LINES`` lines and ``MAX_CHARS`` characters in all, each
line cut at ``LINE_CHARS``. The first lines are kept; past a limit lines are counted, neither
kept nor shown, and a last line says how many were dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any, TextIO

from assets_core.model.keys import StepKey
from assets_core.storage.state import LogLine, LogStream

__all__ = [
    "BATCH",
    "LINE_CHARS",
    "MAX_CHARS",
    "MAX_LINES",
    "AssetHandler",
    "Capture",
    "Line",
    "RoutedStream",
    "Sink",
    "StepHandler",
    "installed",
    "line_text",
    "outside_steps",
    "rank",
]

MAX_LINES = 10_000  # lines kept per attempt of a step
MAX_CHARS = 1_000_000  # characters kept per attempt of a step
LINE_CHARS = 8_000  # characters kept of one line
BATCH = 256  # lines a step hands on at once

#: the logger ``context.log`` is a child of (``lumbung.asset.<key>``)
ASSET_LOGGER = "lumbung.asset"
_RANKS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_STREAM_RANK = {"stdout": logging.INFO, "stderr": logging.WARNING}

#: ``(at, stream, level, message)``: one captured line, as it travels (it pickles cheaply)
Line = tuple[float, LogStream, "str | None", str]
#: where a step's lines go: ``sink(step, lines)``, from the thread that runs the step
Sink = Callable[[StepKey, list[Line]], None]

_current: ContextVar[_StepLog | None] = ContextVar("lumbung_step_log", default=None)


def rank(stream: str, level: str | None) -> int:
    """How loud a line is, as a logging level: a record's own level; a line written to
    stdout counts as INFO, one written to stderr as WARNING."""
    if stream == "log":
        return _RANKS.get(level or "", logging.INFO)
    return _STREAM_RANK.get(stream, logging.INFO)


def line_text(line: LogLine) -> str:
    """A stored line as shown (live and by ``lumbung logs``): ``orders | INFO: loaded 3 rows``
    for a record, ``orders | text`` for a line written to stdout or stderr."""
    if line.stream == "log" and line.level:
        return f"{line.step} | {line.level}: {line.message}"
    return f"{line.step} | {line.message}"


class Capture:
    """Binds each step run in this process to the sink its lines go to."""

    __slots__ = ("sink", "urgent")

    def __init__(self, sink: Sink, urgent: int = logging.WARNING) -> None:
        self.sink = sink
        #: lines at this rank or above are handed on at once (they are shown live)
        self.urgent = urgent

    def step(self, step: StepKey) -> _StepLog:
        """Capture what the current thread says while ``step`` runs in it (``with``)."""
        return _StepLog(step, self.sink, self.urgent)


class _StepLog:
    """The lines of one attempt of one step, kept within the limits until handed on."""

    __slots__ = (
        "_chars",
        "_dropped",
        "_kept",
        "_lock",
        "_over",
        "_partial",
        "_pending",
        "_sink",
        "_token",
        "_urgent",
        "step",
    )

    _token: Token[_StepLog | None]

    def __init__(self, step: StepKey, sink: Sink, urgent: int) -> None:
        self.step = step
        self._sink = sink
        self._urgent = urgent
        self._pending: list[Line] = []
        self._partial: dict[LogStream, str] = {}
        self._over: dict[LogStream, int] = {}  # characters past LINE_CHARS of the partial
        self._kept = 0
        self._chars = 0
        self._dropped = [0, 0]  # lines, characters
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._token = _current.set(self)

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
        if self._pending or self._partial or self._dropped[0]:
            self.close()

    def write(self, stream: LogStream, text: str) -> None:
        """Text written to ``stream``: each whole line is kept; the rest waits for its end
        (at most ``LINE_CHARS`` of it: a line that never ends, like a progress bar's, is
        counted past that)."""
        with self._lock:
            rest = self._partial.pop(stream, "") + text
            if "\n" in rest:
                *done, rest = rest.split("\n")
                over = self._over.pop(stream, 0)
                for line in done:
                    self._add(stream, None, line, _STREAM_RANK[stream], over)
                    over = 0
            if len(rest) > LINE_CHARS:
                self._over[stream] = self._over.get(stream, 0) + len(rest) - LINE_CHARS
                rest = rest[:LINE_CHARS]
            if rest or stream in self._over:
                self._partial[stream] = rest

    def emit(self, level: str, message: str, levelno: int) -> None:
        """A logging record or a warning."""
        with self._lock:
            self._add("log", level, message, levelno)

    def _add(
        self, stream: LogStream, level: str | None, message: str, loud: int, over: int = 0
    ) -> None:
        if self._kept >= MAX_LINES or self._chars >= MAX_CHARS:
            self._dropped[0] += 1
            self._dropped[1] += len(message) + over
            return
        if len(message) > LINE_CHARS:
            over += len(message) - LINE_CHARS
            message = message[:LINE_CHARS]
        if over:
            message = f"{message}... [{over} more characters]"
        self._kept += 1
        self._chars += len(message)
        self._pending.append((time.time(), stream, level, message))
        if loud >= self._urgent or len(self._pending) >= BATCH:
            self._send()

    def _send(self) -> None:
        lines, self._pending = self._pending, []
        token = _current.set(None)  # whatever the sink writes is not the step's
        try:
            self._sink(self.step, lines)
        finally:
            _current.reset(token)

    def close(self) -> None:
        """The step ended: hand on what waits, and say what was dropped."""
        with self._lock:
            for stream, rest in list(self._partial.items()):
                over = self._over.pop(stream, 0)
                self._add(stream, None, rest, _STREAM_RANK[stream], over)
            self._partial.clear()
            lines, chars = self._dropped
            if lines:
                note = (
                    f"{lines} more lines ({chars} characters) were not kept: a step keeps its "
                    f"first {MAX_LINES} lines and {MAX_CHARS} characters."
                )
                self._pending.append((time.time(), "log", "WARNING", note))
            if self._pending:
                self._send()


@contextlib.contextmanager
def outside_steps() -> Iterator[None]:
    """Run a block as if no step ran in this thread: what it writes goes to the real streams
    (the run's own output, written from a thread that runs steps)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


class RoutedStream:
    """``sys.stdout`` or ``sys.stderr`` while the router is installed: a write from a step goes
    to the step's lines, any other to the stream it replaced (``original``)."""

    def __init__(self, original: TextIO, name: LogStream) -> None:
        self.original = original
        self.name = name

    def write(self, text: str) -> int:
        log = _current.get()
        if log is None:
            return self.original.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        log.write(self.name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for text in lines:
            self.write(text)

    def flush(self) -> None:
        if _current.get() is None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...
        return getattr(self.original, name)


class StepHandler(logging.Handler):
    """On the root logger while the router is installed: a record logged from a step goes to
    the step's lines. Outside a step it does what Python does for a record nothing handles
    (``logging.lastResort``) when no other handler would see it, so its presence hides
    nothing."""

    def handle(self, record: logging.LogRecord) -> bool:
        # no handler lock: each step's lines have their own
        log = _current.get()
        if log is None:
            _pass_on(record, logging.getLogger(record.name), forward=False, lastresort=True)
        else:
            _keep(log, record, self)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


class AssetHandler(logging.Handler):
    """On the ``lumbung.asset`` logger while the router is installed, which then takes every
    record from DEBUG up and propagates none: a record from a step goes to the step's lines
    whatever the logging configuration, and each record is passed on to the handlers above
    only when the configured levels let it through, as it always was."""

    def handle(self, record: logging.LogRecord) -> bool:
        log = _current.get()
        if log is not None:
            _keep(log, record, self)
        parent = logging.getLogger(ASSET_LOGGER).parent
        if parent is not None and record.levelno >= parent.getEffectiveLevel():
            _pass_on(record, parent, forward=True, lastresort=log is None)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


def _keep(log: _StepLog, record: logging.LogRecord, handler: logging.Handler) -> None:
    try:
        message = handler.format(record)
    except Exception:
        handler.handleError(record)
        return
    name = record.name
    if not name.startswith(ASSET_LOGGER + ".") and name != "root":
        message = f"{name}: {message}"
    log.emit(record.levelname, message, record.levelno)


def _pass_on(
    record: logging.LogRecord, logger: logging.Logger, *, forward: bool, lastresort: bool
) -> None:
    """With ``forward``, hand ``record`` to the handlers from ``logger`` up as Python would
    (the router's own left out); with ``lastresort``, to ``logging.lastResort`` when there
    are none."""
    if record.name == "root":
        logger = logging.getLogger()
    found = 0
    current: logging.Logger | None = logger
    while current is not None:
        for h in current.handlers:
            if isinstance(h, (StepHandler, AssetHandler)):
                continue
            found += 1
            if forward and record.levelno >= h.level:
                h.handle(record)
        if not current.propagate:
            break
        current = current.parent
    last = logging.lastResort
    if not found and lastresort and last is not None and record.levelno >= last.level:
        last.handle(record)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    log = _current.get()
    if log is None or file is not None:
        _router.showwarning(message, category, filename, lineno, file, line)
        return
    here = str(Path.cwd()) + os.sep
    where = filename[len(here) :] if filename.startswith(here) else filename
    log.emit("WARNING", f"{where}:{lineno}: {category.__name__}: {message}", logging.WARNING)


class _Router:
    """What the router replaced, and how many runs use it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.handler = StepHandler()
        self.asset_handler = AssetHandler()
        self.showwarning: Callable[..., None] = warnings.showwarning
        self.owns = False

    def install(self) -> None:
        with self.lock:
            self.users += 1
            if self.users > 1:
                return
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if stream is not None and not isinstance(stream, RoutedStream):
                    setattr(sys, name, RoutedStream(stream, name))
            asset_logger = logging.getLogger(ASSET_LOGGER)
            # context.log's records from DEBUG up are kept, unless that logger is configured
            # (a level or handlers of its own): then its configuration applies
            self.owns = (
                asset_logger.level == logging.NOTSET
                and asset_logger.propagate
                and not asset_logger.handlers
            )
            if self.owns:
                asset_logger.setLevel(logging.DEBUG)
                asset_logger.propagate = False
                asset_logger.addHandler(self.asset_handler)
            logging.getLogger().addHandler(self.handler)
            if warnings.showwarning is not _show_warning:
                self.showwarning = warnings.showwarning
                warnings.showwarning = _show_warning

    def uninstall(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users > 0:
                return
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if isinstance(stream, RoutedStream):
                    setattr(sys, name, stream.original)
            logging.getLogger().removeHandler(self.handler)
            if self.owns:
                asset_logger = logging.getLogger(ASSET_LOGGER)
                asset_logger.removeHandler(self.asset_handler)
                asset_logger.propagate = True
                asset_logger.setLevel(logging.NOTSET)
                self.owns = False
            if warnings.showwarning is _show_warning:
                warnings.showwarning = self.showwarning


_router = _Router()


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """The router, installed for the block (and for as long as any other block holds it)."""
    _router.install()
    try:
        yield
    finally:
        _router.uninstall()


def install_for_life() -> None:
    """Install the router for the rest of this process (a worker process's)."""
    _router.install()
