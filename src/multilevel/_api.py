"""The public entry points: `Model` and the `fit` shortcut."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ModelError, did_you_mean
from .design import build_design
from .families import get_family
from .formula import ModelFormula, parse_dpar_formula, parse_formula
from .inference import SamplerSettings, sample
from .model import choose_engine, compile_model, describe, priors_table
from .priors import PriorSpec, prior_statement
from .results import Fit
from .results._prior import sample_prior

FIT_KEYWORDS = (
    "chains",
    "warmup",
    "draws",
    "seed",
    "target_accept",
    "max_treedepth",
    "metric",
    "engine",
    "progress",
    "keep",
)
METRICS = ("diag", "dense")
ENGINES = ("auto", "full", "marginal")


class Model:
    """A Bayesian multilevel model from an lme4/brms formula.

    Args:
        formula: `"y ~ x + (1 + x | g)"`; group terms `(terms | g)`, `(terms || g)`,
            `g1/g2`, `g1:g2`; fixed terms as formulaic reads them (`C(x)`, `scale(x)`, ...).
        data: a pandas DataFrame (or dict of columns, or a polars / pyarrow frame).
        family: the likelihood, by its brms name: `"gaussian"`, `"student"`, `"bernoulli"`,
            `"binomial"` (`"y | trials(n) ~ ..."`), `"poisson"`, `"negbinomial"`, `"gamma"`,
            `"lognormal"`, `"beta"`, `"zero_inflated_poisson"`, `"zero_inflated_negbinomial"`,
            `"hurdle_poisson"`, `"hurdle_negbinomial"`, `"hurdle_lognormal"`,
            `"zero_one_inflated_beta"`, `"cumulative"` (ordinal), `"ordered_beta"`.
        link: the link of the mean, when not the family's default (brms's).
        priors: statements such as `"b ~ normal(0, 10)"` or
            `"sd_g__x^2 ~ inv_gamma(0.01, 0.01)"` (`^2`: a prior on the variance).
        na_action: `"error"` (default) or `"drop"` rows with missing values (reported).
        **dpars: formulas for distributional parameters, e.g. `sigma="~ tx"`.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "g": list("aabbcc")})
        >>> print(ml.Model("y ~ 1 + (1 | g)", df).describe().splitlines()[0])
        Formula: y ~ 1 + (1 | g)
    """

    def __init__(
        self,
        formula: str,
        data: Any,
        family: str = "gaussian",
        priors: Sequence[str | PriorSpec] | None = None,
        na_action: str = "error",
        link: str | None = None,
        **dpars: str,
    ):
        fam = get_family(family, link)
        spec = parse_formula(formula)
        aux = [a.name for a in fam.aux]
        for name in dpars:
            if fam.parameter(name) is not None and name not in aux:
                raise ModelError(
                    f"'{name}' is one of the {fam.name} family's ordered cutpoints, which take "
                    "no formula; give the predictors to mu (the main formula) instead"
                )
            if name not in aux:
                valid = ", ".join(aux) if aux else "none"
                raise ModelError(
                    f"unknown keyword '{name}'{did_you_mean(name, aux)}: the {fam.name} "
                    "family's distributional "
                    f"parameters are {valid}; fitting options ({', '.join(FIT_KEYWORDS)}) "
                    "go to .fit()"
                )
        dpar_formulas = {name: parse_dpar_formula(name, text) for name, text in dpars.items()}
        spec = ModelFormula(
            spec.response, {**spec.dpars, **dpar_formulas}, _source(formula, dpars), spec.additions
        )
        if isinstance(priors, str):
            priors = [priors]
        design = build_design(spec, data, na_action)
        if design.missing.rows:
            warnings.warn(
                f"dropped {design.missing.rows} row(s) with missing values in "
                f"{', '.join(design.missing.columns)} (na_action='drop')",
                stacklevel=2,
            )
        self._priors = list(priors or [])
        self._compiled = compile_model(design, fam, self._priors)
        self._engines = {"full": self._compiled}
        self.recipe = {
            "formula": formula,
            "family": family,
            "link": link,
            "priors": [prior_statement(p) for p in self._priors],
            "na_action": na_action,
            "dpars": dict(dpars),
        }

    @property
    def formula(self) -> str:
        return self._compiled.design.formula.source

    def priors(self) -> pd.DataFrame:
        """The prior of every parameter, with its source (default or user statement)."""
        return priors_table(self._compiled)

    def describe(self) -> str:
        """The model in statistical notation, with the data's sizes and the priors."""
        return describe(self._compiled)

    def sample_prior(self, draws: int = 1000, chains: int = 4, seed: int | None = None):
        """Draws of every parameter from its prior and one replicated data set per draw, for
        prior predictive checks: ArviZ data with `prior` and `prior_predictive` groups.

        The prior is sampled by NUTS without the likelihood (brms's `sample_prior =
        "only"`), so every parameter needs a proper prior: brms's default flat prior on `b`
        is not, and the error says which to give.

        Example:
            >>> import multilevel as ml, pandas as pd
            >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "x": [1.0, 2, 3, 4, 5, 6]})
            >>> prior = ml.Model("y ~ x", df, priors=["b ~ normal(0, 1)"]).sample_prior(200)
            >>> prior.prior_predictive["y"].shape
            (4, 200, 6)
        """
        settings = sampler_settings(chains, 1000, draws, seed, 0.8, 10, "diag", False)
        return sample_prior(self._compiled, self._priors, draws, chains, settings.seed)

    def fit(
        self,
        chains: int = 4,
        warmup: int = 1000,
        draws: int = 1000,
        seed: int | None = None,
        target_accept: float = 0.8,
        max_treedepth: int = 10,
        metric: str = "diag",
        engine: str = "auto",
        progress: bool | None = None,
        keep: Sequence[str] = (),
    ) -> Fit:
        """Sample the posterior with NUTS; `seed=None` draws a seed and records it in the fit.

        `metric="diag"` adapts a diagonal mass matrix (Stan's default); `"dense"` a full one,
        which mixes the intercept much better when groups have many rows each (the intercept
        and the mean of the non-centred group effects are then strongly correlated), at a
        higher cost per iteration.

        `engine="marginal"` integrates the group effects out analytically (Gaussian models
        whose group terms share one grouping factor) and draws them exactly afterwards: the
        same parameters and names, no funnel, far fewer leapfrog steps. `"full"` samples them;
        `"auto"` (the default) takes the marginal engine wherever it applies, and
        `describe()` says which and why.

        `keep=["mu"]` stores the linear predictor of each named distributional parameter
        on every row in the posterior (see `Fit.add_linpred`).
        """
        if engine not in ENGINES:
            raise ModelError(f"engine must be one of {ENGINES}, got {engine!r}")
        settings = sampler_settings(
            chains, warmup, draws, seed, target_accept, max_treedepth, metric, progress
        )
        compiled = self._engine(engine)
        fit = Fit(compiled, sample(compiled, settings), {**self.recipe, "engine": engine})
        if keep:
            fit.add_linpred(keep)
        return fit

    def _engine(self, engine: str):
        if engine == "auto":
            engine, _ = choose_engine(self._compiled.design, self._compiled.family)
        if engine not in self._engines:
            base = self._compiled
            self._engines[engine] = compile_model(base.design, base.family, self._priors, engine)
        return self._engines[engine]

    def __repr__(self) -> str:
        return f"<multilevel.Model {self.formula!r}, family={self._compiled.family.name}>"


