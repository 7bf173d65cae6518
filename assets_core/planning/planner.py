"""The planner: which selected steps must run, and exactly why (DESIGN §5).

``build_plan`` is pure but for one thing: the caller passes the state it read (one query), the
observed source versions, and functions for code versions and output existence; of the state,
a ``PlanState`` holds what deciding a fresh step compares, and the planner has it read the rest
(times, location, code components) of the steps it decides one by one and of what runnable
steps read, in a query per asset that has such steps, while the caller holds the store open
(``PlanState.read_details``), so the plan it returns is whole. It returns a frozen ``Plan``
whose steps are in dependency order, each with its reasons; the executor only consumes it.
A step is one asset, or one partition of it (``StepKey``): a partitioned asset has one step per
existing partition key, and every rule is decided per step. A step whose mapped upstream
partitions do not exist yet (a day not over, a source file not there) is ``waiting``: it is not
runnable, and neither is what reads it.

The work per asset is done once for all its partitions (the mapping of its keys to upstream
keys, its code version, what its readers compare with), and a fresh step costs a few lookups
and one string comparison: planning 100 assets of 1,096 daily partitions stays under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from assets_core.code_version.versioner import CodeVersion
from assets_core.errors import PlanError
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.kinds import AnyAsset
from assets_core.partitions.mapping import ALL, Keys, MappingSpec
from assets_core.partitions.resolve import mapping_for
from assets_core.partitions.space import KeySpace, PartitionsDefinition
from assets_core.partitions.template import fill
from assets_core.planning.stepviews import Lasts, Statuses, Versions
from assets_core.storage.planstate import (
    CODE,
    DATA,
    FINGERPRINT,
    INPUTS,
    PlanState,
    Row,
    StoredOutputs,
    plan_state,
    stored_outputs,
)
from assets_core.storage.sources import describe_change
from assets_core.storage.state import (
    EncodedInputs,
    MaterializationRecord,
    StepState,
    encode_versions,
    version_fragment,
)

Status = Literal["missing", "stale", "pending", "forced", "fresh", "waiting"]
ReasonCode = Literal[
    "never_materialized",
    "output_missing",
    "io_manager_changed",
    "output_changed",
    "code_changed",
    "deps_changed",
    "upstream_changed",
    "source_changed",
    "waits_on",
    "upstream_partition_missing",
    "forced",
    "check_failed",
]
RUNNABLE: frozenset[str] = frozenset({"missing", "stale", "pending", "forced"})
_FOLLOW: frozenset[str] = frozenset({"waits_on", "upstream_changed"})


#: begins the version the planner gives an output changed by something else when its IO
#: manager cannot tell the new data version: the prefix and the output's fingerprint
UNKNOWN_VERSION = "?"


def short(version: str | None) -> str:
    """A data or code version as shown to people: its first 8 characters."""
    if version is None:
        return "none"
    return "unknown" if version.startswith(UNKNOWN_VERSION) else version[:8]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a step is in the plan: a stable ``code`` and a sentence for people."""

    code: ReasonCode
    message: str
    upstream: AssetKey | None = None
    old: str | None = None
    new: str | None = None
    changed: tuple[str, ...] = ()  # functions whose code changed, when known
    partition: str | None = None  # of ``upstream``, when it is partitioned

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.upstream is not None:
            out["upstream"] = str(self.upstream)
        if self.partition is not None:
            out["partition"] = self.partition
        if self.old is not None or self.new is not None:
            out["old"], out["new"] = self.old, self.new
        if self.changed:
            out["changed"] = list(self.changed)
        return out


@dataclass(slots=True)
class PlanStep:
    """One step's status and reasons. ``failed``: its last attempt failed with the code and
    inputs it has now. ``upstream_stale``: an unselected upstream (or one further up, through
    unselected assets) is not fresh, so the stored output this step reads is out of date.

    A value: nothing changes a step once planned. It is not ``frozen`` only because a frozen
    dataclass's constructor costs twice as much, and a plan makes one per step."""

    key: AssetKey
    status: Status
    reasons: tuple[Reason, ...] = ()
    partition: str | None = None
    failed: bool = False
    upstream_stale: AssetKey | None = None

    @property
    def step(self) -> StepKey:
        return StepKey(self.key, self.partition)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": str(self.key),
            "partition": self.partition,
            "status": self.status,
            "reasons": [r.to_dict() for r in self.reasons],
        }


_NO_STEPS: Mapping[StepKey, PlanStep] = MappingProxyType({})


