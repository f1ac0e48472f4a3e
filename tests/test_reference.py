"""Fits of `multilevel` against R reference fits (lme4 1.1-31, glmmTMB 1.1.5, R 4.2.2).

The reference numbers live in tests/data/reference/*.json and are read from there at run
time; each test also writes its R call and key numbers in its docstring, and
`test_numbers_written_here_match_the_json` checks that the written numbers are the JSON's.

Tolerances (the same for every model unless a test says otherwise):

- Fixed effects, posterior mean: within 0.25 reference standard errors of the estimate. With a
  flat (or, for the distributional model, very wide) prior on `b`, the marginal posterior mean
  of a fixed effect is the GLS estimate averaged over the posterior of the variance
  components, which differs from lme4's estimate at the REML/ML mode only by a small fraction
  of a standard error (balanced designs: not at all). Monte Carlo error adds
  posterior sd / sqrt(ESS) ~ 1.1 se / sqrt(1000) ~ 0.035 se. 0.25 se leaves a wide margin
  over both while still catching a wrong design matrix, a wrong centring or a biased sampler.
- Fixed effects, posterior sd: within 20% of the reference standard error. The posterior sd
  includes the uncertainty of the variance components (lme4's se plugs in their estimates)
  and so is typically 0-15% larger (a t rather than a normal tail); 20% catches a wrong
  likelihood scale (e.g. a variance used as an sd) or an error in the group-effect
  structure, which change it by far more.
- Residual sigma: within 5% of the reference. With 100-400 residuals sigma is well determined
  (posterior sd 2-7% of its value), and its posterior mean and the REML estimate differ by
  much less than one posterior sd.
- Group-level sds: the reference lies inside the central 95% posterior interval, and the
  posterior median is within 25% of it. With 10-25 groups the posterior of an sd is wide
  (posterior sd 20-40% of its value) and right-skewed, so its mean lies above the REML/ML
  mode; the median is the more robust point to compare, and 25% is about one posterior sd.
- Correlations: the reference lies inside the 95% interval and the posterior mean is within
  half a posterior sd of it (18 subjects hardly determine a correlation: posterior sd ~0.3).

All fits use the default 4 chains x (1000 warmup + 1000 draws): the 0.25 se tolerance needs a
Monte Carlo error well below it (ESS ~1000 gives ~0.035 se), and the 20% check on posterior
sds needs the sd of the draws to within a few percent. Compilation, not sampling, dominates the
time of a fit, so fewer draws would save little.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"

FIXED_MEAN_SE = 0.25  # |posterior mean - estimate| < 0.25 reference se
FIXED_SD_REL = 0.20  # |posterior sd / reference se - 1| < 0.20
SIGMA_REL = 0.05  # |posterior mean of sigma / reference - 1| < 0.05
SD_MEDIAN_REL = 0.25  # |posterior median of a group-level sd / reference - 1| < 0.25
COR_MEAN_SD = 0.5  # |posterior mean - reference| < 0.5 posterior sd
RHAT_MAX = 1.01


# --------------------------------------------------------------------------------------------
# Reading the references


def read_reference(name: str) -> dict:
    return json.loads((REFERENCE_DIR / f"{name}.json").read_text())


def brms_fixed(term: str, dpar: str = "mu") -> str:
    """lme4's `(Intercept)` / `Days` / `blockType:CSType` -> `b_Intercept` / `b_Days` / ..."""
    term = "Intercept" if term == "(Intercept)" else term
    return f"b_{term}" if dpar == "mu" else f"b_{dpar}_{term}"


def lme4_reference(name: str) -> dict:
    """An lme4 reference in brms names: fixed {name: (estimate, se)}, sd, cor, sigma, r_code.

    `(Days || Subject)` gives lme4 groups `Subject` and `Subject.1`: both are `Subject`.
    """
    raw = read_reference(name)
    out = {"r_code": raw["r_code"], "fixed": {}, "sd": {}, "cor": {}, "sigma": None}
    for term, row in raw["fixed"].items():
        out["fixed"][brms_fixed(term)] = (row["estimate"], row["se"])
    for row in raw["varcorr"]:
        value = float(row["sdcor"])
        if row["grp"] == "Residual":
            out["sigma"] = value
            continue
        group = re.sub(r"\.\d+$", "", row["grp"])
        coefs = [brms_fixed(v).removeprefix("b_") for v in (row["var1"], row["var2"]) if v]
        if len(coefs) == 1:
            out["sd"][f"sd_{group}__{coefs[0]}"] = value
        else:
            out["cor"][f"cor_{group}__{coefs[0]}__{coefs[1]}"] = value
    return out


