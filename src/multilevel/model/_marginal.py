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
from jax.scipy.linalg import solve_triangular

from ..design._stats import GroupStats

LOG_2PI = math.log(2 * math.pi)


def _residual_terms(stats: GroupStats, beta: jax.Array, sigma: jax.Array) -> jax.Array:
    """log|D| + e'D^-1 e over all rows, from the per-sigma-level totals."""
    w = 1.0 / sigma**2
    bxxb = jnp.sum(stats.xx * beta[:, None] * beta, axis=(-2, -1))
    ede = jnp.sum((stats.yy - 2 * jnp.sum(stats.xy * beta, axis=-1) + bxxb) * w)
    return ede + jnp.sum(stats.n * jnp.log(sigma**2))


def _scaled(stats: GroupStats, beta: jax.Array, sigma: jax.Array, lam: jax.Array):
    """Per level: the factor of M = I + Lam'Z'D^-1ZLam and u = Lam'Z'D^-1 e.

    Broadcast products and sums: with K and p this small, XLA compiles and runs them faster
    on a CPU than batched dot products.
    """
    w = 1.0 / sigma**2
    zdz = jnp.sum(stats.zz * w[:, None, None], axis=1)
    zde = jnp.sum((stats.zy - jnp.sum(stats.zx * beta, axis=-1)) * w[:, None], axis=1)
    if lam.shape[0] == 2:
        return _scaled_2x2(zdz, zde, lam)
    zl = jnp.sum(zdz[:, :, :, None] * lam, axis=-2)  # Z'D^-1Z Lam, per level
    m = jnp.eye(lam.shape[0]) + jnp.sum(lam.T[:, :, None] * zl[:, None, :, :], axis=-2)
    u = jnp.sum(zde[:, :, None] * lam, axis=-2)  # Lam' Z'D^-1 e, per level
    return _Factor(m), u


def _scaled_2x2(zdz: jax.Array, zde: jax.Array, lam: jax.Array):
    """M = I + Lam' A Lam and u = Lam' e for K = 2 and lower-triangular Lam, written out."""
    a00, a01, a11 = zdz[:, 0, 0], zdz[:, 1, 0], zdz[:, 1, 1]
    l00, l10, l11 = lam[0, 0], lam[1, 0], lam[1, 1]
    m00 = 1 + a00 * l00**2 + 2 * a01 * l00 * l10 + a11 * l10**2
    m01 = l11 * (a01 * l00 + a11 * l10)
    m11 = 1 + a11 * l11**2
    m = jnp.stack([jnp.stack([m00, m01], -1), jnp.stack([m01, m11], -1)], -2)
    u = jnp.stack([l00 * zde[:, 0] + l10 * zde[:, 1], l11 * zde[:, 1]], -1)
    return _Factor(m), u


class _Factor:
    """A batch of small SPD matrices M_j (levels x K x K): log-determinants, quadratic forms
    and the triangular solves with their Cholesky factors C_j. K = 1 and 2 are written out
    elementwise: XLA's batched LAPACK on tiny matrices is several times slower on CPU."""

    def __init__(self, m: jax.Array):
        self.m, self.k = m, m.shape[-1]

    @property
    def c11(self) -> jax.Array:
        return jnp.sqrt(self.m[:, 0, 0])

    @property
    def c21(self) -> jax.Array:
        return self.m[:, 1, 0] / self.c11

    @property
    def c22(self) -> jax.Array:
        return jnp.sqrt(self.m[:, 1, 1] - self.c21**2)

    @property
    def chol(self) -> jax.Array:
        return jnp.linalg.cholesky(self.m)

    def log_det(self) -> jax.Array:
        if self.k == 1:
            return jnp.log(self.m[:, 0, 0])
        if self.k == 2:
            return jnp.log(self.m[:, 0, 0] * self.m[:, 1, 1] - self.m[:, 1, 0] ** 2)
        return 2 * jnp.sum(jnp.log(jnp.diagonal(self.chol, axis1=-2, axis2=-1)), axis=-1)

    def quadratic(self, u: jax.Array) -> jax.Array:
        """u' M^-1 u per level; for K <= 2 from M's entries directly (one division, no square
        roots: float64 sqrt and log are slow on XLA's CPU backend)."""
        if self.k == 1:
            return u[:, 0] ** 2 / self.m[:, 0, 0]
        if self.k == 2:
            m00, m01, m11 = self.m[:, 0, 0], self.m[:, 1, 0], self.m[:, 1, 1]
            u0, u1 = u[:, 0], u[:, 1]
            return (m11 * u0**2 - 2 * m01 * u0 * u1 + m00 * u1**2) / (m00 * m11 - m01**2)
        return jnp.sum(self.solve_lower(u) ** 2, axis=-1)

    def solve_lower(self, u: jax.Array) -> jax.Array:
        """C^-1 u for u (levels x K)."""
        if self.k == 1:
            return u / self.c11[:, None]
        if self.k == 2:
            h1 = u[:, 0] / self.c11
            return jnp.stack([h1, (u[:, 1] - self.c21 * h1) / self.c22], axis=1)
        return solve_triangular(self.chol, u[..., None], lower=True)[..., 0]

    def solve_upper(self, h: jax.Array) -> jax.Array:
        """C'^-1 h for h (levels x K)."""
        if self.k == 1:
            return h / self.c11[:, None]
        if self.k == 2:
            m2 = h[:, 1] / self.c22
            return jnp.stack([(h[:, 0] - self.c21 * m2) / self.c11, m2], axis=1)
        upper = jnp.swapaxes(self.chol, -1, -2)
        return solve_triangular(upper, h[..., None], lower=False)[..., 0]


def marginal_log_likelihood(
    beta: jax.Array, sigma: jax.Array, lam: jax.Array, stats: GroupStats
) -> jax.Array:
    """log p(y | b, sigma, Lam) with the group effects integrated out.

    `beta` (p,) multiplies the columns the statistics were built from, `sigma` (S,) holds one
    residual sd per sigma level, `lam` (K, K) is the lower Cholesky factor of the group
    effects' covariance.
    """
    factor, u = _scaled(stats, beta, sigma, lam)
    grouped = jnp.sum(factor.log_det()) - jnp.sum(factor.quadratic(u))
    return -0.5 * (jnp.sum(stats.n) * LOG_2PI + grouped + _residual_terms(stats, beta, sigma))


def draw_group_effects(
    key: jax.Array, beta: jax.Array, sigma: jax.Array, lam: jax.Array, stats: GroupStats
) -> jax.Array:
    """One exact draw of r (levels x K) from its Gaussian conditional."""
    factor, u = _scaled(stats, beta, sigma, lam)
    noise = jax.random.normal(key, u.shape)
    v = factor.solve_upper(factor.solve_lower(u) + noise)
    return v @ lam.T
