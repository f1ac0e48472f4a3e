"""Every family's `random` and `mean` against its own log-likelihood, scipy and each other.

Two routes to one answer for each family: many draws of `random` against the pmf / density
that `log_likelihood` gives (chi-square, Kolmogorov-Smirnov, point-mass frequencies), and
`mean` against the likelihood's (or scipy's) expected value and against the draws' average.
Every draw comes from a fixed seed, so each test is deterministic; a p-value threshold of
1e-4 would fail a correct sampler for one seed in 10^4, and sample means are held to 5
standard errors (a two-sided normal tail of 6e-7).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import multilevel  # noqa: F401  (switches JAX to float64)
from multilevel.families import FAMILIES, get_family
from multilevel.families._predictive import MEANS, RANDOMS

ROWS = 3
#: Draws per row, made by one call of `random` on ROWS * DRAWS rows: 1.2e5 per family.
DRAWS = 40_000
#: For a correct sampler the p-values are uniform: see the module's docstring.
P_MIN = 1e-4
#: Sample means and frequencies within 5 standard errors: see the module's docstring.
SE = 5.0
#: The largest count whose likelihood is summed: every case's mass above it is below 1e-20
#: (the slowest tail, negbinomial(40, 0.7), falls by a factor e^-0.017 per count).
COUNT_MAX = 4000


@dataclass(frozen=True)
class Case:
    """One family with per-row parameters (length ROWS) or scalars.

    `kind`: "discrete" (support 0, 1, ...), "ordinal" (codes 0..K-1), "continuous", or
    "mixture" (point masses at `masses` and a continuous part in between). `continuous(row)`
    is scipy's distribution of the continuous part of one row, in brms's parametrisation.
    """

    family: str
    kind: str
    params: dict[str, float | np.ndarray]
    link: str | None = None
    continuous: Callable[[dict], stats.rv_continuous] | None = None
    masses: tuple[float, ...] = ()

    @property
    def name(self) -> str:
        return self.family + (f"_{self.link}" if self.link else "")


def _beta(p: dict):
    return stats.beta(p["mu"] * p["phi"], (1 - p["mu"]) * p["phi"])


def _lognormal(p: dict):
    return stats.lognorm(s=p["sigma"], scale=np.exp(p["mu"]))


def _a(*values: float) -> np.ndarray:
    return np.array(values)


THRESHOLDS = _a(-1.5, 0.0, 0.7, 2.5)
CASES = [
    Case(
        "gaussian",
        "continuous",
        {"mu": _a(-1, 0.5, 3), "sigma": _a(0.5, 1, 2)},
        continuous=lambda p: stats.norm(p["mu"], p["sigma"]),
    ),
    Case(
        "student",
        "continuous",
        {"mu": _a(0, 1, -2), "sigma": 1.5, "nu": _a(5, 10, 30)},
        continuous=lambda p: stats.t(df=p["nu"], loc=p["mu"], scale=p["sigma"]),
    ),
    Case("bernoulli", "discrete", {"mu": _a(0.1, 0.5, 0.93)}),
    Case("binomial", "discrete", {"mu": _a(0.2, 0.5, 0.9), "trials": _a(1, 10, 250)}),
    Case("poisson", "discrete", {"mu": _a(0.3, 4, 60)}),
    Case("negbinomial", "discrete", {"mu": _a(0.5, 5, 40), "shape": _a(0.7, 3, 50)}),
    Case(
        "gamma",
        "continuous",
        {"mu": 2.0, "shape": _a(0.8, 3, 20)},
        continuous=lambda p: stats.gamma(a=p["shape"], scale=p["mu"] / p["shape"]),
    ),
    Case(
        "lognormal",
        "continuous",
        {"mu": _a(-1, 0, 1.5), "sigma": _a(0.3, 0.8, 0.5)},
        continuous=_lognormal,
    ),
    Case("beta", "continuous", {"mu": _a(0.2, 0.5, 0.85), "phi": _a(2, 10, 60)}, continuous=_beta),
    Case("zero_inflated_poisson", "discrete", {"mu": 3.0, "zi": _a(0.1, 0.4, 0.7)}),
    Case(
        "zero_inflated_negbinomial",
        "discrete",
        {"mu": _a(0.5, 3, 20), "shape": 2.0, "zi": _a(0.1, 0.4, 0.7)},
    ),
    # mu = 0.05: nearly every positive count is a 1, where rejection sampling would crawl.
    Case("hurdle_poisson", "discrete", {"mu": _a(0.05, 2, 15), "hu": _a(0.2, 0.5, 0.8)}),
    Case(
        "hurdle_negbinomial",
        "discrete",
        {"mu": _a(0.1, 2, 15), "shape": _a(0.5, 2, 30), "hu": _a(0.2, 0.5, 0.8)},
    ),
    Case(
        "hurdle_lognormal",
        "mixture",
        {"mu": 0.5, "sigma": 0.7, "hu": _a(0.1, 0.5, 0.9)},
        continuous=_lognormal,
        masses=(0.0,),
    ),
    Case(
        "zero_one_inflated_beta",
        "mixture",
        {"mu": 0.3, "phi": 10.0, "zoi": _a(0.1, 0.3, 0.6), "coi": _a(0.2, 0.5, 0.9)},
        continuous=_beta,
        masses=(0.0, 1.0),
    ),
    Case(
        "cumulative",
        "ordinal",
        {"mu": _a(-1, 0, 2), "disc": _a(1, 0.5, 2), "thresholds": THRESHOLDS},
        link="logit",
        continuous=lambda p: stats.logistic,
    ),
    Case(
        "cumulative",
        "ordinal",
        {"mu": _a(-1, 0, 2), "disc": 1.0, "thresholds": THRESHOLDS},
        link="probit",
        continuous=lambda p: stats.norm,
    ),
    Case(
        "ordered_beta",
        "mixture",
        {"mu": _a(0.2, 0.5, 0.9), "phi": _a(3, 10, 30), "cutzero": -1.0, "cutone": 1.5},
        continuous=_beta,
        masses=(0.0, 1.0),
    ),
]
BY_NAME = {case.name: case for case in CASES}
NAMES = list(BY_NAME)


def _row(params: dict, r: int) -> dict:
    """Row r's parameters (thresholds are one vector for all rows)."""
    return {k: v if k == "thresholds" or np.ndim(v) == 0 else v[r] for k, v in params.items()}


