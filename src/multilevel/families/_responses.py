"""Response checks: what values each kind of response may take, with one clear error.

Each check takes the response column (and the response addition terms, e.g. the trials of
a binomial response) and returns the response as floats, or raises a DataError that names
the column, counts and shows the offending values, and says which families would fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .._errors import DataError

Check = Callable[[pd.Series, dict[str, pd.Series]], np.ndarray]


def numeric(y: pd.Series, additions: dict[str, pd.Series] | None = None) -> np.ndarray:
    """Any finite number (gaussian, student).

    Example:
        >>> numeric(pd.Series([1, 2.5], name="y")).tolist()
        [1.0, 2.5]
    """
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        example = next((v for v in y if isinstance(v, str)), y.iloc[0])
        raise DataError(
            f"the response '{y.name}' must be numeric for this family, but it holds "
            f"{y.dtype} values such as {example!r}"
        )
    return y.to_numpy(dtype=float)


def _fail(y: pd.Series, bad: np.ndarray, what: str, instead: str) -> None:
    if not bad.any():
        return
    shown = ", ".join(f"{v:g}" for v in np.unique(y.to_numpy(dtype=float)[bad])[:5])
    raise DataError(
        f"the response '{y.name}' must be {what}, but {int(bad.sum())} row(s) are not "
        f"(values such as {shown}); {instead}"
    )


def positive(y: pd.Series, additions=None) -> np.ndarray:
    """Numbers > 0 (gamma, lognormal)."""
    v = numeric(y)
    _fail(y, ~(v > 0), "> 0", "for data with exact zeros use hurdle_lognormal")
    return v


def non_negative(y: pd.Series, additions=None) -> np.ndarray:
    """Numbers >= 0 (hurdle_lognormal: zeros and positive values)."""
    v = numeric(y)
    _fail(y, ~(v >= 0), ">= 0", "a hurdle model describes zeros and positive values only")
    return v


def counts(y: pd.Series, additions=None) -> np.ndarray:
    """Whole numbers >= 0 (poisson, negbinomial, zero-inflated and hurdle counts)."""
    v = numeric(y)
    _fail(y, ~(v >= 0), "a count (>= 0)", "counts cannot be negative")
    _fail(
        y,
        v != np.round(v),
        "a count (a whole number)",
        "for continuous positive data use gamma or lognormal",
    )
    return v


def binary(y: pd.Series, additions=None) -> np.ndarray:
    """0 or 1, or True/False (bernoulli).

    Example:
        >>> binary(pd.Series([True, False], name="y")).tolist()
        [1.0, 0.0]
    """
    if pd.api.types.is_bool_dtype(y):
        return y.to_numpy(dtype=float)
    v = numeric(y)
    _fail(
        y,
        ~np.isin(v, (0.0, 1.0)),
        "0 or 1",
        "for counts of successes out of several trials use binomial with 'y | trials(n)'",
    )
    return v


def successes(y: pd.Series, additions: dict[str, pd.Series]) -> np.ndarray:
    """Whole numbers from 0 to the trials of the row (binomial, `y | trials(n)`)."""
    if "trials" not in additions:
        raise DataError(
            f"a binomial response needs its number of trials: write '{y.name} | trials(n)' "
            "with n a column (or a number) of trials; for 0/1 data use bernoulli"
        )
    trials = additions["trials"]
    n = counts(trials.rename(f"trials({trials.name})"))
    _fail(trials.rename(f"trials({trials.name})"), ~(n >= 1), "at least 1", "a row needs a trial")
    v = counts(y)
    _fail(y, v > n, "at most its trials", f"check the trials column '{trials.name}'")
    return v


def open_unit(y: pd.Series, additions=None) -> np.ndarray:
    """Proportions strictly between 0 and 1 (beta)."""
    v = numeric(y)
    _fail(
        y,
        ~((v > 0) & (v < 1)),
        "strictly between 0 and 1",
        "for proportions with exact 0s or 1s use zero_one_inflated_beta or ordered_beta",
    )
    return v


def closed_unit(y: pd.Series, additions=None) -> np.ndarray:
    """Proportions from 0 to 1, ends included (zero_one_inflated_beta, ordered_beta)."""
    v = numeric(y)
    _fail(y, ~((v >= 0) & (v <= 1)), "between 0 and 1", "rescale it, e.g. rating / 100")
    return v


def ordinal_levels(y: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..K-1 and the K level labels, lowest first, of an ordinal response.

    A pandas categorical keeps its categories' order (an ordered factor's, or the order
    given); whole numbers take every value from the smallest to the largest (an unobserved
    value in between stays a level, as in brms); text is sorted.

    Example:
        >>> ordinal_levels(pd.Series([2, 4, 2], name="y"))
        (array([0, 2, 0]), ('2', '3', '4'))
    """
    if isinstance(y.dtype, pd.CategoricalDtype):
        labels = tuple(str(c) for c in y.cat.categories)
        codes = y.cat.codes.to_numpy()
    elif pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        v = y.to_numpy(dtype=float)
        _fail(
            y, v != np.round(v), "a whole number (an ordinal level)", "or give ordered categories"
        )
        low, high = int(v.min()), int(v.max())
        labels = tuple(str(k) for k in range(low, high + 1))
        codes = (v - low).astype(int)
    else:
        text = y.astype(str).to_numpy()
        uniq = np.unique(text)
        labels, codes = tuple(uniq), np.searchsorted(uniq, text)
    if len(labels) < 2:
        raise DataError(
            f"the ordinal response '{y.name}' has {len(labels)} level; a cumulative model needs "
            "at least 2 (ordered) levels"
        )
    return codes, labels


def ordinal(y: pd.Series, additions=None) -> np.ndarray:
    """Ordered levels as codes 0..K-1 (cumulative): see `ordinal_levels`."""
    return ordinal_levels(y)[0].astype(float)
