"""Bayesian multilevel regression in lme4/brms syntax, fitted by NUTS on JAX.

Example:
    >>> import multilevel as ml
    >>> sorted(ml.__all__)[:3]
    ['DataError', 'Fit', 'FormulaError']
"""

from ._host import request_host_devices

request_host_devices()

from . import scenarios  # noqa: E402
from ._api import Model, fit  # noqa: E402
from ._errors import (  # noqa: E402
    DataError,
    FileFormatError,
    FormulaError,
    ModelError,
    MultilevelError,
    PriorError,
    SamplingWarning,
)
from ._load import load  # noqa: E402
from ._pooling import Pooling, pooling  # noqa: E402
from .results import Fit, compare  # noqa: E402
from .studies import (  # noqa: E402
    PowerResult,
    ReplicateError,
    SBCResult,
    Scenario,
    power,
    sbc,
    simulate,
)

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "FileFormatError",
    "Fit",
    "FormulaError",
    "Model",
    "ModelError",
    "MultilevelError",
    "Pooling",
    "PowerResult",
    "PriorError",
    "ReplicateError",
    "SBCResult",
    "SamplingWarning",
    "Scenario",
    "__version__",
    "compare",
    "fit",
    "load",
    "pooling",
    "power",
    "sbc",
    "scenarios",
    "simulate",
]
