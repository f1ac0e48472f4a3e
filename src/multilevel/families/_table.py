"""The table of families: likelihood, links, auxiliary parameters and response checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._errors import DataError, ModelError, did_you_mean
from ..priors import PriorSpec, ResponseScale, student_t
from ._links import LINKS, Link


@dataclass(frozen=True)
class AuxParameter:
    """An auxiliary (distributional) parameter with its brms name, link and default prior."""

    name: str
    link: str
    default_prior: Callable[[ResponseScale], PriorSpec]


@dataclass(frozen=True)
class Family:
    """One likelihood.

    `log_likelihood(y, params)` returns the pointwise log-likelihood, where `params` maps
    `mu` and every auxiliary name to arrays on the parameter scale. `location_scale` says
    that the response's mean and sd are the natural units of `mu`, which the model uses to
    precondition the sampler.
    """

    name: str
    mu_link: str
    aux: tuple[AuxParameter, ...]
    log_likelihood: Callable[[jax.Array, dict[str, jax.Array]], jax.Array]
    check_response: Callable[[pd.Series], np.ndarray]
    intercept_prior: Callable[[ResponseScale], PriorSpec]
    notation: str
    location_scale: bool

    def link(self, dpar: str) -> Link:
        if dpar == "mu":
            return LINKS[self.mu_link]
        return LINKS[next(a.link for a in self.aux if a.name == dpar)]

    @property
    def dpars(self) -> tuple[str, ...]:
        return ("mu", *(a.name for a in self.aux))


def _numeric_response(y: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        example = next((v for v in y if isinstance(v, str)), y.iloc[0])
        raise DataError(
            f"the response '{y.name}' must be numeric for this family, but it holds "
            f"{y.dtype} values such as {example!r}"
        )
    return y.to_numpy(dtype=float)


def _gaussian_log_likelihood(y: jax.Array, p: dict[str, jax.Array]) -> jax.Array:
    z = (y - p["mu"]) / p["sigma"]
    return -0.5 * z * z - jnp.log(p["sigma"]) - 0.5 * jnp.log(2 * jnp.pi)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="gaussian",
            mu_link="identity",
            aux=(AuxParameter("sigma", "log", lambda s: student_t(3, 0.0, s.scale, "sigma")),),
            log_likelihood=_gaussian_log_likelihood,
            check_response=_numeric_response,
            intercept_prior=lambda s: student_t(3, s.location, s.scale, "Intercept"),
            notation="normal(mu{mu}, sigma{sigma})",
            location_scale=True,
        ),
    )
}


def get_family(name: str | Family) -> Family:
    """Look a family up by its brms name.

    Example:
        >>> get_family("gaussian").dpars
        ('mu', 'sigma')
    """
    if isinstance(name, Family):
        return name
    if name not in FAMILIES:
        raise ModelError(
            f"unknown family '{name}'{did_you_mean(str(name), FAMILIES)}; available: "
            f"{', '.join(FAMILIES)}"
        )
    return FAMILIES[name]
