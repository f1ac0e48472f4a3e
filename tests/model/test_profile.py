"""REML and ML fits from the marginal likelihood against lme4 1.1-31 and glmmTMB 1.1.5.

The references (tests/data/reference/*.json, each with its R call) were fitted in R 4.2.2.
No sampling here: `profile_fit` reads the compiled model's design only.

Tolerances:

- Estimates (fixed effects, sds, correlations, sigma, sigma's coefficients) and the fixed
  effects' standard errors: 1e-4 relative (1e-4 absolute for correlations, which can be near
  0). lme4 stops when the deviance changes by less than ~1e-6, glmmTMB at a gradient of ~1e-8:
  near an optimum a change d in the criterion moves a parameter by ~sqrt(d / curvature), so
  lme4's values of a weakly determined parameter are good to a few 1e-5 (we differ from them
  by at most 3.4e-5, on sleepstudy ML's intercept sd, where our logLik is the higher one;
  by < 1e-5 on every model but that one). 1e-4 leaves room for it, and is hundreds of times smaller
  than any real mistake moves them: a missing REML correction changes the sds by 4%, a
  variance read as an sd or a wrong degrees of freedom by more.
- logLik: 1e-6 absolute. At an optimum the criterion is flat, so both optimisers' values
  are exact to ~1e-9; 1e-6 is lme4's tolerance on the deviance. It checks every constant:
  REML's `p/2 log(2 pi)` and `log|X'V^-1 X|` in lme4's parametrisation of X.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import load_reference

import multilevel as ml
from multilevel import ModelError
from multilevel.inference import configure_cache
from multilevel.model._profile import profile_fit

REL = 1e-4
COR_ABS = 1e-4
LOGLIK_ABS = 1e-6

# One compiled criterion serves REML and ML of a model: let the second fit read it back.
configure_cache()


def lme4_reference(name: str) -> dict[str, float]:
    """An lme4 reference by brms name: b_*, se_b_* (standard errors), sd_*, cor_*, sigma,
    and logLik. lme4's `BROOD:LOCATION` is brms's `LOCATION:BROOD`, and `(x || g)` gives
    groups `g` and `g.1`, both `g`."""
    raw = load_reference(name)
    out = {"logLik": raw["logLik"]}
    for term, row in raw["fixed"].items():
        coef = "Intercept" if term == "(Intercept)" else term
        out[f"b_{coef}"], out[f"se_b_{coef}"] = row["estimate"], row["se"]
    for row in raw["varcorr"]:
        if row["grp"] == "Residual":
            out["sigma"] = row["sdcor"]
            continue
        group = re.sub(r"\.\d+$", "", row["grp"]).replace("BROOD:LOCATION", "LOCATION:BROOD")
        coefs = [v.replace("(Intercept)", "Intercept") for v in (row["var1"], row["var2"]) if v]
        prefix = "sd" if len(coefs) == 1 else "cor"
        out[f"{prefix}_{group}__{'__'.join(coefs)}"] = row["sdcor"]
    return out


def check_against(fit, reference: dict[str, float]) -> None:
    ours = {**fit.estimates, **{f"se_{k}": v for k, v in fit.se.items()}}
    ours["logLik"] = fit.log_likelihood
    assert fit.converged, fit.message
    assert set(reference) <= set(ours), set(reference) - set(ours)
    for name, want in reference.items():
        if name == "logLik":
            tolerance = {"abs": LOGLIK_ABS}
        elif name.startswith("cor_"):
            tolerance = {"abs": COR_ABS}
        else:
            tolerance = {"rel": REL}
        assert ours[name] == pytest.approx(want, **tolerance), (name, ours[name], want)


LME4 = {
    "lme4_sleepstudy_reml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "REML"),
    "lme4_sleepstudy_ml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "ML"),
    "lme4_sleepstudy_uncorrelated_reml": (
        "Reaction ~ Days + (Days || Subject)",
        "sleepstudy",
        "REML",
    ),
    "lme4_partially_clustered_reml": ("y ~ tx + (0 + tx | cluster)", "partially_clustered", "REML"),
    "lme4_grouseticks_nested_gaussian_reml": (
        "log_ticks ~ YEAR + (1 | LOCATION/BROOD)",
        "grouseticks",
        "REML",
    ),
}


@pytest.mark.parametrize("name", list(LME4))
def test_matches_lme4(name, request):
    """lmer(Reaction ~ Days + (Days | Subject), data) [REML and REML=FALSE];
    lmer(Reaction ~ Days + (Days || Subject), data); lmer(y ~ tx + (0 + tx | cluster), data);
    lmer(log_ticks ~ YEAR + (1 | LOCATION/BROOD), data) with log_ticks = log1p(TICKS) and YEAR
    a factor. Every estimate, the fixed effects' se's and logLik (see the module docstring)."""
    formula, data, method = LME4[name]
    assert load_reference(name)["r_code"].replace(" ", "").find(formula.replace(" ", "")) >= 0
    model = ml.Model(formula, request.getfixturevalue(data))._compiled
    check_against(profile_fit(model, method), lme4_reference(name))


def test_sigma_per_arm_matches_glmmtmb(partially_clustered):
    """glmmTMB(y ~ tx + (0 + tx | cluster), dispformula = ~ tx, data) [ML]: (Intercept)
    20.84172018 (se 0.57815929), tx -4.98502032 (se 0.87902203), dispersion log(sigma^2)
    (Intercept) 3.50935845, tx -0.82377109, sd 1.70804985, logLik -599.0099228.

    glmmTMB models log(sigma^2), brms log(sigma): our b_sigma_* are half its coefficients.
    lme4 has no residual sd per arm, the trial statistician's model; glmmTMB's ML is the
    reference.
    """
    raw = load_reference("glmmtmb_partially_clustered_sigma_by_arm")
    reference = {
        "b_Intercept": raw["fixed"]["(Intercept)"]["estimate"],
        "se_b_Intercept": raw["fixed"]["(Intercept)"]["se"],
        "b_tx": raw["fixed"]["tx"]["estimate"],
        "se_b_tx": raw["fixed"]["tx"]["se"],
        "b_sigma_Intercept": raw["dispersion_log_sigma2"]["(Intercept)"]["estimate"] / 2,
        "b_sigma_tx": raw["dispersion_log_sigma2"]["tx"]["estimate"] / 2,
        "sd_cluster__tx": raw["sd_cluster_tx"],
        "logLik": raw["logLik"],
    }
    model = ml.Model("y ~ tx + (0 + tx | cluster)", partially_clustered, sigma="~ tx")
    fit = profile_fit(model._compiled, "ML")
    check_against(fit, reference)
    sigmas = np.exp(fit.estimates["b_sigma_Intercept"] + np.array([0, fit.estimates["b_sigma_tx"]]))
    assert sigmas == pytest.approx([raw["sigma_control"], raw["sigma_treated"]], rel=REL)


def test_a_start_far_off_reaches_the_same_optimum(sleepstudy):
    """The optimum does not depend on where the search starts (here sds 10x and 1/10 of
    lme4's, a correlation of -0.9 and sigma doubled): the better of the two starts is kept,
    and both reach it. Same tolerances as against lme4."""
    model = ml.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)._compiled
    far = {
        "sd_Subject__Intercept": 250.0,
        "sd_Subject__Days": 0.6,
        "cor_Subject__Intercept__Days": -0.9,
        "sigma": 50.0,
    }
    check_against(profile_fit(model, "reml", starts=far), lme4_reference("lme4_sleepstudy_reml"))


def test_declines_models_the_marginal_engine_cannot_integrate(grouseticks_raw):
    model = ml.Model("TICKS ~ YEAR + (1 | BROOD)", grouseticks_raw, family="poisson")._compiled
    with pytest.raises(ModelError, match=r"Gaussian models with an identity link.*poisson"):
        profile_fit(model, "REML")
    no_groups = ml.Model("TICKS ~ YEAR", grouseticks_raw)._compiled
    with pytest.raises(ModelError, match="no group terms"):
        profile_fit(no_groups, "ML")


def test_method_is_reml_or_ml(sleepstudy):
    model = ml.Model("Reaction ~ Days + (1 | Subject)", sleepstudy)._compiled
    with pytest.raises(ModelError, match="method must be 'REML' or 'ML', got 'MLE'"):
        profile_fit(model, "MLE")
