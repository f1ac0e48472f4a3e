"""Predictions from a fit: new data, new groups, posterior predictive draws, linear
predictors kept in the posterior."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
import xarray as xr
from threadpoolctl import threadpool_limits

from .._errors import DataError, ModelError, did_you_mean
from .._recent import Recent
from ..design import Design
from ..design._newdata import encode_new
from ..families._responses import ordinal_levels
from ..inference import draw_keys, map_draws
from ..model import CompiledModel
from ..model._predict import (
    KINDS,
    NEW_GROUPS,
    LevelMap,
    map_levels,
    prediction_data,
    prediction_function,
)

if TYPE_CHECKING:
    from ._fit import Fit

#: Random streams of `inference.draw_keys`: 1 belongs to the posterior's own draws.
PREDICT_STREAM = 2

#: Compiled prediction programs, most recently used last. A program depends on the model's
#: structure, the kind of prediction and the numbers of new rows and new levels, never on
#: the values of the new rows, which are its arguments; so a second prediction of the same
#: shape (a plot's grid, a loaded fit) compiles nothing.
_PROGRAMS: Recent[Any] = Recent(16)


@dataclass(frozen=True)
class Prediction:
    """Draws of a prediction, chain x draw x obs (x category for ordinal means), and the
    rows they are for.

    Example:
        >>> p = fit.predict(new_rows)  # doctest: +SKIP
        >>> p.draws.mean(("chain", "draw")).values  # doctest: +SKIP
    """

    draws: xr.DataArray
    newdata: pd.DataFrame
    kind: str

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        """mean, sd and central `prob` interval per row (and category), beside the rows."""
        if not 0 < prob < 1:
            raise ValueError(f"prob must be between 0 and 1, got {prob}")
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        d = self.draws
        stats = {
            "mean": d.mean(("chain", "draw")),
            "sd": d.std(("chain", "draw"), ddof=1),
            f"q{100 * lo:g}": d.quantile(lo, ("chain", "draw")).drop_vars("quantile"),
            f"q{100 * hi:g}": d.quantile(hi, ("chain", "draw")).drop_vars("quantile"),
        }
        table = xr.Dataset(stats).to_dataframe().reset_index()
        rows = self.newdata.reset_index(drop=True)
        return (
            rows.iloc[table["obs"].to_numpy()]
            .reset_index(drop=True)
            .join(table.drop(columns="obs"))
        )

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.draws.values, dtype=dtype)


def predict(
    fit: Fit,
    newdata: Any = None,
    kind: str = "mean",
    new_groups: str = "sample",
    draws: int | None = None,
    seed: int | None = None,
) -> Prediction:
    """See `Fit.predict`."""
    _check_choice("kind", kind, KINDS)
    _check_choice("new_groups", new_groups, NEW_GROUPS)
    model = fit._model
    new = encode_new(model.design, model.design.frame if newdata is None else newdata)
    theta, effects = _posterior_draws(fit, draws)
    values = run_prediction(model, theta, effects, _seed(fit, seed), new, kind, new_groups)
    return Prediction(_as_array(values, kind, model), new.frame, kind)


def posterior_predictive(fit: Fit, seed: int | None = None) -> xr.DataArray:
    """See `Fit.posterior_predictive`."""
    name = fit.response_name
    if "posterior_predictive" not in fit.idata.groups():
        replicated = predict(fit, None, "response", "error", None, seed).draws.rename(name)
        dataset = xr.Dataset({name: replicated.assign_coords(obs=fit.idata.observed_data.obs)})
        fit.idata.add_groups({"posterior_predictive": dataset})
    return fit.idata.posterior_predictive[name]


def add_linpred(fit: Fit, dpars: Sequence[str] = ("mu",), transform: bool = False) -> None:
    """See `Fit.add_linpred`."""
    model = fit._model
    if isinstance(dpars, str):
        dpars = [dpars]
    new = encode_new(model.design, model.design.frame)
    for dpar in dpars:
        if dpar not in model.design.dpars:
            raise ModelError(
                f"'{dpar}' has no linear predictor in this model"
                f"{did_you_mean(dpar, model.design.dpars)}; those with one: "
                f"{', '.join(model.design.dpars)}"
            )
        theta, effects = _posterior_draws(fit, None)
        values = run_prediction(
            model, theta, effects, fit.seed, new, "linpred", "error", dpar, transform
        )
        array = _as_array(values, "linpred", model).assign_coords(obs=fit.idata.observed_data.obs)
        fit.idata.posterior[dpar] = array


def run_prediction(
    model: CompiledModel,
    theta: np.ndarray,
    effects: tuple[np.ndarray, ...],
    seed: int,
    new: Design,
    kind: str,
    new_groups: str,
    dpar: str = "mu",
    transform: bool = False,
) -> np.ndarray:
    """The prediction of each draw (`theta`: chains x draws x dim, `effects`: the `r_*`
    arrays, chains x draws x levels x coefs) on the rows of `new`: chains x draws x rows."""
    levels = map_levels(model, new)
    _check_new_levels(levels, new_groups)
    chains, n_draws = theta.shape[:2]
    flat = theta.reshape(chains * n_draws, -1)
    effects = tuple(e.reshape(chains * n_draws, *e.shape[2:]) for e in effects)
    keys = draw_keys(seed, chains * n_draws, PREDICT_STREAM)
    key = (model.fingerprint, kind, new_groups, dpar, transform, new.n_rows, *levels.n_new)
    program = _PROGRAMS.get(
        key,
        lambda: jax.jit(
            map_draws(prediction_function(model, new, levels, kind, new_groups, dpar, transform))
        ),
    )
    with threadpool_limits(limits=1, user_api="blas"):
        values = program(flat, keys, effects, prediction_data(model, new, levels))
    values = np.asarray(values)
    return values.reshape(chains, n_draws, *values.shape[1:])


def _seed(fit: Fit, seed: int | None) -> int:
    if seed is None:
        return fit.seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    return int(seed)


def _posterior_draws(fit: Fit, draws: int | None) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The unconstrained draws and the `r_*` arrays, all draws or `draws` of them evenly
    spaced over the chains (returned as one chain)."""
    theta = np.asarray(fit._posterior.sampler.positions)
    posterior = fit.idata.posterior
    effects = tuple(np.asarray(posterior[e.name].values) for e in fit._model.effects)
    if draws is None:
        return theta, effects
    total = theta.shape[0] * theta.shape[1]
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or not draws > 0:
        raise ModelError(f"draws must be a positive whole number or None, got {draws!r}")
    if draws > total:
        raise ModelError(f"draws={draws} is more than the fit's {total} draws")
    pick = np.linspace(0, total - 1, draws).round().astype(int)

    def select(a: np.ndarray) -> np.ndarray:
        return a.reshape(total, *a.shape[2:])[pick][None]

    return select(theta), tuple(select(e) for e in effects)


def _check_new_levels(levels: LevelMap, new_groups: str) -> None:
    if new_groups != "error" or not levels.unseen:
        return
    found = "; ".join(
        f"'{group}': {', '.join(values[:5])}{' ...' if len(values) > 5 else ''}"
        for group, values in levels.unseen.items()
    )
    raise DataError(
        f"the new data has levels the fit has not seen ({found}); pass new_groups='sample' "
        "to draw their effects from the fitted population, or 'population' to predict "
        "without them"
    )


def _as_array(values: np.ndarray, kind: str, model: CompiledModel) -> xr.DataArray:
    dims = ["chain", "draw", "obs"]
    coords: dict[str, Any] = {
        "chain": np.arange(values.shape[0]),
        "draw": np.arange(values.shape[1]),
        "obs": np.arange(values.shape[2]),
    }
    if values.ndim == 4:
        dims.append("category")
        coords["category"] = list(ordinal_levels(model.design.response)[1])
    name = model.design.response_name if kind != "linpred" else "linpred"
    return xr.DataArray(values, dims=dims, coords=coords, name=name)


def _check_choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ModelError(
            f"{name} must be one of {', '.join(map(repr, valid))}, got {value!r}"
            f"{did_you_mean(str(value), valid)}"
        )
