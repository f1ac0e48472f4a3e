"""The plots of a Fit, drawn with ArviZ where ArviZ has the plot; each returns the Figure.

Group effects `r_<group>` (levels x coefficients) are shown one coefficient at a time, as
`r_<group>[<coef>]` with every level in one panel.

Example:
    >>> fig = fit.plot_trace()  # doctest: +SKIP
    >>> fig.savefig("trace.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import ModelError, did_you_mean
from ..families import _responses as responses
from ..formula import formula_names
from ..inference import arviz

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._fit import Fit

__all__ = [
    "plot_conditional",
    "plot_group_effects",
    "plot_ppc",
    "plot_prior_posterior",
    "plot_rank",
    "plot_trace",
]

#: How many values a numeric predictor takes along the x axis of a conditional plot.
GRID_POINTS = 50
#: ArviZ draws at most 20 panels and drops the rest with a warning; every parameter asked
#: for gets its panel here.
ALL_PANELS = {"plot.max_subplots": 10_000}
#: The central interval of the predicted frequencies in a bar plot of the PPC.
PPC_INTERVAL = 0.9


def plot_trace(fit: Fit, var_names: Sequence[str] | None = None, compact: bool = True) -> Figure:
    """ArviZ's trace plot: a density and a trace per parameter, chains told apart.

    Default: every scalar parameter and, with `compact=True`, one panel per group-effect
    coefficient with all its levels overlaid (`r_subject[Intercept]`). A name `r_<group>`
    stands for all its coefficients.

    Example:
        >>> fit.plot_trace(["b_x", "r_g"])  # doctest: +SKIP
    """
    names = _expand(fit, var_names, group_effects=compact)
    data = _with_coefficients(fit)
    az = arviz()
    with az.rc_context(ALL_PANELS):
        axes = az.plot_trace(data, var_names=names, compact=compact)
    return _figure(axes)


def plot_rank(fit: Fit, var_names: Sequence[str] | None = None) -> Figure:
    """ArviZ's rank plot (Vehtari et al. 2021): one panel per parameter, a histogram of
    each chain's ranks among all draws; flat bars mean the chains mix.

    Default: every scalar parameter. A group effect (`r_g`, `r_g[Intercept]`) gives one
    panel per level.

    Example:
        >>> fit.plot_rank(["b_Intercept", "sigma"])  # doctest: +SKIP
    """
    names = _expand(fit, var_names, group_effects=False)
    az = arviz()
    with az.rc_context(ALL_PANELS):
        axes = az.plot_rank(_with_coefficients(fit), var_names=names)
    return _figure(axes)


def plot_group_effects(fit: Fit, group: str | None = None, prob: float = 0.95) -> Figure:
    """Caterpillar plot: per group effect and coefficient, one panel of every level's
    posterior median and `prob` highest-density interval (ArviZ's forest plot), levels
    sorted by it, largest at the top.

    `group` picks one grouping factor (`"subject"`, or the variable, `"r_subject"`).

    Example:
        >>> fit.plot_group_effects("g")  # doctest: +SKIP
    """
    _check_prob(prob)
    effects = _pick_effects(fit, group)
    posterior = fit.idata.posterior
    panels = [(e.name, coef) for e in effects for coef in e.coefs]
    heights = [len(e.levels) for e in effects for _ in e.coefs]
    fig, axes = _subplots(1, len(panels), (4.0 * len(panels), min(2.0 + 0.2 * max(heights), 30)))
    for ax, (name, coef) in zip(axes.ravel(), panels, strict=True):
        sorted_levels = _coefficient(posterior, name, coef)
        sorted_levels = sorted_levels.isel({sorted_levels.dims[-1]: _order(sorted_levels)})
        data = sorted_levels.to_dataset(name=f"{name}[{coef}]")
        arviz().plot_forest(data, combined=True, hdi_prob=prob, ax=ax, labeller=_level_labeller())
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(f"{name}[{coef}]")
        ax.set_xlabel(f"posterior median, {prob:.0%} HDI")
    return fig


def plot_ppc(fit: Fit, draws: int = 100, seed: int | None = None) -> Figure:
    """Posterior predictive check: the observed response against replicated data sets.

    Continuous responses: ArviZ's density overlay (`draws` replicated densities, their mean,
    the observed density). Counts, binary and ordinal responses: bars of the observed
    frequency of each value, with the replicated frequencies' median and central 90% interval
    over `draws` replicated data sets (brms's `pp_check(type = "bars")`).

    Example:
        >>> fit.plot_ppc(draws=50, seed=1)  # doctest: +SKIP
    """
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise ModelError(f"draws must be a positive whole number, got {draws!r}")
    replicated = fit.posterior_predictive(seed)
    n = replicated.sizes["chain"] * replicated.sizes["draw"]
    if not _discrete(fit):
        axes = arviz().plot_ppc(
            fit.idata, num_pp_samples=min(draws, n), random_seed=seed, var_names=[fit.response_name]
        )
        return _figure(axes)
    pick = np.random.default_rng(seed).choice(n, min(draws, n), replace=False)
    yrep = replicated.values.reshape(n, -1)[pick]
    return _ppc_bars(fit, np.asarray(fit.idata.observed_data[fit.response_name].values), yrep)


def plot_conditional(fit: Fit, effects: str | Sequence[str], prob: float = 0.95) -> Figure:
    """The expected response along one predictor, or two (an interaction plot), with central
    `prob` credible bands: population level (no group effects), the other predictors at
    their means (numeric) or reference levels (factors), as brms's `conditional_effects`.

    `"a:b"` is brms's spelling of `["a", "b"]`. The first predictor is the x axis: a line
    and band if numeric, points and error bars per level if a factor. The second gives one
    line per level (a numeric one at its mean and mean +/- sd). An ordinal response is shown
    as its expected level (levels numbered 1..K unless they are numbers); a binomial one as
    a proportion (trials = 1).

    Example:
        >>> fit.plot_conditional(["blockType", "CSType"])  # doctest: +SKIP
    """
    _check_prob(prob)
    names = effects.split(":") if isinstance(effects, str) else list(effects)
    frame = fit._model.design.frame
    predictors = fit._model.design.predictor_columns()
    if not 1 <= len(names) <= 2:
        raise ModelError(f"plot_conditional takes one or two predictors, got {len(names)}")
    for name in names:
        if name not in predictors:
            raise ModelError(
                f"'{name}' is not a predictor of this model{did_you_mean(name, predictors)}; "
                f"its predictors: {', '.join(predictors) or 'none'}"
            )
    grid = _grid(fit, names, predictors)
    draws = fit.predict(grid, kind="mean", new_groups="population").draws
    if "category" in draws.dims:
        draws = (draws * _level_values(fit)).sum("category")
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    grid["mean"] = draws.mean(("chain", "draw")).values
    grid["lower"] = draws.quantile(lo, ("chain", "draw")).values
    grid["upper"] = draws.quantile(hi, ("chain", "draw")).values
    fig, axes = _subplots(1, 1, (6.0, 4.0))
    ax = axes[0, 0]
    by = names[1] if len(names) == 2 else None
    if _is_numeric(frame[names[0]]):
        _lines(ax, grid, names[0], by)
    else:
        _dodged_points(ax, grid, names[0], by, _levels(frame[names[0]]))
    ax.set_xlabel(names[0])
    ax.set_ylabel(_response_label(fit))
    ax.set_title(f"{' x '.join(names)}: expected response, {prob:.0%} interval")
    if by is not None:
        ax.legend(title=by)
    return fig


def plot_prior_posterior(fit: Fit, var_names: Sequence[str] | None = None) -> Figure:
    """Prior and posterior density of each parameter in one panel (ArviZ's density plot,
    each density over its 99% highest-density interval: heavy-tailed priors stay readable).

    The prior draws are `fit.idata.prior`, drawn by `fit.sample_prior()` when absent. That
    needs a proper prior on every parameter: brms's default prior on the coefficients `b`
    is flat, so a model that keeps it raises an error naming those coefficients and the
    statement that gives them one. Default: every scalar parameter.

    Example:
        >>> fit = ml.fit("y ~ x", df, priors=["b ~ normal(0, 1)"])  # doctest: +SKIP
        >>> fit.plot_prior_posterior(["b_x", "sigma"])  # doctest: +SKIP
    """
    names = _expand(fit, var_names, group_effects=False)
    if "prior" not in fit.idata.groups():
        flat = [a for a in fit._model.priors if a.spec.dist == "flat"]
        if flat:
            raise ModelError(_flat_prior_message(flat))
        fit.sample_prior()
    prior = _split_coefficients(fit.idata.prior, fit)
    absent = [n for n in names if n not in prior.data_vars]
    if absent:
        raise ModelError(
            f"fit.idata.prior has no draws of {', '.join(absent)}; "
            "fit.sample_prior() draws every parameter"
        )
    axes = arviz().plot_density(
        [_split_coefficients(fit.idata.posterior, fit), prior],
        data_labels=["posterior", "prior"],
        var_names=names,
        hdi_prob=0.99,
        shade=0.1,
    )
    return _figure(axes)


# Parameter names.


def _coefficient_names(fit: Fit) -> dict[str, list[str]]:
    """`r_<group>` -> its per-coefficient names `r_<group>[<coef>]`."""
    return {e.name: [f"{e.name}[{c}]" for c in e.coefs] for e in fit._model.effects}


def _expand(fit: Fit, var_names: Sequence[str] | None, group_effects: bool) -> list[str]:
    """The names to plot: checked, and `r_<group>` spelled out as its coefficients."""
    by_effect = _coefficient_names(fit)
    if var_names is None:
        names = list(fit._model.scalar_names)
        return names + [c for cs in by_effect.values() for c in cs] if group_effects else names
    if isinstance(var_names, str):
        var_names = [var_names]
    valid = [*fit._model.scalar_names, *by_effect, *(c for cs in by_effect.values() for c in cs)]
    names = []
    for name in var_names:
        if name not in valid:
            raise ModelError(
                f"'{name}' is not a parameter of this fit{did_you_mean(name, valid)}; "
                f"valid: {', '.join(valid)}"
            )
        names += by_effect.get(name, [name])
    return names


def _with_coefficients(fit: Fit):
    """The posterior (split by `_split_coefficients`) and sample stats, as ArviZ data."""
    groups = {"posterior": _split_coefficients(fit.idata.posterior, fit)}
    if "sample_stats" in fit.idata.groups():
        groups["sample_stats"] = fit.idata.sample_stats
    return arviz().InferenceData(**groups)


def _split_coefficients(draws: xr.Dataset, fit: Fit) -> xr.Dataset:
    """The scalar parameters, and each group effect as one variable per coefficient
    (chain x draw x level): ArviZ's compact plots overlay the levels of one variable."""
    variables = {name: draws[name] for name in fit._model.scalar_names if name in draws}
    for e in fit._model.effects:
        if e.name not in draws:
            continue
        for coef in e.coefs:
            variables[f"{e.name}[{coef}]"] = _coefficient(draws, e.name, coef)
    return xr.Dataset(variables)


def _coefficient(posterior: xr.Dataset, name: str, coef: str) -> xr.DataArray:
    """One coefficient of a group effect: chain x draw x level."""
    r = posterior[name]
    return r.sel({r.dims[-1]: coef}, drop=True)


def _order(levels: xr.DataArray) -> np.ndarray:
    """Level positions by descending posterior median, the point ArviZ's forest plot draws
    (it draws the first level at the top)."""
    return np.argsort(-levels.median(("chain", "draw")).values, kind="stable")


def _pick_effects(fit: Fit, group: str | None):
    effects = fit._model.effects
    if not effects:
        raise ModelError("this model has no group effects to plot")
    if group is None:
        return effects
    chosen = [e for e in effects if group in (e.group, e.name)]
    if not chosen:
        valid = sorted({e.group for e in effects} | {e.name for e in effects})
        raise ModelError(
            f"'{group}' is not a grouping factor of this model{did_you_mean(group, valid)}; "
            f"valid: {', '.join(valid)}"
        )
    return chosen


def _flat_prior_message(flat: list) -> str:
    """Which parameters keep a flat prior, and the statements that would give them one."""
    names = [a.slot.name for a in flat]
    # A slot's least specific selector is its class (`b`, or `b_<dpar>`).
    classes = sorted({min(a.slot.selectors, key=lambda s: s[1])[0] for a in flat})
    statements = ", ".join(f"'{c} ~ normal(0, 2.5)'" for c in classes)
    return (
        f"a prior-vs-posterior plot needs draws from the prior, and {', '.join(names)} "
        f"{'has a flat (improper) prior' if len(names) == 1 else 'have flat (improper) priors'} "
        "(brms's default for coefficients), which cannot be drawn from; give proper priors, "
        f"e.g. ml.Model(..., priors=[{statements}]), scaled to your predictors"
    )


# Posterior predictive bars.


def _discrete(fit: Fit) -> bool:
    family = fit._model.family
    return family.ordinal or family.check in (
        responses.counts,
        responses.binary,
        responses.successes,
    )


def _ppc_bars(fit: Fit, observed: np.ndarray, yrep: np.ndarray) -> Figure:
    """Observed frequency of each value as bars; replicated median and interval as points."""
    values = np.arange(int(np.nanmin(observed)), int(np.nanmax(observed)) + 1)
    observed_counts = (observed[:, None] == values).sum(axis=0)
    replicated_counts = (yrep[:, :, None] == values).sum(axis=1)
    lo, middle, hi = np.quantile(
        replicated_counts, [(1 - PPC_INTERVAL) / 2, 0.5, (1 + PPC_INTERVAL) / 2], axis=0
    )
    fig, axes = _subplots(1, 1, (6.0, 4.0))
    ax = axes[0, 0]
    ax.bar(values, observed_counts, color="C0", alpha=0.6, label="observed")
    ax.errorbar(
        values,
        middle,
        yerr=[middle - lo, hi - middle],
        fmt="o",
        color="k",
        markersize=3,
        label=f"replicated: median, {PPC_INTERVAL:.0%} interval",
    )
    if fit._model.family.ordinal:
        ax.set_xticks(values, list(responses.ordinal_levels(fit._model.design.response)[1]))
    ax.set_xlabel(fit.response_name)
    ax.set_ylabel("count")
    ax.set_title(f"Posterior predictive check ({len(yrep)} replicated data sets)")
    ax.legend()
    return fig


# Conditional effects.


def _grid(fit: Fit, effects: list[str], predictors: list[str]) -> pd.DataFrame:
    """Every combination of the effects' values; other predictors at their mean or
    reference level; addition terms (`trials`) at 1; grouping factors absent (no group
    effect)."""
    frame = fit._model.design.frame
    axes = {effects[0]: _axis_values(frame[effects[0]], GRID_POINTS)}
    if len(effects) == 2:
        axes[effects[1]] = _axis_values(frame[effects[1]], 3)
    index = pd.MultiIndex.from_product(list(axes.values()), names=list(axes))
    grid = index.to_frame(index=False)
    for name in predictors:
        if name not in axes:
            column = frame[name]
            typical = column.mean() if _is_numeric(column) else _levels(column)[0]
            grid[name] = pd.Series([typical] * len(grid), dtype=column.dtype)
    for expr in fit._model.design.formula.additions.values():
        for name in formula_names(expr) & set(map(str, frame.columns)):
            grid[name] = 1
    for name in effects:
        if not _is_numeric(frame[name]):
            grid[name] = grid[name].astype(frame[name].dtype)
    return grid


def _axis_values(column: pd.Series, points: int) -> list[Any]:
    """A factor's levels; for a numeric predictor, `points` values over its range (3 values
    are its mean - sd, mean and mean + sd, as brms)."""
    if not _is_numeric(column):
        return _levels(column)
    if points == 3:
        mean, sd = float(column.mean()), float(column.std())
        return [mean - sd, mean, mean + sd]
    return list(np.linspace(float(column.min()), float(column.max()), points))


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _levels(column: pd.Series) -> list[Any]:
    """A factor's levels, reference first (a categorical's order, else sorted)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return sorted(column.dropna().unique().tolist())


def _level_values(fit: Fit) -> xr.DataArray:
    """The number each ordinal level stands for: itself if numeric, else its rank 1..K."""
    labels = responses.ordinal_levels(fit._model.design.response)[1]
    try:
        values = [float(label) for label in labels]
    except ValueError:
        values = list(range(1, len(labels) + 1))
    return xr.DataArray(values, dims="category", coords={"category": list(labels)})


def _response_label(fit: Fit) -> str:
    family = fit._model.family
    y = fit.response_name
    if family.ordinal:
        return f"expected level of {y}"
    if "trials" in fit._model.design.additions:
        return f"expected proportion {y} / trials"
    return f"expected {y}"


def _lines(ax, grid: pd.DataFrame, x: str, by: str | None) -> None:
    for i, (label, rows) in enumerate(_split(grid, by)):
        ax.plot(rows[x], rows["mean"], color=f"C{i}", label=label)
        ax.fill_between(rows[x], rows["lower"], rows["upper"], color=f"C{i}", alpha=0.2)


def _dodged_points(ax, grid: pd.DataFrame, x: str, by: str | None, levels: list) -> None:
    parts = _split(grid, by)
    width = 0.3 if len(parts) > 1 else 0.0
    for i, (label, rows) in enumerate(parts):
        shift = (i / max(len(parts) - 1, 1) - 0.5) * width
        position = np.array([levels.index(v) for v in rows[x]]) + shift
        ax.errorbar(
            position,
            rows["mean"],
            yerr=[rows["mean"] - rows["lower"], rows["upper"] - rows["mean"]],
            fmt="o-",
            color=f"C{i}",
            capsize=3,
            label=label,
        )
    ax.set_xticks(range(len(levels)), [str(v) for v in levels])


def _split(grid: pd.DataFrame, by: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    """The grid's rows per value of `by` (one part, unlabelled, without it)."""
    if by is None:
        return [(None, grid)]
    return [(_format(v), grid[grid[by] == v]) for v in pd.unique(grid[by])]


def _format(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# Figures.


def _level_labeller():
    """An ArviZ labeller that names a forest plot's rows by their level only."""
    from arviz.labels import BaseLabeller

    class LevelLabeller(BaseLabeller):
        def make_label_flat(self, var_name, sel, isel):
            return ", ".join(str(v) for v in sel.values())

    return LevelLabeller()


def _subplots(rows: int, columns: int, size: tuple[float, float]):
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=size, squeeze=False)


def _figure(axes) -> Figure:
    """The Figure of what an ArviZ plot returns (one Axes or an array of them), without
    the empty cells that ArviZ's grids turn off."""
    fig = np.ravel(axes)[0].figure
    for ax in fig.axes:
        if not ax.axison:
            fig.delaxes(ax)
    return fig


def _check_prob(prob: float) -> None:
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1, got {prob}")