@dataclass(frozen=True)
class Plan:
    """What would run and why. ``steps`` holds the runnable steps in dependency order;
    ``statuses`` every step the planner looked at (the selection and its upstream), and
    ``waiting`` the selected steps that cannot run yet (``upstream_partition_missing``)."""

    steps: tuple[PlanStep, ...]
    selected: frozenset[AssetKey]
    statuses: Mapping[StepKey, PlanStep] = field(default_factory=lambda: _NO_STEPS)
    warnings: tuple[str, ...] = ()
    # What the executor needs, as read while planning:
    code_versions: Mapping[AssetKey, CodeVersion] = field(default_factory=dict, repr=False)
    current: Mapping[StepKey, str | None] = field(default_factory=dict, repr=False)
    last: Mapping[StepKey, MaterializationRecord] = field(default_factory=dict, repr=False)
    #: the upstream steps of each runnable step (what it reads, and waits for)
    upstream: Mapping[StepKey, tuple[StepKey, ...]] = field(default_factory=dict, repr=False)
    #: the steps of observed assets (sources) the plan read
    observed: frozenset[StepKey] = field(default_factory=frozenset, repr=False)
    forced: bool = False
    #: outputs found holding their recorded data under a new fingerprint (a copy that did not
    #: keep modification times, a touch): ``(fingerprint, data version)``, worth remembering
    #: so the next plan need not ask their IO manager for their data version again
    verified: Mapping[StepKey, tuple[str, str | None]] = field(default_factory=dict, repr=False)
    waiting: tuple[PlanStep, ...] = ()
    #: the partitions definition of each partitioned asset the plan looked at, and the keys
    #: that existed when it was made (for grouping steps into runs of keys)
    partitions: Mapping[AssetKey, PartitionsDefinition] = field(default_factory=dict, repr=False)
    space: KeySpace | None = field(default=None, repr=False)
    #: the ``--partitions`` text the plan was made with (a plan made again uses it too)
    partition_text: str | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def keys(self) -> list[StepKey]:
        """The runnable steps' keys, in order."""
        return [s.step for s in self.steps]

    def step(self, key: AssetKey | str, partition: str | None = None) -> PlanStep | None:
        """The status of one step (of an asset, or one of its partitions)."""
        return self.statuses.get(StepKey(AssetKey.parse(key), partition))

    def steps_of(self, key: AssetKey) -> list[PlanStep]:
        """Every planned step of one asset: its one step, or one per existing partition, in
        key order."""
        definition = self.partitions.get(key)
        if definition is None or self.space is None:
            found = self.statuses.get(StepKey(key))
            return [] if found is None else [found]
        get = self.statuses.get
        return [s for p in self.space.keys(definition) if (s := get(StepKey(key, p))) is not None]

    def explain_chain(
        self, key: AssetKey | str, partition: str | None = None
    ) -> tuple[list[StepKey], Reason | None]:
        """Follow ``waits_on`` / ``upstream_changed`` reasons from a step down to the root
        cause: the steps on the way (this one first) and the root reason."""
        current = StepKey(AssetKey.parse(key), partition)
        chain = [current]
        seen = {current}
        while True:
            step = self.statuses.get(current)
            if step is None or not step.reasons:
                return chain, None
            nxt = next((r for r in step.reasons if r.code == "upstream_partition_missing"), None)
            if nxt is None:
                root = next((r for r in step.reasons if r.code not in _FOLLOW), None)
                if root is not None:
                    return chain, root
                nxt = step.reasons[0]
            up = None if nxt.upstream is None else StepKey(nxt.upstream, nxt.partition)
            if up is None or up in seen or up not in self.statuses:
                return chain, nxt
            chain.append(up)
            seen.add(up)
            current = up

    def explain(self, key: AssetKey | str, partition: str | None = None) -> str:
        """One line: ``revenue ← orders ← raw_orders: source raw_orders changed``."""
        chain, root = self.explain_chain(key, partition)
        path = " ← ".join(str(k) for k in chain)
        if root is None:
            return f"{path}: up to date"
        return f"{path}: {root.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.waiting:  # steps that cannot run yet (``upstream_partition_missing``)
            out["waiting"] = [s.to_dict() for s in self.waiting]
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class Moved:
    """A step whose last success was stored where its IO manager does not store it now.
    ``old``: the IO manager that stored it (``None``: none configured here recognises the
    place); ``new``: the one the asset uses now; ``left``: the old output is still there."""

    old: str | None
    new: str
    left: bool


def _moved(last: MaterializationRecord, moved: Moved) -> Reason:
    """Why a step whose IO manager changed runs again, in plain words."""
    if moved.old is None:
        change = f"its IO manager changed to {moved.new} (the old output at {last.location} "
        change += "was stored by an IO manager not configured here)"
    else:
        change = f"its IO manager changed from {moved.old} to {moved.new}"
        if moved.left:
            change += f" (the old output at {last.location} is left; lumbung wipe --orphans "
            change += "removes it)"
        else:
            change += f" (the old output at {last.location} is gone)"
    return Reason("io_manager_changed", change, old=moved.old, new=moved.new)


# Reasons that are the same wherever they occur (values: one instance serves every step).
_NEVER = Reason("never_materialized", "never materialized")
_FORCED = Reason("forced", "forced")


def _grouped(sign: str, steps: Iterable[StepKey]) -> list[str]:
    """``+a``, or ``+b (12 partitions)`` for partitions of one asset (how many, not which: the
    partitions of a run of steps share the text)."""
    by_asset: dict[AssetKey, list[str | None]] = {}
    for s in steps:
        by_asset.setdefault(s[0], []).append(s[1])
    out = []
    for key in sorted(by_asset):
        found = by_asset[key]
        if found == [None]:
            out.append(f"{sign}{key}")
        else:
            out.append(f"{sign}{key} ({len(found)} partition{'s' if len(found) > 1 else ''})")
    return out


def _deps_changed(recorded: Iterable[StepKey], current: Iterable[StepKey]) -> Reason | None:
    old, new = set(recorded), set(current)
    if old == new:
        return None
    parts = _grouped("+", new - old) + _grouped("-", old - new)
    return Reason("deps_changed", "dependencies changed: " + " ".join(parts))


