"""The marginal Gaussian log-likelihood equals a dense multivariate-normal density computed
directly, and its group-effect draws have the exact conditional moments."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

from multilevel.design._stats import factor_tree, group_stats
from multilevel.model._marginal import draw_group_effects, marginal_log_likelihood


def _problem(seed: int, n_levels=7, k=2, p=3, n_sigma=2, tiny_sd=False):
    rng = np.random.default_rng(seed)
    n = 60
    level = rng.integers(0, n_levels + 1, n)  # n_levels marks rows without a group effect
    level[:n_levels] = np.arange(n_levels)  # every level has a row; one level may have one row
    x = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))]) if p else np.zeros((n, 0))
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


def _stats(y, x, z, level, n_levels, sigma_level, n_sigma):
    paths = np.where(level < n_levels, level, -1)[:, None]
    return group_stats(y, x, z, factor_tree(paths, (n_levels,)), sigma_level, n_sigma)


def _dense_log_likelihood(y, x, z, level, sigma_level, beta, sigma, cov, n_levels):
    # V = Z_blockdiag Omega Z_blockdiag' + D, built row by row: rows i, j share an effect when
    # they are in the same level (< n_levels).
    same = (level[:, None] == level[None, :]) & (level[:, None] < n_levels)
    v = np.where(same, z @ cov @ z.T, 0.0) + np.diag(sigma[sigma_level] ** 2)
    return sps.multivariate_normal(x @ beta, v).logpdf(y)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("p", [3, 0])
def test_equals_dense_multivariate_normal(seed, k, p):
    # p = 0: a mean without fixed terms, `y ~ 0 + (1 | g)`.
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(seed, k=k, p=p)
    st = _stats(y, x, z, level, j, sl, s)
    got = marginal_log_likelihood(beta, sigma, jnp.linalg.cholesky(cov), st)
    want = _dense_log_likelihood(y, x, z, level, sl, beta, sigma, cov, j)
    # Both are exact float64 computations of the same number (~ -150): 1e-8 absolute leaves
    # room only for rounding.
    assert float(got) == pytest.approx(want, abs=1e-8)


def test_exact_as_an_sd_goes_to_zero():
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(3, tiny_sd=True)
    st = _stats(y, x, z, level, j, sl, s)
    got = marginal_log_likelihood(beta, sigma, jnp.linalg.cholesky(cov), st)
    want = _dense_log_likelihood(y, x, z, level, sl, beta, sigma, cov, j)
    assert float(got) == pytest.approx(want, abs=1e-8)
    zero = np.zeros_like(cov)
    at_zero = marginal_log_likelihood(beta, sigma, jnp.asarray(zero), st)
    plain = sps.norm(x @ beta, sigma[sl]).logpdf(y).sum()  # no group effects at all
    assert float(at_zero) == pytest.approx(plain, abs=1e-8)


def test_group_effect_draws_have_the_conditional_moments():
    y, x, z, level, sl, beta, sigma, cov, j, s = _problem(4, k=2)
    st = _stats(y, x, z, level, j, sl, s)
    lam = jnp.linalg.cholesky(cov)
    keys = jax.random.split(jax.random.key(0), 20000)
    draws = jax.vmap(lambda key: draw_group_effects(key, beta, sigma, lam, st)[0])(keys)
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


def _nested_problem(seed: int, n_levels=(3, 8, 14), ks=(2, 1, 2), n=90, n_sigma=2):
    """Rows in a tree of nested factors (outermost first), with rows that lack an inner level
    (pseudo-nodes) or every level (no group effect at all)."""
    rng = np.random.default_rng(seed)
    parents = [np.zeros(n_levels[0], int)] + [
        rng.integers(0, n_levels[f - 1], n_levels[f]) for f in range(1, len(n_levels))
    ]
    for f in range(1, len(n_levels)):
        parents[f][: n_levels[f - 1]] = np.arange(n_levels[f - 1])  # every parent has a child
    paths = np.full((n, len(n_levels)), -1)
    inner = rng.integers(0, n_levels[-1], n)
    inner[: n_levels[-1]] = np.arange(n_levels[-1])  # every level has a row
    paths[:, -1] = inner
    for f in reversed(range(len(n_levels) - 1)):
        paths[:, f] = parents[f + 1][paths[:, f + 1]]
    cut = rng.integers(0, len(n_levels) + 1, n)  # row keeps its first `cut` levels only
    cut[: n_levels[-1]] = len(n_levels)
    for f in range(len(n_levels)):
        paths[cut <= f, f] = -1
    zs = []
    for f, k in enumerate(ks):
        zf = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])[:, :k]
        zf[paths[:, f] < 0] = 0.0
        zs.append(zf)
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    covs = []
    for k in ks:
        a = rng.normal(size=(k, k))
        covs.append(a @ a.T + 0.1 * np.eye(k))
    sigma_level = rng.integers(0, n_sigma, n)
    sigma = rng.uniform(0.5, 2.0, n_sigma)
    y = rng.normal(size=n) * 3
    beta = rng.normal(size=2)
    return Nested(paths, zs, x, y, beta, sigma, sigma_level, covs, n_levels)


class Nested(NamedTuple):
    paths: np.ndarray
    zs: list
    x: np.ndarray
    y: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    sigma_level: np.ndarray
    covs: list
    n_levels: tuple


def _nested_dense(paths, zs, x, y, beta, sigma, sigma_level, covs, n_levels):
    """The full Z (rows x every level's effects), block-diagonal Omega and D, directly."""
    blocks_z, blocks_cov = [], []
    for f, (zf, cov) in enumerate(zip(zs, covs, strict=True)):
        k = zf.shape[1]
        full = np.zeros((len(y), n_levels[f] * k))
        for i, level in enumerate(paths[:, f]):
            if level >= 0:
                full[i, level * k : (level + 1) * k] = zf[i]
        blocks_z.append(full)
        blocks_cov += [cov] * n_levels[f]
    z = np.hstack(blocks_z)
    omega = np.zeros((z.shape[1], z.shape[1]))
    start = 0
    for c in blocks_cov:
        omega[start : start + len(c), start : start + len(c)] = c
        start += len(c)
    d = sigma[sigma_level] ** 2
    return z, omega, d


def _nested_marginal(p: Nested):
    tree = factor_tree(p.paths, p.n_levels)
    st = group_stats(p.y, p.x, np.hstack(p.zs), tree, p.sigma_level, len(p.sigma))
    lam = jax.scipy.linalg.block_diag(*(np.linalg.cholesky(c) for c in p.covs))
    columns = tuple(z.shape[1] for z in p.zs)
    return st, lam, columns


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [((3, 8), (1, 1)), ((3, 8), (2, 2)), ((3, 8, 14), (2, 1, 2))])
def test_nested_factors_equal_dense_multivariate_normal(seed, shape):
    p = _nested_problem(seed, *shape)
    st, lam, columns = _nested_marginal(p)
    got = marginal_log_likelihood(p.beta, p.sigma, lam, st, columns)
    z, omega, d = _nested_dense(*p)
    want = sps.multivariate_normal(p.x @ p.beta, z @ omega @ z.T + np.diag(d)).logpdf(p.y)
    # Exact float64 computations of the same number (~ -250): 1e-8 leaves room for rounding.
    assert float(got) == pytest.approx(want, abs=1e-8)


