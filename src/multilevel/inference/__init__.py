"""Stage 6: blackjax NUTS, fused warmup and sampling, diagnostics, ArviZ data."""

from ._arviz import arviz
from ._cache import cache_dir, configure_cache
from ._diagnostics import Diagnostics
from ._nuts import SamplerOutput, SamplerSettings, run_nuts
from ._sample import Posterior, pointwise_log_likelihood, sample, to_inference_data
from ._summary import summarise

__all__ = [
    "Diagnostics",
    "Posterior",
    "SamplerOutput",
    "SamplerSettings",
    "arviz",
    "cache_dir",
    "configure_cache",
    "pointwise_log_likelihood",
    "run_nuts",
    "sample",
    "summarise",
    "to_inference_data",
]
