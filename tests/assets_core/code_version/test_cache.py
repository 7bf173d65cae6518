"""The code-version cache: what a new process (a new versioner on the same cache file) reuses,
what it reads again after an edit, and a corrupt or damaged cache file computed over."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core import load_project
from assets_core.code_version.versioner import CACHE_FORMAT, CodeVersion, CodeVersioner
from tests.assets_core.code_version.conftest import HELPERS, Project, version


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = ast.parse

    def counting(source: Any, filename: Any = "<unknown>", *args: Any, **kwargs: Any) -> Any:
        parsed.append(str(filename))
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    return parsed


def test_cache_reuse_and_invalidation(
    layered: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "state" / "code_versions.cache"
    mod = layered.load()
    parsed = _count_parses(monkeypatch)
    first = CodeVersioner(cache)
    before = first.version_of(mod.orders, "parquet")
    first.save_cache()
    assert len(parsed) == 3  # assets, helpers, config
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT

    parsed.clear()
    second = CodeVersioner(cache)
    assert second.version_of(mod.orders, "parquet") == before
    assert parsed == []

    layered.write("helpers", HELPERS.replace("s.strip()", "s.rstrip()"))
    mod = layered.load()
    third = CodeVersioner(cache)
    assert third.version_of(mod.orders, "parquet").version != before.version
    assert [Path(p).name for p in parsed] == ["helpers.py"]
    third.save_cache()
    assert not list(cache.parent.glob("*.tmp"))


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"format": 999, "files": {}}', b"\x00\xff", b'{"files": []}']
)
def test_corrupt_cache_is_ignored_and_rewritten(
    layered: Project, tmp_path: Path, content: bytes
) -> None:
    cache = tmp_path / "code_versions.cache"
    cache.write_bytes(content)
    mod = layered.load()
    v = CodeVersioner(cache)
    assert v.version_of(mod.orders, "parquet") == version(mod)
    v.save_cache()
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT


def _saved_cache(layered: Project, tmp_path: Path) -> tuple[Path, Any, CodeVersion, Any]:
    """A cache holding ``orders``'s version: its path, the module, the version, its JSON."""
    cache = tmp_path / "code_versions.cache"
    mod = layered.load()
    v = CodeVersioner(cache)
    expected = v.version_of(mod.orders, "parquet")
    v.save_cache()
    return cache, mod, expected, json.loads(cache.read_text())


def test_malformed_cache_entry_is_reparsed(layered: Project, tmp_path: Path) -> None:
    cache, mod, expected, payload = _saved_cache(layered, tmp_path)
    for entry in payload["files"].values():  # [signature, index as JSON text]
        entry[1] = json.dumps({"defs": {"x@1": [1]}, "consts": {}, "imports": {}})
    cache.write_text(json.dumps(payload))
    assert CodeVersioner(cache).version_of(mod.orders, "parquet") == expected


@pytest.mark.parametrize("damage", ["piece index out of range", "pieces table malformed"])
def test_damaged_whole_results_are_computed_again(
    layered: Project, tmp_path: Path, damage: str
) -> None:
    """Cached versions read their components lazily: a damaged table is caught on reading."""
    cache, mod, expected, payload = _saved_cache(layered, tmp_path)
    if damage == "piece index out of range":
        for result in payload["results"].values():  # [version, pieces, paths]
            result[1] = [*result[1], len(payload["pieces"])]
    else:
        payload["pieces"][0] = ["name only"]
    cache.write_text(json.dumps(payload))
    got = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert got == expected
    assert dict(got.components) == dict(expected.components)