def _jax(params: dict) -> dict:
    return {k: jnp.asarray(v, dtype=float) for k, v in params.items()}


def _full(params: dict) -> dict:
    """Every row's per-row parameters repeated DRAWS times: ROWS * DRAWS rows, row r's
    first; scalars stay scalars, so that `random` broadcasts them."""
    return {
        k: v if k == "thresholds" or np.ndim(v) == 0 else np.repeat(v, DRAWS)
        for k, v in params.items()
    }


def _support(case: Case) -> np.ndarray:
    """The values whose likelihood is computed: the whole support of a discrete family, up
    to where the rest has no mass to speak of, or the point masses of a mixture."""
    if case.kind == "ordinal":
        return np.arange(len(THRESHOLDS) + 1)
    if case.kind == "discrete":
        return np.arange(COUNT_MAX + 1)
    return np.array(case.masses)


@dataclass(frozen=True)
class Results:
    """ROWS x DRAWS draws and their log-likelihoods; the likelihood at `_support(case)`,
    ROWS x support; and `mean` for the ROWS rows."""

    draws: np.ndarray
    log_lik: np.ndarray
    probabilities: np.ndarray
    mean: np.ndarray


#: XLA's fastest compile: the checks' programs run once, on a few 10^5 values.
QUICK_COMPILE = {"xla_backend_optimization_level": 0}


@functools.cache
def _results(name: str) -> Results:
    """Draws of `random`, made outside jit: jax.random's loop-based samplers are then
    compiled once for all families (their parameters have one shape in every case), where a
    jitted program per family would take seconds to compile each; `test_jits_and_maps`
    traces the jitted, vmapped and mapped versions. The rest is one jitted program, with
    one log-likelihood of the draws and the support together."""
    case = BY_NAME[name]
    family = get_family(case.family, case.link)
    draws = family.random(jax.random.key(zlib.crc32(name.encode())), _jax(_full(case.params)))
    support = jnp.asarray(_support(case), dtype=float)

    @functools.partial(jax.jit, compiler_options=QUICK_COMPILE)
    def evaluate(draws, params):
        rows = {k: jnp.broadcast_to(v, (ROWS,)) for k, v in params.items() if k != "thresholds"}
        # Row r's parameters for each of its draws (laid out as `_full` does), then for each
        # support value.
        stacked = {
            k: jnp.concatenate([jnp.repeat(v, DRAWS), jnp.repeat(v, len(support))])
            for k, v in rows.items()
        }
        if "thresholds" in params:
            stacked["thresholds"] = params["thresholds"]
        y = jnp.tile(support, ROWS)
        top = stacked["trials"][draws.size :] if "trials" in stacked else jnp.inf
        if case.family == "bernoulli":
            top = 1.0
        log_lik = family.log_likelihood(jnp.concatenate([draws, jnp.minimum(y, top)]), stacked)
        at_support = jnp.exp(log_lik[draws.size :]) * (y <= top)
        return log_lik[: draws.size], at_support.reshape(ROWS, -1), family.mean(params)

    log_lik, probabilities, mean = evaluate(draws, _jax(case.params))
    shape = (ROWS, DRAWS)
    return Results(
        np.asarray(draws).reshape(shape),
        np.asarray(log_lik).reshape(shape),
        np.asarray(probabilities),
        np.asarray(mean),
    )


