"""What a translation gives, and the pieces of our formula syntax both dialects write.

A translation is text to text: a Stata command or SAS block in, formula strings out. It runs
before the formula stage and knows nothing of the later ones; data, when given, only settles
what the command leaves to the data (a variable's levels, its type).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._errors import DataError, did_you_mean


@dataclass(frozen=True)
class Translation:
    """A model in our syntax: the formula, the distributional formulas, family and link.

    `notes` name each option that was read but has no Bayesian counterpart (`reml`,
    `solution`, ...) and each assumption the translation made; nothing is left out silently.

    Example:
        >>> t = Translation("y ~ tx + (0 + tx | cluster)", dpars={"sigma": "~ tx"})
        >>> t.formulas
        ('y ~ tx + (0 + tx | cluster)', 'sigma ~ tx')
        >>> t.model_arguments()
        {'formula': 'y ~ tx + (0 + tx | cluster)', 'family': 'gaussian', 'sigma': '~ tx'}
    """

    formula: str
    family: str = "gaussian"
    link: str | None = None
    dpars: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: str = ""

    @property
    def formulas(self) -> tuple[str, ...]:
        """The main formula, then `sigma ~ tx` for each distributional parameter."""
        return (self.formula, *(f"{k} {v}" for k, v in self.dpars.items()))

    def model_arguments(self) -> dict[str, Any]:
        """The keywords of `ml.Model` (data and priors aside) that give this model."""
        out: dict[str, Any] = {"formula": self.formula, "family": self.family}
        if self.link is not None:
            out["link"] = self.link
        return out | self.dpars

    def code(self) -> str:
        """The `ml.Model(...)` call that builds the model, for the user to copy."""
        args = [repr(self.formula), "data"]
        if self.family != "gaussian":
            args.append(f"family={self.family!r}")
        if self.link is not None:
            args.append(f"link={self.link!r}")
        args += [f"{k}={v!r}" for k, v in self.dpars.items()]
        return f"ml.Model({', '.join(args)})"

    def __str__(self) -> str:
        lines = list(self.formulas)
        if self.family != "gaussian" or self.link is not None:
            link = f", link {self.link}" if self.link else ""
            lines.append(f"family: {self.family}{link}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def join_terms(terms: Sequence[str], intercept: bool) -> str:
    """The right side of `~`: `1 + x`, `0 + x`, `1`, or `0` with nothing else.

    Example:
        >>> join_terms(["x", "z"], intercept=False), join_terms([], intercept=True)
        ('0 + x + z', '1')
    """
    terms = list(dict.fromkeys(terms))
    if intercept:
        return " + ".join(terms) if terms else "1"
    return " + ".join(["0", *terms])


def group_term(terms: Sequence[str], intercept: bool, factor: str, correlated: bool) -> str:
    """`(1 + x | g)`; `||` only where there are two or more effects to leave uncorrelated.

    Example:
        >>> group_term(["x"], True, "g", correlated=False)
        '(1 + x || g)'
        >>> group_term(["tx"], False, "cluster", correlated=False)
        '(0 + tx | cluster)'
    """
    inside = join_terms(terms, intercept)
    if intercept and terms:
        inside = "1 + " + inside
    n_effects = len(dict.fromkeys(terms)) + intercept
    bar = "||" if n_effects > 1 and not correlated else "|"
    return f"({inside} {bar} {factor})"


def split_top_level(text: str, separator: str, offset: int = 0) -> list[tuple[str, int]]:
    """The pieces of `text` between `separator`s outside parentheses and quotes, each with
    where it starts in the command (`offset` is where `text` starts there).

    Example:
        >>> split_top_level("y x || id: x, cov(un)", "||")
        [('y x ', 0), (' id: x, cov(un)', 6)]
        >>> [p for p, _ in split_top_level("ib(#2).a#c.b", "#")]
        ['ib(#2).a', 'c.b']
    """
    pieces, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "()":
            depth = max(depth + (1 if c == "(" else -1), 0)
        elif depth == 0 and text.startswith(separator, i):
            pieces.append((text[start:i], offset + start))
            start = i = i + len(separator)
            continue
        i += 1
    return [*pieces, (text[start:], offset + start)]


def power_term(name: str, power: int) -> str:
    """A variable times itself: `I(x**2)` (formulaic reads `x:x` as `x`)."""
    return name if power == 1 else f"I({name}**{power})"


def check_column(data: pd.DataFrame | None, name: str, where: str) -> pd.Series | None:
    """The column `name` of `data` (None without data); an error names a missing one."""
    if data is None:
        return None
    if name not in data.columns:
        columns = [str(c) for c in data.columns]
        raise DataError(
            f"{where} names the variable '{name}', which is not a column of the data"
            f"{did_you_mean(name, columns)}; columns: {', '.join(columns)}"
        )
    return data[name]


def is_numeric(column: pd.Series | None) -> bool:
    """Whether a column holds numbers (formulaic would read it as a covariate); True for an
    unknown column, since both dialects take a bare variable as a number."""
    if column is None:
        return True
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def categorical(name: str, column: pd.Series | None, base: Any = None) -> str:
    """A variable coded as a factor: a text or categorical column as it is (formulaic codes
    it), a numeric one as `C(x)`; `base` is the reference level when not the first.

    Example:
        >>> categorical("x", None), categorical("x", None, base=3)
        ('C(x)', 'C(x, contr.treatment(base=3))')
    """
    if base is not None:
        return f"C({name}, contr.treatment(base={base!r}))"
    return f"C({name})" if is_numeric(column) else name


def by_formula(name: str, column: pd.Series | None) -> tuple[str, str | None]:
    """The formula of a parameter with one value per level of `name` (Stata's `by(tx)`,
    SAS's `group=tx`), and a note on what it assumed.

    A numeric variable with two values needs no `C()`: its slope is the difference between
    its levels. Without the data, the numeric variable is assumed to have two values, and
    the note says so.

    Example:
        >>> by_formula("tx", pd.Series([0, 1, 1]))
        ('~ tx', None)
        >>> by_formula("arm", pd.Series([1, 2, 3]))
        ('~ C(arm)', None)
    """
    if column is None:
        return f"~ {name}", (
            f"one value per level of '{name}' is written '~ {name}', which assumes '{name}' "
            f"has two values or is text; with more numeric values write '~ C({name})' "
            "(pass data= to settle it)"
        )
    if is_numeric(column) and pd.unique(column.dropna()).size > 2:
        return f"~ C({name})", None
    return f"~ {name}", None
