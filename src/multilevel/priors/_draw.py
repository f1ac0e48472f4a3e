"""Exact independent draws from the priors, for simulation-based calibration.

A prior is on the parameter raised to its power (`^2`: the variance, `^-2`: the precision),
truncated to the parameter's bounds; draws go through the inverse CDF between the bounds,
so truncation costs no rejection loop.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .._errors import PriorError
from ._assign import AssignedPrior

_SCIPY = {
    "normal": lambda mu, sd: stats.norm(mu, sd),
    "student_t": lambda nu, mu, sd: stats.t(nu, mu, sd),
    "cauchy": lambda mu, sd: stats.cauchy(mu, sd),
    "half_normal": lambda sd: stats.norm(0.0, sd),
    "half_cauchy": lambda sd: stats.cauchy(0.0, sd),
    "half_student_t": lambda nu, sd: stats.t(nu, 0.0, sd),
    "exponential": lambda rate: stats.expon(scale=1 / rate),
    "gamma": lambda shape, rate: stats.gamma(shape, scale=1 / rate),
    "inv_gamma": lambda shape, scale: stats.invgamma(shape, scale=scale),
    "beta": lambda a, b: stats.beta(a, b),
    "logistic": lambda mu, s: stats.logistic(mu, s),
    "uniform": lambda lo, hi: stats.uniform(lo, hi - lo),
}


def draw_prior(prior: AssignedPrior, rng: np.random.Generator, size: int = 1) -> np.ndarray:
    """`size` draws of the parameter (not its power) from `prior`, within its bounds.

    Example:
        >>> from multilevel.priors import PriorSpec
        >>> from multilevel.priors._assign import AssignedPrior, sd_slot
        >>> p = AssignedPrior(sd_slot("sd_g", "mu", "g", "x"),
        ...                   PriorSpec("sd_g", "normal", (0.0, 1.0)), "user", 0.0, np.inf)
        >>> bool(np.all(draw_prior(p, np.random.default_rng(1), 100) >= 0))
        True
    """
    spec = prior.spec
    if spec.dist not in _SCIPY:
        raise PriorError(
            f"cannot draw {prior.slot.name} from its prior {spec.describe()}: only proper "
            f"priors can be drawn ({', '.join(_SCIPY)}); give it one, e.g. "
            f"'{prior.slot.name} ~ normal(0, 1)'"
        )
    dist = _SCIPY[spec.dist](*spec.args)
    low, high = _power_bounds(prior.lower, prior.upper, spec.power)
    cdf_low, cdf_high = dist.cdf(low), dist.cdf(high)
    if not cdf_high > cdf_low:
        raise PriorError(
            f"the prior {spec.describe()} of {prior.slot.name} puts no mass within its "
            f"bounds [{prior.lower:g}, {prior.upper:g}]"
        )
    value = dist.ppf(rng.uniform(cdf_low, cdf_high, size))
    value = np.clip(value, low, high)
    if spec.power == 1:
        return value
    return value ** (1 / spec.power)


def _power_bounds(lower: float, upper: float, power: int) -> tuple[float, float]:
    """The bounds of the parameter's power: the variance or precision of a parameter >= 0."""
    if power == 1:
        return lower, upper
    with np.errstate(divide="ignore"):
        low, high = np.float64(max(lower, 0.0)) ** power, np.float64(upper) ** power
    return (low, high) if power > 0 else (high, low)


def draw_lkj_cholesky(eta: float, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The Cholesky factor of one correlation matrix from LKJ(eta), by the onion method
    (Lewandowski, Kurowicka and Joe 2009, section 3.2).

    Example:
        >>> L = draw_lkj_cholesky(2.0, 3, np.random.default_rng(0))
        >>> np.allclose(np.diag(L @ L.T), 1.0)
        True
    """
    if dim == 1:
        return np.ones((1, 1))
    beta = eta + (dim - 2) / 2
    r = 2 * rng.beta(beta, beta) - 1
    corr = np.array([[1.0, r], [r, 1.0]])
    for k in range(2, dim):
        beta -= 0.5
        y = rng.beta(k / 2, beta)
        u = rng.normal(size=k)
        w = np.sqrt(y) * u / np.linalg.norm(u)
        z = np.linalg.cholesky(corr) @ w
        corr = np.block([[corr, z[:, None]], [z[None, :], np.ones((1, 1))]])
    return np.linalg.cholesky(corr)
