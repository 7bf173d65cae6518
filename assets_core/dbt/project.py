"""A dbt project read and planned as the files of a Lumbung project (``lumbung import-dbt``).

``plan_import(dbt_dir, into, root)`` reads the dbt project (``dbt_project.yml``, its models,
its YAML files, its seeds) and returns an ``Import``: the files to write, each with its
content, and what was left untranslated, file:line. ``write_import`` writes them, never over
an existing file. Neither needs dbt or Jinja installed: models are translated by
``dbt.jinja``, YAML is read with PyYAML.

- Each model ``<model-path>/a/b.sql`` becomes the SQL asset ``<into>/a/b.sql`` (key ``a/b``):
  its statement with refs and sources replaced, option lines from its ``config(...)``, its
  description and tags in a YAML file, and the ``+tags`` and ``+group`` of its folders under
  ``models:`` in ``dbt_project.yml`` (other folder configs are listed).
- Each source table used or declared becomes a declared source ``s/t`` in ``dbt_sources.py``
  when its YAML gives its file (``meta: {external_location: ...}``, as dbt-duckdb reads it;
  ``{name}`` and ``{identifier}`` filled in); one without a file is listed.
- Each seed ``<seed-path>/x.csv`` is copied to ``seeds/x.csv`` and declared as CSV source
  ``x``, so ``ref('x')`` finds it.
- The tests of a model's columns in YAML files (``tests:``/``data_tests:``) that have a
  built-in check (``not_null``, ``unique``, ``accepted_values``, ``relationships``) become the
  model's ``-- checks:`` line (``dbt.tests``); other tests, tests of sources and singular tests
  (``.sql`` files under the test paths) are listed.
- ``lumbung.toml`` is written when the project has none; else the lines it lacks are listed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets_core.dbt.jinja import translate_model
from assets_core.dbt.tests import YamlTest, translate_tests
from assets_core.errors import ProjectError

__all__ = ["SOURCES_MODULE", "Import", "Untranslated", "plan_import", "write_import"]

#: the Python module declaring the imported sources and seeds
SOURCES_MODULE = "dbt_sources"
_LOCATION_KEYS = ("external_location", "location")


@dataclass(frozen=True, slots=True)
class Untranslated:
    """What was left for the user: where (``path:line``, relative to the dbt project), what,
    and what to do."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.fix}"


@dataclass
class Import:
    """The files to write (path relative to the Lumbung project -> text, or the file to copy)
    and the report."""

    files: dict[str, str] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    models: int = 0
    seeds: int = 0
    sources: int = 0
    untranslated: list[Untranslated] = field(default_factory=list)

    def left(self, where: str, what: str, fix: str) -> None:
        self.untranslated.append(Untranslated(where, what, fix))


@dataclass
class _Yaml:
    """What the YAML files under the model paths say about models and sources."""

    descriptions: dict[str, str] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    # (source, table) -> (file, path template or None, description)
    sources: dict[tuple[str, str], tuple[str, str | None, str | None]] = field(default_factory=dict)
    # model -> the tests of its columns, in file order
    tests: dict[str, list[YamlTest]] = field(default_factory=dict)


