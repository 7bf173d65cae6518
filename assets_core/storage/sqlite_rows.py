"""How the SQLite state store writes records into rows and reads them back.

A row holds a step as ``key`` and ``partition`` (``''`` for an unpartitioned step), then the
record's fields (``FIELDS``), with its mappings as compact JSON and its location relative to the
storage folder when it lies under it (``assets_core.storage.locations``). Rows read back keep
their JSON text until a mapping is first used: planning compares most records without looking
inside them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from assets_core.lazymap import LazyMapping
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.locations import absolute_location, stored_location
from assets_core.storage.state import (
    CheckRecord,
    EncodedInputs,
    MaterializationRecord,
    Outcome,
    encode_inputs,
)

__all__ = [
    "CHECK_COLUMNS",
    "EMPTY",
    "FIELDS",
    "RECORD_COLUMNS",
    "LazyComponents",
    "check_from_row",
    "check_row",
    "json_text",
    "known_step",
    "new_step",
    "record_from_row",
    "row_from_record",
]

# A record's columns after its step (key, partition), in record_from_row's order.
FIELDS = (
    "run_id",
    "outcome",
    "code_version",
    "data_version",
    "inputs",
    "code_components",
    "started_at",
    "ended_at",
    '"rows"',
    "bytes",
    "location",
    '"schema"',
    "error",
    "fingerprint",
)
RECORD_COLUMNS = 'key, "partition", ' + ", ".join(FIELDS)
EMPTY: Mapping[Any, Any] = MappingProxyType({})
_Schema = tuple[tuple[str, str], ...]


def _compact_json() -> Callable[[Any], str]:
    """What ``json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode`` writes,
    with its C encoder made once: ``encode`` makes a new one on every call, which costs more
    than encoding a record's few strings (about 15,000 instructions of a record's 60,000).
    Without a circular-reference check (the texts stored are never self-referencing), so that
    one encoder serves every thread."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        iterencode = make(  # type: ignore[misc]
            None,  # markers: no circular-reference check
            encoder.default,
            json.encoder.encode_basestring,
            None,  # indent
            ":",
            ",",
            False,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan
        )
    except TypeError:  # no C accelerator, or a Python whose private encoder differs
        return encoder.encode

    def compact(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return compact


#: compact JSON (no spaces, non-ASCII as it is), as every mapping and list stored is written
json_text = _compact_json()
_raw_decode = json.JSONDecoder().raw_decode  # json.loads minus its checks: 2.5x faster


def _loads(text: str) -> Any:
    return _raw_decode(text)[0]


def new_step(
    steps: dict[str, StepKey], name: str, wanted: Mapping[str, StepKey] | None = None
) -> StepKey | None:
    """The step whose text is ``name`` (``a/b`` or ``a/b[p]``), remembered in ``steps``; its
    asset key is shared with the asset's other steps there. ``None`` when ``wanted`` is given
    (the asked assets' texts) and does not hold the step's asset."""
    text, bracket, part = name.partition("[")
    if wanted is not None and text not in wanted:
        return None
    known = steps.get(text)
    key = known[0] if known is not None else AssetKey.parse(text)
    step = steps[name] = tuple.__new__(StepKey, (key, part[:-1] if bracket else None))
    return step


def known_step(steps: dict[str, StepKey], text: str, part: str) -> StepKey:
    """The step of asset ``text`` and partition ``part`` (``''``: none), as ``_new_step``."""
    name = f"{text}[{part}]" if part else text
    step = steps.get(name) or new_step(steps, name)
    assert step is not None
    return step


def row_from_record(rec: MaterializationRecord, folders: Sequence[str]) -> tuple[Any, ...]:
    step, inputs, location = rec.step, rec.inputs, rec.location
    return (
        "/".join(step[0]),
        step[1] or "",
        rec.run_id,
        rec.outcome,
        rec.code_version,
        rec.data_version,
        _stored_inputs(inputs) if inputs else None,
        json_text(dict(rec.code_components)) if rec.code_components else None,
        rec.started_at,
        rec.ended_at,
        rec.rows,
        rec.bytes,
        None if location is None else stored_location(location, folders),
        json_text([list(c) for c in rec.schema]) if rec.schema else None,
        rec.error,
        rec.fingerprint,
    )


def _decode_schema(text: str) -> tuple[tuple[str, str], ...]:
    return cast(_Schema, tuple(map(tuple, _raw_decode(text)[0])))


def record_from_row(
    step: StepKey, row: Sequence[Any], at: int, steps: dict[str, StepKey], root: str
) -> MaterializationRecord:
    """Rebuild ``step``'s record from the 14 columns of ``row`` from index ``at`` (``FIELDS``)."""
    (run_id, outcome, code_version, data_version, inputs, components, started_at) = row[at : at + 7]
    (ended_at, rows, nbytes, location, schema, error, fingerprint) = row[at + 7 : at + 14]
    return MaterializationRecord(
        step,
        run_id,
        cast(Outcome, outcome),
        code_version,
        data_version,
        EMPTY if inputs is None else EncodedInputs(inputs, steps),
        EMPTY if components is None else LazyComponents(components),
        started_at,
        ended_at,
        rows,
        nbytes,
        None if location is None else absolute_location(location, root),
        () if schema is None else _decode_schema(schema),
        error,
        fingerprint,
    )


def _stored_inputs(inputs: Mapping[StepKey, str | None]) -> str:
    """The text stored for a record's ``inputs``; a record read back keeps its text."""
    if type(inputs) is EncodedInputs:
        return inputs.text
    return encode_inputs(inputs)


class LazyComponents(LazyMapping[str, str]):
    """A record's ``code_components``, parsed from its JSON text on first use."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text
        self._data = None

    def _load(self) -> dict[str, str]:
        return cast(dict[str, str], _loads(self._text))


# A check result's columns (table ``check_results``), in check_row's order.
CHECK_COLUMNS = (
    'key, "partition", check_name, run_id, severity, passed, code_version, data_versions, '
    "failing_rows, sample, metadata, error, at"
)


def check_row(r: CheckRecord) -> tuple[Any, ...]:
    """The row of a check result (its mappings and sample as compact JSON)."""
    return (
        "/".join(r.step[0]),
        r.step[1] or "",
        r.name,
        r.run_id,
        r.severity,
        int(r.passed),
        r.code_version,
        json_text(dict(r.data_versions)),
        r.failing_rows,
        json_text([dict(s) for s in r.sample]) if r.sample else None,
        json_text(dict(r.metadata)) if r.metadata else None,
        r.error,
        r.at,
    )


def check_from_row(row: Sequence[Any]) -> CheckRecord:
    """A check result read back from its row."""
    key, part, name, run_id, severity, passed, cv, versions, failing, sample, meta, error, at = row
    return CheckRecord(
        step=StepKey(AssetKey(key.split("/")), part or None),
        name=name,
        severity=severity,
        passed=bool(passed),
        code_version=cv or "",
        data_versions=json.loads(versions) if versions else {},
        run_id=run_id,
        failing_rows=failing,
        sample=tuple(json.loads(sample)) if sample else (),
        metadata=json.loads(meta) if meta else {},
        error=error,
        at=at,
    )
