"""The planner: which selected steps must run, and exactly why (DESIGN §5).

``build_plan`` is pure: the caller passes the state it read (one query), the observed source
versions, and functions for code versions and output existence. It returns a frozen ``Plan``
whose steps are in dependency order, each with its reasons; the executor only consumes it.
A step is one asset, or one partition of it (``StepKey``); every asset has one step today.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from assets_core.code_version.versioner import CodeVersion
from assets_core.errors import PlanError
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey, StepKey, step_of
from assets_core.model.kinds import AnyAsset
from assets_core.storage.sources import describe_change
from assets_core.storage.state import (
    EncodedInputs,
    MaterializationRecord,
    StepState,
    encode_versions,
)

Status = Literal["missing", "stale", "pending", "forced", "fresh"]
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
    "forced",
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
    ``statuses`` every step the planner looked at (the selection and its upstream)."""

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
        return {
            "steps": [s.to_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


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


def _deps_changed(recorded: Iterable[StepKey], current: Iterable[StepKey]) -> Reason | None:
    old, new = set(recorded), set(current)
    if old == new:
        return None
    parts = [f"+{k}" for k in sorted(new - old)] + [f"-{k}" for k in sorted(old - new)]
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


def build_plan(
    *,
    graph: AssetGraph,
    assets: Mapping[AssetKey, AnyAsset],
    upstream: Mapping[AssetKey, tuple[AssetKey, ...]],
    upstream_steps: Mapping[AssetKey, tuple[StepKey, ...]],
    selected: Iterable[AssetKey],
    state: Mapping[StepKey, StepState],
    source_versions: Mapping[StepKey, str],
    code_version: Callable[[AnyAsset], CodeVersion],
    stored: Mapping[StepKey, str],
    stored_version: Callable[[StepKey], str | None],
    moved: Callable[[StepKey, MaterializationRecord], Moved | None] = lambda step, last: None,
    force: bool = False,
) -> Plan:
    """Decide the status of every selected step (DESIGN §5).

    ``upstream_steps`` gives each asset's upstream steps (``upstream`` as step keys).
    ``stored`` holds, for every step with a record whose IO manager still holds its output,
    the output's fingerprint as it is now (``""``: the manager keeps none). A selected step
    missing from it is missing. A step whose recorded fingerprint differs was changed by
    something else since it was written: ``stored_version(step)`` asks its IO manager for the
    data version it holds now (``None``: it cannot tell), which its readers then see. One that
    holds the recorded version still is not changed (``Plan.verified``). For a selected step
    whose output is not found as recorded, ``moved(step, last)`` tells whether its last
    success was stored where its IO manager does not store it now (``None``: it was not):
    such a step is stale because its IO manager changed, not missing.
    """
    chosen = frozenset(k for k in selected if not assets[k].observed)
    scope = graph.ancestors(chosen) | chosen
    statuses: dict[StepKey, PlanStep] = {}
    current: dict[StepKey, str | None] = {}
    last_of: dict[StepKey, MaterializationRecord] = {}
    versions: dict[AssetKey, CodeVersion] = {}
    planned: set[AssetKey] = set()
    step_ups: dict[StepKey, tuple[StepKey, ...]] = {}
    observed: set[StepKey] = set()
    never_built: dict[AssetKey, list[AssetKey]] = {}
    warnings: list[str] = []
    waits: dict[AssetKey, Reason] = {}
    texts: dict[StepKey, str] = {}  # "a/b" of each upstream step, made once per plan
    verified: dict[StepKey, tuple[str, str | None]] = {}
    # the nearest unselected upstream that is not fresh, seen through unselected assets
    dirty: dict[AssetKey, AssetKey] = {}

    for key in graph.toposorted(scope):
        a = assets[key]
        step = step_of(key)
        if a.observed:
            current[step] = source_versions.get(step)
            observed.add(step)
            continue
        st = state.get(step)
        last = st.last if st is not None else None
        current[step] = last.data_version if last is not None else None
        if last is not None:
            last_of[step] = last
        up_keys = upstream[key]
        ups = upstream_steps[key]
        cv = code_version(a)
        versions[key] = cv
        is_selected = key in chosen
        reasons: list[Reason] = []
        missing = False  # no stored output to compare: the other rules are moot
        rehomed = None  # where the last output was, when its IO manager stores it elsewhere now

        if last is None:
            missing = True
            reasons.append(_NEVER)
        elif is_selected and step not in stored:
            missing = True
            rehomed = moved(step, last)
            if rehomed is not None:
                reasons.append(_moved(last, rehomed))
            else:
                reasons.append(Reason("output_missing", f"output missing at {last.location}"))
        elif last.fingerprint:
            now_fp = stored.get(step)
            if now_fp and now_fp != last.fingerprint and is_selected:
                rehomed = moved(step, last)  # another output, where its manager stores now
                if rehomed is not None:
                    missing = True
                    reasons.append(_moved(last, rehomed))
            if rehomed is None and now_fp and now_fp != last.fingerprint:
                changed = _output_changed(last, now_fp, stored_version(step))
                if changed is not None:
                    reasons.append(changed)
                    current[step] = changed.new
                else:  # the recorded data under a new fingerprint (copied, touched)
                    verified[step] = (now_fp, last.data_version)
        # Inputs read back from a store keep their stored text: when it equals the current
        # inputs encoded the same way, the dependencies and every upstream version are as
        # recorded, and the record need not be decoded (what a fresh project's plan is).
        same_inputs = False
        if last is not None and not missing:
            if last.code_version != cv.version:
                reasons.append(_code_changed(last, cv))
            inputs = last.inputs
            same_inputs = _same_inputs(inputs, ups, current, texts)
            if not same_inputs:
                changed_deps = _deps_changed(inputs, ups)
                if changed_deps is not None:
                    reasons.append(changed_deps)
        for up, up_step in zip(up_keys, ups, strict=True):
            if up in planned:
                wait = waits.get(up)
                if wait is None:  # one value per upstream, shared by all its waiting children
                    wait = waits[up] = Reason("waits_on", f"waits on {up}", upstream=up)
                reasons.append(wait)
                continue
            now = current.get(up_step)
            up_asset = assets[up]
            if now is None and up_asset.observed:
                continue  # an unobserved source; reported by whoever observes it
            if now is None:
                if is_selected:
                    never_built.setdefault(up, []).append(key)
                continue
            if same_inputs or last is None or missing or up_step not in last.inputs:
                continue
            before = last.inputs[up_step]
            if before != now:
                if not up_asset.observed:
                    msg = f"upstream {up} changed ({short(before)} → {short(now)})"
                    reasons.append(
                        Reason("upstream_changed", msg, upstream=up, old=before, new=now)
                    )
                else:
                    reasons.append(
                        Reason(
                            "source_changed",
                            describe_change(up_asset, before, now),
                            upstream=up,
                            old=before,
                            new=now,
                        )
                    )

        status: Status
        if is_selected and force:
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
            and _same_inputs(failure.inputs, ups, current, texts)
        )
        # the nearest unselected upstream that is not fresh: what a fresh step reads stale,
        # and what an unselected step passes on to the steps reading it
        stale_up = None
        if status == "fresh" or not is_selected:
            for up in up_keys:
                if up in chosen or assets[up].observed:
                    continue
                stale_up = up if statuses[step_of(up)].status != "fresh" else dirty.get(up)
                if stale_up is not None:
                    dirty[key] = stale_up
                    break
        plan_step = PlanStep(key, status, tuple(reasons), None, failed, stale_up)
        statuses[step] = plan_step
        if is_selected and status in RUNNABLE:
            planned.add(key)
            step_ups[step] = ups

    for key in graph.toposorted(scope - chosen):
        step_ = statuses.get(step_of(key))
        if step_ is None or step_.status == "fresh" or current.get(step_of(key)) is None:
            continue
        # Read directly, or through unselected assets in between: either way a planned
        # asset downstream will see this asset's stored (stale) output.
        readers = sorted(c for c in graph.children(key) if c in planned) or sorted(
            graph.descendants([key]) & planned
        )
        if readers:
            warnings.append(
                f"{key} is {step_.status} ({step_.reasons[0].message}) but not selected; its "
                f"stored output will be read. Select +{readers[0]} to rebuild it too."
            )

    if never_built:
        lines = [
            f"{up} has never been materialized and is not selected, but "
            f"{', '.join(str(r) for r in readers)} needs it; select +{readers[0]} to build it too."
            for up, readers in sorted(never_built.items())
        ]
        raise PlanError("\n".join(lines))

    steps = tuple(statuses[step_of(k)] for k in graph.toposorted(planned))
    return Plan(
        steps=steps,
        selected=chosen,
        statuses=MappingProxyType(statuses),
        warnings=tuple(warnings),
        code_versions=MappingProxyType(versions),
        current=MappingProxyType(current),
        last=MappingProxyType(last_of),
        upstream=MappingProxyType(step_ups),
        observed=frozenset(observed),
        forced=force,
        verified=MappingProxyType(verified),
    )
