"""Cell means of a factorial design (emmeans' estimated marginal means) and contrasts
between cells, from the posterior draws of the population-level expected response."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import DataError, ModelError, did_you_mean
from ..design import spec_variables
from ..formula import formula_names

__all__ = ["CellMeans", "cell_means", "reference_grid"]

#: Rows of the reference grid a set of cell means may take (cells x other factors' levels).
MAX_GRID_ROWS = 100_000


@dataclass(frozen=True, eq=False)
class CellMeans:
    """The posterior of every cell mean: `.table` (one row per cell), `.draws` (xarray,
    chain x draw x cell) and `.contrasts()` (differences between cells).

    Example:
        >>> cm = fit.cell_means(["blockType", "CSType"])  # doctest: +SKIP
        >>> cm.table  # doctest: +SKIP
                                blockType  CSType   mean    sd  q2.5  q97.5
        cell
        blockType=0, CSType=0           0       0   9.09  1.63  5.87  12.26
        ...
        >>> cm.contrasts([("blockType=1, CSType=1", "blockType=0, CSType=1")])  # doctest: +SKIP
    """

    factors: tuple[str, ...]
    #: One row per cell: the factors' levels, indexed by the cell's label.
    cells: pd.DataFrame
    draws: xr.DataArray
    prob: float = 0.95

    @property
    def table(self) -> pd.DataFrame:
        """The factors' levels, posterior mean, sd and central `prob` interval per cell."""
        return self.cells.join(_stats(self.draws, "cell", self.prob))

    def contrasts(
        self, pairs: Sequence[tuple[Any, Any]] | None = None, prob: float | None = None
    ) -> pd.DataFrame:
        """Posterior mean, sd, central interval and P(>0) of differences `a - b` of cells.

        By default every pair, each later cell (in the order of `.table`) minus each
        earlier one, so that with 0/1 or sorted levels a difference reads "higher level
        minus lower" (emmeans' `revpairwise`). `pairs` lists `(a, b)`, each cell given by
        its label (`"blockType=1, CSType=0"`) or its levels in the order of the factors
        (`(1, 0)`, or the level alone for one factor).

        Example:
            >>> cm.contrasts([((1, 1), (0, 1))])  # doctest: +SKIP
        """
        prob = self.prob if prob is None else prob
        labels = list(self.cells.index)
        if pairs is None:
            chosen = [
                (labels[j], labels[i]) for i, j in itertools.combinations(range(len(labels)), 2)
            ]
        else:
            chosen = [(self._label(a), self._label(b)) for a, b in _as_pairs(pairs)]
        if not chosen:
            raise ModelError("there is only one cell: no contrast to take")
        differences = xr.concat(
            [self.draws.sel(cell=a) - self.draws.sel(cell=b) for a, b in chosen],
            dim=pd.Index([f"{a} - {b}" for a, b in chosen], name="contrast"),
        )
        table = _stats(differences, "contrast", prob)
        table["P(>0)"] = (differences > 0).mean(("chain", "draw")).values
        return table

    def _label(self, cell: Any) -> str:
        labels = list(self.cells.index)
        if isinstance(cell, str) and cell in labels:
            return cell
        levels = tuple(cell) if isinstance(cell, tuple | list) else (cell,)
        wanted = tuple(str(v) for v in levels)
        for label, row in zip(labels, _level_rows(self.cells, self.factors), strict=True):
            if tuple(str(v) for v in row) == wanted:
                return str(label)
        raise ModelError(
            f"no cell {cell!r}{did_you_mean(str(cell), labels)}; give a cell by its label or "
            f"its levels of {', '.join(self.factors)} in that order; the cells are: "
            f"{'; '.join(labels)}"
        )

    def __repr__(self) -> str:
        return f"<CellMeans of {', '.join(self.factors)}: {len(self.cells)} cells>\n{self.table}"

    def _repr_html_(self) -> str:
        return self.table.to_html()


