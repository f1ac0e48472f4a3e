"""brms's `hypothesis()`: posterior summaries of expressions of parameters.

An expression is parsed without `eval`: known parameter names (longest first, since they
hold `:`, `[`, `,` and `.`) become placeholders, the rest goes through Python's `ast` and
only numbers, `+ - * / **`, parentheses and a few functions are evaluated, over the draws.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._errors import ModelError, did_you_mean

__all__ = ["hypothesis"]

COLUMNS = (
    "Hypothesis",
    "Estimate",
    "Est.Error",
    "CI.Lower",
    "CI.Upper",
    "Evid.Ratio",
    "Post.Prob",
    "Star",
)


def _inv_logit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(x)))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-np.asarray(p))


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "inv_logit": _inv_logit,
    "plogis": _inv_logit,
    "logit": _logit,
    "qlogis": _logit,
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_RELATIONS = {"<": "<", ">": ">", "=": "=", "<=": "<", ">=": ">", "==": "="}
_RELATION = re.compile(r"<=|>=|==|<|>|=")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# What a mistyped parameter name may span, for the error message.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.:]*(?:\[[^\]]*\])?")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.:\[]")


def hypothesis(
    fit: Any, expr: str | Sequence[str] | Mapping[str, str], prob: float = 0.95
) -> pd.DataFrame:
    """Posterior summaries of hypotheses about parameters, as brms's `hypothesis()`.

    Each hypothesis is `lhs > rhs`, `lhs < rhs`, `lhs = rhs`, or an expression alone
    (meaning `= 0`; `>=`, `<=` and `==` read as `>`, `<` and `=`), in parameter names as
    `fit.summary(group_effects=True)` spells them (`b_blockType:CSType`,
    `r_subject[s01,Intercept]`, `sigma`), numbers, `+ - * / **`,
    parentheses and the functions exp, log, log1p, expm1, sqrt, abs, inv_logit (plogis),
    logit (qlogis). A mapping names the hypotheses: `{"simple effect": "b_x + b_x:z > 0"}`.

    One row per hypothesis, of `lhs - rhs` over the draws (brms's columns and rules):

    - Estimate, Est.Error: its posterior mean and sd.
    - CI.Lower, CI.Upper: for `=`, the central `prob` interval; for `<` and `>`, the
      `1 - prob` and `prob` quantiles, each a one-sided `prob` bound (together a central
      `2 * prob - 1` interval: 90% for `prob=0.95`), as brms reports them.
    - Post.Prob: for `>` the posterior probability that `lhs > rhs` (for `<`, `lhs < rhs`);
      Evid.Ratio is its odds, `Post.Prob / (1 - Post.Prob)` (inf when every draw agrees).
      For `=` both are NaN: brms computes them as a Savage-Dickey density ratio, which
      needs draws from the prior, and a fit holds posterior draws only.
    - Star: `*` where a one-sided hypothesis has Post.Prob > `prob`, or where the interval
      of an equality excludes 0.

    Example:
        >>> fit.hypothesis("b_blockType + b_blockType:CSType > 0")  # doctest: +SKIP
                               Hypothesis  Estimate  Est.Error  CI.Lower  ...  Star
        0  (b_blockType+b_blockType:CSType) > 0     15.57       1.52     13.20  ...     *
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1, got {prob}")
    if isinstance(expr, str):
        named: list[tuple[str | None, Any]] = [(None, expr)]
    elif isinstance(expr, Mapping):
        named = [(str(k), v) for k, v in expr.items()]
    else:
        named = [(None, e) for e in expr]
    if not named:
        raise ModelError("hypothesis needs at least one expression, e.g. 'b_x > 0'")
    parameters = Parameters(fit.idata.posterior)
    rows = []
    for name, text in named:
        if not isinstance(text, str):
            raise TypeError(f"a hypothesis must be a string, got {type(text).__name__}: {text!r}")
        parsed = parse_hypothesis(text, parameters.names)
        draws = parsed.evaluate(parameters)
        rows.append(_summarise(name or parsed.label, parsed.relation, draws, prob))
    return pd.DataFrame(rows, columns=list(COLUMNS))


class Names:
    """The parameter names a hypothesis may use: scalars (`b_x`, `b_Intercept[1]`) and the
    elements of array variables (`r_g[level,coef]`), whose labels are listed only when a
    hypothesis names their variable. Whitespace inside a name is ignored, as brms does.

    Example:
        >>> names = Names(["b_x", "b_x:z"], {"r_g": lambda: ["r_g[a,Intercept]"]})
        >>> names.match("b_x:z>0", 0), names.match("r_g[a,Intercept]", 0)
        (('b_x:z', 5), ('r_g[a,Intercept]', 16))
    """

    def __init__(
        self,
        scalars: Sequence[str],
        arrays: Mapping[str, Callable[[], Sequence[str]]] | None = None,
    ):
        self._order = list(scalars)
        self._scalars = _by_compact_form(scalars)
        self._arrays = dict(arrays or {})
        self._elements: dict[str, dict[str, str]] = {}

    def match(self, compact: str, i: int) -> tuple[str, int] | None:
        """The longest name at position `i` of the compact text, and its length there."""
        found = _longest_at(compact, i, self._scalars)
        for var in self._arrays:
            if compact.startswith(var + "[", i):
                element = _longest_at(compact, i, self._elements_of(var))
                if element is not None and (found is None or element[1] > found[1]):
                    found = element
        return found

    def suggestion(self, word: str) -> str:
        options = list(self._scalars.values())
        var = word.split("[", 1)[0]
        if var in self._arrays:
            options += list(self._elements_of(var).values())
        return did_you_mean(word, options)

    def listing(self, limit: int = 40) -> str:
        shown = ", ".join(self._order[:limit]) + (", ..." if len(self._order) > limit else "")
        arrays = [f"{var}[...] (e.g. {self._example(var)})" for var in self._arrays]
        return ", ".join([shown, *arrays]) if arrays else shown

    def _example(self, var: str) -> str:
        return next(iter(self._arrays[var]()), f"{var}[]")

    def _elements_of(self, var: str) -> dict[str, str]:
        if var not in self._elements:
            self._elements[var] = _by_compact_form(self._arrays[var]())
        return self._elements[var]


def _by_compact_form(names: Sequence[str]) -> dict[str, str]:
    """Names without whitespace -> names, longest first (so that `b_x:z` wins over `b_x`)."""
    return {"".join(n.split()): n for n in sorted(names, key=len, reverse=True)}


def _longest_at(compact: str, i: int, forms: dict[str, str]) -> tuple[str, int] | None:
    for form, name in forms.items():
        if compact.startswith(form, i):
            end = i + len(form)
            if end == len(compact) or not _NAME_CHARS.match(compact[end]):
                return name, len(form)
    return None


class Parameters:
    """The posterior's draws by brms name: `b_x`, and `r_g[level,coef]` for array elements."""

    def __init__(self, posterior):
        self._posterior = posterior
        self._index: dict[str, dict[str, dict[str, int]]] = {}
        scalars, arrays = [], {}
        for var_name, var in posterior.data_vars.items():
            if var.ndim == 2:
                scalars.append(str(var_name))
            else:
                arrays[str(var_name)] = partial(self._labels, str(var_name))
        self.names = Names(scalars, arrays)

    def draws(self, name: str) -> np.ndarray:
        """All draws of one scalar, chains concatenated."""
        var_name = name.split("[", 1)[0]
        if name in self._posterior.data_vars:
            var = self._posterior[name]
        else:
            var = self._posterior[var_name].isel(self._element_index(var_name)[name])
        return np.asarray(var.values, dtype=float).ravel()

    def _labels(self, var_name: str) -> list[str]:
        return list(self._element_index(var_name))

    def _element_index(self, var_name: str) -> dict[str, dict[str, int]]:
        if var_name not in self._index:
            var = self._posterior[var_name]
            dims = var.dims[2:]
            index = {}
            for position in np.ndindex(*(var.sizes[d] for d in dims)):
                coords = [var.coords[d].values[k] for d, k in zip(dims, position, strict=True)]
                label = f"{var_name}[{','.join(str(c) for c in coords)}]"
                index[label] = dict(zip(dims, position, strict=True))
            self._index[var_name] = index
        return self._index[var_name]


@dataclass(frozen=True)
class Hypothesis:
    """One parsed hypothesis: `lhs - rhs` as an `ast` tree over placeholders `_v0, _v1, ...`."""

    source: str
    label: str
    relation: str
    tree: ast.Expression
    placeholders: dict[str, str]

    def evaluate(self, parameters: Parameters) -> np.ndarray:
        values = {p: parameters.draws(name) for p, name in self.placeholders.items()}
        with np.errstate(all="ignore"):
            result = _evaluate(self.tree.body, values)
        return np.asarray(result, dtype=float)


def parse_hypothesis(text: str, names: Sequence[str] | Names) -> Hypothesis:
    """Parse `lhs (<|>|=) rhs` over the parameter `names`; refuse anything but arithmetic.

    Example:
        >>> h = parse_hypothesis("b_x + b_x:z > 1", ["b_x", "b_x:z"])
        >>> h.label, h.relation, sorted(h.placeholders.values())
        ('(b_x+b_x:z)-(1) > 0', '>', ['b_x', 'b_x:z'])
    """
    names = names if isinstance(names, Names) else Names(names)
    compact = "".join(text.split())
    if not compact:
        raise ModelError("a hypothesis is empty; write e.g. 'b_x > 0'")
    substituted, placeholders = _substitute(compact, names, text)
    relations = _RELATION.findall(substituted)
    if len(relations) > 1:
        raise ModelError(
            f"the hypothesis '{text}' has {len(relations)} relations "
            f"({', '.join(relations)}); write one of lhs > rhs, lhs < rhs, lhs = rhs"
        )
    relation = _RELATIONS[relations[0]] if relations else "="
    sides = _RELATION.split(substituted) if relations else [substituted, "0"]
    if not all(sides):
        raise ModelError(f"the hypothesis '{text}' has an empty side of '{relations[0]}'")
    lhs, rhs = sides
    if not placeholders:
        raise ModelError(
            f"the hypothesis '{text}' names no parameter; the parameters are: {names.listing()}"
        )
    combined = f"({lhs})" if _is_zero(rhs) else f"({lhs})-({rhs})"
    label = _restore(combined, placeholders) + f" {relation} 0"
    tree = _parse(combined, text)
    try:
        with np.errstate(all="ignore"):
            _evaluate(tree.body, dict.fromkeys(placeholders, np.ones(1)))
    except _Refused as refused:
        raise ModelError(
            f"the hypothesis '{text}' uses '{_restore(refused.source, placeholders)}', which "
            "is not allowed: only parameters, numbers, + - * / **, parentheses and the "
            f"functions {', '.join(FUNCTIONS)} (with one argument)"
        ) from None
    return Hypothesis(text, label, relation, tree, placeholders)


def _substitute(compact: str, names: Names, text: str) -> tuple[str, dict[str, str]]:
    """Replace every parameter name by a placeholder, matching the longest name first."""
    out: list[str] = []
    placeholders: dict[str, str] = {}
    slot: dict[str, str] = {}
    i = 0
    while i < len(compact):
        found = names.match(compact, i)
        if found is not None:
            name, length = found
            if name not in slot:
                slot[name] = f"_v{len(slot)}"
                placeholders[slot[name]] = name
            out.append(slot[name])
            i += length
            continue
        number = _NUMBER.match(compact, i)
        word = None if number else _WORD.match(compact, i)
        if word:
            _check_function(word.group(), compact, word.end(), names, text)
        token = number or word
        out.append(token.group() if token else compact[i])
        i = token.end() if token else i + 1
    return "".join(out), placeholders


def _check_function(word: str, compact: str, end: int, names: Names, text: str) -> None:
    """A word that is no parameter must be an allowed function, called."""
    called = end < len(compact) and compact[end] == "("
    if called and word in FUNCTIONS:
        return
    if called:
        raise ModelError(
            f"unknown function '{word}' in the hypothesis '{text}'"
            f"{did_you_mean(word, FUNCTIONS)}; the functions allowed are: "
            f"{', '.join(FUNCTIONS)}"
        )
    raise ModelError(
        f"unknown parameter '{word}' in the hypothesis '{text}'{names.suggestion(word)}; "
        f"the parameters are: {names.listing()}"
    )


def _is_zero(side: str) -> bool:
    try:
        return float(side) == 0.0
    except ValueError:
        return False


def _restore(expression: str, placeholders: dict[str, str]) -> str:
    return re.sub(r"_v\d+", lambda m: placeholders[m.group()], expression)


def _parse(expression: str, text: str) -> ast.Expression:
    try:
        return ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ModelError(
            f"cannot read the hypothesis '{text}': write an arithmetic expression of "
            "parameters and numbers with + - * / ** and parentheses, and at most one of "
            "<, >, ="
        ) from None


class _Refused(Exception):
    def __init__(self, node: ast.AST):
        self.source = ast.unparse(node)


def _evaluate(node: ast.AST, values: dict[str, np.ndarray]) -> Any:
    """Evaluate the whitelisted nodes; anything else (attributes, subscripts, strings,
    lambdas, comprehensions) is refused."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _evaluate(node.left, values)
        right = _evaluate(node.right, values)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return np.float64(node.value)
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and len(node.args) == 1
        and not node.keywords
    ):
        return FUNCTIONS[node.func.id](_evaluate(node.args[0], values))
    raise _Refused(node)


def _summarise(label: str, relation: str, draws: np.ndarray, prob: float) -> dict[str, Any]:
    alpha = 1 - prob
    if relation == "=":
        lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        ratio = post = np.nan
        star = not lower <= 0 <= upper
    else:
        lower, upper = np.quantile(draws, [alpha, 1 - alpha])
        holds = int(np.sum(draws > 0 if relation == ">" else draws < 0))
        post = holds / draws.size
        ratio = np.inf if holds == draws.size else holds / (draws.size - holds)
        star = post > prob
    return {
        "Hypothesis": label,
        "Estimate": float(np.mean(draws)),
        "Est.Error": float(np.std(draws, ddof=1)) if draws.size > 1 else np.nan,
        "CI.Lower": float(lower),
        "CI.Upper": float(upper),
        "Evid.Ratio": float(ratio),
        "Post.Prob": float(post),
        "Star": "*" if star else "",
    }
