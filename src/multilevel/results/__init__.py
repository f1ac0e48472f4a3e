"""Stage 7: the Fit object, its summaries and diagnostics."""

from ._fit import Fit

__all__ = ["Fit"]