def cell_means(fit: Any, factors: str | Sequence[str], prob: float = 0.95) -> CellMeans:
    """The posterior of the expected response in every cell of `factors`.

    The cells are the combinations of the factors' levels found in the data (a numeric
    column, such as a 0/1 code, has its distinct values as levels). A cell mean is the
    expected response (`fit.predict(kind="mean")`) without group effects, i.e. for a new
    member of every group (`new_groups="population"`, brms's `re_formula = NA`), at:

    - the other numeric predictors at their means in the data (emmeans' default);
    - every level of each other categorical predictor (text, categorical or boolean
      columns, and numbers wrapped in `C()`), averaged with equal weights (emmeans'
      default); for a non-identity link this averages on the response scale, where emmeans
      averages on the link scale and transforms back;
    - trials 1 for a binomial response (`y | trials(n)`), so that a cell mean is a
      probability.

    For a Gaussian model with identity link these are sums of the fixed effects, as an
    ANOVA's cell means are; in a balanced design their posterior means are the observed
    cell means, up to the pull of the priors.

    Example:
        >>> cm = fit.cell_means(["blockType", "CSType"])  # doctest: +SKIP
        >>> cm.table, cm.contrasts()  # doctest: +SKIP
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1, got {prob}")
    model = fit._model
    if model.family.ordinal:
        raise ModelError(
            f"cell means of the {model.family.name} family would be one probability per "
            "category; predict them with fit.predict(newdata, kind='mean') on a grid of cells"
        )
    factors = _check_factors(model.design, factors)
    grid, cells, cell_of_row = reference_grid(model.design, factors)
    prediction = fit.predict(grid, kind="mean", new_groups="population")
    draws = _average_cells(prediction.draws, cell_of_row, len(cells))
    draws = draws.assign_coords(cell=list(cells.index))
    return CellMeans(factors, cells, draws, prob)


def _check_factors(design: Any, factors: str | Sequence[str]) -> tuple[str, ...]:
    names = (factors,) if isinstance(factors, str) else tuple(factors)
    if not names:
        raise ModelError("name at least one factor, e.g. cell_means(['a', 'b'])")
    columns = [str(c) for c in design.frame.columns]
    fixed = design.dpars["mu"].fixed
    predictors = sorted(spec_variables(fixed.spec))
    for name in names:
        if not isinstance(name, str):
            raise ModelError(f"a factor is named by its column, got {name!r}")
        if name not in columns:
            raise DataError(
                f"unknown column '{name}' (factor of the cell means)"
                f"{did_you_mean(name, columns)}; the data has columns: {', '.join(columns)}"
            )
        if name not in predictors:
            raise ModelError(
                f"'{name}' is not in the fixed terms '{fixed.expr}', so its cells would all "
                f"have the same mean{did_you_mean(name, predictors)}; the fixed terms' "
                f"columns are: {', '.join(predictors) or 'none'}"
            )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ModelError(f"the factor '{repeated[0]}' is named twice; name each factor once")
    return names


def reference_grid(
    design: Any, factors: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The rows to predict: each cell of `factors` seen in the data, crossed with every
    level of the other categorical predictors, other numeric predictors at their means.

    Returns the grid, the cells (one row per cell, indexed by label, e.g.
    `"a=0, b=x"`) and each grid row's cell number.

    Example:
        >>> from multilevel.design import build_design
        >>> from multilevel.formula import parse_formula
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "a": [0, 1, 0, 1, 0, 1],
        ...                    "g": list("ppqqrr"), "x": [1.0, 2, 3, 4, 5, 6]})
        >>> design = build_design(parse_formula("y ~ a + g + x"), df)
        >>> grid, cells, cell = reference_grid(design, ["a"])
        >>> list(cells.index), len(grid), grid["x"].unique().tolist(), cell.tolist()
        (['a=0', 'a=1'], 6, [3.5], [0, 0, 0, 1, 1, 1])
    """
    frame = design.frame
    cells = frame[list(factors)].drop_duplicates().sort_values(list(factors))
    cells = cells.reset_index(drop=True)
    cells.index = pd.Index(
        [
            ", ".join(f"{f}={v}" for f, v in zip(factors, row, strict=True))
            for row in _level_rows(cells, factors)
        ],
        name="cell",
    )
    grid = cells.reset_index(drop=True).assign(_cell=np.arange(len(cells)))
    categorical = _categorical(design)
    for name in sorted(set(design.predictor_columns()) - set(factors)):
        if name in categorical:
            levels = frame[[name]].dropna().drop_duplicates().sort_values(name)
            grid = grid.merge(levels, how="cross")
        else:
            grid[name] = frame[name].astype(float).mean()
    trials = design.formula.additions.get("trials", "")
    for name in formula_names(trials) & set(map(str, frame.columns)):
        grid[name] = 1.0
    if len(grid) > MAX_GRID_ROWS:
        raise ModelError(
            f"the cells crossed with the other categorical predictors' levels make "
            f"{len(grid)} rows to predict (at most {MAX_GRID_ROWS}); name those factors too "
            "or fit a model with fewer categories"
        )
    return grid.drop(columns="_cell"), cells, grid["_cell"].to_numpy()


def _level_rows(cells: pd.DataFrame, factors: Sequence[str]) -> list[tuple]:
    """Each cell's levels, each column keeping its own type (iterrows would make the 0 of
    an integer column beside a float column 0.0)."""
    return list(zip(*(cells[f].tolist() for f in factors), strict=True))


def _categorical(design: Any) -> set[str]:
    """Predictors formulaic encodes as categories, and text, categorical or boolean columns."""
    names = set()
    specs = [d.fixed.spec for d in design.dpars.values()]
    specs += [g.spec for d in design.dpars.values() for g in d.groups]
    for spec in specs:
        for factor, variables in getattr(spec, "factor_variables", {}).items():
            state = spec.encoder_state.get(str(factor))
            if state is not None and getattr(state[0], "value", None) == "categorical":
                names |= {str(v) for v in variables}
    for name in map(str, design.frame.columns):
        column = design.frame[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            names.add(name)
    return names


def _average_cells(draws: xr.DataArray, cell_of_row: np.ndarray, n_cells: int) -> xr.DataArray:
    weights = np.zeros((len(cell_of_row), n_cells))
    weights[np.arange(len(cell_of_row)), cell_of_row] = 1.0
    weights /= weights.sum(axis=0, keepdims=True)
    values = np.einsum("cdo,ok->cdk", draws.values, weights)
    return xr.DataArray(
        values,
        dims=("chain", "draw", "cell"),
        coords={"chain": draws.chain.values, "draw": draws.draw.values},
        name="cell_mean",
    )


def _stats(draws: xr.DataArray, dim: str, prob: float) -> pd.DataFrame:
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1, got {prob}")
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    values = draws.transpose("chain", "draw", dim).values.reshape(-1, draws.sizes[dim])
    table = pd.DataFrame(
        {
            "mean": values.mean(axis=0),
            "sd": values.std(axis=0, ddof=1),
            f"q{100 * lo:g}": np.quantile(values, lo, axis=0),
            f"q{100 * hi:g}": np.quantile(values, hi, axis=0),
        },
        index=pd.Index(draws[dim].values, name=dim),
    )
    return table


def _as_pairs(pairs: Any) -> list[tuple[Any, Any]]:
    out = []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 2:
            raise ModelError(f"a contrast is a pair (a, b) of cells, meaning a - b; got {pair!r}")
        out.append((pair[0], pair[1]))
    return out
