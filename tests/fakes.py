"""Fits without sampling, for tests of what reads a posterior (plots, reports, persistence).

`fake_fit` draws the unconstrained vector from a normal around 0 instead of running NUTS: the
draws are valid parameter values of the model (every transform maps all of R^n into the
parameter space), named and shaped exactly as a real fit's, at the cost of one compile of
the derived quantities instead of a sampler's warmup.
"""

from __future__ import annotations

import numpy as np

import multilevel as ml
from multilevel.inference import Posterior, SamplerOutput, SamplerSettings, summarise
from multilevel.inference._diagnostics import check
from multilevel.inference._sample import to_inference_data


def fake_fit(
    model: ml.Model, chains: int = 2, draws: int = 50, seed: int = 0, engine: str = "full"
) -> ml.Fit:
    """A Fit of `model` whose draws are N(0, 0.3^2) on the unconstrained scale."""
    compiled = model._engine(engine)
    rng = np.random.default_rng(seed)
    positions = rng.normal(0.0, 0.3, (chains, draws, compiled.dim))
    stats = {
        "diverging": np.zeros((chains, draws), dtype=bool),
        "tree_depth": np.ones((chains, draws), dtype=np.int64),
        "n_steps": np.ones((chains, draws), dtype=np.int64),
        "acceptance_rate": np.full((chains, draws), 0.8),
        "lp": rng.normal(size=(chains, draws)),
        "energy": rng.normal(size=(chains, draws)),
    }
    output = SamplerOutput(positions, stats, np.ones(chains), np.ones((chains, compiled.dim)), 0.0)
    idata = to_inference_data(compiled, output, seed)
    settings = SamplerSettings(chains=chains, warmup=0, draws=draws, seed=seed)
    table = summarise(idata.posterior, list(compiled.scalar_names))
    diagnostics = check(table, stats, chains, settings.max_treedepth)
    posterior = Posterior(idata, diagnostics, output, settings)
    return ml.Fit(compiled, posterior, {**model.recipe, "engine": engine})
