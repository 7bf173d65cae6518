"""Finding a Lumbung project on disk and importing its assets.

A project is a folder with ``lumbung.toml`` or a ``pyproject.toml`` holding ``[tool.lumbung]``,
a single ``.py`` file, or a module name importable from the current folder. ``find_project``
turns one of those (or, given nothing, the nearest configured folder at or above the current
one) into a frozen ``ProjectConfig``; ``import_assets`` imports the configured modules, and
every submodule of a configured package, and returns each ``Asset`` and ``SourceAsset`` found
at module level, once, in a stable order. Every problem becomes a one-line ``ProjectError``
naming the file (and line) and the fix; the original exception stays as ``__cause__``.
"""

from __future__ import annotations

import difflib
import gc
import importlib
import importlib.util
import json
import os
import pkgutil
import re
import site
import sys
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from assets_core.errors import ProjectError, exception_message
from assets_core.model.automation import Automation, collect_automations
from assets_core.model.checks import CustomCheck
from assets_core.model.defaults import (
    MODULE_DEFAULTS,
    Defaults,
    apply_defaults,
    parse_defaults,
)
from assets_core.model.definitions import Definitions, collect_assets, collect_checks
from assets_core.model.keys import SEGMENT_RE
from assets_core.model.kinds import AnyAsset
from assets_core.model.loader import forget, install
from assets_core.model.notify import NotifySettings, parse_notify
from assets_core.model.validate import KeyCheck

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["CONFIG_KEYS", "ProjectConfig", "find_project", "import_assets", "load_definitions"]

