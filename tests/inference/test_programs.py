"""Programs shared between data sets must read the data from their arguments: fitting a
second data set of the same shapes (same process, same cache) follows the new data."""

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

PRIORS = ["Intercept ~ normal(0, 1000)", "sd ~ half_normal(10)", "sigma ~ half_normal(10)"]


@pytest.mark.parametrize("engine", ["full", "marginal"])
def test_second_data_set_of_same_shape_follows_its_data(engine):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 5)
    base = pd.DataFrame({"y": rng.normal(size=30), "g": g})
    shifted = base.assign(y=base["y"] + 100.0)
    means = []
    for data in (base, shifted):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ml.SamplingWarning)
            fit = ml.fit(
                "y ~ 1 + (1 | g)",
                data,
                priors=PRIORS,
                engine=engine,
                chains=2,
                warmup=200,
                draws=200,
                seed=1,
                progress=False,
            )
        means.append(fit.summary().loc["b_Intercept", "mean"])
    # The posterior of the intercept moves with the data by 100 (its sd is ~0.5): a program
    # holding the first data set's values would leave it near the first mean.
    assert means[1] - means[0] == pytest.approx(100.0, abs=1.0)
