"""Row filters and derived columns of an analysis.toml, evaluated column-wise on a DataFrame.

An expression is read with Python's `ast` and evaluated node by node over a whitelist
(columns, numbers, strings, lists, arithmetic, comparisons, `and`/`or`/`not`, `in` and the
functions of `FUNCTIONS`); nothing is passed to `eval`, so a file cannot run code.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"rating": [0, 5, 40, 99], "arm": ["a", "b", "a", "b"]})
    >>> evaluate("rating / 100", df).tolist()
    [0.0, 0.05, 0.4, 0.99]
    >>> evaluate("rating > 0 and arm in ['a']", df).tolist()
    [False, False, True, False]
    >>> evaluate("cut(rating, [0, 1, 50, 100])", df).astype(str).tolist()
    ['[0, 1)', '[1, 50)', '[1, 50)', '[50, 100)']
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, MultilevelError, did_you_mean


def cut(values: pd.Series, breaks: list[float]) -> pd.Series:
    """Bin into the ordered intervals [b0, b1), [b1, b2), ...; a value outside them is an
    error, never a silent missing value."""
    if len(breaks) < 2 or any(b >= c for b, c in itertools.pairwise(breaks)):
        raise ExpressionError(f"cut's breaks must be 2 or more increasing numbers, got {breaks}")
    binned = pd.cut(values, breaks, right=False)
    outside = binned.isna() & values.notna()
    if outside.any():
        shown = ", ".join(str(v) for v in values[outside].unique()[:5])
        raise ExpressionError(
            f"cut: value(s) {shown} lie outside [{breaks[0]}, {breaks[-1]}); widen the breaks"
        )
    labels = [f"[{lo:g}, {hi:g})" for lo, hi in itertools.pairwise(breaks)]
    return pd.Series(
        pd.Categorical.from_codes(binned.cat.codes, labels, ordered=True), index=values.index
    )


#: The functions an expression may call, by name.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "round": np.round,
    "floor": np.floor,
    "ceil": np.ceil,
    "isna": pd.isna,
    "notna": pd.notna,
    "cut": cut,
}
ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
COMPARISONS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
ALLOWED = (
    "column names, numbers, strings, lists, + - * / // % **, comparisons, and/or/not, "
    f"in / not in, and the functions {', '.join(FUNCTIONS)}"
)


class ExpressionError(DataError):
    """An expression that cannot be read or evaluated; the caller adds where it stands."""


def evaluate(text: str, frame: pd.DataFrame) -> Any:
    """The value of expression `text` over the columns of `frame` (a Series or a scalar)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"'{text}' is not an expression: {err.msg}") from None
    try:
        return _Evaluator(text, frame).value(tree.body)
    except (TypeError, ValueError, ArithmeticError) as err:
        if isinstance(err, MultilevelError):
            raise
        raise ExpressionError(f"cannot evaluate '{text}': {err}") from None


class _Evaluator:
    def __init__(self, text: str, frame: pd.DataFrame):
        self.text, self.frame = text, frame

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"'{self.text}' {what}; an expression may use {ALLOWED}")

    def value(self, node: ast.AST) -> Any:
        match node:
            case ast.Constant(value=value) if isinstance(value, int | float | str | bool):
                return value
            case ast.Name(id=name):
                return self.column(name)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return [self.value(e) for e in elts]
            case ast.BinOp(left=left, op=op, right=right) if type(op) in ARITHMETIC:
                return ARITHMETIC[type(op)](self.value(left), self.value(right))
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.value(operand)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return ~self.boolean(operand)
            case ast.BoolOp(op=op, values=values):
                combine = operator.and_ if isinstance(op, ast.And) else operator.or_
                result = self.boolean(values[0])
                for other in values[1:]:
                    result = combine(result, self.boolean(other))
                return result
            case ast.Compare(left=left, ops=ops, comparators=rest):
                return self.compare(left, ops, rest)
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
                if name not in FUNCTIONS:
                    raise self.fail(f"calls '{name}'{did_you_mean(name, FUNCTIONS)}")
                return FUNCTIONS[name](*(self.value(a) for a in args))
            case _:
                raise self.fail(f"uses {ast.unparse(node)!r}, which is not allowed")

    def column(self, name: str) -> pd.Series:
        if name not in self.frame.columns:
            columns = list(map(str, self.frame.columns))
            raise ExpressionError(
                f"'{self.text}' names '{name}', which is not a column"
                f"{did_you_mean(name, columns)}; the data has columns: {', '.join(columns)}"
            )
        return self.frame[name]

    def boolean(self, node: ast.AST) -> Any:
        result = self.value(node)
        if isinstance(result, pd.Series) and not pd.api.types.is_bool_dtype(result):
            raise self.fail(f"combines {ast.unparse(node)!r}, which is not true/false")
        return result

    def compare(self, left: ast.AST, ops: list[ast.cmpop], rest: list[ast.AST]) -> Any:
        result, current = None, self.value(left)
        for op, node in zip(ops, rest, strict=True):
            other = self.value(node)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(current, pd.Series) or not isinstance(other, list):
                    raise self.fail("uses 'in' other than as: column in [value, ...]")
                step = current.isin(other)
                step = ~step if isinstance(op, ast.NotIn) else step
            elif type(op) in COMPARISONS:
                step = COMPARISONS[type(op)](current, other)
            else:
                raise self.fail(f"uses the comparison {type(op).__name__}")
            result = step if result is None else result & step
            current = other
        return result
