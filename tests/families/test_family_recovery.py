"""Every family recovers the parameters that generated simulated data.

Each family is simulated from `y ~ x + (1 | g)` (20 groups x 25 rows) with known fixed
effects, group sd and auxiliary parameters, through its brms parametrisation, and fitted
with brms's default priors and 4 chains x (500 warmup + 500 draws): 2000 draws estimate a
posterior mean to ~3% of its sd (ESS ~1000), far inside the check below. A parameter is recovered
when the truth lies within 4 posterior sds of the posterior mean: for a calibrated posterior
that misses with probability ~6e-5 per check, so ~3e-3 over the ~50 checks here, while a wrong
link, a swapped parameter or a mis-scaled likelihood is off by far more. The data seeds were
set once and not tuned.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multilevel as ml

from simulated import FAMILIES, TRUTH, _negbin, family_model, simulate

pytestmark = pytest.mark.filterwarnings("ignore::multilevel.SamplingWarning")

WITHIN_SD = 4.0


@pytest.mark.parametrize("family", FAMILIES)
def test_recovers_known_truth(family):
    formula, data, keywords = family_model(family)
    _, extra = simulate(family, seed=FAMILIES.index(family) + 100)
    fit = ml.fit(formula, data, seed=1, warmup=500, draws=500, **keywords)
    assert fit.diagnostics.divergences == 0, str(fit.diagnostics)
    # R-hat below 1.05, not 1.01: with 25 rows per group the non-centred group effects make
    # b_Intercept mix slowly where the likelihood is sharp (hurdle_lognormal: bulk ESS ~350,
    # R-hat 1.02; see tests/test_recovery.py), which widens nothing the truth check relies on.
    assert fit.diagnostics.rhat_max < 1.05, str(fit.diagnostics)
    summary = fit.summary()
    misses = []
    truths = {**TRUTH, **extra}
    if family.startswith("cumulative"):
        del truths["b_Intercept"]
    for name, truth in truths.items():
        mean, sd = summary.loc[name, "mean"], summary.loc[name, "sd"]
        if abs(mean - truth) > WITHIN_SD * sd:
            misses.append(f"{name}: truth {truth}, posterior {mean:.3f} (sd {sd:.3f})")
    assert not misses, "\n".join(misses)


def test_simulation_matches_the_likelihood_parametrisation():
    # The simulators above and the likelihoods must mean the same parameters: the mean of
    # the negative binomial draws is mu and its variance mu + mu^2 / shape.
    rng = np.random.default_rng(0)
    mu = np.full(200_000, 2.0)
    y = _negbin(rng, mu, 3.0)()
    # 200 000 draws: standard errors ~0.004 (mean) and ~0.02 (variance); 5 of those.
    assert y.mean() == pytest.approx(2.0, abs=0.02)
    assert y.var() == pytest.approx(2.0 + 4.0 / 3.0, abs=0.1)
    assert stats.nbinom(3.0, 3.0 / 5.0).mean() == pytest.approx(2.0)
