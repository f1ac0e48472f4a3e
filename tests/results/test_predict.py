"""Predictions: hand computations from the posterior draws, new groups, posterior
predictive draws, linear predictors kept in the posterior, prior draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import multilevel as ml

from fakes import fake_fit

pytestmark = pytest.mark.filterwarnings("ignore::multilevel.SamplingWarning")

SMALL = {"chains": 2, "warmup": 300, "draws": 300, "seed": 5}


@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, **SMALL)


@pytest.fixture(scope="module")
def cbpp_fit(cbpp):
    formula = "incidence | trials(size) ~ period + (1 | herd)"
    return ml.fit(formula, cbpp, family="binomial", **SMALL)


def _draws(fit, name):
    return fit.idata.posterior[name].values  # chain x draw


def test_gaussian_predictions_equal_the_hand_computation(sleep_fit):
    new = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": [308, 309, 372]})
    post = sleep_fit.idata.posterior
    r = post["r_Subject"].sel(Subject=["308", "309", "372"]).values  # chain draw level coef
    days = new["Days"].to_numpy()
    hand = (
        _draws(sleep_fit, "b_Intercept")[..., None]
        + _draws(sleep_fit, "b_Days")[..., None] * days
        + r[..., 0]
        + r[..., 1] * days
    )
    linpred = sleep_fit.predict(new, kind="linpred").draws.values
    mean = sleep_fit.predict(new, kind="mean").draws.values
    # Float64 arithmetic in a different order: agreement to rounding.
    np.testing.assert_allclose(linpred, hand, rtol=1e-12)
    np.testing.assert_allclose(mean, hand, rtol=1e-12)


def test_gaussian_response_draws_scatter_by_sigma_around_the_mean(sleep_fit):
    new = pd.DataFrame({"Days": np.arange(10.0), "Subject": 308})
    mean = sleep_fit.predict(new, kind="mean").draws.values
    y = sleep_fit.predict(new, kind="response", seed=1).draws.values
    z = ((y - mean) / _draws(sleep_fit, "sigma")[..., None]).ravel()
    # 6000 standardised residuals are N(0, 1) exactly if the draws are right; p > 1e-3
    # fails a correct implementation once in a thousand runs (the seed is fixed anyway).
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_binomial_predictions_equal_the_hand_computation(cbpp_fit):
    new = pd.DataFrame({"period": ["1", "3", "4"], "herd": [1, 7, 15], "size": [10, 20, 5]})
    post = cbpp_fit.idata.posterior
    eta = (
        _draws(cbpp_fit, "b_Intercept")[..., None]
        + np.stack(
            [np.zeros_like(_draws(cbpp_fit, "b_period3")), _draws(cbpp_fit, "b_period3")],
            axis=-1,
        )[..., [0, 1, 0]]
        + np.stack(
            [np.zeros_like(_draws(cbpp_fit, "b_period4")), _draws(cbpp_fit, "b_period4")],
            axis=-1,
        )[..., [0, 0, 1]]
        + post["r_herd"].sel(herd=["1", "7", "15"], herd__coef="Intercept").values
    )
    linpred = cbpp_fit.predict(new, kind="linpred").draws.values
    mean = cbpp_fit.predict(new, kind="mean").draws.values
    np.testing.assert_allclose(linpred, eta, rtol=1e-12, atol=1e-12)
    # brms's posterior_epred of a binomial model: trials x probability.
    np.testing.assert_allclose(mean, new["size"].to_numpy() * special.expit(eta), rtol=1e-12)
    counts = cbpp_fit.predict(new, kind="response", seed=2).draws.values
    assert np.all((counts >= 0) & (counts <= new["size"].to_numpy()))
    assert np.all(counts == np.round(counts))


def test_new_groups_get_the_population_spread(sleep_fit):
    # A new subject at Days = 0: its effect is the intercept's r ~ N(0, sd_Subject__Intercept)
    # of each draw, so (new - population) / sd is N(0, 1) over the draws.
    new = pd.DataFrame({"Days": [0.0], "Subject": ["someone new"]})
    sampled = sleep_fit.predict(new, kind="linpred", new_groups="sample", seed=3).draws.values
    population = sleep_fit.predict(new, kind="linpred", new_groups="population").draws.values
    np.testing.assert_allclose(population[..., 0], _draws(sleep_fit, "b_Intercept"))
    z = (sampled - population)[..., 0] / _draws(sleep_fit, "sd_Subject__Intercept")
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3  # 600 draws; see above for p
    with pytest.raises(ml.DataError, match="'Subject': someone new"):
        sleep_fit.predict(new, new_groups="error")


def test_new_levels_are_drawn_jointly_and_reproducibly(sleep_fit):
    # Two rows of one new subject share its effects; the same seed gives the same draws.
    new = pd.DataFrame({"Days": [0.0, 0.0, 0.0], "Subject": ["a", "a", "b"]})
    first = sleep_fit.predict(new, kind="linpred", seed=11).draws.values
    again = sleep_fit.predict(new, kind="linpred", seed=11).draws.values
    other = sleep_fit.predict(new, kind="linpred", seed=12).draws.values
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[..., 0], first[..., 1])
    assert not np.allclose(first[..., 0], first[..., 2])
    assert not np.allclose(first, other)


def test_rows_without_a_group_column_are_population_level(sleep_fit):
    new = pd.DataFrame({"Days": [2.0]})
    p = sleep_fit.predict(new, kind="linpred").draws.values[..., 0]
    hand = _draws(sleep_fit, "b_Intercept") + 2.0 * _draws(sleep_fit, "b_Days")
    np.testing.assert_allclose(p, hand, rtol=1e-12)


def test_summary_and_draw_subsets(sleep_fit):
    new = pd.DataFrame({"Days": [1.0, 2.0], "Subject": 308})
    p = sleep_fit.predict(new, draws=100)
    assert p.draws.shape == (1, 100, 2)
    table = p.summary(prob=0.9)
    assert list(table.columns) == ["Days", "Subject", "mean", "sd", "q5", "q95"]
    np.testing.assert_allclose(table["mean"], p.draws.values.mean(axis=(0, 1)))
    with pytest.raises(ml.ModelError, match="more than the fit's 600 draws"):
        sleep_fit.predict(new, draws=601)
    with pytest.raises(ml.ModelError, match="kind must be one of"):
        sleep_fit.predict(new, kind="expected")


def test_new_data_errors_name_the_column(sleep_fit, cbpp_fit):
    with pytest.raises(ml.DataError, match="unknown column 'Days'"):
        sleep_fit.predict(pd.DataFrame({"day": [1.0]}))
    with pytest.raises(ml.DataError, match="column 'Days' has missing values"):
        sleep_fit.predict(pd.DataFrame({"Days": [np.nan]}))
    with pytest.raises(ml.DataError, match=r"column 'period' has level\(s\) '5'"):
        cbpp_fit.predict(pd.DataFrame({"period": ["5"], "herd": [1], "size": [3]}))
    with pytest.raises(ml.DataError, match="unknown column 'size'"):
        cbpp_fit.predict(pd.DataFrame({"period": ["1"], "herd": [1]}))


def test_new_data_use_the_training_centres():
    # scale(x) on one new row uses the fitted mean and sd, never the new row's own.
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(5, 2, 40), "g": np.repeat(list("abcd"), 10)})
    df["y"] = df["x"] + rng.normal(size=40)
    fit = fake_fit(ml.Model("y ~ scale(x) + (1 | g)", df))
    x = df["x"].to_numpy()
    new = pd.DataFrame({"x": [7.0], "g": ["a"]})
    post = fit.idata.posterior
    hand = (
        post["b_Intercept"].values
        + post["b_scalex"].values * (7.0 - x.mean()) / x.std(ddof=1)
        + post["r_g"].sel(g="a").values[..., 0]
    )
    np.testing.assert_allclose(fit.predict(new, kind="linpred").draws.values[..., 0], hand)


def test_posterior_predictive_matches_the_observed_coding(cbpp_fit):
    replicated = cbpp_fit.posterior_predictive()
    observed = cbpp_fit.idata.observed_data["incidence"]
    assert replicated.dims == ("chain", "draw", "obs")
    assert replicated.shape[2] == observed.shape[0]
    assert "posterior_predictive" in cbpp_fit.idata.groups()
    # ArviZ's LOO-PIT reads the posterior predictive and the log-likelihood.
    cbpp_fit.log_likelihood()
    pit = ml.inference.arviz().loo_pit(cbpp_fit.idata, y="incidence")
    assert pit.shape == observed.shape


def test_ordinal_means_are_category_probabilities(wine):
    fit = fake_fit(ml.Model("rating ~ temp + (1 | judge)", wine, family="cumulative"))
    mean = fit.predict(kind="mean").draws
    assert mean.dims == ("chain", "draw", "obs", "category")
    assert list(mean.category.values) == ["1", "2", "3", "4", "5"]
    np.testing.assert_allclose(mean.sum("category"), 1.0)
    replicated = fit.posterior_predictive().values
    assert set(np.unique(replicated)) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_keep_and_add_linpred_store_the_linear_predictor(sleepstudy, partially_clustered):
    fit = fake_fit(ml.Model("y ~ tx + (0 + tx | cluster)", partially_clustered, sigma="~ tx"))
    fit.add_linpred(["mu", "sigma"], transform=True)
    post = fit.idata.posterior
    sigma = np.exp(
        post["b_sigma_Intercept"].values[..., None]
        + post["b_sigma_tx"].values[..., None] * partially_clustered["tx"].to_numpy()
    )
    np.testing.assert_allclose(post["sigma"].values, sigma, rtol=1e-12)
    assert post["mu"].dims == ("chain", "draw", "obs")
    with pytest.raises(ml.ModelError, match="'phi' has no linear predictor"):
        fit.add_linpred(["phi"])
    kept = ml.fit("Reaction ~ Days", sleepstudy, chains=1, warmup=50, draws=20, keep=["mu"])
    assert kept.idata.posterior["mu"].shape == (1, 20, 180)


def test_prior_draws_follow_the_prior(sleepstudy):
    model = ml.Model(
        "Reaction ~ Days + (1 | Subject)",
        sleepstudy,
        priors=["b ~ normal(10, 2)", "sigma ~ exponential(0.1)"],
    )
    prior = model.sample_prior(draws=500, chains=2, seed=1)
    assert prior.prior_predictive["Reaction"].shape == (2, 500, 180)
    # NUTS draws of b_Days from its normal(10, 2) prior: KS against scipy. The draws are
    # autocorrelated a little, which the p > 1e-3 threshold tolerates (ESS ~ 800 of 1000).
    assert stats.kstest(prior.prior["b_Days"].values.ravel(), "norm", (10, 2)).pvalue > 1e-3
    assert stats.kstest(prior.prior["sigma"].values.ravel(), "expon", (0, 10)).pvalue > 1e-3
    with pytest.raises(ml.ModelError, match="b_Days has an improper flat prior"):
        ml.Model("Reaction ~ Days", sleepstudy).sample_prior(draws=10)
