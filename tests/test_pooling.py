"""ml.pooling on sleepstudy: no pooling against per-subject least squares, complete pooling
against pooled least squares, partial pooling against lme4's `coef()`, and shrinkage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import load_reference

from multilevel import DataError, Model, ModelError, SamplingWarning
from multilevel._pooling import _level_cells, _model, _no_pooling, pooling
from multilevel.priors import parse_prior

FORMULA = "Reaction ~ Days + (Days | Subject)"
COEFS = ("Intercept", "Days")


@pytest.fixture(scope="module")
def result(sleepstudy):
    # Short chains: R-hat warnings on the 37-parameter no-pooling fit are expected; the
    # tolerances below use each parameter's own ESS.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return pooling(
            FORMULA,
            sleepstudy,
            group="Subject",
            chains=2,
            warmup=300,
            draws=300,
            seed=1,
            progress=False,
        )


def _least_squares(df: pd.DataFrame) -> np.ndarray:
    x = np.column_stack([np.ones(len(df)), df["Days"]])
    return np.linalg.lstsq(x, df["Reaction"].to_numpy(), rcond=None)[0]


def _mcse(fit) -> pd.Series:
    """Monte Carlo standard error of each parameter's posterior mean."""
    summary = fit.summary()
    return summary["sd"] / np.sqrt(summary["ess_bulk"])


def test_no_pooling_is_per_subject_least_squares(result, sleepstudy):
    # Flat priors on b: the posterior of each subject's coefficients is a t centred at its
    # least-squares estimate, so the posterior mean differs from it by Monte Carlo error only.
    mcse = _mcse(result.fits["none"])
    for subject, rows in sleepstudy.groupby("Subject"):
        ols = _least_squares(rows)
        names = (f"b_Subject{subject}", f"b_Subject{subject}:Days")
        for coef, name, expected in zip(COEFS, names, ols, strict=True):
            got = result.estimates(coef).loc[str(subject), "none"]
            assert abs(got - expected) < 4 * mcse[name], (subject, coef, got, expected)


def test_complete_pooling_is_pooled_least_squares(result, sleepstudy):
    # b_Days has a flat prior; the (centred) intercept's student_t(3, 288.7, 51.7) prior is
    # flat next to its likelihood (sd 3.6), so both are the pooled least squares within MC error.
    ols = _least_squares(sleepstudy)
    mcse = _mcse(result.fits["complete"])
    for coef, expected in zip(COEFS, ols, strict=True):
        got = result.estimates(coef)["complete"]
        assert np.allclose(got, got.iloc[0])
        assert abs(got.iloc[0] - expected) < 4 * mcse[f"b_{coef}"], (coef, expected)


def test_partial_pooling_matches_lme4_coef(result):
    # lme4's coef() is b + r at the REML variance components: the posterior mean of b + r
    # given those components (flat prior on b). The posterior mean averages it over the
    # posterior of the sds and the correlation, which moves it by a small fraction of the
    # posterior sd (below 0.1 sd here), plus MC error (about 0.04 sd at ESS ~600); a level
    # moved by shrinkage alone differs from its no-pooling estimate by 0.3-1 sd.
    reference = load_reference("lme4_sleepstudy_coef")["coef"]
    table = result.table.set_index(["level", "coef", "pooling"])
    for level, coefs in reference.items():
        for coef in COEFS:
            row = table.loc[(level, coef, "partial")]
            assert abs(row["estimate"] - coefs[coef]) < 0.25 * row["sd"], (level, coef)


def test_partial_pooling_shrinks_towards_complete_pooling(result):
    for coef in COEFS:
        est = result.estimates(coef)
        low = np.minimum(est["none"], est["complete"])
        high = np.maximum(est["none"], est["complete"])
        between = (est["partial"] >= low) & (est["partial"] <= high)
        # Shrinkage is towards the population in both coefficients jointly: with correlated
        # intercepts and slopes a few levels move slightly past their own estimate of one
        # (5 of 18 slopes here, each by less than 0.5 posterior sd).
        assert between.mean() >= 2 / 3, (coef, est[~between])
        assert est["partial"].std() < est["none"].std()
        distance = est[["none", "partial"]].sub(est["complete"], axis=0).abs().mean()
        assert distance["partial"] < distance["none"]