# The numbers each test compares with, as written in its docstring: checked against the JSON.
WRITTEN = {
    "lme4_sleepstudy_reml": {
        "r_code": "lmer(Reaction ~ Days + (Days | Subject), data)",
        "fixed": {"b_Intercept": (251.40510485, 6.82459669), "b_Days": (10.46728596, 1.54578964)},
        "sd": {"sd_Subject__Intercept": 24.74065799, "sd_Subject__Days": 5.92213766},
        "cor": {"cor_Subject__Intercept__Days": 0.06555124},
        "sigma": 25.59179572,
    },
    "lme4_sleepstudy_ml": {
        "r_code": "lmer(Reaction ~ Days + (Days | Subject), data, REML=FALSE)",
        "fixed": {"b_Intercept": (251.40510485, 6.63212274), "b_Days": (10.46728596, 1.50223021)},
        "sd": {"sd_Subject__Intercept": 23.77975959, "sd_Subject__Days": 5.71679851},
        "cor": {"cor_Subject__Intercept__Days": 0.08132109},
        "sigma": 25.59190704,
    },
    "lme4_sleepstudy_uncorrelated_reml": {
        "r_code": "lmer(Reaction ~ Days + (Days || Subject), data)",
        "fixed": {"b_Intercept": (251.40510485, 6.88538082), "b_Days": (10.46728596, 1.5595691)},
        "sd": {"sd_Subject__Intercept": 25.05132832, "sd_Subject__Days": 5.98818667},
        "cor": {},
        "sigma": 25.5652792,
    },
    "lme4_partially_clustered_reml": {
        "r_code": "lmer(y ~ tx + (0 + tx | cluster), data)",
        "fixed": {"b_Intercept": (20.84172, 0.49669247), "b_tx": (-4.98502, 0.85663735)},
        "sd": {"sd_cluster__tx": 1.55055066},
        "cor": {},
        "sigma": 4.9669247,
    },
    "lme4_ratings_2x2_reml": {
        "r_code": ("lmer(rating ~ blockType * CSType + (1 + blockType * CSType | subject), data)"),
        "fixed": {
            "b_Intercept": (9.15, 1.07107224),
            "b_blockType": (4.31, 1.99299685),
            "b_CSType": (13.82, 2.15719098),
            "b_blockType:CSType": (11.27, 2.71944325),
        },
        "sd": {
            "sd_subject__Intercept": 0.0,
            "sd_subject__blockType": 6.47619672,
            "sd_subject__CSType": 7.67965081,
            "sd_subject__blockType:CSType": 8.37643817,
        },
        "cor": {
            "cor_subject__Intercept__blockType": np.nan,
            "cor_subject__Intercept__CSType": np.nan,
            "cor_subject__Intercept__blockType:CSType": np.nan,
            "cor_subject__blockType__CSType": 0.19920707,
            "cor_subject__blockType__blockType:CSType": -0.00364143,
            "cor_subject__CSType__blockType:CSType": -0.751401,
        },
        "sigma": 10.71072238,
    },
    "lme4_grouseticks_nested_gaussian_reml": {
        "r_code": (
            'data <- read.csv("grouseticks.csv"); data$log_ticks <- log1p(data$TICKS); '
            "data$YEAR <- factor(data$YEAR); "
            "lmer(log_ticks ~ YEAR + (1 | LOCATION/BROOD), data, REML = TRUE)"
        ),
        "fixed": {
            "b_Intercept": (0.93456722666, 0.14151896976),
            "b_YEAR96": (0.90784563404, 0.16768126376),
            "b_YEAR97": (-0.48754339536, 0.16682608766),
        },
        "sd": {
            "sd_BROOD:LOCATION__Intercept": 0.50329261058,
            "sd_LOCATION__Intercept": 0.62260406936,
        },
        "cor": {},
        "sigma": 0.56102284027,
    },
}

