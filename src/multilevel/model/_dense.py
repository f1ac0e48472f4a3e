"""The marginal Gaussian log-likelihood for crossed factors, over all effects at once.

Crossed factors (`(1 | subject) + (1 | item)`) do not make the covariance of y
block-diagonal, so the effects are integrated out jointly: with Q effects in all,
`A = Z' D^-1 Z` (Q x Q), `M = I + Lam' A Lam` and `t = Lam' Z' D^-1 (y - X b)`, where `Lam`
is block-diagonal with each factor's Cholesky factor repeated over its levels; then as in
`_marginal`, `log|V| = log|M| + log|D|` and the quadratic form loses `t' M^-1 t`. One
Cholesky factorisation of M costs O(Q^3), so this route is for models with few levels in all
(see `MAX_DENSE_EFFECTS` in `_engine` for where it stops paying off).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from ..design._stats import DenseStats
from ._marginal import gaussian_total


def dense_log_likelihood(
    beta: jax.Array,
    sigma: jax.Array,
    lams: Sequence[jax.Array],
    stats: DenseStats,
    n_levels: Sequence[int],
) -> jax.Array:
    """log p(y | b, sigma, Lam) with every factor's effects integrated out jointly.

    `lams[f]` is factor f's lower Cholesky factor (K_f x K_f), `n_levels[f]` its levels.
    """
    chol, t = _factor(beta, sigma, lams, stats, n_levels)
    h = solve_triangular(chol, t, lower=True)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    return gaussian_total(stats, beta, sigma, log_det - jnp.sum(h**2))


def draw_dense_effects(
    key: jax.Array,
    beta: jax.Array,
    sigma: jax.Array,
    lams: Sequence[jax.Array],
    stats: DenseStats,
    n_levels: Sequence[int],
) -> list[jax.Array]:
    """One exact joint draw of every factor's effects, (levels x its columns) each."""
    chol, t = _factor(beta, sigma, lams, stats, n_levels)
    h = solve_triangular(chol, t, lower=True) + jax.random.normal(key, t.shape)
    v = solve_triangular(chol.T, h, lower=False)
    return [b @ lam.T for b, lam in zip(_blocks(v, lams, n_levels), lams, strict=True)]


def _factor(beta, sigma, lams, stats: DenseStats, n_levels):
    """The Cholesky factor of M and t."""
    w = 1.0 / sigma**2
    a = jnp.tensordot(w, stats.zz, axes=1)
    e = jnp.tensordot(w, stats.zy - stats.zx @ beta, axes=1)
    a_lam = _times_lam(a, lams, n_levels)  # A Lam
    m = jnp.eye(a.shape[0]) + _times_lam(a_lam.T, lams, n_levels)  # (A Lam)' Lam = Lam' A Lam
    t = _times_lam(e[None, :], lams, n_levels)[0]
    return jnp.linalg.cholesky(m), t


def _times_lam(a: jax.Array, lams, n_levels) -> jax.Array:
    """a Lam for a (rows x Q): each factor's columns, level by level, times its Lam."""
    parts = []
    for block, lam in zip(_blocks(a, lams, n_levels), lams, strict=True):
        parts.append((block @ lam).reshape(a.shape[0], -1))
    return jnp.concatenate(parts, axis=-1)


def _blocks(a: jax.Array, lams, n_levels) -> list[jax.Array]:
    """The last axis of a split by factor, each (..., levels, K)."""
    out, start = [], 0
    for lam, size in zip(lams, n_levels, strict=True):
        k = lam.shape[0]
        out.append(a[..., start : start + size * k].reshape(*a.shape[:-1], size, k))
        start += size * k
    return out
