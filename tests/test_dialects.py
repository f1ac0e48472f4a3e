"""from_stata / from_sas / priors_from_sas: the partially clustered trial written in Stata, in
SAS (PROC MIXED with PROC MCMC's priors) and in R syntax is one model, with the same draws."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml

R_FORMULA = "y ~ tx + (0 + tx | cluster)"
STATA = "mixed y tx || cluster: tx, nocons residuals(independent, by(tx)) reml"
SAS = """
proc mixed data=trial method=reml;
  class cluster;
  model y = tx / solution ddfm=kr;
  random tx / subject=cluster;   /* therapy groups in the treated arm only */
  repeated / group=tx;           /* a residual variance per arm */
run;
"""
# The priors of the SAS PROC MCMC program (DESIGN.md): normal with var=1e6 on the
# coefficients, igamma(0.01, scale=0.01) on the therapy-group variance.
MCMC = """
proc mcmc data=trial nmc=20000 seed=1;
  parms b0 b1 s2u;
  prior b0 b1 ~ normal(0, var=1e6);
  prior s2u ~ igamma(0.01, scale=0.01);
  random u ~ normal(0, var=s2u) subject=cluster;
  model y ~ normal(b0 + b1*tx + u*tx, var=s2);
run;
"""
NAMES = {"b0": "b_Intercept", "b1": "b_tx", "s2u": "sd_cluster__tx^2"}
R_PRIORS = [
    "b_Intercept ~ normal(0, 1000)",
    "b ~ normal(0, 1000)",
    "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
    "b_sigma ~ normal(0, 5)",
]
SETTINGS = {"chains": 2, "warmup": 300, "draws": 300, "seed": 11, "progress": False}


def test_priors_from_the_proc_mcmc_program():
    assert ml.priors_from_sas(MCMC, NAMES) == [
        "b_Intercept ~ normal(0, 1000)",
        "b_tx ~ normal(0, 1000)",
        "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
    ]


def test_three_dialects_one_posterior(partially_clustered):
    df = partially_clustered
    sas_priors = [*ml.priors_from_sas(MCMC, NAMES), "b_sigma ~ normal(0, 5)"]
    r = ml.Model(R_FORMULA, df, sigma="~ tx", priors=R_PRIORS)
    with pytest.warns(UserWarning, match="'reml' ignored"):
        stata = ml.from_stata(STATA, df, priors=R_PRIORS)
    with pytest.warns(UserWarning, match="'ddfm=kr' ignored"):
        sas = ml.from_sas(SAS, df, priors=sas_priors)
    assert stata.formula == sas.formula == r.formula == f"{R_FORMULA}, sigma ~ tx"
    fits = [m.fit(**SETTINGS) for m in (r, stata, sas)]
    reference = fits[0].idata.posterior
    for fit in fits[1:]:
        posterior = fit.idata.posterior
        assert sorted(posterior.data_vars) == sorted(reference.data_vars)
        for name in reference.data_vars:  # same seed, same program: the very same draws
            np.testing.assert_array_equal(posterior[name].values, reference[name].values)


def test_from_stata_refuses_what_does_not_translate(partially_clustered):
    with pytest.raises(ml.TranslationError, match=r"'vce\(robust\)' is not supported"):
        ml.from_stata("mixed y tx || cluster:, vce(robust)", partially_clustered)
    with pytest.raises(ml.DataError, match=r"'clster'.*did you mean 'cluster'"):
        ml.from_stata("mixed y tx || clster:", partially_clustered)
