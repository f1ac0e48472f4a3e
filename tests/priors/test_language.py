"""parse_prior: the prior language, every distribution and every error."""

from __future__ import annotations

import re

import pytest

from multilevel import MultilevelError, PriorError
from multilevel.priors import DISTRIBUTIONS, POWERS, PriorSpec, parse_prior

# One valid statement per distribution of the table, with the arguments it should read.
VALID = {
    "normal": ("b ~ normal(0, 10)", (0.0, 10.0)),
    "student_t": ("Intercept ~ student_t(3, 288.7, 59.3)", (3.0, 288.7, 59.3)),
    "cauchy": ("b_x ~ cauchy(-1, 2.5)", (-1.0, 2.5)),
    "half_normal": ("sd ~ half_normal(1)", (1.0,)),
    "half_cauchy": ("sd_g ~ half_cauchy(5)", (5.0,)),
    "half_student_t": ("sd_g__x ~ half_student_t(3, 2.5)", (3.0, 2.5)),
    "exponential": ("sigma ~ exponential(0.5)", (0.5,)),
    "gamma": ("sd^-2 ~ gamma(0.001, 0.001)", (0.001, 0.001)),
    "inv_gamma": ("sigma^2 ~ inv_gamma(0.01, 0.01)", (0.01, 0.01)),
    "beta": ("zi ~ beta(1, 1)", (1.0, 1.0)),
    "logistic": ("Intercept_zi ~ logistic(0, 1)", (0.0, 1.0)),
    "uniform": ("b ~ uniform(-1, 1)", (-1.0, 1.0)),
    "lkj": ("cor ~ lkj(2)", (2.0,)),
    "flat": ("b ~ flat()", ()),
}


def test_examples_cover_every_distribution():
    assert set(VALID) == set(DISTRIBUTIONS)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_distribution_parses(name):
    text, args = VALID[name]
    spec = parse_prior(text)
    assert spec.dist == name
    assert spec.args == args
    assert len(spec.args) == len(DISTRIBUTIONS[name].args)
    assert spec.text == text


def test_fields_and_describe():
    spec = parse_prior("sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)")
    assert spec == PriorSpec(
        "sd_cluster__tx", "inv_gamma", (0.01, 0.01), 2, "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)"
    )
    assert spec.scale_name == "variance"
    assert spec.describe() == "inv_gamma(0.01, 0.01) on the variance"


def test_power_two_and_minus_two():
    assert parse_prior("sigma^2 ~ inv_gamma(1, 1)").power == 2
    precision = parse_prior("sd_g^-2 ~ gamma(1, 1)")
    assert precision.power == -2
    assert precision.target == "sd_g"
    assert precision.scale_name == "precision"
    assert precision.describe() == "gamma(1, 1) on the precision"
    assert parse_prior("sigma ^ 2 ~ inv_gamma(1, 1)").power == 2
    assert parse_prior("sigma ~ half_normal(1)").power == 1
    assert POWERS == {1: "value", 2: "variance", -2: "precision"}


@pytest.mark.parametrize(
    ("arg", "value"),
    [
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("2.5e+2", 250.0),
        ("1e6", 1e6),
        (".5", 0.5),
        ("5.", 5.0),
        ("+3", 3.0),
    ],
)
def test_number_forms(arg, value):
    assert parse_prior(f"b ~ normal(0, {arg})").args == (0.0, value)


@pytest.mark.parametrize(("arg", "value"), [("-1.5", -1.5), ("-2e-1", -0.2), ("-0", 0.0)])
def test_negative_numbers(arg, value):
    assert parse_prior(f"b ~ normal({arg}, 1)").args == (value, 1.0)


def test_whitespace_is_free():
    spec = parse_prior("  b_x~normal( 0 ,1 )  ")
    assert (spec.target, spec.args) == ("b_x", (0.0, 1.0))
    assert spec.text == "b_x~normal( 0 ,1 )"


def test_targets_with_group_punctuation():
    assert parse_prior("sd_school:class__Intercept ~ half_normal(1)").target == (
        "sd_school:class__Intercept"
    )
    assert parse_prior("b_x.y ~ normal(0, 1)").target == "b_x.y"


def test_describe_formats_numbers_compactly():
    assert parse_prior("b ~ normal(0, 1000)").describe() == "normal(0, 1000)"
    assert parse_prior("b ~ normal(0.50, 1e-4)").describe() == "normal(0.5, 0.0001)"
    assert parse_prior("b ~ flat()").describe() == "flat()"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "b normal(0, 1)",
        "b ~ normal 0 1",
        "",
        "b ~ normal(0, 1",
        "~ normal(0, 1)",
        "b ~ (0, 1)",
        "b ~ normal(0, 1) + 1",
        "1b ~ normal(0, 1)",
        "b ~ normal((0), 1)",
    ],
)
def test_malformed(text):
    with pytest.raises(PriorError, match=re.escape(f"cannot read the prior '{text}'")) as info:
        parse_prior(text)
    assert "'b ~ normal(0, 10)'" in str(info.value)
    assert isinstance(info.value, MultilevelError)


