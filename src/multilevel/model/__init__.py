"""Stage 5: design + priors + family -> one JAX log density on an unconstrained vector."""

from ._compiled import CompiledModel, GroupEffects, compile_model
from ._describe import describe, priors_table
from ._engine import choose_engine
from ._layout import Block, cor_name, fixed_name, sd_name

__all__ = [
    "Block",
    "CompiledModel",
    "GroupEffects",
    "choose_engine",
    "compile_model",
    "cor_name",
    "describe",
    "fixed_name",
    "priors_table",
    "sd_name",
]
