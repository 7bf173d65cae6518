"""``lumbung init``: a scaffold that materializes at once, never overwrites a file, and
keeps ``.lumbung/`` out of git; a folder without a project points at ``lumbung init``.
``lumbung init --example shop``: a copy of the example project, which the package ships."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory

import pytest

from assets_core.cli import cmd_init
from tests.assets_core.cli.conftest import EXAMPLE_KEYS, run, run_many, run_sequence
from tests.conftest import ROOT, copy_example, example_edited

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CREATED = [
    "Created a Lumbung project in new:",
    "  lumbung.toml",
    "  data/orders.csv",
    "  assets.py",
    "  .gitignore",
    "Next: lumbung --project new materialize",
]


def test_init_then_materialize_at_once(tmp_path: Path) -> None:
    res = run(["init", "new"], tmp_path)
    assert (res.code, res.out.splitlines(), res.err) == (0, CREATED, "")
    new = tmp_path / "new"
    assert (new / ".gitignore").read_text() == ".lumbung/\n"
    assert (new / "data" / "orders.csv").read_text().startswith("order_id,day,customer,")

    done, plan, listed, again = run_sequence(
        [
            (["--project", "new", "materialize"], tmp_path),
            (["--project", "new", "plan"], tmp_path),
            (["list", "-o", "name"], new),
            (["init", "new"], tmp_path),
        ]
    )
    assert done.code == 0, done.err
    assert plan.out == "Nothing to do: 2 selected assets are fresh.\n"
    assert listed.out == "raw_orders\norders\nrevenue_by_day\n"
    assert (new / ".lumbung" / "parquet" / "orders.parquet").exists()
    assert (new / ".lumbung" / "warehouse.duckdb").exists()
    assert (again.code, again.out) == (2, "")
    assert again.err_lines == [
        "error: new/lumbung.toml already exists; `lumbung init` never overwrites a file. "
        "Move it aside or pick another folder."
    ]


def test_init_writes_nothing_when_any_file_exists(tmp_path: Path) -> None:
    (tmp_path / "p" / "data").mkdir(parents=True)
    (tmp_path / "p" / "data" / "orders.csv").write_text("mine\n")
    (tmp_path / "f").write_text("")
    r = run_many({"exists": (["init", "p"], tmp_path), "file": (["init", "f"], tmp_path)})
    assert (r["exists"].code, r["exists"].err_lines) == (
        2,
        [
            "error: p/data/orders.csv already exists; `lumbung init` never overwrites a file. "
            "Move it aside or pick another folder."
        ],
    )
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["data"]
    assert (tmp_path / "p" / "data" / "orders.csv").read_text() == "mine\n"
    assert (r["file"].code, r["file"].err_lines) == (
        2,
        ["error: f is a file; pass a folder to `lumbung init`."],
    )


def test_init_here_adds_to_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")
    res = run(["init"], tmp_path)
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "Created a Lumbung project:",
        "  lumbung.toml",
        "  data/orders.csv",
        "  assets.py",
        "  .gitignore (added .lumbung/)",
        "Next: lumbung materialize",
    ]
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.lumbung/\n"


def test_a_folder_without_a_project_points_at_init(tmp_path: Path) -> None:
    (tmp_path / "no-project").mkdir()
    res = run(["--project", "no-project", "plan"], tmp_path)
    assert (res.code, res.out) == (2, "")
    assert res.err_lines == [
        "error: --project no-project: this folder has no lumbung.toml and no pyproject.toml with "
        "[tool.lumbung]; create one with `lumbung init`, or pass the folder that has one."
    ]


# --- lumbung init --example ---------------------------------------------------------------

SHOP_FILES = [
    ".gitignore",
    "assets.py",
    "bar.py",
    "data/SOURCE.md",
    *(f"data/daily_orders/2026-01-{d:02d}.csv" for d in range(1, 32)),
    *(f"data/daily_orders/2026-02-{d:02d}.csv" for d in range(1, 15)),
    "data/generate.py",
    "data/raw_customers.csv",
    "data/raw_order_items.csv",
    "data/raw_orders.csv",
    "data/raw_payments.csv",
    "data/raw_products.csv",
    "lumbung.toml",
    "models/order_items.sql",
    "models/orders.sql",
]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_init_example_copies_the_example_which_then_runs(tmp_path: Path) -> None:
    res = run(["init", "--example", "shop", "shop"], tmp_path)
    assert (res.code, res.err) == (0, "")
    assert res.out.splitlines() == [
        'Created a copy of the example "shop" in shop:',
        # a folder of more than 10 files is one line
        *(f"  {name}" for name in SHOP_FILES[:4]),
        "  data/daily_orders/ (45 files)",
        *(f"  {name}" for name in SHOP_FILES[49:]),
        "Next: lumbung --project shop materialize",
    ]
    shop = tmp_path / "shop"
    copied = _files(shop)
    assert sorted(copied) == SHOP_FILES
    if not example_edited():  # then what the package holds is what was committed
        assert copied == _files(copy_example(tmp_path / "pristine"))
    listed = run(["list", "-o", "name"], shop)
    assert (listed.code, listed.out.split()) == (0, EXAMPLE_KEYS)


def test_init_example_refusals_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine\n")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / ".git").mkdir()
    (tmp_path / "f").write_text("")
    r = run_many(
        {
            "full": (["init", "--example", "shop", "full"], tmp_path),
            "here": (["init", "--example", "shop"], tmp_path / "here"),
            "file": (["init", "--example", "shop", "f"], tmp_path),
            "under_file": (["init", "--example", "shop", "f/new"], tmp_path),
            "unknown": (["init", "--example", "shpo", "new"], tmp_path),
        }
    )
    assert {name: (res.code, res.out, res.err_lines) for name, res in r.items()} == {
        "full": (
            2,
            "",
            [
                "error: full is not empty; `lumbung init --example` writes into a new or empty "
                "folder. Pick another one."
            ],
        ),
        "here": (
            2,
            "",
            [
                "error: this folder is not empty; `lumbung init --example` writes into a new or "
                "empty folder. Pick another one."
            ],
        ),
        "file": (2, "", ["error: f is a file; pass a folder to `lumbung init`."]),
        "under_file": (
            2,
            "",
            [
                "error: `lumbung init` cannot write f/new (Not a directory); a file stands "
                "where a folder of the path should be; use another path."
            ],
        ),
        "unknown": (2, "", ["error: no example 'shpo'; the examples are: shop."]),
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "full", "here"]
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
    assert [p.name for p in (tmp_path / "here").iterdir()] == [".git"]


def test_init_example_leaves_out_stored_outputs_and_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An example folder that was run (as the README's install command runs example_project)
    holds a storage folder and bytecode: the copy gets neither."""
    example = tmp_path / "examples" / "tiny"
    for name in ("lumbung.toml", "assets.py", "data/a.csv", ".gitignore"):
        (example / name).parent.mkdir(parents=True, exist_ok=True)
        (example / name).write_text(name)
    for name in (".lumbung/state.db", ".lumbung/parquet/a.parquet", "__pycache__/assets.pyc"):
        (example / name).parent.mkdir(parents=True, exist_ok=True)
        (example / name).write_bytes(b"\0")
    (example / "data" / "stray.pyc").write_bytes(b"\0")
    (tmp_path / "examples" / "notes.md").write_text("not an example")
    monkeypatch.setattr(cmd_init, "EXAMPLES", tmp_path / "examples")

    assert cmd_init.example_names() == ["tiny"]
    done = cmd_init.copy_example("tiny", tmp_path / "new")
    assert done == [".gitignore", "assets.py", "data/a.csv", "lumbung.toml"]
    assert sorted(_files(tmp_path / "new")) == done


