"""`fit.check_reml()`: REML beside the posterior, flags where a prior pulls the posterior away.

The user story: a trial statistician fits the partially clustered trial with priors copied from
SAS PROC MCMC (inverse-gamma on the variances) and asks why the posterior differs from lme4's
REML. Here the treatment effect also gets a prior of variance 1 (`normal(0, 1)`, as if a
variance of 1 had been copied where 1000 was meant): it pulls b_tx from lme4's -4.99 (se 0.86)
to about -2.4, so the check must flag it, while sigma, which 200 residuals pin down, agrees.

One small real fit (2 chains x 200 draws; the REML column is independent of the sampler, and
the flags tested are decided by 2.5 and 0.3 posterior sds, far from the cut at 1 given a Monte
Carlo error of ~0.1 sd at this ESS).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_reference

import multilevel as ml
from multilevel import ModelError
from multilevel.results._reml import COLUMNS, _note

pytestmark = pytest.mark.filterwarnings("ignore::multilevel.SamplingWarning")

PRIORS = [
    "b_tx ~ normal(0, 1)",
    "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
    "sigma^2 ~ inv_gamma(0.01, 0.01)",
]


@pytest.fixture(scope="module")
def trial_fit(partially_clustered):
    return ml.fit(
        "y ~ tx + (0 + tx | cluster)",
        partially_clustered,
        priors=PRIORS,
        chains=2,
        warmup=200,
        draws=200,
        seed=1,
        progress=False,
    )


@pytest.fixture(scope="module")
def table(trial_fit):
    return trial_fit.check_reml()


def test_estimates_are_lme4s_reml(table):
    """lmer(y ~ tx + (0 + tx | cluster), data): (Intercept) 20.84172, tx -4.98502 (se
    0.85663735), sd 1.55055066, sigma 4.9669247, logLik -605.97106799. Tolerances as in
    tests/model/test_profile.py: 1e-4 relative, logLik 1e-6."""
    ref = load_reference("lme4_partially_clustered_reml")
    want = {
        "b_Intercept": ref["fixed"]["(Intercept)"]["estimate"],
        "b_tx": ref["fixed"]["tx"]["estimate"],
        "sd_cluster__tx": ref["varcorr"][0]["sdcor"],
        "sigma": ref["varcorr"][1]["sdcor"],
    }
    assert list(table.columns) == COLUMNS
    assert list(table.index) == list(want)
    assert table["estimate"].to_numpy() == pytest.approx(list(want.values()), rel=1e-4)
    assert table.loc["b_tx", "se"] == pytest.approx(ref["fixed"]["tx"]["se"], rel=1e-4)
    assert np.isnan(table.loc["sigma", "se"])
    assert table.attrs["method"] == "REML"
    assert table.attrs["logLik"] == pytest.approx(ref["logLik"], abs=1e-6)
    assert table.attrs["converged"]


def test_posterior_columns_are_the_draws(trial_fit, table):
    for name, row in table.iterrows():
        draws = trial_fit.idata.posterior[name].values.ravel()
        assert row["mean"] == pytest.approx(draws.mean(), rel=1e-12)
        assert row["median"] == pytest.approx(np.median(draws), rel=1e-12)
        assert row["sd"] == pytest.approx(draws.std(ddof=1), rel=1e-12)  # as fit.summary()
    diff = (table["estimate"] - table["mean"]) / table["sd"]
    assert table["diff_sd"].to_numpy() == pytest.approx(diff.to_numpy(), rel=1e-12)
    assert ((table["note"] != "") == (table["diff_sd"].abs() > 1)).all()


def test_flags_the_coefficient_its_prior_pulls(table):
    assert table.loc["b_tx", "diff_sd"] < -1.5
    assert table.loc["b_tx", "note"].startswith("prior influence (check the scale")
    assert table.loc["sigma", "note"] == ""


def test_ml_on_request_and_bad_methods_refused(trial_fit):
    ml_table = trial_fit.check_reml("ML")
    assert ml_table.attrs["method"] == "ML"
    # ML's residual and cluster sds lie below REML's: REML corrects for the 2 fixed effects.
    reml = load_reference("lme4_partially_clustered_reml")["varcorr"]
    assert ml_table.loc["sigma", "estimate"] < reml[1]["sdcor"]
    assert ml_table.loc["sd_cluster__tx", "estimate"] < reml[0]["sdcor"]
    with pytest.raises(ModelError, match="method must be 'REML' or 'ML'"):
        trial_fit.check_reml("Bayes")


def test_notes_name_the_usual_reason():
    levels = {"sd_cluster__tx": ("cluster", 10), "cor_Subject": ("Subject", 18)}
    few = _note("sd_cluster__tx", 1.55, 1.16, "REML", levels)
    assert "few groups (10 levels of cluster)" in few and "posterior median/mode" in few
    assert "singular fit" in _note("sd_cluster__tx", 1e-7, 1.2, "REML", levels)
    cor = _note("cor_Subject__Intercept__Days", 0.07, 0.4, "REML", levels)
    assert "18 levels of Subject" in cor and "LKJ" in cor
    assert "ML's residual sd is biased down" in _note("sigma", 4.9, 5.0, "ML", levels)
    assert "biased" not in _note("b_sigma_tx", -0.4, -0.3, "REML", levels)
