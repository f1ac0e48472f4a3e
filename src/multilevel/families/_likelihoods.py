"""Pointwise log-likelihoods of brms's response families, in pure JAX.

Every function takes the response `y` and a dict `p` of distributional parameters under
their brms names, already on their natural scale (the links are applied elsewhere) and
broadcastable against `y`, and returns the log-likelihood of each row with brms's
parametrisation. They are written to be accurate in float64 over the whole parameter space
and to have finite gradients wherever the log-likelihood is finite: where one branch of a
`jnp.where` would be infinite or NaN for the rows of another branch, its input is first
replaced by a harmless value (the "double where"), so that no NaN flows back through the
branch that is not taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn import log_sigmoid
from jax.scipy.special import gammaln, log_ndtr, xlog1py, xlogy

LogLikelihood = Callable[[jax.Array, dict[str, jax.Array]], jax.Array]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_2 = math.log(2.0)
_STIRLING_MIN = 10.0


def _stirling_remainder(x: jax.Array) -> jax.Array:
    """lgamma(x) - (x - 1/2) log(x) + x - log(2 pi) / 2, by its asymptotic series (x >= 10)."""
    t = 1 / (x * x)
    series = -691 / 360360 + t / 156
    for coefficient in (1 / 1188, -1 / 1680, 1 / 1260, -1 / 360, 1 / 12):
        series = coefficient + t * series
    return series / x


def _log_beta(a: jax.Array, b: jax.Array) -> jax.Array:
    """log B(a, b), with Stirling's series where lgamma(b) - lgamma(a + b) would cancel."""
    # jax.scipy.special.betaln is off by up to ~1e-6 once max(a, b) >= 8 (jax 0.10).
    a, b = jnp.minimum(a, b), jnp.maximum(a, b)
    small_b, small_a = b < _STIRLING_MIN, a < _STIRLING_MIN
    a_direct, b_direct = jnp.where(small_b, a, 1.0), jnp.where(small_b, b, 1.0)
    direct = gammaln(a_direct) + gammaln(b_direct) - gammaln(a_direct + b_direct)
    # For b >= 10: log B = head(a) + tail(a, b), head(a) = lgamma(a) + a - a log(a + b), with
    # Stirling's formula for lgamma(a) too once a >= 10.
    a, b = jnp.where(small_b, 1.0, a), jnp.where(small_b, _STIRLING_MIN, b)
    s = a + b
    tail = _stirling_remainder(b) - _stirling_remainder(s) - (b - 0.5) * jnp.log1p(a / b)
    a_lo, a_hi = jnp.where(small_a, a, 1.0), jnp.where(small_a, _STIRLING_MIN, a)
    head_lo = gammaln(a_lo) + a_lo * (1 - jnp.log(s))
    head_hi = (
        _HALF_LOG_2PI - a_hi * jnp.log1p(b / a_hi) - 0.5 * jnp.log(a_hi) + _stirling_remainder(a_hi)
    )
    return jnp.where(small_b, direct, jnp.where(small_a, head_lo, head_hi) + tail)


def _log1mexp(x: jax.Array) -> jax.Array:
    """log(1 - exp(x)) for x < 0, by expm1 near zero and log1p far from it (Mächler 2012)."""
    near = x > -_LOG_2
    x_near = jnp.where(near, x, -1.0)
    x_far = jnp.where(near, -1.0, x)
    return jnp.where(near, jnp.log(-jnp.expm1(x_near)), jnp.log1p(-jnp.exp(x_far)))


def _log_sigmoid_diff(lo: jax.Array, hi: jax.Array) -> jax.Array:
    """log(logistic(hi) - logistic(lo)) for lo < hi."""
    # logistic(hi) - logistic(lo) = logistic(hi) * logistic(-lo) * (1 - exp(lo - hi)).
    return log_sigmoid(hi) + log_sigmoid(-lo) + _log1mexp(lo - hi)


def _log_ndtr_diff(lo: jax.Array, hi: jax.Array) -> jax.Array:
    """log(Phi(hi) - Phi(lo)) for lo < hi."""
    # In the upper tail Phi rounds to 1, so use Phi(hi) - Phi(lo) = Phi(-lo) - Phi(-hi) there.
    upper = lo > 0
    lo, hi = jnp.where(upper, -hi, lo), jnp.where(upper, -lo, hi)
    log_hi = log_ndtr(hi)
    return log_hi + _log1mexp(log_ndtr(lo) - log_hi)


