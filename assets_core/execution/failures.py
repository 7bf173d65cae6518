"""Who failed when a step fails, and how it is told.

A step has three parts, and a failure is blamed on the part it came from:

- **the asset's own code** raised: the user's failure. The error is ``TypeName: message`` with
  the user's traceback, Lumbung's own frames left out (``user_failure``);
- **loading an input** or **storing the output** failed: Lumbung's, its IO manager's, or the
  machine's (a full disk, no permission), or a value that cannot become a stored column. The
  error is one line naming the asset, the manager and the cause, with no traceback
  (``load_failure``, ``store_failure``);
- anything Lumbung raised on purpose (a ``LumbungError``) already names the asset: it stays;
  anything else Lumbung raised is a fault of Lumbung's, said in one line (``engine_failure``).

Every failure also keeps its whole traceback, every frame of Lumbung's included
(``full_traceback``), which ``lumbung --debug materialize`` prints.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from assets_core.errors import (
    AssetExecutionError,
    ConversionError,
    LumbungError,
    describe_exception,
)
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.oserrors import explain

__all__ = [
    "engine_failure",
    "from_duckdb",
    "full_traceback",
    "load_failure",
    "store_failure",
    "user_failure",
    "user_traceback",
]

_HERE = Path(__file__).resolve()
#: Lumbung's own code: the engine and the built-in IO managers (never the user's frames)
_ENGINE_DIRS = tuple(str(p) + os.sep for p in (_HERE.parents[1], _HERE.parents[2] / "io_managers"))
_DEBUG_HINT = "run with --debug to see where"


def user_failure(step: StepKey, exc: Exception) -> LumbungError:
    """The asset's own code raised ``exc``."""
    return _caused(
        AssetExecutionError(str(step), describe_exception(exc), user_traceback(exc)), exc
    )


def store_failure(step: StepKey, manager: str, exc: Exception, relation: bool) -> LumbungError:
    """Storing the output through ``manager`` raised ``exc``; ``relation`` says the value was a
    DuckDB relation, whose SQL runs only as it is stored (so its errors are the user's)."""
    if isinstance(exc, ConversionError):
        message = f"the {manager} IO manager cannot store {exc}"
    elif isinstance(exc, LumbungError):
        return exc
    elif relation and from_duckdb(exc):
        message = f"the DuckDB relation it returned failed as it was stored: {_said(exc)}"
    elif isinstance(exc, OSError) and exc.errno:
        message = f"the {manager} IO manager cannot store the output {explain(exc)}."
    else:
        message = (
            f"the {manager} IO manager failed to store the output ({_said(exc)}); "
            f"this is not the asset's code failing: {_DEBUG_HINT}."
        )
    return _caused(AssetExecutionError(str(step), message), exc)


def load_failure(step: StepKey, param: str, upstream: AssetKey, exc: Exception) -> LumbungError:
    """Loading input ``param`` (the output of ``upstream``) raised ``exc``."""
    what = f"input {param!r} ({upstream})"
    if isinstance(exc, ConversionError):
        message = f"{what} cannot be converted: {exc}"
    elif isinstance(exc, LumbungError):
        return exc
    elif isinstance(exc, OSError) and exc.errno:
        message = f"cannot load {what} {explain(exc, 'read')}."
    else:
        message = (
            f"loading {what} failed ({_said(exc)}); this is not the asset's code "
            f"failing: {_DEBUG_HINT}."
        )
    return _caused(AssetExecutionError(str(step), message), exc)


def engine_failure(step: StepKey, exc: Exception) -> LumbungError:
    """Lumbung itself raised ``exc`` around the asset (neither its code nor its storage)."""
    message = f"Lumbung failed while running it ({_said(exc)}); {_DEBUG_HINT}."
    return _caused(AssetExecutionError(str(step), message), exc)


def _said(exc: BaseException) -> str:
    """``TypeName: the first line of its message`` (DuckDB adds lines quoting the SQL)."""
    lines = describe_exception(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _caused(error: LumbungError, cause: BaseException) -> LumbungError:
    error.__cause__ = cause
    return error


def from_duckdb(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB's (or pyarrow's stream reader passing one on as an
    ``OSError`` without an error number: ``"Invalid Input Error: ..."``)."""
    module = type(exc).__module__.split(".", 1)[0]
    if module in ("duckdb", "_duckdb"):
        return True
    return isinstance(exc, OSError) and not exc.errno and " Error: " in str(exc)


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with Lumbung's own frames left out."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_ENGINE_DIRS)
    ]
    text = "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return "Traceback (most recent call last):\n" + text if frames else text


def full_traceback(exc: BaseException) -> str:
    """Every frame of ``exc`` and of what caused it, Lumbung's included (for ``--debug``)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