def test_the_package_data_holds_every_file_of_the_example() -> None:
    """pyproject.toml's package data for ``assets_core`` matches every committed file of
    example_project/ under examples/shop/, so a wheel (``pip install lumbung``) has them."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        patterns = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["assets_core"]
    with TemporaryDirectory() as tmp:
        files = sorted(_files(copy_example(Path(tmp) / "shop")))
    assert files == SHOP_FILES
    missing = [
        name
        for name in files
        if not any(PurePosixPath("examples/shop", name).match(p) for p in patterns)
    ]
    assert missing == []


@pytest.mark.slow
def test_a_built_wheel_copies_the_example(tmp_path: Path) -> None:
    """The wheel holds the example's files themselves (the link in the repository followed):
    ``init --example`` run from the unpacked wheel copies them all. The wheel is built from a
    copy of the checkout, as pip builds in the source folder (``build/``, ``*.egg-info``)."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".lumbung", ".*_cache"
        ),
    )
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("lumbung-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "unpacked")
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import assets_core\n"
        "assert assets_core.__file__.startswith(sys.argv[1]), assets_core.__file__\n"
        "from assets_core.cli import main\n"
        "sys.argv = ['lumbung', 'init', '--example', 'shop', sys.argv[2]]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "unpacked"), str(tmp_path / "shop")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(_files(tmp_path / "shop")) == SHOP_FILES
