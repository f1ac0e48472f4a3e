"""The marginalised engine: which models it serves, its data and its log density.

For a Gaussian identity-link model whose group terms all share one grouping factor, the
group effects are integrated out (see `_marginal`), NUTS samples only the fixed effects, the
sds, the correlations and sigma, and the effects are drawn exactly afterwards.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import block_diag

from ..design import Design
from ..design._stats import group_stats
from ..families import Family
from ._logdensity import Data, Values, constrain, log_prior
from ._marginal import draw_group_effects, marginal_log_likelihood

#: `sigma ~` formulas with more distinct rows than this stay on the full engine: the
#: statistics are kept per (level, sigma level) cell.
MAX_SIGMA_LEVELS = 64


def marginal_reason(design: Design, family: Family) -> str | None:
    """None when the marginal engine applies, else why it does not."""
    if family.name != "gaussian" or family.mu_link != "identity":
        return f"the {family.name} family is not Gaussian with an identity link"
    groups = design.groups
    if not groups:
        return "the model has no group terms"
    if any(g.dpar != "mu" for g in groups):
        return "a distributional parameter has group terms"
    factors = sorted({g.group for g in groups})
    if len(factors) > 1:
        return f"its group terms use several factors ({', '.join(factors)})"
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
    return "marginal", "group effects integrated out analytically and drawn exactly afterwards"


def marginal_data(design: Design, y: np.ndarray) -> Data:
    """Group statistics over (level, sigma level) cells, and the sigma design's distinct rows."""
    mu = design.dpars["mu"].fixed
    x = mu.matrix - mu.means
    if mu.has_intercept:
        x = np.column_stack([np.ones(len(y)), x])
    codes = np.unique(np.concatenate([g.level_codes for g in design.groups]))
    level = np.full(len(y), len(codes))
    for g in design.groups:
        has = g.index < g.n_levels
        level[has] = np.searchsorted(codes, g.level_codes[g.index[has]])
    z = np.column_stack([g.z for g in design.groups])
    data: Data = {}
    if "sigma" in design.dpars:
        s = design.dpars["sigma"].fixed
        rows, sigma_level = np.unique(s.matrix - s.means, axis=0, return_inverse=True)
        data["sigma_x"] = jnp.asarray(rows)
        sigma_level = sigma_level.ravel()
    else:
        sigma_level = np.zeros(len(y), dtype=int)
    n_sigma = int(sigma_level.max()) + 1
    stats = group_stats(y, x, z, level, len(codes), sigma_level, n_sigma)
    data["stats"] = type(stats)(*(jnp.asarray(a) for a in stats))
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


def covariance_factor(values: Values, design: Design) -> jax.Array:
    """Lower Cholesky factor of the group effects' covariance: block-diagonal over terms."""
    blocks = []
    for i, _ in enumerate(design.groups):
        sd = values.blocks[f"sd_{i}"]
        L = values.blocks.get(f"cor_{i}")
        blocks.append(jnp.diag(sd) if L is None else sd[:, None] * L)
    return block_diag(*blocks)


def build_marginal_log_density(blocks, design: Design, family: Family):
    def log_density(theta: jax.Array, data: Data) -> jax.Array:
        values = constrain(theta, blocks, design, data)
        log_lik = marginal_log_likelihood(
            coefficients(values, design),
            sigma_levels(values, data, design),
            covariance_factor(values, design),
            data["stats"],
        )
        return log_lik + log_prior(values, data, blocks) + values.log_jacobian

    return log_density


def draw_effects(values: Values, data: Data, design: Design, key: jax.Array) -> jax.Array:
    """One exact draw of every level's group effects (levels x all the factor's columns)."""
    return draw_group_effects(
        key,
        coefficients(values, design),
        sigma_levels(values, data, design),
        covariance_factor(values, design),
        data["stats"],
    )
