"""The plots of a Fit: each runs on every family and returns a Figure with the expected
panels (axes, titles, labels; not pixels). Fits are fake (no sampling); replicated and prior
draws are injected where the plot only reads them, so the predictive programs compile only
for `plot_conditional`."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

import multilevel as ml
from multilevel.results._plots import _discrete

from fakes import fake_fit
from simulated import FAMILIES, family_model

COUNTS = {"bernoulli", "binomial", "poisson", "negbinomial", "cumulative", "cumulative_disc"}
COUNTS |= {f"{p}_{c}" for p in ("zero_inflated", "hurdle") for c in ("poisson", "negbinomial")}


@pytest.fixture(scope="module")
def fits():
    """family -> fake fit, built on first use and shared by the module's tests."""
    cache: dict[str, ml.Fit] = {}

    def get(family: str) -> ml.Fit:
        if family not in cache:
            formula, data, keywords = family_model(family)
            cache[family] = fake_fit(ml.Model(formula, data=data, **keywords), draws=20)
        return cache[family]

    return get


@pytest.fixture(scope="module")
def factors():
    """A fake fit with two factors and a numeric predictor, for interaction plots."""
    rng = np.random.default_rng(3)
    n = 120
    data = pd.DataFrame(
        {
            "a": rng.choice(["lo", "mid", "hi"], n),
            "b": rng.choice(["no", "yes"], n),
            "z": rng.normal(size=n),
            "g": np.repeat(np.arange(12), 10),
        }
    )
    data["y"] = rng.normal(size=n) + (data["a"] == "hi") + data["z"]
    return fake_fit(ml.Model("y ~ a * b + z + (1 + z | g)", data=data), draws=20)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def scalars(fit: ml.Fit) -> list[str]:
    return list(fit._model.scalar_names)


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def with_replicates(fit: ml.Fit) -> ml.Fit:
    """Store resampled observed rows as posterior predictive draws (what
    `fit.posterior_predictive()` stores, without compiling its program)."""
    if "posterior_predictive" not in fit.idata.groups():
        observed = fit.idata.observed_data[fit.response_name]
        posterior = fit.idata.posterior
        shape = (posterior.sizes["chain"], posterior.sizes["draw"], observed.size)
        values = np.random.default_rng(0).choice(observed.values, shape)
        coords = {"chain": posterior.chain, "draw": posterior.draw, "obs": observed.obs}
        replicated = xr.DataArray(values, dims=("chain", "draw", "obs"), coords=coords)
        fit.idata.add_groups({"posterior_predictive": xr.Dataset({fit.response_name: replicated})})
    return fit


def with_prior(fit: ml.Fit) -> ml.Fit:
    """Store stand-in prior draws (what `fit.sample_prior()` stores, without sampling)."""
    if "prior" not in fit.idata.groups():
        fit.idata.add_groups({"prior": fit.idata.posterior * 2.0})
    return fit


@pytest.mark.parametrize("family", FAMILIES)
def test_trace_one_pair_of_panels_per_scalar(fits, family):
    # compact=False leaves the group effects out by default: the overlay of 20 levels is
    # the same for every family and costs most of the plot, so it is checked below.
    fit = fits(family)
    fig = fit.plot_trace(compact=False)
    assert isinstance(fig, Figure)
    assert titles(fig) == [name for name in scalars(fit) for _ in range(2)]


@pytest.mark.parametrize("family", ["cumulative", "binomial"])
def test_trace_compact_overlays_levels_of_each_coefficient(fits, family):
    fit = fits(family)
    fig = fit.plot_trace()
    expected = [*scalars(fit), "r_g[Intercept]"]
    # A density and a trace panel per parameter, the group effect's 20 levels in one pair.
    assert titles(fig) == [name for name in expected for _ in range(2)]
    assert len(fig.axes[-1].get_lines()) >= 20


@pytest.mark.parametrize("family", FAMILIES)
def test_rank_one_panel_per_scalar(fits, family):
    fit = fits(family)
    fig = fit.plot_rank()
    assert isinstance(fig, Figure)
    assert titles(fig) == scalars(fit)


@pytest.mark.parametrize("family", FAMILIES)
def test_group_effects_caterpillar_lists_every_level(fits, family):
    fit = fits(family)
    fig = fit.plot_group_effects(prob=0.9)
    assert isinstance(fig, Figure)
    assert titles(fig) == ["r_g[Intercept]"]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels, key=int) == [str(level) for level in range(20)]
    assert "90% HDI" in fig.axes[0].get_xlabel()