def _pmf(case: Case, r: int) -> np.ndarray:
    pmf = _results(case.name).probabilities[r]
    # The likelihood sums to 1 over its support (the rest < 1e-20), within float64 rounding.
    np.testing.assert_allclose(pmf.sum(), 1.0, rtol=1e-12)
    return pmf


def _chi_square(draws: np.ndarray, pmf: np.ndarray) -> float:
    """The p-value of the draws' counts against pmf, pooling the values expected < 5 times."""
    expected = len(draws) * pmf
    counts = np.bincount(draws.astype(int), minlength=len(pmf))
    assert len(counts) == len(pmf), "a draw beyond the support"
    kept = expected >= 5
    observed, wanted = list(counts[kept]), list(expected[kept])
    rest = expected[~kept].sum()
    if rest >= 5:
        observed.append(counts[~kept].sum())
        wanted.append(rest)
    else:  # too little to be a cell of its own: joined to the smallest cell
        smallest = int(np.argmin(wanted))
        observed[smallest] += counts[~kept].sum()
        wanted[smallest] += rest
    return stats.chisquare(observed, np.array(wanted) * sum(observed) / sum(wanted)).pvalue


def _check_mixture(case: Case, r: int) -> None:
    results, row = _results(case.name), _row(case.params, r)
    draws, log_lik, probabilities = results.draws[r], results.log_lik[r], results.probabilities[r]
    for value, p in zip(case.masses, probabilities, strict=True):
        hits = np.sum(draws == value)
        assert abs(hits - DRAWS * p) <= SE * np.sqrt(DRAWS * p * (1 - p)), (value, hits, p)
    inside = ~np.isin(draws, case.masses)
    interior, dist = draws[inside], case.continuous(row)
    # Between the masses the likelihood is the rest of the mass times scipy's density: one
    # float64 formula against another, so 1e-9 relative leaves ~1e6 ulps.
    expected = np.log1p(-probabilities.sum()) + dist.logpdf(interior)
    np.testing.assert_allclose(log_lik[inside], expected, rtol=1e-9, atol=1e-9)
    assert stats.kstest(interior, dist.cdf).pvalue > P_MIN


def _check_continuous(case: Case, r: int) -> None:
    results, dist = _results(case.name), case.continuous(_row(case.params, r))
    draws = results.draws[r]
    # scipy's density is the likelihood's (float64 against float64, as above), so the KS
    # test against scipy's cdf checks the draws against the likelihood.
    np.testing.assert_allclose(results.log_lik[r], dist.logpdf(draws), rtol=1e-9, atol=1e-9)
    assert stats.kstest(draws, dist.cdf).pvalue > P_MIN


def test_every_family_has_mean_and_random():
    for family in FAMILIES.values():
        assert callable(family.mean) and callable(family.random), family.name
    assert {case.family for case in CASES} == set(FAMILIES)
    probit = get_family("cumulative", link="probit")
    assert probit.mean is MEANS["cumulative_probit"]
    assert probit.random is RANDOMS["cumulative_probit"]
    assert get_family("gamma", link="log").random is RANDOMS["gamma"]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_broadcast(name):
    """Scalar auxiliary parameters broadcast against a per-row mu, and per-row ones against
    a scalar mu; draws are float64 like the checked response (traced only, not compiled)."""
    case = BY_NAME[name]
    family = get_family(case.family, case.link)
    n, scalars = 5, _row(case.params, 1)
    per_row_mu = {**scalars, "mu": np.full(n, scalars["mu"])}
    fixed = ("mu", "thresholds")
    per_row_rest = {k: v if k in fixed else np.full(n, v) for k, v in scalars.items()}
    if set(per_row_rest) <= set(fixed):  # mu is all there is
        per_row_rest = per_row_mu
    for params in (per_row_mu, per_row_rest):
        draws = jax.eval_shape(family.random, jax.random.key(0), _jax(params))
        assert (draws.shape, draws.dtype) == ((n,), jnp.float64)
        means = jax.eval_shape(family.mean, _jax(params))
        assert means.shape == ((n, len(THRESHOLDS) + 1) if family.ordinal else (n,))


