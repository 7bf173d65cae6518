"""The ``lumbung`` command line: a thin typer layer over the Python API.

This package is the only part of ``assets_core`` that may import ``io_managers`` (lazily).
Importing it must stay cheap: ``lumbung --help`` loads no pandas, pyarrow or duckdb.
"""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``lumbung`` command."""
    from assets_core.cli.app import run

    run()