def _output_changed(
    last: MaterializationRecord, fingerprint: str, version: str | None
) -> Reason | None:
    """Why a step is stale whose stored output is no longer the one it wrote (its fingerprint
    differs), with the data version its readers now see: the one the IO manager reads from
    the output, or, when it cannot tell, one made of the new fingerprint (``UNKNOWN_VERSION``:
    it changes whenever the output does). ``None``: the output holds the recorded version
    still (a file touched, or written again with the same data)."""
    if version == last.data_version:
        return None
    new = version if version is not None else UNKNOWN_VERSION + fingerprint
    message = f"output {last.location} changed since it was written"
    return Reason("output_changed", message, old=last.data_version, new=new)


def _code_changed(last: MaterializationRecord, cv: CodeVersion) -> Reason:
    changed = tuple(
        sorted(
            name
            for name in set(cv.components) | set(last.code_components)
            if cv.components.get(name) != last.code_components.get(name)
        )
    )
    if changed and last.code_components:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        message = f"code changed ({shown})"
    else:
        message = "code changed"
    return Reason("code_changed", message, old=last.code_version, new=cv.version, changed=changed)


def _same_inputs(
    inputs: Mapping[StepKey, str | None],
    ups: tuple[StepKey, ...],
    current: Mapping[StepKey, str | None],
    texts: dict[StepKey, str],
) -> bool:
    """Whether recorded ``inputs`` equal the upstreams' current versions (the same steps, the
    same versions); a record read back is compared as text, without decoding it."""
    if type(inputs) is EncodedInputs:
        return inputs.text == encode_versions(ups, current, texts)
    return dict(inputs) == {u: current.get(u) for u in ups}


#: the mapped upstream keys of one step: an unpartitioned upstream's one step is ``(None,)``
_ONE: tuple[str | None, ...] = (None,)


def mapped_keys(
    up: PartitionsDefinition | None,
    down: PartitionsDefinition | None,
    spec: MappingSpec | None,
    keys: Sequence[str | None],
    space: KeySpace,
) -> Sequence[tuple[str | None, ...]]:
    """For each of the reader's ``keys``, the upstream keys it reads (``ALL`` resolved to the
    upstream's existing keys). Keys past "now" are included: whether they exist is the
    planner's question. The mapping of a pair is made once (``mapping_for`` caches it)."""
    if up is None and down is None:
        return [_ONE] * len(keys)
    if up is None:
        return [_ONE] * len(keys)
    found: list[Keys] = mapping_for(up, down, spec).upstream_many(keys, space)
    if ALL not in found:  # most: no step reads every partition
        return found  # type: ignore[return-value]
    every = None
    out: list[tuple[str | None, ...]] = []
    for m in found:
        if m is ALL:
            if every is None:
                every = space.keys(up)
            out.append(every)
        else:
            out.append(m)  # type: ignore[arg-type]
    return out


@dataclass(slots=True)
class _Edge:
    """One upstream asset as the steps of one asset read it: ``mapped[i]`` are the upstream
    keys step ``i`` reads, and ``look`` what each upstream step is to its readers (see
    ``_Planner.publish``)."""

    up: AssetKey
    asset: AnyAsset
    mapped: Sequence[tuple[str | None, ...]]
    look: dict[str | None, str | Reason]


def _missing_partition(up: AssetKey, asset: AnyAsset, p: str | None, why: str) -> Reason:
    return Reason(
        "upstream_partition_missing",
        f"upstream partition {StepKey(up, p)} {why}",
        upstream=up,
        partition=p,
    )


def _no_partitions(up: AssetKey) -> Reason:
    return Reason(
        "upstream_partition_missing",
        f"upstream {up} has no partitions yet",
        upstream=up,
        partition=None,
    )


