"""Per-group sufficient statistics for the marginalised Gaussian engine.

For a Gaussian model whose group terms all share one grouping factor, the group effects can
be integrated out from a handful of cross-products per (group level, residual-sd level):
n, X'X, X'y, Z'Z, Z'X, Z'y, y'y. Rows without a group effect keep the same statistics with
Z = 0. The cost of the marginal log density then depends on the number of levels, not rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class GroupStats(NamedTuple):
    """Cross-products for the marginal likelihood.

    Per level (J levels, S sigma levels, K group-effect columns, p fixed columns), only what
    the group effects touch: zz (J, S, K, K), zx (J, S, K, p), zy (J, S, K). The residual
    terms enter the likelihood summed over levels, so they are kept summed per sigma level
    over all rows (with or without a group effect): n (S,), xx (S, p, p), xy (S, p), yy (S,).
    """

    zz: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    n: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray


def group_stats(
    y: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    level: np.ndarray,
    n_levels: int,
    sigma_level: np.ndarray,
    n_sigma: int,
) -> GroupStats:
    """Sum the cross-products of the rows of each (level, sigma level) cell; `level ==
    n_levels` marks rows without a group effect.

    Example:
        >>> y = np.array([1.0, 2.0, 3.0]); x = np.ones((3, 1)); z = np.ones((3, 1))
        >>> s = group_stats(y, x, z, np.array([0, 0, 1]), 2, np.zeros(3, int), 1)
        >>> s.zy[:, 0, 0].tolist(), s.n.tolist(), s.yy.tolist()
        ([3.0, 3.0], [3.0], [14.0])
    """
    grouped = level < n_levels
    cell = level[grouped] * n_sigma + sigma_level[grouped]

    def per_level(values: np.ndarray) -> np.ndarray:
        flat = values[grouped].reshape(len(cell), -1)
        out = np.zeros((n_levels * n_sigma, flat.shape[1]))
        np.add.at(out, cell, flat)
        return out.reshape(n_levels, n_sigma, *values.shape[1:])

    def per_sigma(values: np.ndarray) -> np.ndarray:
        flat = values.reshape(len(y), -1)
        out = np.zeros((n_sigma, flat.shape[1]))
        np.add.at(out, sigma_level, flat)
        return out.reshape(n_sigma, *values.shape[1:])

    return GroupStats(
        zz=per_level(z[:, :, None] * z[:, None, :]),
        zx=per_level(z[:, :, None] * x[:, None, :]),
        zy=per_level(z * y[:, None]),
        n=per_sigma(np.ones(len(y))),
        xx=per_sigma(x[:, :, None] * x[:, None, :]),
        xy=per_sigma(x * y[:, None]),
        yy=per_sigma(y * y),
    )
