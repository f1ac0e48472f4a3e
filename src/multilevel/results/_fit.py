"""The Fit object: what a user holds after sampling."""

from __future__ import annotations

import pandas as pd

from ..inference import Diagnostics, Posterior, arviz, pointwise_log_likelihood, summarise
from ..model import CompiledModel, describe


class Fit:
    """A fitted model: posterior draws as ArviZ data, summaries and diagnostics.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2.1, 2.9, 4.2, 5.1, 5.8], "x": [1.0, 2, 3, 4, 5, 6]})
        >>> fit = ml.fit("y ~ x", df, chains=2, warmup=200, draws=200, seed=1)  # doctest: +SKIP
        >>> fit.summary().loc["b_x", "mean"]  # doctest: +SKIP
    """

    def __init__(self, model: CompiledModel, posterior: Posterior):
        self._model = model
        self._posterior = posterior

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
            import xarray as xr

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
        return describe(self._model)

    def __repr__(self) -> str:
        s = self._posterior.settings
        return (
            f"<multilevel.Fit {self._model.design.formula.source!r}: {s.chains} chains x "
            f"{s.draws} draws, engine={self.engine}, "
            f"{'diagnostics ok' if self.diagnostics.ok else 'see fit.diagnostics'}>"
        )