class _Planner:
    """The state of one plan while it is made, asset by asset in dependency order (see
    ``build_plan``). Each asset's steps are decided by ``plan_asset``; what its readers
    compare with is published by ``publish``."""

    def __init__(
        self,
        *,
        assets: Mapping[AssetKey, AnyAsset],
        upstream: Mapping[AssetKey, tuple[AssetKey, ...]],
        chosen: frozenset[AssetKey],
        state: PlanState,
        source_versions: Mapping[StepKey, str | None],
        code_version: Callable[[AnyAsset], CodeVersion],
        stored: StoredOutputs,
        stored_version: Callable[[StepKey], str | None],
        moved: Callable[[StepKey, MaterializationRecord], Moved | None],
        force: bool,
        partitions: Mapping[AssetKey, PartitionsDefinition],
        edge_mappings: Mapping[AssetKey, tuple[MappingSpec | None, ...]],
        space: KeySpace | None,
        chosen_partitions: Mapping[AssetKey, frozenset[str]],
        failing_checks: Mapping[StepKey, Reason],
        scope: Collection[AssetKey],
    ) -> None:
        self.failing_checks = failing_checks
        self.scope = scope
        self.assets, self.upstream, self.chosen = assets, upstream, chosen
        self.state, self.source_versions = state, source_versions
        self.code_version, self.stored, self.stored_version = code_version, stored, stored_version
        self.moved = moved
        self.force, self.partitions, self.edge_mappings = force, partitions, edge_mappings
        self.space, self.chosen_partitions = space, chosen_partitions
        # the steps decided one by one; fresh ones are kept as keys per asset (``fresh``)
        self.statuses: dict[StepKey, PlanStep] = {}
        self.fresh: dict[AssetKey, tuple[set[str | None], AssetKey | None]] = {}
        self.current = Versions(state)
        self.versions: dict[AssetKey, CodeVersion] = {}
        self.runnable: dict[AssetKey, list[PlanStep]] = {}
        self.waiting: list[PlanStep] = []
        self.step_ups: dict[StepKey, tuple[StepKey, ...]] = {}
        self.observed: set[StepKey] = set()
        # each unselected upstream never built: (its step, the selected step reading it)
        self.never_built: dict[AssetKey, list[tuple[StepKey, StepKey]]] = {}
        self.texts: dict[StepKey, str] = {}  # "a/b[p]" of each upstream step, once per plan
        self.verified: dict[StepKey, tuple[str, str | None]] = {}
        # the nearest unselected upstream that is not fresh, seen through unselected assets
        self.dirty: dict[AssetKey, AssetKey] = {}
        # each asset's first step that is not fresh
        self.not_fresh: dict[AssetKey, PlanStep] = {}
        # what each planned asset's steps are to their readers
        self.looks: dict[AssetKey, dict[str | None, str | Reason]] = {}

    @cached_property
    def read(self) -> frozenset[AssetKey]:
        """The assets that an asset of the plan reads: what their fresh steps are to readers
        is published (``looks``); for the others it would never be read. Asked only by
        ``plan_asset`` (``plan_one`` publishes its one step's look whatever reads it)."""
        upstream = self.upstream
        return frozenset(up for k in self.scope for up in upstream[k])

    def keys_of(self, key: AssetKey) -> Sequence[str | None]:
        definition = self.partitions.get(key)
        if definition is None:
            return _ONE
        assert self.space is not None
        return self.space.keys(definition)

    # -- sources ----------------------------------------------------------------------------

    def plan_source(self, key: AssetKey) -> None:
        versions, current, observed = self.source_versions, self.current, self.observed
        look: dict[str | None, str | Reason] = {}
        definition = self.partitions.get(key)
        asset = self.assets[key]
        for p in self.keys_of(key):
            step = tuple.__new__(StepKey, (key, p))
            v = versions.get(step)
            current[step] = v
            observed.add(step)
            if v is None and definition is not None:
                path = getattr(asset, "path", None)
                where = "" if path is None else f" ({fill(path, definition, p or '')})"
                look[p] = Reason(
                    "upstream_partition_missing",
                    f"source {step} has no data yet{where}",
                    upstream=key,
                    partition=p,
                )
            else:
                look[p] = self._fragment(step, v)
        self.looks[key] = look

    # -- assets -----------------------------------------------------------------------------

    def _fragment(self, step: StepKey, version: str | None) -> str:
        name = self.texts.get(step)
        if name is None:
            name = self.texts[step] = "/".join(step[0]) if step[1] is None else str(step)
        return version_fragment(name, version)

    def edges_of(self, key: AssetKey, keys: Sequence[str | None]) -> list[_Edge]:
        assert self.space is not None or not self.partitions
        specs = self.edge_mappings.get(key)
        down = self.partitions.get(key)
        edges = []
        for i, up in enumerate(self.upstream[key]):
            spec = specs[i] if specs is not None else None
            mapped = mapped_keys(self.partitions.get(up), down, spec, keys, self.space)  # type: ignore[arg-type]
            edges.append(_Edge(up, self.assets[up], mapped, self.looks[up]))
        return edges

    def plan_asset(self, key: AssetKey) -> None:
        """Decide every step of ``key``, and publish what each is to its readers: the text
        its version adds to their inputs (it can be read), a ``waits_on`` reason (it runs in
        this plan), an ``upstream_partition_missing`` reason (it waits itself), or
        ``_UNBUILT`` (it was never built and does not run). The loop is the hot path of
        planning: a fresh step costs a few lookups and one comparison of texts."""
        a = self.assets[key]
        cv = self.code_version(a)
        self.versions[key] = cv
        if key not in self.partitions and self.plain_edges(key):
            self.plan_one(key, a, cv)
            return
        cvv = cv.version
        keys = self.keys_of(key)
        edges = self.edges_of(key, keys)
        pairs = [(e.look.get, e.mapped) for e in edges]
        is_selected = key in self.chosen
        picked = self.chosen_partitions.get(key) if is_selected else None
        stale_up = self.upstream_stale(key)
        state, stored_get = self.state, self.stored.of(key).get
        current, statuses = self.current, self.statuses
        force = self.force
        runnable: list[PlanStep] = []
        look: dict[str | None, str | Reason] = {}
        name = "/".join(key)
        # what a fresh step's version adds to its readers' inputs ("a/b[p]":"version")
        head = f'"{name}":"' if keys is _ONE else f'"{name}['
        new = tuple.__new__
        n = len(keys)
        # each step's state as read (``PlanState`` rows: code, data, inputs text, fingerprint)
        rows = list(map(state.rows(key).get, keys))
        fps = list(map(stored_get, keys))
        texts = _input_texts(pairs, n)
        # which steps are selected (every one, or the picked partitions of a selected asset)
        sels = [is_selected] * n if picked is None else [is_selected and p in picked for p in keys]
        # A step is fresh when its last success holds the inputs it would read now, its code
        # is the same, and its output is there as written (each test over every step at once).
        ok = [
            row is not None
            and text is not None
            and row[CODE] == cvv  # never None: a row without a success has no code version
            and (
                row[INPUTS] == text
                or (text == "{}" and row[INPUTS] is None)  # no inputs: stored as none at all
            )
            and (fp is not None or not sel)
            and (not fp or not row[FINGERPRINT] or fp == row[FINGERPRINT])
            and not (sel and force)
            for row, text, fp, sel in zip(rows, texts, fps, sels, strict=True)
        ]
        failing = self.failing_checks
        if failing:  # a stored output failing a blocking check is not fresh
            ok = [fresh and (key, p) not in failing for fresh, p in zip(ok, keys, strict=True)]
        fresh_count = ok.count(True)
        fresh_keys = {p for p, fresh in zip(keys, ok, strict=True) if fresh}
        if fresh_keys:
            self.fresh[key] = (fresh_keys, stale_up)
        read = key in self.read
        if read:  # what a fresh step's version adds to its readers' inputs
            look.update(_plain_looks(head, keys, rows, ok))
        failed = state.failed(key)
        if failed:  # fresh steps whose last attempt failed since, with the code and inputs
            at = {p: i for i, p in enumerate(keys)}  # they have now: failed, not fresh
            for i in sorted(at[p] for p in failed if p in at):
                if ok[i]:
                    step = new(StepKey, (key, keys[i]))
                    failure = state[step].failure
                    if self._failed(failure, cvv, texts[i], step, edges, i):  # type: ignore[arg-type]
                        statuses[step] = PlanStep(key, "fresh", (), keys[i], True, stale_up)
                        fresh_keys.discard(keys[i])
        if read and len(look) < fresh_count:  # versions that need the encoder
            for p, fresh in zip(keys, ok, strict=True):
                if fresh and p not in look:
                    step = new(StepKey, (key, p))
                    look[p] = self._fragment(step, current.get(step))
        if fresh_count < n:  # the rest of the state of the steps decided one by one
            state.read_details(
                [
                    new(StepKey, (key, p))
                    for p, row, fresh in zip(keys, rows, ok, strict=True)
                    if not fresh and row
                ]
            )
        for i in range(n) if fresh_count < n else ():
            if ok[i]:
                continue
            p = keys[i]
            step, sel = new(StepKey, (key, p)), sels[i]
            st = state.get(step) if rows[i] is not None else None
            last = st.last if st is not None else None
            ps, ups = self.decide(a, key, step, p, i, sel, st, last, cv, edges, stale_up)
            statuses[step] = ps
            self._settle(key, a, step, sel, ps, ups, runnable, look)
        if runnable:
            self.runnable[key] = runnable
        self.looks[key] = look

    def plain_edges(self, key: AssetKey) -> bool:
        """Whether ``key`` reads only unpartitioned assets with the default mapping."""
        partitions = self.partitions
        if not partitions:
            return True
        return key not in self.edge_mappings and not any(
            up in partitions for up in self.upstream[key]
        )

    def plan_one(self, key: AssetKey, a: AnyAsset, cv: CodeVersion) -> None:
        """``plan_asset`` for an unpartitioned asset reading unpartitioned assets (most assets
        of most projects): the same rules, on its one step, without lists of partitions."""
        step = tuple.__new__(StepKey, (key, None))
        state = self.state
        row = state.rows(key).get(None)
        sel = key in self.chosen
        looks = self.looks
        inputs = row[INPUTS] if row is not None else None
        if (
            row is not None
            and row[CODE] == cv.version
            # inputs stored as text, or none at all (read nothing); a mapping: the rules below
            and (inputs.__class__ is str or inputs is None)
            and not (sel and self.force)
            and not (self.failing_checks and step in self.failing_checks)
        ):
            fp = self.stored.get(step)
            if (fp is not None or not sel) and (
                not fp or not row[FINGERPRINT] or fp == row[FINGERPRINT]
            ):
                frags = []
                for up in self.upstream[key]:
                    f = looks[up].get(None)
                    if f.__class__ is not str:
                        break
                    frags.append(f)
                else:
                    text = "{" + ",".join(frags) + "}"
                    if inputs == text or (inputs is None and text == "{}"):
                        stale_up = self.upstream_stale(key)
                        failure = state[step].failure if None in state.failed(key) else None
                        if failure is not None and self._failed(
                            failure, cv.version, text, step, [], 0
                        ):
                            self.statuses[step] = PlanStep(key, "fresh", (), None, True, stale_up)
                        else:  # kept as plan_asset keeps its fresh steps
                            self.fresh[key] = ({None}, stale_up)
                        v = row[DATA]
                        plain = _plain_look(f'"{"/".join(key)}":"', v)
                        looks[key] = {None: plain or self._fragment(step, v)}
                        return
        if row is not None:
            state.read_details((step,))
        st = state.get(step) if row is not None else None
        last = st.last if st is not None else None
        edges = self.edges_of(key, _ONE)
        stale_up = self.upstream_stale(key)
        ps, ups = self.decide(a, key, step, None, 0, sel, st, last, cv, edges, stale_up)
        self.statuses[step] = ps
        runnable: list[PlanStep] = []
        look: dict[str | None, str | Reason] = {}
        self._settle(key, a, step, sel, ps, ups, runnable, look)
        if runnable:
            self.runnable[key] = runnable
        looks[key] = look

    def _settle(
        self,
        key: AssetKey,
        a: AnyAsset,
        step: StepKey,
        sel: bool,
        ps: PlanStep,
        ups: tuple[StepKey, ...],
        runnable: list[PlanStep],
        look: dict[str | None, str | Reason],
    ) -> None:
        """Note a step that ``decide`` decided: it runs (its readers wait on it), it waits
        (so do they), or its readers read its current version."""
        p, status = step[1], ps.status
        if status != "fresh" and key not in self.not_fresh:
            self.not_fresh[key] = ps
        if sel and status in RUNNABLE:
            runnable.append(ps)
            self.step_ups[step] = ups
            look[p] = Reason("waits_on", f"waits on {step}", upstream=key, partition=p)
        elif status == "waiting":
            if sel:
                self.waiting.append(ps)
            look[p] = _missing_partition(key, a, p, "waits for its own upstream")
        else:
            v = self.current.get(step)
            look[p] = _UNBUILT if v is None else self._fragment(step, v)

    def _failed(
        self,
        failure: MaterializationRecord,
        cvv: str,
        text: str | None,
        step: StepKey,
        edges: list[_Edge],
        i: int,
    ) -> bool:
        """Whether the last attempt failed with the code and inputs the step has now."""
        if failure.code_version != cvv:
            return False
        if type(failure.inputs) is EncodedInputs and text is not None:
            return failure.inputs.text == text
        ups = self._ups(step, edges, i)
        return _same_inputs(failure.inputs, ups, self.current, self.texts)

    def _ups(self, step: StepKey, edges: list[_Edge], i: int) -> tuple[StepKey, ...]:
        """The upstream steps step ``i`` reads that exist, in the order its record keeps them."""
        new = tuple.__new__
        return tuple(
            new(StepKey, (e.up, up_p)) for e in edges for up_p in e.mapped[i] if up_p in e.look
        )

    def upstream_stale(self, key: AssetKey) -> AssetKey | None:
        """The nearest unselected upstream asset that is not fresh (through unselected
        assets): what a fresh step of ``key`` reads stale. Per asset, not per partition."""
        for up in self.upstream[key]:
            if up in self.chosen or self.assets[up].observed:
                continue
            found = up if up in self.not_fresh else self.dirty.get(up)
            if found is not None:
                self.dirty[key] = found
                return found
        return None

    def decide(
        self,
        a: AnyAsset,
        key: AssetKey,
        step: StepKey,
        p: str | None,
        i: int,
        sel: bool,
        st: StepState | None,
        last: MaterializationRecord | None,
        cv: CodeVersion,
        edges: list[_Edge],
        stale_up: AssetKey | None,
    ) -> tuple[PlanStep, tuple[StepKey, ...]]:
        """The status and reasons of one step that is not plainly fresh (DESIGN §5)."""
        current = self.current
        reasons: list[Reason] = []
        missing = False  # no stored output to compare: the other rules are moot
        rehomed = None  # where the last output was, when its IO manager stores it elsewhere now
        ups = self._ups(step, edges, i)
        if last is None:
            missing = True
            reasons.append(_NEVER)
        elif sel and step not in self.stored:
            missing = True
            rehomed = self.moved(step, last)
            if rehomed is not None:
                reasons.append(_moved(last, rehomed))
            else:
                reasons.append(Reason("output_missing", f"output missing at {last.location}"))
        elif last.fingerprint:
            now_fp = self.stored.get(step)
            if now_fp and now_fp != last.fingerprint and sel:
                rehomed = self.moved(step, last)  # another output, where its manager stores now
                if rehomed is not None:
                    missing = True
                    reasons.append(_moved(last, rehomed))
            if rehomed is None and now_fp and now_fp != last.fingerprint:
                out_changed = _output_changed(last, now_fp, self.stored_version(step))
                if out_changed is not None:
                    reasons.append(out_changed)
                    current[step] = out_changed.new
                else:  # the recorded data under a new fingerprint (copied, touched)
                    self.verified[step] = (now_fp, last.data_version)
        same_inputs = False
        if last is not None and not missing:
            failing = self.failing_checks.get(step) if self.failing_checks else None
            if failing is not None:
                reasons.append(failing)
            if last.code_version != cv.version:
                reasons.append(_code_changed(last, cv))
            inputs = last.inputs
            same_inputs = _same_inputs(inputs, ups, current, self.texts)
            if not same_inputs:
                changed_deps = _deps_changed(inputs, ups)
                if changed_deps is not None:
                    reasons.append(changed_deps)
        absent: list[Reason] = []
        for e in edges:
            up, look, up_asset = e.up, e.look, e.asset
            waits: Reason | None = None
            changed: list[tuple[str | None, str | None, str | None]] = []
            if p is None and not e.mapped[i] and up in self.partitions:
                # an unpartitioned step reads every partition: with none yet, it waits
                absent.append(_no_partitions(up))
            for up_p in e.mapped[i]:
                f = look.get(up_p)
                if f is None:  # a partition that does not exist yet
                    absent.append(_missing_partition(up, up_asset, up_p, "does not exist yet"))
                    continue
                if f.__class__ is not str:
                    r: Reason = f  # type: ignore[assignment]
                    if r.code == "waits_on":
                        waits = waits or r
                    elif r is _UNBUILT:
                        if sel:
                            self.never_built.setdefault(up, []).append(
                                (tuple.__new__(StepKey, (up, up_p)), step)
                            )
                    else:
                        absent.append(r)
                    continue
                if same_inputs or last is None or missing:
                    continue
                up_step = tuple.__new__(StepKey, (up, up_p))
                if up_step not in last.inputs:
                    continue
                before, now = last.inputs[up_step], current.get(up_step)
                if before != now and not (now is None and up_asset.observed):
                    changed.append((up_p, before, now))
            if waits is not None:
                reasons.append(waits)
            if changed:
                reasons.append(_upstream_changed(up, up_asset, changed))
        if absent:  # it cannot run: what it would wait on in this plan does not matter
            reasons = [r for r in reasons if r.code != "waits_on"]
            reasons.append(absent[0] if len(absent) == 1 else _many_missing(absent))
        status: Status
        if absent:
            status = "waiting"
        elif sel and self.force:
            status = "forced"
            reasons.insert(0, _FORCED)
        elif missing:
            status = "missing" if rehomed is None else "stale"
        elif any(r.code != "waits_on" for r in reasons):
            status = "stale"
        elif reasons:
            status = "pending"
        else:
            status = "fresh"
        failure = st.failure if st is not None else None
        failed = (
            failure is not None
            and failure.code_version == cv.version
            and _same_inputs(failure.inputs, ups, current, self.texts)
        )
        shown_stale = stale_up if (status == "fresh" or not sel) else None
        return PlanStep(key, status, tuple(reasons), p, failed, shown_stale), ups


