"""Expected values and random draws of brms's response families, in pure JAX.

`MEANS[name](params)` is the expected response of each row, as brms's `posterior_epred`
defines it (for ordinal families: the category probabilities, rows x K); `RANDOMS[name](key,
params)` is one draw of the response per row, coded as the likelihood takes `y` (floats;
ordinal categories as codes 0..K-1). `params` is what `log_likelihood` reads (see
`_likelihoods`): scalars or per-row arrays, broadcast against each other. Both are jittable
and vmappable over keys and parameter draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn import sigmoid

from ._likelihoods import cumulative_logit, cumulative_probit

Params = dict[str, jax.Array]
Mean = Callable[[Params], jax.Array]
Random = Callable[[jax.Array, Params], jax.Array]

_LOG_2 = math.log(2.0)


def _rows(p: Params, *names: str) -> tuple[int, ...]:
    """The rows' shape: the named parameters broadcast against each other."""
    return jnp.broadcast_shapes(*(jnp.shape(p[name]) for name in names))


def _per_row(value: jax.Array, size: tuple[int, ...]) -> jax.Array:
    return jnp.broadcast_to(value, size).astype(float)


# Every sampler draws `size` values, one per row, even where its own parameters are
# scalars (a per-row zi with one mu still needs a count per row). jax.random's loop-based
# samplers (log-gamma, poisson, binomial) get parameters of that full shape, so that one
# compiled program serves every family when they run op by op.


def _log_gamma(key: jax.Array, shape: jax.Array, size: tuple[int, ...]) -> jax.Array:
    """log of gamma(shape, 1) draws: small shapes' draws underflow only on the log scale."""
    return jax.random.loggamma(key, _per_row(shape, size))


def _gamma(key: jax.Array, shape: jax.Array, scale: jax.Array, size) -> jax.Array:
    return jnp.exp(_log_gamma(key, shape, size) + jnp.log(scale))


def _poisson(key: jax.Array, rate: jax.Array, size: tuple[int, ...]) -> jax.Array:
    return jax.random.poisson(key, _per_row(rate, size)).astype(float)


def _beta(key: jax.Array, mu: jax.Array, phi: jax.Array, size: tuple[int, ...]) -> jax.Array:
    """beta(mu phi, (1 - mu) phi) as g_a / (g_a + g_b), from the gammas' logs."""
    k_a, k_b = jax.random.split(key)
    log_a, log_b = _log_gamma(k_a, mu * phi, size), _log_gamma(k_b, (1 - mu) * phi, size)
    return sigmoid(log_a - log_b)


def _lognormal(key: jax.Array, mu: jax.Array, sigma: jax.Array, size) -> jax.Array:
    return jnp.exp(mu + sigma * jax.random.normal(key, size))


def _negbinomial(key: jax.Array, mu: jax.Array, shape: jax.Array, size) -> jax.Array:
    """negbinomial(mu, shape) as poisson(gamma(shape, scale = mu / shape))."""
    k_rate, k_count = jax.random.split(key)
    return _poisson(k_count, _gamma(k_rate, shape, mu / shape, size), size)


def _positive_poisson(key: jax.Array, mu: jax.Array, size: tuple[int, ...]) -> jax.Array:
    """poisson(mu) given y > 0, exactly and without rejection.

    A poisson(mu) count is the number of events of a rate-mu process on [0, 1]. Given at
    least one, the first event's time t has density mu exp(-mu t) / (1 - exp(-mu)) on [0, 1]
    (drawn by inversion), and the events after it are poisson(mu (1 - t)).
    """
    k_first, k_rest = jax.random.split(key)
    u = jax.random.uniform(k_first, size)
    rest = mu + jnp.log1p(u * jnp.expm1(-mu))  # mu (1 - t)
    return 1 + _poisson(k_rest, jnp.maximum(rest, 0.0), size)


def _positive_negbinomial(key: jax.Array, mu: jax.Array, shape: jax.Array, size) -> jax.Array:
    """negbinomial(mu, shape) given y > 0, exactly and without rejection.

    As `_positive_poisson`, with the process's rate lambda ~ gamma(shape, rate b = shape / mu).
    Given at least one event, the first event's time t and lambda have joint density
    proportional to lambda^shape exp(-lambda (b + t)): t has density proportional to
    (b + t)^-(shape + 1) on [0, 1] (drawn by inversion), then lambda | t ~ gamma(shape + 1,
    rate b + t), and the events after t are poisson(lambda (1 - t)).
    """
    k_first, k_rate, k_rest = jax.random.split(key, 3)
    b = shape / mu
    u = jax.random.uniform(k_first, size)
    log_p0 = -shape * jnp.log1p(mu / shape)  # negbinomial(0 | mu, shape)
    t = jnp.clip(b * jnp.expm1(-jnp.log1p(u * jnp.expm1(log_p0)) / shape), 0.0, 1.0)
    rate = _gamma(k_rate, shape + 1, 1 / (b + t), size)
    return 1 + _poisson(k_rest, rate * (1 - t), size)


