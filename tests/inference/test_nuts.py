"""The sampler on targets with a known answer, and its plumbing."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from blackjax.adaptation.staged_adaptation import build_schedule

from multilevel import ModelError
from multilevel.inference import SamplerSettings, run_nuts
from multilevel.inference._nuts import CHUNK, _schedule, chain_groups

SCALES = np.array([0.1, 1.0, 10.0, 100.0])


def _scaled_normal(theta, data):
    # Independent normals with sds 0.1 .. 100: adaptation must find the diagonal metric.
    z = theta / data["scales"]
    return -0.5 * jnp.sum(z * z)


@pytest.fixture(scope="module")
def normal_draws():
    settings = SamplerSettings(chains=4, warmup=500, draws=1000, seed=3, progress=False)
    return run_nuts(_scaled_normal, {"scales": jnp.asarray(SCALES)}, 4, settings)


def test_recovers_known_moments(normal_draws):
    draws = normal_draws.positions.reshape(-1, 4)
    # 4000 near-independent draws: the sd of the mean estimate is scale/sqrt(ESS) ~ scale/60;
    # 5 of those is a 1-in-a-million miss.
    assert np.all(np.abs(draws.mean(axis=0)) < 5 * SCALES / 60)
    # The sd of a sample sd is ~ scale/sqrt(2 ESS); 10% is over 4 of those.
    np.testing.assert_allclose(draws.std(axis=0), SCALES, rtol=0.1)


def test_adapts_metric_to_scales(normal_draws):
    # The adapted inverse mass matrix estimates the variances (Stan's regularised Welford).
    ratio = normal_draws.inverse_mass_matrix / SCALES**2
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_sampler_statistics(normal_draws):
    stats = normal_draws.stats
    assert normal_draws.positions.shape == (4, 1000, 4)
    assert set(stats) >= {"lp", "diverging", "n_steps", "tree_depth", "acceptance_rate", "energy"}
    assert not stats["diverging"].any()
    # Stan's dual averaging at target 0.8 lands between the target and ~0.95.
    assert 0.7 < stats["acceptance_rate"].mean() < 0.97


def test_same_seed_same_draws():
    settings = SamplerSettings(chains=2, warmup=100, draws=100, seed=11, progress=False)
    data = {"scales": jnp.asarray(SCALES)}
    a = run_nuts(_scaled_normal, data, 4, settings)
    b = run_nuts(_scaled_normal, data, 4, settings)
    c = run_nuts(_scaled_normal, data, 4, SamplerSettings(2, 100, 100, 12, progress=False))
    assert np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)


def test_no_finite_start_is_an_error():
    settings = SamplerSettings(chains=1, warmup=10, draws=10, seed=0, progress=False)
    with pytest.raises(ModelError, match="no finite starting point"):
        run_nuts(lambda theta, data: jnp.sum(theta) * jnp.nan, {}, 2, settings)


def test_schedule_matches_blackjax_and_pads_to_chunks():
    steps = _schedule(150, 60)
    assert len(steps.active) % CHUNK == 0 and steps.active.sum() == 210
    assert steps.warmup.sum() == 150 and steps.last_warmup.sum() == 1 and steps.last_warmup[149]
    assert steps.first.sum() == 1 and steps.first[0]
    plan = build_schedule(150)
    assert steps.stage[:150].tolist() == [s for s, _ in plan]
    assert steps.window_end[:150].tolist() == [e for _, e in plan]


@pytest.mark.parametrize(
    ("chains", "devices", "groups"), [(4, 2, 2), (4, 1, 1), (3, 2, 1), (6, 4, 3), (1, 8, 1)]
)
def test_chain_groups_divide_chains(chains, devices, groups):
    assert chain_groups(chains, devices) == groups
