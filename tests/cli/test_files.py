"""Data files: CSV and Parquet read strictly; column types declared in analysis.toml."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multilevel import DataError
from multilevel.cli._files import apply_types, read_data

DATA = Path(__file__).parents[1] / "data"


def test_csv_and_parquet_give_the_same_frame(tmp_path):
    csv = read_data(DATA / "sleepstudy.csv")
    csv.to_parquet(tmp_path / "sleep.parquet")
    pd.testing.assert_frame_equal(read_data(tmp_path / "sleep.parquet"), csv)
    assert csv.shape == (180, 3)


def test_tab_separated(tmp_path):
    (tmp_path / "d.tsv").write_text("y\tg\n1.5\ta\n2\tb\n")
    assert read_data(tmp_path / "d.tsv")["g"].tolist() == ["a", "b"]


def test_other_encodings_when_declared(tmp_path):
    (tmp_path / "d.csv").write_bytes("y,site\n1,Zürich\n".encode("latin-1"))
    assert read_data(tmp_path / "d.csv", "latin-1")["site"][0] == "Zürich"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("d.xlsx", b"PK\x03\x04", "neither CSV (.csv, .tsv) nor Parquet"),
        ("d.csv", "y,site\n1,Z\xfcrich\n".encode("latin-1"), "byte 0xfc on line 2"),
        ("d.csv", b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 field(s) but the header has 3"),
        ("d.csv", b"a,b,c\n1,2,3\n4,5,6,7\n", "line 3 has 4 field(s)"),
        ("d.csv", b"", "is empty"),
        ("d.csv", b'a,b\n1,"unclosed\n', "line 2 is not valid CSV: unexpected end of data"),
        ("d.parquet", b"not parquet at all", "cannot read"),
    ],
)
def test_bad_files_are_named(tmp_path, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_data(tmp_path / name)
    assert fragment in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        read_data(tmp_path / "nope.csv")


def test_unknown_encoding(tmp_path):
    (tmp_path / "d.csv").write_text("y\n1\n")
    with pytest.raises(DataError, match="unknown encoding 'utf-9'"):
        read_data(tmp_path / "d.csv", "utf-9")


def test_blank_lines_are_not_ragged_rows(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n\n3,4\n")
    assert len(read_data(tmp_path / "d.csv")) == 2


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"n": ["1", "2", None], "arm": ["c", "t", "t"], "ok": ["yes", "no", "TRUE"]}
    )


def test_declared_types(frame):
    typed = apply_types(
        frame,
        {
            "n": "numeric",
            "arm": {"type": "category", "levels": ["t", "c"]},
            "ok": "boolean",
        },
    )
    assert typed["n"].dtype == float and np.isnan(typed["n"][2])
    assert list(typed["arm"].cat.categories) == ["t", "c"]  # the first level is the reference
    assert typed["ok"].tolist() == [True, False, True]
    ordered = apply_types(frame, {"arm": {"type": "ordered", "levels": ["c", "t"]}})["arm"]
    assert ordered.cat.ordered and ordered.max() == "t"


@pytest.mark.parametrize(
    ("types", "fragment"),
    [
        ({"nn": "numeric"}, "'nn', which is not a column of the data (did you mean 'n'?)"),
        (
            {"arm": "numeric"},
            "column 'arm' (declared numeric in [data.columns]): not a number: 'c'",
        ),
        ({"arm": "integer"}, "not a number"),
        ({"n": "factor"}, "unknown type"),
        ({"arm": {"type": "category", "levels": ["c"]}}, "not one of ['c']: 't' (row 1)"),
        ({"arm": "ordered"}, "give the levels in order"),
        ({"arm": {"type": "numeric", "levels": ["c"]}}, "levels apply to category and ordered"),
        ({"arm": {"kind": "category"}}, "give a type name"),
        ({"ok": {"type": "category", "levels": []}}, "levels must be a non-empty list"),
        ({"arm": "boolean"}, "not true/false"),
    ],
)
def test_bad_column_types_are_named(frame, types, fragment):
    with pytest.raises(DataError) as caught:
        apply_types(frame, types)
    assert fragment in str(caught.value)


def test_integer_rejects_fractions():
    with pytest.raises(DataError, match=r"not whole: '1.5' \(row 0\)"):
        apply_types(pd.DataFrame({"k": ["1.5", "2"]}), {"k": "integer"})
