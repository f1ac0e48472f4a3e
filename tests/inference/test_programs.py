"""Programs shared between data sets must read the data from their arguments: fitting a
second data set of the same shapes (same process, same cache) follows the new data."""

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

PRIORS = ["Intercept ~ normal(0, 1000)", "sd ~ half_normal(10)", "sigma ~ half_normal(10)"]


@pytest.mark.parametrize("engine", ["full", "marginal"])
def test_second_data_set_of_same_shape_follows_its_data(engine):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 5)
    base = pd.DataFrame({"y": rng.normal(size=30), "g": g})
    shifted = base.assign(y=base["y"] + 100.0)
    means = []
    for data in (base, shifted):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ml.SamplingWarning)
            fit = ml.fit(
                "y ~ 1 + (1 | g)",
                data,
                priors=PRIORS,
                engine=engine,
                chains=2,
                warmup=200,
                draws=200,
                seed=1,
                progress=False,
            )
        means.append(fit.summary().loc["b_Intercept", "mean"])
    # The posterior of the intercept moves with the data by 100 (its sd is ~0.5): a program
    # holding the first data set's values would leave it near the first mean.
    assert means[1] - means[0] == pytest.approx(100.0, abs=1.0)


def test_a_program_is_stored_per_device_layout(tmp_path):
    """A program exported for a mesh of 2 devices cannot be called on 1 (jax.export refuses);
    worker processes with other device counts share the cache folder, so the layout is
    part of the key. Before, a 1-device process loaded the 2-device program and failed."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from multilevel.inference._programs import program

    if len(jax.devices()) < 2:
        pytest.skip("needs 2 host devices")

    def double(x):
        return {"x": 2 * x}

    structure = jax.tree.structure({"x": 0})
    for n in (1, 2):
        mesh = Mesh(np.array(jax.devices()[:n]), ("chains",))
        x = jax.device_put(jnp.arange(4.0), NamedSharding(mesh, PartitionSpec("chains")))
        run = program(double, (x,), structure, "fingerprint", tmp_path)
        np.testing.assert_allclose(run(x)["x"], [0.0, 2.0, 4.0, 6.0])
    assert len(list((tmp_path / "programs").glob("*.jaxexport"))) == 2
