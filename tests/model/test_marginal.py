"""The marginal Gaussian log-likelihood equals a dense multivariate-normal density computed
directly, and its group-effect draws have the exact conditional moments."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

from multilevel.design._stats import group_stats
from multilevel.model._marginal import draw_group_effects, marginal_log_likelihood


def _problem(seed: int, n_levels=7, k=2, p=3, n_sigma=2, tiny_sd=False):
    rng = np.random.default_rng(seed)
    n = 60
    level = rng.integers(0, n_levels + 1, n)  # n_levels marks rows without a group effect
    level[:n_levels] = np.arange(n_levels)  # every level has a row; one level may have one row
    x = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    z = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])[:, :k]
    z[level == n_levels] = 0.0
    sigma_level = rng.integers(0, n_sigma, n)
    y = rng.normal(size=n) * 3
    beta = rng.normal(size=p)
    sigma = rng.uniform(0.5, 2.0, n_sigma)
    a = rng.normal(size=(k, k))
    cov = a @ a.T + 0.1 * np.eye(k)
    if tiny_sd:
        scale = np.ones(k)
        scale[0] = 1e-6
        cov = cov * np.outer(scale, scale)
    return y, x, z, level, sigma_level, beta, sigma, cov, n_levels, n_sigma


def _dense_log_likelihood(y, x, z, level, sigma_level, beta, sigma, cov, n_levels):
    # V = Z_blockdiag Omega Z_blockdiag' + D, built row by row: rows i, j share an effect when
    # they are in the same level (< n_levels).
    same = (level[:, None] == level[None, :]) & (level[:, None] < n_levels)
    v = np.where(same, z @ cov @ z.T, 0.0) + np.diag(sigma[sigma_level] ** 2)
    return sps.multivariate_normal(x @ beta, v).logpdf(y)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_equals_dense_multivariate_normal(seed, k):
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(seed, k=k)
    st = group_stats(y, x, z, level, j, sl, s)
    got = marginal_log_likelihood(beta, sigma, jnp.linalg.cholesky(cov), st)
    want = _dense_log_likelihood(y, x, z, level, sl, beta, sigma, cov, j)
    # Both are exact float64 computations of the same number (~ -150): 1e-8 absolute leaves
    # room only for rounding.
    assert float(got) == pytest.approx(want, abs=1e-8)


def test_exact_as_an_sd_goes_to_zero():
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(3, tiny_sd=True)
    st = group_stats(y, x, z, level, j, sl, s)
    got = marginal_log_likelihood(beta, sigma, jnp.linalg.cholesky(cov), st)
    want = _dense_log_likelihood(y, x, z, level, sl, beta, sigma, cov, j)
    assert float(got) == pytest.approx(want, abs=1e-8)
    zero = np.zeros_like(cov)
    at_zero = marginal_log_likelihood(beta, sigma, jnp.asarray(zero), st)
    plain = sps.norm(x @ beta, sigma[sl]).logpdf(y).sum()  # no group effects at all
    assert float(at_zero) == pytest.approx(plain, abs=1e-8)


def test_group_effect_draws_have_the_conditional_moments():
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(4, k=2)
    st = group_stats(y, x, z, level, j, sl, s)
    lam = jnp.linalg.cholesky(cov)
    keys = jax.random.split(jax.random.key(0), 20000)
    draws = jax.vmap(lambda key: draw_group_effects(key, beta, sigma, lam, st))(keys)
    # Level 0 directly: r | y ~ N(P^-1 Z'D^-1 e, P^-1) with P = Omega^-1 + Z'D^-1 Z.
    rows = level == 0
    d_inv = 1 / sigma[sl[rows]] ** 2
    zr = z[rows]
    precision = np.linalg.inv(cov) + zr.T @ (d_inv[:, None] * zr)
    mean = np.linalg.solve(precision, zr.T @ (d_inv * (y[rows] - x[rows] @ beta)))
    var = np.diag(np.linalg.inv(precision))
    sample = np.asarray(draws[:, 0])
    # 20000 draws: the sample mean is off by ~sd/141; 5 of those is a one-in-a-million miss.
    assert np.all(np.abs(sample.mean(0) - mean) < 5 * np.sqrt(var) / 141)
    np.testing.assert_allclose(sample.var(0), var, rtol=0.05)  # ~0.01 relative sd, 5x