def _plain_looks(
    head: str, keys: Sequence[str | None], rows: Sequence[Row | None], ok: Sequence[bool]
) -> dict[str | None, str]:
    """What each fresh step (``ok``) of one asset adds to its readers' inputs, for the steps
    whose data version is plain (letters and digits: written as it is, ``head`` being the
    asset's part of the text); the others need the encoder. Most versions are hex digests:
    one test over all of them at once says so (as bytes: ``str.isalnum`` looks each character
    up in the Unicode tables, ten times slower), else each is tested."""
    versions = [row[DATA] if fresh else None for row, fresh in zip(rows, ok, strict=True)]  # type: ignore[index]
    if keys is _ONE:
        found = _plain_look(head, versions[0])
        return {} if found is None else {None: found}
    joined = "".join([v for v in versions if v])
    every = joined.isascii() and joined.encode().isalnum()
    return {
        p: f'{head}{p}]":"{v}"'
        for p, v in zip(keys, versions, strict=True)
        if v and (every or (v.isalnum() and v.isascii()))
    }


def _plain_look(head: str, version: str | None) -> str | None:
    """What a fresh unpartitioned step adds to its readers' inputs when its data version is
    plain (``head`` being ``"a/b":"``, its part of the text; an asset key never needs
    escaping), else ``None``: the encoder writes it (``_Planner._fragment``)."""
    if version and version.isascii() and version.isalnum():
        return head + version + '"'
    return None