@pytest.mark.parametrize("bad", [None, 5, ["b ~ normal(0, 1)"]])
def test_non_string(bad):
    with pytest.raises(PriorError, match="a prior must be a string like 'b ~ normal"):
        parse_prior(bad)


def test_unknown_distribution_with_suggestion():
    with pytest.raises(
        PriorError,
        match=re.escape(
            "unknown distribution 'nromal' in the prior 'b ~ nromal(0, 1)' "
            "(did you mean 'normal'?); known: normal, student_t"
        ),
    ):
        parse_prior("b ~ nromal(0, 1)")


def test_unknown_distribution_without_close_match_lists_known():
    with pytest.raises(PriorError, match="unknown distribution 'foo'") as info:
        parse_prior("b ~ foo(1)")
    assert "did you mean" not in str(info.value)
    for name in DISTRIBUTIONS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "b ~ normal(0)",
            "normal takes 2 argument(s), normal(mu, sd), but the prior 'b ~ normal(0)' gives 1",
        ),
        ("b ~ student_t(0, 1)", "student_t takes 3 argument(s), student_t(nu, mu, sd)"),
        ("sd ~ half_normal(0, 1)", "half_normal takes 1 argument(s), half_normal(sd)"),
        ("sd ~ inv_gamma(1)", "inv_gamma takes 2 argument(s), inv_gamma(shape, scale)"),
        ("cor ~ lkj()", "lkj takes 1 argument(s), lkj(eta), but the prior 'cor ~ lkj()' gives 0"),
        ("b ~ flat(1)", "flat takes 0 argument(s), flat(), but"),
    ],
)
def test_wrong_argument_count_names_signature(text, message):
    with pytest.raises(PriorError, match=re.escape(message)):
        parse_prior(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("b ~ normal(0, 0)", "sd must be > 0 in normal(mu, sd), got 0 in 'b ~ normal(0, 0)'"),
        ("b ~ normal(0, -1)", "sd must be > 0 in normal(mu, sd), got -1"),
        ("b ~ student_t(0, 0, 1)", "nu must be > 0 in student_t(nu, mu, sd), got 0"),
        ("b ~ cauchy(0, -2.5)", "sd must be > 0 in cauchy(mu, sd), got -2.5"),
        ("sd ~ half_student_t(3, 0)", "sd must be > 0 in half_student_t(nu, sd), got 0"),
        ("sd ~ exponential(0)", "rate must be > 0 in exponential(rate)"),
        ("sd ~ gamma(1, -1)", "rate must be > 0 in gamma(shape, rate)"),
        ("sd ~ inv_gamma(0, 1)", "shape must be > 0 in inv_gamma(shape, scale)"),
        ("cor ~ lkj(0)", "eta must be > 0 in lkj(eta)"),
    ],
)
def test_non_positive_scale(text, message):
    with pytest.raises(PriorError, match=re.escape(message)):
        parse_prior(text)


@pytest.mark.parametrize("text", ["b ~ uniform(1, 1)", "b ~ uniform(2, 1)"])
def test_uniform_needs_lo_below_hi(text):
    with pytest.raises(PriorError, match=re.escape(f"uniform(lo, hi) needs lo < hi, got '{text}'")):
        parse_prior(text)


def test_uniform_may_have_negative_bounds():
    assert parse_prior("b ~ uniform(-10, -1)").args == (-10.0, -1.0)


def test_power_one_is_the_parameter_itself():
    assert parse_prior("sigma^1 ~ half_normal(1)").power == 1


@pytest.mark.parametrize("power", ["3", "-1", "0", "+4"])
def test_unsupported_power(power):
    shown = str(int(power))
    with pytest.raises(
        PriorError,
        match=re.escape(
            f"'^{shown}' in the prior 'sigma^{power} ~ half_normal(1)' is not "
            "supported: use '^2' for a prior on the variance or '^-2'"
        ),
    ):
        parse_prior(f"sigma^{power} ~ half_normal(1)")


@pytest.mark.parametrize("arg", ["var=1e6", "inf", "nan", "x", "1/2", ""])
def test_non_numeric_argument(arg):
    text = f"b ~ normal(0, {arg})"
    with pytest.raises(
        PriorError,
        match=re.escape(f"the argument '{arg}' of the prior '{text}' is not a number"),
    ) as info:
        parse_prior(text)
    assert "normal(0, 1000)" in str(info.value)  # the hint for SAS users


def test_overflowing_number_is_rejected():
    # Regression: float('1e400') overflowed to inf and was accepted, while 'inf' was not.
    with pytest.raises(PriorError, match=re.escape("the argument '1e400' of the prior")):
        parse_prior("b ~ normal(0, 1e400)")
