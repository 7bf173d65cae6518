"""The capture router: each step's lines are its own, whatever runs beside it; output outside a
step passes through; limits hold; installing and uninstalling leave the process as it was."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import warnings
from collections import defaultdict
from collections.abc import Iterator

import pytest

from assets_core.execution import capture
from assets_core.execution.capture import (
    LINE_CHARS,
    MAX_LINES,
    Capture,
    Line,
    RoutedStream,
    installed,
    line_text,
    rank,
)
from assets_core.execution.runlogs import RunLogs
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.state import LogLine, MemoryStateStore


class Collected:
    """A sink that keeps every batch by step, as a run's would."""

    def __init__(self) -> None:
        self.lines: dict[StepKey, list[Line]] = defaultdict(list)
        self.batches = 0
        self.lock = threading.Lock()

    def __call__(self, step: StepKey, lines: list[Line]) -> None:
        with self.lock:
            self.lines[step].extend(lines)
            self.batches += 1

    def text(self, step: StepKey) -> list[tuple[str, str | None, str]]:
        return [(stream, level, message) for _, stream, level, message in self.lines[step]]


@contextlib.contextmanager
def unconfigured() -> Iterator[None]:
    """Logging as a fresh process has it, with the router installed (pytest puts handlers
    of its own on the root logger around each test)."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    for handler in handlers:
        root.removeHandler(handler)
    try:
        with installed():
            yield
    finally:
        for handler in handlers:
            root.addHandler(handler)


def _step(name: str) -> StepKey:
    return StepKey(AssetKey([name]))


def test_steps_in_parallel_threads_each_keep_only_their_own_lines() -> None:
    sink = Collected()
    cap = Capture(sink, urgent=logging.CRITICAL + 1)
    steps = [_step(f"s{i}") for i in range(8)]
    barrier = threading.Barrier(len(steps))

    def work(step: StepKey) -> None:
        with cap.step(step):
            barrier.wait()
            log = logging.getLogger(f"lumbung.asset.{step}")
            for i in range(300):
                print(f"{step} out {i}")
                print(f"{step} err {i}", file=sys.stderr)
                log.info("%s log %d", step, i)
                if i % 100 == 0:
                    warnings.warn(f"{step} warns {i}", stacklevel=1)

    with unconfigured():
        threads = [threading.Thread(target=work, args=(s,)) for s in steps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for step in steps:
        got = sink.text(step)
        assert all(
            message.startswith(f"{step} ") or f" {step} warns" in message for *_, message in got
        )
        assert [m for s, _, m in got if s == "stdout"] == [f"{step} out {i}" for i in range(300)]
        assert [m for s, _, m in got if s == "stderr"] == [f"{step} err {i}" for i in range(300)]
        logged = [(lv, m) for s, lv, m in got if s == "log" and "warns" not in m]
        assert logged == [("INFO", f"{step} log {i}") for i in range(300)]
        warned = [m for s, lv, m in got if s == "log" and "warns" in m]
        assert len(warned) == 3
        assert all(": UserWarning: " in m and m.startswith("tests/") for m in warned), warned


def test_output_outside_a_step_goes_where_it_always_went(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink = Collected()
    cap = Capture(sink)
    with unconfigured():
        assert isinstance(sys.stdout, RoutedStream)
        print("before")
        with cap.step(_step("a")):
            print("inside")
            with capture.outside_steps():
                print("the run's own line")
        logging.getLogger("some.library").warning("no handler: Python's last resort")
    out, err = capsys.readouterr()
    assert out == "before\nthe run's own line\n"
    assert err == "no handler: Python's last resort\n"
    assert sink.text(_step("a")) == [("stdout", None, "inside")]


def test_partial_lines_are_joined_and_the_rest_is_kept_when_the_step_ends() -> None:
    sink = Collected()
    cap = Capture(sink)
    with installed(), cap.step(_step("a")):
        sys.stdout.write("one, ")
        sys.stdout.write("still one\ntwo")
        sys.stdout.writelines([" and more\n", "last without newline"])
    assert sink.text(_step("a")) == [
        ("stdout", None, "one, still one"),
        ("stdout", None, "two and more"),
        ("stdout", None, "last without newline"),
    ]


def test_a_chatty_step_keeps_its_first_lines_and_says_how_many_it_dropped() -> None:
    sink = Collected()
    cap = Capture(sink, urgent=logging.CRITICAL + 1)
    with installed(), cap.step(_step("a")):
        for i in range(MAX_LINES + 500):
            print(f"line {i}")
        print("x" * (LINE_CHARS + 10))
    got = sink.text(_step("a"))
    assert len(got) == MAX_LINES + 1
    assert got[MAX_LINES - 1] == ("stdout", None, f"line {MAX_LINES - 1}")
    assert got[-1] == (
        "log",
        "WARNING",
        f"501 more lines ({500 * 10 + LINE_CHARS + 10} characters) were not kept: "
        f"a step keeps its first {MAX_LINES} lines and 1000000 characters.",
    )
    assert sink.batches <= MAX_LINES // capture.BATCH + 2  # handed on in batches


def test_a_very_long_line_is_cut_however_it_is_written() -> None:
    sink = Collected()
    cap = Capture(sink)
    with installed(), cap.step(_step("a")):
        print("y" * (LINE_CHARS * 3))
        for _ in range(LINE_CHARS):  # a progress bar that never ends its line
            sys.stderr.write("\r.")
    cut = "y" * LINE_CHARS + f"... [{LINE_CHARS * 2} more characters]"
    bar = "\r." * (LINE_CHARS // 2) + f"... [{LINE_CHARS} more characters]"
    assert sink.text(_step("a")) == [("stdout", None, cut), ("stderr", None, bar)]


def test_loud_lines_are_handed_on_at_once_quiet_ones_in_batches() -> None:
    sink = Collected()
    cap = Capture(sink, urgent=logging.WARNING)
    with installed(), cap.step(_step("a")):
        print("quiet")
        assert sink.batches == 0
        print("loud", file=sys.stderr)
        assert sink.batches == 1
        logging.getLogger("lumbung.asset.a").error("louder")
        assert sink.batches == 2
    assert sink.text(_step("a")) == [
        ("stdout", None, "quiet"),
        ("stderr", None, "loud"),
        ("log", "ERROR", "louder"),
    ]


def test_other_loggers_are_named_and_exceptions_keep_their_traceback() -> None:
    sink = Collected()
    cap = Capture(sink)
    with installed(), cap.step(_step("a")):
        logging.getLogger("urllib3.pool").warning("retrying")
        try:
            raise ValueError("bad")
        except ValueError:
            logging.getLogger("lumbung.asset.a").exception("it failed")
    (first, second) = sink.text(_step("a"))
    assert first == ("log", "WARNING", "urllib3.pool: retrying")
    assert second[:2] == ("log", "ERROR")
    assert second[2].startswith("it failed\nTraceback (most recent call last):")
    assert second[2].endswith("ValueError: bad")


def test_installing_and_uninstalling_leave_the_process_as_it_was() -> None:
    before = (sys.stdout, sys.stderr, warnings.showwarning, list(logging.getLogger().handlers))
    asset_logger = logging.getLogger("lumbung.asset")
    assert asset_logger.level == logging.NOTSET
    with unconfigured():
        with installed():  # a second run beside the first shares the router
            assert asset_logger.level == logging.DEBUG
            assert not asset_logger.propagate
        assert isinstance(sys.stdout, RoutedStream)
        assert sys.stdout.isatty() == before[0].isatty()  # everything else is the stream's
    after = (sys.stdout, sys.stderr, warnings.showwarning, list(logging.getLogger().handlers))
    assert after == before
    assert (asset_logger.level, asset_logger.propagate) == (logging.NOTSET, True)
    assert asset_logger.handlers == []


class Listed(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_context_log_is_kept_whatever_the_configuration_which_sees_what_it_did() -> None:
    root = logging.getLogger()
    handler = Listed()
    root.addHandler(handler)  # logging configured at the root's WARNING
    try:
        sink = Collected()
        with installed(), Capture(sink).step(_step("a")):
            logging.getLogger("lumbung.asset.a").info("kept, not for the root's handler")
            logging.getLogger("lumbung.asset.a").warning("kept and handled")
            logging.getLogger("library").info("below the library's level")
        assert sink.text(_step("a")) == [
            ("log", "INFO", "kept, not for the root's handler"),
            ("log", "WARNING", "kept and handled"),
        ]
        assert handler.messages == ["kept and handled"]
    finally:
        root.removeHandler(handler)


def test_a_level_set_on_the_asset_logger_applies() -> None:
    asset_logger = logging.getLogger("lumbung.asset")
    asset_logger.setLevel(logging.ERROR)
    try:
        sink = Collected()
        with unconfigured(), Capture(sink).step(_step("a")):
            logging.getLogger("lumbung.asset.a").warning("below the level set")
            logging.getLogger("lumbung.asset.a").error("kept")
        assert sink.text(_step("a")) == [("log", "ERROR", "kept")]
    finally:
        asset_logger.setLevel(logging.NOTSET)


def test_ranks_and_text() -> None:
    assert rank("stdout", None) == logging.INFO
    assert rank("stderr", None) == logging.WARNING
    assert rank("log", "ERROR") == logging.ERROR
    assert rank("log", "CUSTOM") == logging.INFO
    line = LogLine(_step("a"), "r", 0, 0.0, "log", "INFO", "hi")
    assert line_text(line) == "a | INFO: hi"
    assert line_text(LogLine(_step("a"), "r", 1, 0.0, "stdout", None, "x")) == "a | x"


def test_run_logs_number_each_step_across_batches_and_attempts_and_show_loud_ones() -> None:
    store = MemoryStateStore()
    shown: list[str] = []
    logs = RunLogs(store, "r1", lambda line: shown.append(line_text(line)), logging.WARNING)
    a, b = _step("a"), _step("b")
    logs.add(a, [(1.0, "stdout", None, "first attempt")])
    logs.add(b, [(1.0, "log", "WARNING", "b warns")])
    logs.add(a, [(2.0, "stderr", None, "second attempt"), (2.1, "log", "DEBUG", "detail")])
    assert store.logs("r1") == []  # nothing is written until the recorder flushes
    logs.flush()
    got = [(str(x.step), x.seq, x.message) for x in store.logs("r1")]
    assert got == [
        ("a", 0, "first attempt"),
        ("a", 1, "second attempt"),
        ("a", 2, "detail"),
        ("b", 0, "b warns"),
    ]
    assert shown == ["b | WARNING: b warns", "a | second attempt"]
    assert logs.counts() == {a: 3, b: 1}
