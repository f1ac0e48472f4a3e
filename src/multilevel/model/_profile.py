"""Maximum likelihood and REML fits of Gaussian multilevel models, from the marginal engine.

The marginal engine's likelihood `l(b, theta)` integrates the group effects out; theta holds
the sds, the correlations and sigma (or sigma's coefficients). It is exactly quadratic in the
mean's fixed effects b, with `-d2l/db2 = X'V^-1 X`, so one Newton step from any b gives the GLS
estimate `b(theta)`, and

    ML:    l(b(theta), theta)
    REML:  l(b(theta), theta) - 1/2 log|X'V^-1 X| + p/2 log(2 pi)

are maximised over theta alone (L-BFGS on log sds, log sigma and Stan's unconstrained
correlations). The REML criterion is the log density of the error contrasts in lme4's form, so
its maximum is lme4's REML `logLik`; the fixed effects reported are the GLS estimates at the
optimum, as lme4's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve
from scipy import optimize

from .._errors import ModelError
from ..design import Design
from ._compiled import CompiledModel, _correlations
from ._engine import (
    MAX_DENSE_EFFECTS,
    MarginalPlan,
    marginal_data,
    marginal_likelihood,
    plan_or_reason,
)
from ._layout import Block, correlation_size, fixed_name, sd_name
from ._logdensity import Data, Values, original_intercept
from ._transforms import corr_cholesky

METHODS = ("REML", "ML")

#: What `profile_fit` accepts, said in the error for any other model.
SUPPORTED = (
    "Gaussian models with an identity link whose group effects the marginal engine "
    "integrates out: one grouping factor, nested factors, or crossed ones with at most "
    f"{MAX_DENSE_EFFECTS} group effects in all; group terms in the mean's formula only, "
    "no |id| links"
)


@dataclass(frozen=True)
class ProfileFit:
    """ML or REML estimates by brms name, the standard errors of the mean's fixed effects
    (`sqrt(diag((X'V^-1 X)^-1))` at the optimum, as lme4's), and the maximised criterion."""

    method: str
    estimates: dict[str, float]
    se: dict[str, float]
    log_likelihood: float
    converged: bool
    message: str


class _Problem(NamedTuple):
    """What the criterion needs: the model's structure, the blocks of theta (every block but
    the mean's fixed effects), the data arrays, and the OLS residual sd."""

    model: CompiledModel
    plan: MarginalPlan
    blocks: tuple[Block, ...]
    data: Data
    residual_sd: float

    @property
    def design(self) -> Design:
        return self.model.design

    @property
    def dim(self) -> int:
        return sum(b.size for b in self.blocks)

    def parts(self) -> list[tuple[Block, slice]]:
        """Each block of theta with its slice of the vector."""
        stops = np.cumsum([b.size for b in self.blocks]).tolist()
        return [(b, slice(stop - b.size, stop)) for b, stop in zip(self.blocks, stops, strict=True)]


def profile_fit(
    model: CompiledModel, method: str = "REML", starts: Mapping[str, float] | None = None
) -> ProfileFit:
    """Maximise the REML criterion or the likelihood of a Gaussian multilevel model.

    `starts` (brms names, e.g. posterior medians) adds a starting point to lme4's (sds equal
    to the OLS residual sd in units of each Z column, correlations 0); the better optimum of
    the two is kept.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2.2, 2.9, 4.1, 5.3, 7.0], "g": list("aabbcc")})
        >>> fit = profile_fit(ml.Model("y ~ 1 + (1 | g)", df)._engine("full"), "ML")
        >>> round(fit.estimates["b_Intercept"], 3)
        3.75
    """
    method = _method(method)
    problem = _problem(model)
    criteria = jax.jit(partial(_gls, problem))
    candidates = [_default_start(problem)]
    if starts:
        candidates.append(_named_start(problem, starts))
    runs = [_minimise(criteria, problem.data, method, u) for u in candidates]
    best = min(runs, key=lambda r: r.fun)
    u = jnp.asarray(best.x)
    *_, beta, information = criteria(u, problem.data)
    return ProfileFit(
        method,
        _estimates(problem, u, beta),
        _standard_errors(problem, information),
        -float(best.fun),
        _converged(best),
        str(best.message),
    )


def _method(method: str) -> str:
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ModelError(f"method must be 'REML' or 'ML', got {method!r}")
    return method.upper()


def _problem(model: CompiledModel) -> _Problem:
    plan = plan_or_reason(model.design, model.family)
    if isinstance(plan, str):
        raise ModelError(
            f"REML and ML fits are available for {SUPPORTED}; this model is not one: {plan}"
        )
    y = np.asarray(model.data["y"])
    data = marginal_data(model.design, y, plan)
    data |= {k: v for k, v in model.data.items() if k.startswith("means_")}
    beta0, residual_sd, se = _ols(model.design, y)
    data["beta0"], data["steps"] = jnp.asarray(beta0), jnp.asarray(se)
    blocks = tuple(b for b in model.blocks if b.kind != "z" and b.name not in _MEAN_BLOCKS)
    return _Problem(model, plan, blocks, data, residual_sd)


#: The mean's fixed effects: profiled out, not part of theta.
_MEAN_BLOCKS = ("intercept_mu", "coefs_mu")


def _ols(design: Design, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Least-squares coefficients of the mean (the columns of the statistics: intercept, then
    the centred predictors), the residual sd and the coefficients' standard errors."""
    x = _mean_columns(design)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = max(len(y) - x.shape[1], 1)
    residual_sd = float(np.sqrt(np.sum((y - x @ beta) ** 2) / dof)) or 1.0
    se = residual_sd * np.sqrt(np.diag(np.linalg.pinv(x.T @ x)))
    return beta, residual_sd, np.where(se > 0, se, 1.0)


def _mean_columns(design: Design) -> np.ndarray:
    mu = design.dpars["mu"].fixed
    x = mu.matrix - mu.means
    return np.column_stack([np.ones(design.n_rows), x]) if mu.has_intercept else x


def _values(problem: _Problem, u: jax.Array, beta: jax.Array) -> Values:
    """The constrained parameters the marginal likelihood reads, from theta and b."""
    blocks: dict[str, jax.Array] = {}
    if problem.design.dpars["mu"].fixed.has_intercept:
        blocks["intercept_mu"], beta = beta[:1], beta[1:]
    if problem.design.dpars["mu"].fixed.names:
        blocks["coefs_mu"] = beta
    for b, where in problem.parts():
        part = u[where]
        if b.kind == "cor":
            blocks[b.name] = corr_cholesky(part, correlation_size(problem.design, b.term))[0]
        elif b.kind in ("sd", "aux"):
            blocks[b.name] = jnp.exp(part)
        else:  # sigma's intercept and coefficients, on the log scale already
            blocks[b.name] = part
    return Values(blocks, jnp.zeros(()))


def _quadratic(problem: _Problem, u: jax.Array, data: Data) -> tuple[jax.Array, ...]:
    """The likelihood at the OLS coefficients b0, its gradient in b and X'V^-1 X, from
    evaluations at b0 + steps, batched: exact for a quadratic (up to rounding, the steps being
    about one OLS standard error), and it compiles in about half the time of `jax.hessian`."""
    beta0, steps = data["beta0"], data["steps"]
    p = beta0.shape[0]
    pairs = [(i, j) for i in range(p) for j in range(i)]
    unit = np.eye(p)
    shifts = np.array(
        [np.zeros(p), *unit, *(-unit), *(unit[i] + unit[j] for i, j in pairs)]
    ).reshape(-1, p)

    def log_lik(a: jax.Array) -> jax.Array:
        values = _values(problem, u, beta0 + steps * a)
        return marginal_likelihood(values, data, problem.design, problem.plan)

    ll = jax.vmap(log_lik)(jnp.asarray(shifts))
    l0, plus, minus = ll[0], ll[1 : p + 1], ll[p + 1 : 2 * p + 1]
    gradient = (plus - minus) / 2
    information = jnp.diag(2 * l0 - plus - minus)
    for k, (i, j) in enumerate(pairs):
        h = plus[i] + plus[j] - l0 - ll[2 * p + 1 + k]
        information = information.at[i, j].set(h).at[j, i].set(h)
    # Back from the scaled coordinates a (b = b0 + steps * a) to b.
    return l0, gradient / steps, information / jnp.outer(steps, steps)


def _gls(problem: _Problem, u: jax.Array, data: Data) -> tuple[jax.Array, ...]:
    """The ML and REML criteria at theta, the GLS estimate b(theta) and X'V^-1 X: one Newton
    step from b0 reaches the maximum in b exactly, the likelihood being quadratic in it."""
    beta0 = data["beta0"]
    p = beta0.shape[0]
    if p == 0:
        l0 = marginal_likelihood(_values(problem, u, beta0), data, problem.design, problem.plan)
        return l0, l0, beta0, jnp.zeros((0, 0))
    l0, gradient, information = _quadratic(problem, u, data)
    chol = jnp.linalg.cholesky(information)
    step = cho_solve((chol, True), gradient)
    ml = l0 + 0.5 * gradient @ step
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    reml = ml - 0.5 * log_det + 0.5 * p * math.log(2 * math.pi)
    return ml, reml, beta0 + step, information


def _minimise(
    criteria: Callable, data: Data, method: str, start: np.ndarray
) -> optimize.OptimizeResult:
    """L-BFGS-B on the negated criterion with central-difference gradients: the criterion
    compiles in about a third of the time of its autodiff gradient (seconds, on a CPU) and
    runs in well under a millisecond, so the extra evaluations cost nothing beside that."""
    which = ("ML", "REML").index(method)  # the order of `_gls`'s criteria

    def fun(u: np.ndarray) -> float:
        return -float(criteria(jnp.asarray(u), data)[which])

    # Central differences are good to ~1e-9 here: gtol 1e-6 puts the optimum within ~1e-6
    # (relative) of the exact one, far inside lme4's own ~1e-6 on the deviance.
    options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-6}
    return optimize.minimize(fun, start, jac="3-point", method="L-BFGS-B", options=options)


def _converged(result: optimize.OptimizeResult) -> bool:
    """L-BFGS-B's own test, or a gradient that is 0 to the precision of central differences
    (its line search can give up at the optimum with ftol this small)."""
    return bool(result.success) or float(np.max(np.abs(result.jac), initial=0.0)) < 1e-4


def _default_start(problem: _Problem) -> np.ndarray:
    """lme4's start: every sd equal to the residual sd (in units of its Z column), no
    correlation; sigma the OLS residual sd."""
    residual_sd = problem.residual_sd
    u = np.zeros(problem.dim)
    for b, where in problem.parts():
        if b.kind == "sd":
            z = problem.design.groups[b.term].z
            rms = np.sqrt(np.mean(z**2, axis=0))
            u[where] = np.log(residual_sd / np.where(rms > 0, rms, 1.0))
        elif b.kind == "aux" or b.name == "intercept_sigma":
            u[where] = math.log(residual_sd)
    return u


def _named_start(problem: _Problem, named: Mapping[str, float]) -> np.ndarray:
    """theta at brms-named values; a block with a value missing from `named`, or one off its
    range (an sd of 0), starts at lme4's start."""
    u = _default_start(problem)
    for b, where in problem.parts():
        try:
            value = _block_start(problem, b, named)
        except KeyError:
            continue
        if np.all(np.isfinite(value)):
            u[where] = value
    return u


def _block_start(problem: _Problem, block: Block, named: Mapping[str, float]) -> np.ndarray:
    design = problem.design
    if block.kind == "sd":
        g = design.groups[block.term]
        return np.log([named[sd_name(g.group, g.dpar, c)] for c in g.coefs])
    if block.kind == "aux":
        return np.log([named[block.name]])
    if block.kind == "cor":
        return _unconstrained_correlations(_correlation_matrix(design, block.term, named))
    coefs = np.array(
        [named[fixed_name(block.dpar, c)] for c in design.dpars[block.dpar].fixed.names]
    )
    if block.kind == "intercept":  # the centred intercept: b_Intercept + means @ b
        means = np.asarray(problem.data[f"means_{block.dpar}"])
        return np.array([named[fixed_name(block.dpar, "Intercept")] + means @ coefs])
    return coefs


def _correlation_matrix(design: Design, term: int, named: Mapping[str, float]) -> np.ndarray:
    coefs = design.groups[term].coefs
    group = design.groups[term].group
    k = len(coefs)
    corr = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            corr[i, j] = corr[j, i] = named[f"cor_{group}__{coefs[i]}__{coefs[j]}"]
    return corr


def _unconstrained_correlations(corr: np.ndarray) -> np.ndarray:
    """The inverse of `corr_cholesky`: `z[i, j] = L[i, j] / sqrt(1 - sum_{m<j} L[i, m]^2)`,
    then atanh; a matrix that is not positive definite starts at no correlation."""
    try:
        chol = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        chol = np.eye(len(corr))
    rows, cols = np.tril_indices(len(corr), -1)
    used = np.cumsum(chol**2, axis=1) - chol**2
    z = chol[rows, cols] / np.sqrt(np.maximum(1 - used[rows, cols], 1e-12))
    return np.arctanh(np.clip(z, -0.999999, 0.999999))


def _estimates(problem: _Problem, u: jax.Array, beta: jax.Array) -> dict[str, float]:
    """The optimum by brms name, in the order of the model's summary."""
    design, data = problem.design, problem.data
    values = _values(problem, u, beta)
    out: dict[str, jax.Array] = {}
    for dpar, d in design.dpars.items():
        if d.fixed.has_intercept:
            out[fixed_name(dpar, "Intercept")] = original_intercept(values, data, dpar)
        for k, coef in enumerate(d.fixed.names):
            out[fixed_name(dpar, coef)] = values.blocks[f"coefs_{dpar}"][k]
    for i, g in enumerate(design.groups):
        for k, coef in enumerate(g.coefs):
            out[sd_name(g.group, g.dpar, coef)] = values.blocks[f"sd_{i}"][k]
        if f"cor_{i}" in values.blocks:
            out.update(_correlations(values.blocks[f"cor_{i}"], design, i))
    for a in problem.model.family.sampled_aux(design.dpars):
        out[a.name] = values.blocks[a.name][0]
    return {name: float(v) for name, v in out.items()}


def _standard_errors(problem: _Problem, information: jax.Array) -> dict[str, float]:
    """sqrt(diag((X'V^-1 X)^-1)) for the mean's coefficients, the intercept's moved from the
    centred predictors back to the original ones (`b_Intercept = Intercept - means @ b`)."""
    mu = problem.design.dpars["mu"].fixed
    if not information.shape[0]:
        return {}
    cov = np.linalg.inv(np.asarray(information))
    names = [fixed_name("mu", c) for c in mu.names]
    if mu.has_intercept:
        to_original = np.eye(len(cov))
        to_original[0, 1:] = -np.asarray(mu.means)
        cov = to_original @ cov @ to_original.T
        names = [fixed_name("mu", "Intercept"), *names]
    return dict(zip(names, np.sqrt(np.diag(cov)).tolist(), strict=True))