def _input_texts(
    pairs: Sequence[tuple[Callable[[str | None], object], Sequence[tuple[str | None, ...]]]],
    n: int,
) -> list[str | None]:
    """For each of ``n`` steps, the text its record's inputs would hold if it ran now
    (``encode_versions`` of its upstream steps), or ``None`` when some upstream step cannot be
    read as it is (it runs in this plan, waits, does not exist, or was never built). Built an
    edge at a time, over all steps at once."""
    # each edge's part of each step's text (not a str: some upstream step cannot be read)
    cols = [
        [get(m[0]) if len(m) == 1 else _joined(get, m) for m in mapped] for get, mapped in pairs
    ]
    if not cols:
        return ["{}"] * n
    if len(cols) == 1:
        return ["{" + c + "}" if c.__class__ is str else None for c in cols[0]]
    out: list[str | None] = []
    for parts in zip(*cols, strict=True):
        if all(p.__class__ is str for p in parts):
            out.append("{" + ",".join(p for p in parts if p) + "}")
        else:
            out.append(None)
    return out


def _joined(get: Callable[[str | None], object], keys: tuple[str | None, ...]) -> str | None:
    """The texts of ``keys`` (upstream steps) joined, or ``None`` when one is not a text."""
    found = [get(k) for k in keys]
    return ",".join(found) if all(f.__class__ is str for f in found) else None  # type: ignore[arg-type]


