"""The traced programs depend on the model's structure and priors, not on the data values:
two data sets of the same shape share one program (what repeated fits, SBC and power
studies rely on), while a different prior or engine gets its own."""

import numpy as np
import pandas as pd

import multilevel as ml

PRIORS = ["Intercept ~ normal(0, 5)", "sd ~ half_normal(2)", "sigma ~ half_normal(2)"]


def _data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(6), 5)
    return pd.DataFrame({"y": rng.normal(size=30) * (seed + 1), "x": rng.normal(size=30), "g": g})


def _fingerprint(data, priors=PRIORS, engine="full"):
    return ml.Model("y ~ x + (1 | g)", data, priors=priors)._engine(engine).fingerprint


def test_same_shapes_and_priors_share_a_program():
    assert _fingerprint(_data(0)) == _fingerprint(_data(1))


def test_priors_and_engines_change_the_program():
    base = _fingerprint(_data(0))
    assert _fingerprint(_data(0), priors=[*PRIORS[:2], "sigma ~ half_normal(3)"]) != base
    assert _fingerprint(_data(0), engine="marginal") != base
