"""Plots of many fits: power curves, SBC rank histograms and ECDF differences."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from .._errors import ModelError, did_you_mean

if TYPE_CHECKING:
    from ._power import PowerResult
    from ._sbc import SBCResult

SBC_KINDS = ("ecdf", "hist")


def plot_power(result: PowerResult, x: str | None = None, ax: Any = None):
    import matplotlib.pyplot as plt

    sizes = list(result.sizes)
    varying = [c for c in sizes if result.table[c].nunique() > 1]
    x = x or (varying[0] if varying else sizes[0])
    if x not in sizes:
        raise ModelError(f"x must be one of the sizes ({', '.join(sizes)}), got {x!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    others = [c for c in varying if c != x]
    table = result.table
    groups = table.groupby(others, sort=False) if others else [((), table)]
    for key, part in groups:
        label = ", ".join(f"{k} = {v}" for k, v in zip(others, np.atleast_1d(key), strict=True))
        ax.errorbar(
            part[x],
            part["power"],
            yerr=1.96 * part["power_mcse"],
            marker="o",
            capsize=3,
            label=label or None,
        )
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x)
    ax.set_ylabel(f"power ({result.prob:.0%} interval excludes {result.scenario.null:g})")
    ax.set_title(f"{result.scenario.name or result.scenario.formula}: {result.scenario.target}")
    if others:
        ax.legend(frameon=False)
    return ax


def plot_sbc(result: SBCResult, kind: str, parameters: list[str] | None):
    import matplotlib.pyplot as plt

    if kind not in SBC_KINDS:
        raise ModelError(
            f"kind must be one of {SBC_KINDS}, got {kind!r}{did_you_mean(kind, SBC_KINDS)}"
        )
    names = list(result.ranks.columns) if parameters is None else list(parameters)
    for name in names:
        if name not in result.ranks.columns:
            raise ModelError(
                f"no ranks for '{name}'{did_you_mean(name, result.ranks.columns)}; "
                f"parameters: {', '.join(result.ranks.columns)}"
            )
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, layout="constrained"
    )
    for ax, name in zip(axes.flat, names, strict=False):
        ranks = result.ranks[name].to_numpy()
        if kind == "hist":
            _rank_histogram(ax, ranks, result.ranks_of)
        else:
            _ecdf_difference(ax, ranks, result.ranks_of)
        ax.set_title(name, fontsize=9)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    return fig


def _rank_histogram(ax, ranks: np.ndarray, ranks_of: int) -> None:
    from ._sbc import rank_bins

    """Talts et al.'s figure: counts per bin, and the band 99% of bins of uniform ranks fall
    in (binomial quantiles)."""
    n, values = len(ranks), ranks_of + 1
    bins = rank_bins(n, values, per_bin=1)
    counts = np.bincount(ranks * bins // values, minlength=bins)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    ax.axhspan(lo, hi, color="grey", alpha=0.25, lw=0)
    ax.axhline(n / bins, color="grey", lw=0.8)
    edges = np.arange(bins + 1) * values / bins
    ax.stairs(counts, edges, fill=True, alpha=0.8)
    ax.set_xlabel("rank")


def _ecdf_difference(ax, ranks: np.ndarray, ranks_of: int) -> None:
    from ..inference import arviz

    az = arviz()
    scaled = (ranks + 0.5) / (ranks_of + 1)
    az.plot_ecdf(
        scaled,
        eval_points=np.linspace(0, 1, min(ranks_of + 2, 101)),
        cdf=stats.uniform(0, 1).cdf,
        difference=True,
        confidence_bands=True,
        ax=ax,
        show=False,
    )
    ax.set_xlabel("fractional rank")
