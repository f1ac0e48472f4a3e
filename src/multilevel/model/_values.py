"""Constrained parameter blocks from brms-named values (a simulation's truth) or from the
priors (simulation-based calibration): what `simulate_response` draws data from."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._errors import ModelError, did_you_mean
from ..priors._draw import draw_lkj_cholesky, draw_prior
from ._compiled import CompiledModel
from ._layout import correlation_labels, correlation_size, fixed_name, sd_name, threshold_name

Blocks = dict[str, np.ndarray]

#: Tries at drawing ordered thresholds whose priors differ (identical priors are sorted).
ORDER_TRIES = 10_000


def blocks_from_truth(model: CompiledModel, truth: Mapping[str, float]) -> Blocks:
    """The blocks of the values in `truth` (brms names, `b_Intercept` on the original scale
    of the predictors): every scalar of the fit's summary. One ModelError names the missing
    or unknown values."""
    _check_names(model.scalar_names, truth)
    value = {k: float(v) for k, v in truth.items()}
    blocks: Blocks = {}
    for b in _coefficients_first(model):
        if b.kind == "fixed":
            coefs = model.design.dpars[b.dpar].fixed.names
            blocks[b.name] = np.array([value[fixed_name(b.dpar, c)] for c in coefs])
        elif b.kind == "intercept":
            original = value[fixed_name(b.dpar, "Intercept")]
            blocks[b.name] = np.array([original + _centring(model, blocks, b.dpar)])
        elif b.name == "thresholds":
            given = [value[fixed_name("mu", threshold_name(k + 1))] for k in range(b.size)]
            shift = _centring(model, blocks, "mu")
            blocks[b.name] = _increasing(np.array(given), "b_Intercept[k]") - shift
        elif b.name == "cutpoints":
            given = np.array([value[c.name] for c in model.family.cutpoints])
            blocks[b.name] = _increasing(given, " < ".join(c.name for c in model.family.cutpoints))
        elif b.kind == "sd":
            g = model.design.groups[b.term]
            blocks[b.name] = np.array([value[sd_name(g.group, g.dpar, c)] for c in g.coefs])
        elif b.kind == "cor":
            blocks[b.name] = _cholesky(model, b.term, value)
        else:
            blocks[b.name] = np.array([value[b.name]])
        if b.kind in ("sd", "aux"):
            _check_bounds(b, blocks[b.name], model)
    return blocks


def blocks_from_prior(model: CompiledModel, rng: np.random.Generator) -> Blocks:
    """One independent draw of every block but the `z` ones from its prior."""
    blocks: Blocks = {}
    for b in _coefficients_first(model):
        if b.kind == "cor":
            dim = correlation_size(model.design, b.term)
            L = draw_lkj_cholesky(b.priors[0].spec.args[0], dim, rng)
            blocks[b.name] = L
        elif b.kind == "thresholds":
            blocks[b.name] = _ordered_draw(b, rng)
        else:
            blocks[b.name] = np.concatenate([draw_prior(p, rng) for p in b.priors])
        if b.kind == "intercept" and b.priors[0].original_scale:
            blocks[b.name] = blocks[b.name] + _centring(model, blocks, b.dpar)
    return blocks


def _coefficients_first(model: CompiledModel) -> list:
    """The blocks but the `z` ones, coefficients first: an intercept is shifted by them."""
    return sorted((b for b in model.blocks if b.kind != "z"), key=lambda b: b.kind != "fixed")


def _centring(model: CompiledModel, blocks: Blocks, dpar: str) -> float:
    """`means @ b` of `dpar`: what the centred intercept adds to the original one."""
    means = np.asarray(model.design.dpars[dpar].fixed.means)
    return float(means @ blocks.get(f"coefs_{dpar}", np.zeros(0)))


def _check_names(names: tuple[str, ...], truth: Mapping[str, float]) -> None:
    unknown = [k for k in truth if k not in names]
    if unknown:
        raise ModelError(
            f"the truth names '{unknown[0]}', which the model does not have"
            f"{did_you_mean(unknown[0], names)}; its parameters: {', '.join(names)}"
        )
    missing = [k for k in names if k not in truth]
    if missing:
        raise ModelError(
            f"the truth gives no value for {', '.join(missing)}: a simulation needs every "
            f"parameter of the model ({', '.join(names)})"
        )
    for k, v in truth.items():
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise ModelError(f"the truth's {k} must be a number, got {v!r}")
        if not np.isfinite(v):
            raise ModelError(f"the truth's {k} must be a finite number, got {v!r}")


def _check_bounds(block, values: np.ndarray, model: CompiledModel) -> None:
    """sds at or above 0, auxiliary parameters within their family's bounds."""
    aux = model.family.parameter(block.name)
    low, high = (0.0, np.inf) if aux is None else aux.bounds
    for prior, v in zip(block.priors, values, strict=True):
        if not low <= v <= high:
            raise ModelError(
                f"the truth's {prior.slot.name} must lie in [{low:g}, {high:g}], got {v:g}"
            )


def _increasing(values: np.ndarray, names: str) -> np.ndarray:
    if np.any(np.diff(values) <= 0):
        raise ModelError(f"the truth's {names} must increase, got {values.tolist()}")
    return values


def _cholesky(model: CompiledModel, term: int, value: dict[str, float]) -> np.ndarray:
    group, labels = correlation_labels(model.design, term)
    corr = np.eye(len(labels))
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):
            corr[a, b] = corr[b, a] = value[f"cor_{group}__{labels[a]}__{labels[b]}"]
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise ModelError(
            f"the truth's correlations of {group} ({', '.join(labels)}) do not form a "
            "correlation matrix (it is not positive definite)"
        ) from None


def _ordered_draw(block, rng: np.random.Generator) -> np.ndarray:
    """Increasing values from the priors of each: sorted draws where the priors are one
    (the order statistics of the density restricted to increasing values), otherwise
    independent draws until they increase."""
    specs = {(p.spec.dist, p.spec.args, p.spec.power, p.lower, p.upper) for p in block.priors}
    if len(specs) == 1:
        return np.sort(draw_prior(block.priors[0], rng, block.size))
    for _ in range(ORDER_TRIES):
        values = np.concatenate([draw_prior(p, rng) for p in block.priors])
        if np.all(np.diff(values) > 0):
            return values
    raise ModelError(
        f"the priors of {', '.join(p.slot.name for p in block.priors)} almost never give "
        f"increasing values ({ORDER_TRIES} tries); give them one prior, e.g. "
        "'Intercept ~ student_t(3, 0, 2.5)'"
    )
