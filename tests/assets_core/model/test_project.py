"""Finding a project on disk and importing its assets (assets_core/project.py).

Every test copies a fixture project from tests/resources/projects into tmp_path first, so
edits and bytecode never touch the repository.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_core.errors import ProjectError
from assets_core.model.project import ProjectConfig, find_project, import_assets
from assets_core.model.spec import Asset, SourceAsset

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECTS = Path(__file__).resolve().parents[2] / "resources" / "projects"


@pytest.fixture(autouse=True)
def _restore_interpreter(tmp_path: Path) -> Iterator[None]:
    """Undo what loading a project does to sys.path and sys.modules."""
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path
    base = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(base):
            del sys.modules[name]


def copy(tmp_path: Path, name: str) -> Path:
    """A fresh copy of the fixture project ``name``; returns its (resolved) folder."""
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target.resolve()


def keys(found: list[Asset | SourceAsset]) -> list[str]:
    return [str(a.key) for a in found]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


# --------------------------------------------------------------------------- finding


def test_folder_with_lumbung_toml(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    config = find_project(root)
    assert config == ProjectConfig(
        root=root,
        config_file=root / "lumbung.toml",
        modules=("pipeline",),
        storage=root / "build" / "state",
        default_io_manager="duckdb",
    )


def test_relative_folder_is_resolved_against_cwd(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    assert find_project("toml_package", cwd=tmp_path).root == root
    assert find_project(".", cwd=root).root == root


def test_folder_with_pyproject_toml(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    config = find_project(root)
    assert config.root == root
    assert config.config_file == root / "pyproject.toml"
    assert config.modules == ("assets",)
    assert config.storage == root / ".lumbung"
    assert config.default_io_manager == "parquet"


def test_config_file_itself_can_be_passed(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    assert find_project(root / "pyproject.toml") == find_project(root)


def test_empty_tool_lumbung_table_takes_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.lumbung]\n")
    config = find_project(tmp_path)
    assert config.modules == ("assets",)
    assert config.storage == tmp_path.resolve() / ".lumbung"


def test_lumbung_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "lumbung.toml", 'modules = ["from_lumbung_toml"]\n')
    write(tmp_path / "pyproject.toml", '[tool.lumbung]\nmodules = ["from_pyproject"]\n')
    assert find_project(tmp_path).modules == ("from_lumbung_toml",)


def test_single_py_file(tmp_path: Path) -> None:
    root = copy(tmp_path, "single_file")
    config = find_project(root / "my_assets.py")
    assert config == ProjectConfig(
        root=root, config_file=None, modules=("my_assets",), storage=root / ".lumbung"
    )
    assert keys(import_assets(config)) == ["numbers", "doubled"]


def test_py_file_with_unimportable_name(tmp_path: Path) -> None:
    write(tmp_path / "my-assets.py", "")
    with pytest.raises(ProjectError) as info:
        find_project("my-assets.py", cwd=tmp_path)
    assert str(info.value) == (
        "--project my-assets.py: 'my-assets' cannot be imported as a module; rename the file "
        "to use only letters, digits and '_'."
    )


def test_module_name_importable_from_cwd(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    config = find_project("pipeline.marts", cwd=root)
    assert config == ProjectConfig(
        root=root, config_file=None, modules=("pipeline.marts",), storage=root / ".lumbung"
    )
    # Only pipeline.marts is scanned (not a package): its own assets, then those it imports.
    assert keys(import_assets(config)) == ["revenue", "customer_orders", "orders", "customers"]


def test_package_name_that_is_also_a_folder_is_a_module(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    config = find_project("pipeline", cwd=root)
    assert config.root == root
    assert config.modules == ("pipeline",)
    assert config.config_file is None


def test_upward_search_from_a_subfolder(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    deep = root / "notebooks" / "2024" / "q1"
    deep.mkdir(parents=True)
    assert find_project(cwd=deep).root == root
    assert find_project(None, cwd=root).root == root


def test_upward_search_skips_pyproject_without_tool_lumbung(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    write(root / "lib" / "pyproject.toml", '[project]\nname = "lib"\nversion = "0.1"\n')
    # Not even parsed: an unrelated, broken pyproject.toml does not stop the search.
    write(root / "lib" / "inner" / "pyproject.toml", "this is [not toml\n")
    start = root / "lib" / "inner" / "src"
    start.mkdir()
    assert find_project(cwd=start).config_file == root / "lumbung.toml"


def test_upward_search_finds_pyproject_project(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    sub = root / "sub"
    sub.mkdir()
    assert find_project(cwd=sub).config_file == root / "pyproject.toml"


# --------------------------------------------------------------------------- finding errors


def test_no_project_found(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProjectError) as info:
        find_project(cwd=empty)
    assert str(info.value) == (
        f"No Lumbung project found in {empty.resolve()} or any folder above it; create one "
        "with `lumbung init`, or pass --project PATH."
    )


@pytest.mark.parametrize("given", ["nowhere", "no/such/folder", "missing.py", "no_pkg.assets"])
def test_path_that_does_not_exist(tmp_path: Path, given: str) -> None:
    with pytest.raises(ProjectError) as info:
        find_project(given, cwd=tmp_path)
    assert str(info.value) == f"--project {given}: no such file, folder or importable module."


def test_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "data-folder").mkdir()
    with pytest.raises(ProjectError) as info:
        find_project("data-folder", cwd=tmp_path)
    assert str(info.value) == (
        "--project data-folder: this folder has no lumbung.toml and no pyproject.toml with "
        "[tool.lumbung]; create one with `lumbung init`, or pass the folder that has one."
    )


def test_malformed_toml(tmp_path: Path) -> None:
    root = copy(tmp_path, "bad_toml")
    file = root / "lumbung.toml"
    try:
        tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
    with pytest.raises(ProjectError) as info:
        find_project(root)
    assert str(info.value) == f"{file}: invalid TOML ({reason}); fix the file."
    assert isinstance(info.value.__cause__, tomllib.TOMLDecodeError)


def test_malformed_pyproject_that_mentions_lumbung(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.lumbung\n")
    with pytest.raises(ProjectError, match=r"pyproject.toml: invalid TOML \(.*\); fix the file\.$"):
        find_project(tmp_path)


def test_unknown_key_in_lumbung_toml(tmp_path: Path) -> None:
    root = copy(tmp_path, "bad_config")
    with pytest.raises(ProjectError) as info:
        find_project(root)
    assert str(info.value) == (
        f"{root / 'lumbung.toml'}: modlues: unknown key; did you mean 'modules'? "
        "valid keys are dask_address, default_io_manager, defaults, executor, modules, "
        "notify, parquet_storage, storage."
    )


def test_unknown_key_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.lumbung]\nwarehouse = "x.duckdb"\n')
    with pytest.raises(ProjectError) as info:
        find_project(tmp_path)
    assert str(info.value) == (
        f"{tmp_path.resolve() / 'pyproject.toml'}: [tool.lumbung] warehouse: unknown key; "
        "valid keys are dask_address, default_io_manager, defaults, executor, modules, "
        "notify, parquet_storage, storage."
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "modules = []",
            "modules: must be a non-empty list of module names, got []; "
            'write for example modules = ["assets"].',
        ),
        (
            'modules = "assets"',
            "modules: must be a non-empty list of module names, got 'assets'; "
            'write for example modules = ["assets"].',
        ),
        (
            'modules = ["my-assets"]',
            "modules: must be a non-empty list of module names, got ['my-assets']; "
            'write for example modules = ["assets"].',
        ),
        (
            "storage = 3",
            "storage: must be a folder path as a string, got 3; "
            'write for example storage = ".lumbung".',
        ),
        (
            'default_io_manager = "my io"',
            "default_io_manager: must be the name of an IO manager, got 'my io'; "
            'write for example default_io_manager = "parquet".',
        ),
    ],
)
def test_bad_config_values(tmp_path: Path, line: str, message: str) -> None:
    write(tmp_path / "lumbung.toml", line + "\n")
    with pytest.raises(ProjectError) as info:
        find_project(tmp_path)
    assert str(info.value) == f"{tmp_path.resolve() / 'lumbung.toml'}: {message}"

    write(tmp_path / "sub" / "pyproject.toml", "[tool.lumbung]\n" + line + "\n")
    with pytest.raises(ProjectError) as info:
        find_project(tmp_path / "sub")
    file = tmp_path.resolve() / "sub" / "pyproject.toml"
    assert str(info.value) == f"{file}: [tool.lumbung] {message}"


def test_tool_lumbung_must_be_a_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool]\nlumbung = 1\n")
    with pytest.raises(ProjectError) as info:
        find_project(tmp_path)
    assert str(info.value) == (
        f"{tmp_path.resolve() / 'pyproject.toml'}: tool.lumbung must be a table; write it as a "
        "[tool.lumbung] section."
    )


def test_storage_is_relative_to_the_root(tmp_path: Path) -> None:
    write(tmp_path / "proj" / "lumbung.toml", 'storage = "../shared/state"\n')
    assert find_project(tmp_path / "proj").storage == tmp_path.resolve() / "shared" / "state"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = find_project(copy(tmp_path, "pyproject_project"))
    with pytest.raises(AttributeError, match="cannot assign"):
        config.modules = ("other",)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'extra'"):
        ProjectConfig(root=tmp_path, config_file=None, storage=tmp_path, extra=1)  # type: ignore[call-arg]
    assert ProjectConfig.from_json(config.to_json()) == config


# --------------------------------------------------------------------------- importing


def test_package_is_scanned_recursively_in_a_stable_order(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    found = import_assets(find_project(root))
    # pipeline/__init__, marts, raw, staging/__init__, staging/orders; _scratch is private.
    assert keys(found) == [
        "revenue",
        "customer_orders",
        "raw_orders",
        "raw_customers",
        "orders",
        "customers",
    ]
    assert [type(a) for a in found[2:4]] == [SourceAsset, SourceAsset]
    assert "scratch" not in keys(found)
    assert "pipeline.staging._scratch" not in sys.modules


def test_each_asset_once_though_imported_into_several_modules(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    found = import_assets(find_project(root))
    marts = sys.modules["pipeline.marts"]
    assert marts.ORDERS is marts.orders is sys.modules["pipeline"].orders
    assert len({id(a) for a in found}) == len(found) == 6


def test_project_root_goes_first_on_sys_path_once(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    config = find_project(root)
    import_assets(config)
    import_assets(config)
    assert sys.path[0] == str(root)
    assert sys.path.count(str(root)) == 1


def test_fresh_import_sees_an_edited_module(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    config = find_project(root)
    first = import_assets(config)
    assert keys(first) == ["events", "daily_events"]

    with (root / "assets.py").open("a", encoding="utf-8") as f:
        f.write("\n\n@asset\ndef weekly_events(daily_events: Any) -> Any:\n    return 1\n")
    second = import_assets(config)
    assert keys(second) == ["events", "daily_events", "weekly_events"]
    assert second[0] is not first[0]


def test_fresh_import_sees_an_edited_helper(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    config = find_project(root)
    orders = next(a for a in import_assets(config) if str(a.key) == "orders")
    assert isinstance(orders, Asset)
    assert orders.fn.__globals__["CANCELLED"] == "cancelled"

    write(root / "helpers.py", 'CANCELLED = "void"  # renamed upstream\n')
    orders = next(a for a in import_assets(config) if str(a.key) == "orders")
    assert isinstance(orders, Asset)
    assert orders.fn.__globals__["CANCELLED"] == "void"


def test_not_fresh_reuses_imported_modules(tmp_path: Path) -> None:
    root = copy(tmp_path, "pyproject_project")
    config = find_project(root)
    first = import_assets(config)
    write(root / "assets.py", "raise RuntimeError('never imported again')\n")
    second = import_assets(config, fresh=False)
    assert [id(a) for a in second] == [id(a) for a in first]


def test_projects_with_the_same_module_names_do_not_shadow_each_other(tmp_path: Path) -> None:
    one = copy(tmp_path, "pyproject_project")
    two = tmp_path / "two"
    write(two / "lumbung.toml", 'modules = ["assets"]\n')
    write(
        two / "assets.py",
        """\
        from assets_core.model.decorator import asset

        @asset
        def other() -> int:
            return 2
        """,
    )
    assert keys(import_assets(find_project(one))) == ["events", "daily_events"]
    assert keys(import_assets(find_project(two))) == ["other"]
    assert keys(import_assets(find_project(one))) == ["events", "daily_events"]


def test_lumbung_itself_is_never_reimported(tmp_path: Path) -> None:
    """A project folder that holds assets_core (say, a checkout of Lumbung) must not make
    Lumbung import its own classes twice, or isinstance checks would fail."""
    import assets_core.model.spec

    root = copy(tmp_path, "single_file")
    (root / "assets_core").symlink_to(Path(assets_core.model.spec.__file__).parent)
    spec_module = sys.modules["assets_core.model.spec"]
    found = import_assets(find_project(root / "my_assets.py"))
    assert sys.modules["assets_core.model.spec"] is spec_module
    assert keys(found) == ["numbers", "doubled"]


def test_module_without_assets_gives_an_empty_list(tmp_path: Path) -> None:
    write(tmp_path / "lumbung.toml", 'modules = ["empty"]\n')
    write(tmp_path / "empty.py", "X = 1\n")
    assert import_assets(find_project(tmp_path)) == []


# --------------------------------------------------------------------------- import errors


def test_syntax_error(tmp_path: Path) -> None:
    root = copy(tmp_path, "syntax_error")
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(root))
    assert str(info.value) == "assets.py:8: syntax error: '(' was never closed; fix the file."
    assert isinstance(info.value.__cause__, SyntaxError)


def test_exception_while_importing_names_the_innermost_project_frame(tmp_path: Path) -> None:
    root = copy(tmp_path, "import_error")
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(root))
    assert str(info.value) == "settings.py:6: importing assets raised KeyError: 'threshold'"
    assert isinstance(info.value.__cause__, KeyError)


def test_exception_in_a_submodule_names_that_submodule(tmp_path: Path) -> None:
    root = copy(tmp_path, "toml_package")
    write(root / "pipeline" / "staging" / "extra.py", "import json\n\njson.loads('{')\n")
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(root))
    assert str(info.value) == (
        "pipeline/staging/extra.py:3: importing pipeline.staging.extra raised JSONDecodeError: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_missing_third_party_import_is_not_a_missing_configured_module(tmp_path: Path) -> None:
    write(tmp_path / "lumbung.toml", "")
    write(tmp_path / "assets.py", '"""Doc."""\n\nimport pandsa\n')
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(tmp_path))
    assert str(info.value) == (
        "assets.py:3: importing assets raised ModuleNotFoundError: No module named 'pandsa'"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_configured_module_that_does_not_exist(tmp_path: Path) -> None:
    root = copy(tmp_path, "missing_module")
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(root))
    assert str(info.value) == (
        f"module 'reports' listed in lumbung.toml was not found under {root}; fix `modules`."
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_configured_submodule_of_a_missing_package(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.lumbung]\nmodules = ["etl.assets"]\n')
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(tmp_path))
    assert str(info.value) == (
        f"module 'etl.assets' listed in pyproject.toml was not found under {tmp_path.resolve()}; "
        "fix `modules`."
    )


def test_error_messages_are_one_line(tmp_path: Path) -> None:
    write(tmp_path / "lumbung.toml", "")
    write(tmp_path / "assets.py", "raise ValueError('first line\\nsecond line')\n")
    with pytest.raises(ProjectError) as info:
        import_assets(find_project(tmp_path))
    assert str(info.value) == (
        "assets.py:1: importing assets raised ValueError: first line second line"
    )


def test_executor_dask_address_and_parquet_storage_are_read_and_checked(tmp_path: Path) -> None:
    write(
        tmp_path / "lumbung.toml",
        'executor = "dask"\ndask_address = "tcp://10.0.0.1:8786"\n'
        'parquet_storage = "s3://bucket/prefix"\n',
    )
    config = find_project(tmp_path)
    assert (config.executor, config.dask_address) == ("dask", "tcp://10.0.0.1:8786")
    assert config.io_locations() == {"parquet": "s3://bucket/prefix"}
    assert ProjectConfig.from_json(config.to_json()) == config
    where = f"{tmp_path.resolve() / 'lumbung.toml'}:"
    bad = {
        "executor = 3": f"{where} executor: must be a name, got 3; write for example "
        'executor = "dask".',
        'dask_address = "8786"': f"{where} dask_address: must be a scheduler address, got "
        "'8786'; write for example dask_address = \"tcp://127.0.0.1:8786\".",
        'parquet_storage = ""': f"{where} parquet_storage: must be a URI or a folder as a "
        "string, got ''; write for example parquet_storage = \"s3://bucket/prefix\".",
    }
    for line, message in bad.items():
        write(tmp_path / "lumbung.toml", line + "\n")
        with pytest.raises(ProjectError) as info:
            find_project(tmp_path)
        assert str(info.value) == message
