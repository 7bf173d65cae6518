"""``Server``: the loop of ``lumbung serve``, one object per process.

Each turn (``step``) it reaps the runs that ended, then launches what is due: each schedule's
ticks up to now, each sensor whose interval has passed. A tick is inserted into the state store
before its run starts (``TickLog.insert_tick``; a tick already there is never run again), and
a tick whose schedule already has ``max_runs`` runs running is recorded as skipped. Between
turns it sleeps until the next tick is due (at most ``POLL_S`` while runs run, to reap them),
so an idle server costs next to nothing.

On start (``recover``) it settles the ticks a previous server left ``launched`` (their runs
died with it: ``interrupted``, or how their run ended if it recorded that), and runs the ticks
missed while no server ran, by each schedule's ``catch_up``. ``run`` loops until its ``stop``
event is set, then stops launching and waits up to ``grace`` seconds for running runs before
ending them. The loop may run in any thread, so an ASGI app can be served beside it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from assets_core.automation import launcher
from assets_core.automation.clock import Clock
from assets_core.automation.due import catch_up, next_tick, tick_id, ticks_between
from assets_core.automation.evaluate import (
    Launch,
    custom_sensor_launches,
    schedule_launch,
    sensor_launch,
)
from assets_core.automation.launcher import Child
from assets_core.errors import LumbungError, StateError
from assets_core.model.automation import Schedule, Sensor
from assets_core.storage import runlock
from assets_core.storage.ticks import TickLog, TickRecord

if TYPE_CHECKING:
    from assets_core.session import Session

__all__ = ["POLL_S", "Server", "tick_log"]

#: the longest sleep between two turns while runs are running (how soon an end is noticed)
POLL_S = 0.5
#: the longest sleep when nothing runs (a new schedule in an edited project is seen this soon)
IDLE_S = 60.0


def tick_log(session: Session) -> TickLog:
    """The session's state store as a ``TickLog``; ``StateError`` when it keeps no ticks."""
    state = session.state
    if not hasattr(state, "insert_tick"):
        raise StateError(
            "schedules and sensors need the SQLite state store (the default); this session's "
            "store keeps no ticks."
        )
    return state  # type: ignore[return-value]


