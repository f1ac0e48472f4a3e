"""The marginalised engine: which models it serves, its data and its log density.

For a Gaussian identity-link model whose grouping factors are one factor or nested ones, the
group effects are integrated out (see `_marginal`), NUTS samples only the fixed effects, the
sds, the correlations and sigma, and the effects are drawn exactly afterwards.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..design import Design
from ..design._stats import FactorTree, dense_stats, factor_tree, group_stats
from ..families import Family
from ._dense import dense_log_likelihood, draw_dense_effects
from ._logdensity import Data, Values, constrain, log_prior
from ._marginal import draw_group_effects, marginal_log_likelihood

#: `sigma ~` formulas with more distinct rows than this stay on the full engine: the
#: statistics are kept per (level, sigma level) cell.
MAX_SIGMA_LEVELS = 64

#: Crossed factors with at most this many effects in all (levels x columns, summed over
#: factors) are integrated out jointly; beyond it one Q x Q Cholesky factorisation per
#: gradient costs more than sampling the effects. `benchmarks/scaling.py --design crossed`
#: (two crossed random intercepts, 10 rows per level, 2-core CPU): min bulk ESS per second
#: of a warm fit, joint marginal vs full engine, 1387 vs 181 at 50 effects, 433 vs 125 at 100,
#: 71 vs 22 at 200 (63 s vs 9 s of wall time), at most ~25 vs 29 at 400 (> 200 s vs 13 s).
MAX_DENSE_EFFECTS = 200


def marginal_reason(design: Design, family: Family) -> str | None:
    """None when the marginal engine applies, else why it does not."""
    if family.name != "gaussian" or family.mu_link != "identity":
        return f"the {family.name} family is not Gaussian with an identity link"
    groups = design.groups
    if not groups:
        return "the model has no group terms"
    if any(g.dpar != "mu" for g in groups):
        return "a distributional parameter has group terms"
    plan = marginal_plan(design)
    if plan.tree is None and plan.n_effects > MAX_DENSE_EFFECTS:
        return (
            f"its grouping factors ({', '.join(plan.factors)}) are crossed, with "
            f"{plan.n_effects} group effects in all (more than {MAX_DENSE_EFFECTS} to "
            "integrate out jointly)"
        )
    if "sigma" in design.dpars:
        x = design.dpars["sigma"].fixed.matrix
        if len(np.unique(x, axis=0)) > MAX_SIGMA_LEVELS:
            return f"sigma's formula has more than {MAX_SIGMA_LEVELS} distinct rows"
    return None


def choose_engine(design: Design, family: Family, engine: str = "auto") -> tuple[str, str]:
    """The engine `auto` picks, with the reason in words."""
    reason = marginal_reason(design, family)
    if engine == "full" or (engine == "auto" and reason):
        why = "group effects sampled" + (f", because {reason}" if reason else ", as asked")
        return "full", why
    plan = marginal_plan(design)
    how = "jointly over the crossed factors" if plan.tree is None else "level by level"
    if len(plan.factors) > 1 and plan.tree is not None:
        how = f"level by level, {' within '.join(reversed(plan.factors))}"
    return "marginal", (
        f"group effects integrated out analytically ({how}) and drawn exactly afterwards"
    )


class MarginalPlan(NamedTuple):
    """The grouping factors outermost first, the group terms in that order (terms of one
    factor stay in the design's order), the Z columns and levels of each factor, and the
    tree of levels when the factors are nested (None when some are crossed)."""

    factors: tuple[str, ...]
    terms: tuple[int, ...]
    columns: tuple[int, ...]
    n_levels: tuple[int, ...]
    tree: FactorTree | None

    @property
    def n_effects(self) -> int:
        return sum(k * n for k, n in zip(self.columns, self.n_levels, strict=True))


def marginal_plan(design: Design) -> MarginalPlan:
    """How the group effects are integrated out: as a chain of factors, each nested in the
    one before, or jointly when some are crossed.

    Factors with fewer levels come first; a factor is nested in the one before it when each
    of its levels appears under one level of that factor only (lme4's `(1 | a/b)`, or
    `(1 | school) + (1 | class)` with class labels unique across schools).
    """
    by_factor: dict[str, list[int]] = {}
    for i, g in enumerate(design.groups):
        by_factor.setdefault(g.group, []).append(i)
    sizes = {f: len(_codes(design, terms)) for f, terms in by_factor.items()}
    factors = sorted(by_factor, key=lambda f: sizes[f])
    paths = np.stack([_factor_levels(design, by_factor[f]) for f in factors], axis=1)
    n_levels = tuple(sizes[f] for f in factors)
    terms = tuple(t for f in factors for t in by_factor[f])
    columns = tuple(sum(len(design.groups[t].coefs) for t in by_factor[f]) for f in factors)
    return MarginalPlan(tuple(factors), terms, columns, n_levels, factor_tree(paths, n_levels))


def _by_factor(design: Design, plan: MarginalPlan) -> list[list[int]]:
    return [[t for t in plan.terms if design.groups[t].group == f] for f in plan.factors]


def _codes(design: Design, terms: list[int]) -> np.ndarray:
    """The factor's levels over its terms, as codes of the full factor (sorted)."""
    return np.unique(np.concatenate([design.groups[t].level_codes for t in terms]))


def _factor_levels(design: Design, terms: list[int]) -> np.ndarray:
    """Each row's level of the factor (an index into `_codes`), -1 where no term has one."""
    codes = _codes(design, terms)
    level = np.full(design.n_rows, -1)
    for t in terms:
        g = design.groups[t]
        has = g.index < g.n_levels
        level[has] = np.searchsorted(codes, g.level_codes[g.index[has]])
    return level


def marginal_data(design: Design, y: np.ndarray, plan: MarginalPlan) -> Data:
    """Statistics per (cell, sigma level), or over all effects jointly for crossed factors,
    and the sigma design's distinct rows."""
    mu = design.dpars["mu"].fixed
    x = mu.matrix - mu.means
    if mu.has_intercept:
        x = np.column_stack([np.ones(len(y)), x])
    data: Data = {}
    if "sigma" in design.dpars:
        s = design.dpars["sigma"].fixed
        rows, sigma_level = np.unique(s.matrix - s.means, axis=0, return_inverse=True)
        data["sigma_x"] = jnp.asarray(rows)
        sigma_level = sigma_level.ravel()
    else:
        sigma_level = np.zeros(len(y), dtype=int)
    n_sigma = int(sigma_level.max()) + 1
    if plan.tree is None:
        by_factor = _by_factor(design, plan)
        zs = [np.column_stack([design.groups[t].z for t in terms]) for terms in by_factor]
        levels = [_factor_levels(design, terms) for terms in by_factor]
        stats = dense_stats(y, x, zs, levels, plan.n_levels, sigma_level, n_sigma)
    else:
        z = np.column_stack([design.groups[t].z for t in plan.terms])
        stats = group_stats(y, x, z, plan.tree, sigma_level, n_sigma)
    data["stats"] = jax.tree.map(jnp.asarray, stats)
    return data


def coefficients(values: Values, design: Design, dpar: str = "mu") -> jax.Array:
    """The intercept (if any) and the coefficients, in the order of the statistics' columns."""
    parts = []
    if design.dpars[dpar].fixed.has_intercept:
        parts.append(values.blocks[f"intercept_{dpar}"])
    if design.dpars[dpar].fixed.names:
        parts.append(values.blocks[f"coefs_{dpar}"])
    return jnp.concatenate(parts) if parts else jnp.zeros(0)


def sigma_levels(values: Values, data: Data, design: Design) -> jax.Array:
    if "sigma" not in design.dpars:
        return values.blocks["sigma"]
    eta = jnp.zeros(data["sigma_x"].shape[0])
    if design.dpars["sigma"].fixed.has_intercept:
        eta = eta + values.blocks["intercept_sigma"][0]
    if design.dpars["sigma"].fixed.names:
        eta = eta + data["sigma_x"] @ values.blocks["coefs_sigma"]
    return jnp.exp(eta)


def covariance_factor(values: Values, terms: tuple[int, ...]) -> list[list]:
    """Lower Cholesky factor of the group effects' covariance, block-diagonal over `terms`
    in that order, as rows of entries with None for the structural zeros."""
    parts = []
    for i in terms:
        sd = values.blocks[f"sd_{i}"]
        L = values.blocks.get(f"cor_{i}")
        k = sd.shape[0]
        if L is None:
            parts.append([[sd[r] if c == r else None for c in range(k)] for r in range(k)])
        else:
            parts.append(
                [[sd[r] * L[r, c] if c <= r else None for c in range(k)] for r in range(k)]
            )
    total = sum(len(p) for p in parts)
    rows, start = [], 0
    for part in parts:
        for row in part:
            rows.append([None] * start + row + [None] * (total - start - len(row)))
        start += len(part)
    return rows


def _arguments(values: Values, data: Data, design: Design, plan: MarginalPlan):
    beta, sigma = coefficients(values, design), sigma_levels(values, data, design)
    lam = covariance_factor(values, plan.terms)
    if plan.tree is not None:
        return beta, sigma, lam, data["stats"], plan.columns
    return beta, sigma, _factor_blocks(lam, plan.columns), data["stats"], plan.n_levels


def _factor_blocks(lam: list[list], columns: tuple[int, ...]) -> list[jax.Array]:
    """Each factor's diagonal block of Lam as an array (structural zeros as 0)."""
    blocks, start = [], 0
    for k in columns:
        rows = lam[start : start + k]
        blocks.append(
            jnp.stack(
                [
                    jnp.stack([jnp.zeros(()) if v is None else v for v in r[start : start + k]])
                    for r in rows
                ]
            )
        )
        start += k
    return blocks


def build_marginal_log_density(blocks, design: Design, plan: MarginalPlan):
    log_likelihood = marginal_log_likelihood if plan.tree is not None else dense_log_likelihood

    def log_density(theta: jax.Array, data: Data) -> jax.Array:
        values = constrain(theta, blocks, design, data)
        log_lik = log_likelihood(*_arguments(values, data, design, plan))
        return log_lik + log_prior(values, data, blocks) + values.log_jacobian

    return log_density


def draw_effects(
    values: Values, data: Data, design: Design, plan: MarginalPlan, key: jax.Array
) -> dict[str, jax.Array]:
    """One exact draw of every factor's group effects (levels x the factor's columns)."""
    draw = draw_group_effects if plan.tree is not None else draw_dense_effects
    draws = draw(key, *_arguments(values, data, design, plan))
    return dict(zip(plan.factors, draws, strict=True))
