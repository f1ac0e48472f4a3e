"""Bernoulli and binomial models sampled on collapsed counts: the same log density, and a
log-likelihood per original row."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from multilevel.design import build_design
from multilevel.families import get_family
from multilevel.formula import parse_formula
from multilevel.model import compile_model, describe
from multilevel.model._logdensity import model_data


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame(
        {"x": rng.integers(0, 3, n).astype(float), "g": rng.integers(0, 8, n).astype(str)}
    )
    df["y"] = rng.binomial(1, special.expit(-0.5 + 0.7 * df["x"]))
    return df


def _model(df, formula="y ~ x + (1 | g)", family="bernoulli"):
    return compile_model(build_design(parse_formula(formula), df), get_family(family))


def test_identical_rows_are_sampled_as_counts(binary):
    model = _model(binary)
    assert model.collapsed.n_rows == len(binary.groupby(["x", "g"]))
    assert model.data["y"].shape == (model.collapsed.n_rows,)
    assert model.observed.shape == (len(binary),)


def test_collapsed_log_density_equals_the_row_by_row_one(binary):
    """Two routes to one number: the counts' binomial likelihood plus log_choose against the
    Bernoulli likelihood summed over all 300 rows."""
    model = _model(binary)
    rows = dataclasses.replace(
        model, collapsed=None, data=model_data(model.design, model.observed, model.blocks)
    )
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = jnp.asarray(rng.normal(size=model.dim))
        a = model.log_density()(theta, model.data)
        b = rows.log_density()(theta, rows.data)
        assert float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-9)


def test_pointwise_log_likelihood_is_per_original_row(binary):
    model = _model(binary)
    theta = jnp.asarray(np.random.default_rng(1).normal(size=model.dim))
    key = jax.random.key(0)
    values = model.pointwise_log_likelihood(theta, key, model.row_data())
    derived = model.derived(theta, key, model.data)
    r = np.asarray(derived["r_g"])[:, 0]
    levels = list(model.effects[0].levels)
    eta = (
        float(derived["b_Intercept"])
        + float(derived["b_x"]) * binary["x"].to_numpy()
        + r[[levels.index(g) for g in binary["g"]]]
    )
    expected = stats.bernoulli.logpmf(binary["y"], special.expit(eta))
    np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-10)


def test_rows_that_are_all_distinct_are_not_collapsed():
    df = pd.DataFrame({"y": [0, 1, 1, 0], "x": [0.1, 0.2, 0.3, 0.4]})
    assert _model(df, "y ~ x").collapsed is None


def test_describe_reports_the_distinct_rows(binary):
    model = _model(binary)
    assert (
        f"Data: 300 rows, {model.collapsed.n_rows} distinct (rows with identical predictors "
        "are summed into binomial counts for sampling)"
    ) in describe(model)