WRITTEN_GLMMTMB = {
    "r_code": (
        "glmmTMB(y ~ tx + (0 + tx | cluster), dispformula = ~ tx, data) # ML; the dispersion "
        "model is log(sigma^2) in glmmTMB 1.1.5"
    ),
    "fixed": {"(Intercept)": (20.84172018, 0.57815929), "tx": (-4.98502032, 0.87902203)},
    "dispersion_log_sigma2": {
        "(Intercept)": (3.50935845, 0.14142135),
        "tx": (-0.82377109, 0.20548046),
    },
    "sd_cluster_tx": 1.70804985,
    "sigma_control": 5.78159287,
    "sigma_treated": 3.82972762,
}


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_numbers_written_here_match_the_json(name):
    ref = lme4_reference(name)
    written = WRITTEN[name]
    assert ref["r_code"] == written["r_code"]
    assert ref["fixed"].keys() == written["fixed"].keys()
    for key, (estimate, se) in written["fixed"].items():
        assert ref["fixed"][key] == pytest.approx((estimate, se), rel=1e-8)
    for part in ("sd", "cor"):
        assert ref[part].keys() == written[part].keys()
        for key, value in written[part].items():
            assert ref[part][key] == pytest.approx(value, rel=1e-8, nan_ok=True)
    assert ref["sigma"] == pytest.approx(written["sigma"], rel=1e-8)


def test_glmmtmb_numbers_written_here_match_the_json():
    raw = read_reference("glmmtmb_partially_clustered_sigma_by_arm")
    assert raw["r_code"] == WRITTEN_GLMMTMB["r_code"]
    for part in ("fixed", "dispersion_log_sigma2"):
        for term, (estimate, se) in WRITTEN_GLMMTMB[part].items():
            row = raw[part][term]
            assert (row["estimate"], row["se"]) == pytest.approx((estimate, se), rel=1e-8)
    for key in ("sd_cluster_tx", "sigma_control", "sigma_treated"):
        assert raw[key] == pytest.approx(WRITTEN_GLMMTMB[key], rel=1e-8)
    # glmmTMB's dispersion is log(sigma^2): its sigmas are exp(half the linear predictor).
    half = {k: v[0] / 2 for k, v in WRITTEN_GLMMTMB["dispersion_log_sigma2"].items()}
    assert np.exp(half["(Intercept)"]) == pytest.approx(raw["sigma_control"], rel=1e-6)
    assert np.exp(half["(Intercept)"] + half["tx"]) == pytest.approx(raw["sigma_treated"], rel=1e-6)


# --------------------------------------------------------------------------------------------
# Comparison helpers


def draws(fit, name: str) -> np.ndarray:
    return np.asarray(fit.idata.posterior[name].values).ravel()


def check_fixed(summary: pd.DataFrame, fixed: dict[str, tuple[float, float]], skip_sd=()):
    """Posterior mean within FIXED_MEAN_SE se of the estimate, posterior sd within
    FIXED_SD_REL of the se (except the names in `skip_sd`, which a test checks otherwise)."""
    problems = []
    for name, (estimate, se) in fixed.items():
        mean, sd = summary.loc[name, "mean"], summary.loc[name, "sd"]
        if abs(mean - estimate) > FIXED_MEAN_SE * se:
            problems.append(
                f"{name}: posterior mean {mean:.4f}, reference {estimate:.4f}: off by "
                f"{abs(mean - estimate) / se:.3f} se (allowed {FIXED_MEAN_SE})"
            )
        if name not in skip_sd and abs(sd / se - 1) > FIXED_SD_REL:
            problems.append(
                f"{name}: posterior sd {sd:.4f}, reference se {se:.4f}: ratio {sd / se:.3f} "
                f"(allowed 1 +- {FIXED_SD_REL})"
            )
    assert not problems, "\n".join(problems)


def check_group_sd(fit, name: str, reference: float, median_rel: float = SD_MEDIAN_REL):
    x = draws(fit, name)
    lo, median, hi = np.quantile(x, [0.025, 0.5, 0.975])
    assert lo < reference < hi, f"{name}: reference {reference} outside [{lo:.3f}, {hi:.3f}]"
    assert abs(median / reference - 1) < median_rel, (
        f"{name}: posterior median {median:.3f} vs reference {reference:.3f} "
        f"(ratio {median / reference:.3f}, allowed 1 +- {median_rel})"
    )


