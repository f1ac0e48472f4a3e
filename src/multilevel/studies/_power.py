"""Power analysis by simulation: for each size on a grid, simulate, fit and summarise the
target's intervals (power, coverage, bias, RMSE), each with its Monte Carlo error."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._api import Model, sampler_settings
from .._errors import ModelError
from ..model._values import blocks_from_truth
from ._execute import Row, Task, run_study
from ._scenario import Scenario
from ._simulate import _seed_or_draw, draw_response, simulation_model, with_response

#: The sampler's settings in a study (each fit needs a good interval, not a long chain:
#: 1000 draws put the Monte Carlo error of a 95% interval's ends near 0.05 sd).
FIT_DEFAULTS = {"chains": 2, "warmup": 500, "draws": 500, "target_accept": 0.8, "engine": "auto"}


@dataclass(frozen=True)
class PowerStudy:
    """One power study: picklable, so that workers run its replicates."""

    scenario: Scenario
    points: tuple[dict[str, Any], ...]
    seed: int
    fit: dict[str, Any] = field(default_factory=dict)
    prob: float = 0.95
    kind: str = "power"

    def describe(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "formula": s.formula,
            "dpars": dict(s.dpars),
            "family": s.family,
            "link": s.link,
            "priors": list(s.priors),
            "truth": dict(s.truth),
            "target": s.target,
            "null": s.null,
            "layout": _function_identity(s.layout),
            "points": list(self.points),
            "seed": self.seed,
            "fit": self.fit,
            "prob": self.prob,
        }

    def digest(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def design(self, rng: np.random.Generator, point: int) -> pd.DataFrame:
        """The layout's rows at a grid point; its failure names the layout and the sizes."""
        sizes = self.points[point]
        try:
            frame = self.scenario.layout(rng, **sizes)
        except Exception as error:
            raise ModelError(
                f"the layout {_function_name(self.scenario.layout)} failed "
                f"for the sizes {sizes}: {type(error).__name__}: {error}"
            ) from error
        if not isinstance(frame, pd.DataFrame):
            raise ModelError(
                f"the layout must return a pandas DataFrame, got {type(frame).__name__}"
            )
        return frame

    def run(self, task: Task) -> Row:
        s = self.scenario
        data_seq, sim_seq, fit_seq = np.random.SeedSequence(
            [self.seed, task.point, task.replicate]
        ).spawn(3)
        design = self.design(np.random.default_rng(data_seq), task.point)
        truth_model = simulation_model(s.formula, design, s.family, s.link, s.dpars)
        y, _ = draw_response(truth_model, blocks_from_truth(truth_model, s.truth), sim_seq)
        data = with_response(truth_model, design, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sampler warnings are counted in the row
            model = Model(s.formula, data, s.family, list(s.priors), link=s.link, **s.dpars)
            fit = model.fit(seed=int(fit_seq.generate_state(1)[0]), progress=False, **self.fit)
        draws = np.asarray(fit.idata.posterior[s.target].values).ravel()
        lo, hi = np.quantile(draws, [(1 - self.prob) / 2, (1 + self.prob) / 2])
        truth = float(s.truth[s.target])
        return {
            "point": task.point,
            "replicate": task.replicate,
            "rows": len(data),
            "estimate": float(draws.mean()),
            "sd": float(draws.std(ddof=1)),
            "lower": float(lo),
            "upper": float(hi),
            "truth": truth,
            "covered": bool(lo <= truth <= hi),
            "excludes_null": bool(not lo <= s.null <= hi),
            "divergences": int(fit.diagnostics.divergences),
            "rhat_max": float(fit.diagnostics.rhat_max),
        }


@dataclass(frozen=True)
class PowerResult:
    """A power study's summary `table` (one row per size), its `replicates` (one row each,
    `resumed` of them read back from the checkpoint) and `plot()`."""

    table: pd.DataFrame
    replicates: pd.DataFrame
    scenario: Scenario
    seed: int
    prob: float
    sizes: tuple[str, ...]
    #: Replicates read back from the checkpoint rather than run.
    resumed: int = 0

    def plot(self, x: str | None = None, ax: Any = None):
        """Power against one of the sizes, with 95% Monte Carlo intervals; a line per value
        of the other sizes. Returns the matplotlib Axes."""
        from ._plots import plot_power

        return plot_power(self, x, ax)

    def __repr__(self) -> str:
        return f"<PowerResult {self.scenario.target}, seed {self.seed}>\n{self.table.to_string()}"


def power(
    scenario: Scenario,
    sizes: Mapping[str, int | Sequence[int]],
    replicates: int = 200,
    seed: int | None = None,
    prob: float = 0.95,
    workers: int | None = None,
    client: Any = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | None = None,
    **fit: Any,
) -> PowerResult:
    """Simulate `replicates` data sets at each size of the grid, fit each, and report the
    target's power (its central `prob` interval excludes `scenario.null`), the coverage
    of the truth by that interval, and the bias and RMSE of its posterior mean, each with
    its Monte Carlo standard error (Morris, White and Crowther 2019, table 6).

    `sizes` maps each size of `scenario.layout` to a number or a list; the grid is every
    combination. Replicate r of grid point p is seeded from (seed, p, r), so the table does
    not depend on `workers` or `client`, and a study with more replicates extends one with
    fewer. Fits run on `workers` local processes (default: one per core; 0: this process)
    or on a Dask cluster through `client`; `checkpoint` names a folder that keeps each
    finished replicate, so an interrupted study resumes where it stopped. `**fit` sets
    the sampler (`chains`, `warmup`, `draws`, `target_accept`, `engine`; `FIT_DEFAULTS`).

    Example:
        >>> import multilevel as ml  # doctest: +SKIP
        >>> s = ml.scenarios.partially_clustered(effect=0.5, icc=0.1)  # doctest: +SKIP
        >>> result = ml.power(s, {"n_controls": 60, "groups": [6, 10], "per_group": 6},
        ...                   replicates=100, seed=1)  # doctest: +SKIP
        >>> result.table[["groups", "power", "power_mcse"]]  # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        raise ModelError(f"power takes a Scenario, got {type(scenario).__name__}")
    _check_replicates(replicates)
    if not 0 < prob < 1:
        raise ModelError(f"prob must be between 0 and 1, got {prob!r}")
    seed = _study_seed(seed, checkpoint)
    settings = study_fit_settings(fit)
    points = grid(sizes)
    if scenario.target not in scenario.truth:
        raise ModelError(
            f"the target '{scenario.target}' has no true value; the truth gives "
            f"{', '.join(scenario.truth)}"
        )
    study = PowerStudy(scenario, points, seed, settings, prob)
    _check_first_replicate(study)
    tasks = [Task(p, r) for p in range(len(points)) for r in range(replicates)]
    rows, resumed = run_study(study, tasks, workers, client, checkpoint, progress)
    replicates_frame = pd.DataFrame(rows)
    table = summarise_power(replicates_frame, points)
    return PowerResult(table, replicates_frame, scenario, seed, prob, tuple(points[0]), resumed)


def grid(sizes: Mapping[str, int | Sequence[int]]) -> tuple[dict[str, Any], ...]:
    """Every combination of the sizes' values, the first size varying slowest."""
    if not isinstance(sizes, Mapping) or not sizes:
        raise ModelError("sizes must map each size of the layout to a number or a list")
    values = []
    for name, value in sizes.items():
        options = list(value) if isinstance(value, list | tuple | range | np.ndarray) else [value]
        if not options:
            raise ModelError(f"the size '{name}' has no values")
        values.append([v.item() if isinstance(v, np.generic) else v for v in options])
    return tuple(dict(zip(sizes, combo, strict=True)) for combo in itertools.product(*values))


def study_fit_settings(fit: Mapping[str, Any]) -> dict[str, Any]:
    """`FIT_DEFAULTS` updated by `fit`, checked as `Model.fit` checks them."""
    unknown = sorted(set(fit) - set(FIT_DEFAULTS))
    if unknown:
        raise ModelError(
            f"unknown keyword '{unknown[0]}': a study's fits take {', '.join(FIT_DEFAULTS)}"
        )
    settings = {**FIT_DEFAULTS, **fit}
    sampler_settings(
        settings["chains"],
        settings["warmup"],
        settings["draws"],
        0,
        settings["target_accept"],
        10,
        "diag",
    )
    return settings


def summarise_power(replicates: pd.DataFrame, points: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for p, sizes in enumerate(points):
        r = replicates[replicates["point"] == p]
        n = len(r)
        error = r["estimate"] - r["truth"]
        power_, coverage = r["excludes_null"].mean(), r["covered"].mean()
        mse = float(np.mean(error**2))
        rmse = float(np.sqrt(mse))
        mse_mcse = float(np.std(error**2, ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        rows.append(
            {
                **sizes,
                "rows": int(r["rows"].iloc[0]) if n else 0,
                "replicates": n,
                "power": power_,
                "power_mcse": float(np.sqrt(power_ * (1 - power_) / n)),
                "coverage": coverage,
                "coverage_mcse": float(np.sqrt(coverage * (1 - coverage) / n)),
                "bias": float(error.mean()),
                "bias_mcse": float(r["estimate"].std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                "rmse": rmse,
                "rmse_mcse": mse_mcse / (2 * rmse) if rmse > 0 else np.nan,
                "mean_sd": float(r["sd"].mean()),
                "fits_with_divergences": int((r["divergences"] > 0).sum()),
                "rhat_max": float(r["rhat_max"].max()),
            }
        )
    return pd.DataFrame(rows)


def _check_first_replicate(study: PowerStudy) -> None:
    """Build the first replicate's data and model here, so that a mistake in the scenario
    is one error before any worker starts, not one per replicate."""
    s = study.scenario
    design = study.design(np.random.default_rng(0), 0)
    truth_model = simulation_model(s.formula, design, s.family, s.link, s.dpars)
    blocks_from_truth(truth_model, s.truth)
    data = with_response(truth_model, design, np.asarray(truth_model.observed, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Model(s.formula, data, s.family, list(s.priors), link=s.link, **s.dpars)
    if s.target not in model._compiled.scalar_names:
        raise ModelError(
            f"the target '{s.target}' is not a parameter of the analysis model; its "
            f"parameters: {', '.join(model._compiled.scalar_names)}"
        )


def _check_replicates(replicates: Any) -> None:
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ModelError(f"replicates must be a whole number >= 1, got {replicates!r}")


def _study_seed(seed: int | None, checkpoint: Any) -> int:
    if seed is None and checkpoint is not None:
        raise ModelError(
            "a checkpointed study needs a seed: the replicates are seeded from it, and a "
            "resumed run must draw the same ones"
        )
    return _seed_or_draw(seed)


def _function_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _function_identity(fn: Any) -> str:
    """The function's name and source: a changed layout is another study."""
    name = _function_name(fn)
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return name
    return f"{name}:{hashlib.sha256(source.encode()).hexdigest()[:16]}"
