"""An operating system's refusal (``OSError``) told to the person running Lumbung: the cause
in plain words and what to do about it, for messages that name the file themselves.

``explain(exc)`` gives ``"(No space left on device); free some space on that disk, or ..."``,
to follow ``cannot write <file> ``.
The cause comes from the error number, not the text: libraries wrap the system's words in
their own (pyarrow: ``"Error writing bytes to file. Detail: [errno 28] ..."``).
"""

from __future__ import annotations

import errno
import os

__all__ = ["errno_in", "explain", "reason", "remedy"]

_REMEDIES: dict[int, str] = {
    errno.ENOSPC: "free some space on that disk, or use a path on another one",
    errno.EDQUOT: "free some of this user's disk quota, or use a path on another disk",
    errno.EACCES: "check that this user may {verb} there, or use another path",
    errno.EPERM: "check that this user may {verb} there, or use another path",
    errno.EROFS: "that filesystem is mounted read-only; use a path on a writable one",
    errno.ENOENT: "create the folder it goes in first, or use another path",
    errno.EISDIR: "give the path of a file, not a folder",
    errno.ENOTDIR: "a file stands where a folder of the path should be; use another path",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.EIO: "the disk reported an input/output error; check it",
}


def reason(exc: OSError) -> str:
    """The cause in the system's words (``No space left on device``)."""
    if exc.errno:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__


def explain(exc: OSError, verb: str = "write") -> str:
    """``(<reason>); <what to do>`` (``(<reason>)`` alone when there is nothing particular to
    do), to follow ``cannot write <file> ``; ``verb`` is what failed: ``write`` or ``read``."""
    fix = remedy(exc.errno or 0, verb)
    cause = reason(exc)
    return f"({cause}); {fix}" if fix else f"({cause})"


def remedy(code: int, verb: str = "write") -> str | None:
    """What to do about error number ``code`` (``None`` when nothing particular helps)."""
    text = _REMEDIES.get(code)
    return None if text is None else text.format(verb=verb)


def errno_in(text: str) -> int | None:
    """The error number whose words ``text`` quotes (a library's message that carries the
    system's words but no number: DuckDB's ``... No space left on device``), if any."""
    for code in _REMEDIES:
        if os.strerror(code) in text:
            return code
    return None
