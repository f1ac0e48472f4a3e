"""Prior log densities for the distributions of the prior language.

Arguments are static numbers, so each density is its kernel in JAX plus a normalising
constant computed once in Python: the traced program stays small, which is what sets
compile time. `tests/model/test_densities.py` checks every row against scipy.stats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from scipy import special

from ..priors import AssignedPrior

Kernel = Callable[..., jax.Array]

_LOG_PI = math.log(math.pi)


def _student_t_constant(nu: float, sd: float) -> float:
    return float(
        special.gammaln((nu + 1) / 2)
        - special.gammaln(nu / 2)
        - 0.5 * math.log(nu * math.pi * sd**2)
    )


def _normal(x, mu, sd):
    z = (x - mu) / sd
    return -0.5 * z * z - math.log(sd) - 0.5 * math.log(2 * math.pi)


def _student_t(x, nu, mu, sd):
    z = (x - mu) / sd
    return -(nu + 1) / 2 * jnp.log1p(z * z / nu) + _student_t_constant(nu, sd)


def _cauchy(x, mu, sd):
    z = (x - mu) / sd
    return -jnp.log1p(z * z) - math.log(sd) - _LOG_PI


def _gamma(x, shape, rate):
    return (shape - 1) * jnp.log(x) - rate * x + shape * math.log(rate) - special.gammaln(shape)


def _inv_gamma(x, shape, scale):
    return -(shape + 1) * jnp.log(x) - scale / x + shape * math.log(scale) - special.gammaln(shape)


LOG_DENSITIES: dict[str, Kernel] = {
    "normal": _normal,
    "student_t": _student_t,
    "cauchy": _cauchy,
    "half_normal": lambda x, sd: _normal(x, 0.0, sd) + math.log(2),
    "half_cauchy": lambda x, sd: _cauchy(x, 0.0, sd) + math.log(2),
    "half_student_t": lambda x, nu, sd: _student_t(x, nu, 0.0, sd) + math.log(2),
    "exponential": lambda x, rate: math.log(rate) - rate * x,
    "gamma": _gamma,
    "inv_gamma": _inv_gamma,
    "beta": lambda x, a, b: (a - 1) * jnp.log(x) + (b - 1) * jnp.log1p(-x) - special.betaln(a, b),
    "logistic": lambda x, mu, s: (
        -jnp.abs(x - mu) / s - 2 * jnp.log1p(jnp.exp(-jnp.abs(x - mu) / s)) - math.log(s)
    ),
    "uniform": lambda x, lo, hi: jnp.full_like(x, -math.log(hi - lo)),
    "flat": lambda x: jnp.zeros_like(x),
}

_CDF: dict[str, Callable[..., float]] = {
    "normal": lambda q, mu, sd: special.ndtr((q - mu) / sd),
    "student_t": lambda q, nu, mu, sd: special.stdtr(nu, (q - mu) / sd),
    "cauchy": lambda q, mu, sd: 0.5 + math.atan((q - mu) / sd) / math.pi,
    "logistic": lambda q, mu, s: special.expit((q - mu) / s),
    "gamma": lambda q, shape, rate: special.gammainc(shape, rate * q) if q > 0 else 0.0,
}


def prior_log_density(prior: AssignedPrior, x: jax.Array) -> jax.Array:
    """Log prior density of the parameter values `x` (before any `^power`), summed.

    A prior on `x^p` adds the Jacobian `log|p| + (p - 1) log x`; a real-line distribution
    on a positive parameter is truncated at 0 and renormalised, as brms does for sds.
    """
    spec = prior.spec
    power = spec.power
    target = x if power == 1 else x**power
    lp = LOG_DENSITIES[spec.dist](target, *spec.args)
    if power != 1:
        lp = lp + math.log(abs(power)) + (power - 1) * jnp.log(x)
    return jnp.sum(lp) - x.size * truncation_log_mass(prior)


def _power(x: float, p: int) -> float:
    """x**p on [0, inf], with 0**-2 = inf and inf**-2 = 0."""
    if x == 0 and p < 0:
        return math.inf
    return x**p


def truncation_log_mass(prior: AssignedPrior) -> float:
    """log P(lower < x^p < upper) under the prior, for distributions on the real line."""
    spec = prior.spec
    if spec.dist not in _CDF or (math.isinf(prior.lower) and math.isinf(prior.upper)):
        return 0.0
    lo, hi = sorted(_power(bound, spec.power) for bound in (prior.lower, prior.upper))
    mass = _CDF[spec.dist](hi, *spec.args) - _CDF[spec.dist](lo, *spec.args)
    return math.log(mass)
