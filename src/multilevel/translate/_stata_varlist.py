"""Stata's factor-variable notation (`i.x`, `c.x`, `ib2.x`, `i.a#c.b`, `i.a##i.b`) as terms of
our formula syntax.

Stata reads a bare variable as continuous, except inside an interaction, where it is a factor;
`##` is the full factorial (every subset of its parts), `#` the interaction alone.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._errors import TranslationError
from ._translation import categorical, check_column, power_term, split_top_level

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ELEMENT = re.compile(r"^(?:(?P<prefix>[^.]+)\.)?(?P<name>[^.]+)$")
_BASE = re.compile(r"^ib(?:(?P<value>-?\d+(?:\.\d+)?)|\((?P<rule>first|last|freq|#\d+)\))$")
_TIME_SERIES = re.compile(r"^(?:[lfds]\d*)+$")


@dataclass(frozen=True)
class Element:
    """One variable of an interaction: continuous, or a factor with its base level
    (None: the first) or with every level (`ibn.`)."""

    name: str
    factor: bool
    base: Any = None
    every_level: bool = False


@dataclass(frozen=True)
class Term:
    """One term of our syntax, the Stata token it came from, and whether it has a factor
    that leaves out a base level or one that keeps every level (`ibn.`)."""

    text: str
    token: str
    omits_base: bool
    every_level: bool


class Varlist:
    """Reads Stata varlists against an optional data frame, pointing errors at `source`."""

    def __init__(self, source: str, data: pd.DataFrame | None):
        self.source = source
        self.data = data

    def error(self, message: str, text: str) -> TranslationError:
        at = self.source.find(text)
        return TranslationError(message, self.source, at if at >= 0 else None)

    def terms(self, varlist: str) -> list[Term]:
        """The terms of a varlist, in order, without repeats."""
        out: dict[str, Term] = {}
        for token in self.tokens(varlist):
            for term in self._token_terms(token):
                out.setdefault(term.text, term)
        return list(out.values())

    def tokens(self, varlist: str) -> Iterator[str]:
        """The varlist's tokens, with `i.(a b)` and, given the data, wildcards expanded."""
        for token in (t for t, _ in split_top_level(varlist, " ") if t):
            group = re.fullmatch(r"([^.()]+)\.\((.*)\)", token)
            if group:
                yield from (f"{group[1]}.{name}" for name in group[2].split())
            elif re.search(r"[*?~]|^[A-Za-z_]\w*-[A-Za-z_]\w*$", token):
                yield from self._expand(token)
            else:
                yield token

    def _expand(self, token: str) -> list[str]:
        if self.data is None:
            raise self.error(
                f"the variable list '{token}' needs the data to expand: pass data=, or name "
                "the variables",
                token,
            )
        columns = [str(c) for c in self.data.columns]
        if "-" in token:
            first, last = token.split("-")
            for name in (first, last):
                check_column(self.data, name, f"the range '{token}'")
            i, j = columns.index(first), columns.index(last)
            return columns[min(i, j) : max(i, j) + 1]
        found = fnmatch.filter(columns, token.replace("~", "?"))
        if not found:
            raise self.error(f"no column of the data matches '{token}'", token)
        return found

    def _token_terms(self, token: str) -> list[Term]:
        if "##" in token:
            parts = token.split("##")
            if any(len(_split_hash(p)) > 1 for p in parts):
                raise self.error(
                    f"'{token}' mixes '#' and '##': write the interaction's terms out", token
                )
            elements = [self.element(p, token, interaction=True) for p in parts]
            subsets = (
                combo
                for k in range(1, len(parts) + 1)
                for combo in itertools.combinations(elements, k)
            )
            return [self.render(list(s), token) for s in subsets]
        parts = _split_hash(token)
        interaction = len(parts) > 1
        return [self.render([self.element(p, token, interaction) for p in parts], token)]

    def element(self, text: str, token: str, interaction: bool) -> Element:
        match = _ELEMENT.fullmatch(text)
        if match is None or not _NAME.match(match["name"]):
            raise self.error(f"cannot read '{text}' as a Stata variable", token)
        name, prefix = match["name"], (match["prefix"] or "").lower()
        check_column(self.data, name, f"the term '{token}'")
        if prefix == "":
            return Element(name, factor=interaction)
        if prefix == "c":
            return Element(name, factor=False)
        if prefix == "i":
            return Element(name, factor=True)
        if prefix == "ibn":
            return Element(name, factor=True, every_level=True)
        base = _BASE.fullmatch(prefix)
        if base:
            return Element(name, factor=True, base=self._base(name, base, text))
        if _TIME_SERIES.fullmatch(prefix):
            raise self.error(
                f"the time-series operator '{prefix.upper()}.' in '{text}' is not supported: "
                "make the lagged or differenced column in the data first",
                text,
            )
        raise self.error(
            f"the factor-variable operator '{prefix}.' in '{text}' is not supported; "
            "supported: i., c., ib#., ib(first)., ib(last)., ib(freq)., ib(##)., ibn.",
            text,
        )

    def _base(self, name: str, match: re.Match, text: str) -> Any:
        if match["rule"] == "first":
            return None
        if match["value"] is not None:
            value = float(match["value"])
            value = int(value) if value.is_integer() else value
            if self.data is None:
                return value
        elif self.data is None:
            raise self.error(f"'{text}' needs the data to find its base level: pass data=", text)
        column = self.data[name].dropna()
        levels = sorted(pd.unique(column))
        rule = match["rule"]
        if rule is None:
            if value not in levels:
                raise self.error(f"'{text}': {value} is not a level of '{name}'", text)
        elif rule == "last":
            value = levels[-1]
        elif rule == "freq":
            value = column.value_counts().sort_index(kind="stable").idxmax()
        else:
            k = int(rule[1:])
            if not 1 <= k <= len(levels):
                raise self.error(f"'{text}': '{name}' has {len(levels)} levels", text)
            value = levels[k - 1]
        value = value.item() if hasattr(value, "item") else value
        return None if value == levels[0] else value

    def render(self, elements: list[Element], token: str) -> Term:
        """An interaction's elements as one term: `C(a):x`, `I(x**2)` for `c.x#c.x`."""
        factors = [e.name for e in elements if e.factor]
        if len(set(factors)) < len(factors) or (
            set(factors) & {e.name for e in elements if not e.factor}
        ):
            raise self.error(f"'{token}' interacts a factor with itself", token)
        powers: dict[str, int] = {}
        for e in elements:
            if not e.factor:
                powers[e.name] = powers.get(e.name, 0) + 1
        pieces, done = [], set()
        for e in elements:
            if e.factor:
                column = None if self.data is None else self.data[e.name]
                pieces.append(categorical(e.name, column, e.base))
            elif e.name not in done:
                pieces.append(power_term(e.name, powers[e.name]))
                done.add(e.name)
        return Term(
            ":".join(pieces),
            token,
            omits_base=any(e.factor and not e.every_level for e in elements),
            every_level=any(e.every_level for e in elements),
        )


def _split_hash(token: str) -> list[str]:
    """`ib(#2).a#c.b` -> ['ib(#2).a', 'c.b']: '#' outside parentheses."""
    return [part for part, _ in split_top_level(token, "#")]
