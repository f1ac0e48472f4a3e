"""Flat priors that make the posterior improper are refused when the model is built.

The rule for a group-level sd tau (Gelman 2006, section 3): with J levels, k of whose
directions the flat-prior population-level coefficients take up, the likelihood falls off
like tau^-(J - k); a flat prior on tau needs J - k >= 2, one on tau^2 J - k >= 3, and one
on the precision tau^-2 is never proper.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

SUBJECTS = [308, 309, 310, 330, 331]


def subjects(sleepstudy: pd.DataFrame, n: int) -> pd.DataFrame:
    return sleepstudy[sleepstudy["Subject"].isin(SUBJECTS[:n])].reset_index(drop=True)


def builds(formula: str, data, priors, **keywords) -> bool:
    try:
        ml.Model(formula, data, priors=priors, **keywords)
    except ml.PriorError as err:
        assert "makes the posterior improper" in str(err)
        return False
    return True


@pytest.mark.parametrize(
    ("priors", "fewest"),
    [
        # Gelman's setting: a flat prior on the mean too.
        (["sd ~ flat()", "Intercept ~ flat()"], 3),
        (["sd ~ flat()", "b_Intercept ~ flat()"], 3),
        (["sd^2 ~ flat()", "Intercept ~ flat()"], 4),
        # brms's proper default prior on the Intercept takes up no level.
        (["sd ~ flat()"], 2),
        (["sd^2 ~ flat()"], 3),
    ],
)
def test_group_intercept_needs_enough_levels(sleepstudy, priors, fewest):
    formula = "Reaction ~ Days + (1 | Subject)"
    assert builds(formula, subjects(sleepstudy, fewest), priors)
    if fewest > 2:
        assert not builds(formula, subjects(sleepstudy, fewest - 1), priors)


def test_two_levels_fail_and_three_pass_with_the_message(sleepstudy):
    priors = ["sd ~ flat()", "Intercept ~ flat()"]
    formula = "Reaction ~ Days + (1 | Subject)"
    ml.Model(formula, subjects(sleepstudy, 3), priors=priors)
    with pytest.raises(ml.PriorError) as caught:
        ml.Model(formula, subjects(sleepstudy, 2), priors=priors)
    message = str(caught.value)
    for fragment in [
        "the prior 'sd ~ flat()': a flat prior on sd_Subject__Intercept makes the posterior "
        "improper: the grouping factor 'Subject' has 2 levels (1 of them taken up by the flat "
        "prior on Intercept)",
        "falls off only like sd_Subject__Intercept^-1",
        "which needs at least 3 levels (Gelman 2006, section 3)",
        "give sd_Subject__Intercept a proper prior such as the default student_t(3, 0, ",
        "half_cauchy(",
        "give Intercept a proper prior, or use a grouping factor with at least 3 levels",
    ]:
        assert fragment in message, fragment


def test_flat_precision_is_never_proper(sleepstudy):
    with pytest.raises(ml.PriorError, match=r"precision 1/sd_Subject__Intercept\^2 .* any data"):
        ml.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, priors=["sd^-2 ~ flat()"])


def test_slope_sd_with_a_flat_mean(sleepstudy):
    """b_Days (flat, brms's default) is the slopes' mean once b_Intercept, not the
    centred Intercept, holds the proper prior."""
    formula = "Reaction ~ Days + (Days || Subject)"
    flat_sd = ["sd_Subject__Days ~ flat()"]
    assert builds(formula, subjects(sleepstudy, 2), flat_sd)
    held = [*flat_sd, "b_Intercept ~ normal(250, 100)"]
    with pytest.raises(ml.PriorError, match="1 of them taken up by the flat prior on b_Days"):
        ml.Model(formula, subjects(sleepstudy, 2), priors=held)
    assert builds(formula, subjects(sleepstudy, 3), held)


def test_group_level_predictor_takes_up_a_level(sleepstudy):
    data = subjects(sleepstudy, 4)
    data["w"] = data["Subject"].map(dict(zip(SUBJECTS, [1.0, 2.0, 1.5, 3.0, 0.5], strict=True)))
    priors = ["sd ~ flat()", "Intercept ~ flat()"]
    formula = "Reaction ~ Days + w + (1 | Subject)"
    assert builds(formula, data, priors)
    three = data[data["Subject"] != 330]
    with pytest.raises(ml.PriorError, match="2 of them taken up by the flat priors on Intercept"):
        ml.Model(formula, three, priors=priors)


def test_levels_without_the_column_do_not_count(sleepstudy):
    data = subjects(sleepstudy, 3)
    data.loc[data["Subject"] == 310, "Days"] = 0.0
    priors = ["sd_Subject__Days ~ flat()", "b_Intercept ~ normal(250, 100)"]
    with pytest.raises(ml.PriorError, match=r"has 3 levels \(2 with a non-zero Days, 1 of them"):
        ml.Model("Reaction ~ Days + (Days || Subject)", data, priors=priors)


def test_partially_clustered_rows_without_a_group(partially_clustered):
    df = partially_clustered.assign(
        cluster=partially_clustered["cluster"].where(partially_clustered["tx"] == 1)
    )
    clusters = sorted(df["cluster"].dropna().unique())
    formula = "y ~ tx + (0 + tx | cluster)"

    def keep(n):
        return df[df["cluster"].isna() | df["cluster"].isin(clusters[:n])]

    # The proper default Intercept (of centred tx) holds the treated rows' mean.
    assert builds(formula, keep(2), ["sd ~ flat()"])
    held = ["sd ~ flat()", "b_Intercept ~ normal(20, 10)"]
    assert not builds(formula, keep(2), held)
    assert builds(formula, keep(3), held)


def test_flat_sigma_needs_rows_beyond_the_flat_coefficients(sleepstudy):
    # b_Days flat, Intercept proper: one flat direction.
    assert builds("Reaction ~ Days", sleepstudy.iloc[:3], ["sigma ~ flat()"])
    assert not builds("Reaction ~ Days", sleepstudy.iloc[:3], ["sigma^2 ~ flat()"])
    assert builds("Reaction ~ Days", sleepstudy.iloc[:4], ["sigma^2 ~ flat()"])
    assert not builds("Reaction ~ 1", sleepstudy.iloc[:2], ["sigma ~ flat()", "Intercept ~ flat()"])
    # A flat prior on the precision is proper here.
    assert builds("Reaction ~ 1", sleepstudy.iloc[:2], ["sigma^-2 ~ flat()"])


def test_parameters_whose_likelihood_has_a_positive_limit(sleepstudy):
    counts = sleepstudy.assign(n=(sleepstudy["Reaction"] // 10).astype(int))
    assert not builds("Reaction ~ Days", sleepstudy, ["nu ~ flat()"], family="student")
    assert not builds(
        "Reaction ~ Days", sleepstudy, ["Intercept_nu ~ flat()"], family="student", nu="~ Days"
    )
    assert not builds("n ~ Days", counts, ["shape ~ flat()"], family="negbinomial")
    assert builds("n ~ Days", counts, ["shape^-2 ~ flat()"], family="negbinomial")
    assert builds("n ~ Days", counts, ["shape ~ gamma(1, 1)"], family="negbinomial")


def test_end_categories_without_rows(wine):
    padded = pd.Categorical(
        wine["rating"].astype(str), categories=[str(k) for k in range(0, 6)], ordered=True
    )
    flat = ["Intercept ~ flat()"]
    with pytest.raises(ml.PriorError, match=r"Intercept\[1\] .* no rows at its lowest level '0'"):
        ml.Model("rating ~ temp", wine.assign(rating=padded), family="cumulative", priors=flat)
    assert builds("rating ~ temp", wine.assign(rating=padded), [], family="cumulative")
    assert builds("rating ~ temp", wine, flat, family="cumulative")
    y = np.r_[np.linspace(0.1, 0.9, 10), 0.0, 0.0]
    beta = pd.DataFrame({"y": y, "x": np.arange(12.0)})
    assert not builds("y ~ x", beta, ["cutone ~ flat()"], family="ordered_beta")
    assert builds("y ~ x", beta, ["cutzero ~ flat()"], family="ordered_beta")


def test_default_priors_never_trip_the_check(sleepstudy):
    ml.Model("Reaction ~ Days + (Days | Subject)", subjects(sleepstudy, 2))