def test_whole_versions_are_reused_by_a_new_process(
    layered: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new versioner (a new process) reuses each asset's whole version while none of the
    files it was read from changed: no piece is rebuilt."""
    cache = tmp_path / "code_versions.cache"
    mod = layered.load()
    first = CodeVersioner(cache)
    before = first.version_of(mod.orders, "parquet")
    first.save_cache()

    built: list[str] = []
    real = CodeVersioner._build_fn

    def counting(self: CodeVersioner, fn: Any, *, as_asset: bool) -> Any:
        built.append(fn.__qualname__)
        return real(self, fn, as_asset=as_asset)

    monkeypatch.setattr(CodeVersioner, "_build_fn", counting)
    again = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert again == before and dict(again.components) == dict(before.components)
    assert built == []

    layered.write("config", "THRESHOLD = 11\n")  # two files away from the asset
    mod = layered.load()
    changed = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert changed.version != before.version
    assert built  # recomputed


def test_assets_made_by_a_factory_are_never_served_stale(project: Project, tmp_path: Path) -> None:
    """A closure value comes from a call site that may live in another file: such versions
    are not cached across processes."""
    project.write(
        "factory",
        """
        from assets_core.model.decorator import asset

        def make(name, n):
            @asset(name=name)
            def inner(raw):
                return raw * n
            return inner
        """,
    )
    project.write("assets", "from .factory import make\n\nscaled = make('scaled', 3)\n")
    cache = tmp_path / "code_versions.cache"
    first = CodeVersioner(cache)
    before = first.version_of(project.load().scaled, "parquet")
    first.save_cache()
    project.write("assets", "from .factory import make\n\nscaled = make('scaled', 4)\n")
    after = CodeVersioner(cache).version_of(project.load().scaled, "parquet")
    assert after.version != before.version


def test_a_save_keeps_the_still_valid_versions_it_did_not_use(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that computed one asset anew and saved the cache keeps every other stored
    version whose files are unchanged, so the next process builds nothing again."""
    body = (
        "from assets_core.model.decorator import asset\n\n@asset\ndef {0}(x):\n    return x + {1}\n"
    )
    project.write("one", body.format("one", 1))
    project.write("two", body.format("two", 2))
    cache = tmp_path / "code_versions.cache"
    first = CodeVersioner(cache)
    one = first.version_of(project.load("one").one, "parquet")
    first.save_cache()
    second = CodeVersioner(cache)  # uses nothing of the cache: only `two` is new
    two = second.version_of(project.load("two").two, "parquet")
    second.save_cache()
    payload = json.loads(cache.read_text())
    assert len(payload["results"]) == 2 and len(payload["paths"]) == 2

    built: list[str] = []
    real = CodeVersioner._build_fn

    def counting(self: CodeVersioner, fn: Any, *, as_asset: bool) -> Any:
        built.append(fn.__qualname__)
        return real(self, fn, as_asset=as_asset)

    monkeypatch.setattr(CodeVersioner, "_build_fn", counting)
    third = CodeVersioner(cache)
    assert third.version_of(project.load("one").one, "parquet") == one
    assert third.version_of(project.load("two").two, "parquet") == two
    assert built == []
    project.write("one", body.format("one", 10))  # an edit drops that version only
    fourth = CodeVersioner(cache)
    assert fourth.version_of(project.load("one").one, "parquet").version != one.version
    assert fourth.version_of(project.load("two").two, "parquet") == two
    assert built == ["one"]


# -- the index kept beside the bytecode ------------------------------------------------------

BESIDE_CODE = """
import pandas as pd
from assets_core import asset

FACTOR = {factor}


@asset
def scaled() -> pd.DataFrame:
    return pd.DataFrame({{"v": [FACTOR]}})
"""


def _beside_project(tmp_path: Path, factor: int) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "lumbung.toml").write_text('modules = ["assets_beside_t"]\n')
    (root / "assets_beside_t.py").write_text(BESIDE_CODE.format(factor=factor))
    return root


def _fresh_version(root: Path) -> str:
    """The asset's code version in a session over new storage (the module imported anew)."""
    sys.modules.pop("assets_beside_t", None)
    shutil.rmtree(root / ".lumbung", ignore_errors=True)
    with load_project(root) as session:
        return session.code_version(session.get("scaled")).version


def _kept(root: Path) -> list[Path]:
    return sorted((root / "__pycache__").glob("assets_beside_t.*.lumbung-*.json"))


@pytest.fixture
def writes_bytecode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as a user's Python runs
    yield
    sys.modules.pop("assets_beside_t", None)


@pytest.mark.usefixtures("writes_bytecode")
def test_new_storage_reads_the_index_kept_beside_the_bytecode(tmp_path: Path) -> None:
    root = _beside_project(tmp_path, 2)
    clean = _fresh_version(root)
    (kept,) = _kept(root)
    raw = json.loads(kept.read_text())
    assert (
        raw["source"]
        == importlib.util.source_hash((root / "assets_beside_t.py").read_bytes()).hex()
    )
    assert _fresh_version(root) == clean
    # what is kept is what is read: a changed digest in it changes the version
    key = next(k for k in raw["index"]["defs"] if k.startswith("scaled@"))
    raw["index"]["defs"][key][0] = "0" * 32
    kept.write_text(json.dumps(raw))
    assert _fresh_version(root) != clean
    # ... but only for the bytes it was made from: after an edit the file is parsed again
    (root / "assets_beside_t.py").write_text(BESIDE_CODE.format(factor=3))
    edited = _fresh_version(root)
    assert edited != clean
    kept.unlink()
    assert _fresh_version(root) == edited


@pytest.mark.usefixtures("writes_bytecode")
@pytest.mark.parametrize("content", [b"{not json", b"\x00\xff", b'{"source": 1}', b"[]"])
def test_a_damaged_index_beside_the_bytecode_is_parsed_over(tmp_path: Path, content: bytes) -> None:
    root = _beside_project(tmp_path, 2)
    clean = _fresh_version(root)
    (kept,) = _kept(root)
    kept.write_bytes(content)
    assert _fresh_version(root) == clean
    assert json.loads(kept.read_text())["index"]  # written again, whole


