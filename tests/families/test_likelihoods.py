"""The pointwise log-likelihoods against scipy.stats, and their gradients at the edges."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import multilevel  # noqa: F401  (switches JAX to float64)
from multilevel.families._likelihoods import LOG_LIKELIHOODS, _log_beta

N = 512
# Every function is an exact float64 formula, as is scipy's. Their terms are at most ~1e3 in
# size (log-gammas, z^2/2), so rounding leaves ~1e3 * 2e-16 absolute: 1e-10 relative, with
# the same absolute floor for values near zero, is a thousand times that.
TOL = {"rtol": 1e-10, "atol": 1e-10}


def _positive(rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    return np.exp(rng.normal(0.0, scale, N))


def _probability(rng: np.random.Generator) -> np.ndarray:
    return special.expit(rng.normal(0.0, 1.5, N))


def _nbinom(mu: np.ndarray, shape: np.ndarray):
    return stats.nbinom(n=shape, p=shape / (shape + mu))


def _gaussian(rng):
    mu, sigma = rng.normal(0, 10, N), _positive(rng, 2)
    y = rng.normal(mu, 3 * sigma)
    return y, {"mu": mu, "sigma": sigma}, stats.norm.logpdf(y, mu, sigma)


def _student(rng):
    mu, sigma, nu = rng.normal(0, 10, N), _positive(rng, 2), 0.5 + _positive(rng, 2)
    y = mu + sigma * rng.standard_t(nu)
    return y, {"mu": mu, "sigma": sigma, "nu": nu}, stats.t.logpdf(y, nu, mu, sigma)


def _bernoulli(rng):
    mu = _probability(rng)
    y = rng.binomial(1, mu).astype(float)
    return y, {"mu": mu}, stats.bernoulli.logpmf(y, mu)


def _binomial(rng):
    mu, trials = _probability(rng), rng.integers(1, 500, N).astype(float)
    y = rng.binomial(trials.astype(int), mu).astype(float)
    return y, {"mu": mu, "trials": trials}, stats.binom.logpmf(y, trials, mu)


def _poisson(rng):
    mu = _positive(rng, 2)
    y = rng.poisson(mu).astype(float)
    return y, {"mu": mu}, stats.poisson.logpmf(y, mu)


def _negbinomial(rng):
    mu, shape = _positive(rng, 2), _positive(rng, 1.5)
    y = _nbinom(mu, shape).rvs(random_state=rng).astype(float)
    return y, {"mu": mu, "shape": shape}, _nbinom(mu, shape).logpmf(y)


def _gamma(rng):
    mu, shape = _positive(rng, 2), _positive(rng, 1.5)
    dist = stats.gamma(a=shape, scale=mu / shape)
    y = dist.rvs(random_state=rng)
    return y, {"mu": mu, "shape": shape}, dist.logpdf(y)


def _lognormal(rng):
    mu, sigma = rng.normal(0, 2, N), _positive(rng, 0.5)
    dist = stats.lognorm(s=sigma, scale=np.exp(mu))
    y = dist.rvs(random_state=rng)
    return y, {"mu": mu, "sigma": sigma}, dist.logpdf(y)


def _beta(rng):
    mu, phi = _probability(rng), _positive(rng, 1.5)
    y = np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-6, 1 - 1e-6)
    return y, {"mu": mu, "phi": phi}, stats.beta.logpdf(y, mu * phi, (1 - mu) * phi)


def _zero_inflated_poisson(rng):
    mu, zi = _positive(rng, 1), _probability(rng)
    y = np.where(rng.random(N) < zi, 0.0, rng.poisson(mu))
    expected = np.where(
        y == 0,
        np.log(zi + (1 - zi) * stats.poisson.pmf(0, mu)),
        np.log1p(-zi) + stats.poisson.logpmf(y, mu),
    )
    return y, {"mu": mu, "zi": zi}, expected


def _zero_inflated_negbinomial(rng):
    mu, shape, zi = _positive(rng, 1), _positive(rng, 1), _probability(rng)
    dist = _nbinom(mu, shape)
    y = np.where(rng.random(N) < zi, 0.0, dist.rvs(random_state=rng))
    expected = np.where(y == 0, np.log(zi + (1 - zi) * dist.pmf(0)), np.log1p(-zi) + dist.logpmf(y))
    return y, {"mu": mu, "shape": shape, "zi": zi}, expected


def _hurdle_poisson(rng):
    mu, hu = _positive(rng, 1), _probability(rng)
    y = np.where(rng.random(N) < hu, 0.0, 1 + rng.poisson(mu))
    positive = np.log1p(-hu) + stats.poisson.logpmf(y, mu) - stats.poisson.logsf(0, mu)
    return y, {"mu": mu, "hu": hu}, np.where(y == 0, np.log(hu), positive)


def _hurdle_negbinomial(rng):
    mu, shape, hu = _positive(rng, 1), _positive(rng, 1), _probability(rng)
    dist = _nbinom(mu, shape)
    y = np.where(rng.random(N) < hu, 0.0, 1 + rng.poisson(mu))
    positive = np.log1p(-hu) + dist.logpmf(y) - dist.logsf(0)
    return y, {"mu": mu, "shape": shape, "hu": hu}, np.where(y == 0, np.log(hu), positive)


def _hurdle_lognormal(rng):
    mu, sigma, hu = rng.normal(0, 2, N), _positive(rng, 0.5), _probability(rng)
    dist = stats.lognorm(s=sigma, scale=np.exp(mu))
    y = np.where(rng.random(N) < hu, 0.0, dist.rvs(random_state=rng))
    expected = np.where(y == 0, np.log(hu), np.log1p(-hu) + dist.logpdf(np.where(y > 0, y, 1)))
    return y, {"mu": mu, "sigma": sigma, "hu": hu}, expected


def _zero_one_inflated_beta(rng):
    mu, phi, zoi, coi = _probability(rng), _positive(rng, 1.5), _probability(rng), _probability(rng)
    inflated = rng.random(N) < zoi
    interior = np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-6, 1 - 1e-6)
    y = np.where(inflated, rng.binomial(1, coi), interior)
    log_beta = stats.beta.logpdf(interior, mu * phi, (1 - mu) * phi)
    expected = np.select(
        [y == 0, y == 1],
        [np.log(zoi * (1 - coi)), np.log(zoi * coi)],
        np.log1p(-zoi) + log_beta,
    )
    return y, {"mu": mu, "phi": phi, "zoi": zoi, "coi": coi}, expected


def _ordered_beta(rng):
    mu, phi = _probability(rng), _positive(rng, 1.5)
    cutzero = rng.normal(-2, 0.5, N)
    cutone = cutzero + _positive(rng, 0.5)
    eta = special.logit(mu)
    p_zero, p_one = 1 - special.expit(eta - cutzero), special.expit(eta - cutone)
    u = rng.random(N)
    interior = np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-6, 1 - 1e-6)
    y = np.where(u < p_zero, 0.0, np.where(u > 1 - p_one, 1.0, interior))
    log_middle = np.log(1 - p_zero - p_one) + stats.beta.logpdf(interior, mu * phi, (1 - mu) * phi)
    expected = np.select([y == 0, y == 1], [np.log(p_zero), np.log(p_one)], log_middle)
    return y, {"mu": mu, "phi": phi, "cutzero": cutzero, "cutone": cutone}, expected


def _category_probabilities(mu, disc, thresholds, cdf) -> np.ndarray:
    edges = np.concatenate([[-np.inf], thresholds, [np.inf]])
    return np.diff(cdf(disc[:, None] * (edges[None, :] - mu[:, None])), axis=1)


def _cumulative(cdf):
    def case(rng):
        thresholds = np.cumsum(rng.uniform(0.5, 2.0, 4)) - 3.0
        mu, disc = rng.normal(0, 1, N), _positive(rng, 0.3)
        probabilities = _category_probabilities(mu, disc, thresholds, cdf)
        y = np.array([rng.choice(5, p=row) for row in probabilities])
        params = {"mu": mu, "disc": disc, "thresholds": thresholds}
        return y.astype(float), params, np.log(probabilities[np.arange(N), y])

    return case


CASES = {
    "gaussian": _gaussian,
    "student": _student,
    "bernoulli": _bernoulli,
    "binomial": _binomial,
    "poisson": _poisson,
    "negbinomial": _negbinomial,
    "gamma": _gamma,
    "lognormal": _lognormal,
    "beta": _beta,
    "zero_inflated_poisson": _zero_inflated_poisson,
    "zero_inflated_negbinomial": _zero_inflated_negbinomial,
    "hurdle_poisson": _hurdle_poisson,
    "hurdle_negbinomial": _hurdle_negbinomial,
    "hurdle_lognormal": _hurdle_lognormal,
    "zero_one_inflated_beta": _zero_one_inflated_beta,
    "cumulative_logit": _cumulative(special.expit),
    "cumulative_probit": _cumulative(stats.norm.cdf),
    "ordered_beta": _ordered_beta,
}

PROBABILITY = [1e-12, 0.5, 1 - 1e-12]
COUNT_MEAN = [1e-8, 1.0, 1e6]
SHAPE = [1e-3, 1.0, 1e6]
SCALE = [1e-3, 1.0, 1e3]
COUNTS = [0.0, 1.0, 3.0, 50.0, 2000.0]
UNIT = [0.0, 1.0, 1e-6, 0.3, 1 - 1e-6]
CATEGORIES = [0.0, 1.0, 2.0, 4.0]

# Per family: data mixing zeros, ones and interior values, and a few extreme values of each
# parameter; every combination of them makes one row.
EDGES: dict[str, tuple[list[float], dict[str, list[float]]]] = {
    "gaussian": ([-1e3, 0.0, 1.0, 2.5], {"mu": [-1e3, 0.0, 1e3], "sigma": SCALE}),
    "student": (
        [-1e3, 0.0, 1.0, 2.5],
        {"mu": [-1e3, 0.0, 1e3], "sigma": SCALE, "nu": [1e-2, 1.0, 1e8]},
    ),
    "bernoulli": ([0.0, 1.0], {"mu": PROBABILITY}),
    "binomial": ([0.0, 1.0, 5.0, 10.0], {"mu": PROBABILITY}),
    "poisson": (COUNTS, {"mu": COUNT_MEAN}),
    "negbinomial": (COUNTS, {"mu": COUNT_MEAN, "shape": SHAPE}),
    "gamma": ([1e-3, 1.0, 2.5, 1e3], {"mu": [1e-8, 1.0, 1e8], "shape": SHAPE}),
    "lognormal": ([1e-3, 1.0, 2.5, 1e3], {"mu": [-20.0, 0.0, 20.0], "sigma": SCALE}),
    "beta": ([1e-6, 0.3, 1 - 1e-6], {"mu": PROBABILITY, "phi": SHAPE}),
    "zero_inflated_poisson": (COUNTS, {"mu": COUNT_MEAN, "zi": PROBABILITY}),
    "zero_inflated_negbinomial": (
        COUNTS,
        {"mu": COUNT_MEAN, "shape": SHAPE, "zi": PROBABILITY},
    ),
    "hurdle_poisson": (COUNTS, {"mu": COUNT_MEAN, "hu": PROBABILITY}),
    "hurdle_negbinomial": (COUNTS, {"mu": COUNT_MEAN, "shape": SHAPE, "hu": PROBABILITY}),
    "hurdle_lognormal": (
        [0.0, 1.0, 2.5, 1e3],
        {"mu": [-20.0, 0.0, 20.0], "sigma": SCALE, "hu": PROBABILITY},
    ),
    "zero_one_inflated_beta": (
        UNIT,
        {"mu": PROBABILITY, "phi": SHAPE, "zoi": PROBABILITY, "coi": PROBABILITY},
    ),
    "cumulative_logit": (CATEGORIES, {"mu": [-30.0, 0.0, 30.0], "disc": [1e-2, 1.0, 1e2]}),
    "cumulative_probit": (CATEGORIES, {"mu": [-30.0, 0.0, 30.0], "disc": [1e-2, 1.0, 1e2]}),
    "ordered_beta": (
        UNIT,
        {"mu": PROBABILITY, "phi": SHAPE, "cutzero": [-5.0, -0.5], "cutone": [1e-3, 5.0]},
    ),
}
FIXED = {"binomial": {"trials": 10.0}}
SHARED = {
    "cumulative_logit": {"thresholds": [-1.0, 0.0, 1.5, 3.0]},
    "cumulative_probit": {"thresholds": [-1.0, 0.0, 1.5, 3.0]},
}


def _as_jax(params: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return {name: jnp.asarray(value, dtype=jnp.float64) for name, value in params.items()}


def _split(params: dict[str, np.ndarray]) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """The parameters to differentiate, and the data among them (binomial's trials)."""
    free = {k: v for k, v in params.items() if k != "trials"}
    return _as_jax(free), _as_jax({k: v for k, v in params.items() if k == "trials"})


@functools.cache
def _rows_and_gradient(family: str) -> Callable:
    """(y, free, fixed) -> (log-likelihood rows, gradient of their sum w.r.t. free), jitted.

    One compiled program per family and shape serves the value, gradient and
    finite-difference tests: compiling gradients of lgamma-heavy code dominates the run time.
    """

    def total(free, y, fixed):
        rows = LOG_LIKELIHOODS[family](y, free | fixed)
        return jnp.sum(rows), rows

    gradient = jax.grad(total, has_aux=True)
    return jax.jit(lambda y, free, fixed: gradient(free, y, fixed)[::-1])


def test_table_covers_every_family():
    assert set(LOG_LIKELIHOODS) == set(CASES) == set(EDGES)


@pytest.mark.parametrize("family", sorted(CASES))
def test_matches_scipy(family):
    rng = np.random.default_rng(list(CASES).index(family))
    y, params, expected = CASES[family](rng)
    got, _ = _rows_and_gradient(family)(jnp.asarray(y), *_split(params))
    assert got.shape == y.shape
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), expected, **TOL)