def test_nested_group_effect_draws_have_the_conditional_moments():
    p = _nested_problem(5, (3, 8), (2, 1))
    st, lam, columns = _nested_marginal(p)
    keys = jax.random.split(jax.random.key(1), 20000)
    draws = jax.vmap(lambda key: draw_group_effects(key, p.beta, p.sigma, lam, st, columns))(keys)
    sample = np.hstack([np.asarray(r).reshape(len(keys), -1) for r in draws])
    # Every level's effects jointly: r | y ~ N(P^-1 Z'D^-1 e, P^-1), P = Omega^-1 + Z'D^-1 Z.
    z, omega, d = _nested_dense(*p)
    precision = np.linalg.inv(omega) + z.T @ (z / d[:, None])
    mean = np.linalg.solve(precision, z.T @ ((p.y - p.x @ p.beta) / d))
    cov = np.linalg.inv(precision)
    # 20000 draws: each sample mean is off by ~sd/141; 5 of those is a one-in-a-million miss
    # per element (14 elements).
    assert np.all(np.abs(sample.mean(0) - mean) < 5 * np.sqrt(np.diag(cov)) / 141)
    np.testing.assert_allclose(sample.var(0), np.diag(cov), rtol=0.05)  # ~0.01 relative sd
    # The outer and inner effects are correlated a posteriori; the draws must carry that.
    np.testing.assert_allclose(np.cov(sample.T), cov, atol=0.05 * np.max(np.diag(cov)))
