"""Data sets from a model with given parameter values on a given design, or from a fit."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import pandas as pd

from .._api import Model
from .._errors import DataError, ModelError, MultilevelError
from ..design import as_frame
from ..design._newdata import encode_new
from ..families._responses import ordinal_levels
from ..formula import parse_formula
from ..inference import configure_cache
from ..model import CompiledModel
from ..model._predict import NEW_GROUPS
from ..model._simulate import simulate_response
from ..model._values import blocks_from_truth
from ..results import Fit
from ..results._predict import _check_choice, _seed, run_prediction

#: Responses tried, in order, as a stand-in while the design is built: the first one the
#: family accepts (a sd > 0 keeps the default priors, which the simulation ignores, valid).
_PLACEHOLDERS = ((0.0, 1.0), (0.25, 0.75), (1.0, 2.0))

#: Families whose responses are whole numbers, returned as integers.
COUNT_FAMILIES = frozenset(
    {
        "bernoulli",
        "binomial",
        "poisson",
        "negbinomial",
        "zero_inflated_poisson",
        "zero_inflated_negbinomial",
        "hurdle_poisson",
        "hurdle_negbinomial",
    }
)


def simulate(
    source: str | Fit,
    data: Any = None,
    truth: Mapping[str, float] | None = None,
    family: str = "gaussian",
    seed: int | None = None,
    link: str | None = None,
    new_groups: str = "sample",
    **dpars: str,
) -> pd.DataFrame:
    """One data set: `data` (the design: every predictor, group and `trials()` column) with
    the response drawn from the model.

    From a formula, `truth` gives every parameter by its brms name (`b_Intercept`,
    `b_tx`, `sd_cluster__tx`, `b_sigma_tx`, `cor_g__Intercept__x`, `Intercept[k]`
    thresholds as `b_Intercept[k]`, `shape`, ...); group effects are drawn anew from the
    population, so every data set has new groups. From a fit, one posterior draw (picked
    by `seed`) is the truth; `data` defaults to the fit's rows, and groups the fit has
    seen keep that draw's effects (`new_groups` says what unseen ones get, as in
    `Fit.predict`). An ordinal response comes back as ordered categories, all K of them.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> design = pd.DataFrame({"tx": [0, 1] * 20, "g": [f"g{i // 4}" for i in range(40)]})
        >>> truth = {"b_Intercept": 1.0, "b_tx": 0.5, "sd_g__Intercept": 0.3, "sigma": 1.0}
        >>> df = ml.simulate("y ~ tx + (1 | g)", design, truth, seed=1)
        >>> df.columns.tolist(), len(df)
        (['tx', 'g', 'y'], 40)
    """
    if isinstance(source, Fit):
        if truth is not None:
            raise ModelError("a simulation from a fit takes its truth from the posterior")
        return _from_fit(source, data, seed, new_groups)
    if not isinstance(source, str):
        raise ModelError(f"simulate takes a formula or a Fit, got {type(source).__name__}")
    if data is None or truth is None:
        raise ModelError("a simulation from a formula needs the design (data) and the truth")
    model = simulation_model(source, data, family, link, dpars, _n_levels(truth))
    y, _ = draw_response(model, blocks_from_truth(model, truth), _seed_or_draw(seed))
    return with_response(model, as_frame(data), y)


def draw_response(
    model: CompiledModel, blocks: dict[str, np.ndarray], seed: int | np.random.SeedSequence
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`model.simulate_response` seeded by `seed`, its program kept in the persistent cache
    (a study's first replicate in each worker would otherwise compile it)."""
    configure_cache()
    return simulate_response(model, blocks, _key(seed))


def simulation_model(
    formula: str,
    data: Any,
    family: str,
    link: str | None,
    dpars: Mapping[str, str],
    n_levels: int = 0,
) -> CompiledModel:
    """The model's layout on the design's rows, built around a stand-in response."""
    response = parse_formula(formula).response
    frame = as_frame(data)
    if not response.isidentifier():
        raise ModelError(
            f"the response '{response}' is an expression: a simulation writes a column, so "
            "name one (e.g. 'y ~ ...') and transform it afterwards"
        )
    n = len(frame)
    candidates = [np.resize(np.array(p), n) for p in _PLACEHOLDERS]
    if n_levels:
        codes = np.arange(n) % n_levels
        candidates = [pd.Categorical.from_codes(codes, range(1, n_levels + 1), ordered=True)]
    first_error: MultilevelError | None = None
    for stand_in in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built = Model(
                    formula, frame.assign(**{response: stand_in}), family, link=link, **dpars
                )
            return built._engine("full")
        except DataError as error:  # the stand-in is no response of this family
            if response not in str(error):
                raise
            first_error = first_error or error
    raise first_error  # type: ignore[misc]


def with_response(model: CompiledModel, frame: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """`frame` with the model's response set to `y` (the likelihood's coding: ordinal codes
    become the response's ordered categories)."""
    name = model.design.response_name
    if model.family.ordinal:
        labels = ordinal_levels(model.design.response)[1]
        categories = [_label(v) for v in labels]
        values: Any = pd.Categorical.from_codes(y.astype(int), categories, ordered=True)
    elif model.family.name in COUNT_FAMILIES:
        values = y.astype(np.int64)
    else:
        values = y
    return frame.assign(**{name: values})


def _label(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _n_levels(truth: Mapping[str, float]) -> int:
    thresholds = [k for k in truth if k.startswith("b_Intercept[")]
    return len(thresholds) + 1 if thresholds else 0


def _from_fit(fit: Fit, data: Any, seed: int | None, new_groups: str) -> pd.DataFrame:
    _check_choice("new_groups", new_groups, NEW_GROUPS)
    model = fit._model
    frame = model.design.frame if data is None else as_frame(data)
    seed = _seed(fit, seed)
    theta = np.asarray(fit._posterior.sampler.positions)
    chains, draws = theta.shape[:2]
    pick = np.random.default_rng(seed).integers(chains * draws)
    chain, draw = divmod(int(pick), draws)
    posterior = fit.idata.posterior
    effects = tuple(
        np.asarray(posterior[e.name].values)[chain, draw][None, None] for e in model.effects
    )
    new = encode_new(model.design, frame)
    y = run_prediction(
        model, theta[chain, draw][None, None], effects, seed, new, "response", new_groups
    )
    return with_response(model, new.frame, y[0, 0])


def _seed_or_draw(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    return int(seed)


def _key(seed: int | np.random.SeedSequence) -> jax.Array:
    state = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return jax.random.key(int(state.generate_state(1, np.uint64)[0] >> np.uint64(1)))
