"""The Fit object: summary layout, brms names, ArviZ data with named dims."""

import numpy as np
import pytest

import multilevel as ml


@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return ml.fit(
        "Reaction ~ Days + (Days | Subject)", sleepstudy, chains=2, warmup=300, draws=300, seed=5
    )


def test_summary_columns_and_brms_names(sleep_fit):
    table = sleep_fit.summary()
    assert list(table.columns) == ["mean", "sd", "q2.5", "q97.5", "rhat", "ess_bulk", "ess_tail"]
    assert list(table.index) == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]


def test_summary_with_group_effects(sleep_fit):
    table = sleep_fit.summary(group_effects=True, prob=0.9)
    assert "q5" in table.columns and "q95" in table.columns
    assert "r_Subject[308,Intercept]" in table.index and "r_Subject[372,Days]" in table.index
    assert len(table) == 6 + 18 * 2


def test_summary_matches_draws(sleep_fit):
    draws = sleep_fit.idata.posterior["b_Days"].values.ravel()
    row = sleep_fit.summary().loc["b_Days"]
    assert row["mean"] == pytest.approx(draws.mean())
    assert row["q97.5"] == pytest.approx(np.quantile(draws, 0.975))


def test_idata_has_named_dims(sleep_fit):
    r = sleep_fit.idata.posterior["r_Subject"]
    assert r.dims == ("chain", "draw", "Subject", "Subject__coef")
    assert list(r.coords["Subject__coef"].values) == ["Intercept", "Days"]
    assert r.sizes["chain"] == 2 and r.sizes["draw"] == 300
    assert "diverging" in sleep_fit.idata.sample_stats
    assert "Reaction" in sleep_fit.idata.observed_data


def test_group_effects_are_sd_times_standardised(sleep_fit):
    # The random effects must vary on the scale of their sd: their sd across subjects is
    # close to the sd parameter, draw by draw (18 subjects: within 60% on average).
    post = sleep_fit.idata.posterior
    spread = post["r_Subject"].sel(Subject__coef="Days").std("Subject")
    ratio = (spread / post["sd_Subject__Days"]).mean().item()
    assert 0.4 < ratio < 1.6


def test_bad_prob(sleep_fit):
    with pytest.raises(ValueError, match="prob"):
        sleep_fit.summary(prob=1.5)


def test_repr_and_describe(sleep_fit):
    assert "Reaction ~ Days + (Days | Subject)" in repr(sleep_fit)
    assert "r_Subject[j,(Intercept,Days)] ~ multi_normal" in sleep_fit.describe()
