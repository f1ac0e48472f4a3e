"""New rows encoded with the training design's state: its formulaic specs, its centring
means and its factors' level labels; nothing is re-estimated from the new rows."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from formulaic.errors import DataMismatchWarning, FormulaicError

from .._errors import DataError, did_you_mean
from ._data import as_frame, require_columns
from ._design import Design, DparDesign, _addition
from ._fixed import FixedDesign, spec_variables
from ._groups import GroupDesign, _column_codes


def encode_new(design: Design, data: Any) -> Design:
    """`data` as a Design with the training state: the same columns, the same centring means.

    Each group term's `levels` are the labels found in the new rows (spelled as the training
    labels are) and `index` points into them; a row without a group value, or whose
    group-term columns are all 0, points past the end (no group effect). The response is
    not needed; where absent it is NaN.

    Example:
        >>> from multilevel.formula import parse_formula
        >>> from multilevel.design import build_design
        >>> train = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 2, 3], "g": list("abab")})
        >>> d = encode_new(build_design(parse_formula("y ~ x + (1 | g)"), train),
        ...                pd.DataFrame({"x": [10.0], "g": ["c"]}))
        >>> d.dpars["mu"].fixed.matrix.tolist(), d.groups[0].levels
        ([[10.0]], ('c',))
    """
    frame = as_frame(data)
    dpars = {}
    for name, d in design.dpars.items():
        fixed = _fixed(d.fixed, frame, "the fixed terms" if name == "mu" else f"{name}'s formula")
        groups = tuple(_group(g, frame) for g in d.groups)
        dpars[name] = DparDesign(name, fixed, groups)
    additions = {}
    for name, expr in design.formula.additions.items():
        additions[name] = _addition(expr, frame)
    response = design.response_name
    y = frame[response] if response in frame.columns else pd.Series(np.nan, index=frame.index)
    return replace(
        design,
        response=y.rename(response),
        dpars=dpars,
        n_rows=len(frame),
        frame=frame,
        additions=additions,
    )


def _fixed(fixed: FixedDesign, frame: pd.DataFrame, context: str) -> FixedDesign:
    matrix = _materialise(fixed.spec, frame, context)
    return replace(fixed, matrix=matrix.loc[:, list(fixed.columns)].to_numpy(dtype=float))


def _group(g: GroupDesign, frame: pd.DataFrame) -> GroupDesign:
    z = _materialise(g.spec, frame, f"the group term {g.term.source}")
    z = z.loc[:, list(g.columns)].to_numpy(dtype=float)
    labels, missing = row_labels(frame, g.term.factor)
    active = np.any(z != 0, axis=1) & ~missing
    levels, index = np.unique(labels[active], return_inverse=True)
    full = np.full(len(frame), len(levels), dtype=np.int32)
    full[active] = index.ravel()
    return replace(
        g,
        z=z,
        index=full,
        levels=tuple(str(v) for v in levels),
        level_codes=np.arange(len(levels)),
        rows_missing_group=int(missing.sum()),
        levels_without_data=0,
    )


def row_labels(frame: pd.DataFrame, factor: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's level label of a grouping factor, spelled as the design spells levels
    (numbers as R prints them, columns joined by '_'), and which rows lack one. A factor
    column absent from `frame` leaves every row without a group."""
    if any(name not in frame.columns for name in factor):
        return np.full(len(frame), "", dtype=object), np.ones(len(frame), dtype=bool)
    parts, missing = [], np.zeros(len(frame), dtype=bool)
    for name in factor:
        codes, labels, absent = _column_codes(frame[name])
        parts.append(np.asarray(labels, dtype=object)[codes] if labels else codes.astype(object))
        missing |= absent
    labels = parts[0].astype(str).astype(object)
    for part in parts[1:]:
        labels = labels + "_" + part.astype(str)
    return labels, missing


def _materialise(spec: Any, frame: pd.DataFrame, context: str) -> pd.DataFrame:
    """The spec's columns on new rows; a missing column, a missing value or an unseen
    category is one error naming it."""
    try:
        with warnings.catch_warnings():
            # formulaic warns and encodes an unseen category as all-zero columns, i.e. as
            # the reference level: a silent change this turns into an error.
            warnings.simplefilter("error", DataMismatchWarning)
            return spec.get_model_matrix(frame, na_action="raise", output="pandas")
    except (FormulaicError, DataMismatchWarning, KeyError, NameError, TypeError, ValueError) as err:
        raise _new_data_error(err, spec, frame, context) from None


def _new_data_error(err: Exception, spec: Any, frame: pd.DataFrame, context: str) -> DataError:
    needed = sorted(spec_variables(spec))
    absent = [name for name in needed if name not in frame.columns]
    if absent:
        require_columns(frame, absent, f"needed by {context} to predict")
    text = str(err)
    for name in needed:
        if frame[name].isna().any():
            return DataError(
                f"column '{name}' has missing values in the new data; every row needs a value "
                f"of it to predict ({context})"
            )
    unseen = _unseen_levels(spec, frame)
    if unseen:
        name, values, known = unseen
        return DataError(
            f"column '{name}' has level(s) {', '.join(map(repr, values))} that the fitted data "
            f"did not have{did_you_mean(str(values[0]), known)} ({context}); known levels: "
            f"{', '.join(known)}"
        )
    return DataError(f"cannot encode the new data for {context}: {text}")


_CATEGORICAL = re.compile(r"^(?:C\(\s*)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:[,)].*)?$")


def _unseen_levels(spec: Any, frame: pd.DataFrame) -> tuple[str, list, list[str]] | None:
    """The first categorical column (`f` or `C(f, ...)`) with values the training data
    did not have."""
    for factor, state in getattr(spec, "encoder_state", {}).items():
        levels = state[1].get("categories") if isinstance(state, tuple) else None
        match = _CATEGORICAL.match(str(factor))
        if levels is None or match is None or match.group(1) not in frame.columns:
            continue
        name = match.group(1)
        new = [v for v in frame[name].dropna().unique() if v not in set(levels)]
        if new:
            return name, new, [str(v) for v in levels]
    return None
