"""multilevel.Model / multilevel.fit: argument checks that need no sampling.

`sample` is replaced by a function that fails the test, so a check that does not happen
before sampling shows up as a failure here rather than as a long NUTS run.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
import multilevel._api as api


@pytest.fixture(autouse=True)
def no_sampling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sampling was started; the settings should have been refused")

    monkeypatch.setattr(api, "sample", refuse)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "y": rng.normal(size=12),
            "x": np.tile([0.0, 1.0, 2.0], 4),
            "g": np.repeat(list("abcd"), 3),
        }
    )


@pytest.fixture(scope="module")
def model(df) -> ml.Model:
    return ml.Model("y ~ x + (1 | g)", df)


def test_unknown_dpar_keyword_names_the_valid_ones(df):
    with pytest.raises(
        ml.ModelError,
        match=re.escape(
            "unknown keyword 'sgima' (did you mean 'sigma'?): the gaussian family's "
            "distributional parameters are sigma; fitting options (chains, warmup, draws, "
            "seed, target_accept, max_treedepth, metric, engine, progress, keep) go to .fit()"
        ),
    ):
        ml.Model("y ~ x", df, sgima="~ x")


def test_fit_option_given_to_model_points_to_fit(df):
    with pytest.raises(ml.ModelError, match=r"unknown keyword 'chains'.*go to \.fit\(\)"):
        ml.Model("y ~ x", df, chains=2)


def test_dpar_keyword_is_used(df):
    m = ml.Model("y ~ x", df, sigma="~ x")
    assert m.formula == "y ~ x, sigma ~ x"
    assert "log(sigma[i]) = b_sigma_Intercept + b_sigma_x*x[i]" in m.describe()
    assert ml.Model("y ~ x", df, sigma="x").formula == "y ~ x, sigma ~ x"


def test_errors_of_each_stage_reach_the_user(df):
    with pytest.raises(ml.FormulaError):
        ml.Model("y ~ x +", df)
    with pytest.raises(ml.DataError):
        ml.Model("y ~ z", df)
    with pytest.raises(ml.PriorError):
        ml.Model("y ~ x", df, priors=["b_z ~ normal(0, 1)"])
    with pytest.raises(ml.ModelError):
        ml.Model("y ~ x", df, family="poison")
    with pytest.raises(ml.DataError, match="must be a count"):
        ml.Model("y ~ x", df, family="poisson")


def test_single_prior_string_is_accepted(df):
    m = ml.Model("y ~ x", df, priors="b ~ normal(0, 5)")
    assert m.priors().loc["b_x", "prior"] == "normal(0, 5)"


def test_na_action_drop_warns(df):
    data = df.copy()
    data.loc[0, "x"] = np.nan
    with pytest.warns(UserWarning, match=re.escape("dropped 1 row(s) with missing values in x")):
        m = ml.Model("y ~ x + (1 | g)", data, na_action="drop")
    assert "Data: 11 rows" in m.describe()


def test_repr(model):
    assert repr(model) == "<multilevel.Model 'y ~ x + (1 | g)', family=gaussian>"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"chains": 0}, "chains must be a whole number from 1 to 64, got 0"),
        ({"chains": 65}, "chains must be a whole number from 1 to 64, got 65"),
        ({"chains": 2.0}, "chains must be a whole number from 1 to 64, got 2.0"),
        ({"chains": True}, "chains must be a whole number from 1 to 64, got True"),
        ({"draws": -1}, "draws must be a whole number from 1 to 10000000, got -1"),
        ({"draws": 0}, "draws must be a whole number from 1"),
        ({"warmup": 1.5}, "warmup must be a whole number from 0 to 10000000, got 1.5"),
        ({"warmup": -1}, "warmup must be a whole number from 0"),
        ({"seed": "a"}, "seed must be a whole number from 0 to 9223372036854775807, got 'a'"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        (
            {"target_accept": 1.5},
            "target_accept must be a number between 0 and 1 (e.g. 0.95), got 1.5",
        ),
        ({"target_accept": 0}, "target_accept must be a number between 0 and 1"),
        ({"target_accept": "0.9"}, "target_accept must be a number between 0 and 1"),
        ({"max_treedepth": 0}, "max_treedepth must be a whole number from 1 to 20, got 0"),
        ({"max_treedepth": 21}, "max_treedepth must be a whole number from 1 to 20"),
    ],
)
def test_bad_fit_settings(model, setting, message):
    with pytest.raises(ml.ModelError, match=re.escape(message)):
        model.fit(**setting)


def test_good_settings_reach_the_sampler(model, monkeypatch):
    seen = {}

    def fake_sample(compiled, settings):
        seen["compiled"], seen["settings"] = compiled, settings
        raise RuntimeError("stop before building a Fit")

    monkeypatch.setattr(api, "sample", fake_sample)
    with pytest.raises(RuntimeError, match="stop before"):
        model.fit(chains=2, warmup=10, draws=5, seed=np.int64(3), target_accept=0.9)
    s = seen["settings"]
    assert (s.chains, s.warmup, s.draws, s.seed, s.target_accept) == (2, 10, 5, 3, 0.9)
    # y ~ x + (1 | g) is Gaussian with one grouping factor: auto takes the marginal engine.
    assert seen["compiled"].engine == "marginal"
    assert seen["compiled"].design is model._compiled.design


def test_seed_none_draws_a_valid_seed(model, monkeypatch):
    seeds = []

    def fake_sample(compiled, settings):
        seeds.append(settings.seed)
        raise RuntimeError("stop")

    monkeypatch.setattr(api, "sample", fake_sample)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            model.fit(seed=None)
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)
    assert seeds[0] != seeds[1]  # 2**-63 chance of a false failure


def test_fit_shortcut_splits_keywords(df, monkeypatch):
    calls = []

    def fake_fit(self, **keywords):
        calls.append((self, keywords))
        return "the fit"

    monkeypatch.setattr(ml.Model, "fit", fake_fit)
    out = ml.fit(
        "y ~ x + (1 | g)",
        df,
        sigma="~ x",
        priors=["b ~ normal(0, 1)"],
        chains=2,
        seed=7,
        target_accept=0.95,
    )
    assert out == "the fit"
    ((model, keywords),) = calls
    assert keywords == {"chains": 2, "seed": 7, "target_accept": 0.95}
    assert model.formula == "y ~ x + (1 | g), sigma ~ x"
    assert model.priors().loc["b_x", "prior"] == "normal(0, 1)"


def test_fit_shortcut_checks_settings_before_sampling(df):
    # chains goes to Model.fit (a ModelError about chains, not an unknown Model keyword).
    with pytest.raises(ml.ModelError, match="chains must be a whole number"):
        ml.fit("y ~ x", df, chains=0)


def test_fit_shortcut_rejects_unknown_keywords(df):
    with pytest.raises(ml.ModelError, match="unknown keyword 'n_chains'"):
        ml.fit("y ~ x", df, n_chains=2)


def test_unknown_metric_is_an_error(model):
    with pytest.raises(ml.ModelError, match="metric must be one of"):
        model.fit(metric="full")


def test_unknown_engine_is_an_error_listing_auto(model):
    with pytest.raises(
        ml.ModelError, match=r"engine must be one of \('auto', 'full', 'marginal'\)"
    ):
        model.fit(engine="fast")
