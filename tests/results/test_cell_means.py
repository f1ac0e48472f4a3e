"""fit.cell_means: the cell means of the 2x2 within-subject ratings design against lme4's
fixed effects and the REML standard errors of the balanced design, contrasts against the
fixed-effect draws, and the reference grid on small frames (no fit needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_reference

import multilevel as ml
from multilevel.design import build_design
from multilevel.formula import parse_formula
from multilevel.results._cell_means import reference_grid

CELLS = [
    "blockType=0, CSType=0",
    "blockType=0, CSType=1",
    "blockType=1, CSType=0",
    "blockType=1, CSType=1",
]


@pytest.fixture(scope="module")
def fit(ratings):
    # Random intercepts only: the maximal model of the lme4 reference takes over a minute
    # to sample here; see test_cell_means_match_lme4 for why its reference still applies.
    return ml.fit(
        "rating ~ blockType * CSType + (1 | subject)",
        ratings,
        chains=2,
        warmup=300,
        draws=300,
        seed=5,
    )


@pytest.fixture(scope="module")
def cells(fit):
    return fit.cell_means(["blockType", "CSType"])


def b(fit, name):
    return fit.idata.posterior[f"b_{name}"]


def test_table_has_one_row_per_cell(cells):
    table = cells.table
    assert list(table.index) == CELLS
    assert list(table.columns) == ["blockType", "CSType", "mean", "sd", "q2.5", "q97.5"]
    assert table[["blockType", "CSType"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert cells.draws.dims == ("chain", "draw", "cell")
    assert cells.draws.shape == (2, 300, 4)


def test_cell_means_match_lme4(cells):
    """lme4's REML fit of the maximal model gives each cell mean as a sum of fixed effects.
    In this balanced, complete design (every subject rates every cell 4 times) the GLS
    estimates of the fixed effects are the OLS cell means whatever the random-effects
    structure, so they are the reference for the random-intercept model too. Tolerance:
    0.3 posterior sd; the Monte Carlo error of a posterior mean is about sd / sqrt(ESS)
    ~ 0.05 sd with these draws, and the fixed effects have flat priors (the intercept a
    student_t(3, 19, 19.3) whose pull on 400 rows is a small fraction of an sd)."""
    fixed = {k: v["estimate"] for k, v in load_reference("lme4_ratings_2x2_reml")["fixed"].items()}
    reference = {
        CELLS[0]: fixed["(Intercept)"],
        CELLS[1]: fixed["(Intercept)"] + fixed["CSType"],
        CELLS[2]: fixed["(Intercept)"] + fixed["blockType"],
        CELLS[3]: sum(fixed.values()),
    }
    table = cells.table
    for cell, value in reference.items():
        assert abs(table.loc[cell, "mean"] - value) < 0.3 * table.loc[cell, "sd"], cell


def anova_reml(ratings: pd.DataFrame) -> tuple[float, float]:
    """sigma^2 and tau^2 of the random-intercept model by the ANOVA estimators, which are
    the REML estimates in a balanced design (when tau^2 > 0)."""
    cell = ratings.groupby(["blockType", "CSType"])["rating"].transform("mean")
    subject = ratings.groupby("subject")["rating"].transform("mean")
    residual = ratings["rating"] - cell - subject + ratings["rating"].mean()
    n, n_subjects, per_subject = len(ratings), ratings["subject"].nunique(), 16
    sigma2 = float((residual**2).sum() / (n - 4 - (n_subjects - 1)))
    subject_means = ratings.groupby("subject")["rating"].mean()
    ms_subject = per_subject * float(((subject_means - ratings["rating"].mean()) ** 2).sum())
    ms_subject /= n_subjects - 1
    return sigma2, (ms_subject - sigma2) / per_subject


def test_cell_sds_match_reml_standard_errors(cells, ratings):
    """With 25 subjects x 4 ratings per cell, a cell mean's REML standard error is
    sqrt(tau^2 / 25 + sigma^2 / 100) and a difference of two cells' sqrt(2 sigma^2 / 100)
    (the subject effects cancel). The posterior sds also carry the uncertainty of sigma and
    tau (a few percent with 372 residual df and 25 subjects) and a Monte Carlo error of
    about 1 / sqrt(2 ESS) ~ 4%: tolerance 15% (over seeds 1..8 the cell sds came out 3%
    below to 12% above, the differences' within 9%)."""
    sigma2, tau2 = anova_reml(ratings)
    se_cell = np.sqrt(tau2 / 25 + sigma2 / 100)
    np.testing.assert_allclose(cells.table["sd"], se_cell, rtol=0.15)
    se_difference = np.sqrt(2 * sigma2 / 100)
    np.testing.assert_allclose(cells.contrasts()["sd"], se_difference, rtol=0.15)


def test_contrasts_are_differences_of_fixed_effects(fit, cells):
    """Every pair, later cell minus earlier; for a Gaussian identity-link model each is a
    sum of fixed effects, draw by draw."""
    table = cells.contrasts()
    assert list(table.index) == [
        f"{CELLS[j]} - {CELLS[i]}" for i in range(4) for j in range(i + 1, 4)
    ]
    assert list(table.columns) == ["mean", "sd", "q2.5", "q97.5", "P(>0)"]
    simple = b(fit, "blockType") + b(fit, "blockType:CSType")
    chosen = cells.contrasts([(CELLS[3], CELLS[1])]).iloc[0]
    x = simple.values.ravel()
    assert chosen["mean"] == pytest.approx(x.mean())
    assert chosen["sd"] == pytest.approx(x.std(ddof=1))
    assert chosen["q2.5"] == pytest.approx(np.quantile(x, 0.025))
    assert chosen["P(>0)"] == pytest.approx(np.mean(x > 0))
    same = fit.hypothesis("b_blockType + b_blockType:CSType = 0").iloc[0]
    assert chosen["mean"] == pytest.approx(same["Estimate"])


def test_cells_by_label_or_levels(cells):
    by_label = cells.contrasts([(CELLS[3], CELLS[1])])
    by_levels = cells.contrasts([((1, 1), (0, 1))], prob=0.9)
    assert by_label["mean"].iloc[0] == by_levels["mean"].iloc[0]
    assert list(by_levels.columns) == ["mean", "sd", "q5", "q95", "P(>0)"]
    with pytest.raises(ml.ModelError, match=r"no cell.*the cells are: blockType=0, CSType=0"):
        cells.contrasts([((2, 1), (0, 1))])
    with pytest.raises(ml.ModelError, match="pair"):
        cells.contrasts(["blockType=1, CSType=1"])


def test_one_factor_averages_the_other_at_its_mean(fit, ratings):
    """blockType is a 0/1 number, so it sits at its mean 0.5: in a balanced design the
    CSType means are the average of the two blockType cells, i.e. the observed margins."""
    margins = fit.cell_means("CSType")
    assert list(margins.cells.index) == ["CSType=0", "CSType=1"]
    observed = ratings.groupby("CSType")["rating"].mean().to_numpy()
    table = margins.table
    assert np.all(np.abs(table["mean"].to_numpy() - observed) < 0.3 * table["sd"].to_numpy())
    expected = b(fit, "Intercept") + 0.5 * b(fit, "blockType")
    np.testing.assert_allclose(margins.draws.isel(cell=0), expected, rtol=1e-9)
    assert margins.contrasts().index.tolist() == ["CSType=1 - CSType=0"]


def test_unknown_factor_and_factor_not_in_the_formula(fit):
    with pytest.raises(ml.DataError, match=r"'CStype'.*did you mean 'CSType'"):
        fit.cell_means(["blockType", "CStype"])
    with pytest.raises(ml.ModelError, match=r"'rep' is not in the fixed terms"):
        fit.cell_means(["rep"])
    with pytest.raises(ml.ModelError, match="named twice"):
        fit.cell_means(["CSType", "CSType"])
    with pytest.raises(ml.ModelError, match="at least one factor"):
        fit.cell_means([])


def grid_of(formula: str, frame: pd.DataFrame, factors):
    return reference_grid(build_design(parse_formula(formula), frame), factors)


FRAME = pd.DataFrame(
    {
        "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
        "a": [0, 1, 0, 1, 0, 1, 0, 1],
        "c": [0, 0, 1, 1, 2, 2, 0, 1],
        "g": list("ppqqppqq"),
        "x": [1.0, 2, 3, 4, 5, 6, 7, 8],
        "n": [10, 10, 12, 12, 10, 10, 12, 12],
        "s": list("uuvvwwuu"),
    }
)


def test_grid_crosses_other_categorical_levels_and_centres_numbers():
    grid, cells, cell = grid_of("y ~ a * x + g + C(c) + (1 | s)", FRAME, ["a"])
    assert list(cells.index) == ["a=0", "a=1"]
    # 2 cells x 2 levels of g x 3 levels of C(c): each cell averages 6 rows equally.
    assert len(grid) == 12 and cell.tolist() == [0] * 6 + [1] * 6
    assert set(grid["x"]) == {4.5}
    assert sorted(set(zip(grid["g"], grid["c"], strict=True))) == [
        (g, c) for g in "pq" for c in (0, 1, 2)
    ]
    # No grouping column: predictions without group effects.
    assert "s" not in grid.columns and "y" not in grid.columns


def test_grid_keeps_only_cells_seen_and_sets_trials_to_one():
    grid, cells, _ = grid_of("y | trials(n) ~ a + c", FRAME.assign(y=1), ["a", "c"])
    assert list(cells.index) == [
        "a=0, c=0",
        "a=0, c=1",
        "a=0, c=2",
        "a=1, c=0",
        "a=1, c=1",
        "a=1, c=2",
    ]
    seen = grid_of("y ~ a + g", FRAME.iloc[:6], ["a", "g"])[1]
    assert set(seen.index) == {"a=0, g=p", "a=1, g=p", "a=0, g=q", "a=1, g=q"}
    assert set(grid["n"]) == {1.0}


def test_cell_labels_keep_each_column_type():
    _, cells, _ = grid_of("y ~ a + x", FRAME.iloc[:3], ["a", "x"])
    assert list(cells.index) == ["a=0, x=1.0", "a=0, x=3.0", "a=1, x=2.0"]
