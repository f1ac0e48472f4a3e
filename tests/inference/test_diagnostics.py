"""The checks after every fit name the parameters at fault and the remedy."""

import numpy as np
import pandas as pd
import pytest

from multilevel import SamplingWarning
from multilevel.inference._diagnostics import check, warn


def _table(rhat, ess):
    return pd.DataFrame(
        {"rhat": rhat, "ess_bulk": ess, "ess_tail": ess}, index=["b_Intercept", "sd_g__x"]
    )


def _stats(divergent=0, depth=3):
    diverging = np.zeros((4, 100), dtype=bool)
    diverging.flat[:divergent] = True
    return {"diverging": diverging, "tree_depth": np.full((4, 100), depth)}


def test_healthy_fit_has_no_problems():
    d = check(_table([1.0, 1.001], [1000, 900]), _stats(), chains=4, max_treedepth=10)
    assert d.ok and "all checks passed" in str(d)


def test_problems_name_parameters_and_remedies():
    d = check(_table([1.0, 1.08], [1000, 50]), _stats(divergent=3, depth=10), 4, 10)
    text = "\n".join(d.problems)
    assert "3 divergent" in text and "target_accept" in text
    assert "maximum tree depth 10" in text and "max_treedepth" in text
    assert "R-hat above 1.01 for sd_g__x" in text
    assert "bulk ESS below 400 for sd_g__x" in text
    with pytest.warns(SamplingWarning, match="divergent"):
        warn(d)
