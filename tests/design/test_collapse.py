"""collapse_rows: identical predictor rows summed into binomial counts, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.design import build_design, collapse_rows
from multilevel.formula import parse_formula


def test_rows_with_the_same_predictors_and_group_are_summed():
    df = pd.DataFrame(
        {
            "y": [1, 0, 1, 1, 0, 0, 1],
            "x": [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0],
            "g": list("aabbbba"),
        }
    )
    design = build_design(parse_formula("y ~ x + (1 | g)"), df)
    c = collapse_rows(design, df["y"].to_numpy(float), np.ones(7))
    # Distinct (x, g): (0, a) rows 0, 1, 6; (1, b) rows 2, 3, 5; (0, b) row 4.
    assert c.rows.tolist() == [0, 0, 1, 1, 2, 1, 0]
    assert c.successes.tolist() == [2.0, 2.0, 0.0]
    assert c.trials.tolist() == [3.0, 3.0, 1.0]
    assert c.design.n_rows == 3
    assert c.design.dpars["mu"].fixed.matrix[:, 0].tolist() == [0.0, 1.0, 0.0]
    assert c.design.groups[0].index.tolist() == [0, 1, 1]
    # The centring means stay those of the original rows (b_Intercept is unchanged).
    assert c.design.dpars["mu"].fixed.means == design.dpars["mu"].fixed.means


def test_log_choose_makes_the_collapsed_likelihood_exact():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.integers(0, 3, 40).astype(float)})
    df["n"] = rng.integers(1, 6, 40)
    df["y"] = rng.binomial(df["n"], 0.4)
    design = build_design(parse_formula("y | trials(n) ~ x"), df)
    c = collapse_rows(design, df["y"].to_numpy(float), df["n"].to_numpy(float))
    assert c.n_rows == 3
    p = np.array([0.2, 0.5, 0.7])[df["x"].astype(int)]
    rows = stats.binom.logpmf(df["y"], df["n"], p).sum()
    p_distinct = p[[np.flatnonzero(c.rows == r)[0] for r in range(c.n_rows)]]
    kernel = c.successes * np.log(p_distinct) + (c.trials - c.successes) * np.log1p(-p_distinct)
    assert abs(kernel.sum() + c.log_choose - rows) < 1e-9  # sums of ~40 terms of order 1


def test_group_term_columns_are_part_of_a_row():
    # Same x and g but different slope column value z: different rows.
    df = pd.DataFrame({"y": [1, 0, 1, 0], "z": [0.0, 1.0, 0.0, 1.0], "g": list("aabb")})
    design = build_design(parse_formula("y ~ 1 + (z | g)"), df)
    c = collapse_rows(design, df["y"].to_numpy(float), np.ones(4))
    assert c.n_rows == 4
