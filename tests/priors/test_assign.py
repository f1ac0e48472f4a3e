"""assign_priors (specificity, bounds, errors), the brms defaults and ResponseScale."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from multilevel import PriorError
from multilevel.priors import (
    PriorSpec,
    ResponseScale,
    assign_priors,
    aux_slot,
    class_default,
    cor_slot,
    fixed_slot,
    intercept_slot,
    parse_prior,
    sd_slot,
)


def slots_of_a_model():
    """The slots of `y ~ x + (1 + x | g) + (1 | h)` with `sigma ~ tx`, in layout order."""
    return [
        intercept_slot("mu"),
        fixed_slot("b_x", "mu", "x"),
        intercept_slot("sigma"),
        fixed_slot("b_sigma_tx", "sigma", "tx"),
        sd_slot("sd_g__Intercept", "mu", "g", "Intercept"),
        sd_slot("sd_g__x", "mu", "g", "x"),
        cor_slot("cor_g", "mu", "g"),
        sd_slot("sd_h__Intercept", "mu", "h", "Intercept"),
    ]


def defaults_for(slots):
    """A recognisable default per slot (the values do not matter, only that they are used)."""
    out = {}
    for s in slots:
        if s.cls == "cor":
            out[s.name] = PriorSpec(s.name, "lkj", (1.0,))
        elif s.support == "positive":
            out[s.name] = PriorSpec(s.name, "student_t", (3.0, 0.0, 7.0))
        else:
            out[s.name] = PriorSpec(s.name, "flat", ())
    return out


def assign(user, slots=None):
    slots = slots_of_a_model() if slots is None else slots
    return {a.slot.name: a for a in assign_priors(slots, defaults_for(slots), user)}


# ---------------------------------------------------------------------------------------------
# Which statement wins
# ---------------------------------------------------------------------------------------------


def test_defaults_when_no_user_prior():
    got = assign([])
    assert all(a.source == "default" for a in got.values())
    assert got["b_x"].spec.dist == "flat"
    assert got["sd_g__x"].spec.args == (3.0, 0.0, 7.0)
    assert got["cor_g"].spec.dist == "lkj"


SD_STATEMENTS = ["sd ~ half_normal(1)", "sd_g ~ half_normal(2)", "sd_g__x ~ half_normal(3)"]


@pytest.mark.parametrize("order", list(itertools.permutations(SD_STATEMENTS)))
def test_specificity_parameter_over_group_over_class(order):
    # The order of the statements does not matter; only how specific each one is.
    got = assign(list(order))
    assert got["sd_g__x"].spec.args == (3.0,)  # the parameter itself
    assert got["sd_g__Intercept"].spec.args == (2.0,)  # the class within its group
    assert got["sd_h__Intercept"].spec.args == (1.0,)  # the class
    assert {got[n].source for n in ("sd_g__x", "sd_g__Intercept", "sd_h__Intercept")} == {"user"}


def test_fixed_specificity_and_dpar_classes():
    got = assign(["b ~ normal(0, 1)", "b_x ~ normal(0, 2)", "b_sigma ~ normal(0, 3)"])
    assert got["b_x"].spec.args == (0.0, 2.0)
    assert got["b_sigma_tx"].spec.args == (0.0, 3.0)


def test_class_b_does_not_reach_other_dpars():
    # As in brms, class b without dpar is the mean's; sigma's coefficients keep their default.
    got = assign(["b ~ normal(0, 1)"])
    assert got["b_x"].spec.args == (0.0, 1.0)
    assert got["b_sigma_tx"].source == "default"


def test_cor_specificity():
    got = assign(["cor ~ lkj(2)", "cor_g ~ lkj(4)"])
    assert got["cor_g"].spec.args == (4.0,)
    assert (got["cor_g"].lower, got["cor_g"].upper) == (-1.0, 1.0)


def test_user_prior_objects_are_accepted():
    got = assign([PriorSpec("b_x", "normal", (0.0, 5.0))])
    assert got["b_x"].spec.args == (0.0, 5.0)
    assert got["b_x"].source == "user"


def test_two_equally_specific_priors_fail():
    with pytest.raises(
        PriorError,
        match=re.escape(
            "2 priors apply equally to b_x: b ~ normal(0, 1); b ~ normal(0, 2); keep one"
        ),
    ):
        assign(["b ~ normal(0, 1)", "b ~ normal(0, 2)"])


def test_intercept_and_b_intercept_are_equally_specific():
    with pytest.raises(PriorError, match="2 priors apply equally to Intercept"):
        assign(["Intercept ~ normal(0, 1)", "b_Intercept ~ normal(0, 2)"])


def test_equal_specificity_at_the_parameter_level():
    with pytest.raises(PriorError, match="2 priors apply equally to sd_g__x"):
        assign(["sd_g__x ~ half_normal(1)", "sd_g__x ~ half_normal(2)", "sd ~ half_normal(3)"])


def test_unknown_parameter_lists_valid_names_and_suggests():
    with pytest.raises(PriorError) as info:
        assign(["b_z ~ normal(0, 1)"])
    text = str(info.value)
    assert "the prior 'b_z ~ normal(0, 1)' names 'b_z', which is not a parameter or class" in text
    assert "(did you mean 'b_x'?)" in text
    names = text.split("it could name: ")[1].split(", ")
    assert set(names) == {
        "b",
        "b_x",
        "b_sigma",
        "b_sigma_tx",
        "Intercept",
        "b_Intercept",
        "Intercept_sigma",
        "b_sigma_Intercept",
        "sd",
        "sd_g",
        "sd_h",
        "sd_g__Intercept",
        "sd_g__x",
        "sd_h__Intercept",
        "cor",
        "cor_g",
    }
    # Listed by class (b, Intercept, sd, sigma, cor), then by name.
    assert names.index("b_x") < names.index("Intercept") < names.index("sd") < names.index("cor")


def test_unknown_parameter_without_close_match():
    with pytest.raises(PriorError, match="names 'zzz', which is not") as info:
        assign(["zzz ~ normal(0, 1)"])
    assert "did you mean" not in str(info.value)


def test_unknown_parameter_error_comes_before_anything_else():
    # A statement that names nothing fails even if the rest are fine.
    with pytest.raises(PriorError, match="names 'sd_k'"):
        assign(["sd ~ half_normal(1)", "sd_k ~ half_normal(1)"])


def test_parse_errors_surface():
    with pytest.raises(PriorError, match="unknown distribution 'nromal'"):
        assign(["b ~ nromal(0, 1)"])


# ---------------------------------------------------------------------------------------------
# Distributions that do not fit the parameter
# ---------------------------------------------------------------------------------------------


def test_power_on_b_fails():
    with pytest.raises(
        PriorError,
        match=re.escape(
            "the prior 'b_x^2 ~ normal(0, 1)': '^2' puts a prior on a variance or "
            "precision, which only sd and sigma parameters have; b_x is a b parameter"
        ),
    ):
        assign(["b_x^2 ~ normal(0, 1)"])


def test_power_on_intercept_fails():
    with pytest.raises(PriorError, match="'\\^-2' puts a prior on a variance or precision"):
        assign(["Intercept^-2 ~ normal(0, 1)"])


def test_half_normal_on_b_fails():
    with pytest.raises(
        PriorError,
        match=re.escape("half_normal has support (0, inf) but b_x can be any real number"),
    ):
        assign(["b ~ half_normal(1)"])


@pytest.mark.parametrize("dist", ["exponential(1)", "gamma(1, 1)", "inv_gamma(1, 1)"])
def test_positive_distributions_on_intercept_fail(dist):
    with pytest.raises(PriorError, match="has support \\(0, inf\\) but Intercept"):
        assign([f"Intercept ~ {dist}"])


def test_lkj_on_sd_fails():
    with pytest.raises(
        PriorError,
        match=re.escape(
            "lkj(eta) is the prior for correlation matrices (cor, cor_<group>), "
            "and sd_g__x takes a distribution on numbers"
        ),
    ):
        assign(["sd_g__x ~ lkj(2)"])


def test_lkj_on_b_fails():
    with pytest.raises(PriorError, match="b_x takes a distribution on numbers"):
        assign(["b ~ lkj(1)"])


def test_non_lkj_on_cor_fails():
    with pytest.raises(
        PriorError, match=re.escape("cor_g is a correlation matrix and takes lkj(eta)")
    ):
        assign(["cor_g ~ normal(0, 1)"])


def test_uniform_on_b_intercept_fails():
    with pytest.raises(PriorError, match="a uniform prior cannot be put on b_Intercept"):
        assign(["b_Intercept ~ uniform(0, 500)"])


def test_uniform_on_centred_intercept_is_bounded():
    got = assign(["Intercept ~ uniform(0, 500)"])["Intercept"]
    assert (got.lower, got.upper) == (0.0, 500.0)
    assert not got.original_scale


# ---------------------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------------------


def test_default_bounds():
    got = assign([])
    assert (got["b_x"].lower, got["b_x"].upper) == (-math.inf, math.inf)
    assert (got["sd_g__x"].lower, got["sd_g__x"].upper) == (0.0, math.inf)


def test_real_line_prior_on_sd_is_truncated_at_zero():
    got = assign(["sd ~ normal(0, 5)"])["sd_h__Intercept"]
    assert (got.lower, got.upper) == (0.0, math.inf)


def test_uniform_on_sd_bounds_the_sd():
    got = assign(["sd_h ~ uniform(0, 100)"])["sd_h__Intercept"]
    assert (got.lower, got.upper) == (0.0, 100.0)


def test_uniform_below_zero_on_sd_is_cut_at_zero():
    got = assign(["sd_h ~ uniform(-5, 100)"])["sd_h__Intercept"]
    assert (got.lower, got.upper) == (0.0, 100.0)


def test_uniform_on_variance_gives_sqrt_bounds():
    got = assign(["sd_h^2 ~ uniform(4, 100)"])["sd_h__Intercept"]
    assert (got.lower, got.upper) == (2.0, 10.0)
    assert got.spec.power == 2


def test_uniform_on_precision_gives_inverse_sqrt_bounds():
    # precision in (0.01, 100) <=> sd in (100^-0.5, 0.01^-0.5) = (0.1, 10)
    got = assign(["sd_h^-2 ~ uniform(0.01, 100)"])["sd_h__Intercept"]
    assert got.lower == pytest.approx(0.1, rel=1e-15)  # one rounding in x**-0.5
    assert got.upper == pytest.approx(10.0, rel=1e-15)


def test_uniform_on_precision_from_zero_is_unbounded_above():
    got = assign(["sd_h^-2 ~ uniform(0, 4)"])["sd_h__Intercept"]
    assert (got.lower, got.upper) == (0.5, math.inf)


def test_uniform_leaving_no_positive_value_fails():
    with pytest.raises(PriorError, match="the interval leaves no valid value for sd_h__Intercept"):
        assign(["sd_h^2 ~ uniform(-5, 0)"])


def test_uniform_on_sigma_aux():
    slots = [aux_slot("sigma")]
    got = assign_priors(
        slots, {"sigma": parse_prior("sigma ~ half_normal(1)")}, ["sigma ~ uniform(0, 20)"]
    )
    assert (got[0].lower, got[0].upper) == (0.0, 20.0)


# ---------------------------------------------------------------------------------------------
# Original-scale intercept
# ---------------------------------------------------------------------------------------------


def test_b_intercept_sets_original_scale():
    got = assign(["b_Intercept ~ normal(300, 50)"])
    assert got["Intercept"].original_scale
    assert got["Intercept"].source == "user"
    assert not got["Intercept_sigma"].original_scale


def test_intercept_is_the_centred_intercept():
    got = assign(["Intercept ~ normal(300, 50)"])
    assert not got["Intercept"].original_scale


def test_b_sigma_intercept_sets_original_scale_of_sigma():
    got = assign(["b_sigma_Intercept ~ normal(0, 1)"])
    assert got["Intercept_sigma"].original_scale
    assert not got["Intercept"].original_scale


def test_defaults_are_never_original_scale():
    assert not any(a.original_scale for a in assign([]).values())


# ---------------------------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------------------------


def test_slot_selectors():
    assert dict(fixed_slot("b_x", "mu", "x").selectors) == {"b_x": 3, "b": 1}
    assert dict(fixed_slot("b_sigma_x", "sigma", "x").selectors) == {"b_sigma_x": 3, "b_sigma": 2}
    assert dict(intercept_slot("mu").selectors) == {"Intercept": 3, "b_Intercept": 3}
    assert dict(intercept_slot("sigma").selectors) == {
        "Intercept_sigma": 3,
        "b_sigma_Intercept": 3,
    }
    assert dict(sd_slot("sd_a:b__x", "mu", "a:b", "x").selectors) == {
        "sd_a:b__x": 3,
        "sd_a:b": 2,
        "sd": 1,
    }
    # For the mean, the matrix cor_g and the class within group g have the same name.
    cor = dict(cor_slot("cor_g", "mu", "g").selectors)
    assert set(cor) == {"cor_g", "cor"}
    assert cor["cor_g"] > cor["cor"]
    assert aux_slot("sigma").support == "positive"
    assert cor_slot("cor_g", "mu", "g").support == "correlation"
    assert fixed_slot("b_x", "mu", "x").support == "real"


def test_group_with_colon_is_addressable():
    slots = [sd_slot("sd_a:b__Intercept", "mu", "a:b", "Intercept")]
    got = assign(["sd_a:b ~ half_normal(2)"], slots)
    assert got["sd_a:b__Intercept"].spec.args == (2.0,)


# ---------------------------------------------------------------------------------------------
# brms defaults
# ---------------------------------------------------------------------------------------------


def test_response_scale_sleepstudy(sleepstudy):
    # brms 2.x, get_prior(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy) lists
    # student_t(3, 288.7, 59.3) for class Intercept and student_t(3, 0, 59.3) for sd and sigma.
    scale = ResponseScale.of(sleepstudy["Reaction"].to_numpy())
    assert scale == ResponseScale(288.7, 59.3)


def test_response_scale_uses_mad_constant():
    # median 10; |y - 10| = (10, 0, 10), median 10; 1.4826 * 10 = 14.826 -> 14.8.
    assert ResponseScale.of(np.array([0.0, 10.0, 20.0])) == ResponseScale(10.0, 14.8)


def test_response_scale_floor_is_two_and_a_half():
    assert ResponseScale.of(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == ResponseScale(3.0, 2.5)
    assert ResponseScale.of(np.array([5.0, 5.0, 5.0])) == ResponseScale(5.0, 2.5)


def test_response_scale_median_rounds_to_one_decimal():
    assert ResponseScale.of(np.array([0.0, 1.23, 100.0])).location == 1.2
    assert ResponseScale.of(np.array([-7.86, 0.0, -100.0])).location == -7.9


def test_class_defaults():
    scale = ResponseScale(288.7, 59.3)
    assert class_default(fixed_slot("b_x", "mu", "x"), scale) == PriorSpec("b_x", "flat", ())
    assert class_default(intercept_slot("sigma"), scale) == PriorSpec(
        "Intercept_sigma", "student_t", (3, 0.0, 2.5)
    )
    assert class_default(sd_slot("sd_g__x", "mu", "g", "x"), scale) == PriorSpec(
        "sd_g__x", "student_t", (3, 0.0, 59.3)
    )
    assert class_default(cor_slot("cor_g", "mu", "g"), scale) == PriorSpec("cor_g", "lkj", (1.0,))
    with pytest.raises(KeyError, match="sigma"):
        class_default(aux_slot("sigma"), scale)
