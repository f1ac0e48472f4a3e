"""Prior log densities against scipy.stats, powers (Jacobians) and truncation."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from multilevel.model._densities import LOG_DENSITIES, prior_log_density, truncation_log_mass
from multilevel.priors import DISTRIBUTIONS, PriorSpec, assign_priors, fixed_slot, sd_slot


def _pos(rng, size=None):
    """Positive values spread over a few orders of magnitude."""
    return np.exp(rng.uniform(-2.0, 2.0, size))


# name -> (draw arguments, draw x given arguments, scipy log density); r is a Generator
REFERENCE = {
    "normal": (
        lambda r: (r.normal(0, 5), _pos(r)),
        lambda r, a, n: r.normal(a[0], 3 * a[1], n),
        lambda x, mu, sd: stats.norm.logpdf(x, mu, sd),
    ),
    "student_t": (
        lambda r: (_pos(r) * 3, r.normal(0, 5), _pos(r)),
        lambda r, a, n: r.normal(a[1], 3 * a[2], n),
        lambda x, nu, mu, sd: stats.t.logpdf(x, nu, mu, sd),
    ),
    "cauchy": (
        lambda r: (r.normal(0, 5), _pos(r)),
        lambda r, a, n: r.normal(a[0], 3 * a[1], n),
        lambda x, mu, sd: stats.cauchy.logpdf(x, mu, sd),
    ),
    "half_normal": (
        lambda r: (_pos(r),),
        lambda r, a, n: _pos(r, n) * a[0],
        lambda x, sd: stats.halfnorm.logpdf(x, scale=sd),
    ),
    "half_cauchy": (
        lambda r: (_pos(r),),
        lambda r, a, n: _pos(r, n) * a[0],
        lambda x, sd: stats.halfcauchy.logpdf(x, scale=sd),
    ),
    "half_student_t": (
        lambda r: (_pos(r) * 3, _pos(r)),
        lambda r, a, n: _pos(r, n) * a[1],
        # scipy has no half-t: twice the t density on x > 0.
        lambda x, nu, sd: np.log(2 * stats.t.pdf(x, nu, 0, sd)),
    ),
    "exponential": (
        lambda r: (_pos(r),),
        lambda r, a, n: _pos(r, n) / a[0],
        lambda x, rate: stats.expon.logpdf(x, scale=1 / rate),
    ),
    "gamma": (
        lambda r: (_pos(r) * 2, _pos(r)),
        lambda r, a, n: _pos(r, n),
        lambda x, shape, rate: stats.gamma.logpdf(x, a=shape, scale=1 / rate),
    ),
    "inv_gamma": (
        lambda r: (_pos(r) * 2, _pos(r)),
        lambda r, a, n: _pos(r, n),
        lambda x, shape, scale: stats.invgamma.logpdf(x, a=shape, scale=scale),
    ),
    "beta": (
        lambda r: (_pos(r) * 2, _pos(r) * 2),
        lambda r, a, n: r.uniform(0.001, 0.999, n),
        lambda x, a, b: stats.beta.logpdf(x, a, b),
    ),
    "logistic": (
        lambda r: (r.normal(0, 5), _pos(r)),
        lambda r, a, n: r.normal(a[0], 3 * a[1], n),
        lambda x, mu, s: stats.logistic.logpdf(x, mu, s),
    ),
    "uniform": (
        lambda r: tuple(np.sort(r.normal(0, 5, 2))),
        lambda r, a, n: r.uniform(a[0], a[1], n),
        lambda x, lo, hi: stats.uniform.logpdf(x, loc=lo, scale=hi - lo),
    ),
    "flat": (
        lambda r: (),
        lambda r, a, n: r.normal(0, 100, n),
        lambda x: np.zeros_like(x),
    ),
}


def test_every_density_has_a_reference():
    assert set(REFERENCE) == set(LOG_DENSITIES)
    # lkj is the only distribution of the language not handled elementwise (see transforms).
    assert set(LOG_DENSITIES) == set(DISTRIBUTIONS) - {"lkj"}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_log_density_matches_scipy(name):
    draw_args, draw_x, reference = REFERENCE[name]
    rng = np.random.default_rng(sorted(REFERENCE).index(name))
    for _ in range(5):
        args = tuple(float(a) for a in draw_args(rng))
        x = draw_x(rng, args, 50)
        got = np.asarray(LOG_DENSITIES[name](jnp.asarray(x), *args))
        # float64 both sides with different but stable formulas (gammaln, log1p): agreement to
        # ~1e-13 relative; the absolute 1e-11 covers log densities that happen to be near 0.
        np.testing.assert_allclose(got, reference(x, *args), rtol=1e-11, atol=1e-11)


def _assigned(statement: str, slot=None):
    slot = slot or sd_slot("sd_g__x", "mu", "g", "x")
    return assign_priors([slot], {slot.name: PriorSpec(slot.name, "flat", ())}, [statement])[0]


def _pointwise(prior, xs):
    return np.array([float(prior_log_density(prior, jnp.asarray([x]))) for x in xs])


def test_prior_log_density_sums_over_elements():
    prior = _assigned("sd ~ normal(1, 2)")
    xs = np.array([0.3, 1.7, 4.0])
    total = float(prior_log_density(prior, jnp.asarray(xs)))
    # Summing three float64 terms: a few ulps.
    assert total == pytest.approx(_pointwise(prior, xs).sum(), rel=1e-14)


def test_unbounded_real_prior_is_the_plain_density():
    prior = _assigned("b ~ normal(1, 2)", fixed_slot("b_x", "mu", "x"))
    xs = np.array([-3.0, 0.0, 2.5])
    np.testing.assert_allclose(_pointwise(prior, xs), stats.norm.logpdf(xs, 1, 2), rtol=1e-13)


# Each case: a prior statement on a positive parameter x and the CDF of x^power under the
# prior (before truncation to x > 0, which the CDF below accounts for).
POWER_CASES = {
    "sd^2 ~ inv_gamma(2, 3)": lambda q: stats.invgamma.cdf(q, a=2, scale=3),
    "sd^-2 ~ gamma(2, 0.5)": lambda q: stats.gamma.cdf(q, a=2, scale=2),
    "sd^2 ~ exponential(0.7)": lambda q: stats.expon.cdf(q, scale=1 / 0.7),
    "sd^-2 ~ half_normal(3)": lambda q: stats.halfnorm.cdf(q, scale=3),
    "sd^2 ~ uniform(0.5, 9)": lambda q: stats.uniform.cdf(q, 0.5, 8.5),
    # real-line distributions on a positive parameter: truncated at 0 and renormalised.
    "sd^2 ~ normal(1, 2)": lambda q: (
        (stats.norm.cdf(q, 1, 2) - stats.norm.cdf(0, 1, 2)) / stats.norm.sf(0, 1, 2)
    ),
    "sd^-2 ~ normal(1, 2)": lambda q: (
        (stats.norm.cdf(q, 1, 2) - stats.norm.cdf(0, 1, 2)) / stats.norm.sf(0, 1, 2)
    ),
    "sd^2 ~ student_t(3, -1, 2)": lambda q: (
        (stats.t.cdf(q, 3, -1, 2) - stats.t.cdf(0, 3, -1, 2)) / stats.t.sf(0, 3, -1, 2)
    ),
    "sd ~ cauchy(2, 1)": lambda q: (
        (stats.cauchy.cdf(q, 2, 1) - stats.cauchy.cdf(0, 2, 1)) / stats.cauchy.sf(0, 2, 1)
    ),
}


@pytest.mark.parametrize("statement", sorted(POWER_CASES))
def test_power_prior_is_density_of_the_parameter(statement):
    """prior_log_density(x) is the log density of x when the prior is on x^p: check it against
    the derivative of P(X <= x) = +-CDF(x^p), taken by central finite differences."""
    prior = _assigned(statement)
    cdf, p = POWER_CASES[statement], prior.spec.power
    # Stay where the density is not negligible: far in a tail, CDF differences near 1 lose
    # all their digits and the finite difference means nothing.
    lo, hi = max(prior.lower, 0.05), min(prior.upper, 3.0)
    xs = np.linspace(lo, hi, 9)[1:-1]
    h = 1e-5 * xs
    # P(X <= x) is CDF(x^p) for p > 0 and 1 - CDF(x^p) for p < 0: the derivative flips sign.
    fd = np.sign(p) * (cdf((xs + h) ** p) - cdf((xs - h) ** p)) / (2 * h)
    # Central differences with h = 1e-5 x: truncation error ~h^2 f''' / 6 ~ 1e-10 relative,
    # round-off ~ 1e-16 / 1e-5 = 1e-11; 1e-7 relative on the density is far outside both.
    np.testing.assert_allclose(np.exp(_pointwise(prior, xs)), fd, rtol=1e-7)


@pytest.mark.parametrize(
    "statement",
    ["sd^2 ~ inv_gamma(2, 3)", "sd^-2 ~ gamma(2, 0.5)", "sd^2 ~ normal(1, 2)", "sd ~ cauchy(2, 1)"],
)
def test_power_prior_integrates_to_one(statement):
    prior = _assigned(statement)
    total, err = integrate.quad(lambda x: math.exp(_pointwise(prior, [x])[0]), 0, np.inf)
    # quad's own error estimate is ~1e-8 here; 1e-6 would still catch a missing log|p| (log 2).
    assert err < 1e-6
    assert total == pytest.approx(1.0, abs=1e-6)


def test_power_jacobian_formula():
    # density of x = f(x^p) |p| x^(p - 1): written out for inv_gamma on the variance.
    prior = _assigned("sd^2 ~ inv_gamma(2, 3)")
    xs = np.array([0.5, 1.0, 2.5])
    expected = stats.invgamma.logpdf(xs**2, a=2, scale=3) + np.log(2) + np.log(xs)
    np.testing.assert_allclose(_pointwise(prior, xs), expected, rtol=1e-13)
    prior = _assigned("sd^-2 ~ gamma(2, 0.5)")
    expected = stats.gamma.logpdf(xs**-2, a=2, scale=2) + np.log(2) - 3 * np.log(xs)
    np.testing.assert_allclose(_pointwise(prior, xs), expected, rtol=1e-13)


@pytest.mark.parametrize(("mu", "sd"), [(0.0, 1.0), (3.0, 2.0), (-2.0, 0.5), (10.0, 1.0)])
def test_truncation_log_mass_normal_on_positive_parameter(mu, sd):
    prior = _assigned(f"sd ~ normal({mu}, {sd})")
    expected = math.log(1 - stats.norm.cdf(-mu / sd))
    # scipy and the package both go through the normal cdf: ~1e-15; mu=-2, sd=0.5 gives a mass
    # of 3e-5, so the comparison is relative.
    assert truncation_log_mass(prior) == pytest.approx(expected, rel=1e-12)


def test_truncation_log_mass_student_t_and_cauchy():
    t = _assigned("sd ~ student_t(3, 0, 59.3)")
    # Centred at 0: half the mass is above 0 (brms's half-student_t default for sd).
    assert truncation_log_mass(t) == pytest.approx(math.log(0.5), rel=1e-14)
    c = _assigned("sd ~ cauchy(1, 2)")
    assert truncation_log_mass(c) == pytest.approx(math.log(stats.cauchy.sf(0, 1, 2)), rel=1e-12)


def test_truncation_log_mass_of_squared_parameter():
    # P(sd^2 > 0) = P(sd > 0) for a prior on the variance: the bound is 0 either way.
    prior = _assigned("sd^2 ~ normal(1, 2)")
    assert truncation_log_mass(prior) == pytest.approx(math.log(stats.norm.sf(0, 1, 2)), rel=1e-12)


def test_no_truncation_where_none_is_needed():
    assert truncation_log_mass(_assigned("b ~ normal(0, 1)", fixed_slot("b_x", "mu", "x"))) == 0
    assert truncation_log_mass(_assigned("sd ~ half_normal(1)")) == 0
    assert truncation_log_mass(_assigned("sd ~ uniform(0, 10)")) == 0
    assert truncation_log_mass(_assigned("sd ~ gamma(2, 1)")) == 0


def test_truncation_enters_once_per_element():
    prior = _assigned("sd ~ normal(1, 2)")
    xs = jnp.asarray([0.5, 1.5, 2.5, 3.5])
    plain = stats.norm.logpdf(np.asarray(xs), 1, 2).sum()
    expected = plain - 4 * math.log(stats.norm.sf(0, 1, 2))
    assert float(prior_log_density(prior, xs)) == pytest.approx(expected, rel=1e-13)


def test_truncated_prior_on_precision():
    # Regression: the bound 0 was raised to the power -2 and gave ZeroDivisionError.
    prior = _assigned("sd^-2 ~ normal(1, 2)")
    # P(sd^-2 > 0) = 1 - Phi(-1/2)
    assert truncation_log_mass(prior) == pytest.approx(math.log(stats.norm.sf(0, 1, 2)), rel=1e-12)
