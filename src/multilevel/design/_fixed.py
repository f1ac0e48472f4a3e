"""Fixed-effect design matrices from formulaic, with brms coefficient names."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FactorEvaluationError, FormulaicError
from formulaic.parser import DefaultFormulaParser
from formulaic.parser.types import ASTNode, Token

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
    _check_syntax(expr, frame, context)
    try:
        # context={}: a name in a formula is a column of `frame` or one of formulaic's
        # transforms (log, scale, C, np, ...), never a variable of this module.
        mm = model_matrix(expr, frame, context={}, na_action="raise", output="pandas")
    except FactorEvaluationError as err:
        raise _unknown_name_error(err, frame, expr, context) from None
    except FormulaicError as err:
        raise FormulaError(f"cannot build {context} '{expr}': {plain(str(err))}") from None
    except SyntaxError as err:
        raise _python_syntax_error(err, expr, context) from None
    except (TypeError, ValueError) as err:
        raise DataError(f"cannot build {context} '{expr}': {plain(str(err))}") from None
    except (AttributeError, LookupError, StopIteration, RecursionError) as err:
        # Raised by formulaic's own code on syntax it does not expect (evaluation errors
        # come wrapped in FactorEvaluationError above).
        raise _unreadable(err, expr, context) from None
    if not isinstance(mm, pd.DataFrame):
        raise FormulaError(
            f"cannot build {context} '{expr}': it has several parts (a '~' or '|' outside a "
            "group term); write the terms as one sum, e.g. 'x + z'"
        )
    columns = tuple(str(c) for c in mm.columns)
    names = tuple(brms_name(c) for c in columns)
    _check_unique(names, columns, context)
    try:
        matrix = np.asarray(mm.to_numpy(dtype=float))
    except (TypeError, ValueError) as err:
        raise DataError(f"{context} '{expr}' gives columns that are not numbers: {err}") from None
    _check_finite(matrix, columns, expr, context)
    return Encoded(matrix, columns, names, mm.model_spec)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(message: str) -> str:
    r"""formulaic's message without terminal colour codes, its ⧛...⧚ marks turned into carets
    under the marked text.

    Example:
        >>> print(plain("Unknown operator '@'.\n\nx ⧛\x1b[1;31m@\x1b[0m⧚ g"))
        Unknown operator '@'.
        <BLANKLINE>
          x @ g
            ^
    """
    lines = []
    for line in _ANSI.sub("", message).split("\n"):
        start, end = line.find("⧛"), line.find("⧚")
        if 0 <= start < end:
            text = line[:start] + line[start + 1 : end] + line[end + 1 :]
            lines += ["  " + text, "  " + " " * start + "^" * max(end - start - 1, 1)]
        else:
            lines.append(line)
    return "\n".join(lines)


def _python_syntax_error(err: SyntaxError, expr: str, context: str) -> FormulaError:
    return FormulaError(
        f"cannot read {context} '{expr}': {err.msg}; terms are column names, numbers and "
        "transforms such as log(x), scale(x), C(x), I(x ** 2)"
    )


def _unreadable(err: BaseException, expr: str, context: str) -> FormulaError:
    detail = plain(str(err)).strip()
    return FormulaError(
        f"cannot read {context} '{expr}': formulaic cannot parse it"
        + (f" ({detail})" if detail else "")
        + "; terms are column names joined by +, -, *, :, / and ^, and transforms such as "
        "log(x), scale(x), C(x), I(x ** 2)"
    )


#: The most products of terms an interaction power `(a + b + c)^k` may ask formulaic to
#: enumerate: it forms all n**k of them (a second or so per 10,000) before dropping repeats.
MAX_POWER_PRODUCTS = 10_000


def _check_syntax(expr: str, frame: pd.DataFrame, context: str) -> None:
    """Parse `expr` with formulaic before materialising it: a syntax error is a FormulaError,
    and so is an interaction power too large to expand (`x ^ 1000000000` would run for hours
    and fill memory)."""
    try:
        ast = DefaultFormulaParser().get_ast(expr)
    except FormulaicError as err:
        raise FormulaError(f"cannot build {context} '{expr}': {plain(str(err))}") from None
    except SyntaxError as err:
        raise _python_syntax_error(err, expr, context) from None
    except Exception as err:
        # Parsing only reads the text, so anything else formulaic raises here (an
        # AttributeError on unexpected tokens, say) is still a syntax error.
        raise _unreadable(err, expr, context) from None
    if isinstance(ast, ASTNode):
        _check_powers(ast, expr, len(frame.columns), context)


def _check_powers(ast: ASTNode, expr: str, n_columns: int, context: str) -> None:
    """Bound the number of terms of every node (from below up) and check each power on it."""
    size: dict[int, int] = {}
    stack: list[tuple[ASTNode, bool]] = [(ast, False)]
    while stack:  # post-order without recursion: formulas can nest deeply
        node, ready = stack.pop()
        if not ready:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if isinstance(arg, ASTNode))
            continue
        args = [size[id(a)] if isinstance(a, ASTNode) else 1 for a in node.args]
        symbol = node.operator.symbol
        if symbol in ("^", "**") and len(args) == 2:
            n = _power_order(node.args[1], symbol, expr, context)
            k = args[0]
            products = n if k == 1 else (k**n if n <= 64 else MAX_POWER_PRODUCTS + 1)
            if products > MAX_POWER_PRODUCTS:
                if n > k:
                    why = (
                        f"it is above the number of terms it applies to ({k}), and orders "
                        f"above {k} add nothing; use '{symbol}{k}' or lower"
                    )
                else:
                    why = (
                        f"formulaic would expand {k} terms into {k}^{n} products (more than "
                        f"{MAX_POWER_PRODUCTS:,}); use a lower order"
                    )
                raise FormulaError(
                    f"the interaction order {n} after '{symbol}' in {context} is too large: "
                    f"{why}, e.g. '(a + b + c)^2' for all two-way interactions",
                    expr,
                    _position(node.args[1]),
                )
            size[id(node)] = products
        elif symbol == ":":
            size[id(node)] = min(int(np.prod(args, dtype=float)), 10**12)
        elif symbol == "*" and len(args) == 2:
            size[id(node)] = min(args[0] + args[1] + args[0] * args[1], 10**12)
        elif symbol == ".":
            size[id(node)] = max(n_columns, 1)
        elif symbol == "-" and len(args) == 2:
            size[id(node)] = args[0]
        else:
            size[id(node)] = min(sum(args), 10**12)


def _power_order(arg: object, symbol: str, expr: str, context: str) -> int:
    if isinstance(arg, Token) and arg.kind is Token.Kind.VALUE and arg.token.isdigit():
        order = int(arg.token)
        if order >= 1:
            return order
    raise FormulaError(
        f"the interaction order after '{symbol}' in {context} must be a whole number from "
        "1 up, as in '(a + b)^2'",
        expr,
        _position(arg),
    )


def _position(arg: object) -> int | None:
    """Where the first token of `arg` (a token or an AST node) starts in the expression."""
    stack = [arg]
    while stack:
        item = stack.pop(0)
        if isinstance(item, Token) and item.source_start is not None:
            return item.source_start
        if isinstance(item, ASTNode):
            stack[:0] = list(item.args)
    return None


def _check_finite(matrix: np.ndarray, columns: tuple[str, ...], expr: str, context: str) -> None:
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return
    cols = ", ".join(repr(columns[j]) for j in np.flatnonzero(bad.any(axis=0)))
    raise DataError(
        f"cannot build {context} '{expr}': column(s) {cols} have infinite values on "
        f"{int(bad.any(axis=1).sum())} row(s) (log(0) or 1/0, say); transform or filter the "
        "data so that every value is finite"
    )


def _unknown_name_error(
    err: Exception, frame: pd.DataFrame, expr: str, context: str
) -> DataError | FormulaError:
    match = re.search(r"`([^`]+)` is not present|name '([^']+)' is not defined", str(err))
    if match:
        name = match.group(1) or match.group(2)
        if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", expr):
            return FormulaError(
                f"unknown function '{name}' in {context} '{expr}'; known transforms include "
                "log, exp, np.sqrt, scale, center, C, I, poly, bs"
            )
        return DataError(
            f"unknown column '{name}' in {context} '{expr}'"
            f"{did_you_mean(name, map(str, frame.columns))}; the data has columns: "
            f"{', '.join(map(str, frame.columns))}"
        )
    return FormulaError(f"cannot evaluate {context} '{expr}': {plain(str(err))}")


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
