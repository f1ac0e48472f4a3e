"""The errors a user can see. Each names what is wrong and says what would be valid."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DataError",
    "FileFormatError",
    "FormulaError",
    "ModelError",
    "MultilevelError",
    "PriorError",
    "SamplingWarning",
    "TranslationError",
    "did_you_mean",
]


class MultilevelError(ValueError):
    """Base class of every error raised for bad input to multilevel."""


class FormulaError(MultilevelError):
    """A formula that cannot be parsed; shows the formula with a caret at the fault.

    Example:
        >>> try:
        ...     raise FormulaError("unbalanced '('", "y ~ (1 | g", 4)
        ... except FormulaError as e:
        ...     print(e)
        unbalanced '(' at position 5 of the formula:
          y ~ (1 | g
              ^
    """

    what = "the formula"

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        self.formula = formula
        self.position = position
        text = message
        if formula is not None and position is not None:
            caret = " " * position + "^"
            text = f"{message} at position {position + 1} of {self.what}:\n  {formula}\n  {caret}"
        elif formula is not None:
            text = f"{message} in {self.what}:\n  {formula}"
        super().__init__(text)


class TranslationError(FormulaError):
    """A Stata command or SAS statement with no translation; quotes the option at fault and
    points at it.

    Example:
        >>> try:
        ...     raise TranslationError("'vce(robust)' is not supported", "mixed y, vce(robust)", 9)
        ... except TranslationError as e:
        ...     print(e)
        'vce(robust)' is not supported at position 10 of the command:
          mixed y, vce(robust)
                   ^
    """

    what = "the command"


class DataError(MultilevelError):
    """Data that cannot be used: a missing column, missing values, a wrong type."""


class PriorError(MultilevelError):
    """A prior that cannot be parsed or names no parameter of the model."""


class ModelError(MultilevelError):
    """A combination of formula, family and priors that does not make a model."""


class FileFormatError(MultilevelError):
    """A file that is not a saved fit, was written by an incompatible version, or fails the
    checks `load` makes before it uses anything in it."""


class SamplingWarning(UserWarning):
    """The sampler's diagnostics (R-hat, ESS, divergences, tree depth) show a problem."""


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix for the closest option, or ''.

    Example:
        >>> did_you_mean("Reacton", ["Reaction", "Days"])
        " (did you mean 'Reaction'?)"
    """
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