def plan_import(dbt_dir: Path, into: str, root: Path) -> Import:
    """The import of the dbt project at ``dbt_dir`` into the Lumbung project at ``root``, its
    SQL assets in the folder ``into`` (relative to ``root``). ``ProjectError`` when
    ``dbt_dir`` holds no readable ``dbt_project.yml``."""
    config_file = dbt_dir / "dbt_project.yml"
    if not config_file.is_file():
        raise ProjectError(
            f"{dbt_dir} has no dbt_project.yml; pass the folder of a dbt project to "
            "`lumbung import-dbt`."
        )
    config = _load_yaml(config_file, dbt_dir)
    if not isinstance(config, dict):
        raise ProjectError(f"{config_file}: not a mapping; is it a dbt project file?")
    out = Import()
    model_paths = _paths(config, "model-paths", "source-paths", default="models")
    seed_paths = _paths(config, "seed-paths", "data-paths", default="seeds")
    folders = _project_configs(config, out)
    yaml_info = _Yaml()
    for folder in model_paths:
        for file in sorted((dbt_dir / folder).rglob("*.yml")) + sorted(
            (dbt_dir / folder).rglob("*.yaml")
        ):
            _read_properties(file, dbt_dir, yaml_info, out)
    used: dict[tuple[str, str], str] = {}
    models = [
        (file, file.relative_to(dbt_dir / folder))
        for folder in model_paths
        for file in sorted((dbt_dir / folder).rglob("*.sql"))
    ]
    # what ref('x') names in a check: the model's key (its path), a seed's
    keys = {f.stem: f.stem for folder in seed_paths for f in (dbt_dir / folder).rglob("*.csv")}
    keys.update((rel.stem, rel.with_suffix("").as_posix()) for _, rel in models)
    for file, rel in models:
        target = Path(into) / rel
        inherited = [folders.get(rel.parent.parts[:i], {}) for i in range(len(rel.parts))]
        out.files[target.as_posix()] = _model_file(
            file, dbt_dir, yaml_info, inherited, used, keys, out
        )
        out.models += 1
    _singular_tests(dbt_dir, config, out)
    sources_py = _sources_module(dbt_dir, root, yaml_info, used, out)
    for folder in seed_paths:
        for file in sorted((dbt_dir / folder).rglob("*.csv")):
            seed = (Path("seeds") / file.relative_to(dbt_dir / folder)).as_posix()
            out.copies[seed] = file
            sources_py.append(f'{_var(file.stem)} = source("{file.stem}", path="{seed}")')
            out.seeds += 1
    out.files[f"{SOURCES_MODULE}.py"] = (
        f'"""Sources and seeds imported from the dbt project {dbt_dir.name} by `lumbung '
        'import-dbt`."""\n\nfrom assets_core import source\n\n' + "\n".join(sources_py) + "\n"
    )
    _project_file(root, into, out)
    return out


def write_import(plan: Import, root: Path) -> list[str]:
    """Write the planned files under ``root``; the paths written. Raises ``ProjectError``
    naming the first that exists, before writing anything."""
    import shutil

    for rel in [*plan.files, *plan.copies]:
        if (root / rel).exists():
            raise ProjectError(
                f"{root / rel} already exists; `lumbung import-dbt` never overwrites a file. "
                "Move it aside or import --into another folder."
            )
    written = []
    for rel, text in plan.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        with open(root / rel, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        written.append(rel)
    for rel, src in plan.copies.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / rel)
        written.append(rel)
    return written


def _model_file(
    file: Path,
    dbt_dir: Path,
    info: _Yaml,
    folders: list[dict[str, Any]],
    used: dict[tuple[str, str], str],
    keys: dict[str, str],
    out: Import,
) -> str:
    """The SQL asset file of one model: option lines from its folders' configs in
    dbt_project.yml (outermost first), its YAML properties and its ``config(...)``; tags add
    up, as in dbt; the nearest ``group`` wins. Its columns' tests that have a built-in check
    make its ``-- checks:`` line (``ref('x')`` is the key of model or seed ``x``)."""
    where = file.relative_to(dbt_dir).as_posix()
    model = translate_model(file.read_text(encoding="utf-8"))
    for left in model.leftovers:
        out.left(f"{where}:{left.line}", left.text, left.fix)
    for pair in model.sources:
        used.setdefault(pair, where)
    name = file.stem
    tags = [t for f in folders for t in f.get("tags", [])] + info.tags.get(name, [])
    tags += [t.strip() for t in model.options.get("tags", "").split(",") if t.strip()]
    options: dict[str, str] = {}
    if tags:
        options["tags"] = ", ".join(dict.fromkeys(tags))
    groups = [f["group"] for f in folders if "group" in f]
    if groups:
        options["group"] = groups[-1]
    options.update((k, v) for k, v in model.options.items() if k != "tags")
    if name in info.descriptions:
        options["description"] = " ".join(info.descriptions[name].split())
    checks, untranslated = translate_tests(info.tests.get(name, []), keys)
    for test, fix in untranslated:
        out.left(test.where, f"test {test.name} on {name}.{test.column}", fix)
    if checks:
        options["checks"] = ", ".join(checks)
    lines = [f"-- {k}: {v}" for k, v in options.items()]
    lines.append(f"-- imported from dbt: {where}")
    # a translated model that sqlglot cannot read is listed: its own dialect, usually
    if not model.leftovers:
        from assets_core.model.sql_file import SqlFileError, parse_sql_file

        try:
            parse_sql_file(model.sql)
        except SqlFileError as exc:
            out.left(f"{where}:{exc.line}", "the statement", exc.message)
    return "\n".join(lines) + "\n" + model.sql


