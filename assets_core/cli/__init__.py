"""The ``lumbung`` command line: a thin typer layer over the Python API.

This package is the only part of ``assets_core`` that may import ``io_managers`` (lazily).
Importing it must stay cheap: ``lumbung --help`` loads no pandas, pyarrow or duckdb.
"""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``lumbung`` command."""
    try:
        from assets_core.cli.app import run

        run()
    except KeyboardInterrupt:  # Ctrl-C before a command took charge of it (importing)
        import signal
        import sys

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut the exit short
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    except SystemExit as exc:
        from assets_core.cli.common import EXIT_INTERRUPTED, interrupt_reported

        # typer turns a Ctrl-C that lands in its own code (building the command, before ours
        # runs) into a silent exit 130: say what happened, in the one line every exit has.
        if exc.code == EXIT_INTERRUPTED and not interrupt_reported():
            import signal
            import sys

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.stderr.write("error: interrupted\n")
        raise