def check_cor(fit, name: str, reference: float):
    x = draws(fit, name)
    lo, hi = np.quantile(x, [0.025, 0.975])
    assert lo < reference < hi, f"{name}: reference {reference} outside [{lo:.3f}, {hi:.3f}]"
    assert abs(x.mean() - reference) < COR_MEAN_SD * x.std(), (
        f"{name}: posterior mean {x.mean():.3f} (sd {x.std():.3f}) vs reference {reference:.3f}"
    )


def check_sigma(values: np.ndarray, reference: float, label: str = "sigma"):
    mean = float(np.mean(values))
    assert abs(mean / reference - 1) < SIGMA_REL, (
        f"{label}: posterior mean {mean:.4f} vs reference {reference:.4f} "
        f"(ratio {mean / reference:.4f}, allowed 1 +- {SIGMA_REL})"
    )


def check_diagnostics(fit, max_divergences: int = 0, rhat_max: float = RHAT_MAX):
    d = fit.diagnostics
    assert d.divergences <= max_divergences, str(d)
    assert d.rhat_max < rhat_max, str(d)


# --------------------------------------------------------------------------------------------
# sleepstudy: Reaction ~ Days + (Days | Subject), 18 subjects x 10 days


@pytest.fixture(scope="module")
def sleep_fit(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days | Subject)", data=sleepstudy, seed=1)


@pytest.fixture(scope="module")
def sleep_uncorrelated_fit(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days || Subject)", data=sleepstudy, seed=1)


def test_sleepstudy_diagnostics(sleep_fit):
    """At most 2 divergent transitions of 4000, R-hat < 1.01.

    Seed 1 gives one divergence (at sd_Subject__Intercept 36.5, sd_Subject__Days 6.4,
    cor -0.03: a typical point, not the neck of a funnel); seeds 2-8 give none. One or two
    in 4000 is the "small number" a 2x2 group covariance with 18 groups may show.
    """
    check_diagnostics(sleep_fit, max_divergences=2)
    assert list(sleep_fit.summary().index) == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]


def test_sleepstudy_fixed_effects_match_lme4_reml(sleep_fit):
    """lmer(Reaction ~ Days + (Days | Subject), data)  [REML]

    (Intercept) 251.40510485 (se 6.82459669), Days 10.46728596 (se 1.54578964).
    """
    check_fixed(sleep_fit.summary(), lme4_reference("lme4_sleepstudy_reml")["fixed"])


def test_sleepstudy_variance_components_match_lme4_reml(sleep_fit):
    """lmer(Reaction ~ Days + (Days | Subject), data)  [REML]

    Subject sds: (Intercept) 24.74065799, Days 5.92213766; correlation 0.06555124;
    residual sd 25.59179572.
    """
    ref = lme4_reference("lme4_sleepstudy_reml")
    for name, value in ref["sd"].items():
        check_group_sd(sleep_fit, name, value)
    check_cor(sleep_fit, "cor_Subject__Intercept__Days", ref["cor"]["cor_Subject__Intercept__Days"])
    check_sigma(draws(sleep_fit, "sigma"), ref["sigma"])


def test_sleepstudy_matches_lme4_ml(sleep_fit):
    """lmer(Reaction ~ Days + (Days | Subject), data, REML=FALSE)

    (Intercept) 251.40510485 (se 6.63212274), Days 10.46728596 (se 1.50223021);
    Subject sds 23.77975959, 5.71679851; correlation 0.08132109; residual sd 25.59190704.

    The posterior has no REML/ML switch: the same fit is compared with the ML reference,
    whose fixed estimates equal REML's (balanced design) with ~3% smaller se's and ~4% smaller
    group sds. Both references must pass the same tolerances.
    """
    ref = lme4_reference("lme4_sleepstudy_ml")
    check_fixed(sleep_fit.summary(), ref["fixed"])
    for name, value in ref["sd"].items():
        check_group_sd(sleep_fit, name, value)
    check_cor(sleep_fit, "cor_Subject__Intercept__Days", ref["cor"]["cor_Subject__Intercept__Days"])
    check_sigma(draws(sleep_fit, "sigma"), ref["sigma"])


