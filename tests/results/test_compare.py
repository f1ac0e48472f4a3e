"""ml.compare: LOO comparison of fits of the same rows, checked against brms's loo()."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.results._compare import _warn_pareto_k

REFERENCE = Path(__file__).parents[1] / "data" / "reference" / "brms_sleepstudy_loo.json"
SLOPES, INTERCEPTS = "Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def sleep_fits(sleepstudy):
    return {
        "slopes": ml.fit(SLOPES, sleepstudy, seed=1, progress=False),
        "intercepts": ml.fit(INTERCEPTS, sleepstudy, seed=1, progress=False),
    }


@pytest.mark.filterwarnings("ignore::multilevel.SamplingWarning")
def test_slopes_beat_intercepts_and_elpd_matches_brms(sleep_fits):
    """brms 2.18 (tests/data/reference/brms_sleepstudy_loo.R, R call in the json):
    brm(Reaction ~ Days + (Days | Subject), sleepstudy, seed = 1); loo(fit), and the same
    with (1 | Subject)."""
    reference = json.loads(REFERENCE.read_text())
    table = ml.compare(sleep_fits)
    assert list(table.index) == ["slopes", "intercepts"]
    assert table.loc["intercepts", "elpd_diff"] > 2 * table.loc["intercepts", "dse"]
    # Both elpd_loo values are Monte Carlo estimates from 4000 draws: their sd between runs
    # is ~0.2-0.5 here (a few rows with Pareto k near 0.7 dominate it), so two independent
    # runs differ by more than 1 in under ~5% of cases; a wrong likelihood constant, a
    # marginal instead of a conditional log-likelihood, or a dropped row is off by far more.
    for name, formula in (("slopes", SLOPES), ("intercepts", INTERCEPTS)):
        assert table.loc[name, "elpd_loo"] == pytest.approx(
            reference[formula]["elpd_loo"], abs=1.0
        ), name
    assert set(table.columns) >= {"elpd_loo", "p_loo", "elpd_diff", "dse", "weight"}
    assert (table["pareto_k_bad"] >= 0).all()


def test_fits_of_different_data_are_refused(sleep_fits, sleepstudy):
    other = ml.fit(SLOPES, sleepstudy.iloc[:90], seed=1, draws=200, warmup=200, progress=False)
    with pytest.raises(ml.ModelError, match="were fitted to different data"):
        ml.compare({"all": sleep_fits["slopes"], "half": other})


def test_compare_needs_two_fits(sleep_fits):
    with pytest.raises(ml.ModelError, match="at least two fits"):
        ml.compare({"slopes": sleep_fits["slopes"]})
    with pytest.raises(ml.ModelError, match="'x' is a str, not a multilevel Fit"):
        ml.compare({"slopes": sleep_fits["slopes"], "x": "fit"})


def test_high_pareto_k_rows_are_named_and_explained():
    loos = {"a": types.SimpleNamespace(good_k=0.7), "b": types.SimpleNamespace(good_k=0.7)}
    with pytest.warns(ml.SamplingWarning) as record:
        _warn_pareto_k({"a": np.array([3, 17]), "b": np.array([], dtype=int)}, loos)
    (message,) = [str(w.message) for w in record]
    assert message.startswith("'a': 2 row(s) with Pareto k > 0.70 (rows 3, 17)")
    assert "'b'" not in message and "K-fold cross-validation" in message
