"""Group terms as an index vector and a few Z columns (never a dense n x q Z)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._errors import DataError
from ..formula import GroupTerm
from ._fixed import encode


@dataclass(frozen=True)
class GroupDesign:
    """One group term on the data.

    `index[i]` is the level of row i (`levels[index[i]]`, whose code in the full, sorted
    factor is `level_codes[index[i]]`), or `len(levels)` for a row without a group effect
    (a missing group on a row whose Z is 0, or a level whose Z is 0 on all its rows: such
    a level carries no information and its effect is left out, which is exact because
    group effects are independent across levels).
    """

    term: GroupTerm
    dpar: str
    z: np.ndarray
    columns: tuple[str, ...]
    coefs: tuple[str, ...]
    index: np.ndarray
    levels: tuple[str, ...]
    level_codes: np.ndarray
    rows_missing_group: int
    levels_without_data: int
    spec: object

    @property
    def group(self) -> str:
        return self.term.group

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def rows_without_effect(self) -> int:
        return int(np.sum(self.index == self.n_levels))

    def rows_per_level(self) -> np.ndarray:
        return np.bincount(self.index, minlength=self.n_levels + 1)[: self.n_levels]


def group_design(term: GroupTerm, dpar: str, frame: pd.DataFrame) -> GroupDesign:
    """Encode one group term: Z from formulaic, levels from the factor columns.

    Example:
        >>> from multilevel.formula import parse_formula
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "b", "a", "b"]})
        >>> g = group_design(parse_formula("y ~ (1 | g)").mu.groups[0], "mu", df)
        >>> g.levels, g.index.tolist()
        (('a', 'b'), [0, 1, 0, 1])
    """
    enc = encode(term.terms, frame, f"the group term {term.source}")
    if not enc.columns:
        raise DataError(f"the group term {term.source} has no columns; write '1' for an intercept")
    codes, labels, missing = _factor_codes(frame, term.factor)
    if len(labels) < 2:
        shown = f" ('{labels[0]}')" if labels else ""
        raise DataError(
            f"the grouping factor '{term.group}' of {term.source} has {len(labels)} level"
            f"{shown}; a group effect needs at least 2 levels"
        )
    active = np.any(enc.matrix != 0, axis=1)
    if np.any(missing & active):
        n_bad = int(np.sum(missing & active))
        raise DataError(
            f"{n_bad} row(s) have a missing value in the grouping column(s) "
            f"{', '.join(repr(c) for c in term.factor)} of {term.source} but non-zero "
            f"group-term columns ({', '.join(enc.columns)}); give them a group, or make "
            "sure only rows with all group-term columns 0 (e.g. unclustered controls) lack one; "
            "na_action='drop' drops such rows"
        )
    level_has_data = np.zeros(len(labels), dtype=bool)
    np.logical_or.at(level_has_data, codes[~missing], active[~missing])
    kept = np.flatnonzero(level_has_data)
    if len(kept) < 2:
        raise DataError(
            f"only {len(kept)} level(s) of '{term.group}' have rows with non-zero columns "
            f"({', '.join(enc.columns)}) in {term.source}; a group effect needs at least 2"
        )
    _check_slopes_vary(enc, codes, ~missing & active, term)
    remap = np.full(len(labels) + 1, len(kept))
    remap[kept] = np.arange(len(kept))
    index = remap[np.where(missing, len(labels), codes)]
    return GroupDesign(
        term=term,
        dpar=dpar,
        z=enc.matrix,
        columns=enc.columns,
        coefs=enc.names,
        index=index.astype(np.int32),
        levels=tuple(labels[i] for i in kept),
        level_codes=kept,
        rows_missing_group=int(missing.sum()),
        levels_without_data=len(labels) - len(kept),
        spec=enc.spec,
    )


def rows_missing_group(term: GroupTerm, frame: pd.DataFrame) -> np.ndarray:
    """Rows that lack a group for `term` although its columns are not all 0 there."""
    enc = encode(term.terms, frame, f"the group term {term.source}")
    missing = np.any([_column_missing(frame[name]) for name in term.factor], axis=0)
    return missing & np.any(enc.matrix != 0, axis=1)


def _column_missing(column: pd.Series) -> np.ndarray:
    missing = column.isna().to_numpy().copy()
    if column.dtype == object or pd.api.types.is_string_dtype(column):
        missing |= column.astype(str).str.strip().eq("").to_numpy()
    return missing


def _factor_codes(
    frame: pd.DataFrame, factor: tuple[str, ...]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes 0..L-1 in level order (categories, numbers or text sorted), labels joined by '_'."""
    per_column = [_column_codes(frame[name]) for name in factor]
    missing = np.any([m for _, _, m in per_column], axis=0)
    stacked = np.stack([c for c, _, _ in per_column], axis=1)
    present = stacked[~missing]
    combos, inverse = np.unique(present, axis=0, return_inverse=True)
    codes = np.zeros(len(frame), dtype=np.int64)
    codes[~missing] = inverse.ravel()
    labels = ["_".join(per_column[k][1][c] for k, c in enumerate(row)) for row in combos]
    return codes, labels, missing


def _column_codes(column: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    missing = _column_missing(column)
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        return np.where(missing, 0, codes), [str(c) for c in column.cat.categories], missing
    present = column[~missing]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = present.to_numpy(dtype=float)
        if np.isinf(values).any():
            raise DataError(
                f"grouping factor '{column.name}' has {int(np.isinf(values).sum())} infinite "
                "value(s); a group is a label: replace them with the group's id"
            )
        uniq = np.unique(values)
        labels = [np.format_float_positional(v, trim="-") for v in uniq]  # as R: 2.0 -> "2"
        found = np.searchsorted(uniq, values)
    else:
        text = present.astype(str).to_numpy()
        uniq = np.unique(text)
        labels = [str(v) for v in uniq]
        found = np.searchsorted(uniq, text)
    codes = np.zeros(len(column), dtype=np.int64)
    codes[~missing] = found
    return codes, labels, missing


def _check_slopes_vary(enc, codes: np.ndarray, rows: np.ndarray, term: GroupTerm) -> None:
    """(`codes`: every row's level; `rows`: those with a group and non-zero columns.)
    Beside a group intercept, a slope on a column constant within every level is the
    intercept again, level by level: neither can be told apart from the other."""
    if "Intercept" not in enc.columns or not rows.any():
        return
    for k, column in enumerate(enc.columns):
        if column == "Intercept":
            continue
        x, level = enc.matrix[rows, k], codes[rows]
        low = np.full(codes.max() + 1, np.inf)
        high = np.full(codes.max() + 1, -np.inf)
        np.minimum.at(low, level, x)
        np.maximum.at(high, level, x)
        seen = np.isfinite(low)
        if np.all(high[seen] - low[seen] <= 1e-12 * max(1.0, float(np.abs(x).max()))):
            raise DataError(
                f"'{column}' is constant within every level of '{term.group}', so its slope in "
                f"{term.source} duplicates the group intercept; drop it from the group term "
                "(keep it as a fixed effect), or drop the intercept with '0 +'"
            )