LUMBUNG_TOML = "lumbung.toml"
PYPROJECT_TOML = "pyproject.toml"
DEFAULT_STORAGE = ".lumbung"
#: the keys a project config may hold
CONFIG_KEYS = (
    "dask_address",
    "default_io_manager",
    "defaults",
    "executor",
    "modules",
    "notify",
    "parquet_storage",
    "sql",
    "storage",
)
#: top-level packages that are Lumbung itself: never purged, or ``isinstance`` would break
_OWN_PACKAGES = frozenset({"assets_core", "io_managers"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    """Where a project lives and how to load it. Paths are absolute.

    A plain frozen value (a worker process gets it as JSON: ``to_json``, ``from_json``)."""

    root: Path
    """The project folder; it goes first on ``sys.path`` when the project is imported."""
    config_file: Path | None
    """``lumbung.toml`` or ``pyproject.toml``; ``None`` for a ``.py`` file or module name."""
    modules: tuple[str, ...] = ("assets",)
    """Modules or packages scanned for assets (packages recursively)."""
    storage: Path
    """State, Parquet files and the DuckDB warehouse live here (default ``root/.lumbung``)."""
    default_io_manager: str = "parquet"
    """The IO manager of every asset that does not name one."""
    defaults: tuple[tuple[str, Defaults], ...] = ()
    """``[defaults."glob"]`` tables in the order written: the defaults of the assets of the
    modules whose path (relative to ``root``) matches the glob (``model.defaults``)."""
    notify: NotifySettings | None = None
    """``[notify]``: who hears about the runs ``lumbung serve`` starts (``model.notify``).
    Not carried to worker processes (``to_json``), which send nothing."""
    sql: tuple[str, ...] = ()
    """Folders (relative to ``root``) whose ``*.sql`` files are SQL assets (DESIGN §14)."""
    executor: str | None = None
    """The backend ``materialize`` runs steps on when none is named (default ``threads``)."""
    dask_address: str | None = None
    """The Dask scheduler the ``dask`` executor connects to (``tcp://host:8786``); with none
    it starts a local cluster for each run."""
    parquet_storage: str | None = None
    """Where the ``parquet`` IO manager stores: a URI (``s3://bucket/prefix``, ``gs://...``,
    ``file:///shared/folder``) or a folder relative to ``storage`` (default ``parquet``)."""

    def io_locations(self) -> dict[str, str]:
        """Where installed IO managers store, by name, when the config says
        (``storage.registry.IOManagers``'s ``locations``)."""
        return {} if self.parquet_storage is None else {"parquet": self.parquet_storage}

    def to_json(self) -> str:
        """The config as JSON text (what ``from_json`` reads back)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["defaults"] = [[glob, d.to_dict()] for glob, d in self.defaults]
        data.pop("notify")
        return json.dumps(data, default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProjectConfig:
        """A config written by ``to_json``."""
        data = json.loads(text)
        return cls(
            root=Path(data["root"]),
            config_file=None if data["config_file"] is None else Path(data["config_file"]),
            modules=tuple(data["modules"]),
            storage=Path(data["storage"]),
            default_io_manager=data["default_io_manager"],
            defaults=tuple((g, parse_defaults(d, g)) for g, d in data.get("defaults", ())),
            sql=tuple(data.get("sql", ())),
            executor=data.get("executor"),
            dask_address=data.get("dask_address"),
            parquet_storage=data.get("parquet_storage"),
        )


# --------------------------------------------------------------------------- finding


def find_project(path: str | Path | None = None, cwd: Path | None = None) -> ProjectConfig:
    """Find the project named by ``path`` (as given to ``--project``), or, with no ``path``,
    the first folder at or above ``cwd`` (default: the current folder) that holds
    ``lumbung.toml`` or a ``pyproject.toml`` with ``[tool.lumbung]``.

    ``path`` may be a project folder, a ``.py`` file (the project is that one module), a
    config file, or a module name importable from ``cwd`` such as ``my_pkg.assets``.
    """
    here = (Path.cwd() if cwd is None else Path(cwd)).resolve()
    if path is None:
        for folder in (here, *here.parents):
            found = _config_in(folder)
            if found is not None:
                return found
        raise ProjectError(
            f"No Lumbung project found in {here} or any folder above it; create one with "
            "`lumbung init`, or pass --project PATH."
        )

    given = str(path)
    shown = _abridged(given)
    candidate = here / _user_path(given, f"--project {shown}", "pass the folder's full path")
    try:
        candidate = candidate.resolve()
        is_dir, is_file = candidate.is_dir(), candidate.is_file()
        module_here = _is_module_name(given) and _module_under(here, given)
    except (OSError, ValueError) as exc:  # a name too long for the system, a NUL in it
        raise ProjectError(
            f"--project {shown}: cannot be used as a path ({_os_reason(exc)}); pass a project "
            "folder, config file, .py file or module name."
        ) from exc
    if is_dir:
        found = _config_in(candidate)
        if found is not None:
            return found
        if module_here:
            return _module_project(here, given)
        raise ProjectError(
            f"--project {shown}: this folder has no {LUMBUNG_TOML} and no {PYPROJECT_TOML} "
            "with [tool.lumbung]; create one with `lumbung init`, or pass the folder that has one."
        )
    if is_file:
        if candidate.name in (LUMBUNG_TOML, PYPROJECT_TOML):
            found = _read_config(candidate, required=True)
            assert found is not None
            return found
        if candidate.suffix == ".py":
            name = candidate.stem
            if not name.isidentifier():
                raise ProjectError(
                    f"--project {given}: {name!r} cannot be imported as a module; rename the "
                    "file to use only letters, digits and '_'."
                )
            root = candidate.parent
            return ProjectConfig(
                root=root, config_file=None, modules=(name,), storage=root / DEFAULT_STORAGE
            )
        raise ProjectError(
            f"--project {given}: not a project folder, config file, .py file or module name; "
            "pass one of those."
        )
    if module_here or (_is_module_name(given) and _importable(given)):
        return _module_project(here, given)
    raise ProjectError(f"--project {shown}: no such file, folder or importable module.")


#: How much of a long --project value an error message repeats.
_SHOWN_CHARS = 60


def _abridged(text: str) -> str:
    """``text``, or its start and its length when it is too long to repeat in one line."""
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}... ({len(text):,} characters)"


def _user_path(text: str, where: str, fix: str) -> Path:
    """``text`` as a path with ``~`` or ``~user`` expanded; a ``ProjectError`` starting with
    ``where`` when that home folder is unknown."""
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # pathlib: "Could not determine home directory."
        user = text[1:].split("/", 1)[0].split(os.sep, 1)[0]
        whose = f"user {user!r}" if user else "this user"
        raise ProjectError(
            f"{where}: the home folder of {whose} is unknown, so {text.split('/', 1)[0]!r} "
            f"cannot be expanded; {fix}."
        ) from exc


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _config_in(folder: Path) -> ProjectConfig | None:
    """The project configured in ``folder``, or ``None`` if it has no Lumbung config.
    ``lumbung.toml`` wins over ``pyproject.toml``."""
    toml = folder / LUMBUNG_TOML
    if toml.is_file():
        return _read_config(toml, required=True)
    pyproject = folder / PYPROJECT_TOML
    if pyproject.is_file():
        return _read_config(pyproject, required=False)
    return None


def _read_config(file: Path, *, required: bool) -> ProjectConfig | None:
    """Parse and check one config file. A ``pyproject.toml`` without ``[tool.lumbung]`` gives
    ``None`` unless ``required``; one that never mentions Lumbung is not even parsed, so a
    broken unrelated ``pyproject.toml`` above a project is no obstacle."""
    is_pyproject = file.name == PYPROJECT_TOML
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ProjectError(
            f"{file}: cannot be read ({exc.strerror}); check its permissions."
        ) from exc
    if is_pyproject and not required and b"lumbung" not in raw:
        return None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{file}: invalid TOML ({exc}); fix the file.") from exc
    except RecursionError as exc:  # tomllib reads nested arrays and tables recursively
        raise ProjectError(
            f"{file}: invalid TOML (arrays or tables nested too deeply to read); fix the file."
        ) from exc

    where = f"{file}: [tool.lumbung]" if is_pyproject else f"{file}:"
    if is_pyproject:
        tool = data.get("tool", {})
        table = tool.get("lumbung") if isinstance(tool, dict) else None
        if table is None:
            if not required:
                return None
            raise ProjectError(
                f"{file}: has no [tool.lumbung] table; add one (it may be empty) to make this "
                "folder a Lumbung project."
            )
        if not isinstance(table, dict):
            raise ProjectError(
                f"{file}: tool.lumbung must be a table; write it as a [tool.lumbung] section."
            )
    else:
        table = data
    return _build_config(file, where, table)


def _build_config(file: Path, where: str, table: Mapping[str, Any]) -> ProjectConfig:
    root = file.parent
    for key in sorted(table):
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ProjectError(
                f"{where} {key}: unknown key; {hint}valid keys are {', '.join(CONFIG_KEYS)}."
            )

    modules: tuple[str, ...] = ("assets",)
    if "modules" in table:
        value = table["modules"]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(m, str) and _is_module_name(m) for m in value)
        ):
            raise ProjectError(
                f"{where} modules: must be a non-empty list of module names, got {value!r}; "
                'write for example modules = ["assets"].'
            )
        modules = tuple(dict.fromkeys(value))

    storage = root / DEFAULT_STORAGE
    if "storage" in table:
        value = table["storage"]
        if not isinstance(value, str) or not value.strip():
            raise ProjectError(
                f"{where} storage: must be a folder path as a string, got {value!r}; "
                'write for example storage = ".lumbung".'
            )
        if "\0" in value:
            raise ProjectError(
                f"{where} storage: {value!r} holds a NUL character, which no path may hold; "
                "write the folder's path without it."
            )
        folder = _user_path(value, f"{where} storage", "write the folder's full path")
        try:
            storage = (root / folder).resolve()
        except OSError as exc:  # a symlink loop, say
            raise ProjectError(
                f"{where} storage: {value!r} cannot be used as a folder ({_os_reason(exc)}); "
                "point it at a folder this user may write."
            ) from exc

    io_manager = "parquet"
    if "default_io_manager" in table:
        value = table["default_io_manager"]
        if not isinstance(value, str) or not SEGMENT_RE.match(value):
            raise ProjectError(
                f"{where} default_io_manager: must be the name of an IO manager, got {value!r}; "
                'write for example default_io_manager = "parquet".'
            )
        io_manager = value

    defaults: list[tuple[str, Defaults]] = []
    value = table.get("defaults", {})
    if not isinstance(value, dict):
        raise ProjectError(
            f"{where} defaults: must be tables of globs, got {value!r}; write for example "
            '[defaults."marts/*"] with group = "marts".'
        )
    for glob, raw in value.items():
        try:
            defaults.append((glob, parse_defaults(raw, f'[defaults."{glob}"]')))
        except ValueError as exc:
            raise ProjectError(f"{where} {exc}") from None

    notify = None
    if "notify" in table:
        try:
            notify = parse_notify(table["notify"])
        except ValueError as exc:
            raise ProjectError(f"{where} {exc}") from None

    return ProjectConfig(
        root=root,
        config_file=file,
        modules=modules,
        storage=storage,
        default_io_manager=io_manager,
        defaults=tuple(defaults),
        notify=notify,
        sql=_sql_folders(root, where, table.get("sql", [])),
        executor=_optional_name(table, "executor", where, 'executor = "dask"'),
        dask_address=_address(table, where),
        parquet_storage=_parquet_storage(table, where),
    )


def _parquet_storage(table: Mapping[str, Any], where: str) -> str | None:
    """``parquet_storage``, if given: a URI or a folder, as a non-empty string."""
    value = table.get("parquet_storage")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ProjectError(
            f"{where} parquet_storage: must be a URI or a folder as a string, got {value!r}; "
            'write for example parquet_storage = "s3://bucket/prefix".'
        )
    return value


def _optional_name(table: Mapping[str, Any], key: str, where: str, example: str) -> str | None:
    """The name under ``key`` (letters, digits, ``-`` and ``_``), if given."""
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ProjectError(
            f"{where} {key}: must be a name, got {value!r}; write for example {example}."
        )
    return value


def _address(table: Mapping[str, Any], where: str) -> str | None:
    """``dask_address``, if given: a scheduler's address such as ``tcp://host:8786``."""
    if "dask_address" not in table:
        return None
    value = table["dask_address"]
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9+]+://\S+", value):
        raise ProjectError(
            f"{where} dask_address: must be a scheduler address, got {value!r}; write for "
            'example dask_address = "tcp://127.0.0.1:8786".'
        )
    return value


def _sql_folders(root: Path, where: str, value: object) -> tuple[str, ...]:
    """The ``sql`` folders, each checked to be a folder under ``root``."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProjectError(
            f"{where} sql: must be a list of folders, got {value!r}; write for example "
            'sql = ["models"].'
        )
    for name in value:
        if not (root / name).is_dir():
            raise ProjectError(
                f"{where} sql: {name!r} is not a folder under {root}; create it, or fix `sql`."
            )
    return tuple(dict.fromkeys(value))


def _is_module_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _module_under(folder: Path, name: str) -> bool:
    """Whether ``name`` names a module or a regular package (a folder with ``__init__.py``)
    inside ``folder`` (a filesystem check: no code runs). A bare folder is not a package: as
    ``--project`` it would load as an empty project instead of asking for a config."""
    *parents, last = name.split(".")
    base = folder.joinpath(*parents)
    return (base / f"{last}.py").is_file() or (base / last / "__init__.py").is_file()


def _importable(name: str) -> bool:
    """Whether ``name`` is importable from the current ``sys.path`` (an installed module)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _module_project(cwd: Path, name: str) -> ProjectConfig:
    return ProjectConfig(root=cwd, config_file=None, modules=(name,), storage=cwd / DEFAULT_STORAGE)


# --------------------------------------------------------------------------- importing


def import_assets(config: ProjectConfig, fresh: bool = True) -> list[AnyAsset]:
    """The assets of ``import_project``."""
    return import_project(config, fresh).assets


class Declared(NamedTuple):
    """What a project's modules declare at module level."""

    assets: list[AnyAsset]
    checks: list[CustomCheck]
    automations: list[Automation]


def import_project(config: ProjectConfig, fresh: bool = True) -> Declared:
    """Import the project's modules (each configured package with all its public submodules,
    recursively) and return every ``Asset`` and ``SourceAsset`` defined at module level, every
    custom ``@check``, and the schedules and sensors.

    Each object appears once even when several modules import it, ordered by the module that
    defines it (in import order), then by line. With ``fresh`` (the default), modules loaded
    earlier from the project folder are forgotten first, so edits made since are seen.
    """
    root = str(config.root)
    # Project modules are compiled from the very bytes the code versioner then reads.
    install(root, _environment_prefixes())
    if fresh:
        _forget_project_modules(config.root)
        forget(root)
        importlib.invalidate_caches()
    if not sys.path or sys.path[0] != root:
        while root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)

    modules = _import_modules(config)
    found = collect_assets(modules)
    if config.sql:
        from assets_core.model.sql_assets import find_sql_assets
        from assets_core.model.sql_cache import SQL_PARSE_CACHE

        found += find_sql_assets(config.root, config.sql, config.storage / SQL_PARSE_CACHE)
    assets = _with_defaults(config, modules, found)
    return Declared(assets, collect_checks(modules), collect_automations(modules))


