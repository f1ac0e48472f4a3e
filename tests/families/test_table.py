"""The family table: gaussian likelihood, links, response checks, lookup errors."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel import DataError, ModelError
from multilevel.families import FAMILIES, LINKS, get_family
from multilevel.priors import ResponseScale


@pytest.fixture(scope="module")
def gaussian():
    return get_family("gaussian")


def test_gaussian_log_likelihood_matches_scipy(gaussian):
    rng = np.random.default_rng(20240611)
    y = rng.normal(0, 50, size=200)
    mu = rng.normal(0, 50, size=200)
    sigma = np.exp(rng.normal(0, 2, size=200))
    got = gaussian.log_likelihood(jnp.asarray(y), {"mu": jnp.asarray(mu), "sigma": sigma})
    # float64 throughout; the terms are at most ~1e3 in size, so 1e-12 relative is ~1000 ulps.
    np.testing.assert_allclose(np.asarray(got), stats.norm.logpdf(y, mu, sigma), rtol=1e-12)


def test_gaussian_log_likelihood_scalar_sigma(gaussian):
    y = np.array([-1.0, 0.0, 2.5])
    got = gaussian.log_likelihood(jnp.asarray(y), {"mu": jnp.asarray(0.5), "sigma": 2.0})
    # Importing multilevel switches JAX to float64, hence the float64 tolerance.
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), stats.norm.logpdf(y, 0.5, 2.0), rtol=1e-13)


def test_gaussian_table_entry(gaussian):
    assert gaussian.dpars == ("mu", "sigma")
    assert gaussian.link("mu").name == "identity"
    assert gaussian.link("sigma").name == "log"
    assert gaussian.location_scale
    scale = ResponseScale(288.7, 59.3)
    intercept = gaussian.intercept_prior(scale)
    assert (intercept.dist, intercept.args) == ("student_t", (3, 288.7, 59.3))
    (sigma,) = gaussian.aux
    prior = sigma.default_prior(scale)
    assert (sigma.name, prior.dist, prior.args) == ("sigma", "student_t", (3, 0.0, 59.3))
    assert gaussian.notation.format(mu="[i]", sigma="") == "normal(mu[i], sigma)"


def test_links():
    x = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(LINKS["identity"].inverse(x), x)
    # float64 (see above): a few ulps of exp / sigmoid.
    np.testing.assert_allclose(LINKS["log"].inverse(x), np.exp([-2.0, 0.0, 3.0]), rtol=1e-14)
    np.testing.assert_allclose(
        LINKS["logit"].inverse(x), 1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=1e-14
    )
    assert LINKS["log"].wrap("sigma[i]") == "log(sigma[i])"
    assert LINKS["identity"].wrap("mu[i]") == "mu[i]"


def test_numeric_response_passes(gaussian):
    y = pd.Series([1, 2, 3], name="y")
    out = gaussian.check_response(y)
    assert out.dtype == float
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


def test_string_response_names_column(gaussian):
    with pytest.raises(
        DataError,
        match=re.escape("the response 'score' must be numeric for this family, but it holds"),
    ) as info:
        gaussian.check_response(pd.Series(["1.5", "high", "3"], name="score"))
    assert "'1.5'" in str(info.value)


def test_boolean_response_fails(gaussian):
    with pytest.raises(DataError, match=r"the response 'passed' must be numeric .* bool"):
        gaussian.check_response(pd.Series([True, False, True], name="passed"))


def test_non_numeric_response_through_the_pipeline():
    from multilevel.design import build_design
    from multilevel.formula import parse_formula
    from multilevel.model import compile_model

    df = pd.DataFrame({"grade": ["a", "b", "a", "c"], "x": [0.0, 1.0, 2.0, 3.0]})
    d = build_design(parse_formula("grade ~ x"), df)
    with pytest.raises(DataError, match="the response 'grade' must be numeric"):
        compile_model(d, get_family("gaussian"))


def test_unknown_family_with_suggestion():
    with pytest.raises(
        ModelError,
        match=re.escape(
            "unknown family 'gausian' (did you mean 'gaussian'?); available: gaussian,"
        ),
    ):
        get_family("gausian")


def test_unknown_family_without_close_match():
    with pytest.raises(ModelError, match="unknown family 'ordinal'") as info:
        get_family("ordinal")
    assert "did you mean" not in str(info.value)
    assert "poisson, negbinomial" in str(info.value)


def test_link_choice():
    assert get_family("gamma").mu_link == "inverse"  # brms's default
    assert get_family("gamma", link="log").link("mu").name == "log"
    with pytest.raises(ModelError, match="the poisson family takes the links log, identity"):
        get_family("poisson", link="logit")


@pytest.mark.parametrize(
    ("family", "dpars"),
    [
        ("student", ("mu", "sigma", "nu")),
        ("negbinomial", ("mu", "shape")),
        ("zero_inflated_negbinomial", ("mu", "shape", "zi")),
        ("hurdle_lognormal", ("mu", "sigma", "hu")),
        ("zero_one_inflated_beta", ("mu", "phi", "zoi", "coi")),
        ("cumulative", ("mu", "disc")),
        ("ordered_beta", ("mu", "phi")),
    ],
)
def test_brms_parameter_names(family, dpars):
    assert get_family(family).dpars == dpars


def test_default_priors_follow_brms():
    """brms 2.18 get_prior on y = rpois(50, 3) (median 3), yc = y + 0.5 (median 3.5):
    poisson Intercept student_t(3, 1.1, 2.5) = round(log(3), 1); lognormal student_t(3,
    1.3, 2.5) = round(log(3.5), 1); student nu gamma(2, 0.1) on (1, inf); negbinomial shape
    gamma(0.01, 0.01); zi beta(1, 1); bernoulli Intercept student_t(3, 0, 2.5)."""
    y = np.array([3.0] * 25 + [1.0, 2.0, 4.0, 5.0] * 5 + [0.0] * 5)
    scale = get_family("poisson").response_scale(y)
    assert get_family("poisson").intercept_prior(scale).args == (3, 1.1, 2.5)
    yc = np.array([3.5] * 30 + [1.5, 2.5, 4.5, 5.5] * 5)
    lognormal = get_family("lognormal")
    assert lognormal.intercept_prior(lognormal.response_scale(yc)).args == (3, 1.3, 2.5)
    nu = next(a for a in get_family("student").aux if a.name == "nu")
    assert (nu.default_prior(scale).dist, nu.default_prior(scale).args, nu.bounds) == (
        "gamma",
        (2.0, 0.1),
        (1.0, np.inf),
    )
    shape = get_family("negbinomial").aux[0].default_prior(scale)
    assert (shape.dist, shape.args) == ("gamma", (0.01, 0.01))
    zi = get_family("zero_inflated_poisson").aux[0]
    assert (zi.default_prior(scale).dist, zi.default_prior(scale).args, zi.bounds) == (
        "beta",
        (1.0, 1.0),
        (0.0, 1.0),
    )
    bern = get_family("bernoulli")
    assert bern.intercept_prior(bern.response_scale(np.array([0.0, 1.0]))).args == (3, 0.0, 2.5)


@pytest.mark.parametrize(
    ("family", "values", "message"),
    [
        ("poisson", [1, -2, 3], "must be a count (>= 0), but 1 row(s) are not (values such as -2)"),
        ("poisson", [1, 2.5, 3], "must be a count (a whole number)"),
        ("negbinomial", [0.5, 2, 3], "for continuous positive data use gamma or lognormal"),
        ("bernoulli", [0, 1, 2], "must be 0 or 1, but 1 row(s) are not (values such as 2)"),
        ("beta", [0.2, 0.0, 0.5], "strictly between 0 and 1"),
        ("beta", [0.2, 1.0, 0.5], "use zero_one_inflated_beta or ordered_beta"),
        ("zero_one_inflated_beta", [0.2, 1.5], "must be between 0 and 1"),
        ("ordered_beta", [0.0, -0.1, 1.0], "must be between 0 and 1"),
        ("gamma", [1.0, 0.0], "must be > 0"),
        ("lognormal", [1.0, -1.0], "for data with exact zeros use hurdle_lognormal"),
        ("hurdle_lognormal", [1.0, -1.0], "must be >= 0"),
    ],
)
def test_impossible_responses_are_rejected(family, values, message):
    with pytest.raises(DataError, match=re.escape(message)) as info:
        get_family(family).check_response(pd.Series(values, name="y"))
    assert "'y'" in str(info.value)


def test_binomial_needs_trials_and_checks_them():
    fam = get_family("binomial")
    y = pd.Series([1, 2, 5], name="y")
    with pytest.raises(DataError, match=re.escape("write 'y | trials(n)'")):
        fam.check_response(y)
    with pytest.raises(DataError, match=re.escape("must be at most its trials, but 1 row(s)")):
        fam.check_response(y, {"trials": pd.Series([3, 3, 3], name="n")})
    with pytest.raises(DataError, match=re.escape("'trials(n)' must be at least 1")):
        fam.check_response(y, {"trials": pd.Series([0, 5, 5], name="n")})
    np.testing.assert_array_equal(fam.check_response(y, {"trials": pd.Series([5] * 3)}), y)


def test_trials_on_another_family_is_an_error():
    with pytest.raises(
        ModelError, match="the poisson family takes no 'trials\\(\\)' response term"
    ):
        get_family("poisson").check_response(
            pd.Series([1, 2], name="y"), {"trials": pd.Series([3, 3])}
        )


def test_family_object_passes_through():
    fam = FAMILIES["gaussian"]
    assert get_family(fam) is fam


def test_ordinal_levels_keep_their_order():
    from multilevel.families._responses import ordinal_levels

    ordered = pd.Series(pd.Categorical(["mid", "low", "high"], ["low", "mid", "high"], True))
    codes, labels = ordinal_levels(ordered.rename("y"))
    assert (codes.tolist(), labels) == ([1, 0, 2], ("low", "mid", "high"))
    # Whole numbers keep an unobserved level in between (as brms's 1..max does).
    codes, labels = ordinal_levels(pd.Series([1, 4, 1, 2], name="y"))
    assert (codes.tolist(), labels) == ([0, 3, 0, 1], ("1", "2", "3", "4"))
    codes, labels = ordinal_levels(pd.Series(["b", "a", "c"], name="y"))
    assert labels == ("a", "b", "c")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([3, 3, 3], "the ordinal response 'y' has 1 level; a cumulative model needs at least 2"),
        ([1, 2.5, 3], "must be a whole number (an ordinal level)"),
    ],
)
def test_impossible_ordinal_responses(values, message):
    with pytest.raises(DataError, match=re.escape(message)):
        get_family("cumulative").check_response(pd.Series(values, name="y"))


def test_cumulative_links_pick_their_likelihood():
    from multilevel.families._likelihoods import LOG_LIKELIHOODS

    assert get_family("cumulative").log_likelihood is LOG_LIKELIHOODS["cumulative_logit"]
    probit = get_family("cumulative", link="probit")
    assert probit.log_likelihood is LOG_LIKELIHOODS["cumulative_probit"]


def test_disc_is_fixed_at_one_unless_it_has_a_formula():
    """brms 2.18 make_stancode(bf(rating ~ temp + (1|judge), disc ~ contact), wine,
    cumulative()): `disc` is data fixed at 1 without a formula; with one, log(disc) is linear
    and `Intercept_disc ~ normal(0, 1)`."""
    cumulative = get_family("cumulative")
    assert cumulative.sampled_aux(()) == ()
    disc = cumulative.parameter("disc")
    assert (disc.fixed, disc.link) == (1.0, "log")
    intercept = disc.intercept_prior(None)
    assert (intercept.dist, intercept.args) == ("normal", (0.0, 1.0))


def test_ordered_beta_cutpoints_take_no_formula():
    df = pd.DataFrame({"y": [0.0, 0.3, 1.0, 0.5], "x": [1.0, 2, 3, 4]})
    with pytest.raises(ModelError, match="'cutzero' is one of the ordered_beta family's ordered"):
        ml.Model("y ~ x", df, family="ordered_beta", cutzero="~ x")
    names = list(ml.Model("y ~ x", df, family="ordered_beta").priors().index)
    assert names == ["Intercept", "b_x", "phi", "cutzero", "cutone"]