def _sources_module(
    dbt_dir: Path, root: Path, info: _Yaml, used: dict[tuple[str, str], str], out: Import
) -> list[str]:
    lines = []
    for (src, table), (where, template, description) in sorted(info.sources.items()):
        if template is None:
            if (src, table) in used:
                out.left(
                    where,
                    f"source {src}.{table}",
                    f"its file is not given (meta: external_location); declare it in "
                    f'{SOURCES_MODULE}.py: source("{src}/{table}", path=...)',
                )
            continue
        path = template.replace("{name}", table).replace("{identifier}", table)
        target = Path(path) if Path(path).is_absolute() else dbt_dir / path
        rel = Path(os.path.relpath(target.resolve(), root.resolve())).as_posix()
        extra = f", description={' '.join(description.split())!r}" if description else ""
        lines.append(f'{_var(f"{src}__{table}")} = source("{src}/{table}", path="{rel}"{extra})')
        out.sources += 1
    for (src, table), where in sorted(used.items()):
        if (src, table) not in info.sources:
            out.left(
                where,
                f"source('{src}', '{table}')",
                "no YAML file declares it; declare it in the dbt project's sources or in "
                f'{SOURCES_MODULE}.py: source("{src}/{table}", path=...)',
            )
    return lines


def _read_properties(file: Path, dbt_dir: Path, info: _Yaml, out: Import) -> None:
    """Descriptions, tags, sources and tests from one YAML properties file."""
    where = file.relative_to(dbt_dir).as_posix()
    doc = _load_yaml(file, dbt_dir)
    if not isinstance(doc, dict):
        return
    for model in _items(doc.get("models")):
        name = str(model.get("name", ""))
        if isinstance(model.get("description"), str):
            info.descriptions[name] = model["description"]
        tags = model.get("tags", (model.get("config") or {}).get("tags"))
        if isinstance(tags, str | list):
            info.tags[name] = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        for line, test, _ in _tests(model):
            out.left(
                f"{where}:{line}",
                f"test {test} on {name}",
                "not translated: only a column's tests are; write it as checks on the "
                "model's -- checks: line or as a @check function (docs/checks.md#from-dbt)",
            )
        for column in _items(model.get("columns")):
            for line, test, entry in _tests(column):
                info.tests.setdefault(name, []).append(
                    YamlTest(f"{where}:{line}", str(column.get("name")), test, entry)
                )
    for src in _items(doc.get("sources")):
        src_name = str(src.get("name", ""))
        for table in _items(src.get("tables")):
            tname = str(table.get("name", ""))
            template = _location(table) or _location(src)
            line = table.get("__line__", 0)
            desc = table.get("description")
            info.sources[src_name, tname] = (
                f"{where}:{line}",
                template,
                desc if isinstance(desc, str) else None,
            )
            tests = [*_tests(table)]
            for column in _items(table.get("columns")):
                tests += _tests(column)
            for tline, test, _ in tests:
                out.left(
                    f"{where}:{tline}",
                    f"test {test} on source {src_name}.{tname}",
                    "not translated: a source takes no checks; put the check on a model that "
                    "reads it (-- checks: line)",
                )


def _location(node: dict[str, Any]) -> str | None:
    """The file of a source from its ``meta`` (or ``config.meta``): a path, or a path inside
    ``read_csv('...')``/``read_parquet('...')``."""
    for meta in (node.get("meta"), (node.get("config") or {}).get("meta")):
        if isinstance(meta, dict):
            for key in _LOCATION_KEYS:
                value = meta.get(key)
                if isinstance(value, str):
                    quoted = re.search(r"""['"]([^'"]+)['"]""", value)
                    return quoted.group(1) if "(" in value and quoted else value
    return None


def _tests(node: dict[str, Any]) -> Iterator[tuple[int, str, object]]:
    """Each test of a node: its line, its name and its arguments (``None`` for a bare name)."""
    for key in ("tests", "data_tests"):
        entries = node.get(key)
        if not isinstance(entries, list):
            continue
        for i, test in enumerate(entries):
            line = node.get(f"__items__{key}", [0] * len(entries))[i]
            if isinstance(test, dict):
                name = next((k for k in test if not k.startswith(("__line__", "__items__"))), "?")
                yield line, str(name), test.get(name)
            else:
                yield line, str(test), None


