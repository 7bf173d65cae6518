"""``lumbung init``: a scaffold that materializes at once, never overwrites a file, and
keeps ``.lumbung/`` out of git; a folder without a project points at ``lumbung init``."""

from __future__ import annotations

from pathlib import Path

from tests.assets_core.cli.conftest import run, run_many, run_sequence

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
