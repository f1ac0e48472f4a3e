"""fit.hypothesis: brms's hypothesis() over the draws, checked against hand computation
from `fit.idata` (a fake fit: the arithmetic does not need a real posterior)."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.results._hypothesis import COLUMNS, Names, parse_hypothesis

from fakes import fake_fit


@pytest.fixture(scope="module")
def fit(ratings):
    model = ml.Model("rating ~ blockType * CSType + (1 | subject)", data=ratings)
    return fake_fit(model, chains=2, draws=200)


def draws(fit, name, **coords):
    return fit.idata.posterior[name].sel(**coords).values.ravel()


def test_one_sided_greater_matches_the_draws(fit):
    table = fit.hypothesis("b_blockType + b_blockType:CSType > 0")
    assert list(table.columns) == list(COLUMNS)
    row = table.iloc[0]
    x = draws(fit, "b_blockType") + draws(fit, "b_blockType:CSType")
    assert row["Hypothesis"] == "(b_blockType+b_blockType:CSType) > 0"
    assert row["Estimate"] == pytest.approx(x.mean())
    assert row["Est.Error"] == pytest.approx(x.std(ddof=1))
    # brms: a one-sided hypothesis reports the alpha and 1 - alpha quantiles.
    assert row["CI.Lower"] == pytest.approx(np.quantile(x, 0.05))
    assert row["CI.Upper"] == pytest.approx(np.quantile(x, 0.95))
    p = np.mean(x > 0)
    assert row["Post.Prob"] == pytest.approx(p)
    assert row["Evid.Ratio"] == pytest.approx(p / (1 - p))
    assert row["Star"] == ("*" if p > 0.95 else "")


def test_one_sided_less_with_a_right_hand_side(fit):
    row = fit.hypothesis("b_CSType < 2 * sigma", prob=0.9).iloc[0]
    x = draws(fit, "b_CSType") - 2 * draws(fit, "sigma")
    assert row["Hypothesis"] == "(b_CSType)-(2*sigma) < 0"
    assert row["Estimate"] == pytest.approx(x.mean())
    assert row["CI.Lower"] == pytest.approx(np.quantile(x, 0.1))
    assert row["CI.Upper"] == pytest.approx(np.quantile(x, 0.9))
    assert row["Post.Prob"] == pytest.approx(np.mean(x < 0))


def test_equality_has_a_central_interval_and_no_evidence_ratio(fit):
    row = fit.hypothesis("log(sigma) = 1").iloc[0]
    x = np.log(draws(fit, "sigma")) - 1
    assert row["Hypothesis"] == "(log(sigma))-(1) = 0"
    assert row["Estimate"] == pytest.approx(x.mean())
    assert row["CI.Lower"] == pytest.approx(np.quantile(x, 0.025))
    assert row["CI.Upper"] == pytest.approx(np.quantile(x, 0.975))
    # brms's Savage-Dickey ratio needs prior draws, which a fit does not hold.
    assert np.isnan(row["Evid.Ratio"]) and np.isnan(row["Post.Prob"])
    lower, upper = np.quantile(x, [0.025, 0.975])
    assert row["Star"] == ("" if lower <= 0 <= upper else "*")


def test_no_relation_means_equal_to_zero(fit):
    row = fit.hypothesis("b_Intercept - b_CSType").iloc[0]
    assert row["Hypothesis"] == "(b_Intercept-b_CSType) = 0"
    x = draws(fit, "b_Intercept") - draws(fit, "b_CSType")
    assert row["Estimate"] == pytest.approx(x.mean())


def test_certain_hypothesis_has_infinite_evidence_and_a_star(fit):
    row = fit.hypothesis("sigma > 0").iloc[0]
    assert row["Post.Prob"] == 1.0 and np.isinf(row["Evid.Ratio"]) and row["Star"] == "*"
    row = fit.hypothesis("sigma < 0").iloc[0]
    assert row["Post.Prob"] == 0.0 and row["Evid.Ratio"] == 0.0 and row["Star"] == ""


def test_group_effects_by_element_name(fit):
    row = fit.hypothesis("r_subject[s01,Intercept] - r_subject[s02, Intercept] > 0").iloc[0]
    x = draws(fit, "r_subject", subject="s01") - draws(fit, "r_subject", subject="s02")
    assert row["Hypothesis"] == "(r_subject[s01,Intercept]-r_subject[s02,Intercept]) > 0"
    assert row["Estimate"] == pytest.approx(x.mean())


def test_several_hypotheses_and_names(fit):
    table = fit.hypothesis(["b_CSType > 0", "b_blockType < 0"])
    assert table["Hypothesis"].tolist() == ["(b_CSType) > 0", "(b_blockType) < 0"]
    named = fit.hypothesis({"simple effect": "b_blockType + b_blockType:CSType > 0"})
    assert named["Hypothesis"].tolist() == ["simple effect"]


def test_functions_and_powers(fit):
    row = fit.hypothesis("sqrt(sigma**2) - abs(-sigma) + inv_logit(0) = 0.5").iloc[0]
    assert row["Estimate"] == pytest.approx(0.0, abs=1e-12)


def test_unknown_parameter_suggests_the_closest(fit):
    with pytest.raises(
        ml.ModelError, match=r"'b_blockType:CSTyp'.*did you mean 'b_blockType:CSType'"
    ):
        fit.hypothesis("b_blockType:CSTyp > 0")
    with pytest.raises(ml.ModelError, match=r"the parameters are: b_Intercept, b_blockType"):
        fit.hypothesis("b_nothing > 0")


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('echo unsafe')",
        "b_CSType.__class__",
        "(b_CSType).real > 0",
        "[b_CSType for b_CSType in ()]",
        "lambda: b_CSType",
        "b_CSType if 1 else 0",
        "'b_CSType'",
        "b_CSType @ b_CSType",
        "b_CSType // 2",
        "exp(b_CSType, 2)",
        "open('/etc/passwd')",
        "b_CSType, sigma",
    ],
)
def test_anything_but_arithmetic_is_refused(fit, expr):
    with pytest.raises(ml.ModelError):
        fit.hypothesis(expr)


def test_malformed_hypotheses():
    names = ["b_x", "sigma"]
    with pytest.raises(ml.ModelError, match="2 relations"):
        parse_hypothesis("b_x > 0 > sigma", names)
    with pytest.raises(ml.ModelError, match="empty side"):
        parse_hypothesis("b_x >", names)
    with pytest.raises(ml.ModelError, match="names no parameter"):
        parse_hypothesis("1 > 0", names)
    with pytest.raises(ml.ModelError, match="is empty"):
        parse_hypothesis("  ", names)


def test_longest_name_wins_and_names_may_hold_operators():
    names = ["b_x", "b_x:z", "r_g[a-b,Intercept]", "b_Intercept", "b_Intercept[1]"]
    h = parse_hypothesis("b_x:z - r_g[a-b,Intercept] >= b_Intercept[1]", names)
    assert h.relation == ">"
    assert sorted(h.placeholders.values()) == ["b_Intercept[1]", "b_x:z", "r_g[a-b,Intercept]"]


def test_prob_must_be_a_probability(fit):
    with pytest.raises(ValueError, match="prob"):
        fit.hypothesis("sigma > 0", prob=95)


def test_array_elements_are_listed_only_when_their_variable_is_named():
    """A fit may hold large arrays (a linear predictor per row): their labels are built
    only for a hypothesis that names them."""
    calls = []

    def labels():
        calls.append(1)
        return ["r_g[a,Intercept]"]

    names = Names(["b_x"], {"r_g": labels})
    parse_hypothesis("b_x > 0", names)
    assert not calls
    h = parse_hypothesis("r_g[a, Intercept] > b_x", names)
    assert calls and h.label == "(r_g[a,Intercept])-(b_x) > 0"
