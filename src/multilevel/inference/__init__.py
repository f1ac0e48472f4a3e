"""Stage 6: blackjax NUTS, fused warmup and sampling, diagnostics, ArviZ data."""

from ._arviz import arviz
from ._cache import cache_dir, configure_cache
from ._diagnostics import Diagnostics
from ._nuts import SamplerOutput, SamplerSettings, random_keys, run_nuts
from ._sample import (
    Posterior,
    draw_keys,
    map_draws,
    pointwise_log_likelihood,
    sample,
    to_inference_data,
)
from ._summary import summarise

__all__ = [
    "Diagnostics",
    "Posterior",
    "SamplerOutput",
    "SamplerSettings",
    "arviz",
    "cache_dir",
    "configure_cache",
    "draw_keys",
    "map_draws",
    "pointwise_log_likelihood",
    "random_keys",
    "run_nuts",
    "sample",
    "summarise",
    "to_inference_data",
]