def _import_modules(config: ProjectConfig) -> list[ModuleType]:
    """The configured modules, each package followed by its public submodules."""
    modules: list[ModuleType] = []
    for name in config.modules:
        module = _import(config, name, configured=True)
        modules.append(module)
        if hasattr(module, "__path__"):
            modules.extend(_submodules(config, module))
    return modules


def _with_defaults(
    config: ProjectConfig, modules: list[ModuleType], assets: list[AnyAsset]
) -> list[AnyAsset]:
    """The assets with their module's and folder's defaults (``model.defaults``)."""
    own: dict[str, Defaults] = {}
    for module in modules:
        raw = getattr(module, MODULE_DEFAULTS, None)
        file = getattr(module, "__file__", None)
        if raw is None or file is None:
            continue
        where = f"{_relative(config.root, file)}: {MODULE_DEFAULTS}"
        try:
            own[file] = parse_defaults(raw, where)
        except ValueError as exc:
            raise ProjectError(str(exc)) from None
    if not own and not config.defaults:
        return assets
    relative = {a.file: _relative(config.root, a.file) for a in assets}
    return apply_defaults(assets, own, config.defaults, relative)


def load_definitions(
    config: ProjectConfig,
    io_managers: Collection[str] | None = None,
    key_checks: Callable[[str], KeyCheck | None] | None = None,
) -> Definitions:
    """Import the project ``config`` describes and build its ``Definitions`` (with
    ``io_managers``, the manager names that exist, and ``key_checks``, their own checks of
    the keys they store, checked with every other problem)."""
    # Importing a project allocates a few objects per asset, all of which live on: with the
    # collector on, its full passes over the growing heap cost a third of loading 100,000
    # assets. Whatever cyclic garbage the modules leave is collected once it is back on.
    enabled = gc.isenabled()
    gc.disable()
    try:
        assets, checks, automations = import_project(config)
        return Definitions(
            assets,
            checks=checks,
            root=config.root,
            automations=automations,
            default_io_manager=config.default_io_manager,
            io_managers=io_managers,
            key_checks=key_checks,
        )
    finally:
        if enabled:
            gc.enable()


