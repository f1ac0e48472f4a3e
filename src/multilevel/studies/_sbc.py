"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman 2018): draw
the parameters from the prior, data from them, fit, and rank each true value among the
posterior draws. A model and sampler that compute the posterior right give uniform ranks."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._api import Model
from .._errors import ModelError
from ..model import CompiledModel
from ..model._values import blocks_from_prior
from ..priors._assign import frozen_statement
from ._execute import Row, Task, run_study
from ._power import _check_replicates, _study_seed, study_fit_settings
from ._simulate import draw_response, with_response

#: Models rebuilt in a worker, by study digest: one per study, not one per replicate.
_MODELS: dict[str, CompiledModel] = {}


@dataclass(frozen=True)
class SBCStudy:
    """One calibration study: the model's recipe with every prior written out (a default
    prior scaled to the data would otherwise change with each simulated data set), its
    rows, and the settings. Picklable, so that workers run its replicates."""

    recipe: dict[str, Any]
    data: pd.DataFrame
    seed: int
    fit: dict[str, Any] = field(default_factory=dict)
    ranks_of: int = 99
    kind: str = "sbc"

    def describe(self) -> dict[str, Any]:
        return {**self.recipe, "seed": self.seed, "fit": self.fit, "ranks_of": self.ranks_of}

    def digest(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True, default=str).encode()
        rows = pd.util.hash_pandas_object(self.data, index=False).to_numpy().tobytes()
        return hashlib.sha256(text + rows).hexdigest()

    def model(self, data: pd.DataFrame) -> Model:
        r = self.recipe
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Model(r["formula"], data, r["family"], r["priors"], link=r["link"], **r["dpars"])

    def prior_model(self) -> CompiledModel:
        key = self.digest()
        if key not in _MODELS:
            _MODELS[key] = self.model(self.data)._engine("full")
        return _MODELS[key]

    def run(self, task: Task) -> Row:
        prior_seq, sim_seq, fit_seq = np.random.SeedSequence([self.seed, task.replicate]).spawn(3)
        model = self.prior_model()
        blocks = blocks_from_prior(model, np.random.default_rng(prior_seq))
        y, truth = draw_response(model, blocks, sim_seq)
        data = with_response(model, self.data, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sampler warnings are counted in the row
            fit = self.model(data).fit(
                seed=int(fit_seq.generate_state(1)[0]), progress=False, **self.fit
            )
        posterior = fit.idata.posterior
        ranks = {}
        for name in model.scalar_names:
            draws = np.asarray(posterior[name].values).ravel()
            kept = draws[np.linspace(0, draws.size - 1, self.ranks_of).round().astype(int)]
            ranks[name] = int(np.sum(kept < truth[name]))
        return {
            "replicate": task.replicate,
            "ranks": ranks,
            "truth": {name: float(truth[name]) for name in model.scalar_names},
            "divergences": int(fit.diagnostics.divergences),
            "rhat_max": float(fit.diagnostics.rhat_max),
        }


@dataclass(frozen=True)
class SBCResult:
    """Ranks (replicate x parameter, each 0..`ranks_of`), a uniformity test per parameter
    (`table`), and rank histograms and ECDF difference plots (`plot`)."""

    ranks: pd.DataFrame
    table: pd.DataFrame
    ranks_of: int
    replicates: pd.DataFrame
    #: Replicates read back from the checkpoint rather than run.
    resumed: int = 0

    def plot(self, kind: str = "ecdf", parameters: list[str] | None = None):
        """`"ecdf"`: the ECDF of the scaled ranks minus the uniform's, with ArviZ's
        simultaneous 95% band; `"hist"`: rank histograms with the band that 99% of bins of
        uniform ranks fall in. Returns the matplotlib Figure."""
        from ._plots import plot_sbc

        return plot_sbc(self, kind, parameters)

    def __repr__(self) -> str:
        return f"<SBCResult {len(self.ranks)} replicates>\n{self.table.to_string()}"


def sbc(
    model: Model,
    replicates: int = 200,
    seed: int | None = None,
    ranks_of: int = 99,
    workers: int | None = None,
    client: Any = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | None = None,
    **fit: Any,
) -> SBCResult:
    """Simulation-based calibration of `model` on its own rows: `replicates` times, draw
    every parameter from its prior (exactly, not by MCMC), a response from them, fit, and
    rank the true value of each parameter among `ranks_of` posterior draws spread evenly
    over the chains (thinning, as Talts et al. advise, against autocorrelated draws).

    The table gives each parameter's chi-square test of uniform ranks over equal bins (at
    most 20, at least 5 replicates expected per bin) and the largest gap between the ranks'
    ECDF and the uniform's. Every prior must be proper (brms's flat default on `b` is
    not: give one). Execution, seeding and `checkpoint` are as in `ml.power`; `**fit` sets
    the sampler (`chains`, `warmup`, `draws`, `target_accept`, `engine`).

    Example:
        >>> import multilevel as ml  # doctest: +SKIP
        >>> m = ml.Model("y ~ x + (1 | g)", df, priors=["b ~ normal(0, 1)"])  # doctest: +SKIP
        >>> result = ml.sbc(m, replicates=200, seed=1)  # doctest: +SKIP
        >>> result.table  # doctest: +SKIP
    """
    if not isinstance(model, Model):
        raise ModelError(f"sbc takes a Model, got {type(model).__name__}")
    _check_replicates(replicates)
    if isinstance(ranks_of, bool) or not isinstance(ranks_of, int) or ranks_of < 9:
        raise ModelError(f"ranks_of must be a whole number >= 9, got {ranks_of!r}")
    seed = _study_seed(seed, checkpoint)
    settings = study_fit_settings(fit)
    if settings["chains"] * settings["draws"] < ranks_of:
        raise ModelError(
            f"ranks_of={ranks_of} is more than the {settings['chains'] * settings['draws']} "
            "posterior draws of each fit: lower it or draw more"
        )
    compiled = model._engine("full")
    improper = compiled.improper_priors
    if improper:
        raise ModelError(
            f"calibration draws the parameters from their priors, but {', '.join(improper)} "
            "ha" + ("ve" if len(improper) > 1 else "s") + " an improper flat prior; give "
            "proper ones, e.g. priors=['b ~ normal(0, 10)']"
        )
    recipe = {
        **{k: model.recipe[k] for k in ("formula", "family", "link", "dpars")},
        "priors": [frozen_statement(p) for p in compiled.priors],
    }
    study = SBCStudy(recipe, compiled.design.frame, seed, settings, ranks_of)
    tasks = [Task(0, r) for r in range(replicates)]
    rows, resumed = run_study(study, tasks, workers, client, checkpoint, progress)
    ranks = pd.DataFrame([row["ranks"] for row in rows], columns=list(compiled.scalar_names))
    details = pd.DataFrame(
        [{k: v for k, v in row.items() if k not in ("ranks", "truth")} for row in rows]
    )
    return SBCResult(ranks, uniformity(ranks, ranks_of), ranks_of, details, resumed)


def rank_bins(replicates: int, values: int, per_bin: float) -> int:
    """The most equal bins (at most 20) of `values` rank values with at least `per_bin`
    replicates expected in each; 1 when none has."""
    fits = (b for b in range(1, 21) if values % b == 0 and replicates / b >= per_bin)
    return max(fits, default=1)


def uniformity(ranks: pd.DataFrame, ranks_of: int) -> pd.DataFrame:
    """Per parameter: the chi-square test of uniform ranks (0..ranks_of) over equal bins,
    and the largest distance between the ranks' ECDF and the uniform CDF."""
    n = len(ranks)
    values = ranks_of + 1
    bins = rank_bins(n, values, per_bin=5)
    rows = []
    for name in ranks.columns:
        r = ranks[name].to_numpy()
        counts = np.bincount(r * bins // values, minlength=bins)
        chi2 = float(np.sum((counts - n / bins) ** 2 / (n / bins)))
        u = np.sort((r + 0.5) / values)
        ecdf_gap = float(np.max(np.abs(np.arange(1, n + 1) / n - u)))
        rows.append(
            {
                "parameter": name,
                "replicates": n,
                "bins": bins,
                "chi2": chi2,
                "p_value": float(stats.chi2.sf(chi2, bins - 1)) if bins > 1 else np.nan,
                "max_ecdf_gap": ecdf_gap,
                "mean_rank": float(r.mean() / ranks_of),
            }
        )
    return pd.DataFrame(rows).set_index("parameter")
