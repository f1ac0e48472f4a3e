"""Data from the model: a response drawn on the design's rows from given parameter values.

The values are the constrained blocks of `model.blocks` (not the unconstrained vector), so a
simulation starts from the truth as a user states it; the standardised group effects are
drawn here, so every data set has new groups from the population.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from .._recent import Recent
from ._compiled import CompiledModel
from ._layout import effects_shape
from ._logdensity import Data, Values, distribution_parameters, model_data

#: Compiled simulations by model fingerprint, most recently used last: replicates of one
#: design share the structure, so a study compiles one program per design size.
_PROGRAMS: Recent[Callable] = Recent(16)

Blocks = dict[str, np.ndarray]


def simulation_function(model: CompiledModel) -> Callable:
    """`f(blocks, key, data) -> (y, derived)`: one response per row (coded as the
    likelihood reads it: ordinal codes 0..K-1) and the brms-named values behind it, the new
    group effects `r_*` among them. `blocks` holds every block but the `z` ones."""
    if model.engine != "full":
        raise ValueError("simulations need the full engine's layout")
    z_blocks = [b for b in model.blocks if b.kind == "z"]

    def simulate(blocks: Blocks, key: jax.Array, data: Data):
        z_key, y_key, r_key = jax.random.split(key, 3)
        full = dict(blocks)
        for i, b in enumerate(z_blocks):
            shape = effects_shape(model.design, b.term)
            full[b.name] = jax.random.normal(jax.random.fold_in(z_key, i), shape)
        values = Values(full, jnp.zeros(()))
        params = distribution_parameters(values, data, model.design, model.family)
        y = model.family.random(y_key, params)
        return y, model.derived_values(values, r_key, data)

    return simulate


def simulate_response(
    model: CompiledModel, blocks: Blocks, key: jax.Array
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One simulated response on the model's rows and the values it was drawn from."""
    program = _PROGRAMS.get(model.fingerprint, lambda: jax.jit(simulation_function(model)))
    arrays = {k: jnp.asarray(v, dtype=float) for k, v in blocks.items()}
    rows = model_data(model.design, np.zeros(model.design.n_rows), model.blocks)
    y, derived = program(arrays, key, rows)
    y = np.asarray(y)
    _check_finite(y, model)
    return y, {k: np.asarray(v) for k, v in derived.items()}


def _check_finite(y: np.ndarray, model: CompiledModel) -> None:
    """Values that give no response (a negative mean through gamma's inverse link, say)
    are an error, never NaN rows."""
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        family = model.family
        raise ModelError(
            f"the parameter values give no valid {family.name} response on {bad.size} of "
            f"{y.size} rows (the first: row {bad[0]}): the linear predictors leave the "
            f"support of the family's parameters; check the values and the link (mu's is "
            f"{family.mu_link})"
        )
