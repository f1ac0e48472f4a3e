"""REML or ML estimates beside the posterior, and why they may disagree.

A trial statistician comparing with PROC MCMC or lme4 asks why a cluster variance differs:
with ten clusters the posterior of a variance is wide and skewed, and an inverse-gamma(0.01,
0.01) prior on it pulls it hard toward 0. The table puts the likelihood's answer beside the
posterior's, flags every parameter whose estimate lies more than a posterior sd from the
posterior mean, and says the usual reason for that kind of parameter.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..inference import configure_cache
from ..model._layout import sd_name
from ..model._profile import ProfileFit, profile_fit

if TYPE_CHECKING:
    from ._fit import Fit

#: A flag where |estimate - posterior mean| exceeds this many posterior sds.
FLAG_SDS = 1.0

COLUMNS = ["estimate", "se", "mean", "median", "sd", "diff_sd", "note"]


def check_reml(fit: Fit, method: str = "REML") -> pd.DataFrame:
    """REML (or ML) estimates of a Gaussian model beside its posterior mean, median and sd.

    One row per parameter (brms names): `estimate` (REML or ML; the fixed effects are the GLS
    estimates at the optimum, as lme4's), `se` (the fixed effects' standard errors, as
    lme4's), the posterior `mean`, `median` and `sd`, `diff_sd = (estimate - mean) / sd`, and a
    `note` where `|diff_sd| > 1` saying what usually causes it. `df.attrs` holds `method`,
    `logLik` (the maximised REML criterion or log-likelihood, as lme4's `logLik`) and
    `converged`. For Gaussian models with an identity link whose group effects the marginal
    engine integrates out (any other raises `ModelError` saying why).

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.read_csv("tests/data/partially_clustered.csv")  # doctest: +SKIP
        >>> fit = ml.fit("y ~ tx + (0 + tx | cluster)", df, sigma="~ tx",
        ...              priors=["sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)"])  # doctest: +SKIP
        >>> fit.check_reml("ML")[["estimate", "median", "diff_sd", "note"]]  # doctest: +SKIP
    """
    configure_cache()  # the criterion's program is shared by REML and ML of one model
    posterior = fit.idata.posterior
    names = list(fit._model.scalar_names)
    medians = {n: float(np.median(posterior[n].values)) for n in names}
    profile = profile_fit(fit._model, method, starts=medians)
    levels = _group_sizes(fit)
    rows = [
        _row(name, value, profile, posterior[name].values, levels)
        for name, value in profile.estimates.items()
    ]
    table = pd.DataFrame(rows, index=list(profile.estimates), columns=COLUMNS)
    table.attrs.update(
        method=profile.method, logLik=profile.log_likelihood, converged=profile.converged
    )
    if not profile.converged:
        warnings.warn(
            f"the {profile.method} optimiser stopped before converging ({profile.message}): "
            "its estimates may be off",
            RuntimeWarning,
            stacklevel=3,
        )
    return table


def _group_sizes(fit: Fit) -> dict[str, tuple[str, int]]:
    """Each group-level sd's and correlation's grouping factor and number of levels."""
    out = {}
    for g in fit._model.design.groups:
        for coef in g.coefs:
            out[sd_name(g.group, g.dpar, coef)] = (g.group, g.n_levels)
        out[f"cor_{g.group}"] = (g.group, g.n_levels)
    return out


def _row(name: str, estimate: float, profile: ProfileFit, draws: np.ndarray, levels) -> list:
    draws = draws.ravel()
    mean, median, sd = float(np.mean(draws)), float(np.median(draws)), float(np.std(draws, ddof=1))
    diff = (estimate - mean) / sd if sd > 0 else np.nan
    note = _note(name, estimate, median, profile.method, levels) if abs(diff) > FLAG_SDS else ""
    return [estimate, profile.se.get(name, np.nan), mean, median, sd, diff, note]


def _note(name: str, estimate: float, median: float, method: str, levels) -> str:
    """The usual reason a parameter of this kind lies far from its posterior."""
    if name.startswith("sd_"):
        group, n = levels[name]
        if estimate < 1e-3 * median:
            return (
                f"the {method} estimate is 0 (a singular fit), a boundary the posterior "
                "never reaches; the posterior's spread says how small the sd may be"
            )
        return (
            f"prior influence or few groups ({n} levels of {group}): the posterior of a "
            "variance with few groups is skewed and pulled by its prior; compare the "
            "posterior median/mode"
        )
    if name.startswith("cor_"):
        group, n = levels[name.split("__")[0]]
        return (
            f"prior influence or few groups ({n} levels of {group}): a correlation is weakly "
            "determined by few groups, and the LKJ prior pulls it toward 0"
        )
    if name == "sigma" or name.startswith("b_sigma_"):
        bias = "; ML's residual sd is biased down, REML's is not" if method == "ML" else ""
        return f"prior influence on the residual sd (check its prior){bias}"
    return (
        "prior influence (check the scale of the coefficient's prior), or the posterior "
        f"averages over uncertain variance components that the {method} plug-in ignores"
    )
