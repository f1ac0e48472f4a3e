"""Prior and prior predictive draws, for prior predictive checks and prior-vs-posterior plots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..design._newdata import encode_new
from ..inference import SamplerSettings, arviz, sample
from ..model import CompiledModel, compile_model
from ..priors import PriorSpec
from ._predict import run_prediction


def sample_prior(
    model: CompiledModel,
    priors: Sequence[str | PriorSpec],
    draws: int = 1000,
    chains: int = 4,
    seed: int = 0,
) -> Any:
    """Draws of every parameter from its prior (NUTS on the log prior, as brms's
    `sample_prior = "only"`), and one replicated data set per draw: ArviZ data with the
    groups `prior`, `prior_predictive`, `sample_stats_prior` and `observed_data`.

    Needs proper priors on every parameter: brms's default flat prior on `b` has no draws.

    Example:
        >>> model = ml.Model("y ~ x", df, priors=["b ~ normal(0, 1)"])  # doctest: +SKIP
        >>> model.sample_prior(draws=500).prior_predictive  # doctest: +SKIP
    """
    full = model if model.engine == "full" else compile_model(model.design, model.family, priors)
    settings = SamplerSettings(chains=chains, warmup=1000, draws=draws, seed=seed, progress=False)
    drawn = sample(full, settings, prior_only=True)
    prior = drawn.idata.posterior
    effects = tuple(np.asarray(prior[e.name].values) for e in full.effects)
    new = encode_new(full.design, full.design.frame)
    replicated = run_prediction(
        full, np.asarray(drawn.sampler.positions), effects, seed, new, "response", "error"
    )
    name = full.design.response_name
    predictive = xr.Dataset(
        {name: (("chain", "draw", "obs"), replicated)},
        coords={"chain": prior.chain, "draw": prior.draw, "obs": drawn.idata.observed_data.obs},
    )
    return arviz().InferenceData(
        prior=prior,
        prior_predictive=predictive,
        sample_stats_prior=drawn.idata.sample_stats,
        observed_data=drawn.idata.observed_data,
    )
