"""Many fits, between the fit (stage 7) and the command line (stage 8): data simulated from
a model, power analysis and simulation-based calibration, run in this process, on a local
process pool or on a Dask cluster, and checkpointed replicate by replicate."""

from ._execute import ReplicateError
from ._power import PowerResult, power
from ._sbc import SBCResult, sbc
from ._scenario import Scenario
from ._simulate import simulate

__all__ = ["PowerResult", "ReplicateError", "SBCResult", "Scenario", "power", "sbc", "simulate"]
