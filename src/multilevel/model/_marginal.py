"""The Gaussian log-likelihood with the group effects integrated out, from group statistics.

Within level j, `y_j ~ N(X_j b, Z_j Lam Lam' Z_j' + D_j)` where `Lam` is the Cholesky factor
of the group effects' covariance (`diag(sd) L`) and `D_j` the diagonal residual variances.
Written in lme4's scaled form, with `M_j = I + Lam' Z_j' D_j^-1 Z_j Lam` and
`u_j = Lam' Z_j' D_j^-1 (y_j - X_j b)`:

    log|V_j| = log|M_j| + log|D_j|
    (y_j - X_j b)' V_j^-1 (y_j - X_j b) = e_j' D_j^-1 e_j - u_j' M_j^-1 u_j

No inverse of the covariance appears, so it stays exact as an sd goes to 0 (M_j -> I), and
a level of one row is no special case. The group effects given everything else are
`r_j = Lam v_j`, `v_j ~ N(M_j^-1 u_j, M_j^-1)`, drawn exactly after sampling.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular

from ..design._stats import GroupStats

LOG_2PI = math.log(2 * math.pi)


def _weighted(stats: GroupStats, beta: jax.Array, sigma: jax.Array):
    """Per level: Z'D^-1Z, Z'D^-1 e, e'D^-1 e, log|D| and the row count."""
    w = 1.0 / sigma**2
    zdz = jnp.einsum("s,jsab->jab", w, stats.zz)
    zde = jnp.einsum("s,jsa->ja", w, stats.zy - stats.zx @ beta)
    ede = (stats.yy - 2 * stats.xy @ beta + jnp.einsum("jsab,a,b->js", stats.xx, beta, beta)) @ w
    log_d = stats.n @ jnp.log(sigma**2)
    return zdz, zde, ede, log_d, jnp.sum(stats.n, axis=1)


def marginal_log_likelihood(
    beta: jax.Array, sigma: jax.Array, lam: jax.Array, stats: GroupStats
) -> jax.Array:
    """log p(y | b, sigma, Lam) with the group effects integrated out.

    `beta` (p,) multiplies the columns the statistics were built from, `sigma` (S,) holds one
    residual sd per sigma level, `lam` (K, K) is the lower Cholesky factor of the group
    effects' covariance. The last level of `stats` holds rows without a group effect.
    """
    zdz, zde, ede, log_d, n = _weighted(stats, beta, sigma)
    k = lam.shape[0]
    m = jnp.eye(k) + lam.T @ zdz[:-1] @ lam
    u = zde[:-1] @ lam
    chol = jnp.linalg.cholesky(m)
    half = solve_triangular(chol, u[..., None], lower=True)[..., 0]
    log_det_m = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    grouped = jnp.sum(log_det_m + log_d[:-1] + ede[:-1] - jnp.sum(half**2, axis=-1))
    ungrouped = log_d[-1] + ede[-1]
    return -0.5 * (jnp.sum(n) * LOG_2PI + grouped + ungrouped)


def draw_group_effects(
    key: jax.Array, beta: jax.Array, sigma: jax.Array, lam: jax.Array, stats: GroupStats
) -> jax.Array:
    """One exact draw of r (levels x K) from its Gaussian conditional."""
    zdz, zde, _, _, _ = _weighted(stats, beta, sigma)
    k = lam.shape[0]
    m = jnp.eye(k) + lam.T @ zdz[:-1] @ lam
    u = zde[:-1] @ lam
    chol = jnp.linalg.cholesky(m)
    mean = cho_solve((chol, True), u[..., None])[..., 0]
    noise = jax.random.normal(key, mean.shape)
    v = mean + solve_triangular(jnp.swapaxes(chol, -1, -2), noise[..., None], lower=False)[..., 0]
    return v @ lam.T
