"""Lumbung's error types: one small hierarchy, so callers catch exactly what they mean.

::

    LumbungError
    ├── DefinitionError (ValueError)   the project's assets are invalid; carries every problem
    │   └── InvalidKeyError            a key segment breaks the key rule
    ├── SelectionError (ValueError)    a selection string is malformed or matches nothing
    ├── PartitionError (ValueError)    a partition key, a --partitions range or "now" is malformed
    ├── UnknownAssetError (KeyError)   a key names no asset of the project
    │   └── AmbiguousAssetError        a bare name is the last segment of several keys
    ├── PlanError                      a plan cannot run (an unselected upstream was never built)
    │   └── AssetsLockedError          another live run holds assets of the plan (no wait)
    ├── ProjectError                   no project found, bad config, a module fails to import
    ├── StateError                     the state store is corrupt, newer, or locked
    │   └── FencedError                a worker may not publish: its run is gone or lost a lock
    ├── IOManagerError                 a manager cannot store or load a value
    │   └── ConversionError            a value's column cannot become a stored column
    └── AssetExecutionError            user code raised; the original is ``__cause__``
        └── CheckFailedError           a blocking data check failed: the output was not published

Every message names the asset or file involved and says how to fix it. Definition problems are
collected and raised together, never one at a time. ``exception_message`` reads the message of
any exception, the user's included, without ever raising.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


class LumbungError(Exception):
    """Base class of every error Lumbung raises on purpose."""


#: What stands for the message of an exception whose ``__str__`` fails (Python's own words).
UNPRINTABLE = "<exception str() failed>"


def exception_message(exc: BaseException) -> str:
    """``str(exc)``; ``<exception str() failed>`` (as Python's tracebacks put it) when the
    exception's own ``__str__`` raises or returns something other than a string, as user code
    may define it."""
    try:
        text = str(exc)
    except Exception:
        return UNPRINTABLE
    return text if isinstance(text, str) else UNPRINTABLE


def describe_exception(exc: BaseException) -> str:
    """``TypeName: message`` (``TypeName`` alone when the message is empty); never raises."""
    message = exception_message(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, as a short reason (its type's name when the
    message is empty); never raises."""
    lines = exception_message(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where it is, what is wrong, and the fix."""

    message: str
    asset: str | None = None
    location: str | None = None  # "file.py:12"

    def __str__(self) -> str:
        where = ""
        if self.asset and self.location:
            where = f"{self.asset} ({self.location}): "
        elif self.asset:
            where = f"{self.asset}: "
        elif self.location:
            where = f"{self.location}: "
        return where + self.message

    def relative_to(self, root: Path) -> Problem:
        """This problem with its file named relative to the project folder ``root``."""
        if not self.location:
            return self
        file, sep, line = self.location.rpartition(":")
        if not sep or not line.isdigit():
            return self
        return replace(self, location=f"{display_path(file, root)}:{line}")


def display_path(file: str, root: Path) -> str:
    """A file as messages name it: relative to the project folder ``root`` when inside it
    (``pipeline/reports.py``), else as given."""
    base = str(root)
    if file.startswith(base) and file[len(base) : len(base) + 1] == os.sep:
        return file[len(base) + 1 :]
    return file


class DefinitionError(LumbungError, ValueError):
    """The project's definitions are invalid. ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            lines = [f"{len(self.problems)} problems in the project's definitions:"]
            lines += [f"  - {p}" for p in self.problems]
            text = "\n".join(lines)
        super().__init__(text)


class InvalidKeyError(DefinitionError):
    """A string that cannot be an asset key."""


class SelectionError(LumbungError, ValueError):
    """A selection string is malformed, or a plain name in it matches no asset."""


class PartitionError(LumbungError, ValueError):
    """A partition key, a selection of partitions (``--partitions``) or a pinned "now"
    (``--as-of``, ``LUMBUNG_NOW``) is malformed, or names no partition; the message names the
    text, the partitions definition and the expected form."""


class UnknownAssetError(LumbungError, KeyError):
    """A key names no asset of the project; the message suggests the closest one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousAssetError(UnknownAssetError):
    """A bare name is the last segment of several assets' keys; the message lists them."""


class PlanError(LumbungError):
    """A plan cannot be carried out as asked (for example, an upstream was never built)."""


class AssetsLockedError(PlanError):
    """Another live run holds some of the plan's assets and this run did not (or no longer)
    wait for them. Nothing was run or recorded. ``conflicts`` lists the held locks
    (``assets_core.storage.state.LockConflict``: step, run id and pid)."""

    def __init__(self, message: str, conflicts: Sequence[Any] = ()) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__(message)


class ProjectError(LumbungError):
    """A project cannot be found or loaded: missing config, bad config, failing import."""


class StateError(LumbungError):
    """The state store cannot be used: corrupt, written by a newer Lumbung, or locked."""


class FencedError(StateError):
    """A step's output was not published: the run it belongs to is gone, or another run
    holds the step's lock now. Raised inside an IO manager's publish (``OutputContext.
    publishing``), which then leaves the stored output as it was."""


class IOManagerError(LumbungError):
    """An IO manager cannot store or load a value."""


class ConversionError(IOManagerError):
    """A value cannot be converted to the form an IO manager stores (an Arrow table): a column
    mixes types, two columns share a name, a column is complex or sparse. The message names
    the column and the fix, not the asset or the manager: whoever catches it adds those."""


class AssetExecutionError(LumbungError):
    """An asset's own code raised, or gave back what cannot be stored. The user's exception is
    ``__cause__`` (when the step ran in this process); ``user_traceback`` holds its traceback
    with Lumbung's own frames left out, wherever it ran."""

    def __init__(self, key: str, message: str, user_traceback: str = "") -> None:
        self.key = key
        self.user_traceback = user_traceback
        super().__init__(f"{key}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries with its fields
        return (
            type(self),
            (self.key, str(self).removeprefix(f"{self.key}: "), self.user_traceback),
        )


class CheckFailedError(AssetExecutionError):
    """A blocking data check failed on a step's new output, which was therefore not published
    (the step fails with reason ``check_failed``; the previous version stays)."""
