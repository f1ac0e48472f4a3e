"""Comparing fits of one data set by PSIS-LOO, with the Pareto-k warnings explained."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._errors import ModelError, SamplingWarning
from ..inference import arviz
from ._fit import Fit


def compare(fits: Mapping[str, Fit], method: str = "stacking") -> pd.DataFrame:
    """ArviZ's LOO comparison of fits to the same rows, best first.

    Columns as `arviz.compare` (`elpd_loo`, `p_loo`, `elpd_diff`, `dse`, `weight`, ...) plus
    `pareto_k_bad`: how many rows have a Pareto k above ArviZ's threshold (0.7 for 4000
    draws), where leaving the row out moves the posterior too much for importance sampling
    to be trusted. Those are named and explained in one `SamplingWarning`.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.read_csv("tests/data/sleepstudy.csv")  # doctest: +SKIP
        >>> ml.compare({  # doctest: +SKIP
        ...     "slopes": ml.fit("Reaction ~ Days + (Days | Subject)", df, seed=1),
        ...     "intercepts": ml.fit("Reaction ~ Days + (1 | Subject)", df, seed=1),
        ... })
    """
    if not isinstance(fits, Mapping) or len(fits) < 2:
        raise ModelError("compare takes a dict of at least two fits: {'name': fit, ...}")
    for name, fit in fits.items():
        if not isinstance(fit, Fit):
            raise ModelError(f"compare: '{name}' is a {type(fit).__name__}, not a multilevel Fit")
    _check_same_rows(fits)
    az = arviz()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's terse notes: explained below
        loos = {name: fit.loo(pointwise=True) for name, fit in fits.items()}
        table = az.compare(loos, ic="loo", method=method)
    bad = {name: np.flatnonzero(loo.pareto_k.values > loo.good_k) for name, loo in loos.items()}
    table["pareto_k_bad"] = pd.Series({name: len(rows) for name, rows in bad.items()})
    _warn_pareto_k(bad, loos)
    return table


def _check_same_rows(fits: Mapping[str, Fit]) -> None:
    """LOO compares predictions of the same observations: same response, same rows."""
    (first, reference), *rest = fits.items()
    y = np.asarray(reference.idata.observed_data[reference.response_name])
    for name, fit in rest:
        other = np.asarray(fit.idata.observed_data[fit.response_name])
        if other.shape != y.shape or not np.allclose(other, y, equal_nan=True):
            raise ModelError(
                f"compare: '{first}' and '{name}' were fitted to different data "
                f"({y.size} vs {other.size} rows of '{reference.response_name}' vs "
                f"'{fit.response_name}'); LOO compares models of the same observations. "
                "For responses on different scales, transform the log-likelihoods to one "
                "scale first (see examples/ratings_2x2/likelihoods.py)"
            )


def _warn_pareto_k(bad: dict[str, np.ndarray], loos: dict) -> None:
    flagged = {name: rows for name, rows in bad.items() if rows.size}
    if not flagged:
        return
    parts = []
    for name, rows in flagged.items():
        shown = ", ".join(str(r) for r in rows[:8]) + (", ..." if rows.size > 8 else "")
        parts.append(
            f"'{name}': {rows.size} row(s) with Pareto k > {loos[name].good_k:.2f} (rows {shown})"
        )
    warnings.warn(
        "; ".join(parts) + ". Leaving out one of these rows changes the posterior so much that "
        "PSIS-LOO's estimate of its predictive density is unreliable (usually an "
        "influential row: an outlier, or the only row of a group with its own effect). "
        "The comparison may be off for those rows: look at them, refit without them "
        "(exact LOO) or use K-fold cross-validation before trusting a close result.",
        SamplingWarning,
        stacklevel=2,
    )