def test_table_has_a_row_per_level_coefficient_and_pooling(result):
    table = result.table
    assert list(table.columns) == [
        "level",
        "coef",
        "pooling",
        "estimate",
        "sd",
        "q2.5",
        "q97.5",
        "n",
    ]
    assert len(table) == 18 * 2 * 3
    assert set(table["pooling"]) == {"none", "partial", "complete"}
    assert (table["n"] == 10).all()
    assert (table["q2.5"] < table["estimate"]).all() and (table["estimate"] < table["q97.5"]).all()
    assert set(result.fits) == {"none", "partial", "complete"}
    assert result.formulas["complete"] == "Reaction ~ Days"
    assert result.formulas["none"].startswith("Reaction ~ 0 + `Subject308` + ")
    assert "`Subject372:Days`" in result.formulas["none"]


def test_plot_has_a_panel_per_coefficient_and_the_scatter(result):
    fig = result.plot()
    axes = fig.axes
    assert len(axes) == 3
    for ax, coef in zip(axes[:2], COEFS, strict=True):
        assert ax.get_xlabel() == coef
        assert len(ax.collections) == 2  # no-pooling and partial-pooling points
        assert len(ax.texts) == 18  # an arrow per level
        assert len(ax.lines) == 1  # the complete-pooling line
        order = result.estimates(coef)["none"].sort_values().index
        assert [t.get_text() for t in ax.get_yticklabels()] == list(order)
    scatter = axes[2]
    assert (scatter.get_xlabel(), scatter.get_ylabel()) == COEFS
    assert len(scatter.texts) == 18 and len(scatter.collections) == 3
    assert len(result.plot(coefs="Days").axes) == 1
    with pytest.raises(ModelError, match="Intercept, Days"):
        result.plot(coefs=["Dayz"])


def test_group_must_be_a_grouping_factor_of_the_formula(sleepstudy):
    with pytest.raises(ModelError, match=r"did you mean 'Subject'\?\); valid: 'Subject'"):
        pooling(FORMULA, sleepstudy, group="subject")
    with pytest.raises(ModelError, match="only in the formula for sigma"):
        pooling("Reaction ~ Days + (1 | Subject)", sleepstudy, group="Days", sigma="~ (1 | Days)")
    with pytest.raises(ModelError, match="no group terms"):
        pooling("Reaction ~ Days", sleepstudy, group="Subject")
    with pytest.raises(ModelError, match="thresholds"):
        pooling(FORMULA, sleepstudy, group="Subject", family="cumulative")


def test_a_level_that_cannot_estimate_its_own_slope_is_named(sleepstudy):
    one_day = sleepstudy[(sleepstudy["Subject"] != 309) | (sleepstudy["Days"] == 0)]
    with pytest.raises(DataError, match=r"'309' \(Intercept, Days; 1 row\(s\)\)"):
        pooling(FORMULA, one_day, group="Subject")


def test_no_pooling_keeps_fixed_columns_the_levels_do_not_span(sleepstudy, partially_clustered):
    df = sleepstudy.assign(
        age=sleepstudy["Subject"] % 7,  # constant within subjects: spanned by the intercepts
        x=np.random.default_rng(0).normal(size=len(sleepstudy)),
    )
    formula = "Reaction ~ Days + age + x + (Days | Subject)"
    design = Model(formula, df)._compiled.design
    text, frame = _no_pooling(
        formula, design, "Subject", _level_cells(design.dpars["mu"].groups, "Subject")
    )
    assert text.startswith("Reaction ~ 0 + `x` + `Subject308` + ")
    assert "age" not in text and list(frame.columns[:2]) == ["Reaction", "x"]
    # Controls have no cluster effect: the intercept stays, tx is spanned by the clusters.
    formula = "y ~ tx + (0 + tx | cluster)"
    design = Model(formula, partially_clustered)._compiled.design
    text, _ = _no_pooling(
        formula, design, "cluster", _level_cells(design.dpars["mu"].groups, "cluster")
    )
    assert text.startswith("y ~ 1 + `clusterg01:tx` + ") and text.count("`") == 20


def test_priors_naming_parameters_a_model_lacks_are_left_out(sleepstudy):
    user = [parse_prior(p) for p in ("b_Days ~ normal(0, 100)", "sd_Subject ~ half_normal(50)")]
    complete = _model("Reaction ~ Days", sleepstudy, user, [], {})
    assert complete.recipe["priors"] == ["b_Days ~ normal(0, 100)"]
