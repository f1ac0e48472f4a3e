"""Bayesian multilevel regression in lme4/brms syntax, fitted by NUTS on JAX.

Example:
    >>> import multilevel as ml
    >>> sorted(ml.__all__)[:3]
    ['DataError', 'Fit', 'FormulaError']
"""

from ._api import Model, fit
from ._errors import (
    DataError,
    FormulaError,
    ModelError,
    MultilevelError,
    PriorError,
    SamplingWarning,
)
from .results import Fit

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Fit",
    "FormulaError",
    "Model",
    "ModelError",
    "MultilevelError",
    "PriorError",
    "SamplingWarning",
    "__version__",
    "fit",
]
