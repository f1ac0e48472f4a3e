"""SAS effect syntax, and the fixed part it gives.

An effect is `a`, `a*b`, `x*x`, `a(b)` or `a*b(c d)`, and a list of them may use bar notation
(`a|b|c@2`), which `_effects` expands as SAS does; `_Effect` holds one, its names spelled as
the data's. `_parts` splits an effect into its class variables and its continuous ones. The
class helpers settle each class variable's reference level (SAS's last level unless
`ref=` says otherwise), and `_fixed_terms` writes the MODEL statement's effects as terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._errors import DataError
from ._sas_read import (
    _NAME,
    _Block,
    _column,
    _error,
    _is_class,
    _name,
    _Option,
    _Statement,
)
from ._translation import categorical, is_numeric, power_term, split_top_level

_SIMPLE_EFFECT = re.compile(rf"({_NAME}(?:\*{_NAME})*)(?:\(([^()]+)\))?")


@dataclass(frozen=True)
class _Effect:
    """A SAS effect `a*b(c d)`: `crossed` and `nested` variable names as written."""

    crossed: tuple[str, ...]
    nested: tuple[str, ...] = ()
    text: str = ""
    position: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """Nesting variables first: `a(b)` is `b:a`."""
        return self.nested + self.crossed


def _effects(block: _Block, st: _Statement, words: list[tuple[str, int]]) -> list[_Effect]:
    """The effects a list of words names, bar notation expanded, duplicates dropped."""
    out: dict[tuple[tuple[str, ...], frozenset[str]], _Effect] = {}
    for word, pos in words:
        for effect in _expand(block, st, word, pos):
            out.setdefault((tuple(sorted(effect.crossed)), frozenset(effect.nested)), effect)
    return list(out.values())


def _expand(block: _Block, st: _Statement, word: str, pos: int) -> list[_Effect]:
    """`a|b|c@2` -> a, b, a*b, c, a*c, b*c (SAS's bar notation, expanded left to right)."""
    limit = None
    body, at, tail = word.rpartition("@")
    if at and tail.isdigit():
        word, limit = body, int(tail)
    operands = [_effect(block, st, part, pos) for part, _ in split_top_level(word, "|")]
    effects = operands[:1]
    for operand in operands[1:]:
        crossed = [_cross(e, operand) for e in effects]
        effects = [*effects, operand, *(e for e in crossed if e is not None)]
    if len(operands) == 1:
        return effects
    return [e for e in effects if limit is None or len(e.crossed) <= limit]


def _cross(a: _Effect, b: _Effect) -> _Effect | None:
    """The cross of two effects in bar notation: repeated variables dropped, and no effect
    where a crossed variable is also a nesting one (Searle's rules, as SAS applies them)."""
    crossed = tuple(dict.fromkeys(a.crossed + b.crossed))
    nested = tuple(dict.fromkeys(a.nested + b.nested))
    if set(crossed) & set(nested):
        return None
    text = "*".join(crossed) + (f"({' '.join(nested)})" if nested else "")
    return _Effect(crossed, nested, text, a.position)


def _effect(block: _Block, st: _Statement, word: str, pos: int) -> _Effect:
    """One effect, `a`, `a*b`, `x*x`, `a(b)` or `a*b(c d)`, its names spelled as the data's."""
    match = _SIMPLE_EFFECT.fullmatch(word)
    if match is None or "=" in (match.group(2) or ""):
        raise _error(
            f"'{word}' is not an effect read here: write a, a*b, a|b, a(b) with variable names "
            "(nested-by-value effects such as b(a=1) are not translated)",
            st,
            at=pos,
        )
    crossed = tuple(_name(block, n, st) for n in match.group(1).split("*"))
    nested = tuple(_name(block, n, st) for n in re.split(r"[ *]+", match.group(2) or "") if n)
    return _Effect(crossed, nested, word, pos)


def _parts(block: _Block, st: _Statement, effect: _Effect) -> tuple[list[str], list[str]]:
    """An effect's class variables, and its continuous variables as `x`, `I(x**2)`."""
    classes, counts = [], {}
    for name in effect.nested:
        if not _is_class(block, name):
            raise _error(
                f"'{name}' in '{effect.text}' nests an effect but is not a class variable: SAS "
                "nests only within class variables; add it to the class statement",
                st,
                at=effect.position,
            )
    for name in effect.names:
        if _is_class(block, name):
            if name in classes:
                raise _error(
                    f"the class variable '{name}' appears twice in '{effect.text}'",
                    st,
                    at=effect.position,
                )
            classes.append(name)
        else:
            _check_continuous(block, st, name)
            counts[name] = counts.get(name, 0) + 1
    return classes, [power_term(name, n) for name, n in counts.items()]


def _check_continuous(block: _Block, st: _Statement, name: str) -> None:
    """A variable outside CLASS is continuous: SAS refuses a text one, and so do we."""
    column = _column(block, name)
    if column is not None and not (is_numeric(column) or pd.api.types.is_bool_dtype(column)):
        raise DataError(
            f"'{name}' in '{st.text}' holds {column.dtype} values but is not in the class "
            "statement, so SAS reads it as continuous; add it to the class statement"
        )


# --- class variables and reference levels ----------------------------------------------------


def _variable_reference(st: _Statement, text: str, pos: int) -> Any:
    key, eq, value = text.partition("=")
    if key.lower() != "ref" or not eq:
        raise _error(
            f"'({text})' is not a class variable option read here; supported: (ref=first), "
            "(ref=last), (ref='level')",
            st,
            at=pos,
        )
    return _reference_option(st, _Option("ref", value, text, pos))


def _reference_option(st: _Statement, opt: _Option) -> Any:
    """'first', 'last', or a level as written (quotes removed)."""
    value = opt.value or ""
    if value.lower() in ("first", "last"):
        return value.lower()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return ("level", value[1:-1])
    raise _error(
        f"'{opt.text}' is not a reference level read here; supported: ref=first, ref=last, "
        "ref='level'",
        st,
        at=opt.position,
    )


def _fixed_class(block: _Block, name: str, needs_note: list[str]) -> str:
    """A class variable in the fixed part, with SAS's reference level (the last by default)."""
    ref = block.classes[name.lower()]
    column = _column(block, name)
    if ref == "first":
        return categorical(name, column)
    if isinstance(ref, tuple) and column is None:
        needs_note.append(f"{name}(ref='{ref[1]}')")
    if isinstance(ref, tuple):
        return categorical(name, column, base=_level(column, ref[1]))
    if column is None:
        needs_note.append(name)
        return categorical(name, None)
    return categorical(name, column, base=_last_level(column))


def _last_level(column: pd.Series) -> Any:
    """SAS's last level: a categorical's last category, else the largest value."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _python(column.cat.categories[-1])
    values = [_python(v) for v in pd.unique(column.dropna())]
    try:
        return sorted(values)[-1]
    except TypeError:
        return sorted(values, key=str)[-1]


def _level(column: pd.Series | None, text: str) -> Any:
    """The level of `column` whose text is `text` (SAS's ref='...' names a formatted value)."""
    if column is None:
        return text
    for value in pd.unique(column.dropna()):
        if str(_python(value)) == text or (isinstance(value, float) and f"{value:g}" == text):
            return _python(value)
    levels = ", ".join(str(_python(v)) for v in pd.unique(column.dropna()))
    raise DataError(f"ref='{text}' is not a level of '{column.name}'; its levels are {levels}")


def _python(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (its repr goes into the formula)."""
    return value.item() if hasattr(value, "item") else value


# --- fixed terms -----------------------------------------------------------------------------


def _fixed_terms(block: _Block, st: _Statement, words: list[tuple[str, int]]) -> list[str]:
    needs_note: list[str] = []
    terms = []
    for effect in _effects(block, st, words):
        classes = _parts(block, st, effect)[0]
        pieces = []
        for name in dict.fromkeys(effect.names):
            if name in classes:
                pieces.append(_fixed_class(block, name, needs_note))
            else:
                pieces.append(power_term(name, effect.names.count(name)))
        terms.append(":".join(pieces))
    _reference_notes(block, needs_note)
    return [t for t in terms if t]


def _reference_notes(block: _Block, needs_note: list[str]) -> None:
    """Without data: the first level is the reference, and ref='level' is taken as text."""
    last = list(dict.fromkeys(n for n in needs_note if "(" not in n))
    if last:
        names = ", ".join(f"'{n}'" for n in last)
        block.note(
            f"class variable{'s' if len(last) > 1 else ''} {names}: coefficients contrast "
            "with the first level, while SAS's contrast with the last (pass data= to use "
            "SAS's reference)"
        )
    for text in dict.fromkeys(n for n in needs_note if "(" in n):
        block.note(f"'{text}': the level is written as text; pass data= to match its type")
