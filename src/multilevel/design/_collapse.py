"""Identical rows of a binary or binomial model, collapsed into binomial counts.

Rows with the same predictors (fixed columns, group levels and group-term columns of every
distributional parameter) share one success probability, and a sum of binomials with one
probability is binomial in the summed counts: `sum_i k_i log p + (n_i - k_i) log(1 - p)`
is `K log p + (N - K) log(1 - p)`. So the likelihood costs one evaluation per distinct row
instead of one per row, as glmmTMB's `collect` does. The binomial coefficients of the rows,
`log_choose`, are a constant: added once, they keep the log density exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import gammaln

from ._design import Design, DparDesign


@dataclass(frozen=True)
class Collapsed:
    """The design over distinct rows, whose response and trials are the summed counts.

    `rows[i]` is the distinct row of original row i, whose own counts are `row_successes`
    and `row_trials`. `log_choose` is `sum_i log C(n_i, k_i)`: the original rows'
    log-likelihood is `sum_r K_r log p_r + (N_r - K_r) log(1 - p_r) + log_choose`.
    """

    design: Design
    rows: np.ndarray
    log_choose: float
    row_successes: np.ndarray
    row_trials: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.design.n_rows

    @property
    def successes(self) -> np.ndarray:
        return self.design.response.to_numpy()

    @property
    def trials(self) -> np.ndarray:
        return self.design.additions["trials"].to_numpy()


def collapse_rows(design: Design, successes: np.ndarray, trials: np.ndarray) -> Collapsed:
    """Collapse rows whose predictors are identical (Bernoulli rows: `trials` all 1).

    Example:
        >>> from multilevel.formula import parse_formula
        >>> from multilevel.design import build_design
        >>> df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 1], "x": [0, 0, 0, 1, 1, 1]})
        >>> c = collapse_rows(build_design(parse_formula("y ~ x"), df), df.y.to_numpy(), np.ones(6))
        >>> c.successes.tolist(), c.trials.tolist(), c.rows.tolist()
        ([2.0, 2.0], [3.0, 3.0], [0, 0, 0, 1, 1, 1])
    """
    first, rows = _distinct(design)
    k = np.bincount(rows, weights=successes).astype(float)
    n = np.bincount(rows, weights=trials).astype(float)
    log_choose = float(np.sum(_log_choose(trials, successes)))
    dpars = {
        name: DparDesign(
            name,
            replace(d.fixed, matrix=d.fixed.matrix[first]),
            tuple(replace(g, z=g.z[first], index=g.index[first]) for g in d.groups),
        )
        for name, d in design.dpars.items()
    }
    collapsed = replace(
        design,
        response=pd.Series(k, name=design.response_name),
        dpars=dpars,
        n_rows=len(first),
        frame=design.frame.iloc[first].reset_index(drop=True),
        additions={"trials": pd.Series(n, name="trials")},
    )
    return Collapsed(collapsed, rows, log_choose, successes, trials)


def _distinct(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct predictor row, and each row's distinct row."""
    parts = []
    for d in design.dpars.values():
        parts.append(d.fixed.matrix)
        for g in d.groups:
            parts += [g.index[:, None].astype(float), g.z]
    key = np.column_stack(parts) if parts else np.zeros((design.n_rows, 0))
    _, first, rows = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # distinct rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[rows.ravel()]


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