def test_sleepstudy_uncorrelated_matches_lme4(sleep_uncorrelated_fit):
    """lmer(Reaction ~ Days + (Days || Subject), data)  [REML]

    (Intercept) 251.40510485 (se 6.88538082), Days 10.46728596 (se 1.5595691);
    Subject sds (Intercept) 25.05132832, Days 5.98818667; residual sd 25.5652792.
    """
    fit = sleep_uncorrelated_fit
    check_diagnostics(fit)
    summary = fit.summary()
    assert not [n for n in summary.index if n.startswith("cor_")]
    ref = lme4_reference("lme4_sleepstudy_uncorrelated_reml")
    check_fixed(summary, ref["fixed"])
    for name, value in ref["sd"].items():
        check_group_sd(fit, name, value)
    check_sigma(draws(fit, "sigma"), ref["sigma"])


# --------------------------------------------------------------------------------------------
# partially clustered: 100 controls (one per cluster id), 100 treated in 10 therapy groups


PC_FORMULA = "y ~ tx + (0 + tx | cluster)"
PC_PRIORS = ["b ~ normal(0, 1000)"]


@pytest.fixture(scope="module")
def pc_sigma_fit(partially_clustered):
    return ml.fit(PC_FORMULA, data=partially_clustered, sigma="~ tx", priors=PC_PRIORS, seed=1)


@pytest.fixture(scope="module")
def pc_sigma_missing_cluster_fit(partially_clustered):
    """Controls have no cluster at all (NaN) instead of singleton ids; another seed."""
    data = partially_clustered.copy()
    data["cluster"] = data["cluster"].where(data["tx"] == 1)
    return ml.fit(PC_FORMULA, data=data, sigma="~ tx", priors=PC_PRIORS, seed=2)


@pytest.fixture(scope="module")
def pc_fit(partially_clustered):
    return ml.fit(PC_FORMULA, data=partially_clustered, seed=1)


def test_partially_clustered_sigma_by_arm_matches_glmmtmb(pc_sigma_fit):
    """glmmTMB(y ~ tx + (0 + tx | cluster), dispformula = ~ tx, data)  [ML]

    (Intercept) 20.84172018 (se 0.57815929), tx -4.98502032 (se 0.87902203).
    Dispersion log(sigma^2): (Intercept) 3.50935845 (se 0.14142135), tx -0.82377109
    (se 0.20548046); ours is brms's log(sigma), so b_sigma = half of it: b_sigma_Intercept
    1.75467923 (se 0.07071068), b_sigma_tx -0.41188555 (se 0.10274023).
    sigma_control 5.78159287, sigma_treated 3.82972762, sd_cluster_tx 1.70804985.

    With ~100 residuals per arm the posterior mean of log(sigma) exceeds the ML value by about
    1/n = 0.01 (E[log chi2_n] vs log n, plus a degree of freedom for each arm's mean): ~0.14 se,
    inside the 0.25 se tolerance; in b_sigma_tx (a difference of two such arms) it cancels.
    """
    fit = pc_sigma_fit
    check_diagnostics(fit)
    raw = read_reference("glmmtmb_partially_clustered_sigma_by_arm")
    fixed = {brms_fixed(t): (r["estimate"], r["se"]) for t, r in raw["fixed"].items()}
    fixed |= {
        brms_fixed(t, "sigma"): (r["estimate"] / 2, r["se"] / 2)
        for t, r in raw["dispersion_log_sigma2"].items()
    }
    assert fixed["b_sigma_Intercept"] == pytest.approx((1.75467923, 0.07071068), rel=1e-6)
    check_fixed(fit.summary(), fixed)

    log_control = draws(fit, "b_sigma_Intercept")
    log_treated = log_control + draws(fit, "b_sigma_tx")
    check_sigma(np.exp(log_control), raw["sigma_control"], "sigma_control")
    check_sigma(np.exp(log_treated), raw["sigma_treated"], "sigma_treated")
    # 10 clusters: the posterior of the sd is wide (posterior sd ~40% of its mean) and
    # glmmTMB's is an ML estimate (biased low with 10 groups): interval check, and the
    # median within 25% as for the other sds.
    check_group_sd(fit, "sd_cluster__tx", raw["sd_cluster_tx"])


