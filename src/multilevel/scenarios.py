"""Ready scenarios for `ml.power`, and the parts to build one's own `ml.Scenario`.

Example:
    >>> import multilevel as ml
    >>> ml.scenarios.partially_clustered(effect=0.5, icc=0.1).target
    'b_tx'
"""

from .studies._scenario import (
    PROC_MCMC_PRIORS,
    Scenario,
    partially_clustered,
    partially_clustered_layout,
)

__all__ = ["PROC_MCMC_PRIORS", "Scenario", "partially_clustered", "partially_clustered_layout"]
