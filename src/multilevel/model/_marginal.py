"""The Gaussian log-likelihood with the group effects integrated out, from cell statistics.

One factor: within level j, `y_j ~ N(X_j b, Z_j Lam Lam' Z_j' + D_j)` where `Lam` is the
Cholesky factor of the group effects' covariance and `D_j` the diagonal residual variances.
Written in lme4's scaled form, with `A_j = Z_j' D_j^-1 Z_j`, `e_j = Z_j' D_j^-1 (y_j - X_j b)`,
`M_j = I + Lam' A_j Lam` and `t_j = Lam' e_j`:

    log|V_j| = log|M_j| + log|D_j|
    (y_j - X_j b)' V_j^-1 (y_j - X_j b) = r_j' D_j^-1 r_j - t_j' M_j^-1 t_j

Nested factors are integrated out innermost first. For a node c of factor f, with the
columns of the factors outside it `o` and its own `b`, `M_c = I + Lam_b' A_bb Lam_b`,
`t_c = Lam_b' e_b` and `G_c = Lam_b' A_bo`; integrating its effects leaves the same Gaussian
form in the outer effects, with `A_oo - G' M^-1 G` and `e_o - G' M^-1 t` summed into its
parent and `log|M_c| - t_c' M_c^-1 t_c` added to the total.

No inverse of a covariance appears, so the likelihood stays exact as an sd goes to 0 (M -> I)
and a node of one row is no special case. Every M is factored as L D L' (unit lower L): M >=
I, so the pivots D are >= 1, and neither the likelihood nor its gradient takes a square root.
The group effects given everything else are drawn top-down: at a node, `v ~ N(M^-1 (t - G
u_o), M^-1)` given its ancestors' effects `u_o`, and `u = Lam_b v`.

The small matrices are written out entry by entry over vectors of nodes ("Vec" lists):
with K and p this small XLA runs them several times faster on a CPU than batched LAPACK.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..design._stats import GroupStats

LOG_2PI = math.log(2 * math.pi)

#: A lower-triangular matrix of scalars; None marks a structural zero.
Lower = Sequence[Sequence[jax.Array | None]]
Matrix = list[list[jax.Array]]  # K x K entries, each a vector over nodes
Vector = list[jax.Array]


class _Stage(NamedTuple):
    """One factor's nodes after integrating their effects: M = L D L', h = L^-1 t, and
    hg[a] = L^-1 G[:, a] for each outer column a."""

    lower: Matrix
    pivots: Vector
    h: Vector
    hg: list[Vector]


def marginal_log_likelihood(
    beta: jax.Array,
    sigma: jax.Array,
    lam: Lower | jax.Array,
    stats: GroupStats,
    columns: Sequence[int] | None = None,
) -> jax.Array:
    """log p(y | b, sigma, Lam) with the group effects integrated out.

    `beta` (p,) multiplies the columns the statistics were built from, `sigma` (S,) holds one
    residual sd per sigma level, `lam` is the lower Cholesky factor of the group effects'
    covariance (block-diagonal over factors), `columns` the number of Z columns of each
    factor, outermost first (default: one factor).
    """
    _, grouped = _integrate(beta, sigma, _as_lower(lam), stats, columns)
    return gaussian_total(stats, beta, sigma, grouped)


def draw_group_effects(
    key: jax.Array,
    beta: jax.Array,
    sigma: jax.Array,
    lam: Lower | jax.Array,
    stats: GroupStats,
    columns: Sequence[int] | None = None,
) -> list[jax.Array]:
    """One exact draw of every factor's effects, (levels x its columns) each, outermost first."""
    lam = _as_lower(lam)
    columns = _columns(lam, columns)
    stages, _ = _integrate(beta, sigma, lam, stats, columns)
    outer: Vector = []
    draws = []
    for f, (stage, keyf) in enumerate(zip(stages, jax.random.split(key, len(stages)), strict=True)):
        outer = [u[stats.parents[f]] for u in outer]
        shift = [_dot([g[i] for g in stage.hg], outer) for i in range(len(stage.h))]
        noise = jax.random.normal(keyf, (len(stage.h), stage.h[0].shape[0]))
        y = [
            (h - s) / d + noise[i] / jnp.sqrt(d)
            for i, (h, s, d) in enumerate(zip(stage.h, shift, stage.pivots, strict=True))
        ]
        v = _solve_unit_upper(stage.lower, y)
        start = sum(columns[:f])
        own = [_lam_times(lam, r, start, v) for r in range(start, start + columns[f])]
        draws.append(jnp.stack(own, axis=-1)[stats.level_nodes[f]])
        outer = outer + own
    return draws


