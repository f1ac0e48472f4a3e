"""Simulated data from every family through its brms parametrisation, shared by the tests.

`simulate(family, seed)` draws `y ~ x + (1 | g)` (20 groups x 25 rows) with known fixed
effects, group sd and auxiliary parameters; `family_model(family)` gives the formula and
keywords that fit it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

N_GROUPS, PER_GROUP = 20, 25
TRUTH = {"b_Intercept": 0.5, "b_x": 0.8, "sd_g__Intercept": 0.5}


def _design(seed: int):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    x = rng.normal(size=g.size)
    u = rng.normal(0, TRUTH["sd_g__Intercept"], N_GROUPS)
    eta = TRUTH["b_Intercept"] + TRUTH["b_x"] * x + u[g]
    return rng, g, x, eta


def _zero_truncated(draw):
    """Row-wise draws from `draw()` (one per row), redrawn where 0 until none is."""
    out = draw()
    while np.any(out == 0):
        fresh, zero = draw(), out == 0
        out[zero] = fresh[zero]
    return out


def _negbin(rng, mu, shape):
    """A sampler of negative binomial rows with mean mu and variance mu + mu^2 / shape."""
    return lambda: rng.negative_binomial(shape, shape / (shape + mu))


def simulate(family: str, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """Data from `family` with link(mu) = eta, and the auxiliary parameters' true values."""
    rng, g, x, eta = _design(seed)
    n = eta.size
    extra: dict[str, float] = {}
    df = pd.DataFrame({"x": x, "g": g})
    if family == "student":
        extra = {"sigma": 0.7, "nu": 6.0}
        y = eta + extra["sigma"] * rng.standard_t(extra["nu"], n)
    elif family == "bernoulli":
        y = rng.binomial(1, special.expit(eta))
    elif family == "binomial":
        df["n"] = rng.integers(5, 15, n)
        y = rng.binomial(df["n"], special.expit(eta))
    elif family == "poisson":
        y = rng.poisson(np.exp(eta))
    elif family == "negbinomial":
        extra = {"shape": 3.0}
        y = _negbin(rng, np.exp(eta), 3.0)()
    elif family == "gamma":
        extra = {"shape": 4.0}
        y = rng.gamma(4.0, np.exp(eta) / 4.0)
    elif family == "lognormal":
        extra = {"sigma": 0.5}
        y = np.exp(rng.normal(eta, 0.5))
    elif family == "beta":
        extra = {"phi": 10.0}
        mu = special.expit(eta)
        y = rng.beta(mu * 10, (1 - mu) * 10)
    elif family in ("zero_inflated_poisson", "zero_inflated_negbinomial"):
        extra = {"zi": 0.3}
        if family.endswith("negbinomial"):
            extra["shape"] = 3.0
            y = _negbin(rng, np.exp(eta), 3.0)()
        else:
            y = rng.poisson(np.exp(eta))
        y = np.where(rng.random(n) < 0.3, 0, y)
    elif family in ("hurdle_poisson", "hurdle_negbinomial"):
        extra = {"hu": 0.3}
        mu = np.exp(eta)
        if family.endswith("negbinomial"):
            extra["shape"] = 3.0
            positive = _zero_truncated(_negbin(rng, mu, 3.0))
        else:
            positive = _zero_truncated(lambda: rng.poisson(mu))
        y = np.where(rng.random(n) < 0.3, 0, positive)
    elif family == "hurdle_lognormal":
        extra = {"sigma": 0.5, "hu": 0.3}
        y = np.where(rng.random(n) < 0.3, 0.0, np.exp(rng.normal(eta, 0.5)))
    elif family == "zero_one_inflated_beta":
        extra = {"phi": 10.0, "zoi": 0.2, "coi": 0.6}
        mu = special.expit(eta)
        inflated = rng.random(n) < 0.2
        y = np.where(
            inflated, (rng.random(n) < 0.6).astype(float), rng.beta(mu * 10, (1 - mu) * 10)
        )
    elif family in ("cumulative", "cumulative_disc"):
        # No intercept: thresholds take its place (P(y <= k) = logistic(disc (thr_k - eta))).
        extra = {"b_Intercept[1]": -1.0, "b_Intercept[2]": 0.5, "b_Intercept[3]": 2.0}
        eta = eta - TRUTH["b_Intercept"]
        thresholds = np.array(list(extra.values()))
        disc = np.ones(n)
        if family == "cumulative_disc":  # log(disc) = 0.6 w: disc = 1 at w = 0, as brms
            df["w"] = rng.normal(size=n)
            extra["b_disc_w"] = 0.6
            disc = np.exp(0.6 * df["w"].to_numpy())
        below = special.expit(disc[:, None] * (thresholds[None, :] - eta[:, None]))
        y = (rng.random(n)[:, None] > below).sum(axis=1) + 1  # levels 1..4
    elif family == "ordered_beta":
        # Kubinec (2022): P(0) = 1 - logistic(eta - cutzero), P(1) = logistic(eta - cutone),
        # otherwise beta(mu phi, (1 - mu) phi) with mu = logistic(eta).
        extra = {"phi": 8.0, "cutzero": -1.5, "cutone": 2.5}
        mu = special.expit(eta)
        p0, p1 = 1 - special.expit(eta + 1.5), special.expit(eta - 2.5)
        u = rng.random(n)
        y = np.where(u < p0, 0.0, np.where(u < p0 + p1, 1.0, rng.beta(mu * 8, (1 - mu) * 8)))
    else:
        raise KeyError(family)
    df["y"] = y
    return df, extra


FAMILIES = [
    "student",
    "bernoulli",
    "binomial",
    "poisson",
    "negbinomial",
    "gamma",
    "lognormal",
    "beta",
    "zero_inflated_poisson",
    "zero_inflated_negbinomial",
    "hurdle_poisson",
    "hurdle_negbinomial",
    "hurdle_lognormal",
    "zero_one_inflated_beta",
    "cumulative",
    "cumulative_disc",
    "ordered_beta",
]
LINK = {"gamma": "log"}  # brms's default for gamma is the inverse link; simulate on log
FAMILY = {"cumulative_disc": "cumulative"}
DPARS = {"cumulative_disc": {"disc": "~ 0 + w"}}


def family_model(family: str, seed: int | None = None) -> tuple[str, pd.DataFrame, dict]:
    """The formula, simulated data and `ml.Model` keywords for one entry of FAMILIES."""
    data, _ = simulate(family, FAMILIES.index(family) + 100 if seed is None else seed)
    lhs = "y | trials(n)" if family == "binomial" else "y"
    keywords = {"family": FAMILY.get(family, family), "link": LINK.get(family)}
    return f"{lhs} ~ x + (1 | g)", data, {**keywords, **DPARS.get(family, {})}