#: an upstream step that was never built and does not run in this plan
_UNBUILT = Reason("never_materialized", "never materialized")


def _upstream_changed(
    up: AssetKey, up_asset: AnyAsset, changed: list[tuple[str | None, str | None, str | None]]
) -> Reason:
    """One reason for every changed partition of one upstream: the one, or how many."""
    p, before, now = changed[0]
    step = StepKey(up, p)
    if len(changed) == 1:
        if up_asset.observed:
            message = describe_change(up_asset, before, now or "", partition=p)
            return Reason("source_changed", message, upstream=up, old=before, new=now, partition=p)
        message = f"upstream {step} changed ({short(before)} → {short(now)})"
        return Reason("upstream_changed", message, upstream=up, old=before, new=now, partition=p)
    what = "source" if up_asset.observed else "upstream"
    message = f"{what} {up} changed in {len(changed)} partitions (first {p})"
    code: ReasonCode = "source_changed" if up_asset.observed else "upstream_changed"
    return Reason(code, message, upstream=up, old=before, new=now, partition=p)


def _never_built(up: AssetKey, pairs: list[tuple[StepKey, StepKey]]) -> str:
    """The line saying an unselected upstream was never built, and what reads it."""
    readers = list(dict.fromkeys(reader for _, reader in pairs))
    if pairs[0][0][1] is None:  # an unpartitioned upstream
        names = list(dict.fromkeys(str(r[0]) for r in readers))
        return (
            f"{up} has never been materialized and is not selected, but {', '.join(names)} "
            f"needs it; select +{names[0]} to build it too."
        )
    ups = list(dict.fromkeys(u for u, _ in pairs))
    more = f" (and {len(ups) - 1} more of its partitions)" if len(ups) > 1 else ""
    also = f" (and {len(readers) - 1} more)" if len(readers) > 1 else ""
    return (
        f"{ups[0]}{more} has never been materialized and is not selected, but {readers[0]}"
        f"{also} needs it; select +{readers[0][0]} over those partitions to build them too."
    )


