"""Two routes to one posterior: the marginal engine (group effects integrated out, then
drawn exactly) and the full engine (group effects sampled) agree within Monte Carlo error,
for every parameter including the group effects."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml


def _agree(full: ml.Fit, marginal: ml.Fit, z: float = 5.0) -> None:
    a = full.summary(group_effects=True)
    b = marginal.summary(group_effects=True)
    assert list(a.index) == list(b.index)
    # Difference of two posterior means in units of its Monte Carlo standard error,
    # sd * sqrt(1/ESS_a + 1/ESS_b). With ~50-100 parameters compared, 5 MCSE keeps the
    # chance of a false alarm below 1e-4 while a wrong engine is off by many MCSE.
    mcse = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
    z_mean = (a["mean"] - b["mean"]).abs() / mcse
    assert z_mean.max() < z, z_mean.sort_values().tail(3).to_string()
    # Posterior sds: the sd of an sd estimate is ~ sd / sqrt(2 ESS); both ESS >= ~400, so
    # 15% is over 4 of those combined.
    np.testing.assert_allclose(b["sd"], a["sd"], rtol=0.15)


def test_engines_agree_on_sleepstudy(sleepstudy):
    model = ml.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    full = model.fit(seed=1, engine="full")
    marginal = model.fit(seed=1, engine="marginal")
    assert (full.engine, marginal.engine) == ("full", "marginal")
    _agree(full, marginal)
    _agree_pointwise(full, marginal)


def _agree_pointwise(full: ml.Fit, marginal: ml.Fit) -> None:
    """The pointwise log-likelihood, conditional on the drawn group effects, is the same
    quantity on both engines (the marginal engine reads its r_* draws)."""
    a, b = (np.asarray(f.log_likelihood()) for f in (full, marginal))
    lppd_a, lppd_b = (_lppd(x) for x in (a, b))
    # Per row, log mean exp over 4000 draws: its Monte Carlo sd is about sd(lik)/mean(lik)
    # / sqrt(ESS), under 0.05 for ESS ~ 1000 wherever no single draw dominates; 0.25 is five
    # of those and still catches a row read with the wrong group effect (off by > 1).
    assert np.max(np.abs(lppd_a - lppd_b)) < 0.25
    assert abs(lppd_a.sum() - lppd_b.sum()) < 2.0  # sum of ~180 independent errors


def _lppd(log_lik: np.ndarray) -> np.ndarray:
    flat = log_lik.reshape(-1, log_lik.shape[-1])
    top = flat.max(axis=0)
    return top + np.log(np.mean(np.exp(flat - top), axis=0))


def test_engines_agree_on_partially_clustered_sigma_by_arm(partially_clustered):
    model = ml.Model(
        "y ~ tx + (0 + tx | cluster)",
        partially_clustered,
        sigma="~ tx",
        priors=["b ~ normal(0, 1000)", "b_sigma ~ normal(0, 5)"],
    )
    full, marginal = model.fit(seed=2, engine="full"), model.fit(seed=2, engine="marginal")
    _agree(full, marginal)
    _agree_pointwise(full, marginal)


def test_auto_picks_the_marginal_engine_where_it_applies(sleepstudy):
    model = ml.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    assert "Engine (auto): marginal" in model.describe()
    fit = model.fit(chains=2, warmup=200, draws=200, seed=4)
    assert fit.engine == "marginal"


def test_engines_agree_on_nested_factors(grouseticks):
    # Broods within locations, written as lme4's a/b: integrated out brood by brood, then
    # location by location; 403 rows, 63 locations, 118 broods.
    model = ml.Model("log_ticks ~ YEAR + (1 | LOCATION/BROOD)", grouseticks)
    assert "level by level, LOCATION:BROOD within LOCATION" in model.describe()
    _agree(model.fit(seed=5, engine="full"), model.fit(seed=5, engine="marginal"))


def test_implicit_nesting_is_found(grouseticks):
    # Brood labels are unique across locations: (1 | LOCATION) + (1 | BROOD) is nested too.
    model = ml.Model("log_ticks ~ YEAR + (1 | LOCATION) + (1 | BROOD)", grouseticks)
    assert "level by level, BROOD within LOCATION" in model.describe()


def test_engines_agree_on_crossed_factors(sleepstudy):
    # Subjects crossed with days: 18 + 10 effects, integrated out jointly.
    df = sleepstudy.assign(day=sleepstudy["Days"].astype(str))
    model = ml.Model("Reaction ~ Days + (1 | Subject) + (1 | day)", df)
    assert "jointly over the crossed factors" in model.describe()
    _agree(model.fit(seed=6, engine="full"), model.fit(seed=6, engine="marginal"))


def test_crossed_factors_with_many_effects_stay_on_the_full_engine(sleepstudy, monkeypatch):
    from multilevel.model import _engine

    monkeypatch.setattr(_engine, "MAX_DENSE_EFFECTS", 20)
    df = sleepstudy.assign(day=sleepstudy["Days"].astype(str))
    model = ml.Model("Reaction ~ Days + (1 | Subject) + (1 | day)", df)
    assert "full, group effects sampled, because its grouping factors (day, Subject) are " in (
        model.describe()
    )
    with pytest.raises(ml.ModelError, match="28 group effects in all"):
        model.fit(engine="marginal")


def test_engines_agree_on_singular_ratings(ratings):
    # lme4's fit is singular (intercept sd 0): the marginal form stays exact as an sd -> 0.
    model = ml.Model("rating ~ blockType * CSType + (1 + blockType * CSType | subject)", ratings)
    _agree(model.fit(seed=3, engine="full"), model.fit(seed=3, engine="marginal"))