class Server:
    """Evaluates ``session``'s schedules and sensors on ``clock`` and launches their runs;
    ``log`` gets one line per tick decided and one per run ended."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        log: Callable[[str], None],
        *,
        grace: float = 30.0,
        launch: Callable[[Launch, float], Child] | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.log = log
        self.grace = grace
        self.ticks = tick_log(session)
        self.started_at = clock.now()
        self.running: dict[str, list[Child]] = {}
        #: missed ticks to catch up on, each launched once its schedule has room
        self.backlog: dict[str, list[Launch]] = {}
        self._next_tick: dict[str, datetime] = {}
        self._next_look: dict[str, datetime] = {}
        self._launch = launch or (
            lambda item, at: launcher.start(session.root, session.storage, item, at)
        )

    # -- starting --------------------------------------------------------------------------

    def recover(self) -> list[Launch]:
        """Settle the ticks a previous server left launched, and launch the ticks missed
        while none ran (by ``catch_up``); return those launches."""
        for record in self.ticks.ticks(outcomes=["launched"], limit=10_000):
            self._settle(record)
        last = self.ticks.last_ticks()
        now = self.started_at
        launched: list[Launch] = []
        for schedule in self.session.defs.schedules.values():
            previous = last.get(schedule.name)
            if previous is not None and previous.kind == "schedule":
                since = datetime.fromtimestamp(previous.scheduled_at, now.tzinfo)
                missed = ticks_between(schedule, since, now)
                evaluated = (self._evaluate(schedule, at) for at in catch_up(schedule, missed))
                queue = [item for item in evaluated if item is not None]
                if queue:
                    self.backlog[schedule.name] = queue
                    launched += self._drain(schedule)
                if missed and schedule.catch_up != "all" and len(missed) > 1:
                    self.log(
                        f"{_iso(now)} schedule {schedule.name}: {len(missed)} ticks missed "
                        f"while no server ran; catch_up={schedule.catch_up!r} ran "
                        f"{len(catch_up(schedule, missed))}"
                    )
            self._next_tick[schedule.name] = next_tick(schedule, now)
        return launched

    def _settle(self, record: TickRecord) -> None:
        """A tick left launched by a server that is gone: how its run ended, if it recorded
        that, else interrupted."""
        pid = record.pid
        run_id = None if pid is None else self.ticks.run_of_pid(pid, record.recorded_at - 1)
        if run_id is not None and runlock.probe(self.session.storage, run_id):
            # still running: started by `schedules tick` in another process, say
            self.log(
                f"{_iso(self.clock.now())} {record.kind} {record.name} tick {record.tick}: "
                f"its run {run_id} (pid {pid}) still runs; left to the process that started it"
            )
            return
        outcome = "interrupted"
        if run_id is not None:
            found = [r for r in self.session.state.runs(limit=10_000) if r.run_id == run_id]
            if found and found[0].status in ("success", "failed"):
                outcome = "success" if found[0].status == "success" else "failed"
        self.ticks.update_tick(
            record.name,
            record.tick,
            outcome=outcome,  # type: ignore[arg-type]
            run_id=run_id,
            ended_at=time.time(),
            detail=None if outcome != "interrupted" else "the server stopped while it ran",
        )
        self.log(
            f"{_iso(self.clock.now())} {record.kind} {record.name} tick {record.tick}: "
            f"{outcome} (left running by a previous server)"
        )

    # -- one turn --------------------------------------------------------------------------

    def step(self, now: datetime | None = None) -> list[Launch]:
        """Reap ended runs, then launch whatever is due at ``now`` (default: the clock's)."""
        now = now or self.clock.now()
        self.reap()
        launched: list[Launch] = []
        defs = self.session.defs
        for name in list(self.backlog):
            owner = defs.schedules.get(name)
            if owner is None:
                del self.backlog[name]
            else:
                launched += self._drain(owner)
        for schedule in defs.schedules.values():
            due = self._next_tick.get(schedule.name)
            if due is None:
                due = self._next_tick[schedule.name] = next_tick(schedule, self.started_at)
            if due > now:
                continue
            for at in ticks_between(schedule, due - timedelta(microseconds=1), now, limit=1000):
                launched += self._tick_of(schedule, at)
            self._next_tick[schedule.name] = next_tick(schedule, now)
        for sensor in defs.sensors.values():
            look = self._next_look.get(sensor.name, self.started_at)
            if look > now:
                continue
            self._next_look[sensor.name] = now + timedelta(seconds=sensor.every)
            if self.running.get(sensor.name):
                continue  # its run still runs: look again once it has ended
            launched += self._look(sensor, now)
        return launched

    def _evaluate(self, schedule: Schedule, at: datetime) -> Launch | None:
        """What ``schedule``'s tick at ``at`` runs; when that cannot be told (the project
        changed under the server: a selection that no longer matches), the tick is recorded
        failed, with the reason, and logged."""
        try:
            return schedule_launch(self.session, schedule, at)
        except LumbungError as exc:
            record = TickRecord(
                name=schedule.name,
                tick=tick_id(at),
                kind="schedule",
                scheduled_at=at.timestamp(),
                recorded_at=time.time(),
                outcome="failed",
                selection=schedule.select,
                ended_at=time.time(),
                detail=str(exc),
            )
            if self.ticks.insert_tick(record):
                self.log(f"{_iso(at)} schedule {schedule.name} tick {tick_id(at)}: failed: {exc}")
            return None

    def _tick_of(self, schedule: Schedule, at: datetime) -> list[Launch]:
        item = self._evaluate(schedule, at)
        return [] if item is None else self._run(schedule, item)

    def _drain(self, schedule: Schedule) -> list[Launch]:
        """Launch missed ticks of ``schedule`` while it has room for another run."""
        queue = self.backlog.get(schedule.name, [])
        launched: list[Launch] = []
        while queue and len(self._alive(schedule.name)) < schedule.max_runs:
            launched += self._run(schedule, queue.pop(0))
        if not queue:
            self.backlog.pop(schedule.name, None)
        return launched

    def _alive(self, name: str) -> list[Child]:
        return [c for c in self.running.get(name, []) if c.process.poll() is None]

    def _look(self, sensor: Sensor, now: datetime) -> list[Launch]:
        try:
            if sensor.function is None:
                found = sensor_launch(self.session, sensor, now)
                launches = [] if found is None else [found]
            else:
                launches = custom_sensor_launches(sensor, now, self.session.root)
        except LumbungError as exc:
            self.log(f"{_iso(now)} sensor {sensor.name}: {exc}")
            return []
        done = []
        for item in launches:
            done += self._run(sensor, item)
        return done

    def _run(self, owner: Schedule | Sensor, item: Launch) -> list[Launch]:
        """Record ``item``'s tick, then launch it, or record it skipped."""
        running = self._alive(owner.name)
        recorded = time.time()
        base = TickRecord(
            name=item.name,
            tick=item.tick,
            kind=item.kind,
            scheduled_at=item.scheduled_at.timestamp(),
            recorded_at=recorded,
            outcome="launched",
            selection=item.select,
            partitions=item.partitions,
            detail=item.detail,
        )
        where = f"{_iso(item.scheduled_at)} {item.kind} {item.name} tick {item.tick}"
        if len(running) >= owner.max_runs:
            if isinstance(owner, Sensor):
                return []  # a sensor asks again at its next look: nothing is lost or recorded
            pids = ", ".join(str(c.process.pid) for c in running)
            why = (
                f"skipped: its previous run still runs (pid {pids})"
                if owner.max_runs == 1
                else f"skipped: max_runs={owner.max_runs} runs still run (pids {pids})"
            )
            skipped = replace(base, outcome="skipped", detail=why)
            if self.ticks.insert_tick(skipped):
                self.log(f"{where}: {why}")
            return []
        if not self.ticks.insert_tick(base):
            return []  # recorded before: this tick ran (or was decided) already
        for name, keys in item.add_partitions.items():
            self.session.state.add_dynamic_keys(name, list(keys))
        try:
            child = self._launch(item, recorded)
        except OSError as exc:
            self.ticks.update_tick(
                item.name,
                item.tick,
                outcome="failed",
                ended_at=time.time(),
                detail=f"could not start its run: {exc}",
            )
            self.log(f"{where}: failed: could not start its run ({exc})")
            return []
        self.ticks.update_tick(item.name, item.tick, outcome="launched", pid=child.process.pid)
        self.running.setdefault(owner.name, []).append(child)
        what = " ".join(item.args()[2:]) or "every asset"
        self.log(f"{where}: launched (pid {child.process.pid}) {what}")
        return [item]

    def reap(self) -> None:
        """Record the outcome of each run that ended."""
        for name, children in list(self.running.items()):
            alive = []
            for child in children:
                code = child.process.poll()
                if code is None:
                    alive.append(child)
                    continue
                self._ended(child, code)
            if alive:
                self.running[name] = alive
            else:
                del self.running[name]

    def _ended(self, child: Child, code: int) -> None:
        item = child.launch
        outcome = launcher.outcome_of(code)
        run_id = self.ticks.run_of_pid(child.process.pid, child.started_at - 1)
        detail = None if outcome == "success" else launcher.last_line(child.log)
        self.ticks.update_tick(
            item.name,
            item.tick,
            outcome=outcome,
            run_id=run_id,
            ended_at=time.time(),
            detail=detail,
        )
        took = time.time() - child.started_at
        tail = f": {detail}" if detail and outcome == "failed" else ""
        where = f"{_iso(item.scheduled_at)} {item.kind} {item.name} tick {item.tick}"
        self.log(f"{where}: {outcome} (run {run_id or 'not recorded'}, {took:.1f} s){tail}")
        self._notify(item, outcome, run_id, detail, where)

    def _notify(
        self, item: Launch, outcome: str, run_id: str | None, detail: str | None, where: str
    ) -> None:
        """Send ``[notify]``'s messages about a run that ended; a failure is a log line."""
        config = self.session.config
        settings = None if config is None else config.notify
        if settings is None:
            return
        from assets_core.automation.notify import message, send

        body = message(
            project=str(self.session.root),
            name=item.name,
            kind=item.kind,
            tick=item.tick,
            outcome=outcome,
            run_id=run_id,
            detail=detail,
        )
        for line in send(settings, body):
            self.log(f"{where}: {line}")

    def tick(self, name: str, at: datetime) -> list[Launch]:
        """Evaluate the schedule or sensor ``name`` once at ``at``, as a turn would, and
        launch what it asks for (``lumbung schedules tick``)."""
        defs = self.session.defs
        owner = defs.schedules.get(name) or defs.sensors.get(name)
        if owner is None:
            known = ", ".join(sorted([*defs.schedules, *defs.sensors])) or "none"
            raise LumbungError(f"no schedule or sensor named {name!r} (known: {known}).")
        if isinstance(owner, Schedule):
            return self._tick_of(owner, at)
        return self._look(owner, at)

    def wait(self) -> None:
        """Wait for every running run to end, recording each."""
        while self.running:
            time.sleep(0.05)
            self.reap()

    # -- the loop --------------------------------------------------------------------------

    def seconds_to_next(self, now: datetime) -> float:
        """Real seconds until the next tick or look is due (at most ``POLL_S`` while runs
        run, ``IDLE_S`` otherwise)."""
        dues = [*self._next_tick.values(), *self._next_look.values()]
        wait = min(((d - now).total_seconds() for d in dues), default=IDLE_S)
        real = self.clock.real_seconds(max(0.0, wait))
        cap = POLL_S if self.running or self.backlog else IDLE_S
        return min(real, cap)

    def run(self, stop: threading.Event) -> None:
        """Recover, then turn until ``stop`` is set; then stop launching, wait up to
        ``grace`` seconds for the running runs, and end those still running."""
        self.recover()
        for sensor in self.session.defs.sensors.values():
            self._next_look.setdefault(sensor.name, self.started_at)
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # the state file locked for long, say: try next turn
                self.log(f"{_iso(self.clock.now())} error: {type(exc).__name__}: {exc}")
            stop.wait(self.seconds_to_next(self.clock.now()))
        self.shutdown()

    def start(self, stop: threading.Event) -> threading.Thread:
        """``run`` in a thread of its own (started, returned), so that the main thread can do
        something else meanwhile, such as serve an ASGI app. The thread lives until ``stop``
        is set and every run has ended: the kernel ends a run with the thread that started
        it, so that thread must not end earlier."""
        thread = threading.Thread(target=self.run, args=(stop,), name="lumbung-serve")
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Wait up to ``grace`` seconds for running runs, then stop them (SIGTERM: each
        records what it finished), and record how each ended."""
        deadline = time.monotonic() + self.grace
        if self.running:
            count = sum(len(c) for c in self.running.values())
            self.log(f"{_iso(self.clock.now())} waiting up to {self.grace:g} s for {count} run(s)")
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap()
        for children in self.running.values():
            for child in children:
                with contextlib.suppress(OSError):
                    child.process.send_signal(signal.SIGTERM)
        for children in self.running.values():
            for child in children:
                try:
                    child.process.wait(timeout=10)
                except Exception:
                    child.process.kill()
                    child.process.wait()
        self.reap()


def _iso(at: datetime) -> str:
    return tick_id(at)
