"""Stage 3: the prior language, brms-style defaults and their assignment to parameters.

Nothing here knows about JAX: a prior is data (a distribution name, its arguments and the
power of the parameter it is on); the model stage turns it into a log density.
"""

from ._assign import (
    AssignedPrior,
    Slot,
    assign_priors,
    aux_slot,
    cor_slot,
    fixed_slot,
    intercept_slot,
    sd_slot,
)
from ._defaults import ResponseScale, class_default, student_t
from ._language import (
    DISTRIBUTIONS,
    POWERS,
    Distribution,
    PriorSpec,
    parse_prior,
    prior_statement,
)

__all__ = [
    "DISTRIBUTIONS",
    "POWERS",
    "AssignedPrior",
    "Distribution",
    "PriorSpec",
    "ResponseScale",
    "Slot",
    "assign_priors",
    "aux_slot",
    "class_default",
    "cor_slot",
    "fixed_slot",
    "intercept_slot",
    "parse_prior",
    "prior_statement",
    "sd_slot",
    "student_t",
]