def _inflate(key: jax.Array, probability: jax.Array, value: float, draw: jax.Array) -> jax.Array:
    """`value` with `probability`, else `draw`."""
    return jnp.where(jax.random.bernoulli(key, probability, draw.shape), value, draw)


def gaussian_mean(p: Params) -> jax.Array:
    """mu.

    Example:
        >>> gaussian_mean({"mu": 1.0, "sigma": jnp.array([1.0, 2.0])}).tolist()
        [1.0, 1.0]
    """
    return _per_row(p["mu"], _rows(p, "mu", "sigma"))


def gaussian_random(key: jax.Array, p: Params) -> jax.Array:
    return p["mu"] + p["sigma"] * jax.random.normal(key, _rows(p, "mu", "sigma"))


def student_mean(p: Params) -> jax.Array:
    """mu (brms's, also where nu <= 1 leaves the mean undefined)."""
    return _per_row(p["mu"], _rows(p, "mu", "sigma", "nu"))


def student_random(key: jax.Array, p: Params) -> jax.Array:
    """mu + sigma z / sqrt(chi2_nu / nu), chi2_nu = 2 gamma(nu / 2), on the log scale."""
    nu, size = p["nu"], _rows(p, "mu", "sigma", "nu")
    k_normal, k_gamma = jax.random.split(key)
    log_chi2 = _LOG_2 + _log_gamma(k_gamma, nu / 2, size)
    t = jax.random.normal(k_normal, size) * jnp.exp((jnp.log(nu) - log_chi2) / 2)
    return p["mu"] + p["sigma"] * t


def bernoulli_mean(p: Params) -> jax.Array:
    return _per_row(p["mu"], _rows(p, "mu"))


def bernoulli_random(key: jax.Array, p: Params) -> jax.Array:
    return jax.random.bernoulli(key, p["mu"]).astype(float)


def binomial_mean(p: Params) -> jax.Array:
    """trials * mu.

    Example:
        >>> binomial_mean({"mu": jnp.array([0.2, 0.5]), "trials": jnp.array([10.0, 4.0])})
        Array([2., 2.], dtype=float64)
    """
    return _per_row(p["trials"] * p["mu"], _rows(p, "mu", "trials"))


def binomial_random(key: jax.Array, p: Params) -> jax.Array:
    size = _rows(p, "mu", "trials")
    draws = jax.random.binomial(key, _per_row(p["trials"], size), _per_row(p["mu"], size))
    return draws.astype(float)


def poisson_mean(p: Params) -> jax.Array:
    return _per_row(p["mu"], _rows(p, "mu"))


def poisson_random(key: jax.Array, p: Params) -> jax.Array:
    return _poisson(key, p["mu"], _rows(p, "mu"))


def negbinomial_mean(p: Params) -> jax.Array:
    return _per_row(p["mu"], _rows(p, "mu", "shape"))


def negbinomial_random(key: jax.Array, p: Params) -> jax.Array:
    return _negbinomial(key, p["mu"], p["shape"], _rows(p, "mu", "shape"))


def gamma_mean(p: Params) -> jax.Array:
    return _per_row(p["mu"], _rows(p, "mu", "shape"))


def gamma_random(key: jax.Array, p: Params) -> jax.Array:
    shape = p["shape"]
    return _gamma(key, shape, p["mu"] / shape, _rows(p, "mu", "shape"))


def lognormal_mean(p: Params) -> jax.Array:
    """exp(mu + sigma^2 / 2), mu being the mean of log y.

    Example:
        >>> float(lognormal_mean({"mu": 0.0, "sigma": 2.0}))  # e^2
        7.38905609893065
    """
    return _per_row(jnp.exp(p["mu"] + p["sigma"] ** 2 / 2), _rows(p, "mu", "sigma"))


def lognormal_random(key: jax.Array, p: Params) -> jax.Array:
    return _lognormal(key, p["mu"], p["sigma"], _rows(p, "mu", "sigma"))


def beta_mean(p: Params) -> jax.Array:
    return _per_row(p["mu"], _rows(p, "mu", "phi"))