def _singular_tests(dbt_dir: Path, config: dict[str, Any], out: Import) -> None:
    """Each singular test (a ``.sql`` file under the test paths) is listed."""
    for folder in _paths(config, "test-paths", "test-paths", default="tests"):
        for file in sorted((dbt_dir / folder).rglob("*.sql")):
            out.left(
                f"{file.relative_to(dbt_dir).as_posix()}:1",
                f"singular test {file.stem}",
                'not translated: write it as expect("sql condition") on the model\'s -- checks: '
                "line, or as a @check function returning whether its query finds no rows",
            )


def _items(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _project_configs(config: dict[str, Any], out: Import) -> dict[tuple[str, ...], dict[str, Any]]:
    """The ``models:`` configs of dbt_project.yml that SQL-asset options can carry (``tags``,
    ``group``), by folder under the model paths (``()``: all of them); the others are listed."""
    project = config.get("name")
    found: dict[tuple[str, ...], dict[str, Any]] = {}

    def walk(node: object, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if not isinstance(key, str) or key.startswith(("__line__", "__items__")):
                continue
            if isinstance(value, dict):
                walk(value, [*path, key])
                continue
            name = key.lstrip("+")
            ours = bool(path) and path[0] == project
            folder = tuple(path[1:])
            if name == "materialized" and value in ("table", "view"):
                continue
            if ours and name == "tags" and (isinstance(value, str) or _all_strings(value)):
                found.setdefault(folder, {})["tags"] = [value] if isinstance(value, str) else value
            elif ours and name == "group" and isinstance(value, str):
                found.setdefault(folder, {})["group"] = value
            else:
                out.left(
                    f"dbt_project.yml:{node.get('__line__' + key, 0)}",
                    f"models: {'.'.join(path) or '(all)'} {key}: {value}",
                    "set it on each model's file instead (-- name: value)",
                )

    walk(config.get("models"), [])
    return found


def _all_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _project_file(root: Path, into: str, out: Import) -> None:
    toml = root / "lumbung.toml"
    folder = Path(into).as_posix().rstrip("/")
    if not toml.exists():
        out.files["lumbung.toml"] = (
            "# A Lumbung project imported from dbt: SQL assets and their sources.\n"
            f'modules = ["{SOURCES_MODULE}"]\nsql = ["{folder}"]\nstorage = ".lumbung"\n'
        )
        return
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    modules, folders = data.get("modules", []), data.get("sql", [])
    if not isinstance(modules, list) or SOURCES_MODULE not in modules:
        out.left("lumbung.toml", "modules", f'add "{SOURCES_MODULE}" to modules = [...]')
    if not isinstance(folders, list) or folder not in [str(f).rstrip("/") for f in folders]:
        out.left("lumbung.toml", "sql", f'add "{folder}" to sql = [...]')


def _paths(config: dict[str, Any], key: str, old: str, default: str) -> list[str]:
    value = config.get(key, config.get(old, [default]))
    return [str(v) for v in value] if isinstance(value, list) else [default]


def _var(name: str) -> str:
    """A Python variable name for a source."""
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned.isidentifier() and not cleaned[0].isdigit() else f"_{cleaned}"


def _load_yaml(file: Path, dbt_dir: Path) -> Any:
    """``file`` read with PyYAML, each mapping carrying its own line (``__line__``, 1-based),
    each of its keys' (``__line__KEY``) and, for a list value, its items' (``__items__KEY``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
        found = loader.construct_mapping(node, deep=True)
        result: dict[str, Any] = {str(k): v for k, v in found.items()}
        result["__line__"] = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = key_node.value
            result[f"__line__{key}"] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.SequenceNode):
                result[f"__items__{key}"] = [i.start_mark.line + 1 for i in value_node.value]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=Loader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{file}: cannot be read ({exc}).") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        rel = file.relative_to(dbt_dir).as_posix()
        reason = str(getattr(exc, "problem", None) or exc).strip()
        raise ProjectError(f"{rel}{line}: not valid YAML ({reason}); fix the file.") from exc