def test_partially_clustered_missing_cluster_for_controls_gives_same_posterior(
    pc_sigma_fit, pc_sigma_missing_cluster_fit
):
    """Controls with cluster NaN (and Z = tx = 0) carry no group effect: the posterior is that
    of the singleton-id coding. Means agree within Monte Carlo error: 4 combined MCSEs."""
    a, b = pc_sigma_fit, pc_sigma_missing_cluster_fit
    check_diagnostics(b)
    # Only the 10 therapy groups have group effects.
    assert list(b.idata.posterior["cluster"].values) == [f"g{i:02d}" for i in range(1, 11)]
    names = ["b_Intercept", "b_tx", "b_sigma_Intercept", "b_sigma_tx", "sd_cluster__tx"]
    assert list(a.summary().index) == list(b.summary().index) == names
    mean_a, mean_b = (f.idata.posterior[names].mean(dim=("chain", "draw")) for f in (a, b))
    mcse_a, mcse_b = (az.mcse(f.idata.posterior[names], method="mean") for f in (a, b))
    problems = []
    for name in names:
        diff = float(mean_a[name] - mean_b[name])
        mcse = float(np.hypot(mcse_a[name], mcse_b[name]))
        if abs(diff) > 4 * mcse:
            problems.append(f"{name}: means differ by {diff:.4g}, combined MCSE {mcse:.4g}")
    assert not problems, "\n".join(problems)


def test_partially_clustered_single_sigma_matches_lme4(pc_fit):
    """lmer(y ~ tx + (0 + tx | cluster), data)  [REML, one residual sd]

    (Intercept) 20.84172 (se 0.49669247), tx -4.98502 (se 0.85663735);
    cluster sd (tx) 1.55055066; residual sd 4.9669247.
    """
    check_diagnostics(pc_fit)
    ref = lme4_reference("lme4_partially_clustered_reml")
    check_fixed(pc_fit.summary(), ref["fixed"])
    check_group_sd(pc_fit, "sd_cluster__tx", ref["sd"]["sd_cluster__tx"])
    check_sigma(draws(pc_fit, "sigma"), ref["sigma"])


# --------------------------------------------------------------------------------------------
# ratings: 2x2 within-subject design, 25 subjects x 4 cells x 4 repetitions


@pytest.fixture(scope="module")
def ratings_fit(ratings):
    return ml.fit(
        "rating ~ blockType * CSType + (1 + blockType * CSType | subject)", data=ratings, seed=1
    )


def test_ratings_2x2_fit_is_healthy(ratings_fit):
    """A 4x4 group covariance that lme4 fits as singular (intercept sd 0, its correlations
    NaN). We ask for no or very few divergences (at most 10 of 4000), R-hat < 1.01 for the
    fixed effects and < 1.02 for everything (the correlations of a near-zero sd are the
    slowest-mixing part of the posterior)."""
    fit = ratings_fit
    check_diagnostics(fit, max_divergences=10, rhat_max=1.02)
    summary = fit.summary()
    fixed = [n for n in summary.index if n.startswith("b_")]
    assert fixed == ["b_Intercept", "b_blockType", "b_CSType", "b_blockType:CSType"]
    assert (summary.loc[fixed, "rhat"] < RHAT_MAX).all(), summary.loc[fixed, "rhat"]
    assert len([n for n in summary.index if n.startswith("cor_subject__")]) == 6


