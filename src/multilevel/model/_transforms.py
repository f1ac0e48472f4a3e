"""Small transforms to constrained space, written for a compact XLA program.

numpyro's CorrCholeskyTransform and LKJCholesky are general and large once traced; their
closed forms for a Cholesky factor are a few lines. `tests/model/test_transforms.py`
checks both against numpyro.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special


def corr_cholesky(u: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """Cholesky factor of a k x k correlation matrix from k(k-1)/2 reals, and log|Jacobian|.

    Stan's construction: canonical partial correlations z = tanh(u) fill the strict lower
    triangle row by row; `L[i, j] = z[i, j] * sqrt(1 - sum_{m<j} L[i, m]^2)`, where
    `1 - sum_{m<j} L[i, m]^2 = prod_{m<j} (1 - z[i, m]^2)`. Everything is formed in log space,
    with `log(1 - tanh(u)^2) = 2 (log 2 - |u| - softplus(-2|u|))`, so that it stays finite
    far in the tails.
    """
    rows, cols = np.tril_indices(k, -1)
    z = jnp.zeros((k, k)).at[rows, cols].set(jnp.tanh(u))
    a = jnp.abs(u)
    log1m = jnp.zeros((k, k)).at[rows, cols].set(2 * (LOG_2 - a - jax.nn.softplus(-2 * a)))
    log_remaining = jnp.cumsum(log1m, axis=1) - log1m
    diagonal = jnp.exp(0.5 * jnp.sum(log1m, axis=1))
    L = jnp.where(np.eye(k, dtype=bool), diagonal[:, None], z * jnp.exp(0.5 * log_remaining))
    L = jnp.where(np.tri(k, k, 0, dtype=bool), L, 0.0)
    log_jac = jnp.sum(log1m) + 0.5 * jnp.sum(log_remaining[rows, cols])
    return L, log_jac


def lkj_cholesky_log_density(L: jax.Array, eta: float) -> jax.Array:
    """LKJ(eta) on the correlation matrix, as a density of its Cholesky factor (Stan's form):
    `sum_{i>=2} (K - i + 2 eta - 2) log L_ii + const` (1-based i)."""
    k = L.shape[0]
    exponents = np.array([k - i + 2 * eta - 2 for i in range(1, k + 1)])
    return jnp.sum(exponents[1:] * jnp.log(jnp.diagonal(L)[1:])) + _lkj_constant(k, eta)


def _lkj_constant(k: int, eta: float) -> float:
    """log normalising constant of LKJ(eta) in dimension k (Lewandowski et al. 2009, p. 1999),
    as numpyro's LKJCholesky computes it."""
    dm1 = k - 1
    alpha = eta + 0.5 * dm1
    numerator = special.multigammaln(alpha - 0.5, dm1)
    denominator = special.gammaln(alpha) * dm1
    return -(0.5 * dm1 * math.log(math.pi) + numerator - denominator)


def log_sigmoid_jacobian(u: jax.Array, width: np.ndarray) -> jax.Array:
    return jnp.sum(np.log(width) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u))


LOG_2PI = math.log(2 * math.pi)
LOG_2 = math.log(2)
