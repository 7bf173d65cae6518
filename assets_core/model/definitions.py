"""``Definitions``: an immutable set of assets and IO managers, and the Python API over it.

Building one resolves each parameter to a key (the asset's own prefix first, then the root),
validates everything at once, and builds the graph. ``plan``, ``materialize`` and ``load`` are
the Python API of DESIGN §10; the CLI is a thin layer over them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, cast

from assets_core.errors import DefinitionError, IOManagerError, LumbungError, PlanError, Problem
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey, CoercibleToKey
from assets_core.model.spec import AnyAsset, Asset, AssetSpec, SourceAsset
from assets_core.model.validate import validate
from assets_core.storage.io import InputContext, IOManager, OutputContext

if TYPE_CHECKING:
    from assets_core.code_version.versioner import CodeVersion, CodeVersioner
    from assets_core.execution.executor import Event, RunResult
    from assets_core.model.project import ProjectConfig
    from assets_core.planning.planner import Plan
    from assets_core.planning.selection import AssetInfo, Selection
    from assets_core.storage.state import AssetState, StateStore

ENTRY_POINT_GROUP = "lumbung.io_managers"
MEMORY = "memory"


def _resolve_ins(
    assets: Sequence[AnyAsset],
) -> tuple[list[AnyAsset], dict[AssetKey, dict[str, AssetKey]]]:
    """Bind each implicit parameter to a key: ``<prefix>/<param>`` if defined, else ``<param>``.
    Returns the assets with resolved specs and, per asset, the parameters left unresolved."""
    known = {a.key for a in assets}
    out: list[AnyAsset] = []
    unresolved: dict[AssetKey, dict[str, AssetKey]] = {}
    for a in assets:
        if not isinstance(a, Asset) or not a.implicit_ins or len(a.spec.key) == 1:
            out.append(a)
            if isinstance(a, Asset):
                ins = a.spec.ins
                for p in a.implicit_ins:
                    if ins[p] not in known:
                        unresolved.setdefault(a.key, {})[p] = ins[p]
            continue
        ins = dict(a.spec.ins)
        for p in a.implicit_ins:
            local = a.key.sibling(p)
            if local in known:
                ins[p] = local
            elif ins[p] not in known:
                unresolved.setdefault(a.key, {})[p] = ins[p]
        out.append(replace(a, spec=replace(a.spec, ins=MappingProxyType(ins))))
    return out, unresolved


@dataclass(frozen=True, slots=True)
class Binding:
    """How one parameter of an asset is fed: the upstream it loads and as what."""

    param: str
    key: AssetKey
    spec: AssetSpec
    annotation: Any
    target: str | None  # values.target_of(annotation); None when unsupported
    error: str | None = None


def _builtin_factories() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


class Definitions:
    """Every asset of a project with its IO managers, storage and state.

    ``io_managers`` maps names to managers; the names ``memory`` and those installed under
    the ``lumbung.io_managers`` entry point group (``parquet``, ``duckdb``) are always known.
    ``storage`` (default ``<root>/.lumbung``) holds the state store and managers' files.
    ``state`` may be a ``StateStore`` or ``"memory"``; the default is SQLite in ``storage``.
    """

    def __init__(
        self,
        assets: Iterable[AnyAsset] = (),
        *,
        io_managers: Mapping[str, IOManager] | None = None,
        default_io_manager: str | None = None,
        storage: str | Path | None = None,
        root: str | Path | None = None,
        state: StateStore | str | None = None,
        config: ProjectConfig | None = None,
    ) -> None:
        self.config = config
        self.root = Path(root or (config.root if config else Path.cwd())).resolve()
        if storage is None:
            storage = config.storage if config else self.root / ".lumbung"
        self.storage = (self.root / storage).resolve()
        self.default_io_manager = default_io_manager or (
            config.default_io_manager if config else "parquet"
        )
        self._given_io = dict(io_managers or {})
        self._io: dict[str, IOManager] = dict(self._given_io)
        self._io_lock = threading.Lock()
        self._state_arg = state
        self._state: StateStore | None = None
        self._bindings: dict[AssetKey, tuple[Binding, ...]] = {}

        items = list(assets)
        for item in cast(list[object], items):
            if not isinstance(item, Asset | SourceAsset):  # a user's mistake, despite the types
                what = type(item).__name__
                raise DefinitionError(
                    [Problem(f"Definitions got a {what}, not an asset; decorate it with @asset.")]
                )
        resolved, unresolved = _resolve_ins(items)
        by_key: dict[AssetKey, AnyAsset] = {}
        for a in resolved:
            by_key.setdefault(a.key, a)
        self._list = resolved
        self.assets: Mapping[AssetKey, AnyAsset] = MappingProxyType(by_key)
        #: each asset's upstream keys in declaration order (loaded first, then ``deps``)
        self.upstream: Mapping[AssetKey, tuple[AssetKey, ...]] = MappingProxyType(
            {k: a.spec.upstream for k, a in by_key.items()}
        )
        self.graph = AssetGraph(self.upstream)
        validate(
            resolved,
            self.graph,
            unresolved,
            self._known_io_names(resolved),
            self.default_io_manager,
            by_key,
        )

    # ---- construction helpers -------------------------------------------------------------

    @classmethod
    def from_modules(cls, *modules: ModuleType | str, **kwargs: Any) -> Definitions:
        """Definitions from every asset found as an attribute of the given modules."""
        import importlib

        from assets_core.model.project import collect_assets

        mods = [importlib.import_module(m) if isinstance(m, str) else m for m in modules]
        return cls(collect_assets(mods), **kwargs)

    def _known_io_names(self, assets: Sequence[AnyAsset]) -> set[str]:
        names = set(self._given_io) | {MEMORY}
        wanted = {
            a.spec.io_manager or self.default_io_manager for a in assets if isinstance(a, Asset)
        }
        if wanted - names:
            names |= set(_builtin_factories())
        return names

    # ---- lookups ---------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        try:
            return AssetKey.parse(key) in self.assets  # type: ignore[arg-type]
        except (DefinitionError, TypeError):
            return False

    def __len__(self) -> int:
        return len(self.assets)

    def get(self, key: CoercibleToKey) -> AnyAsset:
        """The asset with this key; ``KeyError`` with a suggestion when there is none."""
        k = AssetKey.parse(key)
        try:
            return self.assets[k]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(str(k), [str(x) for x in self.assets], n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise KeyError(f"no asset '{k}'.{hint}") from None

    def input_bindings(self, asset: Asset) -> tuple[Binding, ...]:
        """Each loaded parameter of ``asset`` with its upstream and target kind (cached)."""
        found = self._bindings.get(asset.key)
        if found is None:
            from assets_core.storage.values import target_of

            out = []
            for p in asset.params:
                up = asset.spec.ins[p.name]
                try:
                    target, error = target_of(p.annotation), None
                except LumbungError as exc:
                    target, error = None, str(exc)
                out.append(Binding(p.name, up, self.assets[up].spec, p.annotation, target, error))
            found = self._bindings[asset.key] = tuple(out)
        return found

    def io_manager_name(self, asset: Asset) -> str:
        return asset.spec.io_manager or self.default_io_manager

    def io_manager_for(self, asset: Asset) -> IOManager:
        name = self.io_manager_name(asset)
        manager = self._io.get(name)
        if manager is not None:
            return manager
        with self._io_lock:
            if name not in self._io:
                self._io[name] = self._build_io_manager(name)
            return self._io[name]

    def _build_io_manager(self, name: str) -> IOManager:
        if name == MEMORY:
            from assets_core.storage.io import MemoryIOManager

            memory: IOManager = MemoryIOManager()
            return memory
        ep = _builtin_factories().get(name)
        if ep is None:
            raise IOManagerError(
                f"unknown io manager '{name}'; register it with Definitions(io_managers={{...}})."
            )
        factory = ep.load()
        return cast(IOManager, factory(self.storage))

    @property
    def state(self) -> StateStore:
        """The state store, opened on first use."""
        if self._state is None:
            arg = self._state_arg
            if arg is None or arg == "sqlite":
                from assets_core.storage.sqlite import open_state_store

                self._state = open_state_store(self.storage)
            elif arg == MEMORY:
                from assets_core.storage.state import MemoryStateStore

                self._state = MemoryStateStore()
            elif isinstance(arg, str):
                raise DefinitionError(
                    f"state={arg!r} is not valid: use 'sqlite', 'memory' or a StateStore."
                )
            else:
                self._state = arg
        return self._state

    @cached_property
    def _versioner(self) -> CodeVersioner:
        from assets_core.code_version.versioner import CodeVersioner

        persistent = self._state_arg is None or self._state_arg == "sqlite"
        return CodeVersioner(self.storage / "code_versions.cache" if persistent else None)

    def code_version(self, asset: Asset) -> CodeVersion:
        return self._versioner.version_of(asset, self.io_manager_name(asset))

    @cached_property
    def infos(self) -> Mapping[AssetKey, AssetInfo]:
        """What selection methods match on, per asset."""
        from assets_core.planning.selection import AssetInfo

        out = {}
        paths: dict[str, str] = {}
        for k, a in self.assets.items():
            path = paths.get(a.file)
            if path is None:
                try:
                    path = Path(a.file).resolve().relative_to(self.root).as_posix()
                except ValueError:
                    path = Path(a.file).as_posix()
                paths[a.file] = path
            out[k] = AssetInfo(
                key=k,
                group=a.spec.group,
                tags=a.spec.tags,
                owners=a.spec.owners,
                io_manager=self.io_manager_name(a) if isinstance(a, Asset) else "",
                kind=a.spec.kind,
                path=path,
            )
        return MappingProxyType(out)

    # ---- selection, planning, running --------------------------------------------------------

    def select(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
    ) -> frozenset[AssetKey]:
        """The keys a selection (DESIGN §6) names; ``selection()`` also gives its warnings."""
        return self.selection(select, exclude).keys

    def selection(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
    ) -> Selection:
        """The selection with its warnings (globs or methods that matched nothing)."""
        from assets_core.planning.selection import select as run_select

        return run_select(self.graph, lambda: self.infos, select, exclude, status=self.statuses)

    def statuses(self) -> Mapping[AssetKey, str]:
        """fresh / stale / missing / failed for every asset (the ``status:`` method)."""
        python = frozenset(k for k, a in self.assets.items() if isinstance(a, Asset))
        plan, latest = self._plan_and_state(python)
        out: dict[AssetKey, str] = {}
        for k, step in plan.statuses.items():
            st = latest.get(k)
            if st is not None and st.last_outcome == "failed":
                out[k] = "failed"
            elif step.status == "missing":
                out[k] = "missing"
            elif step.status == "fresh":
                out[k] = "fresh"
            else:
                out[k] = "stale"
        return out

    def plan(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        force: bool = False,
    ) -> Plan:
        """What ``materialize`` would run with the same arguments, and why. Runs nothing.
        The selection's warnings (a glob or method that matched nothing) come first in
        ``Plan.warnings``."""
        found = self.selection(select, exclude)
        plan = self.plan_keys(found.keys, force=force)
        if found.warnings:
            plan = replace(plan, warnings=(*found.warnings, *plan.warnings))
        return plan

    def plan_keys(self, keys: Iterable[AssetKey | str], force: bool = False) -> Plan:
        """The plan for exactly these assets (no selection syntax)."""
        return self._plan(frozenset(AssetKey.parse(k) for k in keys), force=force)

    def _plan(self, selected: frozenset[AssetKey], force: bool = False) -> Plan:
        return self._plan_and_state(selected, force)[0]

    def _plan_and_state(
        self, selected: frozenset[AssetKey], force: bool = False
    ) -> tuple[Plan, Mapping[AssetKey, AssetState]]:
        """The plan, and the state it was made from (read in one query)."""
        from assets_core.planning.planner import build_plan

        # Planning makes a few objects per asset (state records, cached code versions), nearly
        # all kept: with the collector on, its passes over them cost more than the planning.
        enabled = gc.isenabled()
        gc.disable()
        try:
            scope = self.graph.ancestors(selected) | selected
            python = [k for k in scope if isinstance(self.assets[k], Asset)]
            state = self.state.latest(python, detail=False)
            sources = self.observe_sources(
                k for k in scope if not isinstance(self.assets[k], Asset)
            )
            # The planner asks about the outputs of selected assets that have a record: ask
            # each manager about all of them at once.
            stored = self._existing(
                k for k in selected if (st := state.get(k)) is not None and st.last is not None
            )
            plan = build_plan(
                graph=self.graph,
                assets=self.assets,
                upstream=self.upstream,
                selected=selected,
                state=state,
                source_versions=sources,
                code_version=self.code_version,
                output_exists=lambda asset: asset.key in stored,
                force=force,
            )
        finally:
            if enabled:
                gc.enable()
        self._versioner.save_cache()
        return plan, state

    def _existing(self, keys: Iterable[AssetKey]) -> set[AssetKey]:
        """The keys among ``keys`` whose IO manager holds their output, one call per manager."""
        from assets_core.storage.io import existing

        by_manager: dict[str, list[OutputContext]] = {}
        for k in keys:
            a = self.assets[k]
            if isinstance(a, Asset):
                by_manager.setdefault(self.io_manager_name(a), []).append(OutputContext(k, a.spec))
        found: set[AssetKey] = set()
        for contexts in by_manager.values():
            manager = self.io_manager_for(cast(Asset, self.assets[contexts[0].key]))
            found |= existing(manager, contexts)
        return found

    def observe_sources(self, keys: Iterable[AssetKey]) -> dict[AssetKey, str]:
        """The current version of each source, using cached file hashes where the file's size
        and mtime are unchanged; new hashes are saved in one write."""
        from assets_core.storage.sources import observe_source, source_files

        srcs = [a for k in keys if isinstance(a := self.assets[k], SourceAsset)]
        if not srcs:
            return {}
        paths = [str(p) for s in srcs if s.path is not None for p in source_files(s, self.root)]
        cache = self.state.file_observations(paths) if paths else {}
        versions: dict[AssetKey, str] = {}
        fresh = []
        for s in srcs:
            versions[s.key], new = observe_source(s, self.root, cache)
            fresh.extend(new)
        if fresh:
            self.state.save_file_observations(fresh)
        return versions

    def materialize(
        self,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        force: bool = False,
        executor: str = "threads",
        *,
        workers: int | None = None,
        on_event: Callable[[Event], None] | None = None,
        plan: Plan | None = None,
        wait: bool | float = True,
    ) -> RunResult:
        """Run what is missing or stale in the selection (or everything with ``force``).

        When another run holds some of the assets to run, ``wait=True`` waits for them,
        ``wait=False`` raises ``AssetsLockedError`` at once, and a number waits at most that
        many seconds; a refused run runs and records nothing."""
        from assets_core.execution.executor import execute

        if isinstance(wait, bool):
            lock_wait, lock_timeout = wait, None
        else:
            if wait < 0:
                raise PlanError(f"wait must be True, False or 0 seconds or more, got {wait}.")
            lock_wait, lock_timeout = True, float(wait)
        if plan is None:
            plan = self.plan(select, exclude, force=force)
        text = select if isinstance(select, str) or select is None else " ".join(select)
        return execute(
            plan,
            self,
            self.state,
            executor=executor,
            workers=workers,
            on_event=on_event,
            selection=text,
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
        )

    def load_input(self, ctx: InputContext) -> object:
        """Load an upstream for a consumer: through its IO manager, or read a source."""
        up = self.assets[ctx.key]
        if isinstance(up, SourceAsset):
            from assets_core.storage.sources import load_source

            return load_source(up, self.root, ctx.expected_type, lambda: ctx.duckdb)
        return self.io_manager_for(up).load(ctx)

    def load(self, key: CoercibleToKey, as_type: Any = None) -> object:
        """The stored value of an asset (or a source's data), as ``as_type`` (default pandas)."""
        a = self.get(key)
        return self.load_input(InputContext(key=a.key, spec=a.spec, expected_type=as_type))

    def check_processes_ok(self, keys: Iterable[AssetKey]) -> None:
        """The processes executor needs managers whose data outlives a process."""
        for k in keys:
            a = self.assets[k]
            if isinstance(a, Asset) and self.io_manager_name(a) == MEMORY:
                raise PlanError(
                    f"{k} uses the memory IO manager, which worker processes cannot share; "
                    "use executor='threads' or a persistent IO manager."
                )

    def close(self) -> None:
        """Release the SQLite state store and every IO manager this object built (a DuckDB
        warehouse file, for one); stores and managers passed in stay the caller's to close."""
        if self._state is not None and self._state_arg in (None, "sqlite"):
            self._state.close()
            self._state = None
        with self._io_lock:
            built = [m for name, m in self._io.items() if name not in self._given_io]
            self._io = dict(self._given_io)
        for manager in built:
            close = getattr(manager, "close", None)
            if callable(close):
                close()


def load_project(path: str | Path | None = None) -> Definitions:
    """Find the project at ``path`` (a folder, a ``.py`` file or a module name; default: search
    upward from the current folder), import its modules and build its ``Definitions``."""
    from assets_core.model.project import find_project

    return load_config(find_project(path))


def load_config(config: ProjectConfig) -> Definitions:
    """Import the project ``config`` describes and build its ``Definitions``."""
    from assets_core.model.project import import_assets

    # Importing a project allocates a few objects per asset, all of which live on: with the
    # collector on, its full passes over the growing heap cost a third of loading 100,000
    # assets. Whatever cyclic garbage the modules leave is collected once it is back on.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return Definitions(import_assets(config), config=config)
    finally:
        if enabled:
            gc.enable()
