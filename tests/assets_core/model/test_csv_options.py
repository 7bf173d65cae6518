"""``source(csv=CsvOptions(...))``: bad reader options are definition problems, each one line
naming the source, the option and the fix, all reported at once; good ones are kept frozen."""

from __future__ import annotations

import textwrap
from types import MappingProxyType

import pytest

from assets_core import CsvOptions
from assets_core.errors import DefinitionError
from assets_core.model.csv_options import DEFAULT_NULL_VALUES
from assets_core.model.decorator import source
from tests.conftest import ProjectDir

HEADER = "from assets_core import CsvOptions, source\n"

CASES = [
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(delimiter=";;"))',
        [
            "raw (assets.py:2): CsvOptions(delimiter=';;') is not valid: give one character, "
            "such as ',', ';', '|' or '\\t'."
        ],
        id="delimiter",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(header="yes"))',
        [
            "raw (assets.py:2): CsvOptions(header='yes') is not valid: give True (the first "
            "line names the columns) or False."
        ],
        id="header",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(header=False, names="id,name"))',
        [
            "raw (assets.py:2): CsvOptions(names='id,name') is not valid: give a list of "
            "non-empty column names."
        ],
        id="names-as-one-string",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(names=["id", "x", "id"]))',
        [
            "raw (assets.py:2): CsvOptions(names=['id', 'x', 'id']) is not valid: each column "
            "needs its own name; 'id' is given twice."
        ],
        id="names-twice",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(null_values=[None]))',
        [
            "raw (assets.py:2): CsvOptions(null_values=[None]) is not valid: give a list of "
            "strings, such as ['', 'NA']."
        ],
        id="null-values",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(null_values=[]))',
        [
            "raw (assets.py:2): CsvOptions(null_values=[]) is not valid: give at least one; "
            "[''] reads only empty fields as missing."
        ],
        id="no-null-values",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(types={"id": "in64"}))',
        [
            "raw (assets.py:2): CsvOptions(types={'id': 'in64'}) is not valid: 'in64' "
            "(column 'id') is not a column type; use 'int64'."
        ],
        id="type-typo",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(types={"id": "BIGINT"}))',
        [
            "raw (assets.py:2): CsvOptions(types={'id': 'BIGINT'}) is not valid: 'BIGINT' "
            "(column 'id') is not a column type; use 'int64'."
        ],
        id="type-in-sql",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(types={"price": "money"}))',
        [
            "raw (assets.py:2): CsvOptions(types={'price': 'money'}) is not valid: 'money' "
            "(column 'price') is not a column type; use one of bool, int8, int16, int32, "
            "int64, uint8, uint16, uint32, uint64, float32, float64, string, date, time, "
            "timestamp."
        ],
        id="type-unknown",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(types=["id"]))',
        [
            "raw (assets.py:2): CsvOptions(types=['id']) is not valid: give a dict of column "
            "name to type name, such as {'id': 'int64'}."
        ],
        id="types-not-a-dict",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", '
        'csv=CsvOptions(header=False, names=["id", "day"], types={"ID": "int64"}))',
        [
            "raw (assets.py:2): CsvOptions(types={'ID': 'int64'}) is not valid: column 'ID' "
            "is not among names=; use one of id, day."
        ],
        id="typed-column-not-named",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(date_format="DD.MM.YYYY"))',
        [
            "raw (assets.py:2): CsvOptions(date_format='DD.MM.YYYY') is not valid: give a "
            "strptime format such as '%d.%m.%Y' or '%Y-%m-%d %H:%M:%S'."
        ],
        id="date-format-without-directives",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv=CsvOptions(timestamp_format="%Y-%m-%d %Q"))',
        [
            "raw (assets.py:2): CsvOptions(timestamp_format='%Y-%m-%d %Q') is not valid: '%Q' "
            "is not a strptime directive; give a strptime format such as '%d.%m.%Y' or "
            "'%Y-%m-%d %H:%M:%S'."
        ],
        id="timestamp-format-directive",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", csv={"delimiter": ";"})',
        [
            "raw (assets.py:2): csv={'delimiter': ';'} is not valid: pass csv=CsvOptions(...) "
            "(from assets_core import CsvOptions)."
        ],
        id="csv-as-a-dict",
    ),
    pytest.param(
        'raw = source("raw", path="raw.parquet", csv=CsvOptions(delimiter=";"))',
        [
            "raw (assets.py:2): csv= applies to CSV files, and 'raw.parquet' is read as "
            "parquet; remove csv=."
        ],
        id="csv-on-parquet",
    ),
    pytest.param(
        'feed = source("feed", observe=lambda: "v1", csv=CsvOptions())',
        [
            "feed (assets.py:2): csv= says how to read CSV files, and an observe= source has "
            "none; remove csv=."
        ],
        id="csv-on-observe",
    ),
    pytest.param(
        'raw = source("raw", path="raw.csv", '
        'csv=CsvOptions(delimiter="", null_values=5, date_format="%d.%m.%"))',
        [
            "raw (assets.py:2): CsvOptions(delimiter='') is not valid: give one character, "
            "such as ',', ';', '|' or '\\t'.",
            "raw (assets.py:2): CsvOptions(null_values=5) is not valid: give a list of "
            "strings, such as ['', 'NA'].",
            "raw (assets.py:2): CsvOptions(date_format='%d.%m.%') is not valid: it ends with "
            "a lone '%'; give a strptime format such as '%d.%m.%Y' or '%Y-%m-%d %H:%M:%S'.",
        ],
        id="every-problem-at-once",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_bad_csv_options_are_definition_problems(
    project: ProjectDir, body: str, expected: list[str]
) -> None:
    project.write("assets.py", HEADER + textwrap.dedent(body) + "\n")
    with pytest.raises(DefinitionError) as err:
        project.session(io_managers={})
    assert [str(p) for p in err.value.problems] == expected


def test_good_options_are_kept_frozen() -> None:
    types = {"id": "int64"}
    nulls = ["NA", "", "NA"]
    src = source("raw", path="raw.csv", csv=CsvOptions(null_values=nulls, types=types))
    assert src.problems == ()
    assert src.csv == CsvOptions(null_values=("NA", ""), types=MappingProxyType(types))
    types["id"] = "string"  # the caller's dict changing later changes nothing
    assert src.csv is not None and dict(src.csv.types) == {"id": "int64"}
    assert isinstance(src.csv.null_values, tuple)


def test_csv_options_say_the_format() -> None:
    """A file whose extension says nothing (``.tsv``, ``.txt``) is CSV when csv= is given."""
    tsv = source("raw", path="raw.tsv", csv=CsvOptions(delimiter="\t"))
    assert (tsv.problems, tsv.format) == ((), "csv")
    assert source("raw", path="raw.csv").csv is None  # the defaults, not a copy of them
    assert CsvOptions().null_values == DEFAULT_NULL_VALUES
    assert "NA" in DEFAULT_NULL_VALUES and "" in DEFAULT_NULL_VALUES