@pytest.mark.parametrize("family", sorted(CASES))
def test_broadcasts_scalar_parameters(family):
    y, params, _ = CASES[family](np.random.default_rng(7))
    scalars = {k: v if k == "thresholds" else v[0] for k, v in params.items()}
    got = jax.jit(LOG_LIKELIHOODS[family])(jnp.asarray(y), _as_jax(scalars))
    rows = {k: v if k == "thresholds" else np.full(N, v[0]) for k, v in params.items()}
    full, _ = _rows_and_gradient(family)(jnp.asarray(y), *_split(rows))
    # XLA may turn a division by a scalar into a multiplication by its reciprocal: a few ulps.
    np.testing.assert_allclose(np.asarray(got), np.asarray(full), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("family", sorted(CASES))
def test_gradients_match_finite_differences(family):
    rng = np.random.default_rng(11)
    y, params, _ = CASES[family](rng)
    y, (free, fixed) = jnp.asarray(y), _split(params)
    rows_and_gradient = _rows_and_gradient(family)
    _, gradient = rows_and_gradient(y, free, fixed)
    step = 1e-7
    for name, value in free.items():
        # Relative to the value below 1, so that probabilities stay inside (0, 1).
        direction = np.minimum(np.abs(value), 1.0) * rng.normal(size=value.shape)

        def total(sign: float, name: str = name, direction: np.ndarray = direction) -> float:
            moved = free | {name: free[name] + sign * step * direction}
            return math.fsum(np.asarray(rows_and_gradient(y, moved, fixed)[0]))

        numeric = (total(1.0) - total(-1.0)) / (2 * step)
        exact = np.asarray(gradient[name]) * direction
        # Central differences: truncation ~(step / smallest scale, e.g. sigma = 1e-3)^2 = 1e-8
        # relative, rounding ~1e-16 * sum|rows| / step ~ 1e-5 absolute: both well below 1e-6
        # of the derivative's scale, sum|terms|, which is at least ~3 here.
        assert numeric == pytest.approx(exact.sum(), abs=1e-6 * np.abs(exact).sum()), name


@pytest.mark.parametrize("family", sorted(EDGES))
def test_gradients_finite_at_the_edges(family):
    data, grid = EDGES[family]
    combos = np.array(list(itertools.product(data, *grid.values())))
    assert len(combos) <= N
    # Tiled to N rows, to reuse the program compiled for test_matches_scipy.
    rows = np.resize(combos, (N, combos.shape[1]))
    free = _as_jax(
        {name: rows[:, i] for i, name in enumerate(grid, start=1)} | SHARED.get(family, {})
    )
    fixed = _as_jax({k: np.full(N, v) for k, v in FIXED.get(family, {}).items()})
    values, gradient = _rows_and_gradient(family)(jnp.asarray(rows[:, 0]), free, fixed)
    names = ["y", *grid]
    bad = ~np.isfinite(np.asarray(values))
    assert not bad.any(), (
        f"log-likelihood not finite at {dict(zip(names, rows[bad][0], strict=True))}"
    )
    for name, value in gradient.items():
        bad = ~np.isfinite(np.asarray(value))
        at = dict(zip(names, rows[bad][0], strict=True)) if name in grid and bad.any() else {}
        assert not bad.any(), f"d/d{name} not finite {at}"


@pytest.mark.parametrize("family", ["cumulative_logit", "cumulative_probit"])
def test_category_probabilities_sum_to_one(family):
    rng = np.random.default_rng(3)
    thresholds = jnp.asarray(np.cumsum(rng.uniform(0.1, 3.0, 6)) - 8.0)
    mu = jnp.asarray(np.concatenate([rng.normal(0, 3, 50), [-40.0, 40.0]]))
    disc = jnp.asarray(_positive(rng, 1)[: mu.size])
    categories = jnp.arange(7.0)[:, None]
    params = {"mu": mu, "disc": disc, "thresholds": thresholds}
    log_probabilities = jax.jit(LOG_LIKELIHOODS[family])(categories, params)
    assert np.all(np.isfinite(log_probabilities))
    # A sum of seven probabilities in float64: off by a few ulps at most.
    total = jax.scipy.special.logsumexp(log_probabilities, axis=0)
    np.testing.assert_allclose(np.asarray(total), 0.0, atol=1e-14)


@pytest.mark.parametrize("mu", [-40.0, 40.0])
@pytest.mark.parametrize(
    ("family", "log_cdf"),
    [("cumulative_logit", special.log_expit), ("cumulative_probit", special.log_ndtr)],
)
def test_cumulative_accurate_in_the_tails(family, log_cdf, mu):
    thresholds = np.array([-1.0, 0.0, 1.5])
    got = jax.jit(LOG_LIKELIHOODS[family])(
        jnp.arange(4.0), {"mu": jnp.asarray(mu), "thresholds": jnp.asarray(thresholds)}
    )
    # Far in the tails the cdfs round to 0 or 1: by symmetry, take both in the lower tail.
    at = log_cdf(np.sign(mu) * (np.concatenate([[-np.inf], thresholds, [np.inf]]) - mu))
    lo, hi = (at[:-1], at[1:]) if mu > 0 else (at[1:], at[:-1])
    expected = hi + np.log(-np.expm1(lo - hi))
    np.testing.assert_allclose(np.asarray(got), expected, **TOL)


@pytest.mark.parametrize(
    ("family", "limit", "params"),
    [
        ("negbinomial", "poisson", {"mu": [0.1, 3.0, 80.0], "shape": 1e15}),
        ("student", "gaussian", {"mu": [-2.0, 0.0, 5.0], "sigma": [0.5, 1.0, 3.0], "nu": 1e15}),
    ],
)
def test_large_shape_limits(family, limit, params):
    y = jnp.arange(40.0)[:, None]
    got = LOG_LIKELIHOODS[family](y, _as_jax(params))
    # The limits differ by O(y^2 / shape) < 1e-11, while an lgamma(1e15) ~ 3e16 would leave ~1.
    np.testing.assert_allclose(got, LOG_LIKELIHOODS[limit](y, _as_jax(params)), rtol=1e-9)


# B_2, B_4, ..., B_20, and pi to 50 digits.
BERNOULLI_NUMBERS = [Fraction(n, d) for n, d in [(1, 6), (-1, 30), (1, 42), (-1, 30), (5, 66)]] + [
    Fraction(n, d) for n, d in [(-691, 2730), (7, 6), (-3617, 510), (43867, 798), (-174611, 330)]
]
PI = Decimal("3.1415926535897932384626433832795028841971693993751")


def _decimal_lgamma(x: float) -> Decimal:
    """lgamma to ~40 digits: shift x above 40, then Stirling's series with 10 terms."""
    x, shift = Decimal(x), Decimal(0)
    while x < 40:
        shift, x = shift + x.ln(), x + 1
    value = (x - Decimal("0.5")) * x.ln() - x + (2 * PI).ln() / 2
    for k, b in enumerate(BERNOULLI_NUMBERS, start=1):
        value += Decimal(b.numerator) / (b.denominator * 2 * k * (2 * k - 1) * x ** (2 * k - 1))
    return value - shift


def test_log_beta_accurate_for_large_arguments():
    # scipy's betaln is off by ~1e-9 and jax's by ~1e-7 on this grid, hence a Decimal reference.
    grid = np.logspace(-3, 9, 13)
    a, b = (v.ravel() for v in np.meshgrid(grid, grid))
    with localcontext(prec=50):
        expected = [
            float(
                _decimal_lgamma(x) + _decimal_lgamma(y) - _decimal_lgamma(Decimal(x) + Decimal(y))
            )
            for x, y in zip(a, b, strict=True)
        ]
    got = np.asarray(_log_beta(jnp.asarray(a), jnp.asarray(b)))
    # The series is truncated below 1e-16 for arguments >= 10: a few ulps of max(1, |log B|).
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)
