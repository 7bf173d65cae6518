"""The planner: which selected assets must run, and exactly why (DESIGN §5).

``build_plan`` is pure: the caller passes the state it read (one query), the observed source
versions, and functions for code versions and output existence. It returns a frozen ``Plan``
whose steps are in dependency order, each with its reasons; the executor only consumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from assets_core.code_version.versioner import CodeVersion
from assets_core.errors import PlanError
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AnyAsset, Asset
from assets_core.storage.state import (
    AssetState,
    EncodedInputs,
    MaterializationRecord,
    encode_inputs,
)

Status = Literal["missing", "stale", "pending", "forced", "fresh"]
ReasonCode = Literal[
    "never_materialized",
    "output_missing",
    "code_changed",
    "deps_changed",
    "upstream_changed",
    "source_changed",
    "waits_on",
    "forced",
]
RUNNABLE: frozenset[str] = frozenset({"missing", "stale", "pending", "forced"})
_FOLLOW: frozenset[str] = frozenset({"waits_on", "upstream_changed"})


def short(version: str | None) -> str:
    """A data or code version as shown to people: its first 8 characters."""
    return "none" if version is None else version[:8]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a step is in the plan: a stable ``code`` and a sentence for people."""

    code: ReasonCode
    message: str
    upstream: AssetKey | None = None
    old: str | None = None
    new: str | None = None
    changed: tuple[str, ...] = ()  # functions whose code changed, when known

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.upstream is not None:
            out["upstream"] = str(self.upstream)
        if self.old is not None or self.new is not None:
            out["old"], out["new"] = self.old, self.new
        if self.changed:
            out["changed"] = list(self.changed)
        return out


@dataclass(frozen=True, slots=True)
class PlanStep:
    key: AssetKey
    status: Status
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": str(self.key),
            "status": self.status,
            "reasons": [r.to_dict() for r in self.reasons],
        }


_NO_STEPS: Mapping[AssetKey, PlanStep] = MappingProxyType({})


@dataclass(frozen=True)
class Plan:
    """What would run and why. ``steps`` holds the runnable steps in dependency order;
    ``statuses`` every asset the planner looked at (the selection and its upstream)."""

    steps: tuple[PlanStep, ...]
    selected: frozenset[AssetKey]
    statuses: Mapping[AssetKey, PlanStep] = field(default_factory=lambda: _NO_STEPS)
    warnings: tuple[str, ...] = ()
    # What the executor needs, as read while planning:
    code_versions: Mapping[AssetKey, CodeVersion] = field(default_factory=dict, repr=False)
    current: Mapping[AssetKey, str | None] = field(default_factory=dict, repr=False)
    last: Mapping[AssetKey, MaterializationRecord] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def keys(self) -> list[AssetKey]:
        return [s.key for s in self.steps]

    def step(self, key: AssetKey | str) -> PlanStep | None:
        return self.statuses.get(AssetKey.parse(key))

    def explain_chain(self, key: AssetKey | str) -> tuple[list[AssetKey], Reason | None]:
        """Follow ``waits_on`` / ``upstream_changed`` reasons from ``key`` down to the root
        cause: the keys on the way (``key`` first) and the root reason."""
        current = AssetKey.parse(key)
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
            up = nxt.upstream
            if up is None or up in seen or up not in self.statuses:
                return chain, nxt
            chain.append(up)
            seen.add(up)
            current = up

    def explain(self, key: AssetKey | str) -> str:
        """One line: ``revenue ← orders ← raw_orders: source raw_orders changed``."""
        chain, root = self.explain_chain(key)
        path = " ← ".join(str(k) for k in chain)
        if root is None:
            return f"{path}: up to date"
        return f"{path}: {root.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


# Reasons that are the same wherever they occur (values: one instance serves every step).
_NEVER = Reason("never_materialized", "never materialized")
_FORCED = Reason("forced", "forced")


def _deps_changed(recorded: Iterable[AssetKey], current: Iterable[AssetKey]) -> Reason | None:
    old, new = set(recorded), set(current)
    if old == new:
        return None
    parts = [f"+{k}" for k in sorted(new - old)] + [f"-{k}" for k in sorted(old - new)]
    return Reason("deps_changed", "dependencies changed: " + " ".join(parts))


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


def _encode_now(
    ups: tuple[AssetKey, ...], current: Mapping[AssetKey, str | None], texts: dict[AssetKey, str]
) -> str:
    """``encode_inputs`` of the upstreams' current versions, without building the mapping,
    each key's text made once per plan (an upstream is an input of several assets)."""
    parts = []
    for u in ups:
        text = texts.get(u)
        if text is None:
            text = texts[u] = "/".join(u)
        v = current.get(u)
        if v is None:
            parts.append(f'"{text}":null')
        elif v.isalnum() and v.isascii():
            parts.append(f'"{text}":"{v}"')
        else:  # not a plain digest: the encoder's way
            return encode_inputs({u: current.get(u) for u in ups})
    return "{" + ",".join(parts) + "}"


