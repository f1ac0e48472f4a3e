"""The joint marginal likelihood of crossed factors equals a dense multivariate-normal
density computed directly, and its joint effect draws have the exact conditional moments."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats as sps

from multilevel.design._stats import dense_stats
from multilevel.model._dense import dense_log_likelihood, draw_dense_effects


def _crossed(seed: int, n_levels=(6, 9), ks=(1, 2), n=80, n_sigma=2):
    """Rows with a level of each crossed factor, some with none of one or all of them."""
    rng = np.random.default_rng(seed)
    levels = [rng.integers(-1, size, n) for size in n_levels]  # -1: no level
    for f, size in enumerate(n_levels):
        levels[f][:size] = np.arange(size)  # every level has a row
    zs = []
    for f, k in enumerate(ks):
        zf = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])[:, :k]
        zf[levels[f] < 0] = 0.0
        zs.append(zf)
    covs = []
    for k in ks:
        a = rng.normal(size=(k, k))
        covs.append(a @ a.T + 0.1 * np.eye(k))
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    sigma_level = rng.integers(0, n_sigma, n)
    sigma = rng.uniform(0.5, 2.0, n_sigma)
    y = rng.normal(size=n) * 3
    stats = dense_stats(y, x, zs, levels, n_levels, sigma_level, n_sigma)
    return y, x, zs, levels, n_levels, covs, sigma, sigma_level, rng.normal(size=2), stats


def _reference(y, x, zs, levels, n_levels, covs, sigma, sigma_level):
    """Full Z (rows x all effects, level-major per factor), block-diagonal Omega, D."""
    blocks, omega_blocks = [], []
    for zf, level, size, cov in zip(zs, levels, n_levels, covs, strict=True):
        k = zf.shape[1]
        full = np.zeros((len(y), size * k))
        for i, lv in enumerate(level):
            if lv >= 0:
                full[i, lv * k : (lv + 1) * k] = zf[i]
        blocks.append(full)
        omega_blocks += [cov] * size
    z = np.hstack(blocks)
    omega = np.zeros((z.shape[1],) * 2)
    start = 0
    for c in omega_blocks:
        omega[start : start + len(c), start : start + len(c)] = c
        start += len(c)
    return z, omega, sigma[sigma_level] ** 2


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ks", [(1, 1), (1, 2), (2, 2, 1)])
def test_equals_dense_multivariate_normal(seed, ks):
    n_levels = (6, 9, 4)[: len(ks)]
    y, x, zs, levels, n_levels, covs, sigma, sl, beta, st = _crossed(seed, n_levels, ks)
    lams = [np.linalg.cholesky(c) for c in covs]
    got = dense_log_likelihood(beta, sigma, lams, st, n_levels)
    z, omega, d = _reference(y, x, zs, levels, n_levels, covs, sigma, sl)
    want = sps.multivariate_normal(x @ beta, z @ omega @ z.T + np.diag(d)).logpdf(y)
    # Exact float64 computations of the same number (~ -250): 1e-8 leaves room for rounding.
    assert float(got) == pytest.approx(want, abs=1e-8)


def test_exact_as_an_sd_goes_to_zero():
    y, x, zs, levels, n_levels, covs, sigma, sl, beta, st = _crossed(3)
    lams = [np.zeros((1, 1)), np.linalg.cholesky(covs[1])]  # the first factor's sd is 0
    got = dense_log_likelihood(beta, sigma, lams, st, n_levels)
    z, omega, d = _reference(y, x, zs, levels, n_levels, [np.zeros((1, 1)), covs[1]], sigma, sl)
    want = sps.multivariate_normal(x @ beta, z @ omega @ z.T + np.diag(d)).logpdf(y)
    assert float(got) == pytest.approx(want, abs=1e-8)


def test_joint_draws_have_the_conditional_moments():
    y, x, zs, levels, n_levels, covs, sigma, sl, beta, st = _crossed(4)
    lams = [np.linalg.cholesky(c) for c in covs]
    keys = jax.random.split(jax.random.key(0), 20000)
    draws = jax.vmap(lambda k: draw_dense_effects(k, beta, sigma, lams, st, n_levels))(keys)
    sample = np.hstack([np.asarray(r).reshape(len(keys), -1) for r in draws])
    z, omega, d = _reference(y, x, zs, levels, n_levels, covs, sigma, sl)
    precision = np.linalg.inv(omega) + z.T @ (z / d[:, None])
    mean = np.linalg.solve(precision, z.T @ ((y - x @ beta) / d))
    cov = np.linalg.inv(precision)
    # 20000 draws: each sample mean is off by ~sd/141; 5 of those is a one-in-a-million miss.
    assert np.all(np.abs(sample.mean(0) - mean) < 5 * np.sqrt(np.diag(cov)) / 141)
    # Crossed effects are correlated a posteriori; the draws must carry the whole covariance
    # (sample covariances of 20000 draws: ~1% of the variances, 5% leaves a wide margin).
    np.testing.assert_allclose(np.cov(sample.T), cov, atol=0.05 * np.max(np.diag(cov)))
