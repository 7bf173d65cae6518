"""AssetKey: the one parser of user strings, and the segment rule that keeps keys safe."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets_core.errors import InvalidKeyError
from assets_core.model.keys import SEGMENT_RE, AssetKey


def test_parse_forms_and_properties() -> None:
    key = AssetKey.parse("marts/revenue")
    assert key == AssetKey.parse(["marts", "revenue"]) == AssetKey.parse(key)
    assert (str(key), key.name, key.prefix) == ("marts/revenue", "revenue", ("marts",))
    assert repr(key) == "AssetKey('marts/revenue')"
    assert key.sibling("orders") == AssetKey.parse("marts/orders")
    assert pickle.loads(pickle.dumps(key)) == key
    assert sorted([AssetKey.parse("b"), AssetKey.parse("a/z"), AssetKey.parse("a")]) == [
        AssetKey.parse("a"),
        AssetKey.parse("a/z"),
        AssetKey.parse("b"),
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a/../b", "Invalid key segment '..' in 'a/../b'"),
        ("a//b", "Invalid key segment '' in 'a//b'"),
        ("has space", "Invalid key segment 'has space' in 'has space'"),
        ('x"; drop table t; --', "Invalid key segment"),
        ("1abc", "Invalid key segment '1abc' in '1abc'"),
        ("/abs", "Invalid key segment '' in '/abs'"),
    ],
)
def test_bad_keys_are_refused(raw: str, message: str) -> None:
    with pytest.raises(InvalidKeyError) as err:
        AssetKey.parse(raw)
    assert message in str(err.value)
    assert str(err.value).endswith(
        "a segment starts with a letter or '_' and holds only letters, digits and '_'."
    )


def test_empty_key_and_wrong_type() -> None:
    with pytest.raises(InvalidKeyError, match="at least one segment"):
        AssetKey(())
    with pytest.raises(InvalidKeyError, match="got int"):
        AssetKey.parse(3)  # type: ignore[arg-type]


@given(st.text(max_size=30))
def test_any_text_parses_to_a_safe_key_or_raises_invalid_key(text: str) -> None:
    try:
        key = AssetKey.parse(text)
    except InvalidKeyError:
        return
    assert all(SEGMENT_RE.match(seg) for seg in key)
    assert ".." not in str(key) and "'" not in str(key) and '"' not in str(key)
