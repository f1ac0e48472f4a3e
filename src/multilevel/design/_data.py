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
    """A pandas DataFrame from pandas, a dict of columns, or any dataframe-interchange object."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, dict):
        frame = pd.DataFrame(data)
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
    return frame.reset_index(drop=True)


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
