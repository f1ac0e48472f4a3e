"""The model as one JAX log density on an unconstrained vector, and its constrained values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..design import Design
from ..families import Family
from ..priors import AssignedPrior
from ._densities import prior_log_density
from ._layout import Block, correlation_size, effects_shape
from ._transforms import LOG_2PI, corr_cholesky, lkj_cholesky_log_density, log_sigmoid_jacobian

jax.config.update("jax_enable_x64", True)

Data = dict[str, jax.Array]


def model_data(design: Design, y: np.ndarray, blocks: list[Block], rows: bool = True) -> Data:
    """The arrays the log density reads: passed as arguments, never baked into the program,
    so one compiled program serves every data set of the same shapes. That includes the
    blocks' units (`loc`, `scale`), which come from the data. `rows=False` leaves out the
    per-row design matrices (the marginal engine reads statistics instead)."""
    data: Data = {"y": jnp.asarray(y)}
    for name, values in design.additions.items():
        data[name] = jnp.asarray(values.to_numpy(dtype=float))
    for b in blocks:
        if b.loc is not None:
            data[f"loc_{b.name}"], data[f"scale_{b.name}"] = (
                jnp.asarray(b.loc),
                jnp.asarray(b.scale),
            )
    for dpar, d in design.dpars.items():
        data[f"means_{dpar}"] = jnp.asarray(d.fixed.means)
        if rows:
            data[f"X_{dpar}"] = jnp.asarray(d.fixed.matrix - d.fixed.means)
    for i, g in enumerate(design.groups if rows else ()):
        data[f"Z_{i}"] = jnp.asarray(g.z)
        data[f"index_{i}"] = jnp.asarray(g.index)
    return data


def _constrain_elementwise(u: jax.Array, block: Block, data: Data) -> tuple[jax.Array, jax.Array]:
    """Values of an elementwise block and the log-Jacobian of its bounded parts.

    Blocks are nearly always of one kind (all unbounded, or all positive); those take the
    whole-vector formula, and only a block that mixes kinds pays for a scatter.
    """
    lo, hi = np.isfinite(block.lower), np.isfinite(block.upper)
    kinds = {
        "real": np.flatnonzero(~lo & ~hi),
        "lower": np.flatnonzero(lo & ~hi),
        "upper": np.flatnonzero(~lo & hi),
        "interval": np.flatnonzero(lo & hi),
    }
    present = {kind: idx for kind, idx in kinds.items() if idx.size}
    if len(present) == 1:
        (kind,) = present
        return _bounded(kind, u, block, slice(None), data)
    value, log_jac = jnp.zeros_like(u), jnp.zeros(())
    for kind, idx in present.items():
        v, lj = _bounded(kind, u[idx], block, idx, data)
        value, log_jac = value.at[idx].set(v), log_jac + lj
    return value, log_jac


def _bounded(kind: str, u: jax.Array, block: Block, idx, data: Data) -> tuple[jax.Array, jax.Array]:
    loc, scale = data[f"loc_{block.name}"][idx], data[f"scale_{block.name}"][idx]
    lower, upper = block.lower[idx], block.upper[idx]
    if kind == "real":
        return loc + scale * u, jnp.zeros(())
    if kind == "lower":
        return lower + scale * jnp.exp(u), jnp.sum(u)
    if kind == "upper":
        return upper - scale * jnp.exp(u), jnp.sum(u)
    width = upper - lower
    return lower + width * jax.nn.sigmoid(u), log_sigmoid_jacobian(u, width)


@dataclass(frozen=True)
class Values:
    """Constrained parameters for one unconstrained vector."""

    blocks: dict[str, jax.Array]
    log_jacobian: jax.Array


def constrain(theta: jax.Array, blocks: list[Block], design: Design, data: Data) -> Values:
    out: dict[str, jax.Array] = {}
    log_jac = jnp.zeros(())
    for b in blocks:
        u = theta[b.start : b.stop]
        if b.kind == "cor":
            out[b.name], lj = corr_cholesky(u, correlation_size(design, b.term))
            log_jac = log_jac + lj
        elif b.kind == "thresholds":
            out[b.name], lj = ordered(u + data[f"loc_{b.name}"])
            log_jac = log_jac + lj
        elif b.kind == "z":
            out[b.name] = u.reshape(effects_shape(design, b.term))
        else:
            out[b.name], lj = _constrain_elementwise(u, b, data)
            log_jac = log_jac + lj
    return Values(out, log_jac)


def group_effects(values: Values, design: Design, term: int) -> jax.Array:
    """r of one term (levels x coefs): `diag(sd) L z_j` for each level j; a term linked to
    others by `|id|` takes its rows and columns of the set's joint effects."""
    link = design.link_of(term)
    if link is None:
        return joint_effects(values, (term,), values.blocks[f"z_{term}"])
    r = joint_effects(values, link.terms, values.blocks[f"z_{link.terms[0]}"])
    k = link.terms.index(term)
    return r[link.positions[k], link.columns[k]]


