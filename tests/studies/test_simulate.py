"""ml.simulate: two routes to the same data (the package's simulation against the per-family
numpy generators of tests/simulated.py), recovery of the truth by a fit, simulation from a
fit, and one clear error per bad truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from tests import simulated

DISCRETE = {"bernoulli", "binomial", "poisson", "negbinomial", "zero_inflated_poisson"}
CONTINUOUS = {"student", "gamma", "lognormal", "beta", "zero_one_inflated_beta"}
ORDINAL = {"cumulative"}


@pytest.mark.parametrize("family", sorted(DISCRETE | CONTINUOUS | ORDINAL))
def test_the_same_truth_gives_the_numpy_generator_s_distribution(family, monkeypatch):
    # Group sd 0: rows are independent given x, so two-sample tests apply. Each generator
    # gets its own seed; a correct pair fails a 0.001-level test for 1 seed in 1000 (fixed
    # seeds: not flaky), while a wrong link, parametrisation or name mapping fails by far.
    monkeypatch.setitem(simulated.TRUTH, "sd_g__Intercept", 0.0)
    reference, extra = simulated.simulate(family, seed=1)
    truth = {"b_x": 0.8, "sd_g__Intercept": 0.0, **extra}
    if family not in ORDINAL:
        truth["b_Intercept"] = 0.5
    formula = "y | trials(n) ~ x + (1 | g)" if family == "binomial" else "y ~ x + (1 | g)"
    design = reference.drop(columns="y")
    link = simulated.LINK.get(family)
    y = ml.simulate(formula, design, truth, family=family, link=link, seed=2)["y"]
    expected = reference["y"]
    if family in CONTINUOUS:
        assert stats.ks_2samp(y, expected).pvalue > 1e-3
    else:
        y = np.asarray(y.cat.codes + 1 if family in ORDINAL else y)
        values = np.union1d(y, expected)
        table = np.array([[np.sum(y == v), np.sum(expected == v)] for v in values])
        table = table[table.sum(axis=1) >= 10]  # pool nothing, drop sparse tail cells
        assert stats.chi2_contingency(table).pvalue > 1e-3


def test_the_truth_is_recovered_by_a_fit():
    rng = np.random.default_rng(3)
    design = pd.DataFrame(
        {"x": rng.normal(size=600), "g": np.repeat([f"s{i:02d}" for i in range(40)], 15)}
    )
    truth = {
        "b_Intercept": 2.0,
        "b_x": -1.0,
        "sd_g__Intercept": 1.0,
        "sd_g__x": 0.5,
        "cor_g__Intercept__x": 0.4,
        "sigma": 0.8,
    }
    data = ml.simulate("y ~ x + (1 + x | g)", design, truth, seed=4)
    fit = ml.fit("y ~ x + (1 + x | g)", data, seed=5, progress=False, chains=2, draws=500)
    summary = fit.summary()
    # 4 posterior sds: a miss by chance has probability 6e-5 per parameter.
    for name, value in truth.items():
        assert abs(summary.loc[name, "mean"] - value) < 4 * summary.loc[name, "sd"], name


def test_a_seed_gives_one_data_set():
    design = pd.DataFrame({"tx": [0, 1] * 10, "g": np.repeat(list("abcde"), 4)})
    truth = {"b_Intercept": 0.0, "b_tx": 1.0, "sd_g__Intercept": 0.5, "sigma": 1.0}
    a, b, c = (ml.simulate("y ~ tx + (1 | g)", design, truth, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["y"], c["y"])
    pd.testing.assert_frame_equal(a.drop(columns="y"), design)


def test_ordinal_data_keep_every_level():
    design = pd.DataFrame({"x": np.linspace(-1, 1, 30)})
    truth = {"b_Intercept[1]": -8.0, "b_Intercept[2]": 8.0, "b_Intercept[3]": 9.0, "b_x": 0.1}
    y = ml.simulate("y ~ x", design, truth, family="cumulative", seed=1)["y"]
    assert y.cat.ordered and list(y.cat.categories) == [1, 2, 3, 4]
    assert set(y) == {2}  # the outer levels are empty and still levels


def test_simulation_from_a_fit(sleepstudy):
    fit = ml.fit(
        "Reaction ~ Days + (Days | Subject)",
        sleepstudy,
        seed=1,
        chains=2,
        draws=200,
        progress=False,
    )
    a, b = ml.simulate(fit, seed=3), ml.simulate(fit, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(sleepstudy)
    assert abs(a["Reaction"].mean() - sleepstudy["Reaction"].mean()) < 30
    new = pd.DataFrame({"Days": [0, 9], "Subject": ["new", "new"]})
    assert len(ml.simulate(fit, new, seed=1)) == 2
    with pytest.raises(ml.DataError, match="levels the fit has not seen"):
        ml.simulate(fit, new, seed=1, new_groups="error")
    with pytest.raises(ml.ModelError, match="truth from the posterior"):
        ml.simulate(fit, new, truth={"b_Days": 1.0})


TRUTH = {"b_Intercept": 0.0, "b_x": 1.0, "sd_g__Intercept": 0.5, "sd_g__x": 0.2, "sigma": 1.0}
BAD_TRUTH = [
    ({k: v for k, v in TRUTH.items() if k != "sigma"}, "no value for cor_g__Intercept__x, sigma"),
    ({**TRUTH, "cor_g__Intercept__x": 0.1, "b_z": 1.0}, "names 'b_z'.*did you mean 'b_x'"),
    ({**TRUTH, "cor_g__Intercept__x": 0.1, "sigma": -1.0}, r"sigma must lie in \[0, inf\]"),
    ({**TRUTH, "cor_g__Intercept__x": 1.5}, "do not form a correlation matrix"),
    ({**TRUTH, "cor_g__Intercept__x": 0.1, "b_x": "big"}, "b_x must be a number"),
]


@pytest.mark.parametrize(("truth", "message"), BAD_TRUTH)
def test_a_bad_truth_is_one_error_naming_it(truth, message):
    design = pd.DataFrame({"x": np.arange(12.0), "g": list("abc") * 4})
    with pytest.raises(ml.ModelError, match=message):
        ml.simulate("y ~ x + (1 + x | g)", design, truth, seed=1)


def test_values_that_give_no_response_are_an_error():
    # gamma's default link is brms's inverse: a negative linear predictor has no mean.
    design = pd.DataFrame({"x": np.linspace(-2, 2, 20)})
    with pytest.raises(ml.ModelError, match="no valid gamma response on 10 of 20 rows"):
        ml.simulate("y ~ x", design, {"b_Intercept": 0.0, "b_x": 1.0, "shape": 2.0}, "gamma")


def test_thresholds_must_increase_and_the_response_be_a_name():
    design = pd.DataFrame({"x": np.arange(12.0)})
    with pytest.raises(ml.ModelError, match="must increase"):
        ml.simulate(
            "y ~ x",
            design,
            {"b_Intercept[1]": 1.0, "b_Intercept[2]": 0.0, "b_x": 1.0},
            family="cumulative",
        )
    with pytest.raises(ml.ModelError, match="response 'log\\(y\\)' is an expression"):
        ml.simulate("log(y) ~ x", design, {"b_Intercept": 0.0, "b_x": 1.0, "sigma": 1.0})
