"""Text from a project or its data made safe to print on a terminal: control characters are
shown as escapes instead of being obeyed.

Whatever the ``lumbung`` command prints that came from a project or its data (asset
descriptions, tags and owners, column names, values, paths, a run's selection, error messages,
a user's traceback) may hold control characters. An ESC starts a terminal escape sequence that
can recolour the screen, move the cursor, retitle the window or hide what follows; a BEL rings;
a CR sends the cursor back to overwrite the line. ``printable`` writes each one as the escape
Python's ``repr`` would (``\\x1b``, ``\\x07``, ``\\r``), so the terminal shows it and obeys
nothing. It covers the C0 controls (TAB and LF included: one value stays on one line), DEL, the
C1 controls U+0080 to U+009F (U+009B is a one-character CSI), and the Unicode bidirectional
overrides and isolates (U+202A to U+202E, U+2066 to U+2069), which reorder on screen the text
that follows them. ``--json`` output needs none of this: JSON escapes control characters itself.
"""

from __future__ import annotations

import re

__all__ = ["has_controls", "printable", "printable_lines"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a character ``printable`` escapes."""
    return _UNSAFE.search(text) is not None


def printable(text: object) -> str:
    """``str(text)`` with every control character written as a visible escape."""
    value = text if isinstance(text, str) else str(text)
    if _UNSAFE.search(value) is None:  # the common case: nothing to change
        return value
    return _UNSAFE.sub(_escape, value)


def printable_lines(text: object) -> list[str]:
    """The lines of ``text`` (split at LF only), each made ``printable``."""
    value = text if isinstance(text, str) else str(text)
    return [printable(line) for line in value.split("\n")]
