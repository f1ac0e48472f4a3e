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
from ._dialects import from_sas, from_stata, translate_sas, translate_stata  # noqa: E402
from ._errors import (  # noqa: E402
    DataError,
    FileFormatError,
    FormulaError,
    ModelError,
    MultilevelError,
    PriorError,
    SamplingWarning,
    TranslationError,
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
from .translate import Translation, priors_from_sas  # noqa: E402

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
    "Translation",
    "TranslationError",
    "__version__",
    "compare",
    "fit",
    "from_sas",
    "from_stata",
    "load",
    "pooling",
    "power",
    "priors_from_sas",
    "sbc",
    "scenarios",
    "simulate",
    "translate_sas",
    "translate_stata",
]
