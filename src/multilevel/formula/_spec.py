"""The plain specification a formula parses into: no data, no numbers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GroupTerm:
    """One `(terms | factor)`, `(terms || factor)` or `(terms |id| factor)` of a formula.

    `terms` is a formulaic right-hand side (`"1 + Days"`), `factor` the columns whose
    combination defines the groups (`("a", "b")` for `a:b`). Terms of one factor that share
    a `link` id (brms's `|p|`), in any of the model's formulas, have correlated effects.
    """

    terms: str
    factor: tuple[str, ...]
    correlated: bool
    source: str
    link: str | None = None

    @property
    def group(self) -> str:
        """The brms name of the grouping factor, e.g. `Subject` or `school:class`."""
        return ":".join(self.factor)


@dataclass(frozen=True)
class LinearFormula:
    """The linear predictor of one distributional parameter: fixed terms and group terms."""

    fixed: str
    groups: tuple[GroupTerm, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class ModelFormula:
    """A whole model: the response and one linear formula per distributional parameter."""

    response: str
    dpars: dict[str, LinearFormula] = field(default_factory=dict)
    source: str = ""
    #: brms's response addition terms: `y | trials(n)` gives {"trials": "n"}.
    additions: dict[str, str] = field(default_factory=dict)

    @property
    def mu(self) -> LinearFormula:
        return self.dpars["mu"]
