"""Bring user data into a pandas DataFrame and check the columns a formula uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, did_you_mean

NA_ACTIONS = ("error", "drop")


def as_frame(data: Any) -> pd.DataFrame:
    """A pandas DataFrame from pandas, a dict of columns, a polars DataFrame or LazyFrame
    (read as pandas would read the same data: see `_from_polars`), or any
    dataframe-interchange object; pyarrow-backed columns become plain dtypes."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, dict):
        frame = pd.DataFrame(data)
    elif type(data).__module__.split(".")[0] == "polars":
        frame = _from_polars(data)
    elif hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    elif hasattr(data, "__dataframe__"):
        frame = pd.api.interchange.from_dataframe(data)
    else:
        raise DataError(
            f"data must be a pandas DataFrame, a dict of columns or a data frame with the "
            f"interchange protocol (polars, pyarrow); got {type(data).__name__}"
        )
    if frame.shape[0] == 0:
        raise DataError("the data frame has no rows")
    return _without_arrow_dtypes(frame.reset_index(drop=True))


def _without_arrow_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """pyarrow-backed columns (`pd.ArrowDtype`, e.g. from polars' `to_pandas(
    use_pyarrow_extension_array=True)`) as pyarrow itself gives them to pandas: numpy
    dtypes (nulls as NaN), pandas' `str`, categoricals; later stages expect those."""
    arrow = [i for i, dtype in enumerate(frame.dtypes) if isinstance(dtype, pd.ArrowDtype)]
    if not arrow:
        return frame
    import pyarrow as pa

    frame = frame.copy(deep=False)
    for i in arrow:
        plain = pa.chunked_array(pa.array(frame.iloc[:, i].array)).to_pandas()
        frame.isetitem(i, plain.set_axis(frame.index))
    return frame


def _from_polars(data: Any) -> pd.DataFrame:
    """A polars DataFrame (or LazyFrame) as the pandas frame that the same data read by
    pandas would be: plain numpy and pandas dtypes, no pyarrow-backed extension arrays.

    `polars.DataFrame.to_pandas` already gives what pandas has for most dtypes: nulls in
    Float and Int columns become NaN in float64 columns (so the missing-value check names
    the column), String becomes pandas' `str`, Boolean `bool` (`object` with nulls, as in
    pandas), Enum an ordered categorical in the Enum's order (an ordinal response as
    `family="cumulative"` reads it). Here:

    - Categorical, which has no order of its own in polars (it sorts its values
      lexically), becomes an unordered categorical of the values present, sorted, as a
      String column would be read; `to_pandas` gives its categories in the order polars
      happened to encode them.
    - Decimal (an `object` column of `decimal.Decimal` for pandas), Int128 and UInt128
      (which `to_pandas` cannot convert) and Float16 become float64.
    - Any other column that cannot be converted is named in a DataError.
    """
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if not isinstance(data, pl.DataFrame):
        raise DataError(
            f"data must be a pandas or polars DataFrame or a dict of columns; got a polars "
            f"{type(data).__name__} (for a Series, use series.to_frame())"
        )
    wide = [getattr(pl, n) for n in ("Int128", "UInt128", "Float16") if hasattr(pl, n)]
    to_float = [
        name
        for name, dtype in data.schema.items()
        if isinstance(dtype, pl.Decimal) or any(dtype == w for w in wide)
    ]
    if to_float:
        data = data.with_columns(pl.col(to_float).cast(pl.Float64))
    try:
        frame = data.to_pandas()
    except Exception as err:  # a dtype pyarrow cannot carry: name the column
        for name, dtype in data.schema.items():
            try:
                data.select(name).to_pandas()
            except Exception:
                raise DataError(
                    f"column '{name}' has the polars dtype {dtype}, which cannot be converted "
                    "to pandas; cast it to a number, string, boolean or categorical column"
                ) from err
        raise DataError(f"cannot convert the polars frame to pandas: {err}") from err
    for name, dtype in data.schema.items():
        if dtype == pl.Categorical:
            column = frame[name]
            present = sorted(str(c) for c in column.dropna().unique())
            frame[name] = column.cat.set_categories(present, ordered=False)
    return frame


def require_columns(frame: pd.DataFrame, names: Iterable[str], role: str) -> None:
    """Fail naming the first of `names` that is not a column of `frame`."""
    for name in names:
        if name not in frame.columns:
            raise DataError(
                f"unknown column '{name}' ({role}){did_you_mean(name, map(str, frame.columns))}; "
                f"the data has columns: {', '.join(map(str, frame.columns))}"
            )


@dataclass(frozen=True)
class MissingReport:
    """What `na_action='drop'` removed: the number of rows and the columns at fault."""

    rows: int
    columns: tuple[str, ...]


def handle_missing(
    frame: pd.DataFrame, value_columns: Iterable[str], na_action: str
) -> tuple[pd.DataFrame, MissingReport]:
    """Fail on, or drop, rows with missing values in the value columns; fail on infinities.

    Grouping-factor columns are not checked here: a missing group is allowed on rows whose
    group-term columns are all 0 (see `design._groups`).
    """
    if na_action not in NA_ACTIONS:
        raise DataError(f"na_action must be one of {NA_ACTIONS}, got {na_action!r}")
    bad_rows = np.zeros(len(frame), dtype=bool)
    bad_columns = []
    for name in value_columns:
        column = frame[name]
        missing = column.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(dtype=float, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                raise DataError(
                    f"column '{name}' has {int(infinite.sum())} infinite value(s) "
                    f"(rows {_rows(infinite)}); replace or remove them"
                )
        if missing.any():
            if na_action == "error":
                raise DataError(
                    f"column '{name}' has {int(missing.sum())} missing value(s) "
                    f"(rows {_rows(missing)}); remove them or pass na_action='drop' to drop "
                    "those rows"
                )
            bad_rows |= missing
            bad_columns.append(name)
    if not bad_rows.any():
        return frame, MissingReport(0, ())
    kept = frame.loc[~bad_rows].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"every row has a missing value in {', '.join(bad_columns)}")
    return kept, MissingReport(int(bad_rows.sum()), tuple(bad_columns))


def _rows(mask: np.ndarray, show: int = 5) -> str:
    rows = np.flatnonzero(mask)
    text = ", ".join(str(r) for r in rows[:show])
    return text + (", ..." if len(rows) > show else "")
