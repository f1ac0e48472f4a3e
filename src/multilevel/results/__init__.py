"""Stage 7: the Fit object, its summaries and diagnostics, and comparisons of fits."""

from ._compare import compare
from ._fit import Fit

__all__ = ["Fit", "compare"]
