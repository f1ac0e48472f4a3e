"""Stage 6: blackjax NUTS, fused warmup and sampling, diagnostics, ArviZ data."""

from ._cache import cache_dir, configure_cache
from ._diagnostics import Diagnostics
from ._nuts import SamplerOutput, SamplerSettings, run_nuts
from ._sample import Posterior, sample, to_inference_data
from ._summary import summarise

__all__ = [
    "Diagnostics",
    "Posterior",
    "SamplerOutput",
    "SamplerSettings",
    "cache_dir",
    "configure_cache",
    "run_nuts",
    "sample",
    "summarise",
    "to_inference_data",
]