def _submodules(config: ProjectConfig, package: ModuleType) -> Iterator[ModuleType]:
    """Every public submodule of ``package``, depth first, siblings sorted by name."""
    infos = sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
    for info in infos:
        if info.name.startswith("_"):
            continue
        module = _import(config, f"{package.__name__}.{info.name}", configured=False)
        yield module
        if info.ispkg:
            yield from _submodules(config, module)


def _import(config: ProjectConfig, name: str, *, configured: bool) -> ModuleType:
    """Import one module, turning any failure into a one-line ``ProjectError``."""
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        if exc.filename and Path(exc.filename).is_file():
            where = f"{_relative(config.root, exc.filename)}:{exc.lineno or 0}"
            raise ProjectError(f"{where}: syntax error: {exc.msg}; fix the file.") from exc
        raise ProjectError(_raised(config, name, exc)) from exc
    except ModuleNotFoundError as exc:
        if configured and exc.name is not None and _is_prefix(exc.name, name):
            listed_in = config.config_file.name if config.config_file else "--project"
            raise ProjectError(
                f"module {name!r} listed in {listed_in} was not found under {config.root}; "
                "fix `modules`."
            ) from exc
        raise ProjectError(_raised(config, name, exc)) from exc
    except (Exception, SystemExit) as exc:
        raise ProjectError(_raised(config, name, exc)) from exc


