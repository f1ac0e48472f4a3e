"""Per-cell sufficient statistics for the marginalised Gaussian engine.

The group effects of a Gaussian model can be integrated out from a handful of cross-products
per cell: n, X'X, X'y, Z'Z, Z'X, Z'y, y'y. With one grouping factor a cell is a level; with
nested factors (`(1 | school/class)`) the levels form a tree, outermost factor first, and a
cell is a leaf of it: a level of the innermost factor, or the rows of an outer level that
have no inner one (a pseudo-node, whose inner columns of Z are 0). The cost of the marginal
log density then depends on the number of nodes, not rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class FactorTree(NamedTuple):
    """The nesting of grouping factors, outermost first (m factors, stages 0..m-1).

    `parents[f]` maps each node of stage f to its node at stage f-1 (all 0 at stage 0: the
    root). A node is a level of factor f under its parent, or a pseudo-node for the rows of
    that parent without a level of factor f. `level_nodes[f][l]` is the node of level l of
    factor f. `cell[i]` is the stage m-1 node of row i, or -1 for a row with no level at all.
    """

    parents: tuple[np.ndarray, ...]
    level_nodes: tuple[np.ndarray, ...]
    cell: np.ndarray


class GroupStats(NamedTuple):
    """Cross-products for the marginal likelihood, with the node axis last.

    Per cell (L cells, S sigma levels, K group-effect columns, p fixed columns): zz (S, K, K,
    L), zx (S, K, p, L), zy (S, K, L). The residual terms enter the likelihood summed over
    cells, so they are kept summed per sigma level over all rows (with or without a group
    effect): n (S,), xx (S, p, p), xy (S, p), yy (S,). `parents` and `level_nodes` are the
    `FactorTree`'s.
    """

    zz: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    n: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    parents: tuple[np.ndarray, ...]
    level_nodes: tuple[np.ndarray, ...]


def factor_tree(paths: np.ndarray, n_levels: tuple[int, ...]) -> FactorTree | None:
    """The tree of the factors' levels, or None if they are not nested (a level of one
    factor appears under two levels of the factor before it: crossed factors).

    `paths` (rows x m) holds each row's level of each factor, outermost first, -1 for none.

    Example:
        >>> school = [0, 0, 1, 1, -1]; klass = [0, 1, 2, 2, -1]
        >>> tree = factor_tree(np.array([school, klass]).T, (2, 3))
        >>> [p.tolist() for p in tree.parents], tree.cell.tolist()
        ([[0, 0], [0, 0, 1]], [0, 1, 2, 2, -1])
        >>> factor_tree(np.array([[0, 0], [1, 0]]), (2, 1)) is None
        True
    """
    kept = np.any(paths >= 0, axis=1)
    node = np.zeros(int(kept.sum()), dtype=np.int64)
    parents, level_nodes = [], []
    for f, size in enumerate(n_levels):
        key = node * (size + 1) + paths[kept, f] + 1
        nodes, node = np.unique(key, return_inverse=True)
        parents.append(nodes // (size + 1))
        levels = nodes % (size + 1) - 1
        real = np.flatnonzero(levels >= 0)
        if len(np.unique(levels[real])) < len(real):
            return None
        lookup = np.full(size, -1)
        lookup[levels[real]] = real
        level_nodes.append(lookup)
    cell = np.full(len(paths), -1)
    cell[kept] = node
    return FactorTree(tuple(parents), tuple(level_nodes), cell)


def group_stats(
    y: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    tree: FactorTree,
    sigma_level: np.ndarray,
    n_sigma: int,
) -> GroupStats:
    """Sum the cross-products of the rows of each (cell, sigma level).

    Example:
        >>> y = np.array([1.0, 2.0, 3.0]); x = np.ones((3, 1)); z = np.ones((3, 1))
        >>> tree = factor_tree(np.array([[0], [0], [1]]), (2,))
        >>> s = group_stats(y, x, z, tree, np.zeros(3, int), 1)
        >>> s.zy[0, 0].tolist(), s.n.tolist(), s.yy.tolist()
        ([3.0, 3.0], [3.0], [14.0])
    """
    n_cells = len(tree.parents[-1])
    grouped = tree.cell >= 0
    cell = tree.cell[grouped] * n_sigma + sigma_level[grouped]

    def per_cell(values: np.ndarray) -> np.ndarray:
        """(cells, S, ...) sums, moved to (S, ..., cells)."""
        out = _sum_by(cell, values[grouped], n_cells * n_sigma)
        out = out.reshape(n_cells, n_sigma, *values.shape[1:])
        return np.ascontiguousarray(np.moveaxis(out, 0, -1))

    return GroupStats(
        zz=per_cell(z[:, :, None] * z[:, None, :]),
        zx=per_cell(z[:, :, None] * x[:, None, :]),
        zy=per_cell(z * y[:, None]),
        **_residual_totals(y, x, sigma_level, n_sigma),
        parents=tree.parents,
        level_nodes=tree.level_nodes,
    )


def _residual_totals(
    y: np.ndarray, x: np.ndarray, sigma_level: np.ndarray, n_sigma: int
) -> dict[str, np.ndarray]:
    """n, X'X, X'y and y'y per sigma level, over all rows (the residual terms)."""
    return {
        "n": _sum_by(sigma_level, np.ones(len(y)), n_sigma),
        "xx": _sum_by(sigma_level, x[:, :, None] * x[:, None, :], n_sigma),
        "xy": _sum_by(sigma_level, x * y[:, None], n_sigma),
        "yy": _sum_by(sigma_level, y * y, n_sigma),
    }


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sums of `values` (rows x ...) over the rows with each index 0..size-1."""
    flat = values.reshape(len(index), -1)
    sums = [np.bincount(index, weights=flat[:, c], minlength=size) for c in range(flat.shape[1])]
    if not sums:  # no columns (a mean without fixed terms: x'x is 0 x 0)
        return np.zeros((size, *values.shape[1:]))
    return np.stack(sums, axis=-1).reshape(size, *values.shape[1:])


class DenseStats(NamedTuple):
    """Cross-products over every level's effects at once, for crossed factors.

    With Q effects in all (factor by factor, level-major: level l's column c of a factor
    with K columns is its `l * K + c`-th): zz (S, Q, Q), zx (S, Q, p), zy (S, Q), and the
    residual totals n, xx, xy, yy as in `GroupStats`.
    """

    zz: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    n: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray


def dense_stats(
    y: np.ndarray,
    x: np.ndarray,
    zs: list[np.ndarray],
    levels: list[np.ndarray],
    n_levels: tuple[int, ...],
    sigma_level: np.ndarray,
    n_sigma: int,
) -> DenseStats:
    """Z'Z, Z'X and Z'y per sigma level, with Z the sparse rows x Q matrix of all factors.

    `zs[f]` holds factor f's columns, `levels[f]` each row's level of it (-1 for none).

    Example:
        >>> y = np.array([1.0, 2.0]); x = np.ones((2, 1)); z = np.ones((2, 1))
        >>> s = dense_stats(y, x, [z, z], [np.array([0, 1]), np.array([0, 0])], (2, 1),
        ...                 np.zeros(2, int), 1)
        >>> s.zz[0].tolist(), s.zy[0].tolist()
        ([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0]], [1.0, 2.0, 3.0])
    """
    from scipy import sparse

    rows, cols, vals, offset = [], [], [], 0
    for zf, level, size in zip(zs, levels, n_levels, strict=True):
        k = zf.shape[1]
        has = np.flatnonzero(level >= 0)
        for c in range(k):
            rows.append(has)
            cols.append(offset + level[has] * k + c)
            vals.append(zf[has, c])
        offset += size * k
    z = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(y), offset),
    )
    parts = []
    for s in range(n_sigma):
        zs_ = z[sigma_level == s]
        xs, ys = x[sigma_level == s], y[sigma_level == s]
        parts.append(((zs_.T @ zs_).toarray(), zs_.T @ xs, zs_.T @ ys))
    return DenseStats(
        zz=np.stack([p[0] for p in parts]),
        zx=np.stack([p[1] for p in parts]),
        zy=np.stack([p[2] for p in parts]),
        **_residual_totals(y, x, sigma_level, n_sigma),
    )