def beta_random(key: jax.Array, p: Params) -> jax.Array:
    return _beta(key, p["mu"], p["phi"], _rows(p, "mu", "phi"))


def zero_inflated_poisson_mean(p: Params) -> jax.Array:
    """(1 - zi) * mu."""
    return _per_row((1 - p["zi"]) * p["mu"], _rows(p, "mu", "zi"))


def zero_inflated_poisson_random(key: jax.Array, p: Params) -> jax.Array:
    k_zero, k_count = jax.random.split(key)
    counts = _poisson(k_count, p["mu"], _rows(p, "mu", "zi"))
    return _inflate(k_zero, p["zi"], 0.0, counts)


def zero_inflated_negbinomial_mean(p: Params) -> jax.Array:
    """(1 - zi) * mu."""
    return _per_row((1 - p["zi"]) * p["mu"], _rows(p, "mu", "shape", "zi"))


def zero_inflated_negbinomial_random(key: jax.Array, p: Params) -> jax.Array:
    k_zero, k_count = jax.random.split(key)
    counts = _negbinomial(k_count, p["mu"], p["shape"], _rows(p, "mu", "shape", "zi"))
    return _inflate(k_zero, p["zi"], 0.0, counts)


def hurdle_poisson_mean(p: Params) -> jax.Array:
    """(1 - hu) * mu / (1 - exp(-mu)).

    Example:
        >>> round(float(hurdle_poisson_mean({"mu": 1e-9, "hu": 0.5})), 6)  # the positives are 1s
        0.5
    """
    mu = p["mu"]
    return _per_row((1 - p["hu"]) * mu / -jnp.expm1(-mu), _rows(p, "mu", "hu"))


def hurdle_poisson_random(key: jax.Array, p: Params) -> jax.Array:
    k_zero, k_count = jax.random.split(key)
    counts = _positive_poisson(k_count, p["mu"], _rows(p, "mu", "hu"))
    return _inflate(k_zero, p["hu"], 0.0, counts)


def hurdle_negbinomial_mean(p: Params) -> jax.Array:
    """(1 - hu) * mu / (1 - negbinomial(0 | mu, shape))."""
    mu, shape = p["mu"], p["shape"]
    mean = (1 - p["hu"]) * mu / -jnp.expm1(-shape * jnp.log1p(mu / shape))
    return _per_row(mean, _rows(p, "mu", "shape", "hu"))


def hurdle_negbinomial_random(key: jax.Array, p: Params) -> jax.Array:
    k_zero, k_count = jax.random.split(key)
    size = _rows(p, "mu", "shape", "hu")
    counts = _positive_negbinomial(k_count, p["mu"], p["shape"], size)
    return _inflate(k_zero, p["hu"], 0.0, counts)


def hurdle_lognormal_mean(p: Params) -> jax.Array:
    """(1 - hu) * exp(mu + sigma^2 / 2), mu being the mean of log y when y > 0."""
    mean = (1 - p["hu"]) * jnp.exp(p["mu"] + p["sigma"] ** 2 / 2)
    return _per_row(mean, _rows(p, "mu", "sigma", "hu"))


def hurdle_lognormal_random(key: jax.Array, p: Params) -> jax.Array:
    k_zero, k_positive = jax.random.split(key)
    size = _rows(p, "mu", "sigma", "hu")
    return _inflate(k_zero, p["hu"], 0.0, _lognormal(k_positive, p["mu"], p["sigma"], size))


def zero_one_inflated_beta_mean(p: Params) -> jax.Array:
    """zoi * coi + (1 - zoi) * mu."""
    zoi = p["zoi"]
    mean = zoi * p["coi"] + (1 - zoi) * p["mu"]
    return _per_row(mean, _rows(p, "mu", "phi", "zoi", "coi"))


def zero_one_inflated_beta_random(key: jax.Array, p: Params) -> jax.Array:
    """0 or 1 (1 with probability coi) with probability zoi, else beta(mu, phi)."""
    k_bound, k_one, k_interior = jax.random.split(key, 3)
    interior = _beta(k_interior, p["mu"], p["phi"], _rows(p, "mu", "phi", "zoi", "coi"))
    one = jax.random.bernoulli(k_one, p["coi"], interior.shape).astype(float)
    return jnp.where(jax.random.bernoulli(k_bound, p["zoi"], interior.shape), one, interior)


