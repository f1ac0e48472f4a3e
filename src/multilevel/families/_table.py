"""The table of families: likelihood, links, auxiliary parameters and response checks.

One row per family, with brms's names, default links and default priors (as brms 2.18's
`get_prior` gives them). Adding a family is adding a row: the model builder reads only
this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import jax
import numpy as np
import pandas as pd

from .._errors import ModelError, did_you_mean
from ..priors import PriorSpec, ResponseScale, student_t
from . import _responses as responses
from ._likelihoods import LOG_LIKELIHOODS, binomial_counts
from ._links import LINKS, Link
from ._predictive import MEANS, RANDOMS, Mean, Random

Prior = Callable[[ResponseScale], PriorSpec]


@dataclass(frozen=True)
class AuxParameter:
    """An auxiliary (distributional) parameter: its brms name, link, default prior, bounds,
    and the default prior of its intercept when it has a formula (`zi ~ x`).

    `response_units`: the parameter is in the response's units (a residual sd), which the
    model uses to precondition the sampler."""

    name: str
    link: str
    default_prior: Prior
    bounds: tuple[float, float] = (0.0, math.inf)
    intercept_prior: Prior = lambda s: student_t(3, 0.0, 2.5, "Intercept")
    response_units: bool = False
    #: The value it keeps unless it gets a formula (brms's `disc = 1`): then it is not
    #: sampled at all.
    fixed: float | None = None


@dataclass(frozen=True)
class Family:
    """One likelihood.

    `log_likelihood(y, params)` returns the pointwise log-likelihood, where `params` maps
    `mu`, every auxiliary name and the response addition terms (`trials`) to arrays on the
    parameter scale. `mean(params)` is the expected response per row (brms's
    `posterior_epred`; the category probabilities, rows x K, for an ordinal family) and
    `random(key, params)` one draw of the response per row, coded as `y` is (see
    `_predictive`). `links` are the links `mu` may take, brms's default first.
    `prior_scale` is the scale on which brms sets the default intercept and sd priors (the
    link's, or "log" for lognormal families whose mu is the mean of log y). `location_scale`
    says that the response's mean and sd are the natural units of `mu`, which the model uses
    to precondition the sampler.
    """

    name: str
    links: tuple[str, ...]
    aux: tuple[AuxParameter, ...]
    log_likelihood: Callable[[jax.Array, dict[str, jax.Array]], jax.Array]
    check: responses.Check
    notation: str
    location_scale: bool = False
    additions: tuple[str, ...] = ()
    prior_scale: str | None = None
    mu_link: str = ""
    #: An ordinal family: mu is the linear predictor itself (the link is inside the
    #: likelihood, through its thresholds `b_Intercept[k]`) and the response has levels.
    ordinal: bool = False
    #: Increasing cutpoints on the linear predictor's scale, sampled as one ordered block
    #: and taking no formula: ordered beta's `cutzero < cutone`, which split a proportion's
    #: exact 0s and 1s off.
    cutpoints: tuple[AuxParameter, ...] = ()
    #: Rows with identical predictors may be summed into binomial counts for sampling
    #: (bernoulli and binomial: the likelihood then costs one term per distinct row);
    #: this is the counts' log-likelihood up to a constant, reading `trials`.
    collapsed_log_likelihood: Callable[[jax.Array, dict[str, jax.Array]], jax.Array] | None = None
    mean: Mean | None = None
    random: Random | None = None

    def __post_init__(self):
        if not self.mu_link:
            object.__setattr__(self, "mu_link", self.links[0])

    def link(self, dpar: str) -> Link:
        if dpar == "mu":
            return LINKS[self.mu_link]
        return LINKS[next(a.link for a in self.aux if a.name == dpar)]

    @property
    def dpars(self) -> tuple[str, ...]:
        return ("mu", *(a.name for a in self.aux))

    def parameter(self, name: str) -> AuxParameter | None:
        """The auxiliary parameter or cutpoint of that name, if the family has one."""
        return next((a for a in (*self.aux, *self.cutpoints) if a.name == name), None)

    def sampled_aux(self, modelled) -> tuple[AuxParameter, ...]:
        """The auxiliary parameters sampled as one scalar each: those without a formula
        (not in `modelled`) that are not fixed."""
        return tuple(a for a in self.aux if a.name not in modelled and a.fixed is None)

    def check_response(
        self, y: pd.Series, additions: dict[str, pd.Series] | None = None
    ) -> np.ndarray:
        """The response as floats, or one DataError naming the column and the bad values."""
        additions = additions or {}
        extra = sorted(set(additions) - set(self.additions))
        if extra:
            raise ModelError(
                f"the {self.name} family takes no '{extra[0]}()' response term; "
                + ("binomial takes 'y | trials(n)'" if extra[0] == "trials" else "remove it")
            )
        return self.check(y, additions)

    def response_scale(self, y: np.ndarray) -> ResponseScale:
        """brms's location and scale for the default intercept and sd priors."""
        scale = self.prior_scale or self.mu_link
        if scale in ("log", "inverse"):
            positive = y[y > 0]
            if positive.size == 0:
                return ResponseScale(0.0, 2.5)
            return ResponseScale.of(np.log(positive) if scale == "log" else 1 / positive)
        if scale == "identity":
            return ResponseScale.of(y)
        return ResponseScale(0.0, 2.5)

    def intercept_prior(self, scale: ResponseScale) -> PriorSpec:
        return student_t(3, scale.location, scale.scale, "Intercept")


def _sigma(response_units: bool = True) -> AuxParameter:
    return AuxParameter(
        "sigma",
        "log",
        lambda s: student_t(3, 0.0, s.scale, "sigma"),
        response_units=response_units,
    )


def _gamma_prior(name: str, shape: float, rate: float) -> Prior:
    return lambda s: PriorSpec(name, "gamma", (shape, rate))


def _probability(name: str) -> AuxParameter:
    """A probability (zi, hu, zoi, coi): beta(1, 1), logit link, logistic(0, 1) intercept."""
    return AuxParameter(
        name,
        "logit",
        lambda s: PriorSpec(name, "beta", (1.0, 1.0)),
        bounds=(0.0, 1.0),
        intercept_prior=lambda s: PriorSpec("Intercept", "logistic", (0.0, 1.0)),
    )


SHAPE = AuxParameter("shape", "log", _gamma_prior("shape", 0.01, 0.01))
PHI = AuxParameter("phi", "log", _gamma_prior("phi", 0.01, 0.01))
NU = AuxParameter("nu", "logm1", _gamma_prior("nu", 2.0, 0.1), bounds=(1.0, math.inf))
#: brms fixes disc at 1; with a formula (`disc ~ x`) its intercept gets normal(0, 1), which
#: is all that pins the latent scale down, as in brms.
DISC = AuxParameter(
    "disc",
    "log",
    lambda s: PriorSpec("disc", "gamma", (0.01, 0.01)),
    intercept_prior=lambda s: PriorSpec("Intercept", "normal", (0.0, 1.0)),
    fixed=1.0,
)


def _cutpoint(name: str) -> AuxParameter:
    """An ordered-beta cutpoint on the logit scale, with brms's threshold default prior."""
    return AuxParameter(
        name, "identity", lambda s: student_t(3, 0.0, 2.5, name), bounds=(-math.inf, math.inf)
    )


def _row(name: str, links, aux, check, notation, key: str = "", **kw) -> Family:
    """A family whose likelihood, mean and random draws are those named `key` (its name)."""
    key = key or name
    functions = {"mean": MEANS[key], "random": RANDOMS[key]}
    return Family(name, links, tuple(aux), LOG_LIKELIHOODS[key], check, notation, **functions, **kw)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _row(
            "gaussian",
            ("identity", "log"),
            [_sigma()],
            responses.numeric,
            "normal(mu{mu}, sigma{sigma})",
            location_scale=True,
        ),
        _row(
            "student",
            ("identity", "log"),
            [_sigma(), NU],
            responses.numeric,
            "student_t(nu{nu}, mu{mu}, sigma{sigma})",
            location_scale=True,
        ),
        _row(
            "bernoulli",
            ("logit", "probit"),
            [],
            responses.binary,
            "bernoulli(mu{mu})",
            collapsed_log_likelihood=binomial_counts,
        ),
        _row(
            "binomial",
            ("logit", "probit"),
            [],
            responses.successes,
            "binomial(trials[i], mu{mu})",
            additions=("trials",),
            collapsed_log_likelihood=binomial_counts,
        ),
        _row("poisson", ("log", "identity"), [], responses.counts, "poisson(mu{mu})"),
        _row(
            "negbinomial",
            ("log", "identity"),
            [SHAPE],
            responses.counts,
            "negbinomial(mu{mu}, shape{shape})",
        ),
        _row(
            "gamma",
            ("inverse", "log", "identity"),
            [SHAPE],
            responses.positive,
            "gamma(mu{mu}, shape{shape})  [mean mu]",
        ),
        _row(
            "lognormal",
            ("identity",),
            [_sigma(response_units=False)],
            responses.positive,
            "lognormal(mu{mu}, sigma{sigma})  [log y ~ normal(mu, sigma)]",
            prior_scale="log",
        ),
        _row(
            "beta",
            ("logit", "probit"),
            [PHI],
            responses.open_unit,
            "beta(mu{mu} * phi{phi}, (1 - mu{mu}) * phi{phi})",
        ),
        _row(
            "zero_inflated_poisson",
            ("log",),
            [_probability("zi")],
            responses.counts,
            "zero_inflated_poisson(mu{mu}, zi{zi})",
        ),
        _row(
            "zero_inflated_negbinomial",
            ("log",),
            [SHAPE, _probability("zi")],
            responses.counts,
            "zero_inflated_negbinomial(mu{mu}, shape{shape}, zi{zi})",
        ),
        _row(
            "hurdle_poisson",
            ("log",),
            [_probability("hu")],
            responses.counts,
            "hurdle_poisson(mu{mu}, hu{hu})",
        ),
        _row(
            "hurdle_negbinomial",
            ("log",),
            [SHAPE, _probability("hu")],
            responses.counts,
            "hurdle_negbinomial(mu{mu}, shape{shape}, hu{hu})",
        ),
        _row(
            "hurdle_lognormal",
            ("identity",),
            [_sigma(response_units=False), _probability("hu")],
            responses.non_negative,
            "hurdle_lognormal(mu{mu}, sigma{sigma}, hu{hu})",
            prior_scale="log",
        ),
        _row(
            "cumulative",
            ("logit", "probit"),
            (DISC,),
            responses.ordinal,
            "cumulative(mu{mu}, disc{disc}, thresholds b_Intercept[1..K-1])",
            key="cumulative_logit",
            ordinal=True,
        ),
        _row(
            "ordered_beta",
            ("logit",),
            [PHI],
            responses.closed_unit,
            "ordered_beta(mu{mu}, phi{phi}, cutzero, cutone)  [Kubinec 2022]",
            cutpoints=(_cutpoint("cutzero"), _cutpoint("cutone")),
        ),
        _row(
            "zero_one_inflated_beta",
            ("logit",),
            [PHI, _probability("zoi"), _probability("coi")],
            responses.closed_unit,
            "zero_one_inflated_beta(mu{mu}, phi{phi}, zoi{zoi}, coi{coi})",
        ),
    )
}


def get_family(name: str | Family, link: str | None = None) -> Family:
    """Look a family up by its brms name, with brms's default link unless `link` is given.

    Example:
        >>> get_family("negbinomial").dpars, get_family("gamma", link="log").mu_link
        (('mu', 'shape'), 'log')
    """
    family = name if isinstance(name, Family) else None
    if family is None:
        if name not in FAMILIES:
            raise ModelError(
                f"unknown family '{name}'{did_you_mean(str(name), FAMILIES)}; available: "
                f"{', '.join(FAMILIES)}"
            )
        family = FAMILIES[name]
    if link is None or link == family.mu_link:
        return family
    if link not in family.links:
        raise ModelError(
            f"the {family.name} family takes the link{'s' if len(family.links) > 1 else ''} "
            f"{', '.join(family.links)}, not '{link}'"
        )
    key = f"{family.name}_{link}"
    if key not in LOG_LIKELIHOODS:  # the link is applied outside the likelihood
        return replace(family, mu_link=link)
    return replace(
        family,
        mu_link=link,
        log_likelihood=LOG_LIKELIHOODS[key],
        mean=MEANS[key],
        random=RANDOMS[key],
    )
