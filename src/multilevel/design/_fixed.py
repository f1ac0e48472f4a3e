"""Fixed-effect design matrices from formulaic, with brms coefficient names."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FactorEvaluationError, FormulaicError

from .._errors import DataError, FormulaError, ModelError, did_you_mean

_BRMS_SUBSTITUTIONS = (("+", "P"), ("-", "M"), ("*", "MU"), ("/", "D"), ("^", "E"), ("=", "EQ"))


def brms_name(column: str) -> str:
    """The brms spelling of a formulaic column name.

    Example:
        >>> brms_name("C(blockType)[T.1]:CSType"), brms_name("scale(x)")
        ('CblockType1:CSType', 'scalex')
    """
    name = re.sub(r"\[(?:T\.)?([^\]]*)\]", r"\1", column)
    for ch in " ()[],\"'?":
        name = name.replace(ch, "")
    for old, new in _BRMS_SUBSTITUTIONS:
        name = name.replace(old, new)
    return name


def spec_variables(spec: object) -> set[str]:
    """The data columns a formulaic model spec reads (not its transforms' names)."""
    return {str(v) for v in getattr(spec, "variables_by_source", {}).get("data", set())}


@dataclass(frozen=True)
class Encoded:
    """Columns produced by formulaic for one expression, with the spec to encode new data."""

    matrix: np.ndarray
    columns: tuple[str, ...]
    names: tuple[str, ...]
    spec: object


def encode(expr: str, frame: pd.DataFrame, context: str) -> Encoded:
    """Materialise a formulaic right-hand side on `frame`; errors name the column or term."""
    try:
        mm = model_matrix(expr, frame, na_action="raise", output="pandas")
    except FactorEvaluationError as err:
        raise _unknown_name_error(err, frame, expr, context) from None
    except FormulaicError as err:
        raise FormulaError(f"cannot build {context} '{expr}': {err}") from None
    except SyntaxError as err:
        raise FormulaError(
            f"cannot read {context} '{expr}': {err.msg}; terms are column names, numbers and "
            "transforms such as log(x), scale(x), C(x), I(x ** 2)"
        ) from None
    except (TypeError, ValueError) as err:
        raise DataError(f"cannot build {context} '{expr}': {err}") from None
    columns = tuple(str(c) for c in mm.columns)
    names = tuple(brms_name(c) for c in columns)
    _check_unique(names, columns, context)
    matrix = np.asarray(mm.to_numpy(dtype=float))
    return Encoded(matrix, columns, names, mm.model_spec)


def _unknown_name_error(
    err: Exception, frame: pd.DataFrame, expr: str, context: str
) -> DataError | FormulaError:
    match = re.search(r"`([^`]+)` is not present|name '([^']+)' is not defined", str(err))
    if match:
        name = match.group(1) or match.group(2)
        if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", expr):
            return FormulaError(
                f"unknown function '{name}' in {context} '{expr}'; known transforms include "
                "log, exp, sqrt, scale, center, C, I, poly, bs"
            )
        return DataError(
            f"unknown column '{name}' in {context} '{expr}'"
            f"{did_you_mean(name, map(str, frame.columns))}; the data has columns: "
            f"{', '.join(map(str, frame.columns))}"
        )
    return FormulaError(f"cannot evaluate {context} '{expr}': {err}")


def _check_unique(names: tuple[str, ...], columns: tuple[str, ...], context: str) -> None:
    seen: dict[str, str] = {}
    for name, column in zip(names, columns, strict=True):
        if name in seen:
            raise ModelError(
                f"columns '{seen[name]}' and '{column}' of {context} both get the parameter "
                f"name '{name}'; rename a column so that their names differ"
            )
        seen[name] = column


@dataclass(frozen=True)
class FixedDesign:
    """The fixed part of one linear predictor.

    `matrix` holds every column but the intercept; with an intercept the columns are
    centred for sampling (as brms does) and `means` restores the original-scale intercept:
    `b_Intercept = Intercept - means @ b`.
    """

    matrix: np.ndarray
    columns: tuple[str, ...]
    names: tuple[str, ...]
    has_intercept: bool
    means: np.ndarray
    spec: object
    expr: str


def fixed_design(expr: str, frame: pd.DataFrame, context: str) -> FixedDesign:
    """Encode the fixed terms of one distributional parameter.

    Example:
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1]})
        >>> d = fixed_design("x", df, "the fixed terms")
        >>> d.has_intercept, d.names, d.means.tolist()
        (True, ('x',), [0.5])
    """
    enc = encode(expr, frame, context)
    has_intercept = "Intercept" in enc.columns
    keep = [i for i, c in enumerate(enc.columns) if c != "Intercept"]
    matrix = enc.matrix[:, keep]
    _check_full_rank(matrix, tuple(enc.columns[i] for i in keep), has_intercept, context)
    means = matrix.mean(axis=0) if has_intercept else np.zeros(len(keep))
    return FixedDesign(
        matrix=matrix,
        columns=tuple(enc.columns[i] for i in keep),
        names=tuple(enc.names[i] for i in keep),
        has_intercept=has_intercept,
        means=means,
        spec=enc.spec,
        expr=expr,
    )


def _check_full_rank(
    matrix: np.ndarray, columns: tuple[str, ...], has_intercept: bool, context: str
) -> None:
    """Each fixed column must carry information the others (and the intercept) do not:
    otherwise its coefficient is identified by the prior alone. lme4 drops such a column
    with a message; here it is an error naming the columns involved."""
    basis = [np.ones(len(matrix))] if has_intercept else []
    full = np.column_stack([*basis, matrix])
    if full.shape[1] == 0 or np.linalg.matrix_rank(full) == full.shape[1]:
        return
    names = ["the intercept"] if has_intercept else []
    for k, column in enumerate(columns):
        x = matrix[:, k]
        if not basis:
            if not np.any(x):
                raise ModelError(f"column '{column}' of {context} is 0 on every row; remove it")
        else:
            a = np.column_stack(basis)
            coef, *_ = np.linalg.lstsq(a, x, rcond=None)
            residual = x - a @ coef
            if np.linalg.norm(residual) <= 1e-9 * max(np.linalg.norm(x), 1.0):
                used = [names[i] for i in np.flatnonzero(np.abs(coef) > 1e-9)]
                if has_intercept and used == ["the intercept"]:
                    raise ModelError(
                        f"column '{column}' of {context} is constant (every row "
                        f"{x[0]:g}): it duplicates the intercept; remove it"
                    )
                raise ModelError(
                    f"column '{column}' of {context} is a linear combination of "
                    f"{', '.join(repr(u) if u != 'the intercept' else u for u in used)} "
                    "(perfectly collinear): its coefficient cannot be estimated from the data; "
                    "remove it or one of those"
                )
        basis.append(x)
        names.append(column)
