"""Fit a compiled model: NUTS draws -> brms-named ArviZ data -> diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np
from threadpoolctl import threadpool_limits

from ..model import CompiledModel
from ._arviz import arviz, preload
from ._cache import configure_cache
from ._diagnostics import Diagnostics, check, warn
from ._nuts import Compiler, SamplerOutput, SamplerSettings, plain_jit, random_keys, run_nuts
from ._programs import program
from ._summary import summarise


@dataclass(frozen=True)
class Posterior:
    """What sampling gives the results stage."""

    idata: Any  # arviz.InferenceData
    diagnostics: Diagnostics
    sampler: SamplerOutput
    settings: SamplerSettings


def sample(model: CompiledModel, settings: SamplerSettings, prior_only: bool = False) -> Posterior:
    """Sample the posterior of `model` (or, `prior_only`, its prior: the likelihood left
    out, as brms's `sample_prior = "only"`) and check the sampler's health."""
    directory = configure_cache()
    preload()
    settings_key = f"{settings.target_accept!r};{settings.max_treedepth};{settings.metric}"
    target = "prior" if prior_only else "posterior"
    compiler = partial(
        program, fingerprint=f"{model.fingerprint};{settings_key};{target}", directory=directory
    )
    log_density = model.prior_log_density() if prior_only else model.log_density()
    # The chains keep every core busy; a multi-threaded BLAS inside them (LAPACK's Cholesky
    # of the crossed-factor marginal) only fights them for it: a 200 x 200 factorisation took
    # 94 ms with OpenBLAS's two threads on the 2-core machine, 0.29 ms with one.
    with threadpool_limits(limits=1, user_api="blas"):
        output = run_nuts(log_density, model.data, model.dim, settings, compiler)
        idata = to_inference_data(model, output, settings.seed, compiler)
    table = summarise(idata.posterior, list(model.scalar_names))
    diagnostics = check(table, output.stats, settings.chains, settings.max_treedepth)
    warn(diagnostics)
    return Posterior(idata, diagnostics, output, settings)


DERIVED_BATCH = 100


def map_draws(per_draw):
    """`per_draw(*per_draw_args, data)` over every draw: `f(*arrays, data)` maps over the
    leading axis of each of `arrays`, DERIVED_BATCH draws at a time: vmapping all of them at
    once would hold every draw's intermediates (e.g. 4000 x 10^4 levels x 2 x 2) in memory."""

    def over_draws(*args):
        *mapped, data = args
        return jax.lax.map(lambda a: per_draw(*a, data), tuple(mapped), batch_size=DERIVED_BATCH)

    over_draws.__name__ = "derived"
    return over_draws


def draw_keys(seed: int, n_draws: int, stream: int = 1) -> jax.Array:
    """One random key per draw for what is drawn after sampling. Stream 1 (group effects of
    levels without data, the marginal engine's r) is shared by the posterior and the
    pointwise log-likelihood, so both read the same group effects; predictions use others."""
    return random_keys(np.random.default_rng([seed, stream]), n_draws)


def to_inference_data(
    model: CompiledModel, output: SamplerOutput, seed: int, compiler: Compiler = plain_jit
) -> Any:
    chains, draws, dim = output.positions.shape
    flat = output.positions.reshape(chains * draws, dim)
    keys = draw_keys(seed, chains * draws)
    names = (*model.scalar_names, *(e.name for e in model.effects))
    derive = compiler(
        map_draws(model.derived),
        (flat, keys, model.data),
        jax.tree.structure(dict.fromkeys(names, 0)),
    )
    named = derive(flat, keys, model.data)
    posterior = {
        name: np.asarray(named[name]).reshape(chains, draws, *named[name].shape[1:])
        for name in names
    }
    coords, dims = {}, {}
    for e in model.effects:
        level_dim = e.group if e.dpar == "mu" else f"{e.group}__{e.dpar}"
        coords[level_dim], coords[f"{level_dim}__coef"] = list(e.levels), list(e.coefs)
        dims[e.name] = [level_dim, f"{level_dim}__coef"]
    y = model.observed
    return arviz().from_dict(
        posterior=posterior,
        sample_stats=output.stats,
        observed_data={model.design.response_name: y},
        coords={**coords, "obs": np.arange(len(y))},
        dims={**dims, model.design.response_name: ["obs"]},
    )


def pointwise_log_likelihood(model: CompiledModel, posterior: Posterior) -> np.ndarray:
    """log p(y_i | draw) for every draw and original row: chains x draws x rows.

    Group effects are those of the posterior's own draws (the same random keys as
    `to_inference_data`), so on the marginal engine too the values are conditional on the
    `r_*` draws that the posterior holds.
    """
    positions = np.asarray(posterior.sampler.positions)
    chains, draws, dim = positions.shape
    keys = draw_keys(posterior.settings.seed, chains * draws)
    over_draws = jax.jit(map_draws(model.pointwise_log_likelihood))
    with threadpool_limits(limits=1, user_api="blas"):
        values = over_draws(positions.reshape(-1, dim), keys, model.row_data())
    return np.asarray(values).reshape(chains, draws, -1)
