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
    """Cross-products summed within each (level, sigma level) cell.

    Shapes, for J levels (the last index, J, holds rows without a group effect), S sigma
    levels, p fixed columns and K group-effect columns:
    n (J+1, S); xx (J+1, S, p, p); xy (J+1, S, p); zz (J+1, S, K, K); zx (J+1, S, K, p);
    zy (J+1, S, K); yy (J+1, S).
    """

    n: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    zz: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
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
    """Sum the cross-products of the rows of each (level, sigma level) cell.

    Example:
        >>> y = np.array([1.0, 2.0, 3.0]); x = np.ones((3, 1)); z = np.ones((3, 1))
        >>> s = group_stats(y, x, z, np.array([0, 0, 1]), 2, np.zeros(3, int), 1)
        >>> s.n[:, 0].tolist(), s.zy[:, 0, 0].tolist()
        ([2.0, 1.0, 0.0], [3.0, 3.0, 0.0])
    """
    cell = level * n_sigma + sigma_level
    cells = (n_levels + 1) * n_sigma

    def total(values: np.ndarray) -> np.ndarray:
        flat = values.reshape(len(y), -1)
        out = np.zeros((cells, flat.shape[1]))
        np.add.at(out, cell, flat)
        return out.reshape(n_levels + 1, n_sigma, *values.shape[1:])

    return GroupStats(
        n=total(np.ones(len(y))),
        xx=total(x[:, :, None] * x[:, None, :]),
        xy=total(x * y[:, None]),
        zz=total(z[:, :, None] * z[:, None, :]),
        zx=total(z[:, :, None] * x[:, None, :]),
        zy=total(z * y[:, None]),
        yy=total(y * y),
    )