@pytest.mark.parametrize("name", NAMES)
def test_jits_and_maps(name):
    """As a posterior predictive calls them: jitted, under lax.map over draws of every
    parameter, and vmapped over keys and parameters (traced, not compiled: see `_results`)."""
    case = BY_NAME[name]
    family = get_family(case.family, case.link)
    draws = 7
    stacked = {k: jnp.stack([jnp.asarray(v, dtype=float)] * draws) for k, v in case.params.items()}
    keys = jax.random.split(jax.random.key(0), draws)

    def predictive(keys, stacked):
        return jax.lax.map(lambda a: (family.random(*a), family.mean(a[1])), (keys, stacked))

    mapped = jax.eval_shape(jax.jit(predictive), keys, stacked)
    vmapped = jax.eval_shape(jax.jit(jax.vmap(family.random)), keys, stacked)
    means = (draws, ROWS, len(THRESHOLDS) + 1) if family.ordinal else (draws, ROWS)
    assert mapped[0].shape == vmapped.shape == (draws, ROWS)
    assert mapped[1].shape == means


@pytest.mark.parametrize("name", NAMES)
def test_draws_follow_the_likelihood(name):
    case = BY_NAME[name]
    results = _results(name)
    # In the likelihood's coding, every draw is in the support.
    assert np.all(np.isfinite(results.log_lik))
    for r in range(ROWS):
        if case.kind in ("discrete", "ordinal"):
            assert _chi_square(results.draws[r], _pmf(case, r)) > P_MIN, r
        elif case.kind == "mixture":
            _check_mixture(case, r)
        else:
            _check_continuous(case, r)


@functools.cache
def _density(family: str) -> Callable:
    """exp(log_likelihood) of one y, jitted once per family for quad."""
    return jax.jit(lambda y, params: jnp.exp(get_family(family).log_likelihood(y, params)))


def _mixture_mean(case: Case, r: int) -> float:
    """The masses' values times their probabilities, plus the integral of y times the
    likelihood's density in between."""
    row = _row(case.params, r)
    low, high = case.continuous(row).support()
    density, params = _density(case.family), _jax(row)
    interior, _ = integrate.quad(lambda y: y * float(density(y, params)), low, high, epsrel=1e-11)
    return float(np.dot(case.masses, _results(case.name).probabilities[r])) + interior


def _expected(case: Case, r: int) -> np.ndarray:
    """The mean by another route than `mean`'s formula."""
    row = _row(case.params, r)
    if case.kind == "ordinal":
        latent = case.continuous(row)
        cdf = latent.cdf(row["disc"] * (row["thresholds"] - row["mu"]))
        return np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    if case.kind == "discrete":
        pmf = _pmf(case, r)
        return np.dot(np.arange(len(pmf)), pmf)
    if case.kind == "mixture":
        return _mixture_mean(case, r)
    return case.continuous(row).mean()


@pytest.mark.parametrize("name", NAMES)
def test_mean_is_the_expected_value(name):
    case = BY_NAME[name]
    means = _results(name).mean
    for r in range(ROWS):
        # Closed forms and scipy's, or sums over the support (mass left out < 1e-20, rounding
        # ~1e-13), or quad at epsrel 1e-11: 1e-9 relative is a hundred times the worst.
        np.testing.assert_allclose(means[r], _expected(case, r), rtol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_mean_is_the_average_draw(name):
    case = BY_NAME[name]
    results = _results(name)
    draws, means = results.draws, results.mean
    if case.kind == "ordinal":  # the category frequencies against the probabilities
        frequencies = np.stack([np.mean(draws == k, axis=1) for k in range(means.shape[1])], 1)
        np.testing.assert_array_less(
            np.abs(frequencies - means), SE * np.sqrt(means * (1 - means) / DRAWS)
        )
        return
    standard_error = draws.std(axis=1) / np.sqrt(DRAWS)
    np.testing.assert_array_less(np.abs(draws.mean(axis=1) - means), SE * standard_error)
