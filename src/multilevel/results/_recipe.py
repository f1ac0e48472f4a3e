"""The Model's arguments as a saved fit carries them, checked before anything is built.

formulaic evaluates formula terms as Python, so a formula from a file could run code: a
term may only name the stored data's columns, numbers, strings, operators and formulaic's
transforms (`TRANSFORM_FUNCTIONS`). `save` checks its own recipe the same way, so it never
writes a file that `load` would refuse.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from .._errors import DataError, FileFormatError, MultilevelError, did_you_mean
from ..formula import parse_dpar_formula, parse_formula
from ..priors import parse_prior

#: Functions a formula term may call: formulaic's transforms, less `Q` (which looks a
#: name up in the evaluation context) and `hashed` (which takes a hash function).
TRANSFORM_FUNCTIONS = frozenset(
    {
        "C", "I", "scale", "center", "standardize", "poly", "bs", "cr", "cs", "cc", "lag",
        "log", "log10", "log2", "exp", "exp2", "exp10",
        "Treatment", "Sum", "Helmert", "Poly", "Diff",
    }
)  # fmt: skip
#: `module.name` a term may use: numpy's elementwise maths and formulaic's contrasts.
ATTRIBUTES = {
    "np": frozenset(
        {
            "log", "log1p", "log2", "log10", "exp", "expm1", "exp2", "sqrt", "cbrt",
            "square", "abs", "absolute", "sign", "floor", "ceil", "round", "rint", "trunc",
            "clip", "minimum", "maximum", "power", "where", "isnan", "isfinite",
            "reciprocal", "hypot", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
            "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "pi", "e", "inf", "nan",
        }
    ),
    "contr": frozenset({"treatment", "sum", "helmert", "diff", "poly", "custom", "SAS"}),
}  # fmt: skip
OPERATORS = (
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
)  # fmt: skip
CONSTANTS = (int, float, complex, str, bool, type(None))
MAX_TEXT = 10_000
PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MODEL_ARGUMENTS = ("formula", "data", "family", "priors", "na_action", "link")


# The recipe: checked before anything is built from it.


def check_recipe(recipe: dict[str, Any], columns: Iterable[Any]) -> None:
    """Fail unless every formula term is plain data: the columns, numbers, strings,
    operators and `TRANSFORM_FUNCTIONS`; and the priors parse.

    Example:
        >>> check_recipe({"formula": "y ~ log(x)", "dpars": {}, "priors": []}, ["y", "x"])
        >>> try:
        ...     check_recipe({"formula": "y ~ I(open('f'))", "dpars": {}, "priors": []}, ["y"])
        ... except FileFormatError as err:
        ...     print(str(err).split(";")[0])
        the formula term 'I(open('f'))' calls 'open'
    """
    columns = {str(c) for c in columns}
    texts = [recipe["formula"], *recipe["dpars"].values(), *recipe["priors"]]
    if any(not isinstance(t, str) or len(t) > MAX_TEXT or "\x00" in t for t in texts):
        raise FileFormatError(f"formulas and priors must be strings of at most {MAX_TEXT} chars")
    try:
        spec = parse_formula(recipe["formula"])
        linear = [spec.mu]
        for name, text in recipe["dpars"].items():
            if not PARAMETER_NAME.match(name) or name in MODEL_ARGUMENTS:
                raise FileFormatError(f"'{name}' is not a distributional parameter's name")
            linear.append(parse_dpar_formula(name, text))
        for statement in recipe["priors"]:
            parse_prior(statement)
    except FileFormatError:
        raise
    except MultilevelError as err:
        raise FileFormatError(f"the file's model does not parse: {err}") from None
    for part in linear:
        check_terms(part.fixed, columns)
        for group in part.groups:
            check_terms(group.terms, columns)
            unknown = [c for c in group.factor if c not in columns]
            if unknown:
                raise UnknownColumnError(f"grouping factor {_unknown(unknown[0], columns)}")
    for expr in [spec.response, *spec.additions.values()]:
        if expr not in columns and not _is_number(expr):
            check_terms(f"0 + {expr}", columns)


class UnknownColumnError(FileFormatError, DataError):
    """A formula names a column the data does not have: a FileFormatError for `load`, a
    DataError for a formula from an analysis file."""


def _unknown(name: str, columns: set[str]) -> str:
    return (
        f"'{name}', which is not a column{did_you_mean(name, columns)} (the columns: "
        f"{', '.join(sorted(columns))})"
    )


def check_terms(expr: str, columns: set[str]) -> None:
    """Parse `expr` as formulaic does (its parser only evaluates nothing) and check each
    factor that formulaic would evaluate as Python."""
    from formulaic import Formula
    from formulaic.parser.types import Factor

    try:
        formula = Formula(expr)
    except Exception as err:  # formulaic's parser raises several types
        raise FileFormatError(f"cannot parse the formula terms '{expr}': {err}") from None
    if type(formula).__name__ != "SimpleFormula":
        raise FileFormatError(f"'{expr}' is not a plain right-hand side of a formula")
    for term in formula:
        for factor in term.factors:
            if factor.eval_method == Factor.EvalMethod.LOOKUP and factor.expr not in columns:
                raise UnknownColumnError(f"the formula names {_unknown(factor.expr, columns)}")
            if factor.eval_method == Factor.EvalMethod.PYTHON:
                check_python(factor.expr, columns)


def check_python(expr: str, columns: set[str]) -> None:
    """`expr` (one formula term) uses only the columns, constants, operators and
    whitelisted functions; backquoted names are columns too, as formulaic reads them."""
    from formulaic.utils.code import sanitize_variable_names

    aliases: dict[str, str] = {}
    try:
        tree = ast.parse(sanitize_variable_names(expr, {}, aliases), mode="eval")
    except SyntaxError as err:
        raise FileFormatError(f"the formula term '{expr}' is not valid: {err.msg}") from None
    quoted = {new for new, name in aliases.items() if name in columns}
    _TermChecker(expr, columns | quoted).visit(tree.body)


class _TermChecker:
    def __init__(self, expr: str, columns: set[str]):
        self.expr, self.columns = expr, columns

    def fail(self, what: str) -> FileFormatError:
        return FileFormatError(
            f"the formula term '{self.expr}' {what}; a term may use only the data's columns, "
            "numbers, strings, arithmetic and comparisons, and the transforms "
            f"{', '.join(sorted(TRANSFORM_FUNCTIONS))}, np.<maths> and contr.<contrast>"
        )

    def visit(self, node: ast.AST) -> None:
        match node:
            case ast.Constant(value=value) if isinstance(value, CONSTANTS):
                return
            case ast.Name(id=name):
                if name not in self.columns:
                    raise UnknownColumnError(
                        f"the formula term '{self.expr}' names {_unknown(name, self.columns)}"
                    )
            case ast.Call(func=func, args=args, keywords=keywords):
                self.callee(func)
                for arg in args:
                    self.visit(arg)
                for keyword in keywords:
                    if keyword.arg is None or keyword.arg.startswith("_"):
                        raise self.fail("passes '**' or a private keyword")
                    self.visit(keyword.value)
            case ast.Attribute():
                self.attribute(node)
            case ast.BinOp(left=left, op=op, right=right):
                if not (_names(left) or _names(right)):
                    raise self.fail("computes with constants alone (write the number)")
                self.operator(op, left, right)
            case ast.UnaryOp(op=op, operand=operand):
                self.operator(op, operand)
            case ast.BoolOp(op=op, values=values):
                self.operator(op, *values)
            case ast.Compare(left=left, ops=ops, comparators=rest):
                for op in ops:
                    self.operator(op)
                for child in (left, *rest):
                    self.visit(child)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                for child in elts:
                    self.visit(child)
            case _:
                raise self.fail(f"uses {type(node).__name__}, which is not allowed")

    def operator(self, op: ast.AST, *operands: ast.AST) -> None:
        if not isinstance(op, OPERATORS):
            raise self.fail(f"uses the operator {type(op).__name__}")
        for operand in operands:
            self.visit(operand)

    def callee(self, func: ast.AST) -> None:
        if isinstance(func, ast.Name):
            if func.id not in TRANSFORM_FUNCTIONS:
                raise self.fail(f"calls '{func.id}'")
        elif isinstance(func, ast.Attribute):
            self.attribute(func)
        else:
            raise self.fail("calls something that is not a named transform")

    def attribute(self, node: ast.Attribute) -> None:
        base = node.value.id if isinstance(node.value, ast.Name) else None
        if base not in ATTRIBUTES:
            self.visit(node.value)  # to name the culprit inside, e.g. a call
        if node.attr not in ATTRIBUTES.get(base, ()):
            raise self.fail(f"uses '{ast.unparse(node)}'")


def _names(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
