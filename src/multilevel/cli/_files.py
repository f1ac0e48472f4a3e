"""Data files: CSV (.csv, .tsv) and Parquet (.parquet, .pq), read strictly.

pandas fills a CSV row with too few fields with missing values; here a row with a different
number of fields than the header is an error naming its line, as is text that is not in the
file's encoding (naming the line and the byte).

Example:
    >>> from pathlib import Path
    >>> _ = Path("tiny.csv").write_text("y,g\\n1.5,a\\n2.5,b\\n")
    >>> read_data(Path("tiny.csv")).shape
    (2, 2)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import DataError, did_you_mean

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Column types an analysis may declare, and what each becomes.
COLUMN_TYPES = {
    "numeric": "a float column",
    "integer": "whole numbers",
    "category": "an unordered factor (the first of `levels`, if given, is the reference)",
    "ordered": "an ordered factor (`levels` lowest first; for family = 'cumulative')",
    "string": "text",
    "boolean": "true/false",
}


def read_data(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The data frame in a CSV or Parquet file; a DataError names what is wrong with it."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        raise DataError(
            f"data file '{path}' is neither CSV (.csv, .tsv) nor Parquet (.parquet, .pq); "
            "save it as one of those (from Excel: Save As > CSV UTF-8)"
        )
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    return _read_csv(path, CSV_SUFFIXES[suffix], encoding)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DataError(f"cannot read '{path}' as Parquet: {err}") from None
    return table.to_pandas()


def _read_csv(path: Path, separator: str, encoding: str) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}' (e.g. 'utf-8', 'latin-1')") from None
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"'{path}' is not {encoding} text: byte 0x{raw[err.start]:02x} on line {line} "
            f"cannot be read; save the file as UTF-8, or give its encoding "
            '(e.g. encoding = "latin-1" in [data])'
        ) from None
    _check_fields(path, text, separator)
    try:
        return pd.read_csv(io.StringIO(text), sep=separator)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"cannot read '{path}' as CSV: {err}") from None


def _check_fields(path: Path, text: str, separator: str) -> None:
    records = csv.reader(io.StringIO(text), delimiter=separator, strict=True)
    try:
        header = next(records, None)
        if not header:
            raise DataError(f"'{path}' is empty: a CSV file needs a header line of column names")
        for record in records:
            if record and len(record) != len(header):
                raise DataError(
                    f"'{path}' line {records.line_num} has {len(record)} field(s) but the "
                    f"header has {len(header)} ({', '.join(header)}); fix the row (a missing "
                    "value is an empty field between separators, e.g. 1,,3)"
                )
    except csv.Error as err:
        raise DataError(f"'{path}' line {records.line_num} is not valid CSV: {err}") from None


def apply_types(frame: pd.DataFrame, types: Mapping[str, Any]) -> pd.DataFrame:
    """`frame` with each named column converted to its declared type: a string from
    `COLUMN_TYPES`, or `{type = ..., levels = [...]}` for factors."""
    frame = frame.copy()
    for name, declared in types.items():
        kind, levels = (declared, None) if isinstance(declared, str) else _typed(name, declared)
        if name not in frame.columns:
            columns = list(map(str, frame.columns))
            raise DataError(
                f"[data.columns] names '{name}', which is not a column of the data"
                f"{did_you_mean(name, columns)}; the data has columns: {', '.join(columns)}"
            )
        frame[name] = convert(frame[name], name, kind, levels)
    return frame


def _typed(name: str, declared: Mapping[str, Any]) -> tuple[str, list | None]:
    kind, levels = declared.get("type"), declared.get("levels")
    if not isinstance(kind, str) or set(declared) - {"type", "levels"}:
        raise DataError(
            f"[data.columns] {name}: give a type name, or a table {{type = ..., levels = "
            f"[...]}}; got {dict(declared)}"
        )
    if levels is not None and (not isinstance(levels, list) or not levels):
        raise DataError(f"[data.columns] {name}: levels must be a non-empty list, got {levels!r}")
    return kind, levels


def convert(column: pd.Series, name: str, kind: str, levels: list | None) -> pd.Series:
    """`column` as `kind`; a value that does not fit names its row."""
    where = f"column '{name}' (declared {kind} in [data.columns])"
    if kind not in COLUMN_TYPES:
        raise DataError(
            f"{where}: unknown type{did_you_mean(kind, COLUMN_TYPES)}; the types are "
            + "; ".join(f"{k}: {v}" for k, v in COLUMN_TYPES.items())
        )
    if levels is not None and kind not in ("category", "ordered"):
        raise DataError(f"{where}: levels apply to category and ordered columns only")
    if kind in ("numeric", "integer"):
        numbers = pd.to_numeric(column, errors="coerce")
        _fail_on(column.notna() & numbers.isna(), column, f"{where}: not a number")
        if kind == "integer":
            _fail_on(numbers.notna() & (numbers % 1 != 0), column, f"{where}: not whole")
            return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
        return numbers.astype(float)
    if kind == "boolean":
        return _boolean(column, where)
    if kind == "string":
        return column.astype("str")
    return _factor(column, where, levels, ordered=kind == "ordered")


def _factor(column: pd.Series, where: str, levels: list | None, ordered: bool) -> pd.Series:
    if levels is None:
        if ordered and not (isinstance(column.dtype, pd.CategoricalDtype) and column.cat.ordered):
            raise DataError(f"{where}: give the levels in order, lowest first: levels = [...]")
        return column.astype(pd.CategoricalDtype(ordered=ordered))
    text = column.astype("string")
    spelled = [str(level) for level in levels]
    _fail_on(text.notna() & ~text.isin(spelled), column, f"{where}: not one of {spelled}")
    return pd.Series(pd.Categorical(text, categories=spelled, ordered=ordered), index=column.index)


def _boolean(column: pd.Series, where: str) -> pd.Series:
    words = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    text = column.astype("string").str.strip().str.lower()
    _fail_on(text.notna() & ~text.isin(list(words)), column, f"{where}: not true/false")
    return text.map(words, na_action="ignore").astype("boolean")


def _fail_on(bad: pd.Series, column: pd.Series, what: str) -> None:
    if bad.any():
        rows = bad.to_numpy().nonzero()[0]
        shown = ", ".join(f"{column.iloc[r]!r} (row {r})" for r in rows[:3])
        raise DataError(f"{what}: {shown}{' ...' if len(rows) > 3 else ''}")