def _cached_files(root: Path) -> list[str]:
    """The files whose index the storage's code-version cache holds, after a session over
    new storage versioned the asset and saved its cache."""
    sys.modules.pop("assets_beside_t", None)
    shutil.rmtree(root / ".lumbung", ignore_errors=True)
    with load_project(root) as session:
        version = session.code_version(session.get("scaled")).version
        session.versioner.save_cache()
    sys.modules.pop("assets_beside_t", None)
    with load_project(root) as again:  # the same storage: the version as cached
        assert again.code_version(again.get("scaled")).version == version
    payload = json.loads((root / ".lumbung" / "code_versions.cache").read_text())
    return [Path(path).name for path in payload["files"]]


@pytest.mark.usefixtures("writes_bytecode")
def test_an_index_kept_beside_the_bytecode_is_not_kept_in_the_cache_too(tmp_path: Path) -> None:
    root = _beside_project(tmp_path, 2)
    assert _cached_files(root) == []
    assert len(_kept(root)) == 1


def test_no_index_is_kept_where_no_bytecode_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = _beside_project(tmp_path, 2)
    assert _cached_files(root) == ["assets_beside_t.py"]  # the cache file holds it instead
    _fresh_version(root)
    sys.modules.pop("assets_beside_t", None)
    assert _kept(root) == []


# -- whole versions kept beside the bytecode ---------------------------------------------------

RESULT_CODE = """
import pandas as pd
from assets_core import asset
from helpers_beside_r import factor


@asset
def scaled() -> pd.DataFrame:
    return pd.DataFrame({"v": [factor()]})
"""
HELPER_CODE = """
def factor() -> int:
    return {factor}
"""
_RESULT_MODULES = ("assets_beside_r", "helpers_beside_r")


def _planned_version(root: Path) -> str:
    """The asset's code version as the first plan of new storage finds it, the project's
    modules imported anew (the plan keeps what it computed, as every plan does)."""
    for name in _RESULT_MODULES:
        sys.modules.pop(name, None)
    shutil.rmtree(root / ".lumbung", ignore_errors=True)
    with load_project(root) as session:
        session.plan()
        return session.code_version(session.get("scaled")).version


@pytest.fixture
def result_project(tmp_path: Path) -> Iterator[Path]:
    """A project whose asset calls a helper in another module; its modules forgotten after."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets_beside_r"]\n')
    (root / "assets_beside_r.py").write_text(RESULT_CODE)
    (root / "helpers_beside_r.py").write_text(HELPER_CODE.format(factor=2))
    yield root
    for name in _RESULT_MODULES:
        sys.modules.pop(name, None)


@pytest.mark.usefixtures("writes_bytecode")
def test_new_storage_takes_the_versions_kept_beside_the_bytecode(result_project: Path) -> None:
    root = result_project
    clean = _planned_version(root)
    (kept,) = sorted((root / "__pycache__").glob("assets_beside_r.*.lumbung-*.json"))
    raw = json.loads(kept.read_text())
    (key,) = raw["results"]
    version, _, sigs = raw["results"][key]
    assert version == clean
    assert {Path(f).name for f in sigs} == {"assets_beside_r.py", "helpers_beside_r.py"}
    # what is kept is what a new storage takes, and its own cache file keeps it then
    raw["results"][key][0] = "0" * 32
    kept.write_text(json.dumps(raw))
    assert _planned_version(root) == "0" * 32
    cache = json.loads((root / ".lumbung" / "code_versions.cache").read_text())
    assert [entry[0] for entry in cache["results"].values()] == ["0" * 32]
    # an edit of another file it was read from (its helper) makes it computed again
    (root / "helpers_beside_r.py").write_text(HELPER_CODE.format(factor=3))
    edited = _planned_version(root)
    assert edited not in (clean, "0" * 32)
    assert _planned_version(root) == edited  # and kept again


def test_no_version_is_kept_where_no_bytecode_is(
    result_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _planned_version(result_project)
    assert not list(result_project.glob("**/*.lumbung-*.json"))


@pytest.mark.usefixtures("writes_bytecode")
def test_writing_the_index_beside_the_bytecode_keeps_the_versions_there(
    result_project: Path,
) -> None:
    clean = _planned_version(result_project)
    (kept,) = sorted((result_project / "__pycache__").glob("assets_beside_r.*.lumbung-*.json"))
    raw = json.loads(kept.read_text())
    del raw["index"]  # versions kept, the index not (yet)
    kept.write_text(json.dumps(raw))
    for name in _RESULT_MODULES:
        sys.modules.pop(name, None)
    shutil.rmtree(result_project / ".lumbung")
    with load_project(result_project) as session:
        asset = session.get("scaled")
        session.versioner.version_of_function(asset.fn)  # parses the module: its index is kept
    again = json.loads(kept.read_text())
    assert again["index"]
    assert [entry[0] for entry in again["results"].values()] == [clean]