def joint_effects(values: Values, terms: tuple[int, ...], z: jax.Array) -> jax.Array:
    """`z L' diag(sd)` with the correlation factor carried by the first of `terms` (if any)
    and all their sds."""
    sd = jnp.concatenate([values.blocks[f"sd_{t}"] for t in terms])
    L = values.blocks.get(f"cor_{terms[0]}")
    return (z if L is None else z @ L.T) * sd


def linear_predictor(
    values: Values, data: Data, design: Design, dpar: str, effects: dict | None = None
) -> jax.Array:
    """The linear predictor of `dpar` on every row; `effects` (term -> levels x coefs)
    replaces the group effects made from the standardised ones."""
    d = design.dpars[dpar]
    n = design.n_rows
    eta = jnp.zeros(n)
    if f"intercept_{dpar}" in values.blocks:
        eta = eta + values.blocks[f"intercept_{dpar}"][0]
    if d.fixed.names:
        eta = eta + data[f"X_{dpar}"] @ values.blocks[f"coefs_{dpar}"]
    for i, g in enumerate(design.groups):
        if g.dpar != dpar:
            continue
        r = group_effects(values, design, i) if effects is None else effects[i]
        r = jnp.concatenate([r, jnp.zeros((1, r.shape[1]))])
        eta = eta + jnp.sum(data[f"Z_{i}"] * r[data[f"index_{i}"]], axis=1)
    return eta


def ordered(u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Increasing values from free ones: u_1, then steps exp(u_k); and the log-Jacobian."""
    steps = jnp.concatenate([u[:1], jnp.exp(u[1:])])
    return jnp.cumsum(steps), jnp.sum(u[1:])


def original_thresholds(values: Values, data: Data) -> jax.Array:
    """The thresholds on the original predictor scale: `Intercept[k] + means @ b` (mu = X b is
    subtracted from them, so centring X moves them the other way from an intercept)."""
    thresholds = values.blocks["thresholds"]
    if "coefs_mu" in values.blocks:
        thresholds = thresholds + data["means_mu"] @ values.blocks["coefs_mu"]
    return thresholds


def original_intercept(values: Values, data: Data, dpar: str) -> jax.Array:
    """`b_Intercept = Intercept - means @ b`: the intercept on the original predictor scale."""
    intercept = values.blocks[f"intercept_{dpar}"][0]
    if f"coefs_{dpar}" in values.blocks:
        intercept = intercept - data[f"means_{dpar}"] @ values.blocks[f"coefs_{dpar}"]
    return intercept


def log_prior(values: Values, data: Data, blocks: list[Block]) -> jax.Array:
    lp = jnp.zeros(())
    for b in blocks:
        if b.kind == "z":
            z = values.blocks[b.name]
            lp = lp - 0.5 * jnp.sum(z * z) - 0.5 * z.size * LOG_2PI
        elif b.kind == "cor":
            lp = lp + lkj_cholesky_log_density(values.blocks[b.name], b.priors[0].spec.args[0])
        else:
            lp = lp + _elementwise_prior(values, data, b)
    return lp


def _elementwise_prior(values: Values, data: Data, block: Block) -> jax.Array:
    v = values.blocks[block.name]
    lp = jnp.zeros(())
    for group in _same_prior_groups(block.priors):
        prior = block.priors[group[0]]
        x = v[np.array(group)]
        if prior.original_scale:
            x = original_intercept(values, data, block.dpar)[None]
        lp = lp + prior_log_density(prior, x)
    return lp


def _same_prior_groups(priors: tuple[AssignedPrior, ...]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(priors):
        key = (p.spec.dist, p.spec.args, p.spec.power, p.lower, p.upper, p.original_scale)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def distribution_parameters(
    values: Values, data: Data, design: Design, family: Family, effects: dict | None = None
) -> Data:
    """mu and every auxiliary parameter, row by row where they vary, on their natural scale
    (`effects`: see `linear_predictor`)."""
    params = {}
    for dpar in family.dpars:
        if dpar == "mu" and family.ordinal:  # the link is inside the likelihood
            params["mu"] = linear_predictor(values, data, design, "mu", effects)
            params["thresholds"] = values.blocks["thresholds"]
        elif dpar in design.dpars:
            eta = linear_predictor(values, data, design, dpar, effects)
            params[dpar] = family.link(dpar).inverse(eta)
        elif (fixed := family.parameter(dpar).fixed) is not None:
            params[dpar] = jnp.asarray(fixed)
        else:
            params[dpar] = values.blocks[dpar][0]
    for k, cutpoint in enumerate(family.cutpoints):
        params[cutpoint.name] = values.blocks["cutpoints"][k]
    for name in family.additions:
        params[name] = data[name]
    return params


def build_log_density(
    blocks: list[Block], design: Design, family: Family
) -> Callable[[jax.Array, Data], jax.Array]:
    """The unnormalised log posterior of the unconstrained vector, given the data arrays."""

    def log_density(theta: jax.Array, data: Data) -> jax.Array:
        values = constrain(theta, blocks, design, data)
        params = distribution_parameters(values, data, design, family)
        log_lik = jnp.sum(family.log_likelihood(data["y"], params))
        if "log_choose" in data:  # rows collapsed into counts: see design.collapse_rows
            log_lik = log_lik + data["log_choose"]
        return log_lik + log_prior(values, data, blocks) + values.log_jacobian

    return log_density