def _cumulative_mean(log_likelihood: Callable[[jax.Array, Params], jax.Array]) -> Mean:
    def mean(p: Params) -> jax.Array:
        """P(y = k) for k = 0..K-1, rows x K (brms's posterior_epred)."""
        disc = p.get("disc", 1.0)
        size = jnp.broadcast_shapes(jnp.shape(p["mu"]), jnp.shape(disc))
        by_row = {**p, "mu": _per_row(p["mu"], size)[..., None]}
        by_row["disc"] = _per_row(disc, size)[..., None]
        categories = jnp.arange(p["thresholds"].shape[-1] + 1)
        return jnp.exp(log_likelihood(categories, by_row))

    return mean


def _cumulative_random(noise: Callable[[jax.Array, tuple[int, ...]], jax.Array]) -> Random:
    def random(key: jax.Array, p: Params) -> jax.Array:
        """The code 0..K-1 of the interval between the thresholds that the latent
        mu + noise / disc falls in: P(y <= k) = F(disc (thr_k - mu))."""
        mu, disc = p["mu"], p.get("disc", 1.0)
        latent = mu + noise(key, jnp.broadcast_shapes(jnp.shape(mu), jnp.shape(disc))) / disc
        return jnp.sum(latent[..., None] > p["thresholds"], axis=-1).astype(float)

    return random


def ordered_beta_mean(p: Params) -> jax.Array:
    """P(y = 1) + P(0 < y < 1) * mu, as ordbetareg's posterior_epred.

    Example:
        >>> p = {"mu": 0.5, "phi": 4.0, "cutzero": -50.0, "cutone": 50.0}
        >>> round(float(ordered_beta_mean(p)), 12)  # no 0s or 1s: the beta's mean
        0.5
    """
    mu = p["mu"]
    eta = jnp.log(mu) - jnp.log1p(-mu)
    one = sigmoid(eta - p["cutone"])
    interior = sigmoid(eta - p["cutzero"]) - one
    return _per_row(one + interior * mu, _rows(p, "mu", "phi", "cutzero", "cutone"))


def ordered_beta_random(key: jax.Array, p: Params) -> jax.Array:
    """0 below cutzero, 1 above cutone, else beta(mu, phi), on a latent logit(mu) + logistic."""
    k_latent, k_interior = jax.random.split(key)
    mu, size = p["mu"], _rows(p, "mu", "phi", "cutzero", "cutone")
    interior = _beta(k_interior, mu, p["phi"], size)
    latent = jnp.log(mu) - jnp.log1p(-mu) + jax.random.logistic(k_latent, size)
    return jnp.where(latent < p["cutzero"], 0.0, jnp.where(latent > p["cutone"], 1.0, interior))


#: Keyed as `LOG_LIKELIHOODS`: a family's name, or `cumulative_<link>`.
MEANS: dict[str, Mean] = {
    "gaussian": gaussian_mean,
    "student": student_mean,
    "bernoulli": bernoulli_mean,
    "binomial": binomial_mean,
    "poisson": poisson_mean,
    "negbinomial": negbinomial_mean,
    "gamma": gamma_mean,
    "lognormal": lognormal_mean,
    "beta": beta_mean,
    "zero_inflated_poisson": zero_inflated_poisson_mean,
    "zero_inflated_negbinomial": zero_inflated_negbinomial_mean,
    "hurdle_poisson": hurdle_poisson_mean,
    "hurdle_negbinomial": hurdle_negbinomial_mean,
    "hurdle_lognormal": hurdle_lognormal_mean,
    "zero_one_inflated_beta": zero_one_inflated_beta_mean,
    "cumulative_logit": _cumulative_mean(cumulative_logit),
    "cumulative_probit": _cumulative_mean(cumulative_probit),
    "ordered_beta": ordered_beta_mean,
}

RANDOMS: dict[str, Random] = {
    "gaussian": gaussian_random,
    "student": student_random,
    "bernoulli": bernoulli_random,
    "binomial": binomial_random,
    "poisson": poisson_random,
    "negbinomial": negbinomial_random,
    "gamma": gamma_random,
    "lognormal": lognormal_random,
    "beta": beta_random,
    "zero_inflated_poisson": zero_inflated_poisson_random,
    "zero_inflated_negbinomial": zero_inflated_negbinomial_random,
    "hurdle_poisson": hurdle_poisson_random,
    "hurdle_negbinomial": hurdle_negbinomial_random,
    "hurdle_lognormal": hurdle_lognormal_random,
    "zero_one_inflated_beta": zero_one_inflated_beta_random,
    "cumulative_logit": _cumulative_random(jax.random.logistic),
    "cumulative_probit": _cumulative_random(jax.random.normal),
    "ordered_beta": ordered_beta_random,
}
