"""``Session``: a project's definitions bound to the resources that plan and run them.

A ``Session`` owns the state store, the IO managers (a registry by name), and the code-version
cache of one storage folder, and offers the Python API of DESIGN §10 over them: ``plan``,
``materialize``, ``load``, the statuses of the one status rule, and ``close``. It is a context
manager::

    with load_project(".") as session:
        session.materialize(select="+shop_report")

The ``Definitions`` it holds stays a pure value; steps never see the session, only the narrow
environment of ``assets_core.execution.step``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assets_core.errors import (
    DefinitionError,
    PartitionError,
    PlanError,
    ProjectError,
    StateError,
)
from assets_core.execution.checks import checks_of, failing_reasons
from assets_core.execution.runlogs import print_line
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, CoercibleToKey, StepKey, step_of
from assets_core.model.kinds import AnyAsset
from assets_core.model.loader import project_snapshots
from assets_core.model.validate import KeyCheck, check_io_managers, check_storable
from assets_core.partitions.now import resolve_now
from assets_core.partitions.ranges import select as select_keys
from assets_core.partitions.space import KeySpace
from assets_core.planning.partstatus import PartitionCounts, partition_counts
from assets_core.planning.planner import Moved, Plan, build_plan
from assets_core.planning.status import AssetStatus, status_of, status_of_steps
from assets_core.storage.io import (
    InputContext,
    IOManager,
    OutputContext,
    OutputsUnchecked,
    fingerprints,
    key_checker,
    location_of,
    stored_version,
)
from assets_core.storage.loading import load_input
from assets_core.storage.planstate import StoredOutputs, plan_state
from assets_core.storage.registry import MEMORY, IOManagers
from assets_core.storage.state import LogLine, MaterializationRecord, StateStore

if TYPE_CHECKING:
    from assets_core.code_version.versioner import CodeVersion, CodeVersioner
    from assets_core.execution.checkrun import CheckRun
    from assets_core.execution.result import Event, RunResult
    from assets_core.model.graph import AssetGraph
    from assets_core.model.project import ProjectConfig
    from assets_core.planning.selection import AssetInfo, Selection

__all__ = ["ProjectReloaded", "Session", "load_config", "load_project"]

DEFAULT_STORAGE = ".lumbung"


class ProjectReloaded(UserWarning):
    """A session loaded its project again because a module changed on disk."""


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


CODE_VERSION_CACHE = "code_versions.cache"


class Session:
    """``defs`` bound to a storage folder (default ``<root>/.lumbung``: state, outputs,
    caches).

    ``io_managers`` adds managers by name to ``memory``, the built-in ones (``parquet``,
    ``duckdb``) and the installed ones. ``state`` may be a ``StateStore`` or ``"memory"``;
    the default is SQLite in the storage folder. ``config`` is the project's, when it was
    loaded from one (worker processes import the project from it).

    ``read_only``: the session never writes outputs (``plan``, ``list``, ``show``): its IO
    managers open their storage read-only, so a notebook holding the DuckDB warehouse keeps
    nothing waiting, and ``materialize`` is refused. When a manager cannot look at its outputs
    without waiting for a writer, planning takes them as last recorded and ``notes`` says so.
    The state store is written as ever (its caches of file hashes and fingerprints).
    """

    def __init__(
        self,
        defs: Definitions,
        *,
        storage: str | Path | None = None,
        io_managers: Mapping[str, IOManager] | None = None,
        state: StateStore | str | None = None,
        config: ProjectConfig | None = None,
        read_only: bool = False,
    ) -> None:
        self.defs = defs
        self.config = config
        self.read_only = read_only
        #: lines about answers given without looking (outputs a writer held), each once
        self.notes: list[str] = []
        if storage is None:
            storage = config.storage if config is not None else DEFAULT_STORAGE
        self.storage = (defs.root / storage).resolve()
        locations = None if config is None else config.io_locations()
        self.io = IOManagers(self.storage, io_managers, read_only=read_only, locations=locations)
        assets, known, given = list(defs.assets.values()), self.io.names(), set(io_managers or ())
        problems = check_io_managers(assets, known, defs.default_io_manager)
        # the keys of managers given here, or not checked as the project loaded
        unchecked = {
            name
            for name in defs.io_manager_names()
            if name in given or (name not in defs.keys_checked and name in known)
        }
        if unchecked:
            problems += check_storable(
                assets, unchecked, defs.default_io_manager, self._key_checker
            )
        if problems:
            raise DefinitionError([p.relative_to(defs.root) for p in problems])
        if isinstance(state, str) and state not in ("sqlite", MEMORY):
            raise DefinitionError(
                f"state={state!r} is not valid: use 'sqlite', 'memory' or a StateStore."
            )
        self._state_arg = state
        self._state: StateStore | None = None
        # the bytes the project's modules were compiled from (a session loaded from a config)
        self._sources = None if config is None else project_snapshots(str(config.root))

    # ---- resources -----------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The project folder."""
        return self.defs.root

    @property
    def graph(self) -> AssetGraph:
        return self.defs.graph

    @property
    def state(self) -> StateStore:
        """The state store, opened on first use."""
        state = self._state
        if state is None:
            arg = self._state_arg
            if arg is None or arg == "sqlite":
                from assets_core.storage.sqlite import open_state_store

                state = open_state_store(self.storage)
            elif arg == MEMORY:
                from assets_core.storage.state import MemoryStateStore

                state = MemoryStateStore()
            else:
                assert not isinstance(arg, str)
                state = arg
            self._state = state
        return state

    @cached_property
    def versioner(self) -> CodeVersioner:
        """Code versions, cached in the storage folder when the state is."""
        from assets_core.code_version.versioner import CodeVersioner

        persistent = self._state_arg is None or self._state_arg == "sqlite"
        return CodeVersioner(self.storage / CODE_VERSION_CACHE if persistent else None)

    def code_version(self, asset: AnyAsset) -> CodeVersion:
        defs = self.defs
        return self.versioner.version_of(
            asset, asset.spec.io_manager or defs.default_io_manager, defs.root
        )

    def _key_checker(self, manager: str) -> KeyCheck | None:
        """How the IO manager called ``manager`` says why it cannot store a key."""
        return key_checker(self.io.get(manager))

    def io_manager(self, asset: AnyAsset) -> IOManager:
        """The IO manager that stores ``asset``'s output."""
        return self.io.get(self.defs.io_manager_name(asset))

    def close(self) -> None:
        """Release the SQLite state store and every IO manager this session built (a DuckDB
        warehouse file, for one); stores and managers passed in stay the caller's to close."""
        if self._state is not None and self._state_arg in (None, "sqlite"):
            self._state.close()
        self._state = None
        self.io.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- lookups and selection -----------------------------------------------------------------

    def get(self, key: CoercibleToKey) -> AnyAsset:
        """The asset with this key (``UnknownAssetError`` with a suggestion when none)."""
        return self.defs.get(key)

    @cached_property
    def infos(self) -> Mapping[AssetKey, AssetInfo]:
        """What selection methods match on, per asset."""
        from assets_core.planning.selection import infos_of

        return infos_of(self.defs)

    def selection(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
    ) -> Selection:
        """The selection (DESIGN §6) with its warnings (globs or methods that matched nothing).
        ``status:`` reads the statuses of every asset, planned once."""
        from assets_core.planning.selection import select as run_select

        def statuses() -> Mapping[AssetKey, str]:
            return {k: s.status for k, s in self.statuses().items()}

        return run_select(self.graph, lambda: self.infos, select, exclude, status=statuses)

    def select(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
    ) -> frozenset[AssetKey]:
        """The keys a selection names."""
        return self.selection(select, exclude).keys

    # ---- planning --------------------------------------------------------------------------------

    def plan(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        force: bool = False,
        *,
        partitions: str | None = None,
        as_of: str | datetime | None = None,
    ) -> Plan:
        """What ``materialize`` would run with the same arguments, and why. Runs nothing.
        The selection's warnings (a glob or method that matched nothing) come first in
        ``Plan.warnings``.

        ``partitions`` (``"2024-01-01..2024-01-31"``, the text of ``--partitions``) selects
        those partitions of the selected partitioned assets (unpartitioned ones are
        unaffected); ``as_of`` pins "now", which says which partitions exist (default:
        ``LUMBUNG_NOW``, else the clock)."""
        found = self.selection(select, exclude)
        plan = self.plan_keys(found.keys, force=force, partitions=partitions, as_of=as_of)
        if found.warnings:
            plan = replace(plan, warnings=(*found.warnings, *plan.warnings))
        return plan

    def key_space(self, as_of: str | datetime | None = None) -> KeySpace:
        """The partitions that exist at ``as_of`` (default: ``LUMBUNG_NOW``, else the clock),
        with the keys of the project's dynamic sets as the state store keeps them."""
        now = resolve_now(as_of)
        names = self.defs.dynamic_sets
        return KeySpace(now, self.state.dynamic_keys(names) if names else None)

    def chosen_partitions(
        self, selected: frozenset[AssetKey], text: str | None, space: KeySpace
    ) -> dict[AssetKey, frozenset[str]]:
        """The keys ``text`` (``--partitions``) selects of each selected partitioned asset
        (``{}`` for ``None``); ``PartitionError`` when none of them is partitioned."""
        if text is None:
            return {}
        defs = self.defs
        found = {}
        for key in sorted(selected):
            definition = defs.partitions.get(key)
            if definition is None or defs.assets[key].observed:
                continue
            try:
                found[key] = frozenset(select_keys(definition, text, space))
            except PartitionError as exc:
                raise PartitionError(f"{key}: {exc}") from None
        if not found:
            raise PartitionError(
                f"--partitions {text!r}: none of the selected assets is partitioned; select "
                "partitioned assets, or leave out --partitions."
            )
        return found

    def plan_keys(
        self,
        keys: Iterable[AssetKey | str],
        force: bool = False,
        *,
        partitions: str | None = None,
        as_of: str | datetime | None = None,
    ) -> Plan:
        """The plan for exactly these assets (no selection syntax)."""
        self._reload_if_edited()
        selected = frozenset(AssetKey.parse(k) for k in keys)
        space = self.key_space(as_of)
        chosen_partitions = self.chosen_partitions(selected, partitions, space)
        # Planning makes a few objects per step (state records, cached code versions), nearly
        # all kept: with the collector on, its passes over them cost more than the planning.
        enabled = gc.isenabled()
        gc.disable()
        try:
            defs = self.defs
            scope = defs.graph.ancestors(selected) | selected
            in_sources = scope.intersection(defs.sources)
            state = plan_state(self.state.latest(scope.difference(in_sources), detail=False))
            sources = self.observe_sources(in_sources, space)
            # Every recorded output the plan reads or may rebuild: is it there, and is it the
            # one recorded? Each manager is asked about all of its outputs at once.
            stored = self._stored(state.succeeded_by_asset())
            checked = [k for k in scope if checks_of(defs, k)] if defs.has_checks else []
            failing = failing_reasons(state, self.state.latest_checks(checked)) if checked else {}
            plan = build_plan(
                graph=defs.graph,
                assets=defs.assets,
                upstream=defs.upstream,
                selected=selected,
                state=state,
                source_versions=sources,
                code_version=self.code_version,
                stored=stored,
                stored_version=self._stored_version,
                moved=self._moved,
                force=force,
                partitions=defs.partitions,
                edge_mappings=defs.edge_mappings,
                space=space,
                chosen_partitions=chosen_partitions,
                failing_checks=failing,
            )
        finally:
            if enabled:
                gc.enable()
        self.versioner.save_cache()
        if partitions is not None:
            plan = replace(plan, partition_text=partitions)
        if plan.verified:
            self._remember(plan.verified)
        return plan

    def reload(self) -> None:
        """Import the project again (after its modules were edited), keeping the storage,
        state and IO managers."""
        if self.config is None:
            raise ProjectError(
                "these definitions were built in code: import their modules again and make "
                "a new Session."
            )
        from assets_core.model.project import load_definitions

        self.defs = load_definitions(self.config, self.io.names(), self._key_checker)
        self._sources = project_snapshots(str(self.config.root))
        self.__dict__.pop("infos", None)

    def edited(self) -> list[str]:
        """The project's module files that changed on disk since they were imported (the
        next plan loads the project again)."""
        if self._sources is None:
            return []
        root = self.root
        return [_relative(root, path) for path in self._sources.changed()]

    def _reload_if_edited(self) -> None:
        """A session never runs (nor versions) code other than what its modules were
        compiled from: when a module changed on disk since, load the project again, and say
        so."""
        edited = self.edited()
        if not edited:
            return
        self.reload()
        warnings.warn(
            f"{', '.join(edited)} changed on disk since the project was loaded: loaded it again.",
            ProjectReloaded,
            stacklevel=3,
        )

    def _remember(self, verified: Mapping[StepKey, tuple[str, str | None]]) -> None:
        """Keep the new fingerprints of outputs that hold their recorded data, so the next plan
        takes them as they are. Only a saving: storage this process cannot write (a read-only
        copy) plans the same, asking their IO manager each time."""
        with contextlib.suppress(StateError):
            self.state.remember_fingerprints(verified)

    def _replan(self, plan: Plan) -> Plan:
        """``plan`` made again from the state as it is now (after waiting for a lock)."""
        fresh = self.plan_keys(
            plan.selected,
            force=plan.forced,
            partitions=plan.partition_text,
            as_of=plan.space.now if plan.space is not None else None,
        )
        return replace(fresh, warnings=plan.warnings)

    def _stored(self, asked: Mapping[AssetKey, Sequence[str | None]]) -> StoredOutputs:
        """The outputs among the partitions ``asked`` of each asset (``None``: unpartitioned)
        that their IO manager holds, each with its fingerprint as it is now (``""``:
        unknown); one question per manager."""
        by_manager: dict[str, dict[AssetKey, Sequence[str | None]]] = {}
        specs = self.defs.specs
        default = self.defs.default_io_manager
        for key, parts in asked.items():
            by_manager.setdefault(specs[key].io_manager or default, {})[key] = parts
        found: dict[AssetKey, Mapping[str | None, str]] = {}
        for name, group in by_manager.items():
            found.update(self._fingerprints(name, group))
        return StoredOutputs(found)

    def _fingerprints(
        self, name: str, asked: Mapping[AssetKey, Sequence[str | None]]
    ) -> Mapping[AssetKey, Mapping[str | None, str]]:
        """``fingerprints`` of the partitions ``asked`` of each asset from the IO manager
        called ``name``. When it cannot look without waiting for a writer
        (``OutputsUnchecked``), each output is taken as last recorded (``""``: there, its
        fingerprint unknown) and the session notes why, once."""
        try:
            return fingerprints(self.io.get(name), asked, self.defs.specs)
        except OutputsUnchecked as exc:
            if str(exc) not in self.notes:
                self.notes.append(str(exc))
            return {key: dict.fromkeys(parts, "") for key, parts in asked.items()}

    def _stored_version(self, step: StepKey) -> str | None:
        """The data version of ``step``'s output as stored now, if its manager can tell."""
        asset = self.defs.assets[step[0]]
        ctx = OutputContext(step[0], asset.spec, "", step[1])
        return stored_version(self.io_manager(asset), ctx)

    def _moved(self, step: StepKey, last: MaterializationRecord) -> Moved | None:
        """Whether ``step``'s last success was stored where its IO manager does not store it
        now: which manager stored it (one configured here that names that place), and whether
        the old output is still there. ``None`` when it was stored where it is stored now, or
        its manager cannot say where that is (``location_of``)."""
        from assets_core.storage.locations import comparable_location
        from assets_core.storage.orphans import manager_of

        asset = self.defs.assets[step[0]]
        name = self.defs.io_manager_name(asset)
        definition = asset.spec.partitions
        now = location_of(self.io.get(name), step[0], step[1], definition)
        was = last.location
        if now is None or was is None or comparable_location(now) == comparable_location(was):
            return None
        old = manager_of(self.io, step, was, definition)
        left = False
        if old is not None:
            left = step[1] in self._fingerprints(old, {step[0]: [step[1]]}).get(step[0], {})
        return Moved(old, name, left)

    def observe_sources(
        self, keys: Iterable[AssetKey], space: KeySpace | None = None
    ) -> dict[StepKey, str | None]:
        """The current version of each source (of each existing partition of a partitioned
        one, ``None`` where its file is not there), using cached file hashes where the file's
        size and mtime are unchanged; new hashes are saved in one write."""
        from assets_core.storage.sources import (
            observe_partitions,
            observe_source,
            partition_files,
            source_files,
        )

        srcs = [self.defs.sources[k] for k in keys]
        if not srcs:
            return {}
        root = self.root
        if space is None:
            space = self.key_space()
        paths = []
        for s in srcs:
            if s.path is None:
                continue
            if s.spec.partitions is None:
                paths += [str(p) for p in source_files(s, root)]
            else:
                found = partition_files(s, root, space.keys(s.spec.partitions))
                paths += [str(p) for p in found]
        cache = self.state.file_observations(paths) if paths else {}
        versions: dict[StepKey, str | None] = {}
        fresh = []
        for s in srcs:
            if s.spec.partitions is not None:
                keys_of = space.keys(s.spec.partitions)
                by_key, new = observe_partitions(s, root, keys_of, cache)
                versions.update({StepKey(s.key, p): v for p, v in by_key.items()})
            else:
                versions[step_of(s.key)], new = observe_source(s, root, cache)
            fresh.extend(new)
        if fresh:
            self.state.save_file_observations(fresh)
        return versions

    def statuses(
        self, keys: Iterable[AssetKey] | None = None, as_of: str | datetime | None = None
    ) -> dict[AssetKey, AssetStatus]:
        """The status of each of ``keys`` (default: every asset but sources) by the one status
        rule (``assets_core.planning.status``), from a plan of exactly those assets: what
        ``materialize`` would do with them selected. A partitioned asset is as bad as its
        worst partition (``status_of_steps``; its counts: ``partition_counts``)."""
        chosen = self._materialized(keys)
        return self.statuses_in(self.status_plan(chosen, as_of), chosen)

    def statuses_in(self, plan: Plan, keys: Iterable[AssetKey]) -> dict[AssetKey, AssetStatus]:
        """The status of each of ``keys`` in ``plan`` (a status plan with them selected), as
        ``statuses`` reads them."""
        partitioned = self.defs.partitions
        found: dict[AssetKey, AssetStatus] = {}
        for k in keys:
            if k in partitioned:  # as bad as its worst partition
                found[k] = status_of_steps(plan.steps_of(k), k)
            elif (step := plan.step(k)) is not None:
                found[k] = status_of(step)
        return found

    def partition_counts(
        self,
        keys: Iterable[AssetKey] | None = None,
        as_of: str | datetime | None = None,
        partitions: str | None = None,
    ) -> dict[AssetKey, PartitionCounts]:
        """The partitions of each partitioned asset of ``keys`` (default: every asset) by
        status (``assets_core.planning.partstatus``), from the plan ``statuses`` reads;
        ``partitions`` (``--partitions`` text) counts only those."""
        chosen = [k for k in self._materialized(keys) if k in self.defs.partitions]
        if not chosen:
            return {}
        plan = self.status_plan(chosen, as_of)
        only: dict[AssetKey, frozenset[str]] = {}
        if partitions is not None and plan.space is not None:
            only = self.chosen_partitions(frozenset(chosen), partitions, plan.space)
        return {k: c for k in chosen if (c := partition_counts(plan, k, only.get(k))) is not None}

    def _materialized(self, keys: Iterable[AssetKey] | None) -> list[AssetKey]:
        if keys is None:
            return list(self.defs.materialized)
        return [k for k in keys if not self.defs.assets[k].observed]

    def status_plan(self, chosen: Iterable[AssetKey], as_of: str | datetime | None = None) -> Plan:
        """The plan statuses are read from: ``chosen`` selected (their upstream too when an
        upstream was never built)."""
        chosen = list(chosen)
        try:
            return self.plan_keys(chosen, as_of=as_of)
        except PlanError:  # an unselected upstream was never built: plan it too
            return self.plan_keys(self.graph.ancestors(chosen) | set(chosen), as_of=as_of)

    # ---- running and loading --------------------------------------------------------------------

    def materialize(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        force: bool = False,
        executor: str | None = None,
        *,
        workers: int | None = None,
        address: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        plan: Plan | None = None,
        wait: bool | float = True,
        memory_budget: int | None = None,
        on_log: Callable[[LogLine], None] | None = print_line,
        log_level: int = logging.WARNING,
        partitions: str | None = None,
        as_of: str | datetime | None = None,
    ) -> RunResult:
        """Run what is missing or stale in the selection (or everything with ``force``).

        When another run holds some of the steps to run, ``wait=True`` waits for them,
        ``wait=False`` raises ``AssetsLockedError`` at once, and a number waits at most that
        many seconds; a refused run runs and records nothing. ``memory_budget`` bounds the
        bytes of values handed over in memory between steps (default: ``LUMBUNG_MEMORY_BUDGET``,
        else a quarter of the machine's memory, at most 2 GiB; 0 reads every input back).

        What each step logs (``context.log``), prints and warns is kept with the run
        (``session.state.logs(result.run_id, key)``); lines at ``log_level`` or above go to
        ``on_log`` as they come, from any thread: by default to stderr, prefixed with the
        asset (``None`` shows nothing). ``partitions`` (``"2024-01-01..2024-01-31"``) and
        ``as_of`` select partitions as ``plan`` does: each selected partition that is missing
        or stale runs as its own step (a backfill is a materialize over a range).

        ``executor`` names the backend (default: the project config's ``executor``, else
        ``threads``); ``address`` the Dask scheduler of ``executor="dask"`` (default: the
        config's ``dask_address``, else a local cluster started for the run)."""
        from assets_core.execution.run import execute
        from assets_core.execution.step import StepEnvironment

        if self.read_only:
            raise ProjectError(
                "this session was opened read-only (read_only=True), so it cannot "
                "materialize; open one without read_only."
            )
        if isinstance(wait, bool):
            lock_wait, lock_timeout = wait, None
        else:
            if wait < 0:
                raise PlanError(f"wait must be True, False or 0 seconds or more, got {wait}.")
            lock_wait, lock_timeout = True, float(wait)
        if plan is None:
            plan = self.plan(select, exclude, force=force, partitions=partitions, as_of=as_of)
        else:
            edited = self.edited()
            if edited:
                raise ProjectError(
                    f"{', '.join(edited)} changed on disk since this plan was made; make the "
                    "plan again (it loads the project again)."
                )
        text = select if isinstance(select, str) or select is None else " ".join(select)
        return execute(
            plan,
            StepEnvironment(self.defs, self.io),
            self.state,
            replan=self._replan,
            executor=executor or (self.config and self.config.executor) or "threads",
            workers=workers,
            address=address,
            on_event=on_event,
            selection=text,
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            config=self.config,
            memory_budget=memory_budget,
            on_log=on_log,
            log_level=log_level,
        )

    def check(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        force: bool = False,
        *,
        partitions: str | None = None,
    ) -> CheckRun:
        """Run the data checks of the selected assets' stored outputs whose data or code
        changed since they last ran (every one with ``force``) and record the results
        (``lumbung check``). ``partitions`` selects partitions as in ``plan``; by default every
        stored partition of a partitioned asset is checked."""
        from assets_core.execution.checkrun import check_stored

        keys = sorted(k for k in self.select(select, exclude) if checks_of(self.defs, k))
        chosen = self.chosen_partitions(frozenset(keys), partitions, self.key_space())
        stored = self.state.latest(keys, detail=False) if keys else {}
        steps: list[StepKey] = []
        for key in keys:
            if self.defs.assets[key].spec.partitions is None:
                steps.append(step_of(key))
            elif key in chosen:
                steps += [StepKey(key, p) for p in sorted(chosen[key])]
            else:
                steps += sorted(s for s in stored if s.asset == key and stored[s].last)
        return check_stored(self.defs, self.io, self.state, steps, force=force)

    def load(self, key: CoercibleToKey, as_type: Any = None) -> object:
        """The stored value of an asset (or a source's data), as ``as_type`` (default pandas)."""
        a = self.get(key)
        return load_input(self.defs, self.io, InputContext(a.key, a.spec, expected_type=as_type))


def load_project(path: str | Path | None = None, *, read_only: bool = False) -> Session:
    """Find the project at ``path`` (a folder, a ``.py`` file or a module name; default: search
    upward from the current folder), import its modules and open a ``Session`` over it
    (``read_only``: see ``Session``)."""
    from assets_core.model.project import find_project

    return load_config(find_project(path), read_only=read_only)


def load_config(config: ProjectConfig, *, read_only: bool = False) -> Session:
    """Import the project ``config`` describes and open a ``Session`` over it."""
    from assets_core.model.project import load_definitions

    # The managers the assets use check the keys they store as the project loads, so a key
    # they cannot store is reported with every other problem of the definitions.
    managers = IOManagers(config.storage, locations=config.io_locations())

    def checker_of(name: str) -> KeyCheck | None:
        return key_checker(managers.get(name))

    defs = load_definitions(config, managers.names(), checker_of)
    return Session(defs, config=config, read_only=read_only)
