"""Checks after every fit: R-hat, bulk and tail ESS, divergences, tree depth."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._errors import SamplingWarning

RHAT_MAX = 1.01
ESS_MIN_PER_CHAIN = 100


@dataclass(frozen=True)
class Diagnostics:
    """The sampler's health. `problems` is empty when every check passed."""

    divergences: int
    treedepth_hits: int
    max_treedepth: int
    draws: int
    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [
            f"divergent transitions: {self.divergences} of {self.draws}",
            f"max tree depth ({self.max_treedepth}) hit: {self.treedepth_hits} of {self.draws}",
            f"largest R-hat: {self.rhat_max:.3f} (want < {RHAT_MAX})",
            f"smallest bulk / tail ESS: {self.ess_bulk_min:.0f} / {self.ess_tail_min:.0f}",
        ]
        lines += [f"WARNING: {p}" for p in self.problems] or ["all checks passed"]
        return "\n".join(lines)


def check(
    table: pd.DataFrame, stats: dict[str, np.ndarray], chains: int, max_treedepth: int
) -> Diagnostics:
    """Judge a fit from its summary table (rhat, ess_bulk, ess_tail) and sampler statistics."""
    divergences = int(np.sum(stats["diverging"]))
    hits = int(np.sum(stats["tree_depth"] >= max_treedepth))
    draws = int(np.size(stats["diverging"]))
    ess_min = ESS_MIN_PER_CHAIN * chains
    problems = []
    if divergences:
        problems.append(
            f"{divergences} divergent transition(s) after warmup: the posterior has regions the "
            "sampler cannot explore; raise target_accept (e.g. 0.95) or reparametrise/tighten "
            "priors on the sds"
        )
    if hits:
        problems.append(
            f"{hits} transition(s) hit the maximum tree depth {max_treedepth}: sampling is "
            "inefficient; raise max_treedepth or give weakly informative priors"
        )
    bad_rhat = table.index[table["rhat"] > RHAT_MAX].tolist()
    if bad_rhat:
        problems.append(
            f"R-hat above {RHAT_MAX} for {_names(bad_rhat)}: the chains disagree; run more "
            "warmup and draws, or check the model"
        )
    for column, label in (("ess_bulk", "bulk"), ("ess_tail", "tail")):
        low = table.index[table[column] < ess_min].tolist()
        if low:
            problems.append(
                f"{label} ESS below {ess_min} for {_names(low)}: estimates are noisy; "
                "run more draws"
            )
    return Diagnostics(
        divergences=divergences,
        treedepth_hits=hits,
        max_treedepth=max_treedepth,
        draws=draws,
        rhat_max=float(np.nanmax(table["rhat"])),
        ess_bulk_min=float(np.nanmin(table["ess_bulk"])),
        ess_tail_min=float(np.nanmin(table["ess_tail"])),
        problems=tuple(problems),
    )


def warn(diagnostics: Diagnostics) -> None:
    for problem in diagnostics.problems:
        warnings.warn(problem, SamplingWarning, stacklevel=3)


def _names(names: list[str], show: int = 6) -> str:
    text = ", ".join(names[:show])
    return text + (f" and {len(names) - show} more" if len(names) > show else "")