def test_ratings_2x2_matches_lme4(ratings_fit, ratings):
    """lmer(rating ~ blockType * CSType + (1 + blockType * CSType | subject), data)  [REML]

    (Intercept) 9.15 (se 1.07107224), blockType 4.31 (se 1.99299685), CSType 13.82
    (se 2.15719098), blockType:CSType 11.27 (se 2.71944325); residual sd 10.71072238;
    subject sds 0 (singular), 6.47619672, 7.67965081, 8.37643817.

    The intercept is the mean of cell (0, 0), 100 ratings from 25 subjects, so its sampling
    variance is sigma^2 / 100 + sd_Intercept^2 / 25. lme4's se is the first term alone
    (10.7107 / 10 = 1.0711) because its intercept sd sits on the boundary at 0; the posterior
    averages over sd_Intercept > 0 and so is wider. Its sd is compared, within 10%, with
    sqrt(E[sigma^2] / 100 + E[sd_Intercept^2] / 25) from our own draws instead (exact for the
    balanced design up to Monte Carlo error). The other se's use the usual 20%.
    """
    fit = ratings_fit
    ref = lme4_reference("lme4_ratings_2x2_reml")
    summary = fit.summary()
    check_fixed(summary, ref["fixed"], skip_sd={"b_Intercept"})

    cell = ratings[(ratings.blockType == 0) & (ratings.CSType == 0)]
    n_cell, n_subjects = len(cell), cell["subject"].nunique()
    assert (n_cell, n_subjects) == (100, 25)
    assert ref["sigma"] / np.sqrt(n_cell) == pytest.approx(ref["fixed"]["b_Intercept"][1], 1e-6)
    expected = np.sqrt(
        np.mean(draws(fit, "sigma") ** 2) / n_cell
        + np.mean(draws(fit, "sd_subject__Intercept") ** 2) / n_subjects
    )
    sd = summary.loc["b_Intercept", "sd"]
    assert abs(sd / expected - 1) < 0.10, f"b_Intercept sd {sd:.4f}, expected {expected:.4f}"

    check_sigma(draws(fit, "sigma"), ref["sigma"])
    # The slope sds: only the interval check (the 4x4 covariance is weakly identified by 25
    # subjects and lme4's singular fit moved the intercept's variance into the slopes).
    for name, value in ref["sd"].items():
        if value > 0:
            lo, hi = np.quantile(draws(fit, name), [0.025, 0.975])
            assert lo < value < hi, f"{name}: reference {value} outside [{lo:.3f}, {hi:.3f}]"


# --------------------------------------------------------------------------------------------
# Seeds


def test_same_seed_same_draws_other_seed_other_draws(sleep_fit, sleepstudy):
    """The module's sleepstudy fit used seed=1 and the default settings."""
    again = ml.fit("Reaction ~ Days + (Days | Subject)", data=sleepstudy, seed=1)
    other = ml.fit("Reaction ~ Days + (Days | Subject)", data=sleepstudy, seed=2)
    assert again.seed == sleep_fit.seed == 1
    names = list(sleep_fit.idata.posterior.data_vars)
    for name in names:
        first = sleep_fit.idata.posterior[name].values
        assert np.array_equal(first, again.idata.posterior[name].values), name
        assert not np.array_equal(first, other.idata.posterior[name].values), name
    assert np.array_equal(
        sleep_fit.idata.sample_stats["lp"].values, again.idata.sample_stats["lp"].values
    )


# --------------------------------------------------------------------------------------------
# grouseticks: log(TICKS + 1) ~ YEAR + (1 | LOCATION/BROOD), broods nested in locations


@pytest.fixture(scope="module")
def grouse_nested_fit(grouseticks):
    return ml.fit("log_ticks ~ YEAR + (1 | LOCATION/BROOD)", data=grouseticks, seed=1)


def test_grouseticks_nested_matches_lme4(grouse_nested_fit):
    """lmer(log_ticks ~ YEAR + (1 | LOCATION/BROOD), data, REML = TRUE), log_ticks = log1p(TICKS)

    (Intercept) 0.93456722666 (se 0.14151896976), YEAR96 0.90784563404 (se 0.16768126376),
    YEAR97 -0.48754339536 (se 0.16682608766); sds BROOD:LOCATION 0.50329261058, LOCATION
    0.62260406936; residual sd 0.56102284027. lme4 names the inner factor BROOD:LOCATION,
    brms (and we) LOCATION:BROOD. 63 locations and 118 broods determine the sds better than
    18 subjects do, so the general tolerances hold with room to spare.
    """
    fit = grouse_nested_fit
    assert fit.engine == "marginal"  # nested factors: integrated out brood by brood
    check_diagnostics(fit)
    ref = lme4_reference("lme4_grouseticks_nested_gaussian_reml")
    check_fixed(fit.summary(), ref["fixed"])
    for name, value in ref["sd"].items():
        check_group_sd(fit, name.replace("BROOD:LOCATION", "LOCATION:BROOD"), value)
    check_sigma(draws(fit, "sigma"), ref["sigma"])
