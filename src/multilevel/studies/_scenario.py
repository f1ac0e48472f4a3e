"""A scenario: a design that grows with its sizes, the truth on it, and the analysis model;
with the partially clustered trial as a ready one."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: The SAS PROC MCMC priors of the partially clustered trial (normal with var=1e6 on the
#: coefficients, igamma(0.01, scale=0.01) on the therapy-group variance), and normal(0, 5)
#: on the log residual sd of each arm.
PROC_MCMC_PRIORS = (
    "b ~ normal(0, 1000)",
    "b_Intercept ~ normal(0, 1000)",
    "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
    "b_sigma ~ normal(0, 5)",
    "b_sigma_Intercept ~ normal(0, 5)",
)


@dataclass(frozen=True)
class Scenario:
    """What a power study simulates and fits.

    `layout(rng, **sizes)` returns the design's columns (predictors, groups, `trials()`)
    for one replicate; `truth` gives every parameter of `formula` by its brms name (see
    `ml.simulate`); the analysis fits the same formula with `priors`, and `target` is the
    parameter whose interval is checked against `null` (power) and against the truth
    (coverage). The layout must be importable (a module-level function) to run in worker
    processes.

    Example:
        >>> import multilevel as ml
        >>> s = ml.scenarios.partially_clustered(effect=0.5, icc=0.1)
        >>> s.layout(None, n_controls=4, groups=2, per_group=2)["cluster"].tolist()
        ['c0001', 'c0002', 'c0003', 'c0004', 'g01', 'g01', 'g02', 'g02']
    """

    formula: str
    layout: Callable[..., pd.DataFrame]
    truth: Mapping[str, float]
    target: str
    family: str = "gaussian"
    priors: tuple[str, ...] = ()
    dpars: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None
    null: float = 0.0
    name: str = ""


def partially_clustered_layout(
    rng: np.random.Generator | None, n_controls: int, groups: int, per_group: int
) -> pd.DataFrame:
    """`n_controls` unclustered controls (each its own cluster id, tx = 0), then `groups`
    therapy groups of `per_group` treated patients (tx = 1)."""
    for name, value in (("n_controls", n_controls), ("groups", groups), ("per_group", per_group)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    width = len(str(groups))
    clusters = [f"c{i + 1:04d}" for i in range(n_controls)] + [
        f"g{j + 1:0{max(width, 2)}d}" for j in range(groups) for _ in range(per_group)
    ]
    tx = np.r_[np.zeros(n_controls, dtype=int), np.ones(groups * per_group, dtype=int)]
    return pd.DataFrame({"tx": tx, "cluster": clusters})


def partially_clustered(
    effect: float,
    icc: float,
    sigma_control: float = 1.0,
    sigma_treated: float = 1.0,
    intercept: float = 0.0,
    priors: tuple[str, ...] = PROC_MCMC_PRIORS,
) -> Scenario:
    """The partially clustered trial: controls unclustered, treated patients in therapy
    groups, `y = b0 + effect*tx + u_j*tx + e`, a residual sd per arm; `icc` is the
    therapy groups' share of the treated arm's variance, sd_u^2 / (sd_u^2 + sigma_treated^2).

    Sizes: `n_controls`, `groups` and `per_group`. The analysis is the SAS PROC MCMC model
    (`PROC_MCMC_PRIORS`) with a residual sd per arm.
    """
    if not 0 <= icc < 1:
        raise ValueError(f"icc must be in [0, 1), got {icc!r}")
    if not (sigma_control > 0 and sigma_treated > 0):
        raise ValueError("sigma_control and sigma_treated must be > 0")
    sd_u = sigma_treated * math.sqrt(icc / (1 - icc))
    truth = {
        "b_Intercept": float(intercept),
        "b_tx": float(effect),
        "sd_cluster__tx": sd_u,
        "b_sigma_Intercept": math.log(sigma_control),
        "b_sigma_tx": math.log(sigma_treated / sigma_control),
    }
    return Scenario(
        formula="y ~ tx + (0 + tx | cluster)",
        layout=partially_clustered_layout,
        truth=truth,
        target="b_tx",
        priors=tuple(priors),
        dpars={"sigma": "~ tx"},
        name="partially clustered trial",
    )
