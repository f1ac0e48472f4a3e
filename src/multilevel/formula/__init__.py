"""Stage 1: parse lme4/brms formula syntax into a plain specification."""

from ._parse import formula_names, parse_dpar_formula, parse_formula
from ._spec import GroupTerm, LinearFormula, ModelFormula

__all__ = [
    "GroupTerm",
    "LinearFormula",
    "ModelFormula",
    "formula_names",
    "parse_dpar_formula",
    "parse_formula",
]