@pytest.mark.parametrize("family", FAMILIES)
def test_ppc_bars_for_counts_density_otherwise(fits, family):
    fit = with_replicates(fits(family))
    assert _discrete(fit) == (family in COUNTS)
    fig = fit.plot_ppc(draws=10, seed=1)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    observed = fit.idata.observed_data[fit.response_name].values
    if family in COUNTS:
        n_values = int(observed.max() - observed.min()) + 1
        assert len(ax.patches) == n_values  # one bar per value
        assert ax.get_title() == "Posterior predictive check (10 replicated data sets)"
    else:
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("Observed" in t for t in legend)
        assert len(ax.get_lines()) >= 10 + 2  # replicated densities, their mean, observed


def test_ppc_ordinal_bars_are_labelled_by_level(fits):
    fit = with_replicates(fits("cumulative"))
    fig = fit.plot_ppc()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("family", FAMILIES)
def test_conditional_one_numeric_predictor_line_and_band(fits, family):
    fit = fits(family)
    fig = fit.plot_conditional("x", prob=0.8)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "x"
    assert "y" in ax.get_ylabel()
    assert "80%" in ax.get_title()
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == 50
    assert len(ax.collections) == 1  # the credible band
    assert np.all(np.isfinite(line.get_ydata()))


@pytest.mark.parametrize("effects", [["a", "b"], "a:b"])  # "a:b": brms's spelling
def test_conditional_interaction_of_two_factors(factors, effects):
    fig = factors.plot_conditional(effects)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hi", "lo", "mid"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no", "yes"]
    assert ax.get_legend().get_title().get_text() == "b"
    assert ax.get_xlabel() == "a"


def test_conditional_numeric_by_factor_and_factor_by_numeric(factors):
    ax = factors.plot_conditional(["z", "b"]).axes[0]
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2
    ax = factors.plot_conditional(["a", "z"]).axes[0]
    assert len(ax.get_legend().get_texts()) == 3  # z at its mean and mean +/- sd


def test_conditional_unknown_predictor_names_the_valid_ones(factors):
    with pytest.raises(ml.MultilevelError, match=r"'zz' is not a predictor.*did you mean 'z'"):
        factors.plot_conditional("zz")
    with pytest.raises(ml.MultilevelError, match="'g' is not a predictor"):
        factors.plot_conditional("g")
    with pytest.raises(ml.MultilevelError, match="one or two predictors"):
        factors.plot_conditional(["a", "b", "z"])


def test_group_effects_one_panel_per_coefficient_sorted(factors):
    fig = factors.plot_group_effects("g")
    assert titles(fig) == ["r_g[Intercept]", "r_g[z]"]
    for ax, coef in zip(fig.axes, ["Intercept", "z"], strict=True):
        r = factors.idata.posterior["r_g"].sel(g__coef=coef)
        median = r.median(("chain", "draw")).to_series()
        labels = [t.get_text() for t in ax.get_yticklabels()]
        # ArviZ lists the rows bottom-up: the largest median is the last label, at the top.
        assert median.loc[labels].is_monotonic_increasing
    with pytest.raises(ml.MultilevelError, match=r"'gg' is not a grouping factor.*'g'"):
        factors.plot_group_effects("gg")


@pytest.mark.parametrize("family", FAMILIES)
def test_prior_posterior_one_panel_per_scalar(fits, family):
    fit = with_prior(fits(family))
    fig = fit.plot_prior_posterior()
    assert isinstance(fig, Figure)
    assert titles(fig) == scalars(fit)
    assert len(fig.axes[0].get_lines()) >= 2  # prior and posterior


def test_prior_posterior_flat_prior_is_named_with_the_fix(factors):
    with pytest.raises(ml.MultilevelError, match=r"b_a.*flat \(improper\).*'b ~ normal"):
        factors.plot_prior_posterior()


def test_trace_and_rank_names(factors):
    fig = factors.plot_trace(["b_z", "r_g"])
    assert titles(fig)[::2] == ["b_z", "r_g[Intercept]", "r_g[z]"]
    fig = factors.plot_trace(["sigma"], compact=False)
    assert titles(fig) == ["sigma", "sigma"]
    assert len(factors.plot_rank(["r_g[z]"]).axes) == 12  # one per level
    with pytest.raises(ml.MultilevelError, match=r"'b_zz' is not a parameter.*'b_z'"):
        factors.plot_trace(["b_zz"])
