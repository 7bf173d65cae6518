"""Sources named by URI (``assets_core.storage.remote_sources``), against a real S3-compatible
server on 127.0.0.1 and ``file:///``, through the ``lumbung`` command.

What is pinned: an ``s3://`` source is read like a local file and versioned by its content (an
unchanged object leaves its consumers fresh, a changed one makes them stale); a missing object
and a glob of a URI are one line each; a ``file://`` object is fetched again only when it
changed.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from assets_core.errors import ProjectError
from assets_core.storage.remote_sources import fetch, is_uri
from tests.assets_core.cli.conftest import run
from tests.io_managers import s3server

ASSETS = """
import pandas as pd
from assets_core import asset, source

orders = source("orders", path="URI")


@asset
def total(orders: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": [orders["amount"].sum()]})
"""


def _put(key: str, body: bytes) -> None:
    import boto3

    endpoint = f"http://{s3server.endpoint()}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.put_object(Bucket=s3server.BUCKET, Key=key, Body=body)


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **s3server.CREDENTIALS,
        "AWS_ENDPOINT_URL": f"http://{s3server.endpoint()}",
        "LUMBUNG_SOURCE_CACHE": str(tmp_path / "cache"),
    }


def _project(root: Path, uri: str) -> Path:
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS).replace("URI", uri).lstrip())
    return root


def test_an_s3_source_is_read_and_versioned_by_its_content(tmp_path: Path) -> None:
    key = f"sources/{tmp_path.name}/orders.csv"
    _put(key, b"id,amount\n1,10\n2,20\n")
    root = _project(tmp_path / "p", f"s3://{s3server.BUCKET}/{key}")
    env = _env(tmp_path)
    first = run(["materialize", "--json"], root, env=env)
    assert first.code == 0, first.err
    assert json.loads(first.out)["materialized"] == ["total"]
    _put(key, b"id,amount\n1,10\n2,20\n")  # the same bytes again: a new mtime, same content
    assert json.loads(run(["materialize", "--json"], root, env=env).out)["materialized"] == []
    _put(key, b"id,amount\n1,10\n2,25\n")
    changed = run(["materialize", "--json"], root, env=env)
    assert json.loads(changed.out)["materialized"] == ["total"], changed.err


def test_a_missing_object_and_a_glob_are_one_line_each(tmp_path: Path) -> None:
    uri = f"s3://{s3server.BUCKET}/sources/{tmp_path.name}/none.csv"
    missing = run(["plan"], _project(tmp_path / "a", uri), env=_env(tmp_path))
    assert missing.code == 2
    assert missing.err_lines == [
        f"error: source orders: no object at {uri!r}; create it or fix path=."
    ]
    pattern = f"s3://{s3server.BUCKET}/sources/*.csv"
    globbed = run(["plan"], _project(tmp_path / "b", pattern), env=_env(tmp_path))
    assert globbed.code == 2
    assert globbed.err_lines == [
        f"error: source orders: {pattern!r} is a glob of a URI, which cannot be listed; "
        "name one object per source, or per partition with a template."
    ]


def test_a_file_uri_is_fetched_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUMBUNG_SOURCE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    minute_ago = time.time() - 60
    os.utime(data, (minute_ago, minute_ago))
    uri = f"file://{data}"
    assert is_uri(uri) and not is_uri(str(data)) and not is_uri("c:/x.csv")
    local = fetch(uri, "source x")
    assert local.read_text() == "a\n1\n"
    stamp = local.stat().st_mtime_ns
    assert fetch(uri, "source x").stat().st_mtime_ns == stamp  # not fetched again
    data.write_text("a\n1\n2\n")
    assert fetch(uri, "source x").read_text() == "a\n1\n2\n"
    # changed within the second it was fetched in, to the same size and (as object stores
    # keep it) the same whole-second time: fetched again, since it was fetched so soon after
    second = int(time.time())
    os.utime(data, (second, second))
    assert fetch(uri, "source x").read_text() == "a\n1\n2\n"
    data.write_text("a\n1\n3\n")
    os.utime(data, (second, second))
    assert fetch(uri, "source x").read_text() == "a\n1\n3\n"
    with pytest.raises(ProjectError) as err:
        fetch(f"file://{tmp_path}/none.csv", "source x")
    assert (
        str(err.value)
        == f"source x: no object at 'file://{tmp_path}/none.csv'; create it or fix path=."
    )
