"""The SQLite store's row helpers."""

from __future__ import annotations

import json

import pytest

from assets_core.storage.sqlite_rows import json_text

_REFERENCE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@pytest.mark.parametrize(
    "value",
    [
        {"pkg.mod.fn": "0123abcd", 'é"\\\n\t\x01': "ü"},
        [["v", "int64"], ["naïve", "timestamp[us]"]],
        [],
        {},
        'a "quoted" line\n',
        ["a", 1, -2.5, None, True, False, 10**20],
        {"nested": [1, {"z": None}], "": ""},
    ],
)
def test_json_text_writes_what_the_compact_encoder_writes(value: object) -> None:
    assert json_text(value) == _REFERENCE(value)


def test_json_text_refuses_what_json_cannot_write() -> None:
    with pytest.raises(TypeError):
        json_text({"a": object()})
