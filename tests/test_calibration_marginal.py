"""Simulation-based calibration (Talts et al. 2018) of the marginal engine.

For each replicate, parameters are drawn from the prior, data simulated from them, and the
model fitted; the rank of the true value among (thinned) posterior draws is uniform when
sampler and model are right. 200 replicates take several minutes: marked slow, run with
`python -m pytest -m slow tests/test_calibration_marginal.py` (a route independent of
`ml.sbc`: truth, data and ranks written out here).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml

PRIORS = ["Intercept ~ normal(0, 1)", "sd ~ half_normal(1)", "sigma ~ half_normal(1)"]
GROUPS, ROWS = 8, 4
REPLICATES, THIN, BINS = 200, 6, 10  # 2 chains x 300 draws, every 6th: ranks 0..100


def _replicate(seed: int) -> tuple[dict[str, float], dict[str, int]]:
    rng = np.random.default_rng(seed)
    truth = {
        "b_Intercept": rng.normal(),
        "sd_g__Intercept": abs(rng.normal()),
        "sigma": abs(rng.normal()),
    }
    g = np.repeat(np.arange(GROUPS), ROWS)
    u = rng.normal(0, truth["sd_g__Intercept"], GROUPS)
    y = truth["b_Intercept"] + u[g] + rng.normal(0, truth["sigma"], g.size)
    data = pd.DataFrame({"y": y, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.SamplingWarning)
        fit = ml.fit(
            "y ~ 1 + (1 | g)",
            data,
            priors=PRIORS,
            engine="marginal",
            chains=2,
            warmup=300,
            draws=300,
            seed=seed,
            progress=False,
        )
    post = fit.idata.posterior
    ranks = {
        name: int(np.sum(post[name].values.ravel()[::THIN] < value))
        for name, value in truth.items()
    }
    return truth, ranks


@pytest.mark.slow
def test_ranks_are_uniform():
    ranks = {name: [] for name in ("b_Intercept", "sd_g__Intercept", "sigma")}
    for seed in range(REPLICATES):
        _, r = _replicate(seed)
        for name, value in r.items():
            ranks[name].append(value)
    draws = 2 * 300 // THIN
    for name, values in ranks.items():
        counts = np.histogram(values, bins=BINS, range=(0, draws + 1))[0]
        p = stats.chisquare(counts).pvalue
        # Three tests: 0.001 each keeps a false alarm near 1 in 300, while a miscalibrated
        # posterior (too narrow, too wide, or shifted) gives p far below it at 200 replicates.
        assert p > 1e-3, f"{name}: ranks not uniform (chi-square p = {p:.2g}), counts {counts}"
