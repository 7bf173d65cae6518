"""What the UI keeps between requests: answers read from the project and the state store,
reused while neither changed. Two are kept: the status plan of every asset (what ``lumbung
list`` reads; the graph's statuses and the asset pages' root causes come from it) and the
graph's layout (``/api/graph?statuses=0``).

A kept value is reused while all of these hold, and made again otherwise:

- no process wrote to the state store since it was made (a run recorded a step, a check
  ran, ``lumbung wipe``): ``storage.sqlite_watch``;
- no module of the project changed on disk (the next plan loads the project again);
- for the status plan, which also reads files the state store does not track (stored
  outputs, source files): it is less than ``PLAN_AGE`` seconds old, and the page was not
  loaded again since (``/api/meta``, which every load of the page asks first, drops it).

So what the state store does not record (an output file deleted behind Lumbung's back, a
source file edited) is seen on the next load of the page, or once the plan is ``PLAN_AGE``
old. A state store other than SQLite's is never trusted to be unchanged: every request
makes its answer again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assets_core.storage.sqlite_watch import StateWatch

if TYPE_CHECKING:
    from assets_core.model.definitions import Definitions
    from assets_core.planning.planner import Plan
    from assets_core.session import Session

#: seconds the status plan is reused at most
PLAN_AGE = 30.0
#: the names of what is kept
STATUS_PLAN, LAYOUT = "status plan", "layout"


@dataclass(frozen=True)
class _Entry:
    value: Any
    defs: Definitions
    version: int
    made_at: float


class Kept:
    """Values kept while the project and the state store are unchanged (see the module)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._watch = StateWatch()
        self._lock = threading.Lock()

    def drop(self, name: str) -> None:
        """Forget the value kept as ``name``: the next one is made afresh."""
        with self._lock:
            self._entries.pop(name, None)

    def peek(self, name: str, session: Session, max_age: float | None = None) -> Any:
        """The value kept as ``name`` when it may still be used, else ``None``."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            if max_age is not None and time.monotonic() - entry.made_at > max_age:
                return None
            stamp = self._stamp(session)
            if stamp is None or stamp[0] is not entry.defs or stamp[1] != entry.version:
                return None
            return entry.value

    def get(
        self,
        name: str,
        session: Session,
        make: Callable[[], Any],
        max_age: float | None = None,
    ) -> Any:
        """The value kept as ``name``, or ``make()`` (then kept when it can be checked)."""
        found = self.peek(name, session, max_age)
        if found is not None:
            return found
        with self._lock:
            stamp = self._stamp(session)  # read first: a write while making it is seen next
            made_at = time.monotonic()
        value = make()
        if stamp is not None and stamp[0] is session.defs:  # not reloaded while it was made
            with self._lock:
                self._entries[name] = _Entry(value, stamp[0], stamp[1], made_at)
        return value

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self._watch.close()

    def _stamp(self, session: Session) -> tuple[Definitions, int] | None:
        """The definitions and the state store's version now (``None``: they cannot be
        checked, or the project changed on disk and loads again with the next plan)."""
        if session.edited():
            return None
        version = self._watch.version(session.state)
        return None if version is None else (session.defs, version)


def status_plan(kept: Kept, session: Session) -> Plan:
    """The status plan of every asset (``Session.status_plan``), kept for ``PLAN_AGE``."""
    plan: Plan = kept.get(
        STATUS_PLAN,
        session,
        lambda: session.status_plan(session.defs.materialized),
        max_age=PLAN_AGE,
    )
    return plan


def kept_status_plan(kept: Kept, session: Session) -> Plan | None:
    """The kept status plan of every asset when it may still be used, else ``None``."""
    plan: Plan | None = kept.peek(STATUS_PLAN, session, PLAN_AGE)
    return plan