def fit(formula: str, data: Any, **keywords: Any) -> Fit:
    """Build a `Model` and fit it: `ml.fit("y ~ x + (1 | g)", df, sigma="~ tx", seed=1)`.

    Keywords in `FIT_KEYWORDS` go to `Model.fit`, all others to `Model`.
    """
    fit_keywords = {k: keywords.pop(k) for k in FIT_KEYWORDS if k in keywords}
    return Model(formula, data, **keywords).fit(**fit_keywords)


def _source(formula: str, dpars: dict[str, str]) -> str:
    extra = [
        f"{name} {text.strip() if '~' in text else '~ ' + text.strip()}"
        for name, text in dpars.items()
    ]
    return formula if not extra else formula + ", " + ", ".join(extra)


def sampler_settings(
    chains, warmup, draws, seed, target_accept, max_treedepth, metric, progress=None
) -> SamplerSettings:
    """The sampler's settings, each checked: a ModelError names the first out of range."""
    _check_int("chains", chains, 1, 64)
    _check_int("warmup", warmup, 0, 10**7)
    _check_int("draws", draws, 1, 10**7)
    _check_int("max_treedepth", max_treedepth, 1, 20)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    _check_int("seed", seed, 0, 2**63 - 1)
    if not isinstance(target_accept, float | int) or not 0 < target_accept < 1:
        raise ModelError(
            f"target_accept must be a number between 0 and 1 (e.g. 0.95), got {target_accept!r}"
        )
    if metric not in METRICS:
        raise ModelError(f"metric must be one of {METRICS}, got {metric!r}")
    return SamplerSettings(
        chains, warmup, draws, seed, float(target_accept), max_treedepth, progress, metric
    )


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        raise ModelError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
