"""ml.power: agreement with the closed-form power of a clustered design, the same table
from every route (this process, the local pool, a Dask cluster), and a killed study resumed
without losing or recomputing a replicate."""

from __future__ import annotations

import math

import pytest
from scipy import stats

import multilevel as ml

# 300 draws per fit: the Monte Carlo error of each 95% interval's ends (~0.1 posterior sd)
# moves power by well under its Monte Carlo error over replicates.
QUICK = {"chains": 2, "warmup": 200, "draws": 150}


def design_effect_power(effect, icc, sigma_control, sigma_treated, n_controls, groups, per_group):
    """The usual approximation for a partially clustered trial (e.g. Baldwin, Bauer, Stice and
    Rohde 2011; Moerbeek and Wong 2008): the treated arm's mean has the variance of
    groups * per_group independent patients inflated by the design effect 1 + (m - 1) ICC,
    the controls' mean the plain sigma^2 / n; power of the two-sided 5% Wald test."""
    design_effect = 1 + (per_group - 1) * icc
    variance = sigma_treated**2 * design_effect / (groups * per_group)
    variance += sigma_control**2 / n_controls
    z = effect / math.sqrt(variance)
    crit = stats.norm.ppf(0.975)
    return stats.norm.cdf(z - crit) + stats.norm.cdf(-z - crit)


def test_power_of_the_partially_clustered_trial_agrees_with_the_design_effect():
    # 30 groups of 4 treated, 120 controls, ICC 0.2: design effect 1.6, se of the effect
    # 0.147, so an effect of 0.45 has closed-form power 0.86. With 30 groups the t and
    # Bayesian-interval corrections to the normal approximation are about 1 percentage
    # point; the check allows 3 Monte Carlo standard errors (0.032 each at 120 replicates).
    sizes = {"n_controls": 120, "groups": 30, "per_group": 4}
    scenario = ml.scenarios.partially_clustered(effect=0.45, icc=0.2)
    result = ml.power(scenario, sizes, replicates=120, seed=11, workers=0, **QUICK)
    row = result.table.iloc[0]
    expected = design_effect_power(0.45, 0.2, 1.0, 1.0, **sizes)
    assert expected == pytest.approx(0.86, abs=0.01)
    assert abs(row["power"] - expected) < 3 * row["power_mcse"]
    # The 95% intervals cover the truth 95% of the time (3 MC standard errors, 0.02 each),
    # and the posterior mean is unbiased (3 of its MC standard errors).
    assert abs(row["coverage"] - 0.95) < 3 * math.sqrt(0.95 * 0.05 / 120)
    assert abs(row["bias"]) < 3 * row["bias_mcse"]