def _many_missing(absent: list[Reason]) -> Reason:
    first = absent[0]
    return Reason(
        "upstream_partition_missing",
        f"{first.message} (and {len(absent) - 1} more upstream "
        f"partition{'s' if len(absent) > 2 else ''})",
        upstream=first.upstream,
        partition=first.partition,
    )


def build_plan(
    *,
    graph: AssetGraph,
    assets: Mapping[AssetKey, AnyAsset],
    upstream: Mapping[AssetKey, tuple[AssetKey, ...]],
    selected: Iterable[AssetKey],
    state: Mapping[StepKey, StepState],
    source_versions: Mapping[StepKey, str | None],
    code_version: Callable[[AnyAsset], CodeVersion],
    stored: Mapping[StepKey, str],
    stored_version: Callable[[StepKey], str | None],
    moved: Callable[[StepKey, MaterializationRecord], Moved | None] = lambda step, last: None,
    force: bool = False,
    partitions: Mapping[AssetKey, PartitionsDefinition] | None = None,
    edge_mappings: Mapping[AssetKey, tuple[MappingSpec | None, ...]] | None = None,
    space: KeySpace | None = None,
    chosen_partitions: Mapping[AssetKey, frozenset[str]] | None = None,
    failing_checks: Mapping[StepKey, Reason] | None = None,
) -> Plan:
    """Decide the status of every step of the selected assets and their upstream (DESIGN §5,
    per step as §12 says).

    ``stored`` holds, for every step with a record whose IO manager still holds its output,
    the output's fingerprint as it is now (``""``: the manager keeps none). A selected step
    missing from it is missing. A step whose recorded fingerprint differs was changed by
    something else since it was written: ``stored_version(step)`` asks its IO manager for the
    data version it holds now (``None``: it cannot tell), which its readers then see. One that
    holds the recorded version still is not changed (``Plan.verified``). For a selected step
    whose output is not found as recorded, ``moved(step, last)`` tells whether its last
    success was stored where its IO manager does not store it now (``None``: it was not):
    such a step is stale because its IO manager changed, not missing.

    ``partitions`` gives each partitioned asset's definition, ``edge_mappings`` the mappings
    given in ``ins=`` (``Definitions.edge_mappings``), ``space`` the partitions that exist
    (needed when any asset is partitioned), and ``chosen_partitions`` the selected keys of
    selected partitioned assets (all of them when an asset is not in it). Every existing
    partition of an asset in scope is planned; only selected ones are runnable.

    ``failing_checks`` holds a ``check_failed`` reason for each step whose stored output (the
    one recorded) fails a blocking data check: such a step is stale, not fresh.
    """
    partitions = partitions or {}
    state = plan_state(state)
    chosen = frozenset(k for k in selected if not assets[k].observed)
    scope = graph.ancestors(chosen) | chosen
    if space is None and any(k in partitions for k in scope):
        raise PlanError("a plan of partitioned assets needs a KeySpace (space=...).")
    planner = _Planner(
        assets=assets,
        upstream=upstream,
        chosen=chosen,
        state=state,
        source_versions=source_versions,
        code_version=code_version,
        stored=stored_outputs(stored),
        stored_version=stored_version,
        moved=moved,
        force=force,
        partitions=partitions,
        edge_mappings=edge_mappings or {},
        space=space,
        chosen_partitions=chosen_partitions or {},
        failing_checks=failing_checks or {},
        scope=scope,
    )
    for key in graph.toposorted(scope):
        if assets[key].observed:
            planner.plan_source(key)
        else:
            planner.plan_asset(key)

    planned = frozenset(planner.runnable)
    warnings: list[str] = []
    for key in graph.toposorted(scope - chosen):
        first = planner.not_fresh.get(key)
        if first is None or planner.current.get(first.step) is None:
            continue
        # Read directly, or through unselected assets in between: either way a planned
        # asset downstream will see this asset's stored (stale) output.
        readers = sorted(c for c in graph.children(key) if c in planned) or sorted(
            graph.descendants([key]) & planned
        )
        if readers:
            warnings.append(
                f"{first.step} is {first.status} ({first.reasons[0].message}) but not selected; "
                f"its stored output will be read. Select +{readers[0]} to rebuild it too."
            )

    if planner.never_built:
        raise PlanError(
            "\n".join(_never_built(up, pairs) for up, pairs in sorted(planner.never_built.items()))
        )

    steps = tuple(s for k in graph.toposorted(planned) for s in planner.runnable[k])
    # The plan holds the whole records of what a run compares (see ``PlanState``): the steps
    # decided one by one were read before deciding them, and here the steps runnable steps read.
    state.read_details([u for ups in planner.step_ups.values() for u in ups])
    return Plan(
        steps=steps,
        selected=chosen,
        statuses=Statuses(planner.statuses, planner.fresh, PlanStep),
        warnings=tuple(warnings),
        code_versions=MappingProxyType(planner.versions),
        current=planner.current,
        last=Lasts(state),
        upstream=MappingProxyType(planner.step_ups),
        observed=frozenset(planner.observed),
        forced=force,
        verified=MappingProxyType(planner.verified),
        waiting=tuple(planner.waiting),
        partitions=MappingProxyType(
            {k: partitions[k] for k in scope if k in partitions} if partitions else {}
        ),
        space=space,
    )