def build_plan(
    *,
    graph: AssetGraph,
    assets: Mapping[AssetKey, AnyAsset],
    upstream: Mapping[AssetKey, tuple[AssetKey, ...]],
    selected: Iterable[AssetKey],
    state: Mapping[AssetKey, AssetState],
    source_versions: Mapping[AssetKey, str],
    code_version: Callable[[Asset], CodeVersion],
    output_exists: Callable[[Asset], bool],
    force: bool = False,
) -> Plan:
    """Decide the status of every selected asset (DESIGN §5).

    ``output_exists(asset)`` asks the asset's IO manager whether its stored output is still
    there; it is called only for selected assets that have a record.
    """
    chosen = frozenset(k for k in selected if isinstance(assets[k], Asset))
    scope = graph.ancestors(chosen) | chosen
    statuses: dict[AssetKey, PlanStep] = {}
    current: dict[AssetKey, str | None] = {}
    last_of: dict[AssetKey, MaterializationRecord] = {}
    versions: dict[AssetKey, CodeVersion] = {}
    planned: set[AssetKey] = set()
    never_built: dict[AssetKey, list[AssetKey]] = {}
    warnings: list[str] = []
    waits: dict[AssetKey, Reason] = {}
    texts: dict[AssetKey, str] = {}  # "a/b" of each upstream key, made once per plan

    for key in graph.toposorted(scope):
        a = assets[key]
        if not isinstance(a, Asset):
            current[key] = source_versions.get(key)
            continue
        st = state.get(key)
        last = st.last if st is not None else None
        current[key] = last.data_version if last is not None else None
        if last is not None:
            last_of[key] = last
        ups = upstream[key]
        cv = code_version(a)
        versions[key] = cv
        is_selected = key in chosen
        reasons: list[Reason] = []
        missing = False

        if last is None:
            missing = True
            reasons.append(_NEVER)
        elif is_selected and not output_exists(a):
            missing = True
            reasons.append(Reason("output_missing", f"output missing at {last.location}"))
        # Inputs read back from a store keep their stored text: when it equals the current
        # inputs encoded the same way, the dependencies and every upstream version are as
        # recorded, and the record need not be decoded (what a fresh project's plan is).
        same_inputs = False
        if last is not None and not missing:
            if last.code_version != cv.version:
                reasons.append(_code_changed(last, cv))
            inputs = last.inputs
            if type(inputs) is EncodedInputs:
                same_inputs = inputs.text == _encode_now(ups, current, texts)
            if not same_inputs:
                changed_deps = _deps_changed(inputs, ups)
                if changed_deps is not None:
                    reasons.append(changed_deps)
        for up in ups:
            if up in planned:
                wait = waits.get(up)
                if wait is None:  # one value per upstream, shared by all its waiting children
                    wait = waits[up] = Reason("waits_on", f"waits on {up}", upstream=up)
                reasons.append(wait)
                continue
            now = current.get(up)
            if now is None and not isinstance(assets[up], Asset):
                continue  # an unobserved source; reported by whoever observes it
            if now is None:
                if is_selected:
                    never_built.setdefault(up, []).append(key)
                continue
            if same_inputs or last is None or missing or up not in last.inputs:
                continue
            before = last.inputs[up]
            if before != now:
                if isinstance(assets[up], Asset):
                    msg = f"upstream {up} changed ({short(before)} → {short(now)})"
                    reasons.append(
                        Reason("upstream_changed", msg, upstream=up, old=before, new=now)
                    )
                else:
                    reasons.append(
                        Reason(
                            "source_changed",
                            f"source {up} changed",
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
            status = "missing"
        elif any(r.code != "waits_on" for r in reasons):
            status = "stale"
        elif reasons:
            status = "pending"
        else:
            status = "fresh"
        step = PlanStep(key, status, tuple(reasons))
        statuses[key] = step
        if is_selected and status in RUNNABLE:
            planned.add(key)

    for key in graph.toposorted(scope - chosen):
        step_ = statuses.get(key)
        if step_ is None or step_.status == "fresh" or current.get(key) is None:
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

    steps = tuple(statuses[k] for k in graph.toposorted(planned))
    return Plan(
        steps=steps,
        selected=chosen,
        statuses=MappingProxyType(statuses),
        warnings=tuple(warnings),
        code_versions=MappingProxyType(versions),
        current=MappingProxyType(current),
        last=MappingProxyType(last_of),
    )
