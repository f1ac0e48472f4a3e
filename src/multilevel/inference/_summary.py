"""Posterior summaries with ArviZ's R-hat and ESS, one row per brms-named scalar."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._arviz import arviz

COLUMNS = ("mean", "sd", "q2.5", "q97.5", "rhat", "ess_bulk", "ess_tail")


def summarise(posterior, names: list[str] | None = None, prob: float = 0.95) -> pd.DataFrame:
    """mean, sd, central interval, R-hat (rank-normalised), bulk and tail ESS.

    `posterior` is an xarray Dataset with dims (chain, draw, ...); array variables such as
    `r_Subject` give one row per element, named `r_Subject[308,Intercept]`.
    """
    ds = posterior if names is None else posterior[names]
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    az = arviz()
    rhat, bulk, tail = az.rhat(ds), az.ess(ds, method="bulk"), az.ess(ds, method="tail")
    rows, index = [], []
    for name, var in ds.data_vars.items():
        values = var.values.reshape(var.shape[0] * var.shape[1], -1)
        labels = _element_labels(name, var)
        stats = np.stack(
            [
                values.mean(axis=0),
                values.std(axis=0, ddof=1),
                np.quantile(values, lo, axis=0),
                np.quantile(values, hi, axis=0),
                np.ravel(rhat[name].values),
                np.ravel(bulk[name].values),
                np.ravel(tail[name].values),
            ],
            axis=1,
        )
        rows.append(stats)
        index += labels
    columns = ["mean", "sd", f"q{100 * lo:g}", f"q{100 * hi:g}", "rhat", "ess_bulk", "ess_tail"]
    return pd.DataFrame(
        np.concatenate(rows), index=pd.Index(index, name="parameter"), columns=columns
    )


def _element_labels(name: str, var) -> list[str]:
    if var.ndim == 2:
        return [name]
    coords = [var.coords[d].values for d in var.dims[2:]]
    grid = np.array(np.meshgrid(*coords, indexing="ij")).reshape(len(coords), -1).T
    return [f"{name}[{','.join(str(c) for c in row)}]" for row in grid]