def _is_prefix(missing: str, name: str) -> bool:
    return name == missing or name.startswith(missing + ".")


def _raised(config: ProjectConfig, name: str, exc: BaseException) -> str:
    """``file:line: importing NAME raised TYPE: message``, at the innermost project frame."""
    root = str(config.root)
    excluded = _environment_prefixes()
    location = None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        file = frame.filename
        if _under(file, root) and not file.startswith(excluded):
            location = f"{_relative(config.root, file)}:{frame.lineno}"
            break
    if location is None:
        try:
            spec = importlib.util.find_spec(name)
        except (Exception, SystemExit):
            spec = None
        origin = spec.origin if spec is not None else None
        location = f"{_relative(config.root, origin)}:1" if origin else f"{name}:1"
    message = " ".join(exception_message(exc).split())
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"{location}: importing {name} raised {detail}"


def _relative(root: Path, file: str) -> str:
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        return file


def _under(file: str, root: str) -> bool:
    return file.startswith(root) and file[len(root) : len(root) + 1] in ("/", "\\")


@lru_cache(maxsize=1)
def _environment_prefixes() -> tuple[str, ...]:
    """Folders whose modules are never the project's: the interpreter, its site-packages
    (a ``.venv`` inside the project folder is common) and Lumbung's own packages."""
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    # Some embedded interpreters lack getsitepackages.
    prefixes.update(getattr(site, "getsitepackages", list)())
    prefixes.add(site.getusersitepackages())
    own = Path(__file__).resolve().parent
    prefixes.add(str(own))
    prefixes.add(str(own.parent / "io_managers"))
    return tuple(sorted(p.rstrip("/\\") + os.sep for p in prefixes if p))


def _module_files(module: ModuleType) -> list[str]:
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return [file]
    path = getattr(module, "__path__", None)  # a namespace package has no __file__
    try:
        return [p for p in path if isinstance(p, str)] if path is not None else []
    except TypeError:
        return []


def _forget_project_modules(root: Path) -> None:
    """Drop from ``sys.modules`` every module loaded from under ``root`` (outside the
    environment and Lumbung itself), and every module whose top-level name is also a module in
    ``root`` but was loaded from elsewhere (say, another project loaded earlier), so the next
    import reads the project's current files."""
    base = str(root)
    excluded = _environment_prefixes()
    try:
        local_names = {
            entry.name.removesuffix(".py")
            for entry in root.iterdir()
            if entry.suffix == ".py" or entry.is_dir()
        }
    except OSError:
        local_names = set()
    local_names -= _OWN_PACKAGES
    doomed = []
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        if name == "__main__" or top in _OWN_PACKAGES or module is None:
            continue
        files = _module_files(module)
        if not files or any(f.startswith(excluded) for f in files):
            continue
        if top in local_names or any(_under(f, base) for f in files):
            doomed.append(name)
    for name in doomed:
        del sys.modules[name]
