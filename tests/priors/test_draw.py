"""Exact prior draws (for SBC) checked against scipy.stats and the LKJ marginal: a
Kolmogorov-Smirnov test on 4000 draws with fixed seeds; a p-value below 0.001 would mean a
wrong distribution (a correct sampler fails 1 in 1000 seeds, and the seeds are fixed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from multilevel.priors import PriorSpec
from multilevel.priors._assign import AssignedPrior, fixed_slot, sd_slot
from multilevel.priors._draw import draw_lkj_cholesky, draw_prior

N = 4000


def prior(dist, args, lower=-math.inf, upper=math.inf, power=1, slot=None):
    slot = slot or fixed_slot("b_x", "mu", "x")
    return AssignedPrior(slot, PriorSpec("b_x", dist, args, power), "user", lower, upper)


CASES = [
    ("normal", (1.0, 2.0), stats.norm(1, 2)),
    ("student_t", (3.0, 0.5, 2.0), stats.t(3, 0.5, 2)),
    ("cauchy", (0.0, 1.5), stats.cauchy(0, 1.5)),
    ("logistic", (1.0, 0.5), stats.logistic(1, 0.5)),
    ("uniform", (-1.0, 3.0), stats.uniform(-1, 4)),
]
POSITIVE = [
    ("half_normal", (2.0,), stats.halfnorm(0, 2)),
    ("half_cauchy", (1.0,), stats.halfcauchy(0, 1)),
    ("half_student_t", (3.0, 2.5), stats.t(3, 0, 2.5)),  # compared on |x|, below
    ("exponential", (2.0,), stats.expon(scale=0.5)),
    ("gamma", (2.0, 3.0), stats.gamma(2, scale=1 / 3)),
    ("inv_gamma", (3.0, 2.0), stats.invgamma(3, scale=2)),
    ("beta", (2.0, 5.0), stats.beta(2, 5)),
]


@pytest.mark.parametrize(("dist", "args", "reference"), CASES, ids=[c[0] for c in CASES])
def test_unbounded_draws_follow_scipy(dist, args, reference):
    draws = draw_prior(prior(dist, args), np.random.default_rng(1), N)
    assert stats.kstest(draws, reference.cdf).pvalue > 1e-3


@pytest.mark.parametrize(("dist", "args", "reference"), POSITIVE, ids=[c[0] for c in POSITIVE])
def test_positive_draws_follow_scipy(dist, args, reference):
    slot = sd_slot("sd_g__x", "mu", "g", "x")
    draws = draw_prior(prior(dist, args, 0.0, math.inf, slot=slot), np.random.default_rng(2), N)
    assert np.all(draws >= 0)
    if dist == "half_student_t":
        folded = stats.t(3, 0, 2.5)
        assert stats.kstest(draws, lambda x: 2 * folded.cdf(x) - 1).pvalue > 1e-3
    else:
        assert stats.kstest(draws, reference.cdf).pvalue > 1e-3


def test_a_prior_on_the_variance_gives_its_square_root():
    # sd^2 ~ inv_gamma(2, 3): the squares of the draws follow inv_gamma(2, 3).
    p = prior("inv_gamma", (2.0, 3.0), 0.0, math.inf, power=2)
    draws = draw_prior(p, np.random.default_rng(3), N)
    assert stats.kstest(draws**2, stats.invgamma(2, scale=3).cdf).pvalue > 1e-3


def test_a_prior_on_the_precision_gives_its_inverse_square_root():
    p = prior("gamma", (2.0, 1.0), 0.0, math.inf, power=-2)
    draws = draw_prior(p, np.random.default_rng(4), N)
    assert stats.kstest(draws**-2, stats.gamma(2).cdf).pvalue > 1e-3


def test_truncation_to_bounds_is_the_conditional_distribution():
    # normal(0, 1) on [0.5, 2]: scipy's truncnorm with the same bounds.
    draws = draw_prior(prior("normal", (0.0, 1.0), 0.5, 2.0), np.random.default_rng(5), N)
    assert draws.min() >= 0.5 and draws.max() <= 2.0
    assert stats.kstest(draws, stats.truncnorm(0.5, 2.0).cdf).pvalue > 1e-3


def test_a_flat_prior_cannot_be_drawn():
    from multilevel import PriorError

    with pytest.raises(PriorError, match=r"b_x.*only proper priors"):
        draw_prior(prior("flat", ()), np.random.default_rng(0))


@pytest.mark.parametrize(("eta", "dim"), [(1.0, 3), (2.0, 4), (0.7, 2)])
def test_lkj_correlations_have_the_beta_marginal(eta, dim):
    # Lewandowski et al. (2009): each correlation of LKJ(eta) in dim dimensions is
    # 2 Beta(b, b) - 1 with b = eta - 1 + dim / 2.
    rng = np.random.default_rng(6)
    r = np.array([draw_lkj_cholesky(eta, dim, rng) for _ in range(N)])
    corr = r @ np.swapaxes(r, 1, 2)
    assert np.allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0)
    b = eta - 1 + dim / 2
    marginal = stats.beta(b, b, loc=-1, scale=2)
    for i, j in [(0, 1), (0, dim - 1), (dim - 2, dim - 1)]:
        assert stats.kstest(corr[:, i, j], marginal.cdf).pvalue > 1e-3
