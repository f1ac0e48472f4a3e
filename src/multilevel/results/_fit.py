"""The Fit object: what a user holds after sampling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import pandas as pd
import xarray as xr

from ..inference import Diagnostics, Posterior, arviz, pointwise_log_likelihood, summarise
from ..model import CompiledModel, describe
from . import _cell_means, _hypothesis, _persist, _predict, _prior, _reml


class Fit:
    """A fitted model: posterior draws as ArviZ data, summaries and diagnostics.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2.1, 2.9, 4.2, 5.1, 5.8], "x": [1.0, 2, 3, 4, 5, 6]})
        >>> fit = ml.fit("y ~ x", df, chains=2, warmup=200, draws=200, seed=1)  # doctest: +SKIP
        >>> fit.summary().loc["b_x", "mean"]  # doctest: +SKIP
    """

    def __init__(
        self, model: CompiledModel, posterior: Posterior, recipe: dict[str, Any] | None = None
    ):
        self._model = model
        self._posterior = posterior
        #: The arguments of the `Model` that made this fit (formula, family, link, priors,
        #: na_action, dpars, engine), as plain data: what `save` writes to rebuild it.
        self.recipe = dict(recipe or {})

    @property
    def idata(self):
        """ArviZ InferenceData: posterior (brms names, named dims), sample_stats, observed_data."""
        return self._posterior.idata

    @property
    def response_name(self) -> str:
        return self._model.design.response_name

    @property
    def engine(self) -> str:
        """ "full" (group effects sampled) or "marginal" (integrated out, then drawn exactly)."""
        return self._model.engine

    @property
    def diagnostics(self) -> Diagnostics:
        return self._posterior.diagnostics

    @property
    def seed(self) -> int:
        return self._posterior.settings.seed

    def summary(self, group_effects: bool = False, prob: float = 0.95) -> pd.DataFrame:
        """mean, sd, central `prob` interval, R-hat, bulk and tail ESS per parameter.

        `group_effects=True` adds one row per group effect, e.g. `r_cluster[g01,tx]`.
        """
        if not 0 < prob < 1:
            raise ValueError(f"prob must be between 0 and 1, got {prob}")
        names = list(self._model.scalar_names)
        if group_effects:
            names += [e.name for e in self._model.effects]
        return summarise(self.idata.posterior, names, prob)

    def log_likelihood(self):
        """The pointwise log-likelihood, draws x rows (`chain`, `draw`, `obs`), as brms's
        `log_lik()`: conditional on each draw's group effects. Computed on first use and
        kept in `fit.idata.log_likelihood`, where ArviZ's `loo`, `waic` and `compare` read it.
        """
        name = self.response_name
        if "log_likelihood" not in self.idata.groups():
            values = pointwise_log_likelihood(self._model, self._posterior)
            dataset = xr.Dataset(
                {name: (("chain", "draw", "obs"), values)},
                coords={
                    "chain": self.idata.posterior.chain,
                    "draw": self.idata.posterior.draw,
                    "obs": self.idata.observed_data.obs,
                },
            )
            self.idata.add_groups({"log_likelihood": dataset})
        return self.idata.log_likelihood[name]

    def loo(self, **kwargs):
        """PSIS-LOO (ArviZ's `loo`, keywords passed on): the expected log predictive density
        of each row left out in turn, with Pareto k diagnostics (`pointwise=True` keeps them).

        Example:
            >>> import multilevel as ml, pandas as pd
            >>> df = pd.DataFrame({"y": [1.0, 2.1, 2.9, 4.2, 5.1, 5.8], "x": [1.0, 2, 3, 4, 5, 6]})
            >>> ml.fit("y ~ x", df, seed=1).loo().elpd_loo  # doctest: +SKIP
        """
        self.log_likelihood()
        return arviz().loo(self.idata, **kwargs)

    def describe(self) -> str:
        """The model in statistical notation (see `Model.describe`), with the engine used."""
        return describe(self._model, self.recipe.get("engine", self.engine))

    # Predictions and derived quantities (results/_predict.py).

    def predict(
        self,
        newdata: Any = None,
        kind: str = "mean",
        new_groups: str = "sample",
        draws: int | None = None,
        seed: int | None = None,
    ):
        """Draws of the expected response (`"mean"`), the linear predictor (`"linpred"`) or
        new responses (`"response"`) for `newdata` (default: the data fitted), encoded
        with the design of the fit. Levels of a grouping factor the fit has not seen get
        effects drawn from the fitted population (`new_groups="sample"`), none
        (`"population"`), or raise (`"error"`). Returns a `Prediction` (`.draws`, an
        xarray DataArray chain x draw x obs; `.summary()`).

        Example:
            >>> fit.predict(pd.DataFrame({"x": [0.0, 1.0]})).summary()  # doctest: +SKIP
        """
        return _predict.predict(self, newdata, kind, new_groups, draws, seed)

    def posterior_predictive(self, seed: int | None = None):
        """One replicated data set per posterior draw, kept in `idata.posterior_predictive`
        (what ArviZ's `plot_ppc` and `loo_pit` read)."""
        return _predict.posterior_predictive(self, seed)

    def add_linpred(self, dpars: Sequence[str] = ("mu",), transform: bool = False) -> None:
        """Store each named distributional parameter's linear predictor on every row in
        the posterior (as `pm.Deterministic`), on the link scale, or the natural scale with
        `transform=True`."""
        _predict.add_linpred(self, dpars, transform)

    def sample_prior(self, draws: int = 1000, seed: int | None = None):
        """Draws from the prior of every parameter and prior predictive data sets (see
        `Model.sample_prior`), also kept in `idata` as `prior` and `prior_predictive`."""
        settings = self._posterior.settings
        seed = settings.seed if seed is None else seed
        prior = _prior.sample_prior(
            self._model, self.recipe.get("priors", ()), draws, settings.chains, seed
        )
        self.idata.extend(prior, join="right")
        return prior

    # Comparison and inference (results/_hypothesis.py, _cell_means.py, _reml.py).

    def hypothesis(
        self, expr: str | Sequence[str] | Mapping[str, str], prob: float = 0.95
    ) -> pd.DataFrame:
        """Posterior mean, sd, interval and probability of expressions of parameters, as
        brms's `hypothesis()`: `"b_blockType + b_blockType:CSType > 0"`."""
        return _hypothesis.hypothesis(self, expr, prob)

    def cell_means(self, factors: Sequence[str], prob: float = 0.95):
        """The posterior of every cell mean of the named factors (a reference grid, other
        predictors at their means), with `.contrasts()` between cells."""
        return _cell_means.cell_means(self, factors, prob)

    def check_reml(self, method: str = "REML") -> pd.DataFrame:
        """REML (or ML) estimates beside the posterior, with a note where they differ by more
        than a posterior sd: prior influence or too little data."""
        return _reml.check_reml(self, method)

    # Plots (results/_plots.py), each returning a matplotlib Figure, and the report: imported
    # on first use, so that `import multilevel` does not load matplotlib.

    def plot_trace(self, var_names: Sequence[str] | None = None, compact: bool = True):
        from ._plots import plot_trace

        return plot_trace(self, var_names, compact)

    def plot_rank(self, var_names: Sequence[str] | None = None):
        from ._plots import plot_rank

        return plot_rank(self, var_names)

    def plot_group_effects(self, group: str | None = None, prob: float = 0.95):
        from ._plots import plot_group_effects

        return plot_group_effects(self, group, prob)

    def plot_ppc(self, draws: int = 100, seed: int | None = None):
        from ._plots import plot_ppc

        return plot_ppc(self, draws, seed)

    def plot_conditional(self, effects: str | Sequence[str], prob: float = 0.95):
        from ._plots import plot_conditional

        return plot_conditional(self, effects, prob)

    def plot_prior_posterior(self, var_names: Sequence[str] | None = None):
        from ._plots import plot_prior_posterior

        return plot_prior_posterior(self, var_names)

    # Persistence and reporting (results/_persist.py, _report.py).

    def save(self, path: str | PathLike) -> None:
        """Write the fit to one file (data only: netCDF and JSON, no pickle), atomically;
        `ml.load(path)` reads it back and predicts without refitting."""
        _persist.save(self, path)

    def report(self, path: str | PathLike) -> None:
        """One self-contained HTML page: description, priors, summary, diagnostics, plots."""
        from ._report import report

        report(self, path)

    def _repr_html_(self) -> str:
        from ._report import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        s = self._posterior.settings
        return (
            f"<multilevel.Fit {self._model.design.formula.source!r}: {s.chains} chains x "
            f"{s.draws} draws, engine={self.engine}, "
            f"{'diagnostics ok' if self.diagnostics.ok else 'see fit.diagnostics'}>"
        )