def _integrate(beta, sigma, lam: Lower, stats: GroupStats, columns):
    """Integrate the factors innermost first: each stage's factors, and the sum over nodes of
    log|M| - t' M^-1 t."""
    columns = _columns(lam, columns)
    # Written as broadcast products and sums, which XLA fuses into loops: with S, K and p
    # this small, a dot product's call costs more than its arithmetic on a CPU.
    w = 1.0 / sigma**2
    residual = stats.zy - sum(stats.zx[:, :, q] * beta[q] for q in range(beta.shape[0]))
    k = stats.zz.shape[1]
    a_m = [[jnp.sum(w[:, None] * stats.zz[:, i, j], axis=0) for j in range(k)] for i in range(k)]
    e_v = [jnp.sum(w[:, None] * residual[:, i], axis=0) for i in range(k)]
    stages: list[_Stage] = []
    total = jnp.zeros(())
    for f in reversed(range(len(columns))):
        k_o = sum(columns[:f])
        stage, a_m, e_v, part = _stage(a_m, e_v, lam, k_o)
        stages.insert(0, stage)
        total = total + part
        if f > 0:
            a_m, e_v = _to_parents(a_m, e_v, stats.parents[f], len(stats.parents[f - 1]))
    return stages, total


def _stage(a: Matrix, e: Vector, lam: Lower, k_o: int):
    """Integrate the effects of the columns k_o.. (this factor's) out of one stage."""
    k = len(e)
    own = range(k_o, k)
    # Column b of Lam as (row, entry) pairs, its structural zeros left out.
    cols = {b: [(c, lam[c][b]) for c in range(b, k) if lam[c][b] is not None] for b in own}

    def lam_t(i: int, entry) -> jax.Array:
        """Row i of Lam' times the column vector whose c-th entry is entry(c)."""
        return _dot([v for _, v in cols[i]], [entry(c) for c, _ in cols[i]])

    a_lam = {(r, b): lam_t(b, lambda c, r=r: a[r][c]) for r in own for b in own}  # A Lam
    m_low = {
        (i, j): (1.0 if i == j else 0.0) + lam_t(i, lambda c, j=j: a_lam[(c, j)])
        for i in own
        for j in own
        if j <= i
    }
    m = [[m_low[max(i, j), min(i, j)] for j in own] for i in own]
    t = [lam_t(i, lambda c: e[c]) for i in own]
    g = [[lam_t(i, lambda c, o=o: a[c][o]) for o in range(k_o)] for i in own]
    lower, pivots = _ldl(m)
    h = _solve_unit_lower(lower, t)
    hg = [_solve_unit_lower(lower, [row[o] for row in g]) for o in range(k_o)]
    part = jnp.sum(_log_product(pivots)) - jnp.sum(_weighted(h, h, pivots))
    a_new = [[a[i][j] - _weighted(hg[i], hg[j], pivots) for j in range(k_o)] for i in range(k_o)]
    e_new = [e[i] - _weighted(hg[i], h, pivots) for i in range(k_o)]
    return _Stage(lower, pivots, h, hg), a_new, e_new, part