def _normal(y: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    z = (y - mu) / sigma
    return -0.5 * z * z - jnp.log(sigma) - _HALF_LOG_2PI


def _lognormal(y: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    log_y = jnp.log(y)
    return _normal(log_y, mu, sigma) - log_y


def _beta(y: jax.Array, mu: jax.Array, phi: jax.Array) -> jax.Array:
    a, b = mu * phi, (1 - mu) * phi
    return (a - 1) * jnp.log(y) + (b - 1) * jnp.log1p(-y) - _log_beta(a, b)


def _poisson(y: jax.Array, mu: jax.Array) -> jax.Array:
    return xlogy(y, mu) - mu - gammaln(y + 1)


def _negbinomial(y: jax.Array, mu: jax.Array, shape: jax.Array) -> jax.Array:
    # log C(y + shape - 1, y) as a log-beta: the gammaln form cancels badly for large shape.
    log_choose = -jnp.log(y + shape) - _log_beta(y + 1, shape)
    return log_choose - shape * jnp.log1p(mu / shape) - y * jnp.log1p(shape / mu)


def _negbinomial_zero(mu: jax.Array, shape: jax.Array) -> jax.Array:
    return -shape * jnp.log1p(mu / shape)


def _zero_inflated(y: jax.Array, log_p: jax.Array, zi: jax.Array) -> jax.Array:
    """zi + (1 - zi) * p(0) at y = 0 and (1 - zi) * p(y) elsewhere, given log p(y)."""
    log_rest = jnp.log1p(-zi) + log_p
    return jnp.where(y == 0, jnp.logaddexp(jnp.log(zi), log_rest), log_rest)


def _hurdle(y: jax.Array, log_p: jax.Array, log_p0: jax.Array, hu: jax.Array) -> jax.Array:
    """hu at y = 0 and (1 - hu) * p(y) / (1 - p(0)) elsewhere, given log p(y) and log p(0)."""
    return jnp.where(y == 0, jnp.log(hu), jnp.log1p(-hu) + log_p - _log1mexp(log_p0))


def _cumulative(
    y: jax.Array,
    p: dict[str, jax.Array],
    log_cdf: Callable[[jax.Array], jax.Array],
    log_cdf_diff: Callable[[jax.Array, jax.Array], jax.Array],
) -> jax.Array:
    """log(F(disc * (thr_y - mu)) - F(disc * (thr_{y-1} - mu))) for a symmetric cdf F."""
    thresholds, mu, disc = p["thresholds"], p["mu"], p.get("disc", 1.0)
    top = thresholds.shape[-1]
    k = jnp.asarray(y).astype(jnp.int32)
    lo = disc * (thresholds[jnp.clip(k - 1, 0, top - 1)] - mu)
    hi = disc * (thresholds[jnp.clip(k, 0, top - 1)] - mu)
    first, last = k == 0, k == top
    end = first | last
    inner = log_cdf_diff(jnp.where(end, -1.0, lo), jnp.where(end, 1.0, hi))
    return jnp.where(first, log_cdf(hi), jnp.where(last, log_cdf(-lo), inner))


def gaussian(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ normal(mu, sigma)."""
    return _normal(y, p["mu"], p["sigma"])


def student(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ student_t(nu, mu, sigma)."""
    nu = p["nu"]
    z = (y - p["mu"]) / p["sigma"]
    # gammaln((nu + 1) / 2) - gammaln(nu / 2) - log(pi) / 2 = -log B(1/2, nu / 2), which
    # does not cancel for large nu.
    log_norm = -_log_beta(0.5, 0.5 * nu) - 0.5 * jnp.log(nu) - jnp.log(p["sigma"])
    return log_norm - 0.5 * (nu + 1) * jnp.log1p(z * z / nu)


def bernoulli(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y in {0, 1} with P(y = 1) = mu."""
    mu = p["mu"]
    return xlogy(y, mu) + xlog1py(1 - y, -mu)


def binomial(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ binomial(trials, mu): C(trials, y) mu^y (1 - mu)^(trials - y)."""
    n, mu = p["trials"], p["mu"]
    # log C(n, y) = -log(n + 1) - log B(n - y + 1, y + 1), accurate for large n.
    log_choose = -jnp.log1p(n) - _log_beta(n - y + 1, y + 1)
    return log_choose + xlogy(y, mu) + xlog1py(n - y, -mu)


def binomial_counts(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """The binomial log-likelihood without log C(trials, y): for counts that rows with one
    mu were collapsed into, whose constant is added once (see design.collapse_rows)."""
    return xlogy(y, p["mu"]) + xlog1py(p["trials"] - y, -p["mu"])


def poisson(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ poisson(mu): mu^y exp(-mu) / y!."""
    return _poisson(y, p["mu"])


def negbinomial(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ neg_binomial_2(mu, shape): mean mu, variance mu + mu^2 / shape."""
    return _negbinomial(y, p["mu"], p["shape"])


def gamma(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ gamma(shape, rate = shape / mu): mean mu, variance mu^2 / shape."""
    shape = p["shape"]
    rate = shape / p["mu"]
    return shape * jnp.log(rate) - gammaln(shape) + (shape - 1) * jnp.log(y) - rate * y


def lognormal(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """log(y) ~ normal(mu, sigma); the density of y, with its -log(y)."""
    return _lognormal(y, p["mu"], p["sigma"])


def beta(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """y ~ beta(mu * phi, (1 - mu) * phi): mean mu, precision phi."""
    return _beta(y, p["mu"], p["phi"])


def zero_inflated_poisson(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = zi + (1 - zi) poisson(0 | mu), P(y > 0) = (1 - zi) poisson(y | mu)."""
    return _zero_inflated(y, _poisson(y, p["mu"]), p["zi"])


def zero_inflated_negbinomial(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = zi + (1 - zi) negbinomial(0 | mu, shape), P(y > 0) = (1 - zi) negbinomial(y)."""
    return _zero_inflated(y, _negbinomial(y, p["mu"], p["shape"]), p["zi"])


def hurdle_poisson(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = hu, P(y > 0) = (1 - hu) poisson(y | mu) / (1 - poisson(0 | mu))."""
    mu = p["mu"]
    return _hurdle(y, _poisson(y, mu), -mu, p["hu"])


def hurdle_negbinomial(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = hu, P(y > 0) = (1 - hu) negbinomial(y | mu, shape) / (1 - negbinomial(0))."""
    mu, shape = p["mu"], p["shape"]
    return _hurdle(y, _negbinomial(y, mu, shape), _negbinomial_zero(mu, shape), p["hu"])


def hurdle_lognormal(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = hu, density (1 - hu) lognormal(y | mu, sigma) for y > 0."""
    hu, positive = p["hu"], y > 0
    log_density = _lognormal(jnp.where(positive, y, 1.0), p["mu"], p["sigma"])
    return jnp.where(positive, jnp.log1p(-hu) + log_density, jnp.log(hu))


def zero_one_inflated_beta(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = zoi (1 - coi), P(1) = zoi coi, density (1 - zoi) beta(y | mu, phi) between."""
    zoi, coi = p["zoi"], p["coi"]
    interior = (y > 0) & (y < 1)
    log_bound = jnp.log(zoi) + jnp.where(y == 1, jnp.log(coi), jnp.log1p(-coi))
    log_density = jnp.log1p(-zoi) + _beta(jnp.where(interior, y, 0.5), p["mu"], p["phi"])
    return jnp.where(interior, log_density, log_bound)


def cumulative_logit(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(y = k) = logistic(disc (thr_k - mu)) - logistic(disc (thr_{k-1} - mu))."""
    return _cumulative(y, p, log_sigmoid, _log_sigmoid_diff)


def cumulative_probit(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(y = k) = Phi(disc (thr_k - mu)) - Phi(disc (thr_{k-1} - mu))."""
    return _cumulative(y, p, log_ndtr, _log_ndtr_diff)


def ordered_beta(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    """P(0) = 1 - logistic(eta - cutzero), P(1) = logistic(eta - cutone), the rest beta(mu, phi)."""
    mu = p["mu"]
    eta = jnp.log(mu) - jnp.log1p(-mu)
    lo, hi = eta - p["cutone"], eta - p["cutzero"]
    interior = (y > 0) & (y < 1)
    log_density = _log_sigmoid_diff(lo, hi) + _beta(jnp.where(interior, y, 0.5), mu, p["phi"])
    return jnp.where(y == 0, log_sigmoid(-hi), jnp.where(y == 1, log_sigmoid(lo), log_density))


LOG_LIKELIHOODS: dict[str, LogLikelihood] = {
    "gaussian": gaussian,
    "student": student,
    "bernoulli": bernoulli,
    "binomial": binomial,
    "poisson": poisson,
    "negbinomial": negbinomial,
    "gamma": gamma,
    "lognormal": lognormal,
    "beta": beta,
    "zero_inflated_poisson": zero_inflated_poisson,
    "zero_inflated_negbinomial": zero_inflated_negbinomial,
    "hurdle_poisson": hurdle_poisson,
    "hurdle_negbinomial": hurdle_negbinomial,
    "hurdle_lognormal": hurdle_lognormal,
    "zero_one_inflated_beta": zero_one_inflated_beta,
    "cumulative_logit": cumulative_logit,
    "cumulative_probit": cumulative_probit,
    "ordered_beta": ordered_beta,
}
