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
from jax.scipy.linalg import block_diag

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


def plan_or_reason(design: Design, family: Family) -> MarginalPlan | str:
    """How the marginal engine would integrate the group effects out, or why it does not
    apply. Planning reads every row, so a caller that needs both asks once."""
    if family.name != "gaussian" or family.mu_link != "identity":
        return f"the {family.name} family is not Gaussian with an identity link"
    groups = design.groups
    if not groups:
        return "the model has no group terms"
    if any(g.dpar != "mu" for g in groups):
        return "a distributional parameter has group terms"
    if design.links:
        return f"group terms are correlated by the id '{design.links[0].id}'"
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
    return plan


def choose_engine(design: Design, family: Family, engine: str = "auto") -> tuple[str, str]:
    """The engine `auto` picks, with the reason in words."""
    found = plan_or_reason(design, family)
    if engine == "full" or (engine == "auto" and isinstance(found, str)):
        reason = found if isinstance(found, str) else None
        why = "group effects sampled" + (f", because {reason}" if reason else ", as asked")
        return "full", why
    if isinstance(found, str):
        return "marginal", found  # asked for, not applicable: compile_model says so
    how = "jointly over the crossed factors" if found.tree is None else "level by level"
    if len(found.factors) > 1 and found.tree is not None:
        how = f"level by level, {' within '.join(reversed(found.factors))}"
    return "marginal", (
        f"group effects integrated out analytically ({how}) and drawn exactly afterwards"
    )


class MarginalPlan(NamedTuple):
    """The grouping factors outermost first, each factor's group terms (in the design's
    order), each row's level of each factor (`paths`, rows x factors, -1 for none), the
    factors' numbers of levels, and the tree of levels when the factors are nested (None
    when some are crossed)."""

    factors: tuple[str, ...]
    factor_terms: tuple[tuple[int, ...], ...]
    columns: tuple[int, ...]
    n_levels: tuple[int, ...]
    paths: np.ndarray
    tree: FactorTree | None

    @property
    def terms(self) -> tuple[int, ...]:
        """All group terms, factor by factor: the order of the Z columns."""
        return tuple(t for terms in self.factor_terms for t in terms)

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
    columns = tuple(sum(len(design.groups[t].coefs) for t in by_factor[f]) for f in factors)
    return MarginalPlan(
        tuple(factors),
        tuple(tuple(by_factor[f]) for f in factors),
        columns,
        n_levels,
        paths,
        factor_tree(paths, n_levels),
    )


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
        zs = [np.column_stack([design.groups[t].z for t in terms]) for terms in plan.factor_terms]
        levels = list(plan.paths.T)
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


def _term_factor(values: Values, term: int) -> tuple[jax.Array, bool]:
    """A term's lower Cholesky factor of its effects' covariance (`diag(sd) L`), and
    whether it has correlations (else it is diagonal)."""
    sd = values.blocks[f"sd_{term}"]
    L = values.blocks.get(f"cor_{term}")
    return (jnp.diag(sd), False) if L is None else (sd[:, None] * L, True)


def covariance_factor(values: Values, terms: tuple[int, ...]) -> list[list]:
    """Lower Cholesky factor of the group effects' covariance, block-diagonal over `terms`
    in that order, as rows of entries with None for the structural zeros."""
    factors = [_term_factor(values, i) for i in terms]
    total = sum(f.shape[0] for f, _ in factors)
    rows, start = [], 0
    for factor, correlated in factors:
        for r in range(factor.shape[0]):
            row: list = [None] * total
            for c in range(r + 1) if correlated else (r,):
                row[start + c] = factor[r, c]
            rows.append(row)
        start += factor.shape[0]
    return rows


def _arguments(values: Values, data: Data, design: Design, plan: MarginalPlan):
    beta, sigma = coefficients(values, design), sigma_levels(values, data, design)
    if plan.tree is not None:
        lam = covariance_factor(values, plan.terms)
        return beta, sigma, lam, data["stats"], plan.columns
    lams = [block_diag(*(_term_factor(values, t)[0] for t in terms)) for terms in plan.factor_terms]
    return beta, sigma, lams, data["stats"], plan.n_levels


def marginal_likelihood(
    values: Values, data: Data, design: Design, plan: MarginalPlan
) -> jax.Array:
    """log p(y | b, sd, cor, sigma's parameters) with the group effects integrated out: the
    likelihood part of the marginal log density, without priors or Jacobians (what the ML and
    REML fits of `_profile` maximise)."""
    log_likelihood = marginal_log_likelihood if plan.tree is not None else dense_log_likelihood
    return log_likelihood(*_arguments(values, data, design, plan))


def build_marginal_log_density(blocks, design: Design, plan: MarginalPlan):
    def log_density(theta: jax.Array, data: Data) -> jax.Array:
        values = constrain(theta, blocks, design, data)
        log_lik = marginal_likelihood(values, data, design, plan)
        return log_lik + log_prior(values, data, blocks) + values.log_jacobian

    return log_density


def draw_effects(
    values: Values, data: Data, design: Design, plan: MarginalPlan, key: jax.Array
) -> dict[str, jax.Array]:
    """One exact draw of every factor's group effects (levels x the factor's columns)."""
    draw = draw_group_effects if plan.tree is not None else draw_dense_effects
    draws = draw(key, *_arguments(values, data, design, plan))
    return dict(zip(plan.factors, draws, strict=True))


def term_effects(
    by_factor: dict[str, jax.Array], design: Design, plan: MarginalPlan
) -> dict[int, jax.Array]:
    """Each group term's effects (its levels x its coefficients) from the factors' draws."""
    out = {}
    for factor, terms in zip(plan.factors, plan.factor_terms, strict=True):
        codes, start = _codes(design, list(terms)), 0
        for t in terms:
            g = design.groups[t]
            rows = np.searchsorted(codes, g.level_codes)
            out[t] = by_factor[factor][rows, start : start + len(g.coefs)]
            start += len(g.coefs)
    return out