def _to_parents(a: Matrix, e: Vector, parents: jax.Array, n_parents: int):
    def add(v):
        return jnp.zeros(n_parents, v.dtype).at[parents].add(v)

    k = len(e)
    summed = {(i, j): add(a[i][j]) for i in range(k) for j in range(i + 1)}
    return [[summed[max(i, j), min(i, j)] for j in range(k)] for i in range(k)], [add(v) for v in e]


def _ldl(m: Matrix) -> tuple[Matrix, Vector]:
    """M = L D L' for symmetric positive definite M, L unit lower-triangular."""
    k = len(m)
    lower: Matrix = [[None] * k for _ in range(k)]  # type: ignore[list-item]
    pivots: Vector = []
    for j in range(k):
        scaled = [lower[j][t] * pivots[t] for t in range(j)]  # L_jt d_t
        pivots.append(m[j][j] - _dot(scaled, lower[j][:j]))
        for i in range(j + 1, k):
            lower[i][j] = (m[i][j] - _dot(scaled, lower[i][:j])) / pivots[j]
    return lower, pivots


def _solve_unit_lower(lower: Matrix, b: Vector) -> Vector:
    out: Vector = []
    for i, bi in enumerate(b):
        out.append(bi - _dot([lower[i][t] for t in range(i)], out))
    return out


def _solve_unit_upper(lower: Matrix, b: Vector) -> Vector:
    """x with L' x = b."""
    k = len(b)
    out: list = [None] * k
    for i in reversed(range(k)):
        out[i] = b[i] - _dot([lower[t][i] for t in range(i + 1, k)], out[i + 1 :])
    return out


def _dot(a: Sequence, b: Sequence):
    """sum_i a_i b_i, written out (0 when empty)."""
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total = total + x * y
    return total


def _weighted(a: Vector, b: Vector, pivots: Vector):
    """sum_i a_i b_i / d_i."""
    return _dot([x / d for x, d in zip(a, pivots[: len(a)], strict=True)], b)


def _log_product(pivots: Vector) -> jax.Array:
    """log prod d_i, four pivots to a log: float64 logs are slow on XLA's CPU backend, and
    the pivots (>= 1, at most ~1 + n sd^2 / sigma^2) cannot overflow a product of four."""
    logs = []
    for i in range(0, len(pivots), 4):
        product = pivots[i]
        for d in pivots[i + 1 : i + 4]:
            product = product * d
        logs.append(jnp.log(product))
    return sum(logs[1:], logs[0])


def _lam_times(lam: Lower, r: int, start: int, v: Vector):
    """Row r of Lam times v, v indexed from column `start`."""
    pairs = [(lam[r][c], v[c - start]) for c in range(start, r + 1) if lam[r][c] is not None]
    return _dot([a for a, _ in pairs], [b for _, b in pairs])


def gaussian_total(stats, beta: jax.Array, sigma: jax.Array, grouped: jax.Array) -> jax.Array:
    """The marginal log-likelihood from its group part, sum of log|M| - t'M^-1 t (see the
    module docstring), and the residual totals of `stats`."""
    n = jnp.sum(stats.n)
    return -0.5 * (n * LOG_2PI + grouped + _residual_terms(stats, beta, sigma))


def _residual_terms(stats: GroupStats, beta: jax.Array, sigma: jax.Array) -> jax.Array:
    """log|D| + r'D^-1 r over all rows, from the per-sigma-level totals."""
    w = 1.0 / sigma**2
    bxxb = jnp.sum(stats.xx * beta[:, None] * beta, axis=(-2, -1))
    ede = jnp.sum((stats.yy - 2 * jnp.sum(stats.xy * beta, axis=-1) + bxxb) * w)
    return ede + jnp.sum(stats.n * jnp.log(sigma**2))


def _as_lower(lam: Lower | jax.Array) -> Lower:
    if isinstance(lam, (list, tuple)):
        return lam
    k = lam.shape[0]
    return [[lam[i, j] if j <= i else None for j in range(k)] for i in range(k)]


def _columns(lam: Lower, columns: Sequence[int] | None) -> tuple[int, ...]:
    return (len(lam),) if columns is None else tuple(columns)
